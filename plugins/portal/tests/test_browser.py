"""The four flows in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Each page is saved as a screenshot under the test's tmp folder
(``screenshots/NN-name.png``). On every page the test also checks that
each form field has a label, that nothing overflows a phone's width, and
that the browser reported no Content-Security-Policy violation or script
error. The browser, the server thread and the checked page are
``crm_core.browser_testing``'s, shared with the desk's browser tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from crm_core.browser_testing import BrowserPage, Served, launch_chromium, needs_chromium

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch_chromium() as chromium:
        yield chromium


def serve(crm: Any) -> Served:
    """The portal of one app, served from a thread on 127.0.0.1 with an ephemeral port."""
    from crm_portal import create_app

    return Served(create_app(crm), name="portal-test-server")


@pytest.fixture
def served(app) -> Iterator[Served]:
    server = serve(app)
    yield server
    server.close()


@pytest.fixture
def pages(browser, tmp_path) -> Iterator[Any]:
    opened: list[BrowserPage] = []

    def make(*, mobile: bool = False, **options: Any) -> BrowserPage:
        opened.append(BrowserPage(browser, tmp_path / "screenshots", width=390 if mobile else 1024, **options))
        return opened[-1]

    yield make
    for item in opened:
        item.close()


# -- the flows, each a function so that the server-backend test can run them all ----------------------


def update_flow(crm: Any, served: Served, pages: Any, kit: Any) -> None:
    ana = kit.add_contact(crm, language="es")
    link = crm.plugin("contacts").issue_update_link(
        ana.id, ["first_name", "last_name", "emails", "phones", "do_not_contact"]
    )
    browser = pages(language="es-ES")
    page = browser.page
    page.goto(served.local(link.url))
    assert page.locator("h1").inner_text() == "Tus datos" and page.locator("#first_name").input_value() == "Ana"
    browser.shot("update-form")
    page.fill("#first_name", "Ana María")
    page.get_by_role("button", name="Añadir otro teléfono").click()  # the script adds a row
    page.fill("#phones-2-number", "699 111 222")
    page.select_option("#phones-2-kind", "work")
    browser.shot("update-form-filled")
    page.get_by_role("button", name="Revisar mis cambios").click()
    assert page.locator("h1").inner_text() == "Revisa tus cambios"
    table = page.locator("table.changes").inner_text()
    assert "Ana María" in table and "+34699111222" in table
    browser.shot("update-preview")
    page.get_by_role("button", name="Confirmar mis cambios").click()
    assert page.locator("[role=status]").inner_text() == "Tus datos se han actualizado."
    browser.shot("update-done")
    record = crm.plugin("contacts").get(ana.id)
    assert record.first_name == "Ana María" and [p.number for p in record.phones] == ["+34612345678", "+34699111222"]
    response = page.goto(served.local(link.url))
    assert response.status == 410 and page.locator("h1").inner_text() == "Este enlace ya se usó"
    browser.shot("update-used-link")


def survey_flow(crm: Any, served: Served, pages: Any, kit: Any) -> None:
    sam = kit.add_contact(crm, first_name="Sam", email="sam@example.com", phone="+34699000222")
    token = kit.survey_token(crm, sam.id)
    browser = pages(mobile=True)
    page = browser.page
    page.goto(f"{served.url}/surveys/{token}")
    why, when = page.locator("#q-why"), page.locator("#q-when")
    assert why.is_hidden() and when.is_hidden()
    browser.shot("survey-form-phone")
    page.get_by_label("3", exact=True).first.check()  # NPS 3: the follow-up question appears
    assert why.is_visible()
    page.get_by_label("9", exact=True).first.check()  # and goes when the answer changes
    assert why.is_hidden()
    page.get_by_label("3", exact=True).first.check()
    page.fill("#q-why-text", "Faster <b>delivery</b>")
    page.locator("#q-satisfaction-4").check()
    page.locator("#q-speed-6").check()
    page.get_by_label("E-mail", exact=True).check()
    page.get_by_label("Offers").check()
    page.get_by_label("Events").check()
    page.locator("#q-call_back-yes").check()
    assert when.is_visible()
    page.get_by_label("Afternoons").check()
    browser.shot("survey-form-answered")
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url(re.compile(r".*/thanks$"))
    assert page.locator("h1").inner_text() == "Thank you for your answers"
    browser.shot("survey-thanks")
    assert crm.plugin("surveys").form(token).answers == {
        "recommend": 3,
        "why": "Faster <b>delivery</b>",
        "satisfaction": 4,
        "speed": 6,
        "channel": "E-mail",
        "topics": ["Offers", "Events"],
        "call_back": True,
        "when": "Afternoons",
    }
    page.get_by_role("link", name="Change my answers").click()
    assert (
        page.locator("#q-recommend-3").is_checked()
        and page.locator("#q-why-text").input_value() == "Faster <b>delivery</b>"
    )
    assert "You answered on" in page.locator("[role=status]").first.inner_text()
    browser.shot("survey-come-back")


def signup_flow(crm: Any, served: Served, pages: Any, kit: Any) -> None:
    browser = pages()
    page = browser.page
    page.goto(f"{served.url}/signup/newsletter")
    browser.shot("signup-form")
    # keyboard only: the skip link first, then the fields in order
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    page.locator("#email").focus()
    page.keyboard.type("nora@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type("Nora")
    page.keyboard.press("Tab")
    page.keyboard.type("Díaz")
    page.keyboard.press("Tab")  # the honeypot is skipped (tabindex -1): the consent box is next
    assert page.evaluate("document.activeElement.id") == "consent"
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/sent$"))
    assert page.locator("h1").inner_text() == "Check your inbox"
    browser.shot("signup-sent")
    crm.mail.deliver()
    (mail,) = crm.mail.transport.to("nora@example.com")
    link = re.search(r"http://localhost:8000/signup/confirm/\S+", mail.text).group(0)
    page.goto(served.local(link))
    assert "nora@example.com" in page.locator("dl.summary").inner_text()
    browser.shot("signup-confirm")
    page.get_by_role("button", name="Confirm").click()
    assert page.locator("h1").inner_text() == "You are signed up"
    browser.shot("signup-confirmed")
    (card,) = crm.plugin("contacts").search(email="nora@example.com").cards
    assert card.display_name == "Nora Díaz" and len(crm.plugin("portal").consents(card.id)) == 1


def unsubscribe_flow(crm: Any, served: Served, pages: Any, kit: Any) -> None:
    contacts = crm.plugin("contacts")
    bob = kit.add_contact(crm, first_name="Bob", email="bob.smith@example.com", phone="+34699000333")
    contacts.add_to_list("newsletter", [bob.id])
    browser = pages(mobile=True)
    page = browser.page
    page.goto(served.local(crm.plugin("portal").unsubscribe_url(bob.id, "newsletter")))
    assert "b…h@example.com" in page.locator("main").inner_text()
    browser.shot("unsubscribe-page")
    page.get_by_role("button", name="Unsubscribe from “The monthly newsletter”").click()
    assert page.locator("h1").inner_text() == "You are unsubscribed"
    browser.shot("unsubscribe-done")
    assert {m.contact_id: m.state for m in contacts.list_members("newsletter")}[bob.id] == "unsubscribed"
    page.get_by_role("button", name="That was a mistake: subscribe me again").click()
    assert page.locator("h1").inner_text() == "Welcome back"
    browser.shot("unsubscribe-resubscribed")
    assert {m.contact_id: m.state for m in contacts.list_members("newsletter")}[bob.id] == "subscribed"
    page.goto(served.local(crm.plugin("portal").unsubscribe_url(bob.id)))
    page.get_by_role("button", name="Unsubscribe from all our e-mails").click()
    assert contacts.get(bob.id).do_not_contact is True
    browser.shot("unsubscribe-everything")


# -- the tests -----------------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_update_flow(kit, app, served, pages):
    update_flow(app, served, pages, kit)


@pytest.mark.sqlite_only
def test_survey_flow(kit, app, served, pages):
    survey_flow(app, served, pages, kit)


@pytest.mark.sqlite_only
def test_signup_flow(kit, app, served, pages):
    signup_flow(app, served, pages, kit)


@pytest.mark.sqlite_only
def test_unsubscribe_flow(kit, app, served, pages):
    unsubscribe_flow(app, served, pages, kit)


@pytest.mark.sqlite_only
def test_survey_without_javascript_shows_the_follow_up_from_the_server(kit, app, served, pages):
    ana = kit.add_contact(app)
    token = kit.survey_token(app, ana.id)
    browser = pages(javascript=False)
    page = browser.page
    page.goto(f"{served.url}/surveys/{token}")
    assert page.locator("#q-why").is_hidden()
    page.locator("#q-recommend-2").check()
    page.get_by_role("button", name="Send my answers").click()
    assert "more questions apply to you" in page.locator(".notice").inner_text()
    assert page.locator("#q-why").is_visible()
    browser.shot("survey-no-script-follow-up")
    page.get_by_role("button", name="Send my answers").click()  # the follow-up is required
    assert "Please answer this question." in page.locator("#q-why-error").inner_text()
    browser.shot("survey-no-script-required")
    page.fill("#q-why-text", "Call me back")
    page.get_by_role("button", name="Send my answers").click()
    assert page.locator("h1").inner_text() == "Thank you for your answers"
    assert app.plugin("surveys").form(token).answers == {"recommend": 2, "why": "Call me back"}


def test_the_four_flows_on_a_server_database(kit, app, crm_db_url, pages):
    if crm_db_url.startswith("sqlite"):
        pytest.skip("on SQLite each flow has a test of its own above")
    served = serve(app)
    try:
        for flow in (update_flow, survey_flow, signup_flow, unsubscribe_flow):
            flow(app, served, pages, kit)
    finally:
        served.close()
