"""The campaigns pages of the staff web app (crm-desk): list, form, campaign page, test, send, schedule, recur, cancel."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crm_core.testing import statements

pytest.importorskip("crm_desk")

from crm_desk.testing import DeskClient, check_catalogs  # noqa: E402

PASSWORD = "Correct-horse-42!"
ROLES = ("admin", "manager", "sales", "support", "read-only")


@pytest.fixture
def office(crm_factory: Callable[..., Any]) -> Any:
    """Desk, contacts, surveys, portal and campaigns; a user per built-in role; a list of three."""
    crm = crm_factory(
        plugins=["desk", "contacts", "surveys", "portal", "campaigns"],
        settings={
            "desk": {"base_url": "https://crm.example.com"},
            "portal": {"secret": "portal-test-secret-0123456789abcdef"},
        },
        core={"secret": "campaigns-desk-secret-0123456789-0123456789"},
        mail={"sender": "CRM <crm@example.com>"},
    )
    for role in ROLES:
        crm.authz.users.add(f"u-{role}", roles=[role], password=PASSWORD, email=f"{role}@example.org")
    contacts = crm.plugin("contacts")
    contacts.create_list("news")
    ids = [
        contacts.create(first_name=name, last_name="Ruiz", email=f"{name.lower()}@example.com", owner="u-sales").id
        for name in ("Lucía", "Pablo", "Marta")
    ]
    contacts.add_to_list("news", ids)
    crm.ids = ids
    crm.campaign = crm.plugin("campaigns").create(
        "December news", "News for {{ first_name }}", "Hello {{ first_name }}\n", "<p>Hello <b>{{ first_name }}</b></p>"
    )
    return crm


def desk_as(crm: Any, role: str) -> DeskClient:
    desk = DeskClient(crm)
    assert desk.sign_in(f"u-{role}", PASSWORD).status_code == 302
    return desk


def test_the_nav_entry_the_list_and_the_campaign_page(office: Any) -> None:
    desk = desk_as(office, "sales")
    home = desk.get("/").get_data(as_text=True)
    assert 'href="/campaigns/"' in home and ">Campaigns<" in home
    listed = desk.get("/campaigns/")
    assert listed.status_code == 200 and "December news" in desk.text and "New campaign" in desk.text
    page = desk.get(f"/campaigns/{office.campaign.id}")
    assert page.status_code == 200
    assert "News for Ana" in desk.text and "Hello Ana" in desk.text  # the sample contact
    assert "frame-src 'self'" in page.headers["Content-Security-Policy"]
    assert "Send a test to sales@example.org" in desk.text
    assert "a manager's action" in desk.text and 'id="f-now_source"' not in desk.text
    mine = desk.get(f"/campaigns/{office.campaign.id}?contact_id={office.ids[1]}")
    assert mine.status_code == 200 and "News for Pablo" in desk.text
    frame = desk.get(f"/campaigns/{office.campaign.id}/frame?contact_id={office.ids[1]}")
    assert frame.get_data(as_text=True) == "<p>Hello <b>Pablo</b></p>"
    assert "sandbox" in frame.headers["Content-Security-Policy"] and frame.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_contact_out_of_scope_is_not_previewed(office: Any) -> None:
    other = office.plugin("contacts").create(first_name="Secret", last_name="X", owner="u-manager").id
    desk = desk_as(office, "sales")
    desk.get(f"/campaigns/{office.campaign.id}?contact_id={other}")
    assert "Secret" not in desk.text and f"There is no contact {other} that you may see" in desk.text
    frame = desk.get(f"/campaigns/{office.campaign.id}/frame?contact_id={other}")
    assert "Secret" not in frame.get_data(as_text=True)


def test_new_campaign_preview_then_save_and_a_template_error_beside_its_field(office: Any) -> None:
    desk = desk_as(office, "sales")
    assert desk.get("/campaigns/new").status_code == 200
    form = {"name": "January", "subject": "Hi {{ first_name }}", "text": "Hello\r\n{{ frist_name }}", "html": ""}
    bad = desk.post("/campaigns/new", {**form, "action": "save"})
    assert bad.status_code == 400
    assert re.search(r'id="f-text-note">text, line 2: &#39;frist_name&#39; is undefined', desk.text)
    assert "Hello\n{{ frist_name }}</textarea>" in desk.text  # what was typed is kept
    empty = desk.post("/campaigns/new", {**form, "name": " ", "action": "save"})
    assert empty.status_code == 400 and 'id="f-name-note">Give the campaign a name' in desk.text
    form["text"] = "Hello {{ first_name }}"
    shown = desk.post("/campaigns/new", {**form, "action": "preview"})
    assert shown.status_code == 200 and "Hi Ana" in desk.text and "Hello Ana" in desk.text
    assert [c.name for c in office.plugin("campaigns").list()] == ["December news"]  # a preview saves nothing
    saved = desk.post("/campaigns/new", {**form, "action": "save"})
    assert saved.status_code == 303
    made = office.plugin("campaigns").get("January")
    assert saved.headers["Location"] == f"/campaigns/{made.id}" and made.created_by == "u-sales"
    taken = desk.post("/campaigns/new", {**form, "action": "save"})
    assert taken.status_code == 400 and "a campaign named &#39;January&#39; exists" in desk.text


def test_edit_and_a_stale_form(office: Any) -> None:
    desk = desk_as(office, "sales")
    campaign = office.campaign
    desk.get(f"/campaigns/{campaign.id}/edit")
    form = {"name": "December news", "subject": "Hola {{ first_name }}", "text": "Hola", "html": "", "revision": "1"}
    saved = desk.post(f"/campaigns/{campaign.id}/edit", {**form, "action": "save"})
    assert saved.status_code == 303
    changed = office.plugin("campaigns").get(campaign.id)
    assert changed.subject == "Hola {{ first_name }}" and changed.html is None and changed.revision == 2
    stale = desk.post(f"/campaigns/{campaign.id}/edit", {**form, "subject": "Old", "action": "save"})
    assert stale.status_code == 409 and "Someone changed this campaign" in desk.text
    assert office.plugin("campaigns").get(campaign.id).subject == "Hola {{ first_name }}"


def test_a_test_to_oneself(office: Any) -> None:
    desk = desk_as(office, "sales")
    desk.get(f"/campaigns/{office.campaign.id}")
    sent = desk.post(f"/campaigns/{office.campaign.id}/test", {"contact_id": str(office.ids[2])})
    assert sent.status_code == 303
    mail = office.mail.list()
    assert [m.to for m in mail] == [("sales@example.org",)] and mail[0].subject == "[Test] News for Marta"


def test_a_manager_sends_now_schedules_cancels_and_recurs(office: Any, crm_clock: Any) -> None:
    office.plugin("contacts").unsubscribe(office.ids[2], "news")
    desk = desk_as(office, "manager")
    page = f"/campaigns/{office.campaign.id}"
    desk.get(page)
    assert 'id="f-now_source"' in desk.text and "Lists: news (2 members, 1 unsubscribed)." in desk.text
    missing = desk.post(f"{page}/send", {"now_source": ""})
    assert missing.status_code == 400 and 'id="f-now_source-note">Choose the mailing list' in desk.text
    unknown = desk.post(f"{page}/send", {"now_source": "nope"})
    assert unknown.status_code == 400 and 'id="f-now_source-note">' in desk.text and "nope" in desk.text
    asked = desk.post(f"{page}/send", {"now_source": "news"})
    assert asked.status_code == 200 and office.mail.list() == []  # first, how many it reaches
    assert "goes now to 2 contact(s) of news. Left out: 0 do-not-contact, 1 unsubscribed" in desk.text
    assert "Yes, send it to 2 contact(s)" in desk.text
    sent = desk.post(f"{page}/send", {"now_source": "news", "confirm": "yes"})
    assert sent.status_code == 303 and sent.headers["Location"] == f"{page}#main"  # the top, with the flash
    desk.get(page)
    assert "Sent to 2 address(es) of news" in desk.text
    assert sorted(m.to[0] for m in office.mail.list()) == [
        "Lucía Ruiz <lucía@example.com>",
        "Pablo Ruiz <pablo@example.com>",
    ]
    bad_time = desk.post(f"{page}/schedule", {"at_source": "news", "at": "soon"})
    assert bad_time.status_code == 400 and 'id="f-at-note">Write the date and time' in desk.text
    past = desk.post(f"{page}/schedule", {"at_source": "news", "at": "2020-01-01T09:00"})
    assert past.status_code == 400 and 'id="f-at-note">' in desk.text and "in the past" in desk.text
    later = office.clock.now() + dt.timedelta(days=2)
    scheduled = desk.post(f"{page}/schedule", {"at_source": "news", "at": f"{later:%Y-%m-%dT%H:%M}"})
    assert scheduled.status_code == 303
    send = office.plugin("campaigns").sends(office.campaign.id)[0]
    assert send.status == "scheduled"
    desk.get(page)
    assert desk.post(f"/campaigns/sends/{send.id}/cancel").status_code == 303
    assert office.plugin("campaigns").send_info(send.id).status == "cancelled"
    bad_rule = desk.post(f"{page}/recur", {"every_source": "news", "rule": "FREQ=NEVER"})
    assert bad_rule.status_code == 400 and 'id="f-rule-note">rule:' in desk.text
    made = desk.post(f"{page}/recur", {"every_source": "news", "rule": "FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9"})
    assert made.status_code == 303
    newsletter = office.plugin("campaigns").recurring(office.campaign.id)[0]
    desk.get(page)
    assert f'id="recurring-{newsletter.id}"' in desk.text
    assert desk.post(f"/campaigns/recurring/{newsletter.id}/stop").status_code == 303
    assert office.plugin("campaigns").recurring(office.campaign.id)[0].active is False


def test_posts_need_csrf_and_the_permission(office: Any) -> None:
    page = f"/campaigns/{office.campaign.id}"
    manager = desk_as(office, "manager")
    manager.get(page)
    assert manager.post(f"{page}/send", {"now_source": "news", "confirm": "yes"}, csrf=False).status_code == 403
    assert office.mail.list() == []
    seller = desk_as(office, "sales")
    seller.get(page)
    assert seller.post(f"{page}/send", {"now_source": "news"}).status_code == 403
    assert seller.post(f"{page}/send", {"now_source": "news", "confirm": "yes"}).status_code == 403
    assert seller.post(f"{page}/recur", {"every_source": "news", "rule": "FREQ=MONTHLY"}).status_code == 403
    assert office.mail.list() == []
    reader = desk_as(office, "read-only")
    reader.get(page)
    assert "Send a test" not in reader.text and "Edit" not in reader.text
    assert reader.post(f"{page}/test").status_code == 403
    assert reader.get("/campaigns/new").status_code == 403
    assert reader.get(f"{page}/edit").status_code == 403
    assert reader.get("/campaigns/999").status_code == 404


def _pages(crm: Any) -> dict[str, str]:
    campaign = crm.campaign.id
    return {
        "/campaigns/": "campaigns.read",
        f"/campaigns/{campaign}": "campaigns.read",
        f"/campaigns/{campaign}/frame": "campaigns.read",
        "/campaigns/new": "campaigns.create",
        f"/campaigns/{campaign}/edit": "campaigns.edit",
    }


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_exactly_the_pages_its_permissions_allow(office: Any, role: str) -> None:
    desk = desk_as(office, role)
    user = office.authz.users.get(f"u-{role}")
    wrong = []
    for url, permission in _pages(office).items():
        with office.as_user(user):
            expected = 200 if office.authz.can(permission) else 403
        answer = desk.get(url)
        if answer.status_code != expected:
            wrong.append(f"{url}: {answer.status_code}, expected {expected}")
    assert wrong == []


def test_the_pages_statements_do_not_grow_with_campaigns_and_sends(office: Any) -> None:
    api = office.plugin("campaigns")
    desk = desk_as(office, "manager")

    def count(url: str) -> int:
        with statements(office) as sql:
            assert desk.get(url).status_code == 200
        return len(sql)

    with office.as_user(office.authz.users.get("u-manager")):
        api.send(office.campaign.id, "news")
    few = (count("/campaigns/"), count(f"/campaigns/{office.campaign.id}"))
    with office.as_user(office.authz.users.get("u-manager")):
        for n in range(8):
            api.create(f"Campaign {n}", "Subject", "Text")
            api.send(office.campaign.id, "news")
            api.send(office.campaign.id, "news", at=office.clock.now() + dt.timedelta(days=n + 1))
    many = (count("/campaigns/"), count(f"/campaigns/{office.campaign.id}"))
    assert "Campaign 7" in desk.get("/campaigns/").get_data(as_text=True)
    assert many == few, f"{few} statements with 1 campaign and 1 send, {many} with 9 and 17"


def test_spanish_pages(office: Any) -> None:
    desk = desk_as(office, "manager")
    desk.get("/")
    desk.post("/language", {"language": "es", "next": "/campaigns/"})
    html = desk.get("/campaigns/").get_data(as_text=True)
    assert ">Campañas<" in html and "Nueva campaña" in html
    html = desk.get(f"/campaigns/{office.campaign.id}").get_data(as_text=True)
    assert "Enviar ahora" in html and "Vista previa" in html


PLUGIN = Path(__file__).resolve().parents[1]


def test_every_desk_page_string_is_in_the_spanish_catalog_and_compiled() -> None:
    check_catalogs(PLUGIN, PLUGIN / "crm_campaigns" / "desk" / "translations")
