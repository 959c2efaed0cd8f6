"""One-click unsubscribe: per list or from everything, no login, signed links that cannot be bent to another contact."""

from __future__ import annotations

import pytest

from crm_core.errors import NotFoundError


@pytest.fixture
def ana(kit, app):
    contacts = app.plugin("contacts")
    ana = kit.add_contact(app, email="ana.garcia@example.com")
    contacts.add_to_list("newsletter", [ana.id])
    return ana


def path(url: str) -> str:
    return url.replace("http://localhost:8000", "")


def states(crm, list_name="newsletter"):
    return [m.state for m in crm.plugin("contacts").list_members(list_name)]


def test_unsubscribe_from_one_list_and_come_back(kit, portal_app, crm_recorder):
    crm = portal_app("apply", ("recorder", crm_recorder))
    ana = kit.add_contact(crm, email="ana.garcia@example.com")
    crm.plugin("contacts").add_to_list("newsletter", [ana.id])
    web = kit.Web(crm)
    url = path(crm.plugin("portal").unsubscribe_url(ana.id, "newsletter"))
    page = web.get(url)
    assert page.status_code == 200
    assert "a…a@example.com" in web.text and "ana.garcia@" not in web.text
    assert "Unsubscribe from “The monthly newsletter”" in web.text and "Unsubscribe from all our e-mails" in web.text
    assert states(crm) == ["subscribed"]  # opening the link changes nothing
    done = web.post(url, {"action": "list"})
    assert done.status_code == 200 and "You will receive nothing more from “The monthly newsletter”." in web.text
    assert states(crm) == ["unsubscribed"] and crm.plugin("contacts").get(ana.id).do_not_contact is False
    (event,) = [e for e in crm_recorder.events if e.type_name == "ContactUnsubscribed"]
    assert (event.contact_id, event.list_id is not None, event.channel) == (ana.id, True, "self-service")
    again = web.post(url, {"action": "list"})
    assert again.status_code == 200 and "You were not receiving" in web.text
    back = web.post(url, {"action": "resubscribe"})
    assert back.status_code == 200 and "You are subscribed to “The monthly newsletter” again." in web.text
    assert states(crm) == ["subscribed"]


def test_unsubscribe_from_everything(kit, app, web, ana):
    url = path(app.plugin("portal").unsubscribe_url(ana.id, "newsletter"))
    web.get(url)
    web.post(url, {"action": "all"})
    assert "We will send you no more e-mails." in web.text
    assert app.plugin("contacts").get(ana.id).do_not_contact is True
    web.get(url)
    assert "You are already unsubscribed from all our e-mails." in web.text and 'value="all"' not in web.text
    everything = path(app.plugin("portal").unsubscribe_url(ana.id))
    web.get(everything)
    assert "already unsubscribed" in web.text


@pytest.mark.sqlite_only
def test_a_link_for_everything_offers_only_that(kit, app, web, ana):
    url = path(app.plugin("portal").unsubscribe_url(ana.id))
    web.get(url)
    assert 'value="all"' in web.text and 'value="list"' not in web.text
    web.post(url, {"action": "all"})
    assert app.plugin("contacts").get(ana.id).do_not_contact is True


