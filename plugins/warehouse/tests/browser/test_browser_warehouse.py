"""The warehouse's desk pages in a real browser (headless Chromium through Playwright), as the desk's browser tests.

Flows: move a deal on the board with the mouse (HTML5 drag and drop, the
desk's board.js) and with the keyboard (the card's "Move to" menu); close a
deal as lost with its reason; log a meeting note from the contact card; upload
a document and download it; the timeline, the contact as it was, the sales
list. Every page shown is saved under ``build/screenshots/desk/<flow>-<width>/``
and checked (labels, width, script errors and CSP violations, axe-core's
serious and critical violations) with the desk's vendored axe-core.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_core.browser_testing import LAPTOP, PHONE, BrowserPage, Served, launch_chromium, needs_chromium

pytest.importorskip("crm_desk")

pytestmark = [needs_chromium, pytest.mark.sqlite_only]

PASSWORD = "Correct-horse-42!"
ROOT = Path(__file__).resolve().parents[4]
SCREENSHOTS = ROOT / "build" / "screenshots" / "desk"
AXE = ROOT / "plugins" / "desk" / "tests" / "browser" / "axe-core" / "axe.min.js"
WIDTHS = pytest.mark.parametrize("width", [LAPTOP, PHONE], ids=["laptop", "phone"])


def check_accessibility(page: Any, name: str) -> None:
    """axe-core's serious and critical violations (injected through DevTools: the page's CSP stays as it is)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async () => (await window.axe.run(document, {resultTypes: ['violations']})).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}))"""
    )
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: axe-core found:\n" + "\n".join(
        f"  [{v['impact']}] {v['id']}: {v['help']}\n      " + "\n      ".join(v["nodes"][:5]) for v in bad
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def crm(crm_factory: Callable[..., Any], tmp_path: Path) -> Any:
    crm = crm_factory(
        plugins=["desk", "contacts", "warehouse"],
        settings={"warehouse": {"documents_dir": str(tmp_path / "documents")}},
        core={"secret": "warehouse-desk-secret-0123456789-0123456789"},
    )
    crm.authz.users.add("ana", display_name="Ana García", email="ana@example.com", roles=["sales"], password=PASSWORD)
    contacts = crm.plugin("contacts")
    sales = crm.plugin("warehouse").sales
    eva = contacts.create(first_name="Eva", last_name="Luna", owner="ana", email="eva@example.com")
    leo = contacts.create(first_name="Leo", last_name="Sanz", owner="ana")
    crm.deals = {
        "desks": sales.add("rfq", eva.id, title="20 desks", amount="2400", owner="ana", expected_close_on="2026-02-20"),
        "chairs": sales.add("quote", leo.id, title="Chairs", amount="640.50", owner="ana", stage="qualified"),
        "lamps": sales.add("sale", leo.id, title="Lamps", amount="90", currency="USD", owner="ana", stage="proposal"),
    }
    crm.eva = eva
    return crm


@pytest.fixture
def served(crm: Any) -> Iterator[Served]:
    from crm_desk import create_app

    server = Served(create_app(crm), name="warehouse-desk-test-server")
    yield server
    server.close()


@pytest.fixture
def desk(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., BrowserPage]]:
    opened: list[BrowserPage] = []

    def make(width: int, language: str = "en-GB") -> BrowserPage:
        flow = re.sub(r"^test_|\[.*$", "", request.node.name)
        folder = SCREENSHOTS / f"warehouse_{flow}-{width}"
        if not opened:
            shutil.rmtree(folder, ignore_errors=True)
        opened.append(BrowserPage(browser, folder, width=width, language=language, checks=(check_accessibility,)))
        return opened[-1]

    yield make
    for item in opened:
        item.close()


def sign_in(browser: BrowserPage, served: Served, name: str = "ana") -> None:
    page = browser.page
    page.goto(f"{served.url}/signin")
    page.fill("#f-name", name)
    page.fill("#f-password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{served.url}/")


def column(page: Any, stage: str) -> Any:
    return page.locator(f'[data-board-column="{stage}"]')


def drag(page: Any, card: str, stage: str) -> None:
    """Drag a card onto a column as a person does: press, start moving, reach the column (scrolled to), release.

    (Playwright's drag_and_drop scrolls the target into view before the drag starts,
    so on a board wider than the window it would pick up whichever card is then under the pointer.)
    """
    page.locator(card).hover()
    page.mouse.down()
    box = page.locator(card).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2 + 10, box["y"] + box["height"] / 2 + 10, steps=2)
    page.locator(f'[data-board-column="{stage}"] h2').hover()
    page.mouse.up()


# -- the flows -------------------------------------------------------------------------------------


def test_move_a_deal_on_the_board_with_the_mouse(crm, served, desk):
    browser = desk(LAPTOP)
    page = browser.page
    sign_in(browser, served)
    browser.shot("home")
    page.get_by_role("link", name="Pipeline").first.click()
    page.wait_for_url(f"{served.url}/warehouse/pipeline")
    assert column(page, "new").locator(".deal-card").count() == 1
    browser.shot("board")
    desks = crm.deals["desks"]
    with page.expect_navigation():  # the drop sends the card's form; the board comes back
        drag(page, f"#deal-{desks.id}", "negotiation")
    assert column(page, "negotiation").locator(f"#deal-{desks.id}").count() == 1
    assert page.locator(".toast").first.inner_text().endswith("moved to Negotiation.")
    assert crm.plugin("warehouse").sales.get(desks.id).stage == "negotiation"
    browser.shot("moved")
    # dropped on "Lost": the reason is asked for, then the deal is closed
    chairs = crm.deals["chairs"]
    drag(page, f"#deal-{chairs.id}", "lost")
    page.wait_for_url(re.compile(r".*/close\?outcome=lost.*"))
    browser.shot("lost-reason")
    page.fill("#f-lost_reason", "Went with a cheaper supplier")
    page.get_by_role("button", name="Close the deal").click()
    page.wait_for_url(f"{served.url}/warehouse/pipeline")
    sale = crm.plugin("warehouse").sales.get(chairs.id)
    assert (sale.outcome, sale.lost_reason) == ("lost", "Went with a cheaper supplier")
    assert page.locator(f"#deal-{chairs.id}").count() == 0
    browser.shot("after-lost")


@WIDTHS
def test_move_a_deal_on_the_board_with_the_keyboard(crm, served, desk, width):
    browser = desk(width)
    page = browser.page
    sign_in(browser, served)
    page.goto(f"{served.url}/warehouse/pipeline")
    lamps = crm.deals["lamps"]
    menu = page.locator(f"#stage-{lamps.id}")
    menu.focus()
    menu.select_option("negotiation")  # what the arrow keys do on a focused menu
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Move"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert column(page, "negotiation").locator(f"#deal-{lamps.id}").count() == 1
    assert crm.plugin("warehouse").sales.get(lamps.id).stage == "negotiation"
    browser.shot("moved-by-keyboard")
    page.goto(f"{served.url}/warehouse/sales/")
    browser.shot("sales-list")
    page.goto(f"{served.url}/warehouse/sales/{lamps.id}")
    browser.shot("deal")


@WIDTHS
def test_log_a_meeting_note(crm, served, desk, width):
    browser = desk(width)
    page = browser.page
    sign_in(browser, served)
    eva = crm.eva
    page.goto(f"{served.url}/contacts/{eva.id}")
    browser.shot("card")
    panel = page.locator("#panel-history")
    panel.get_by_label("Log").select_option("meeting")
    panel.get_by_label("Subject").fill("Visit in Madrid")
    panel.get_by_label("What was said or agreed").fill("She wants the desks before March.")
    panel.get_by_role("button", name="Log it").click()
    page.wait_for_url(f"{served.url}/contacts/{eva.id}")
    assert "Logged: Meeting note" in page.locator(".toast").first.inner_text()
    assert "Visit in Madrid — She wants the desks before March." in panel.inner_text()
    browser.shot("logged")
    [action] = crm.plugin("warehouse").actions.list(contact_id=eva.id)
    assert (action.kind, action.subject) == ("meeting", "Visit in Madrid")
    panel.get_by_label("Show only").select_option("note")
    panel.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_url(re.compile(r".*/timeline\?kind=note"))
    assert page.locator(".timeline-entry").count() == 1
    browser.shot("timeline-notes")
    page.goto(f"{served.url}/contacts/{eva.id}")
    page.locator("#panel-history").get_by_label("As it was on").fill(crm.now().date().isoformat())
    page.locator("#panel-history").get_by_role("button", name="See").click()
    page.wait_for_url(re.compile(r".*/as-of\?date=.*"))
    assert "Luna" in page.locator("main").inner_text()
    browser.shot("as-of")
    with page.expect_navigation():  # in Spanish: what each entry says too
        page.select_option("#language-menu", "es")
        page.locator("#language-menu ~ button").click()
    page.goto(f"{served.url}/warehouse/contacts/{eva.id}/timeline")
    entries = page.locator(".timeline").inner_text()
    assert "Nota de reunión" in entries and "Alta como persona: Eva Luna" in entries
    browser.shot("timeline-es")


@WIDTHS
def test_upload_a_document(crm, served, desk, width, tmp_path):
    browser = desk(width)
    page = browser.page
    sign_in(browser, served)
    eva = crm.eva
    offer = tmp_path / "offer.pdf"
    offer.write_bytes(b"%PDF-1.4 the offer for 20 desks\n" * 20_000)  # 640 kB: more than a form may carry
    page.goto(f"{served.url}/contacts/{eva.id}")
    panel = page.locator("#panel-documents")
    panel.get_by_label("File").set_input_files(str(offer))
    panel.get_by_label("What it is").fill("The offer")
    panel.get_by_role("button", name="Upload").click()
    page.wait_for_url(f"{served.url}/contacts/{eva.id}")
    assert "Uploaded: offer.pdf" in page.locator(".toast").first.inner_text()
    browser.shot("uploaded")
    with page.expect_download() as waiting:
        page.locator("#panel-documents").get_by_role("link", name="offer.pdf").click()
    download = waiting.value
    assert download.suggested_filename == "offer.pdf"
    assert Path(download.path()).read_bytes() == offer.read_bytes()


@WIDTHS
def test_upload_a_document_from_a_deals_page(crm, served, desk, width, tmp_path):
    browser = desk(width)
    page = browser.page
    sign_in(browser, served)
    desks = crm.deals["desks"]
    proposal = tmp_path / "proposal.pdf"
    proposal.write_bytes(b"%PDF-1.4 the proposal for 20 desks\n" * 20_000)  # 700 kB: more than a form may carry
    page.goto(f"{served.url}/warehouse/sales/{desks.id}")
    card = page.locator("#documents")
    assert "No documents about this deal yet" in card.inner_text()
    browser.shot("deal")
    card.get_by_label("File").set_input_files(str(proposal))
    card.get_by_label("What it is").fill("Our proposal")
    card.get_by_role("button", name="Upload").click()
    page.wait_for_url(f"{served.url}/warehouse/sales/{desks.id}")
    assert "Uploaded: proposal.pdf" in page.locator(".toast").first.inner_text()
    assert "Our proposal" in page.locator("#documents").inner_text()
    browser.shot("uploaded")
    with page.expect_download() as waiting:
        page.locator("#documents").get_by_role("link", name="proposal.pdf").click()
    assert Path(waiting.value.path()).read_bytes() == proposal.read_bytes()
    [document] = crm.plugin("warehouse").documents.list(sale_id=desks.id)
    assert document.contact_id == crm.eva.id  # the deal's, and its contact's
    page.goto(f"{served.url}/contacts/{crm.eva.id}")
    assert "proposal.pdf" in page.locator("#panel-documents").inner_text()
    page.select_option("#language-menu", "es")
    with page.expect_navigation():  # the language is saved, then the card comes back
        page.locator("#language-menu ~ button").click()
    page.goto(f"{served.url}/warehouse/sales/{desks.id}")
    assert page.locator("#documents").get_by_role("button", name="Subir").count() == 1
    browser.shot("deal-es")


@WIDTHS
def test_new_deal_picks_the_contact_by_name(crm, served, desk, width):
    browser = desk(width)
    page = browser.page
    sign_in(browser, served)
    page.goto(f"{served.url}/warehouse/sales/new")
    browser.shot("new-deal")
    with page.expect_response(lambda r: "/warehouse/sales/new/contacts" in r.url):
        page.get_by_label("Contact", exact=True).press_sequentially("Le", delay=30)
    matches = page.locator("#contact-matches")
    matches.get_by_label("Leo Sanz").wait_for()
    assert matches.get_by_label("Leo Sanz").is_checked()  # the only match is chosen
    browser.shot("one-match")
    page.get_by_label("Title").fill("Six chairs")
    page.get_by_label("Amount").fill("540")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/warehouse/sales/\d+$"))
    assert "Deal recorded: Six chairs" in page.locator(".toast").first.inner_text()
    [chairs] = [s for s in crm.plugin("warehouse").sales.list() if s.title == "Six chairs"]
    assert chairs.contact_id == crm.plugin("warehouse").sales.get(crm.deals["chairs"].id).contact_id
    browser.shot("recorded")


def test_new_deal_picks_the_contact_by_name_without_javascript(crm, served, browser, request):
    folder = SCREENSHOTS / f"warehouse_new_deal_without_javascript-{LAPTOP}"
    shutil.rmtree(folder, ignore_errors=True)
    # axe-core runs on the page's own script engine, which is off here: the same form is checked in the test above
    plain = BrowserPage(browser, folder, width=LAPTOP, javascript=False)
    request.addfinalizer(plain.close)
    crm.plugin("contacts").create(first_name="Eva", last_name="Sol", owner="ana")
    sign_in(plain, served)
    page = plain.page
    page.goto(f"{served.url}/warehouse/sales/new")
    page.get_by_label("Contact", exact=True).fill("Eva")
    page.get_by_label("Title").fill("A lamp")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{served.url}/warehouse/sales/new")
    assert "Several contacts match “Eva”: choose one." in page.locator("#contact-picker").inner_text()
    plain.shot("several-match")
    page.get_by_label("Eva Luna").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/warehouse/sales/\d+$"))
    [lamp] = [s for s in crm.plugin("warehouse").sales.list() if s.title == "A lamp"]
    assert lamp.contact_id == crm.eva.id
    plain.shot("recorded")
