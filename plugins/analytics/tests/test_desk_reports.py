"""The analytics pages of the staff web app (crm-desk): the reports list, a report, downloads, the forecast, schedules.

The data set is conftest's (Europe/Madrid): sales won s1 (EUR 1,000 in
2025-Q1) and s3 (EUR 2,000 in 2025-Q2) on ana's contact A, s5 (GBP 800 in
2025-Q2) on luis's contact B; a record belongs to its contact's owner.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crm_core.testing import statements

pytest.importorskip("crm_desk")

from crm_desk.testing import DeskClient, check_catalogs  # noqa: E402

PASSWORD = "Correct-horse-42!"
SECRET = "analytics-desk-secret-0123456789-0123456789"
FROM, TO = "2025-01-01", "2025-06-30"


@pytest.fixture
def office(analytics_app: Callable[..., Any], crm_clock: Any, fill: Callable[..., Any]) -> Any:
    """The fixed data set (conftest) with the desk; users of each built-in role."""
    crm = analytics_app(
        plugins=["desk"], core={"secret": SECRET}, settings={"desk": {"base_url": "https://crm.example.com"}}
    )
    crm.ids = fill(crm, crm_clock)
    for name, role in (
        ("ana", "sales"),
        ("luis", "sales"),
        ("marta", "manager"),
        ("sam", "support"),
        ("rita", "read-only"),
    ):
        crm.authz.users.add(
            name, roles=[role], password=PASSWORD, email=f"{name}@example.com", timezone="Europe/Madrid"
        )
    return crm


def desk_as(crm: Any, name: str) -> DeskClient:
    desk = DeskClient(crm)
    assert desk.sign_in(name, PASSWORD).status_code == 302
    return desk


def error_of(html: str, field: str) -> str:
    """The error shown beside a field of the page ('' when there is none)."""
    import re

    found = re.search(rf'<p class="error" id="f-{field}-note">(.*?)</p>', html, re.S)
    return found.group(1) if found else ""


SALES = f"/reports/view/sales?run=1&by=region&from={FROM}&to={TO}"


def test_the_nav_entry_and_the_list(office: Any) -> None:
    desk = desk_as(office, "ana")
    home = desk.get("/").get_data(as_text=True)
    assert 'href="/reports/"' in home and ">Reports<" in home
    assert desk.get("/reports/").status_code == 200
    for name in ("closed-share", "sales", "pipeline", "surveys", "customers", "staff"):
        assert f'href="/reports/view/{name}"' in desk.text
    assert 'href="/reports/forecast"' in desk.text and 'href="/reports/new"' in desk.text
    assert "No custom reports yet" in desk.text


def test_a_user_without_reports_has_no_entry_and_is_refused(office: Any) -> None:
    office.authz.users.add("nadie", password=PASSWORD)
    desk = desk_as(office, "nadie")
    assert 'href="/reports/"' not in desk.get("/").get_data(as_text=True)
    assert desk.get("/reports/").status_code == 403
    assert desk.get(SALES).status_code == 403
    assert desk.get("/reports/forecast").status_code == 403


def test_sales_by_region_in_the_users_locale_and_a_sellers_scope(office: Any) -> None:
    manager = desk_as(office, "marta")
    html = manager.get(SALES).get_data(as_text=True)
    assert manager.page.status_code == 200
    assert "€1,000.00" in html and "€2,000.00" in html and "£800.00" in html
    assert '<th scope="col">Region</th>' in html and 'data-label="Region">north<' in html
    assert html.index("2025-Q1") < html.index("2025-Q2")  # periods in order
    ana = desk_as(office, "ana")
    mine = ana.get(SALES).get_data(as_text=True)
    assert "€1,000.00" in mine and "€2,000.00" in mine and "£800.00" not in mine  # luis's sale is not hers
    luis = desk_as(office, "luis")
    his = luis.get(SALES).get_data(as_text=True)
    assert "£800.00" in his and "€1,000.00" not in his
    # the CSV and the chart count the same records as the page
    rows = list(
        csv.DictReader(io.StringIO(ana.get(SALES.replace("/view/sales?", "/view/sales/csv?")).get_data(as_text=True)))
    )
    assert {r["currency"] for r in rows} == {"EUR"} and sum(int(r["sales"]) for r in rows) == 2


def test_spanish_numbers_and_dates(office: Any) -> None:
    desk = desk_as(office, "marta")
    desk.get("/")
    desk.post("/language", {"language": "es", "next": "/reports/"})
    html = desk.get(SALES).get_data(as_text=True)
    assert "Ventas por región" in html and "Región" in html
    assert "1.000,00\xa0€" in html and "800,00\xa0GBP" in html
    assert "1 ene 2025" in html  # the range under the chart
    assert "100,0\xa0%" in html or "100,0%" in html


def test_the_notes_the_cells_and_the_charts_speak_spanish(office: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from crm_analytics.result import Note

    analytics = office.plugin("analytics")
    drawn: list[Any] = []
    draw = analytics.draw_chart
    monkeypatch.setattr(analytics, "draw_chart", lambda chart, fmt="svg": drawn.append(chart) or draw(chart, fmt))
    desk = desk_as(office, "marta")
    english = desk.get(f"/reports/view/sales?run=1&from={FROM}&to=2025-05-15").get_data(as_text=True)
    # the page says dates its way, in English too
    assert "partial period(s), cut to the range: 2025-Q2 (Apr 1, 2025 to May 15, 2025)" in english
    desk.post("/language", {"language": "es", "next": "/reports/"})
    page = desk.get(f"/reports/view/sales?run=1&from={FROM}&to=2025-05-15").get_data(as_text=True)
    # the note in Spanish, its dates in the Spanish way; the table's caption is the page's title
    assert "periodo(s) parcial(es), recortado(s) al intervalo: 2025-Q2 (del 1 abr 2025 al 15 may 2025)" in page
    assert "partial period" not in page and "<caption>Ventas por región</caption>" in page
    assert "Gráfico de Ventas por región" in page
    desk.get(f"/reports/view/sales/chart.svg?run=1&from={FROM}&to=2025-05-15")
    [chart] = drawn
    assert chart.title == "Ventas por región (1 ene 2025 – 15 may 2025)"
    assert (chart.x_label, chart.y_label) == ("Periodo", "Importe")
    pipeline = desk.get(f"/reports/view/pipeline?run=1&from={FROM}&to={TO}").get_data(as_text=True)
    assert "el valor abierto es el de hoy" in pipeline and "open value" not in pipeline
    drawn.clear()
    desk.get(f"/reports/view/pipeline/chart.svg?run=1&from={FROM}&to={TO}")
    assert drawn[0].labels[:2] == ("Nueva", "Cualificada") and drawn[0].x_label == "Etapa"  # the stages, named
    assert '<td data-label="Etapa">Negociación</td>' in pipeline or '<td data-label="Etapa">Nueva</td>' in pipeline
    empty = desk.get("/reports/view/staff?run=1&from=2020-01-01&to=2020-03-31").get_data(as_text=True)
    assert "sin datos: no hubo llamadas, reuniones, notas, correos ni tareas completadas entre el 1 ene 2020" in empty
    forecast = desk.get("/reports/forecast").get_data(as_text=True)
    assert "trimestre(s) de historia" in forecast or "ajustado con" in forecast
    # the report itself stays English for the command line, the API and the mail of a schedule
    report = analytics.run("staff", "2020-01-01", "2020-03-31")
    assert isinstance(report.empty_message, Note)
    assert (
        report.empty_message
        == "no data: no calls, meetings, notes, e-mails or completed tasks between 2020-01-01 and 2020-03-31"
    )


def test_bad_pickers_stand_beside_their_field(office: Any) -> None:
    desk = desk_as(office, "marta")
    assert desk.get("/reports/view/sales?run=1&from=2025-13-01").status_code == 400
    assert "YYYY-MM-DD" in error_of(desk.text, "from") and 'aria-invalid="true"' in desk.text
    assert 'value="2025-13-01"' in desk.text  # what was typed is kept
    assert desk.get("/reports/view/sales?run=1&from=2025-06-01&to=2025-01-01").status_code == 400
    assert "ends before it starts" in error_of(desk.text, "to")
    assert desk.get("/reports/view/sales?run=1&currency=EURO").status_code == 400
    assert "three-letter" in error_of(desk.text, "currency")
    assert desk.get("/reports/view/customers?run=1&by=owner").status_code == 400
    assert 'class="field checks has-error"' in desk.text
    assert desk.get("/reports/view/surveys?run=1&survey=abc").status_code == 400
    assert "survey" in error_of(desk.text, "survey")
    assert desk.get("/reports/view/no-such-report").status_code == 404
    # a bad picker on a download answers the page with the error, not a file
    assert desk.get("/reports/view/sales/csv?run=1&currency=EURO").status_code == 400


def test_every_standard_report_page_and_its_downloads(office: Any) -> None:
    desk = desk_as(office, "marta")
    for name in ("closed-share", "sales", "pipeline", "surveys", "customers", "staff"):
        url = f"/reports/view/{name}?run=1&from={FROM}&to={TO}"
        assert desk.get(url).status_code == 200, name
        assert '<table class="table">' in desk.text, name
        assert f'src="/reports/view/{name}/chart.svg?' in desk.text, name
    png = desk.get(f"/reports/view/sales/chart.png?run=1&from={FROM}&to={TO}&download=1")
    assert (
        png.status_code == 200
        and png.data.startswith(b"\x89PNG")
        and "attachment" in png.headers["Content-Disposition"]
    )
    svg = desk.get(f"/reports/view/sales/chart.svg?run=1&from={FROM}&to={TO}")
    assert svg.headers["Content-Type"] == "image/svg+xml" and b"<svg" in svg.data
    assert (
        "script-src" not in svg.headers["Content-Security-Policy"]
        and "default-src 'none'" in svg.headers["Content-Security-Policy"]
    )
    assert desk.get("/reports/view/sales/chart.gif").status_code == 404


def test_read_only_runs_reports_but_may_not_export(office: Any) -> None:
    desk = desk_as(office, "rita")
    assert desk.get(SALES).status_code == 200
    assert "chart.svg" not in desk.text and "Download CSV" not in desk.text
    assert "permission to export" in desk.text
    assert desk.get(SALES.replace("/view/sales?", "/view/sales/csv?")).status_code == 403
    assert desk.get(SALES.replace("/view/sales?", "/view/sales/chart.png?")).status_code == 403


def test_a_report_pages_statements_do_not_grow_with_its_sales(office: Any, crm_clock: Any) -> None:
    import datetime as dt

    desk = desk_as(office, "ana")

    def count() -> int:
        with statements(office) as sql:
            assert desk.get(SALES).status_code == 200
        return len(sql)

    few = count()
    sales = office.plugin("warehouse").sales
    for day in range(1, 21):
        crm_clock.set(dt.datetime(2025, 4, day, 9, tzinfo=dt.UTC))
        record = sales.add("sale", office.ids["A"], amount="10", currency="EUR", region=f"r{day}")
        sales.close(record.id, won=True)
    crm_clock.set(dt.datetime(2025, 7, 15, 9, tzinfo=dt.UTC))
    desk = desk_as(office, "ana")
    count()  # the new session's first page
    many = count()
    assert "r20" in desk.text
    assert many == few, f"{few} statements with 3 sales won, {many} with 23 in 20 regions"


#: statements per report page: the session's 5 (session, user and teams, read twice), the summaries' state, then the
#: report's own: one query per summary read, or the reporting tables' queries where a summary cannot serve the user
PAGE_STATEMENTS = {
    # (one fewer each since the desk reads the signed-in user once: crm.authz.as_session)
    "marta": {"closed-share": 4, "sales": 4, "pipeline": 5, "surveys": 6, "customers": 4, "staff": 4},
    # a seller: sales by region, surveys, customers, the pipeline's moves and staff activity read the reporting
    # tables (their summaries keep no owner); the share won and the open value read the owner's summary rows
    "ana": {"closed-share": 4, "sales": 4, "pipeline": 6, "surveys": 6, "customers": 6, "staff": 4},
}


@pytest.mark.parametrize("user", sorted(PAGE_STATEMENTS))
def test_every_report_page_runs_a_fixed_number_of_statements_however_much_data(
    office: Any, crm_clock: Any, user: str
) -> None:
    import datetime as dt

    from crm_hookspecs.events import SurveyAnswered, SurveySent, TaskCompleted

    desk = desk_as(office, user)

    def counts() -> dict[str, int]:
        out = {}
        for name in PAGE_STATEMENTS[user]:
            url = f"/reports/view/{name}?from={FROM}&to={TO}"
            desk.get(url)  # the first page of a session reads its user once more
            with statements(office) as sql:
                assert desk.get(url).status_code == 200, name
            out[name] = len(sql)
        return out

    assert counts() == PAGE_STATEMENTS[user]
    contacts, sales = office.plugin("contacts"), office.plugin("warehouse").sales
    for day in range(1, 29):
        crm_clock.set(dt.datetime(2025, 2, day, 9, tzinfo=dt.UTC))
        contact = contacts.create(first_name=f"N{day}", region=f"r{day}", status="customer", owner="ana").id
        record = sales.add("sale", contact, amount="10", currency=("EUR", "GBP")[day % 2], region=f"r{day}")
        sales.move(record.id, "qualified")
        sales.close(record.id, won=day % 3 > 0)
        office.plugin("warehouse").actions.log("call", contact_id=contact, subject="Hello", author=f"staff{day}")
        with office.transaction():
            office.emit(SurveySent(survey_id=7, version=1, contact_id=contact))
            office.emit(
                SurveyAnswered(
                    survey_id=7,
                    version=1,
                    contact_id=contact,
                    response_id=100 + day,
                    region=f"r{day}",
                    scores={"recommend": day % 11, "satisfaction": 1 + day % 5},
                )
            )
            office.emit(TaskCompleted(task_id=day, kind="call", assignee=f"staff{day}"))  # fmt: skip
    crm_clock.set(dt.datetime(2025, 7, 15, 9, tzinfo=dt.UTC))
    assert counts() == PAGE_STATEMENTS[user]
    assert "r28" in desk.get(f"/reports/view/customers?from={FROM}&to={TO}").get_data(as_text=True)


def test_the_forecast_shows_its_method_and_its_error(office: Any) -> None:
    desk = desk_as(office, "marta")
    assert desk.get("/reports/forecast").status_code == 200
    assert "Method and its error on the held-out quarters" in desk.text
    assert "Error (MAPE)" in desk.text and "Weighted pipeline" in desk.text
    assert "Sales won per past quarter" in desk.text
    assert desk.get("/reports/forecast?quarters=40").status_code == 400
    assert "from 1 to 12" in error_of(desk.text, "quarters")
    assert desk.get("/reports/view/forecast").status_code == 303
    assert desk.get("/reports/view/forecast/csv?quarters=2").status_code == 200
    assert desk.page.data.startswith(b"quarter,currency")


def test_scheduled_reports_list_and_send_now(analytics_app: Callable[..., Any], crm_clock: Any, fill: Any) -> None:
    schedule = {
        "name": "weekly",
        "report": "sales",
        "rule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=8;BYMINUTE=0;BYSECOND=0",
        "range": "previous-quarter",
        "to": ["boss@example.com", "cfo@example.com"],
    }
    crm = analytics_app(
        plugins=["desk"],
        core={"secret": SECRET},
        mail={"sender": "CRM <crm@example.com>"},
        settings={"desk": {"base_url": "https://crm.example.com"}, "analytics": {"schedules": [schedule]}},
    )
    crm.ids = fill(crm, crm_clock)
    crm.authz.users.add("marta", roles=["manager"], password=PASSWORD)
    crm.authz.users.add("ana", roles=["sales"], password=PASSWORD)
    manager = desk_as(crm, "marta")
    assert manager.get("/reports/schedules").status_code == 200
    assert "boss@example.com, cfo@example.com" in manager.text and "Send now" in manager.text
    assert manager.post("/reports/schedules/weekly/send", csrf=False).status_code == 403
    sent = manager.post("/reports/schedules/weekly/send")
    assert sent.status_code == 303
    assert "Sent: sales" in manager.get("/reports/schedules").get_data(as_text=True)
    assert "rows)" in manager.text  # the last delivery
    seller = desk_as(crm, "ana")
    assert seller.get("/reports/schedules").status_code == 200 and "Send now" not in seller.text
    assert seller.post("/reports/schedules/weekly/send").status_code == 403
    assert manager.post("/reports/schedules/nothing/send").status_code == 404


ROLE_PAGES = {
    "/reports/": "analytics.reports.run",
    f"/reports/view/sales?run=1&from={FROM}&to={TO}": "analytics.reports.run",
    f"/reports/view/sales/csv?run=1&from={FROM}&to={TO}": "analytics.reports.export",
    f"/reports/view/sales/chart.png?run=1&from={FROM}&to={TO}": "analytics.reports.export",
    "/reports/forecast": "analytics.reports.run",
    "/reports/new": "analytics.reports.create",
    "/reports/schedules": "analytics.schedules.read",
}


@pytest.mark.parametrize("role", ["admin", "manager", "sales", "support", "read-only"])
def test_every_page_answers_200_exactly_when_the_role_holds_its_permission(office: Any, role: str) -> None:
    if role == "admin":
        office.authz.users.add("root", roles=["admin"], password=PASSWORD)
    # a user of the role who sees some records (the sales user owns some: her chart has something to draw)
    name = {"admin": "root", "manager": "marta", "sales": "ana", "support": "sam", "read-only": "rita"}[role]
    desk = desk_as(office, name)
    for url, permission in ROLE_PAGES.items():
        with office.as_user(name):
            allowed = office.authz.can(permission)
        status = desk.get(url).status_code
        assert status == (200 if allowed else 403), f"{role} ({name}) on {url}: {status}"


# -- the custom report builder ----------------------------------------------------------------

GOOD = {
    "name": "won-by-country",
    "title": "Won by the contact's country",
    "view": "sales",
    "dimensions": "contact.country",
    "period_field": "closed_on",
    "grain": "quarter",
    "m1_agg": "count",
    "m1_name": "deals",
    "m2_agg": "sum",
    "m2_field": "amount",
    "m2_name": "revenue",
    "f1_field": "outcome",
    "f1_op": "=",
    "f1_value": "won",
    "sort": "-revenue",
    "limit": "20",
    "action": "save",
}


def test_build_save_and_run_a_custom_report(office: Any) -> None:
    desk = desk_as(office, "ana")
    assert desk.get("/reports/new").status_code == 200
    assert 'value="contact.country"' in desk.text and 'hx-post="/reports/new/check"' in desk.text
    answer = desk.post("/reports/new", GOOD)
    assert answer.status_code == 303, desk.text
    assert answer.headers["Location"] == "/reports/view/won-by-country"
    analytics = office.plugin("analytics")
    # the same TOML the CLI takes: it parses and validates as a report file
    source = analytics.source("won-by-country")
    assert '"view" = "sales"' in source and '"sort" = ["-revenue"]' in source
    assert analytics.check(__import__("tomllib").loads(source)).name == "won-by-country"
    assert analytics.saved()[0]["saved_by"] == "ana"
    page = desk.get(f"/reports/view/won-by-country?run=1&from={FROM}&to={TO}").get_data(as_text=True)
    assert desk.page.status_code == 200 and 'data-label="contact_country">ES<' in page
    assert 'data-label="revenue">3,000<' in page or 'data-label="revenue">1,000<' in page
    assert "Report saved: Won by the contact&#39;s country" in page
    listed = desk.get("/reports/").get_data(as_text=True)
    assert 'href="/reports/view/won-by-country"' in listed and 'action="/reports/view/won-by-country/remove"' in listed
    csv_text = desk.get(f"/reports/view/won-by-country/csv?run=1&from={FROM}&to={TO}").get_data(as_text=True)
    assert csv_text.startswith("period,contact_country,deals,revenue")


def test_the_builder_checks_as_you_go_beside_the_field(office: Any) -> None:
    desk = desk_as(office, "ana")
    desk.get("/reports/new")
    token = desk.csrf()
    bad = {**GOOD, "m2_field": "region"}  # the sum of a text field
    fragment = desk.client.post("/reports/new/check", data=bad, headers={"HX-Request": "true", "X-CSRF-Token": token})
    html = fragment.get_data(as_text=True)
    assert (
        fragment.status_code == 200
        and html.lstrip().startswith('<form method="post" id="builder"')
        and "<html" not in html
    )
    assert "sum and avg need a number field" in error_of(html, "m2_agg")
    assert "&#34;name&#34; = &#34;won-by-country&#34;" in html  # the TOML so far
    # a field of another view, and a filter value that is no number
    wrong = {**GOOD, "dimensions": "question"}
    html = desk.client.post("/reports/new/check", data=wrong, headers={"X-CSRF-Token": token}).get_data(as_text=True)
    assert "does not exist in view" in error_of(html, "dimensions").replace("&#39;", "'")
    numbers = {**GOOD, "f1_field": "amount", "f1_op": ">", "f1_value": "lots"}
    html = desk.client.post("/reports/new/check", data=numbers, headers={"X-CSRF-Token": token}).get_data(as_text=True)
    assert "holds numbers" in error_of(html, "f1_field")
    # the view changed: its fields are offered
    survey = {**GOOD, "view": "survey_answers"}
    html = desk.client.post("/reports/new/check", data=survey, headers={"X-CSRF-Token": token}).get_data(as_text=True)
    assert 'value="question"' in html and 'value="product_line"' not in html
    # sent without JavaScript: the page again, 400, what was typed kept
    assert desk.post("/reports/new", {**GOOD, "name": "Bad Name!"}).status_code == 400
    assert "lower-case" in error_of(desk.text, "name") and 'value="Bad Name!"' in desk.text
    assert desk.post("/reports/new", {**GOOD, "limit": "many"}).status_code == 400
    assert "whole number" in error_of(desk.text, "limit")
    assert office.plugin("analytics").saved() == []


def test_preview_runs_without_saving(office: Any) -> None:
    desk = desk_as(office, "marta")
    desk.get("/reports/new")
    assert desk.post("/reports/new", {**GOOD, "action": "preview"}).status_code == 200
    assert "Preview" in desk.text and 'data-label="deals"' in desk.text
    assert office.plugin("analytics").saved() == []


def test_a_name_taken_is_refused_beside_the_name(office: Any) -> None:
    desk = desk_as(office, "ana")
    desk.get("/reports/new")
    assert desk.post("/reports/new", GOOD).status_code == 303
    desk.get("/reports/new")
    assert desk.post("/reports/new", GOOD).status_code == 400
    assert "saved already" in error_of(desk.text, "name")


def test_builder_permissions_and_csrf(office: Any) -> None:
    reader = desk_as(office, "rita")
    assert reader.get("/reports/new").status_code == 403
    assert reader.post("/reports/new", GOOD).status_code == 403
    assert "New custom report" not in reader.get("/reports/").get_data(as_text=True)
    desk = desk_as(office, "ana")
    desk.get("/reports/new")
    assert desk.post("/reports/new", GOOD, csrf=False).status_code == 403
    assert desk.client.post("/reports/new/check", data=GOOD).status_code == 403
    assert office.plugin("analytics").saved() == []


def test_edit_and_remove_only_ones_own_reports(office: Any) -> None:
    ana = desk_as(office, "ana")
    ana.get("/reports/new")
    assert ana.post("/reports/new", GOOD).status_code == 303
    luis = desk_as(office, "luis")
    listed = luis.get("/reports/").get_data(as_text=True)
    assert 'href="/reports/view/won-by-country"' in listed and "/remove" not in listed  # he may run it, not change it
    assert luis.get("/reports/view/won-by-country/edit").status_code == 404
    assert luis.post("/reports/view/won-by-country/remove").status_code == 404
    assert ana.get("/reports/view/won-by-country/edit").status_code == 200
    assert 'value="revenue"' in ana.text and "<code>won-by-country</code>" in ana.text
    changed = {**GOOD, "title": "Revenue by country", "name": "ignored"}
    assert ana.post("/reports/view/won-by-country/edit", changed).status_code == 303
    assert office.plugin("analytics").saved()[0]["title"] == "Revenue by country"
    ana.get("/reports/")
    assert ana.post("/reports/view/won-by-country/remove", csrf=False).status_code == 403
    assert ana.post("/reports/view/won-by-country/remove").status_code == 303
    assert office.plugin("analytics").saved() == []


def test_the_list_of_custom_reports_costs_the_same_for_many(office: Any) -> None:
    desk = desk_as(office, "ana")
    analytics = office.plugin("analytics")

    def save(n: int) -> None:
        with office.as_user("ana"):
            analytics.save_definition({"name": f"r{n}", "view": "sales", "measures": [{"agg": "count"}]})

    def count() -> int:
        with statements(office) as sql:
            assert desk.get("/reports/").status_code == 200
        return len(sql)

    save(0)
    count()
    few = count()
    for n in range(1, 15):
        save(n)
    many = count()
    assert desk.text.count("/remove") == 15
    assert many == few, f"{few} statements for 1 saved report, {many} for 15"


# -- the Spanish catalog ------------------------------------------------------------------------

PLUGIN = Path(__file__).resolve().parents[1]


def test_every_desk_page_string_is_in_the_spanish_catalog_and_compiled() -> None:
    check_catalogs(PLUGIN, PLUGIN / "crm_analytics" / "desk" / "translations")
