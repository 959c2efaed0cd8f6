"""The desk in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Each flow runs at a laptop's width (1280 px) and a phone's (390 px). Every
page shown is saved as a screenshot under ``build/screenshots/desk/<flow>-<width>/``
(``NN-name.png``, kept after the run; each run replaces its flow's folder)
and checked: every field has a label, nothing is wider than the window, the
browser reported no script error, CSP violation or failed resource, and
axe-core (vendored under ``axe-core/``, injected by the test, never served by
the desk) finds no serious or critical accessibility violation. Without
Chromium or Playwright the tests are skipped, saying so.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crm_core.auth import totp
from crm_core.browser_testing import LAPTOP, PHONE, BrowserPage, Served, launch_chromium, needs_chromium

pytestmark = [needs_chromium, pytest.mark.sqlite_only]

PASSWORD = "Correct-horse-42!"
ROOT = Path(__file__).resolve().parents[4]
SCREENSHOTS = ROOT / "build" / "screenshots" / "desk"
AXE = Path(__file__).parent / "axe-core" / "axe.min.js"
#: the impacts that fail a test (axe's four: minor, moderate, serious, critical)
FAILING_IMPACTS = ("serious", "critical")
WIDTHS = pytest.mark.parametrize("width", [LAPTOP, PHONE], ids=["laptop", "phone"])


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page shown (injected through DevTools: the CSP still holds)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async () => (await window.axe.run(document, {resultTypes: ['violations']})).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}))"""
    )
    return [v for v in found if v["impact"] in FAILING_IMPACTS]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"  [{violation['impact']}] {violation['id']}: {violation['help']} ({violation['url']})")
        for node in violation["nodes"][:5]:
            summary = " ".join(node["summary"].split())
            lines.append(f"      at {node['target']}: {summary}")
        if len(violation["nodes"]) > 5:
            lines.append(f"      … and {len(violation['nodes']) - 5} more")
    return "\n".join(lines)


def check_accessibility(page: Any, name: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"{name}: axe-core found serious or critical violations:\n{describe(violations)}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture
def crm(desk_app: Callable[..., Any]) -> Any:
    """The desk with contacts and tasks; ana sells, root administers (both in desk_app)."""
    return desk_app("contacts", "tasks")


@pytest.fixture
def served(crm: Any) -> Iterator[Served]:
    from crm_desk import create_app

    server = Served(create_app(crm), name="desk-test-server")
    yield server
    server.close()


@pytest.fixture
def desk(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., BrowserPage]]:
    """``desk(width, language="en-GB")``: a checked browser page saving to the flow's screenshot folder."""
    opened: list[BrowserPage] = []

    def make(width: int, language: str = "en-GB") -> BrowserPage:
        flow = re.sub(r"^test_|\[.*$", "", request.node.name)
        folder = SCREENSHOTS / f"{flow}-{width}"
        if not opened:
            shutil.rmtree(folder, ignore_errors=True)
        opened.append(BrowserPage(browser, folder, width=width, language=language, checks=(check_accessibility,)))
        return opened[-1]

    yield make
    for item in opened:
        item.close()


