"""Sign-up with double opt-in: the form, the confirmation e-mail, the consent, and every way to abuse it."""

from __future__ import annotations

import base64
import json
import re

import pytest

from crm_core.errors import NotFoundError, ValidationError

FORM = "/signup/newsletter"


def sign_up(web, **values):
    web.get(FORM)
    data = {"email": "ana@example.com", "first_name": "Ana", "last_name": "García", "consent": "yes", **values}
    return web.post(FORM, {k: v for k, v in data.items() if v is not None})


def confirm_link(crm, to="ana@example.com"):
    crm.mail.deliver()
    (mail,) = crm.mail.transport.to(to)
    return mail, re.search(r"http://localhost:8000(/signup/confirm/\S+)", mail.text).group(1)


def contacts_with(crm, email):
    return crm.plugin("contacts").search(email=email).cards


def test_sign_up_confirm_and_consent(kit, portal_app, crm_recorder):
    crm = portal_app("apply", ("recorder", crm_recorder))
    web = kit.Web(crm)
    page = web.get(FORM)
    assert page.status_code == 200
    assert "Our monthly newsletter" in web.text and "I agree to receive the monthly newsletter" in web.text
    assert '<label for="email">E-mail address' in web.text and '<label for="consent">' in web.text
    assert 'class="trap" aria-hidden="true"' in web.text and 'tabindex="-1"' in web.text
    sent = sign_up(web)
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/signup/newsletter/sent")
    web.get(sent.headers["Location"])
    assert "Check your inbox" in web.text
    assert contacts_with(crm, "ana@example.com") == []  # nothing in the address book before the confirmation
    mail, link = confirm_link(crm)
    assert mail.subject == "Please confirm your sign-up: Our monthly newsletter"
    assert "I agree to receive the monthly newsletter" in mail.text and mail.html and link in mail.html
    page = web.get(link)
    assert page.status_code == 200 and "ana@example.com" in web.text and "Confirm" in web.text
    assert contacts_with(crm, "ana@example.com") == []  # opening the link is not confirming (mail scanners open links)
    done = web.post(link, {})
    assert done.status_code == 200 and "You are signed up" in web.text
    (card,) = contacts_with(crm, "ana@example.com")
    assert (card.display_name, card.status, card.language) == ("Ana García", "prospect", "en")
    members = crm.plugin("contacts").list_members("newsletter")
    assert [(m.contact_id, m.state) for m in members] == [(card.id, "subscribed")]
    (consent,) = crm.plugin("portal").consents(card.id)
    assert consent.form == "newsletter" and consent.lists == ("newsletter",) and consent.language == "en"
    assert consent.text == kit.NEWSLETTER["consent"]["en"] and consent.ip == "127.0.0.1"
    assert consent.given_at <= consent.confirmed_at
    types = crm_recorder.types()
    assert "ContactCreated" in types and "ConsentGiven" in types
    (event,) = [e for e in crm_recorder.events if e.type_name == "ConsentGiven"]
    assert (event.contact_id, event.source, event.lists, event.channel) == (
        card.id,
        "signup:newsletter",
        ["newsletter"],
        "self-service",
    )
    assert (event.text, event.language, event.record_id, event.given_at) == (
        consent.text,
        "en",
        consent.id,
        consent.given_at,
    )
    from crm_hookspecs.events import from_payload, to_payload

    assert from_payload(*to_payload(event)) == event  # the contract's type reads back whole
    created = next(e for e in crm_recorder.events if e.type_name == "ContactCreated")
    assert created.channel == "self-service"
    # the link works once
    again = web.get(link)
    assert again.status_code == 410 and "Already confirmed" in web.text
    assert web.post(link, {}).status_code == 410
    assert len(crm.plugin("portal").consents()) == 1


@pytest.mark.sqlite_only
def test_spanish_form_records_the_spanish_text(kit, app, web):
    web.get(FORM, headers={"Accept-Language": "es"})
    web.post(
        FORM, {"email": "pepa@example.com", "consent": "yes", "language": "es"}
    )  # the form says which language it was shown in
    mail, link = confirm_link(app, "pepa@example.com")
    web.get(link)
    web.post(link, {})
    (card,) = contacts_with(app, "pepa@example.com")
    assert card.language == "es" and card.display_name == "pepa@example.com"
    (consent,) = app.plugin("portal").consents(card.id)
    assert consent.text == kit.NEWSLETTER["consent"]["es"] and consent.language == "es"


