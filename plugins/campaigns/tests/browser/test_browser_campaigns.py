"""A campaign in a real browser: written, previewed, scheduled for a list of three (one unsubscribed), sent by the worker.

Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, at a
laptop's width and a phone's. Every page shown is saved under
``build/screenshots/desk/campaigns-<width>/`` and checked as the desk's own
browser tests check theirs: labelled fields, nothing wider than the window,
no script error, CSP violation or failed resource, and no serious or
critical axe-core violation (the desk's vendored axe-core, injected by the
test). Without Chromium or Playwright the test is skipped, saying so.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_core.browser_testing import LAPTOP, PHONE, BrowserPage, Served, launch_chromium, needs_chromium

pytestmark = [needs_chromium, pytest.mark.sqlite_only]

PASSWORD = "Correct-horse-42!"
ROOT = Path(__file__).resolve().parents[4]
SCREENSHOTS = ROOT / "build" / "screenshots" / "desk"
AXE = ROOT / "plugins" / "desk" / "tests" / "browser" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")


def check_accessibility(page: Any, name: str) -> None:
    """axe-core's serious and critical violations on the page shown (injected through DevTools: the CSP still holds)."""
    if not AXE.exists():
        pytest.skip(f"axe-core is not at {AXE} (it comes with the desk's browser tests)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async () => (await window.axe.run(document, {resultTypes: ['violations']})).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}))"""
    )
    bad = [v for v in found if v["impact"] in FAILING_IMPACTS]
    assert not bad, f"{name}: axe-core found serious or critical violations: {bad}"


def _frame_shows(shown: BrowserPage, text: str) -> None:
    """The HTML preview's frame loaded and shows ``text``; saved on its own as ``NN-html-preview.png``.

    Chromium does not paint a sandboxed (so cross-origin) frame while it is
    off screen, so the full-page screenshot shows it blank when it is below
    the first screenful: the frame is scrolled into view and saved apart.
    """
    page = shown.page
    assert text in page.frame_locator(".preview-frame").locator("body").inner_text()
    frame = page.locator(".preview-frame")
    frame.scroll_into_view_if_needed()
    page.wait_for_timeout(100)
    number = len(list(shown.folder.glob("*.png"))) + 1
    frame.screenshot(path=str(shown.folder / f"{number:02d}-html-preview.png"))
    page.evaluate("() => window.scrollTo(0, 0)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def office(crm_factory: Any) -> Any:
    """Desk, contacts, surveys, portal and campaigns; marta manages; the list "news" of three, one unsubscribed."""
    crm = crm_factory(
        plugins=["desk", "contacts", "surveys", "portal", "campaigns"],
        settings={
            "desk": {"base_url": "https://crm.example.com"},
            "portal": {"secret": "portal-test-secret-0123456789abcdef"},
        },
        core={"secret": "campaigns-browser-secret-0123456789-0123456789"},
        mail={"sender": "CRM <crm@example.com>"},
    )
    crm.authz.users.add(
        "marta", display_name="Marta Gil", roles=["manager"], password=PASSWORD, email="marta@example.org"
    )
    contacts = crm.plugin("contacts")
    contacts.create_list("news", "The monthly newsletter")
    ids = [
        contacts.create(first_name=first, last_name=last, email=f"{first.lower()}@example.com").id
        for first, last in (("Lucia", "Martin"), ("Pablo", "Ruiz"), ("Elena", "Sanz"))
    ]
    contacts.add_to_list("news", ids)
    contacts.unsubscribe(ids[2], "news")
    return crm


@pytest.fixture
def served(office: Any) -> Iterator[Served]:
    from crm_desk import create_app

    server = Served(create_app(office), name="campaigns-test-server")
    yield server
    server.close()


@pytest.mark.parametrize("width", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_schedule_and_send_a_campaign_to_a_list_of_three_with_one_unsubscribed(
    browser: Any, office: Any, served: Served, crm_clock: Any, width: int
) -> None:
    from crm_core.worker import Worker

    folder = SCREENSHOTS / f"campaigns-{width}"
    shutil.rmtree(folder, ignore_errors=True)
    shown = BrowserPage(browser, folder, width=width, checks=(check_accessibility,))
    page = shown.page
    try:
        page.goto(f"{served.url}/signin")
        page.fill("#f-name", "marta")
        page.fill("#f-password", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{served.url}/campaigns/")
        shown.shot("campaigns-empty")
        page.get_by_role("link", name="New campaign").first.click()
        page.fill("#f-name", "December news")
        page.fill("#f-subject", "News for {{ frist_name }}")
        page.fill("#f-text", "Hello {{ first_name }},\n\nour December news.\n")
        page.fill("#f-html", "<p>Hello <strong>{{ first_name }}</strong>,</p><p>our December news.</p>")
        page.get_by_role("button", name="Save the campaign").click()
        assert "'frist_name' is undefined" in page.locator("#f-subject-note").inner_text()
        shown.shot("form-error")
        page.fill("#f-subject", "News for {{ first_name }}")
        page.get_by_role("button", name="Preview").click()
        assert "News for Ana" in page.locator("#preview").inner_text()
        shown.shot("form-preview")
        page.get_by_role("button", name="Save the campaign").click()
        assert page.locator("h1").inner_text() == "December news"
        at = (office.clock.now() + dt.timedelta(minutes=10)).astimezone(office.tz)
        page.fill("#f-at_source", "news")
        page.fill("#f-at", f"{at:%Y-%m-%dT%H:%M}")
        page.get_by_role("button", name="Schedule the send").click()
        assert "Scheduled" in page.locator(".toasts").inner_text()
        assert "scheduled" in page.locator("#sends").inner_text()
        _frame_shows(shown, "Hello Ana,")
        shown.shot("campaign-scheduled")
        assert office.mail.list() == []

        crm_clock.advance(dt.timedelta(minutes=11))
        worker = Worker(office)
        worker.run_pending()  # the campaigns.sends job queues, the crm.mail job delivers
        crm_clock.advance(dt.timedelta(minutes=2))
        worker.run_pending()
        delivered = sorted(r for m in office.mail.sent for r in m.recipients)
        send = office.plugin("campaigns").sends("December news")[0]
        assert (send.status, send.counts.queued, send.counts.sent, send.unsubscribed_before) == ("sent", 2, 2, 1)
        assert delivered == ["lucia@example.com", "pablo@example.com"]  # not elena: she left the list
        assert all("List-Unsubscribe" in m.headers for m in office.mail.sent)

        page.reload()
        row = page.locator(f"#send-{send.id}").inner_text()
        assert "sent" in row and "news" in row
        _frame_shows(shown, "Hello Ana,")
        shown.shot("campaign-sent")

        page.fill("#f-now_source", "news")  # "send now" asks first, saying how many it reaches
        page.get_by_role("button", name="Send now").click()
        assert "goes now to 2 contact(s) of news" in page.locator("#confirm").inner_text()
        shown.shot("send-now-confirm")
        page.get_by_role("link", name="Do not send").click()
        assert len(office.mail.list()) == 2

        page.select_option("#language-menu", "es")  # the same page in Spanish
        page.get_by_role("button", name="Change").click()
        page.goto(f"{served.url}/campaigns/")
        assert page.locator("h1").inner_text() == "Campañas"
        assert "Últimos envíos" in page.locator("#latest-sends").inner_text()
        shown.shot("campaigns-spanish")
        page.get_by_role("link", name="December news").first.click()
        assert "Enviar ahora" in page.locator("#send").inner_text()
        shown.shot("campaign-spanish")
    finally:
        shown.close()