def sign_in(browser: BrowserPage, served: Served, name: str, *, shot: bool = False) -> None:
    page = browser.page
    page.goto(f"{served.url}/signin")
    if shot:
        browser.shot("signin")
    page.fill("#f-name", name)
    page.fill("#f-password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def signed_in_as(page: Any, display_name: str) -> bool:
    return page.locator(".me-name").inner_text() == display_name


# -- the flows -----------------------------------------------------------------------------------------


@WIDTHS
def test_sign_in_without_and_with_two_factor(crm, crm_clock, served, desk, width):
    browser = desk(width)
    page = browser.page
    sign_in(browser, served, "ana", shot=True)
    page.wait_for_url(f"{served.url}/")
    assert signed_in_as(page, "Ana García") and page.locator("h1").first.is_visible()
    browser.shot("home")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/signin.*"))

    sessions = crm.authz.sessions
    setup = sessions.begin_two_factor("root")
    key = totp._key(setup.secret)
    sessions.confirm_two_factor("root", totp.totp(key, crm.clock.now().timestamp()))
    crm_clock.advance(seconds=90)  # a step once used is never accepted again: the next code is another step's
    sign_in(browser, served, "root")
    page.wait_for_url(re.compile(r".*/signin/code$"))
    browser.shot("two-factor-prompt")
    page.fill("#f-code", "000000")
    page.get_by_role("button", name="Sign in").click()
    page.locator("#f-code-note").wait_for(state="visible")  # the answer is a new page: wait for it
    browser.shot("two-factor-wrong-code")
    page.fill("#f-code", totp.totp(key, crm.clock.now().timestamp()))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{served.url}/")
    assert signed_in_as(page, "Root")
    browser.shot("home-after-two-factor")


@WIDTHS
def test_find_a_customer_as_you_type_and_edit_them(crm, served, desk, width):
    contacts = crm.plugin("contacts")
    for first, last, email in (
        ("Lucía", "Fernández", "lucia@example.com"),
        ("Luis", "Ortega", "luis@example.com"),
        ("Marta", "Ruiz", "marta@example.com"),
        ("Pedro", "Sanz", "pedro@example.com"),
    ):
        contacts.create(first_name=first, last_name=last, email=email, owner="ana", region="Madrid")
    browser = desk(width)
    page = browser.page
    sign_in(browser, served, "ana")
    page.wait_for_url(f"{served.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contacts").click()
    page.wait_for_url(f"{served.url}/contacts/")
    assert "of 4 contacts" in page.locator("#count").inner_text()  # then the export links, for who may export
    browser.shot("contacts-list")
    page.locator("#f-q").press_sequentially("Fern", delay=30)  # as a person types: htmx asks after a pause
    page.wait_for_function("() => document.querySelectorAll('#results tbody tr').length === 1")
    assert page.url == f"{served.url}/contacts/"  # the results were swapped in, the page stayed
    browser.shot("contacts-search-as-you-type")
    page.locator("#results").get_by_role("link", name="Lucía Fernández").click()
    page.wait_for_url(re.compile(r".*/contacts/\d+$"))
    assert page.locator("h1").inner_text() == "Lucía Fernández"
    browser.shot("contact-card")
    page.get_by_role("link", name="Edit").click()
    page.wait_for_url(re.compile(r".*/contacts/\d+/edit$"))
    browser.shot("contact-form")
    page.fill("#f-title", "Head of purchasing")
    page.fill("#f-email", "not an address")
    page.get_by_role("button", name="Save").click()
    page.locator("#f-email-note").wait_for(state="visible")  # the answer is a new page: wait for it
    assert page.locator("#f-email").input_value() == "not an address"
    browser.shot("contact-form-error")
    page.fill("#f-email", "lucia.fernandez@example.com")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*/contacts/\d+$"))
    browser.shot("contact-card-saved")
    (card,) = contacts.search(query="Fernández").cards
    saved = contacts.get(card.id)
    assert saved.title == "Head of purchasing" and [e.address for e in saved.emails] == ["lucia.fernandez@example.com"]


@WIDTHS
def test_tick_a_checklist_item_inline(crm, served, desk, width):
    tasks = crm.plugin("tasks")
    visit = tasks.add("Visit the Madrid shop", assignee="ana", checklist=["Bring the catalogue", "Take photos"])
    tasks.add("Call Lucía back", assignee="ana", due=crm.clock.now())
    browser = desk(width)
    page = browser.page
    sign_in(browser, served, "ana")
    page.wait_for_url(f"{served.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks").click()
    page.wait_for_url(f"{served.url}/tasks/")
    browser.shot("tasks-todo")
    page.get_by_role("link", name="Visit the Madrid shop").click()
    page.wait_for_url(f"{served.url}/tasks/{visit.id}")
    browser.shot("task")
    first = page.locator("#check-1 button")
    assert first.get_attribute("aria-pressed") == "false"
    first.click()
    page.wait_for_function("() => document.querySelector('#check-1 button').getAttribute('aria-pressed') === 'true'")
    assert page.url == f"{served.url}/tasks/{visit.id}"  # ticked in place: htmx swapped the item
    browser.shot("task-item-ticked")
    checklist = tasks.get(visit.id).checklist
    assert checklist[0].done and not checklist[1].done


@WIDTHS
def test_admin_adds_a_user_and_a_custom_role(crm, served, desk, width):
    browser = desk(width)
    page = browser.page
    sign_in(browser, served, "root")
    page.wait_for_url(f"{served.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Administration").click()
    page.wait_for_url(f"{served.url}/admin/users")
    browser.shot("admin-users")
    page.goto(f"{served.url}/admin/users/new")
    browser.shot("admin-user-new")
    page.fill("#f-name", "bruno")
    page.fill("#f-display_name", "Bruno Díaz")
    page.fill("#f-email", "bruno@example.com")
    page.get_by_label("sales", exact=True).check()
    page.get_by_label("Give a first password").check()
    page.fill("#f-password", "Another-horse-43!")
    page.get_by_role("button", name="Add the user").click()
    page.wait_for_url(re.compile(r".*/admin/users(/bruno)?$"))
    browser.shot("admin-user-added")
    bruno = crm.authz.users.get("bruno")
    assert bruno.display_name == "Bruno Díaz" and list(bruno.roles) == ["sales"]

    page.goto(f"{served.url}/admin/roles")
    assert page.locator("table.matrix").is_visible()
    browser.shot("admin-roles-matrix")
    page.goto(f"{served.url}/admin/roles/new")
    browser.shot("admin-role-new")
    page.fill("#f-name", "field-sales")
    page.fill("#f-description", "Sales people on the road")
    page.locator("input[name=permissions][value='contacts.read']").check()
    page.locator("input[name=permissions][value='tasks.read']").check()
    page.get_by_role("button", name="Make the role").click()
    page.wait_for_url(re.compile(r".*/admin/roles(/field-sales)?$"))
    browser.shot("admin-role-made")
    role = crm.authz.roles.get("field-sales")
    assert {"contacts.read", "tasks.read"} <= set(role.permissions)


@WIDTHS
def test_switch_to_spanish(crm, served, desk, width):
    browser = desk(width)
    page = browser.page
    page.goto(f"{served.url}/signin")
    page.select_option("#language-menu", "es")  # before signing in: kept in the cookie
    page.get_by_role("button", name="Change").click()
    assert page.locator("h1").inner_text() == "Iniciar sesión"
    browser.shot("signin-spanish")
    page.select_option("#language-menu", "en")
    page.get_by_role("button", name="Cambiar").click()
    sign_in(browser, served, "ana")
    page.wait_for_url(f"{served.url}/")
    page.select_option("#language-menu", "es")  # signed in: kept in the user's preferences
    page.get_by_role("button", name="Change").click()
    page.wait_for_url(f"{served.url}/")
    assert page.locator("html").get_attribute("lang") == "es"
    nav = page.get_by_role("navigation", name="Principal").inner_text()
    assert "Inicio" in nav and "Contactos" in nav and "Tareas" in nav
    browser.shot("home-spanish")
    page.goto(f"{served.url}/contacts/")
    assert page.locator("h1").inner_text() == "Contactos"
    browser.shot("contacts-spanish")
    assert crm.authz.users.get("ana").language == "es"


def test_the_keyboard_reaches_the_search_the_navigation_and_the_forms(crm, served, desk):
    browser = desk(LAPTOP)
    page = browser.page
    sign_in(browser, served, "ana")
    page.wait_for_url(f"{served.url}/")
    page.goto(f"{served.url}/contacts/")
    reached: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                "() => { const e = document.activeElement; return e.id || e.getAttribute('href') || e.name || e.tagName }"
            )
        )
    assert reached[0] == "#main", f"the skip link comes first, got {reached[:3]}"
    for control in ("/", "/contacts/", "/tasks/", "desk-search", "f-q", "f-status", "f-owner"):
        assert control in reached, f"Tab never reaches {control!r}; it reaches, in order: {json.dumps(reached)}"
    assert reached.index("desk-search") < reached.index("f-q"), "the search box comes before the page's form"
    # "/" jumps to the search from anywhere but a field
    page.locator("h1").click()
    page.keyboard.press("/")
    assert page.evaluate("() => document.activeElement.id") == "desk-search"


