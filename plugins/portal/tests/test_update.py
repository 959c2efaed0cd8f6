"""The self-service update form: form, preview, confirmation, and every way a request can try to break it."""

from __future__ import annotations

import datetime as dt
import html

import pytest


def update_url(token: str) -> str:
    return "/contacts/update?token=" + token


def link_for(crm, contact_id, fields=None, **kwargs):
    return crm.plugin("contacts").issue_update_link(contact_id, fields, **kwargs).token


def test_form_preview_confirm_applies_once(kit, app, web, crm_recorder):
    ana = kit.add_contact(app)
    token = link_for(app, ana.id)
    page = web.get(update_url(token))
    assert page.status_code == 200
    assert 'value="Ana"' in web.text and 'value="ana@example.com"' in web.text and 'value="+34612345678"' in web.text
    form = {
        "first_name": "Ana María",
        "last_name": "García",
        "display_name": "",
        "language": "es",
        "emails-0-address": "ana@example.com",
        "emails-0-kind": "home",
        "emails-1-address": "ana.work@example.com",
        "emails-1-kind": "work",
        "emails-primary": "1",
        "phones-0-number": "612 999 888",
        "phones-0-kind": "mobile",
        "phones-primary": "0",
        "addresses-0-street": "Calle Mayor 1",
        "addresses-0-postal_code": "28013",
        "addresses-0-city": "Madrid",
        "addresses-0-country": "ES",
        "addresses-0-kind": "home",
        "addresses-primary": "0",
    }
    preview = web.post(update_url(token), {**form, "action": "preview"})
    assert preview.status_code == 200, web.text
    text = html.unescape(web.text)
    assert "Ana María" in text and "ana.work@example.com" in text and "+34612999888" in text and "Calle Mayor 1" in text
    assert app.plugin("contacts").get(ana.id).first_name == "Ana"  # a preview writes nothing
    done = web.post(update_url(token), {"action": "confirm", "payload": _payload(web.text)})
    assert done.status_code == 200 and "Your details have been updated." in web.text
    record = app.plugin("contacts").get(ana.id)
    assert (record.first_name, record.email, record.phone, record.language) == (
        "Ana María",
        "ana.work@example.com",
        "+34612999888",
        "es",
    )
    changed = [e for e in crm_recorder.events if e.type_name == "ContactChanged"] if crm_recorder.events else []
    assert changed == []  # the recorder is not registered in this app: events are checked in the review test
    # the link is dead now: the form and a second confirmation are refused with 410
    assert web.get(update_url(token)).status_code == 410
    assert "already used" in web.text
    again = web.client.post(
        update_url(token), data={"action": "confirm", "payload": "x", "csrf_token": _session_csrf(web)}
    )
    assert again.status_code == 410


def _payload(text: str) -> str:
    import re

    return re.search(r'name="payload" value="([^"]+)"', text).group(1)


def _session_csrf(web) -> str:
    with web.client.session_transaction() as session:
        return session["csrf_token"]


def test_review_mode_queues_and_says_so(kit, portal_app, crm_recorder):
    crm = portal_app("review", ("recorder", crm_recorder))
    web = kit.Web(crm)
    ana = kit.add_contact(crm)
    token = link_for(crm, ana.id, ["phones", "do_not_contact"])
    web.get(update_url(token))
    assert 'name="first_name"' not in web.text  # only the fields the link covers
    web.post(
        update_url(token),
        {
            "phones-0-number": "699 000 111",
            "phones-0-kind": "mobile",
            "phones-primary": "0",
            "do_not_contact": "yes",
            "action": "preview",
        },
    )
    assert "Our team will check your changes" in web.text
    web.post(update_url(token), {"action": "confirm", "payload": _payload(web.text)})
    assert "Our team will check them" in web.text and "not to be contacted has been recorded" in web.text
    contacts = crm.plugin("contacts")
    assert contacts.get(ana.id).do_not_contact is True and contacts.get(ana.id).phone == "+34612345678"
    (pending,) = contacts.pending_updates()
    assert pending.submitted["phones"][0]["number"] == "+34699000111"
    changed = [e for e in crm_recorder.events if e.type_name == "ContactChanged"]
    assert [(e.channel, e.actor) for e in changed] == [("self-service", None)]