def test_an_existing_contact_is_reused_resubscribed_and_contactable_again(kit, app, web):
    contacts = app.plugin("contacts")
    ana = kit.add_contact(app, email="Ana@Example.com")
    contacts.add_to_list("newsletter", [ana.id])
    contacts.unsubscribe(ana.id, "newsletter")
    contacts.unsubscribe(ana.id)  # do not contact
    sign_up(web, email="ana@example.com")
    _mail, link = confirm_link(app)
    web.get(link)
    web.post(link, {})
    assert [c.id for c in contacts_with(app, "ana@example.com")] == [ana.id]
    assert contacts.get(ana.id).do_not_contact is False and contacts.get(ana.id).first_name == "Ana"
    assert [m.state for m in contacts.list_members("newsletter")] == ["subscribed"]


@pytest.mark.sqlite_only
def test_the_honeypot_keeps_nothing_and_sends_nothing(kit, app, web):
    page = sign_up(web, website="http://spam.example")
    assert page.status_code == 303  # answered like a success, so that the bot learns nothing
    app.mail.deliver()
    assert app.mail.sent == [] and app.plugin("portal").consents() == []
    from crm_portal.models import Signup

    with app.activate():
        assert Signup.select().count() == 0


BAD_SIGNUPS = [
    ({"email": ""}, "email"),
    ({"email": "ana@example.com\r\nBcc: victim@example.org"}, "email"),
    ({"email": "ana@example.com\nana@example.org"}, "email"),
    ({"email": "Ana <ana@example.com>"}, "email"),
    ({"email": "ana@"}, "email"),
    ({"email": "a" * 250 + "@example.com"}, "email"),
    ({"first_name": "A" * 151}, "first_name"),
    ({"last_name": "Smith\nX-Evil: 1"}, "last_name"),
    ({"consent": None}, "consent"),
]


def test_bad_sign_ups_are_refused_with_400_and_nothing_is_kept(kit, portal_app):
    app = portal_app(limits={"signup": "100/hour"})  # every attempt counts against the limit, bad ones too
    web = kit.Web(app)
    for values, field in BAD_SIGNUPS:
        page = sign_up(web, **values)
        assert page.status_code == 400 and f'id="{field}-error"' in web.text, values
    app.mail.deliver()
    assert app.mail.sent == []
    from crm_portal.models import Signup

    with app.activate():
        assert Signup.select().count() == 0


@pytest.mark.sqlite_only
def test_script_in_a_name_is_kept_as_text_and_escaped(kit, app, web):
    sign_up(web, first_name="<img src=x onerror=alert(1)>")
    mail, link = confirm_link(app)
    assert "<img src=x" not in mail.html and "&lt;img src=x onerror=alert(1)&gt;" in mail.html
    web.get(link)
    assert "<img src=x" not in web.text and "&lt;img src=x onerror=alert(1)&gt;" in web.text
    web.post(link, {})
    (card,) = contacts_with(app, "ana@example.com")
    assert app.plugin("contacts").get(card.id).first_name == "<img src=x onerror=alert(1)>"


def test_floods_from_one_address_or_for_one_mailbox_get_429(kit, portal_app):
    crm = portal_app(limits={"signup": "3/hour", "signup_email": "2/day"})
    web = kit.Web(crm)
    codes = [sign_up(web, email=f"bot{i}@example.com").status_code for i in range(4)]
    assert codes == [303, 303, 303, 429]
    assert "Too many attempts" in web.text and int(web.page.headers["Retry-After"]) > 0
    crm.mail.deliver()
    assert len(crm.mail.sent) == 3
    # one mailbox, from many addresses
    codes = []
    for i in range(3):
        other = kit.Web(crm)
        other.get(FORM, environ_base={"REMOTE_ADDR": f"203.0.113.{i + 1}"})
        codes.append(
            other.post(
                FORM,
                {"email": "victim@example.org", "consent": "yes"},
                environ_base={"REMOTE_ADDR": f"203.0.113.{i + 1}"},
            ).status_code
        )
    assert codes == [303, 303, 429]
    crm.mail.deliver()
    assert len(crm.mail.transport.to("victim@example.org")) == 2


def test_refused_confirmation_links(kit, app, web, crm_clock):
    sign_up(web)
    _mail, link = confirm_link(app)
    token = link.rsplit("/", 1)[1].split("?")[0]
    assert web.get("/signup/confirm/" + token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]).status_code == 403
    assert web.get("/signup/confirm/garbage").status_code == 403
    signed = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert web.get("/signup/confirm/" + kit.rebody(token, [signed[0] + 1, *signed[1:]])).status_code == 403
    crm_clock.advance(hours=73)
    assert web.get(link).status_code == 410 and "This link has expired" in web.text
    web.get(FORM)
    assert web.post(link, {}).status_code == 410
    assert contacts_with(app, "ana@example.com") == []
    # the worker's clean-up forgets the expired, unconfirmed sign-up
    from crm_portal.jobs import clean
    from crm_portal.models import Signup

    assert clean(app).startswith("1 expired sign-up(s)")
    with app.activate():
        assert Signup.select().count() == 0