@WIDTHS
def test_merge_two_duplicates_then_unmerge(crm, served, desk, width):
    contacts = crm.plugin("contacts")
    lucia = contacts.create(
        first_name="Lucía", last_name="Martín", email="lucia@acme.example", owner="root", region="Madrid"
    )
    twin = contacts.create(
        first_name="Lucia",
        last_name="Martin",
        email="lucia@acme.example",
        phone="+34 600 999 000",
        owner="root",
        region="Sevilla",
    )
    browser = desk(width)
    page = browser.page
    sign_in(browser, served, "root")
    page.wait_for_url(f"{served.url}/")
    page.goto(f"{served.url}/contacts/duplicates")
    browser.shot("duplicates")
    page.get_by_role("link", name="Compare and merge").first.click()
    page.wait_for_url(re.compile(r".*/contacts/merge\?.*"))
    browser.shot("merge-compare")
    if f"survivor={twin.id}" in page.url:  # keep the first one, whichever the queue listed first
        page.get_by_role("link", name="Keep the other one instead").click()
        page.wait_for_url(re.compile(rf".*survivor={lucia.id}.*"))
    page.locator("input[name=field_region][value=merged]").check()
    page.get_by_role("button", name="Review the merge").click()
    # the review is a new page: wait for it (is_visible() does not wait, and a busy CI machine is slower)
    page.get_by_role("button", name="Merge", exact=True).wait_for(state="visible")
    browser.shot("merge-confirm")
    assert crm.plugin("contacts").get(twin.id).deleted_at is None  # asked only
    page.get_by_role("button", name="Merge", exact=True).click()
    page.wait_for_url(f"{served.url}/contacts/{lucia.id}")
    browser.shot("merged-card")
    survivor = contacts.get(lucia.id)
    assert survivor.region == "Sevilla" and contacts.get(twin.id).deleted_at is not None
    page.get_by_role("link", name="Unmerge").click()
    page.wait_for_url(f"{served.url}/contacts/{twin.id}/unmerge")
    browser.shot("unmerge-confirm")
    page.get_by_role("button", name="Unmerge").click()
    page.wait_for_url(re.compile(r".*/contacts/\d+$"))
    browser.shot("unmerged")
    assert contacts.get(twin.id).deleted_at is None and contacts.get(lucia.id).region == "Madrid"


