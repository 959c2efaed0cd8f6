"""The reports over HTTP: run by name as JSON, CSV and charts, custom definitions, schedules, and bad inputs."""

from __future__ import annotations

import csv
import io

import pytest

pytest.importorskip("crm_api")

FROM, TO = "2025-01-01", "2025-12-31"
SCHEDULE = {
    "name": "quarterly",
    "report": "closed-share",
    "rule": "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1;BYHOUR=8;BYMINUTE=0;BYSECOND=0",
    "range": "previous-quarter",
    "to": ["ceo@example.com"],
}
DEALS = {
    "name": "deals",
    "title": "Deals",
    "view": "sales",
    "period": {"field": "created_on", "grain": "year"},
    "measures": [{"name": "deals", "agg": "count"}],
}


@pytest.fixture
def office(analytics_app, crm_clock, crm_user, fill):
    from crm_api import create_app

    crm = analytics_app(plugins=["api"], settings={"analytics": {"schedules": [SCHEDULE]}})
    crm.ids = fill(crm, crm_clock)
    crm_user(crm, name="ana", roles=["sales"])
    crm_user(crm, name="boss", roles=["manager"])
    crm.authz.roles.add("reporter", permissions=["analytics.reports.run"])
    crm_user(crm, name="rita", roles=["reporter"])
    tokens = {name: crm.authz.tokens.create(name, "bi").text for name in ("ana", "boss", "rita")}
    scopes = ["analytics.reports.run", "warehouse.sales.read"]
    tokens["boss-run"] = crm.authz.tokens.create("boss", "run only", scopes=scopes).text
    client = create_app(crm).test_client()

    def call(method, path, user="boss", **kwargs):
        return client.open(path, method=method, headers={"Authorization": f"Bearer {tokens[user]}"}, **kwargs)

    call.crm = crm
    return call


def test_the_reports_are_listed_and_run_as_json(office):
    listed = office("GET", "/api/v1/reports")
    assert listed.status_code == 200, listed.json
    names = [r["name"] for r in listed.json["data"]]
    assert names[:7] == ["closed-share", "sales", "pipeline", "surveys", "customers", "staff", "forecast"]
    ran = office("GET", f"/api/v1/reports/sales?from={FROM}&to={TO}&period=quarter&by=region,owner")
    assert ran.status_code == 200, ran.json
    body = ran.json
    expected = office.crm.plugin("analytics").sales(FROM, TO, period="quarter", by=["region", "owner"])
    assert body["name"] == "sales" and body["title"] == expected.title
    assert body["columns"] == list(expected.columns) and len(body["rows"]) == len(expected.rows) > 0
    assert body["start"] == FROM and body["end"] == TO and body["period"] == "quarter"
    assert body["periods"] == list(expected.periods) and body["chart"]["x"] == "period"
    assert set(body) >= {"notes", "empty_message", "extra"}
    # the forecast carries its history as an extra table
    forecast = office("GET", "/api/v1/reports/forecast?quarters=2")
    assert forecast.status_code == 200, forecast.json
    assert forecast.json["extra"]["history"]["columns"] and forecast.json["name"] == "forecast"


def test_a_sellers_report_covers_only_their_records(office):
    from crm_api.web import to_api_json

    path = f"/api/v1/reports/closed-share?from={FROM}&to={TO}&period=all"
    theirs, everyone = office("GET", path, user="ana").json, office("GET", path).json
    with office.crm.as_user("ana"):
        expected = office.crm.plugin("analytics").closed_share(FROM, TO, period="all")
    assert theirs["rows"] == to_api_json(list(expected.rows)) and theirs["rows"]
    assert theirs["rows"] != everyone["rows"]