@pytest.mark.sqlite_only
def test_edit_goes_back_with_the_values(kit, app, web):
    ana = kit.add_contact(app)
    token = link_for(app, ana.id, ["first_name"])
    web.get(update_url(token))
    web.post(update_url(token), {"first_name": "Anabel", "action": "preview"})
    back = web.post(update_url(token), {"action": "edit", "payload": _payload(web.text)})
    assert back.status_code == 200 and 'value="Anabel"' in web.text
    assert app.plugin("contacts").get(ana.id).first_name == "Ana"


@pytest.mark.sqlite_only
def test_nothing_changed_keeps_the_link(kit, app, web):
    ana = kit.add_contact(app)
    token = link_for(app, ana.id, ["first_name"])
    web.get(update_url(token))
    page = web.post(update_url(token), {"first_name": "Ana", "action": "preview"})
    assert page.status_code == 200 and "You have not changed anything yet." in web.text
    assert web.get(update_url(token)).status_code == 200


def test_script_in_a_name_is_stored_as_text_and_shown_escaped(kit, app, web):
    ana = kit.add_contact(app)
    token = link_for(app, ana.id, ["first_name"])
    web.get(update_url(token))
    web.post(update_url(token), {"first_name": "<script>alert(1)</script>", "action": "preview"})
    assert "<script>alert(1)</script>" not in web.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in web.text
    web.post(update_url(token), {"action": "confirm", "payload": _payload(web.text)})
    assert app.plugin("contacts").get(ana.id).first_name == "<script>alert(1)</script>"
    second = kit.Web(app)
    second.get(update_url(link_for(app, ana.id, ["first_name"])))
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in second.text and "<script>alert" not in second.text


BAD_VALUES = [
    ({"first_name": "A" * 151}, "first_name"),
    ({"first_name": "Ana\nBcc: someone"}, "first_name"),
    ({"emails-0-address": "ana@example.com\r\nBcc: x@example.com", "emails-0-kind": "home"}, "emails-0-address"),
    ({"emails-0-address": "not an address", "emails-0-kind": "home"}, "emails-0-address"),
    ({"emails-0-address": "ana@example.com", "emails-0-kind": "secret"}, "emails-0-kind"),
    ({"phones-0-number": "6" * 31}, "phones-0-number"),
    ({"addresses-0-city": "Madrid", "addresses-0-country": "XX"}, "addresses-0-country"),
    ({"language": "tlh"}, "language"),
    ({"emails-12-address": "ana@example.com"}, "emails"),
]


def test_bad_values_are_refused_with_400_and_nothing_is_used(kit, app, web):
    ana = kit.add_contact(app)
    token = link_for(app, ana.id, ["first_name", "language", "emails", "phones", "addresses"])
    web.get(update_url(token))
    base = {"first_name": "Ana", "language": "", "emails-0-address": "ana@example.com", "emails-0-kind": "home"}
    for values, field in BAD_VALUES:
        page = web.post(update_url(token), {**base, **values, "action": "preview"})
        assert page.status_code == 400, values
        assert f'id="{field}-error"' in web.text and 'class="error-summary"' in web.text, values
        assert "Traceback" not in web.text
    record = app.plugin("contacts").get(ana.id)
    assert (record.first_name, record.email) == ("Ana", "ana@example.com")
    assert web.get(update_url(token)).status_code == 200  # the link still works


@pytest.mark.sqlite_only
def test_a_value_the_contacts_plugin_refuses_is_shown_beside_its_field(kit, app, web):
    ana = kit.add_contact(app)
    token = link_for(app, ana.id, ["phones"])
    web.get(update_url(token))
    page = web.post(update_url(token), {"phones-0-number": "12", "phones-0-kind": "mobile", "action": "preview"})
    assert page.status_code == 400 and 'id="phones-error"' in web.text