@WIDTHS
def test_approve_a_change_a_customer_sent(crm, served, desk, width):
    contacts = crm.plugin("contacts")
    lucia = contacts.create(first_name="Lucía", last_name="Martín", email="lucia@acme.example", owner="root")
    link = contacts.issue_update_link(lucia.id)
    assert contacts.submit_update(link.token, {"first_name": "Lucy", "phones": ["+34 600 222 333"]}).status == "pending"
    browser = desk(width)
    page = browser.page
    sign_in(browser, served, "root")
    page.wait_for_url(f"{served.url}/")
    page.goto(f"{served.url}/contacts/review")
    assert page.locator("ins", has_text="Lucy").first.is_visible()
    browser.shot("review-queue")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{served.url}/contacts/review")
    browser.shot("review-approved")
    assert contacts.get(lucia.id).first_name == "Lucy"
    page.goto(f"{served.url}/contacts/{lucia.id}")
    assert "Lucy" in page.locator("h1").inner_text() and "600222333" in re.sub(
        r"\D", "", page.locator("main").inner_text()
    )
    browser.shot("card-after-review")


@WIDTHS
def test_the_system_pages_and_a_failed_mail_retried(crm, served, desk, width):
    from crm_core.mail.models import MailMessage

    message = crm.mail.queue("lost@example.com", "Your invoice", "Hello", key="invoice-1")
    with crm.activate():
        MailMessage.update(status="failed", attempts=3, last_error="550 5.1.1 mailbox unavailable").where(
            MailMessage.id == message.id
        ).execute()
    browser = desk(width)
    page = browser.page
    sign_in(browser, served, "root")
    page.wait_for_url(f"{served.url}/")
    page.goto(f"{served.url}/admin/system")
    assert page.locator("h1").first.is_visible()
    browser.shot("admin-system")
    page.goto(f"{served.url}/admin/mail")
    assert "550 5.1.1 mailbox unavailable" in page.locator("main").inner_text()
    browser.shot("admin-mail-failed")
    page.get_by_role("button", name="Retry", exact=True).click()
    page.wait_for_url(f"{served.url}/admin/mail")
    assert f"Message {message.id} is queued again." in page.locator("body").inner_text()
    browser.shot("admin-mail-retried")
    assert crm.mail.get(message.id).status == "queued"


