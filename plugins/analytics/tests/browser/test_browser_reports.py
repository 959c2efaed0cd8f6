"""The analytics pages in a real browser: build and save a custom report, run it, open a standard report.

Headless Chromium (Debian's /usr/bin/chromium) through Playwright, as the
desk's own browser tests (``plugins/desk/tests/browser``): each page shown
is saved under ``build/screenshots/desk/reports-<flow>-<width>/`` and
checked (labels, width, no script error, CSP violation or failed resource,
and axe-core, vendored with the desk's tests, finds no serious or critical
violation). Skipped, saying why, without Chromium, Playwright or the desk.
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
    """axe-core's serious and critical violations (injected through DevTools: the page's CSP still holds)."""
    if not AXE.is_file():
        pytest.skip(f"axe-core is not at {AXE} (the desk's browser tests vendor it)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async () => (await window.axe.run(document, {resultTypes: ['violations']})).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: axe-core found: {bad}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def office(analytics_app: Callable[..., Any], crm_clock: Any, fill: Callable[..., Any]) -> Any:
    crm = analytics_app(
        plugins=["desk"],
        core={"secret": "analytics-browser-secret-0123456789-0123456789"},
        settings={"desk": {"base_url": "https://crm.example.com"}},
    )
    crm.ids = fill(crm, crm_clock)
    crm.authz.users.add("ana", display_name="Ana García", roles=["sales"], password=PASSWORD, email="ana@example.com")
    return crm


@pytest.fixture
def served(office: Any) -> Iterator[Served]:
    from crm_desk import create_app

    server = Served(create_app(office), name="reports-test-server")
    yield server
    server.close()


@pytest.fixture
def desk(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., BrowserPage]]:
    opened: list[BrowserPage] = []

    def make(width: int) -> BrowserPage:
        flow = re.sub(r"^test_|\[.*$", "", request.node.name)
        folder = SCREENSHOTS / f"reports-{flow}-{width}"
        shutil.rmtree(folder, ignore_errors=True)
        opened.append(BrowserPage(browser, folder, width=width, checks=(check_accessibility,)))
        return opened[-1]

    yield make
    for item in opened:
        item.close()


@WIDTHS
def test_build_and_save_a_custom_report(office: Any, served: Served, desk: Any, width: int) -> None:
    browser = desk(width)
    page = browser.page
    page.goto(f"{served.url}/signin")
    page.fill("#f-name", "ana")
    page.fill("#f-password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{served.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.wait_for_url(f"{served.url}/reports/")
    browser.shot("reports")
    page.get_by_role("link", name="Sales by region").click()
    page.wait_for_url(re.compile(r".*/reports/view/sales$"))
    page.fill("#f-from", "2025-01-01")
    page.fill("#f-to", "2025-06-30")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*/reports/view/sales\?.*"))
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert "€2,000.00" in page.locator("table").inner_text()
    browser.shot("sales-report")
    page.goto(f"{served.url}/reports/")
    page.get_by_role("link", name="New custom report").first.click()
    page.wait_for_url(f"{served.url}/reports/new")
    browser.shot("builder")

    def settled() -> None:
        # each change is checked by the server and the form swapped in again: wait for it, as a person would
        page.wait_for_timeout(150)
        page.wait_for_function("() => !document.querySelector('#builder.htmx-request')")

    page.fill("#f-name", "won-by-country")
    page.locator("#f-name").press("Tab")
    settled()
    page.fill("#f-title", "Won by country")
    page.locator("#f-title").press("Tab")
    settled()
    page.get_by_label("contact.country").check()
    settled()
    page.select_option("#f-period_field", "closed_on")
    settled()
    page.select_option("#f-m2_agg", "sum")
    settled()
    # a text field summed: refused beside the measure as soon as it is chosen (htmx)
    page.select_option("#f-m2_field", "region")
    settled()
    assert "need a number field" in page.locator("#f-m2_agg-note").inner_text()
    browser.shot("builder-error-beside-the-field")
    page.select_option("#f-m2_field", "amount")
    settled()
    assert page.locator("#f-m2_agg-note").count() == 0
    page.fill("#f-m2_name", "revenue")
    page.locator("#f-m2_name").press("Tab")
    settled()
    page.select_option("#f-f1_field", "outcome")
    settled()
    page.fill("#f-f1_value", "won")
    page.locator("#f-f1_value").press("Tab")
    settled()
    definition = page.locator("pre.definition").inner_text()
    assert '"revenue"' in definition and '"outcome"' in definition and '"closed_on"' in definition
    browser.shot("builder-filled")
    page.get_by_role("button", name="Save the report").click()
    page.wait_for_url(re.compile(r".*/reports/view/won-by-country$"))
    page.fill("#f-from", "2025-01-01")
    page.fill("#f-to", "2025-06-30")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*/reports/view/won-by-country\?.*"))
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert "ES" in page.locator("table").inner_text()
    browser.shot("custom-report")
    assert [r["name"] for r in office.plugin("analytics").saved()] == ["won-by-country"]
    # in Spanish: the notes, the stages and the chart's words too
    with page.expect_navigation():
        page.select_option("#language-menu", "es")
        page.locator("#language-menu ~ button").click()
    page.goto(f"{served.url}/reports/view/pipeline?run=1&from=2025-01-01&to=2025-06-30")
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert "el valor abierto es el de hoy" in page.locator(".notes").inner_text()
    assert "Negociación" in page.locator("table").inner_text()
    browser.shot("pipeline-es")