def test_one_click_from_a_mail_client_needs_no_session(kit, app, ana):
    portal = app.plugin("portal")
    headers = portal.unsubscribe_headers(ana.id, "newsletter")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"].strip("<>")
    client = kit.Web(app).client  # a mail provider: no cookie, no page fetched first
    response = client.post(path(url), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert states(app) == ["unsubscribed"] and app.plugin("contacts").get(ana.id).do_not_contact is False
    # without the one-click body a post without CSRF is refused
    assert client.post(path(url), data={"action": "all"}).status_code == 403
    assert (
        client.post(path(url), data={"List-Unsubscribe": "One-Click", "action": "all", "csrf_token": "x"}).status_code
        == 403
    )
    assert app.plugin("contacts").get(ana.id).do_not_contact is False


def test_links_cannot_be_bent_to_another_contact_or_list(kit, app, web, ana):
    contacts = app.plugin("contacts")
    bob = kit.add_contact(app, first_name="Bob", email="bob@example.com", phone="+34699111555")
    contacts.add_to_list("newsletter", [bob.id])
    contacts.create_list("offers")
    contacts.add_to_list("offers", [ana.id])
    token = app.plugin("portal").unsubscribe_url(ana.id, "newsletter").rsplit("/", 1)[1]
    newsletter = next(info.id for info in contacts.lists() if info.name == "newsletter")
    bent = [
        kit.rebody(token, [bob.id, newsletter, None]),
        kit.rebody(token, [ana.id, newsletter + 1, None]),
        kit.rebody(token, [ana.id, 0, None]),
    ]
    # a changed character inside the signature (the last base64 character carries padding bits, so not that one)
    changed = token[:-8] + ("A" if token[-8] != "A" else "B") + token[-7:]
    for forged in (*bent, changed, "x", ""):
        page = web.get("/unsubscribe/" + forged)
        assert page.status_code in (403, 404), forged
        if forged:
            assert web.client.post("/unsubscribe/" + forged, data={"List-Unsubscribe": "One-Click"}).status_code in (
                403,
                404,
                405,
            )
    assert states(app) == ["subscribed", "subscribed"] and states(app, "offers") == ["subscribed"]
    assert contacts.get(ana.id).do_not_contact is False and contacts.get(bob.id).do_not_contact is False


@pytest.mark.sqlite_only
def test_a_link_whose_contact_is_gone_or_whose_list_was_deleted(kit, app, web, ana):
    contacts = app.plugin("contacts")
    contacts.create_list("old")
    contacts.add_to_list("old", [ana.id])
    old = path(app.plugin("portal").unsubscribe_url(ana.id, "old"))
    contacts.delete_list("old")
    page = web.get(old)
    assert page.status_code == 200 and "no longer exists" in web.text and 'value="all"' in web.text
    web.post(old, {"action": "all"})
    assert contacts.get(ana.id).do_not_contact is True
    gone = path(app.plugin("portal").unsubscribe_url(ana.id))
    contacts.delete(ana.id)
    assert web.get(gone).status_code == 404


@pytest.mark.sqlite_only
def test_unknown_contacts_and_lists_are_refused_by_the_api(app, ana):
    portal = app.plugin("portal")
    with pytest.raises(NotFoundError, match="no mailing list named 'nope'"):
        portal.unsubscribe_url(ana.id, "nope")
    with pytest.raises(NotFoundError):
        portal.unsubscribe_url(999999)


@pytest.mark.sqlite_only
def test_a_bad_action_is_400(kit, app, web, ana):
    url = path(app.plugin("portal").unsubscribe_url(ana.id, "newsletter"))
    web.get(url)
    assert web.post(url, {"action": "delete-everyone"}).status_code == 400
    assert states(app) == ["subscribed"]


def test_links_in_mails_sent_before_the_kernel_signed_links_still_unsubscribe(kit, app, web, ana):
    """Unsubscribe links never expire: one in an old e-mail, signed with the portal's own key, works for ever."""
    contacts = app.plugin("contacts")
    contacts.add_to_list("newsletter", [ana.id])
    newsletter = next(info.id for info in contacts.lists() if info.name == "newsletter")
    old = kit.legacy_link(kit.PORTAL_SECRET, b"unsubscribe", ana.id, newsletter)
    assert web.get("/unsubscribe/" + old).status_code == 200
    forged = kit.legacy_link("another-portal-secret", b"unsubscribe", ana.id, newsletter)
    assert web.get("/unsubscribe/" + forged).status_code == 403
    assert web.client.post("/unsubscribe/" + old, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert states(app) == ["unsubscribed"]


def test_survey_invitations_carry_the_portal_link_and_one_click_headers(kit, portal_app):
    """The sign-up page promises an unsubscribe link in every e-mail: survey invitations and reminders have it."""
    crm = portal_app(base_url="https://crm.example.com")
    contacts = crm.plugin("contacts")
    ana = kit.add_contact(crm, email="ana.garcia@example.com")
    contacts.add_to_list("newsletter", [ana.id])
    surveys = crm.plugin("surveys")
    surveys.save(kit.SURVEY)
    assert surveys.send("service", "newsletter").sent == 1
    crm.mail.deliver()
    (invitation,) = crm.mail.transport.to("ana.garcia@example.com")
    link = invitation.headers["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://crm.example.com/unsubscribe/")
    assert invitation.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert invitation.text.endswith(f"-- \nTo stop receiving these e-mails: {link}\n")
    parsed = invitation.email
    assert parsed["List-Unsubscribe"] == f"<{link}>" and link in parsed.get_body(("plain",)).get_content()
    # the link is the newsletter's: one click from the mail program leaves that list
    web = kit.Web(crm)
    assert (
        web.client.post(link.replace("https://crm.example.com", ""), data={"List-Unsubscribe": "One-Click"}).status_code
        == 200
    )
    assert states(crm) == ["unsubscribed"]
    assert crm.plugin("portal").unsubscribe_target(link.rsplit("/", 1)[1]).list_name == "newsletter"


def test_survey_reminders_carry_the_link_too(kit, portal_app, crm_clock):
    crm = portal_app(base_url="https://crm.example.com")
    ana = kit.add_contact(crm, email="ana.garcia@example.com")
    crm.plugin("contacts").add_to_list("newsletter", [ana.id])
    surveys = crm.plugin("surveys")
    surveys.save(kit.SURVEY)
    surveys.send("service", "newsletter")
    crm_clock.advance(days=8)
    (report,) = surveys.remind("service", after_days=7)
    assert report.sent == 1
    crm.mail.deliver()
    reminder = crm.mail.transport.to("ana.garcia@example.com")[-1]
    link = reminder.headers["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://crm.example.com/unsubscribe/") and link in reminder.text