@WIDTHS
def test_search_as_you_type_and_enter_opens_the_first(crm, served, desk, width):
    contacts = crm.plugin("contacts")
    contacts.create(first_name="Lucía", last_name="Fernández", email="lucia@example.com", owner="ana")
    contacts.create(first_name="Luis", last_name="Fernán", email="luis@example.com", owner="ana")
    contacts.create(first_name="Marta", last_name="Ruiz", email="marta@example.com", owner="ana")
    browser = desk(width)
    page = browser.page
    sign_in(browser, served, "ana")
    page.wait_for_url(f"{served.url}/")
    page.locator("#desk-search").fill("Ruiz")
    page.locator("#desk-search").press("Enter")  # the box at the top opens the search page
    page.wait_for_url(re.compile(r".*/search\?q=Ruiz$"))
    assert page.locator("#search-results li").count() == 1
    browser.shot("search-page")
    box = page.locator("#search-query")
    box.fill("")
    box.press_sequentially("Ferná", delay=30)
    page.wait_for_function("() => document.querySelectorAll('#search-results li').length === 2")
    assert page.locator("#search-results h2").inner_text() == "Contacts"
    assert page.url.endswith("/search?q=Ruiz")  # swapped in, the page stayed
    browser.shot("search-as-you-type")
    first = page.locator("#search-results li a").first.inner_text()
    box.press("Enter")
    page.wait_for_url(re.compile(r".*/contacts/\d+$"))
    assert page.locator("h1").inner_text() == first
    browser.shot("search-opened-first")