def test_a_refused_confirmation_link_speaks_the_language_of_its_sign_up(kit, app, web, crm_clock):
    web.get(FORM, headers={"Accept-Language": "es"})
    web.post(FORM, {"email": "pepa@example.com", "consent": "yes", "language": "es"})
    _mail, link = confirm_link(app, "pepa@example.com")
    assert link.endswith("?lang=es")
    token = link.split("?")[0]
    # opened later in another browser (no session, an English one): still Spanish
    other = kit.Web(app)
    other.get(link)
    other.post(link, {})
    assert contacts_with(app, "pepa@example.com")
    for url in (link, token):  # used: from the link as mailed, and from the sign-up even without ?lang=
        again = kit.Web(app)
        page = again.get(url, headers={"Accept-Language": "en"})
        assert page.status_code == 410 and '<html lang="es">' in again.text and "Ya está confirmado" in again.text, url
    # expired, and forgotten by the clean-up: the link's ?lang= still says which language
    web.get(FORM, headers={"Accept-Language": "es"})
    web.post(FORM, {"email": "lola@example.com", "consent": "yes", "language": "es"})
    _mail, late = confirm_link(app, "lola@example.com")
    crm_clock.advance(hours=73)
    from crm_portal.jobs import clean

    assert clean(app).startswith("1 expired sign-up(s)")
    expired = kit.Web(app)
    page = expired.get(late, headers={"Accept-Language": "en"})
    assert page.status_code == 410 and '<html lang="es">' in expired.text and "Este enlace ha caducado" in expired.text


@pytest.mark.sqlite_only
def test_a_confirmation_post_needs_the_csrf_token(kit, app, web):
    sign_up(web)
    _mail, link = confirm_link(app)
    other = kit.Web(app)
    assert other.client.post(link).status_code == 403
    assert contacts_with(app, "ana@example.com") == []


@pytest.mark.sqlite_only
def test_a_form_whose_list_is_missing_is_unavailable(kit, app, web, caplog):
    app.plugin("contacts").delete_list("newsletter")
    page = web.get(FORM)
    assert page.status_code == 503 and "not available" in web.text
    assert "names the mailing list 'newsletter', which does not exist" in caplog.text


@pytest.mark.sqlite_only
def test_unknown_forms(kit, portal_app):
    crm = portal_app(signup_forms=[])
    web = kit.Web(crm)
    assert web.get("/signup").status_code == 404
    assert web.get("/signup/newsletter").status_code == 404
    with pytest.raises(NotFoundError, match="no sign-up form is configured"):
        crm.plugin("portal").signup_url()


@pytest.mark.sqlite_only
def test_python_api(kit, app):
    portal = app.plugin("portal")
    assert portal.signup_url() == "http://localhost:8000/signup/newsletter"
    with pytest.raises(NotFoundError, match="no sign-up form named 'other'"):
        portal.signup_url("other")
    with pytest.raises(ValidationError, match="email"):
        portal.request_signup("newsletter", email="bad\n@example.com")
    signup_id = portal.request_signup("newsletter", email="bo@example.com", language="es-MX")
    _mail, link = confirm_link(app, "bo@example.com")
    pending = portal.pending_signup(link.rsplit("/", 1)[1].split("?")[0])
    assert (pending.id, pending.language, pending.email) == (signup_id, "es", "bo@example.com")
    confirmed = portal.confirm_signup(link.rsplit("/", 1)[1].split("?")[0])
    assert confirmed.created and confirmed.lists == ("newsletter",)


def test_personal_data_export_erase_and_merge(kit, app, web):
    contacts = app.plugin("contacts")
    sign_up(web)
    _mail, link = confirm_link(app)
    web.get(link)
    web.post(link, {})
    (card,) = contacts_with(app, "ana@example.com")
    exported = contacts.export_personal_data(card.id)["plugins"]["portal"]
    assert exported["consents"][0]["text"] == kit.NEWSLETTER["consent"]["en"]
    assert exported["signups"][0]["email"] == "ana@example.com"
    json.dumps(exported)
    bob = kit.add_contact(app, first_name="Bob", email="bob@example.com", phone="+34699111444")
    contacts.merge(bob.id, card.id)
    assert [c.contact_id for c in app.plugin("portal").consents()] == [bob.id]
    contacts.unmerge(card.id)
    assert [c.contact_id for c in app.plugin("portal").consents()] == [card.id]
    contacts.erase(card.id)
    (consent,) = app.plugin("portal").consents()
    assert consent.contact_id is None and consent.ip is None and consent.text  # the text names nobody
    from crm_portal.models import Signup

    with app.activate():
        (row,) = Signup.select()
        assert (row.email, row.first_name, row.ip, row.contact_id) == ("", "", None, None)