def test_forged_expired_used_and_unknown_links(kit, app, web, crm_clock):
    contacts = app.plugin("contacts")
    ana = kit.add_contact(app)
    token = link_for(app, ana.id)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert web.get(update_url(forged)).status_code == 403
    assert web.get(update_url("")).status_code == 403
    assert web.get(update_url("garbage")).status_code == 403
    # another contact's link body under this link's signature: the signature no longer matches
    bob = kit.add_contact(app, first_name="Bob", email="bob@example.com", phone="+34699111555")
    assert web.get(update_url(link_for(app, bob.id).split(".")[0] + "." + token.split(".")[1])).status_code == 403
    short = link_for(app, ana.id, ttl_hours=1)
    crm_clock.advance(hours=2)
    assert web.get(update_url(short)).status_code == 410
    assert "This link has expired" in web.text
    fresh = link_for(app, ana.id)
    contacts.revoke_update_links(ana.id)
    assert web.get(update_url(fresh)).status_code == 404


@pytest.mark.sqlite_only
def test_a_field_outside_the_links_scope_is_refused_with_403(kit, app, web):
    ana = kit.add_contact(app)
    token = link_for(app, ana.id, ["phones"])
    web.get(update_url(token))
    page = web.post(update_url(token), {"phones-0-number": "699000111", "last_name": "Hacker", "action": "preview"})
    assert page.status_code == 403
    assert app.plugin("contacts").get(ana.id).last_name == "García"


@pytest.mark.sqlite_only
def test_a_tampered_or_foreign_preview_is_refused(kit, app, web):
    ana = kit.add_contact(app)
    bob = kit.add_contact(app, first_name="Bob", email="bob@example.com", phone="+34699111222")
    token = link_for(app, ana.id, ["first_name"])
    web.get(update_url(token))
    web.post(update_url(token), {"first_name": "Anabel", "action": "preview"})
    payload = _payload(web.text)
    assert (
        web.post(
            update_url(token),
            {"action": "confirm", "payload": payload[:-3] + ("A" if payload[-3] != "A" else "B") + payload[-2:]},
        ).status_code
        == 400
    )
    # a preview made for Ana's link cannot be confirmed with Bob's link
    bob_token = link_for(app, bob.id, ["first_name"])
    web.get(update_url(bob_token))
    assert web.post(update_url(bob_token), {"action": "confirm", "payload": payload}).status_code == 400
    assert app.plugin("contacts").get(bob.id).first_name == "Bob"
    assert app.plugin("contacts").get(ana.id).first_name == "Ana"


def test_a_post_without_its_csrf_token_is_refused(kit, app, web):
    ana = kit.add_contact(app)
    token = link_for(app, ana.id, ["first_name"])
    web.get(update_url(token))
    page = web.post(update_url(token), {"first_name": "Hacked", "action": "preview"}, csrf=False)
    assert page.status_code == 403 and "This form has expired" in web.text
    other = kit.Web(app)  # another browser's token, with this browser's cookie
    other.get(update_url(token))
    page = web.client.post(
        update_url(token), data={"first_name": "Hacked", "action": "preview", "csrf_token": other.csrf()}
    )
    assert page.status_code == 403
    assert app.plugin("contacts").get(ana.id).first_name == "Ana"


@pytest.mark.sqlite_only
def test_the_page_speaks_the_contacts_language(kit, app, web):
    ana = kit.add_contact(app, language="es")
    token = link_for(app, ana.id, ["first_name"])
    web.get(update_url(token), headers={"Accept-Language": "en"})
    assert '<html lang="es">' in web.text and "Tus datos" in web.text
    bob = kit.add_contact(app, first_name="Bob", email="bob@example.com", phone="+34699111222")
    web.get(update_url(link_for(app, bob.id, ["first_name"])), headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert '<html lang="es">' in web.text
    web.get(update_url(link_for(app, bob.id, ["first_name"])), headers={"Accept-Language": "fr, en;q=0.5"})
    assert '<html lang="en">' in web.text and "Your details" in web.text


@pytest.mark.sqlite_only
def test_the_expiry_is_shown_in_the_apps_time_zone(kit, portal_app, crm_clock):
    crm = portal_app()
    web = kit.Web(crm)
    ana = kit.add_contact(crm)
    token = crm.plugin("contacts").issue_update_link(ana.id, ["first_name"], ttl_hours=24).token
    web.get(update_url(token))
    expected = (crm_clock.now() + dt.timedelta(hours=24)).strftime("%B %-d, %Y")
    assert expected in web.text