def test_import_a_10000_row_file_through_the_wizard_and_watch_the_progress_bar_reach_the_end(
    crm_factory, browser, tmp_path
):
    """The import wizard, with the worker running in a thread as ``crm worker`` would: upload, map, dry run, import."""
    import threading
    import time

    from crm_desk import create_app

    crm = crm_factory(
        plugins=["desk", "contacts"],
        # batches of 1,000 rows: the progress moves ten times in a 10,000-row file
        settings={"desk": {"base_url": "https://crm.example.com/desk"}, "contacts": {"import_batch_size": 1000}},
        core={"secret": "desk-secret-for-the-import-flow-0123456789"},
        mail={"sender": "CRM <crm@example.com>"},
    )
    crm.authz.users.add("root", display_name="Root", email="root@example.com", roles=["admin"], password=PASSWORD)
    rows = ["first_name,last_name,email,city,Notes"]
    for n in range(10_000):
        email = f"person{n}@example.com" if n % 1000 else f"person{n}-at-example.com"  # ten bad e-mails
        rows.append(f"Name{n},Surname{n},{email},Madrid,note {n}")
    big = tmp_path / "people.csv"
    big.write_text("\n".join(rows) + "\n", encoding="utf-8")
    job = {j.name: j for _, j in crm.hooks.worker_jobs(crm)}["contacts.imports"]
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            job.run(crm, crm.clock.now())
            stop.wait(0.3)

    thread = threading.Thread(target=worker, name="import-worker", daemon=True)
    server = Served(create_app(crm), name="desk-import-server")
    folder = SCREENSHOTS / "import_wizard-1280"
    shutil.rmtree(folder, ignore_errors=True)
    shown = BrowserPage(browser, folder, width=LAPTOP, checks=(check_accessibility,))
    phone = BrowserPage(browser, SCREENSHOTS / "import_wizard-390", width=PHONE, checks=(check_accessibility,))
    try:
        page = shown.page
        sign_in(shown, server, "root")
        page.wait_for_url(f"{server.url}/")
        page.goto(f"{server.url}/contacts/")
        shown.shot("empty-contacts-offer-the-wizard")
        page.get_by_role("link", name="Import contacts from a file").click()
        page.set_input_files("#f-file", str(big))
        shown.shot("upload")
        page.get_by_role("button", name="Upload and check").click()
        page.wait_for_url(re.compile(r".*/contacts/import/files/\d+$"))
        assert page.locator("dl").first.inner_text().count("10,000") == 1
        assert page.locator("#f-map-3").input_value() == "address_1.city"
        page.select_option("#f-map-4", "-")  # the notes are not wanted
        shown.shot("layout-and-mapping")
        sign_in(phone, server, "root")
        phone.page.goto(page.url)
        phone.shot("layout-and-mapping-phone")
        page.get_by_role("button", name="Try it (dry run, writes nothing)").click()
        page.wait_for_url(re.compile(r".*/contacts/import/runs/\d+\?file=\d+$"))
        shown.shot("dry-run-waiting")
        thread.start()
        page.get_by_role("heading", name="What the dry run found").wait_for(timeout=120_000)
        assert "Contacts that would be created\n9,990" in page.locator("#counts").inner_text()
        assert page.locator("#problems tbody tr").count() == 10
        shown.shot("dry-run-report")
        page.get_by_role("button", name="Import this file now").click()
        page.wait_for_url(re.compile(r".*/contacts/import/runs/\d+$"))
        seen = []
        reloaded = False
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            bar = page.locator("#import-bar")
            if bar.count():
                value = bar.get_attribute("value")
                if value is not None and (not seen or seen[-1] != int(value)):
                    seen.append(int(value))
                    if 0 < seen[-1] < 10_000 and not reloaded:
                        shown.shot("import-progress")
                        page.reload()  # the progress is the database's: a reload shows it again
                        reloaded = True
            if page.get_by_role("heading", name="What was imported").count():
                # the last poll may have come before the end: the finished page's bar is the last value
                final = page.locator("#import-bar")
                if final.count() and final.get_attribute("value") not in (None, str(seen[-1] if seen else "")):
                    seen.append(int(final.get_attribute("value") or 0))
                break
            time.sleep(0.2)
        assert seen and seen[-1] == 10_000 and seen == sorted(seen), seen
        assert "10,000 of 10,000 rows (100 %)" in page.locator("#import-progress").inner_text()
        assert "Contacts created\n9,990" in page.locator("#counts").inner_text()
        shown.shot("import-done")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download every row to fix (CSV)").click()
        problems = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
        assert len(problems) == 11 and problems[0].startswith("import.line,import.field,import.problem,first_name")
        assert crm.plugin("contacts").search("person9999@example.com").total == 1
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(timeout=60)
        shown.close()
        phone.close()
        server.close()


