"""The surveys' desk pages in a real browser (headless Chromium through Playwright), as the desk's browser tests.

Flows: the results page with its charts (drawn by the analytics plugin) and
tables, in English and Spanish, at a laptop's and a phone's width; the
answers page, where a negative answer links to the follow-up task a rule of
the tasks plugin made. Every page shown is saved under
``build/screenshots/desk/surveys_<flow>-<width>/`` and checked (labels, width,
script errors and CSP violations, failed resources such as a chart that did
not draw, axe-core's serious and critical violations) with the desk's
vendored axe-core.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_core.browser_testing import LAPTOP, PHONE, BrowserPage, Served, launch_chromium, needs_chromium

pytest.importorskip("crm_desk")
pytest.importorskip("crm_analytics")
pytest.importorskip("crm_tasks")

pytestmark = [needs_chromium, pytest.mark.sqlite_only]

PASSWORD = "Correct-horse-42!"
ROOT = Path(__file__).resolve().parents[4]
SCREENSHOTS = ROOT / "build" / "screenshots" / "desk"
AXE = ROOT / "plugins" / "desk" / "tests" / "browser" / "axe-core" / "axe.min.js"
WIDTHS = pytest.mark.parametrize("width", [LAPTOP, PHONE], ids=["laptop", "phone"])
REGIONS = ("Madrid", "Norte", "Levante")
#: the sample configuration's rule: a negative answer makes a follow-up call for the contact's owner
UNHAPPY = {
    "name": "unhappy-customer",
    "trigger": "event",
    "event": "SurveyAnswered",
    "when": {"negative": True},
    "action": "task",
    "task": {"kind": "call", "title": "Call {contact.display_name}: unhappy with the survey",
             "assignee": "{contact.owner}", "due_in": "1d", "questions": ["What went wrong?"]},
}  # fmt: skip


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
def crm(crm_factory: Callable[..., Any], crm_clock: Any, definition: dict[str, Any]) -> Any:
    """A survey sent to 12 customers in three regions in January; answers in 2026-Q1 and 2026-Q3, none in Q2."""
    crm = crm_factory(
        plugins=["desk", "contacts", "surveys", "tasks", "warehouse", "analytics"],
        settings={"surveys": {"secret": "test-secret-for-surveys"}, "tasks": {"rules": [UNHAPPY]}},
        core={"secret": "surveys-desk-secret-0123456789-0123456789"},
        mail={"sender": "CRM <crm@example.com>", "unsubscribe_mailto": "unsubscribe@example.com"},
    )
    crm.authz.users.add("ana", display_name="Ana García", email="ana@example.com", roles=["admin"], password=PASSWORD)
    surveys = crm.plugin("surveys")
    surveys.save(definition)
    contacts = crm.plugin("contacts")
    contacts.create_list("customers")
    ids = [
        contacts.create(
            first_name=f"Cliente{n}", last_name="Ruiz", email=f"c{n}@example.com", region=REGIONS[n % 3], owner="ana"
        ).id
        for n in range(12)
    ]
    contacts.add_to_list("customers", ids)
    surveys.send("csat", "list:customers")
    for n, contact_id in enumerate(ids):
        if n == 8:
            crm_clock.set(dt.datetime(2026, 8, 3, 10, 0, tzinfo=dt.UTC))
        answers = {"recommend": (10, 9, 3, 7, 8, 10, 6, 9, 2, 10, 8, 5)[n], "satisfaction": 1 + n % 5}
        answers |= {"channel": ("Phone", "E-mail", "Shop")[n % 3], "topics": ["Offers"] if n % 2 else ["Events"]}
        surveys.answer("csat", contact_id, answers | ({"why": "Too slow"} if n in (2, 8) else {}))
    return crm


@pytest.fixture
def served(crm: Any) -> Iterator[Served]:
    from crm_desk import create_app

    server = Served(create_app(crm), name="surveys-desk-test-server")
    yield server
    server.close()


@pytest.fixture
def desk(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., BrowserPage]]:
    opened: list[BrowserPage] = []

    def make(width: int, language: str = "en-GB") -> BrowserPage:
        flow = re.sub(r"^test_|\[.*$", "", request.node.name)
        folder = SCREENSHOTS / f"surveys_{flow}-{width}"
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


def charts_drawn(page: Any) -> list[str]:
    """Scroll through the page (the charts load lazily), wait for every image; the sources of those that drew."""
    height = page.evaluate("() => document.body.scrollHeight")
    for y in range(0, height, 400):
        page.evaluate(f"() => window.scrollTo(0, {y})")
        page.wait_for_timeout(20)
    page.wait_for_load_state(
        "networkidle", timeout=60_000
    )  # up to 19 charts drawn on first view: slow on a busy machine
    for _ in range(100):
        if page.evaluate("() => [...document.images].every(i => i.complete)"):
            break
        page.wait_for_timeout(100)
    page.evaluate("() => window.scrollTo(0, 0)")
    return page.evaluate("() => [...document.images].filter(i => i.naturalWidth > 0).map(i => i.src)")


@WIDTHS
def test_results_as_charts_and_tables_in_english_and_spanish(crm, served, desk, width):
    browser = desk(width)
    page = browser.page
    sign_in(browser, served)
    survey = crm.plugin("surveys").get("csat").id
    page.goto(f"{served.url}/surveys/{survey}")
    page.get_by_role("link", name="Results").click()
    page.wait_for_url(f"{served.url}/surveys/{survey}/results")
    drawn = charts_drawn(page)
    # the distribution of each question answered (4: a rating and a yes-or-no question had no answers), and by
    # quarter and by region the NPS and CSAT (2) and those distributions (4) each
    assert len(drawn) == page.locator("figure.chart img").count() == 4 + 2 * (2 + 4)
    quarters = page.locator("#by-period tbody").first.locator("th")
    assert quarters.all_inner_texts() == ["2026-Q1", "2026-Q2", "2026-Q3"]  # the empty quarter is kept, in order
    assert page.locator("#by-period tbody").first.locator("tr").nth(1).inner_text().count("–") == 3
    for image in page.locator("figure.chart img").all()[:3]:
        assert image.get_attribute("alt").endswith("The table below holds the same figures.")
    browser.shot("results")
    page.select_option("#language-menu", "es")
    with page.expect_navigation():  # the language is saved, then the page comes back
        page.locator("#language-menu ~ button").click()
    page.wait_for_url(f"{served.url}/surveys/{survey}/results")
    assert len(charts_drawn(page)) == 16
    assert page.locator("h1").inner_text() == "Resultados de How did we do?"
    assert "Por trimestre" in page.locator("#by-period").inner_text()
    browser.shot("results-es")
    page.goto(f"{served.url}/surveys/{survey}/results?period=month")
    assert len(charts_drawn(page)) == 16
    months = page.locator("#by-period tbody").first.locator("th").all_inner_texts()
    assert months == [f"2026-{m:02d}" for m in range(1, 9)]
    browser.shot("results-by-month-es")


@WIDTHS
def test_from_a_negative_answer_to_its_follow_up_task(crm, served, desk, width):
    browser = desk(width)
    page = browser.page
    sign_in(browser, served)
    survey = crm.plugin("surveys").get("csat").id
    page.goto(f"{served.url}/surveys/{survey}")
    page.get_by_role("link", name="Answers", exact=True).click()
    page.wait_for_url(f"{served.url}/surveys/{survey}/responses")
    follow_ups = page.locator("p.follow-up")
    # an NPS of 0 to 6 or a CSAT of 1 or 2 is negative: one follow-up call each
    negative = [r for r in crm.plugin("surveys").responses("csat").items if r.negative]
    assert len(negative) == 8 and follow_ups.count() == len(crm.plugin("tasks").list()) == 8
    browser.shot("answers")
    row = page.locator("tr", has=page.get_by_role("link", name="Cliente8 Ruiz"))
    assert "Negative" in row.inner_text()
    row.get_by_role("link", name="Call Cliente8 Ruiz: unhappy with the survey").click()
    page.wait_for_url(re.compile(r".*/tasks/\d+$"))
    assert page.locator("h1").inner_text() == "Call Cliente8 Ruiz: unhappy with the survey"
    assert "What went wrong?" in page.locator("main").inner_text()
    browser.shot("follow-up-task")
    page.go_back()
    page.select_option("#language-menu", "es")
    with page.expect_navigation():  # the language is saved, then the page comes back
        page.locator("#language-menu ~ button").click()
    page.wait_for_url(f"{served.url}/surveys/{survey}/responses")
    assert "aparece junto a la respuesta" in page.locator("#count").inner_text()
    assert page.locator("thead th", has_text="Seguimiento").count() == 1  # (a phone shows rows as cards)
    browser.shot("answers-es")