def test_a_report_as_csv_and_as_a_chart(office):
    got = office("GET", f"/api/v1/reports/sales/csv?from={FROM}&to={TO}")
    assert got.status_code == 200, got.data
    assert got.headers["Content-Type"].startswith("text/csv")
    assert f"sales-{FROM}-{TO}.csv" in got.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(got.data.decode())))
    assert rows[0][:2] == ["period", "region"] and len(rows) > 1
    svg = office("GET", f"/api/v1/reports/sales/chart?from={FROM}&to={TO}&format=svg")
    assert svg.status_code == 200 and svg.headers["Content-Type"].startswith("image/svg+xml") and b"<svg" in svg.data
    png = office("GET", f"/api/v1/reports/sales/chart?from={FROM}&to={TO}")
    assert png.headers["Content-Type"] == "image/png" and png.data.startswith(b"\x89PNG")
    # exporting needs analytics.reports.export, which this token's scopes leave out
    assert office("GET", f"/api/v1/reports/sales?from={FROM}&to={TO}", user="boss-run").status_code == 200
    denied = office("GET", f"/api/v1/reports/sales/csv?from={FROM}&to={TO}", user="boss-run")
    assert denied.status_code == 403 and "analytics.reports.export" in denied.json["detail"]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/v1/reports/annual-revenue", 404, "there is no report 'annual-revenue'"),
        ("/api/v1/reports/sales?from=2025-13-01", 400, "is not a date (YYYY-MM-DD)"),
        ("/api/v1/reports/sales?from=2025-06-01&to=2025-01-01", 422, "2025-06-01"),
        ("/api/v1/reports/sales?member=ana", 422, "report 'sales' takes no option member"),
        ("/api/v1/reports/sales?by=planet", 422, "'planet' is not one of"),
        ("/api/v1/reports/sales?colour=red", 400, "unknown query parameter(s) colour"),
        ("/api/v1/reports/forecast?from=2025-01-01", 422, "the forecast looks ahead"),
        ("/api/v1/reports/sales/chart?format=gif", 400, "is not one of png, svg"),
    ],
)
def test_bad_report_requests_are_refused_clearly(office, path, status, message):
    got = office("GET", path)
    assert got.status_code == status, got.json
    assert got.headers["Content-Type"] == "application/problem+json"
    assert message in got.json["detail"]


def test_a_custom_definition_is_run_saved_and_removed(office):
    ran = office("POST", "/api/v1/reports/run", json={"definition": DEALS, "start": FROM, "end": TO})
    assert ran.status_code == 200, ran.json["detail"]
    assert ran.json["columns"] == ["period", "deals"] and ran.json["rows"][0]["deals"] > 0
    bad = office("POST", "/api/v1/reports/run", json={"definition": {**DEALS, "view": "planets"}})
    assert bad.status_code == 422 and "planets" in bad.json["detail"]
    unknown = office("POST", "/api/v1/reports/run", json={"definition": DEALS, "colour": "red"})
    assert unknown.status_code == 422 and "colour" in unknown.json["detail"]
    saved = office("POST", "/api/v1/reports", json={"definition": DEALS})
    assert saved.status_code == 201, saved.json
    assert saved.json == {"name": "deals", "title": "Deals", "saved_by": "boss"}
    again = office("POST", "/api/v1/reports", json={"definition": DEALS})
    assert again.status_code == 422 and "replace" in again.json["detail"]
    replaced = office("POST", "/api/v1/reports", json={"definition": {**DEALS, "title": "All deals"}, "replace": True})
    assert replaced.status_code == 201 and replaced.json["title"] == "All deals"
    assert "deals" in [r["name"] for r in office("GET", "/api/v1/reports").json["data"]]
    by_name = office("GET", f"/api/v1/reports/deals?from={FROM}&to={TO}")
    assert by_name.status_code == 200 and by_name.json["rows"] == ran.json["rows"]
    assert office("GET", "/api/v1/reports/deals?by=region").status_code == 422  # a custom report takes no options
    # the saved text is TOML the CLI reads back
    assert office.crm.plugin("analytics").definitions()["deals"].title == "All deals"
    assert office("DELETE", "/api/v1/reports/deals").status_code == 204
    assert office("DELETE", "/api/v1/reports/deals").status_code == 404
    null = office("POST", "/api/v1/reports", json={"definition": {**DEALS, "description": None}})
    assert null.status_code == 422 and "description" in null.json["detail"]


def test_a_token_without_the_permission_is_refused(office):
    assert office("GET", "/api/v1/reports", user="boss-run").status_code == 200
    saved = office("POST", "/api/v1/reports", user="boss-run", json={"definition": DEALS})
    assert saved.status_code == 403 and "analytics.reports.create" in saved.json["detail"]
    assert office("GET", "/api/v1/report-schedules", user="boss-run").status_code == 403
    assert office("POST", "/api/v1/report-schedules/quarterly/send", user="rita").status_code == 403


def test_schedules_are_listed_and_sent_now(office):
    listed = office("GET", "/api/v1/report-schedules")
    assert listed.status_code == 200, listed.json
    assert [s["name"] for s in listed.json["data"]] == ["quarterly"]
    assert listed.json["data"][0]["report"] == "closed-share" and listed.json["data"][0]["to"] == "ceo@example.com"
    sent = office("POST", "/api/v1/report-schedules/quarterly/send")
    assert sent.status_code == 200, sent.json
    assert sent.json["schedule"] == "quarterly" and sent.json["status"] == "queued"
    assert len(office.crm.mail.list(limit=10)) == 1
    assert office("POST", "/api/v1/report-schedules/weekly/send").status_code == 404