@WIDTHS
def test_send_a_survey_to_a_list_and_type_in_a_paper_answer(crm_factory, browser, width):
    """The surveys pages: a survey as the recipient sees it, sent to a list, and a paper letter's answers typed in."""
    from crm_desk import create_app
    from crm_surveys.models import Invitation

    crm = crm_factory(
        plugins=["desk", "contacts", "surveys"],
        settings={"desk": {"base_url": "https://crm.example.com/desk"}, "surveys": {"secret": "survey-secret-0123"}},
        core={"secret": "desk-secret-for-the-survey-flow-0123456789"},
        mail={"sender": "CRM <crm@example.com>", "unsubscribe_mailto": "unsubscribe@example.com"},
    )
    crm.authz.users.add("root", display_name="Root", email="root@example.com", roles=["admin"], password=PASSWORD)
    crm.plugin("surveys").save(
        {
            "key": "service",
            "title": "How did we do?",
            "introduction": "Two minutes, please.",
            "questions": [
                {"key": "recommend", "kind": "nps", "text": "Would you recommend us?", "required": True},
                {"key": "satisfaction", "kind": "csat", "text": "How satisfied are you?"},
                {"key": "topics", "kind": "multiple_choice", "text": "What interests you?",
                 "choices": ["Products", "Offers", "Events"]},
                {"key": "why", "kind": "text", "text": "What should we do better?"},
            ],
        }
    )  # fmt: skip
    contacts = crm.plugin("contacts")
    contacts.create_list("customers")
    people = [
        contacts.create(first_name=n, last_name="Ruiz", email=f"{n.lower()}@example.com").id for n in ("Ana", "Luis")
    ]
    contacts.add_to_list("customers", people)
    server = Served(create_app(crm), name="desk-survey-server")
    folder = SCREENSHOTS / f"survey_send_and_paper-{width}"
    shutil.rmtree(folder, ignore_errors=True)
    shown = BrowserPage(browser, folder, width=width, checks=(check_accessibility,))
    try:
        page = shown.page
        sign_in(shown, server, "root")
        page.wait_for_url(f"{server.url}/")
        page.goto(f"{server.url}/surveys/")
        shown.shot("surveys")
        page.get_by_role("link", name="How did we do?").click()
        assert page.locator("#question-recommend input[type=radio]").count() == 11
        shown.shot("survey-as-the-recipient-sees-it")
        page.get_by_role("link", name="Send by e-mail").click()
        page.select_option("#f-source", "list:customers")
        page.get_by_role("button", name="Check whom it reaches").click()
        assert "It reaches 2 contacts." in page.locator("#check").inner_text()
        shown.shot("send-checked")
        page.get_by_role("button", name="Send to 2 contacts").click()
        page.wait_for_url(re.compile(r".*/surveys/\d+$"))
        assert "was sent to 2 contacts" in page.locator(".toasts").inner_text()
        shown.shot("sent")
        with crm.activate():
            invitation = Invitation.get(Invitation.contact_id == people[0])
        code = crm.plugin("surveys").paper_code(invitation.id)
        page.get_by_role("link", name="Type in paper answers").click()
        page.fill("#f-code", code)
        shown.shot("paper-code")
        page.get_by_role("button", name="Open the letter's questions").click()
        page.get_by_role("button", name="Save the answers").click()  # the required question left blank
        page.locator("#f-q-recommend-note").wait_for(state="visible")  # the answer is a new page: wait for it
        shown.shot("paper-missing-answer")
        page.locator("#f-q-recommend").get_by_label("9", exact=True).check()
        page.locator("#f-q-topics").get_by_label("Offers").check()
        page.fill("#f-q-why", "Nothing, thanks")
        page.get_by_role("button", name="Save the answers").click()
        page.wait_for_url(re.compile(r".*/surveys/paper$"))
        assert "The answers of Ana Ruiz were saved." in page.locator(".toasts").inner_text()
        shown.shot("paper-saved")
        [response] = crm.plugin("surveys").responses("service").items
        assert response.answers == {"recommend": 9, "topics": ["Offers"], "why": "Nothing, thanks"}
        page.goto(f"{server.url}/surveys/")
        page.get_by_role("link", name="How did we do?").click()
        page.get_by_role("link", name="Results").click()
        assert "NPS 100" in page.locator("#result-recommend").inner_text()
        assert "Nothing, thanks" in page.locator("#texts").inner_text()
        shown.shot("results")
        page.get_by_role("link", name="How did we do?").click()
        page.get_by_role("link", name="Answers", exact=True).click()
        assert "Ana Ruiz" in page.locator("table").inner_text()
        shown.shot("answers")
    finally:
        shown.close()
        server.close()
