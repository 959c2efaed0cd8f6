"""The forecast, charts, scheduled reports by e-mail, the CLI, and bad input at the edges."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal

import pytest

from crm_core.errors import ValidationError

UTC = dt.UTC
FROM, TO = "2025-01-01", "2025-06-30"


# -- Holt-Winters ----------------------------------------------------------------


@pytest.mark.sqlite_only
def test_holt_winters_follows_trend_and_season():
    from crm_analytics.holtwinters import choose, fit, mape

    season = [10.0, -5.0, 0.0, -5.0]
    series = [100 + 4 * t + season[t % 4] for t in range(16)]
    model = fit(series, 4)
    assert model.method == "holt-winters"
    expected = [100 + 4 * t + season[t % 4] for t in range(16, 20)]
    assert all(math.isclose(a, b, rel_tol=0.03) for a, b in zip(model.forecast(4), expected))
    method, error = choose(series, 4, 4)
    assert method == "holt-winters" and error < 3
    assert fit([5.0, 7.0, 9.0, 11.0], 4).method == "holt"
    assert mape([100, 0, 50], [110, 3, 40]) == pytest.approx(15.0)


def _history(crm, quarters):
    """Won sales facts written straight into the warehouse's reporting table: one per quarter."""
    from crm_core.storage import bulk_insert

    rows = []
    for i, (day, amount) in enumerate(quarters, start=1):
        rows.append(
            (
                1000 + i,
                "sale",
                1,
                "north",
                "ana",
                str(amount),
                "EUR",
                "won",
                1.0,
                "won",
                True,
                day,
                "2000-Q1",
                day,
                "2000-Q1",
                dt.datetime(2020, 1, 1),
            )
        )
    with crm.transaction():
        bulk_insert("warehouse_sales_fact", ["sale_id", "kind", "contact_id", "region", "owner", "amount", "currency", "stage", "probability",
                                            "outcome", "won", "created_on", "created_quarter", "closed_on", "closed_quarter", "updated_at"], rows)  # fmt: skip


def test_forecast_from_pipeline_and_history(data_set, crm_clock):
    # 12 quarters of won sales with a trend and a season, 2022-Q3 to 2025-Q2, besides the data set
    season = [300, -100, 0, -200]
    quarters = []
    for i in range(12):
        year, q = 2022 + (i + 2) // 4, (i + 2) % 4
        quarters.append((dt.date(year, 3 * q + 1, 15), 1000 + 50 * i + season[q]))
    _history(data_set, [(day, amount) for day, amount in quarters if day < dt.date(2025, 1, 1)])
    report = data_set.plugin("analytics").forecast(quarters=2, currency="EUR")
    rows = {r["quarter"]: r for r in report.rows}
    # the open pipeline: s4, 300 EUR at proposal (50%), expected 15 August: 2025-Q3
    assert rows["2025-Q3"]["open"] == 1 and rows["2025-Q3"]["weighted_pipeline"] == Decimal("150.00")
    assert rows["2025-Q4"]["open"] == 0
    assert rows["2025-Q3"]["history_forecast"] is not None
    columns, history = report.extra["history"]
    assert columns == ("quarter", "currency", "won")
    assert history[0]["quarter"] == "2022-Q3" and history[-1]["quarter"] == "2025-Q2"
    assert len(history) == 12
    assert any("MAPE on the held-out 4 quarter(s) 2024-Q3 to 2025-Q2" in n for n in report.notes)


def test_forecast_with_little_history_says_so(data_set):
    report = data_set.plugin("analytics").forecast(currency="EUR")
    assert any("too little for a trend" in n for n in report.notes)
    assert report.rows[0]["history_forecast"] is None


@pytest.mark.parametrize("options", [{"quarters": 0}, {"quarters": 13}, {"holdout": 9}, {"currency": "euro"}])
def test_forecast_bad_input(analytics_app, options):
    with pytest.raises(ValidationError):
        analytics_app().plugin("analytics").forecast(**options)


def test_forecast_of_an_empty_database(analytics_app):
    report = analytics_app().plugin("analytics").forecast()
    assert report.empty and report.empty_message.startswith("no data")


# -- charts ------------------------------------------------------------------------


def test_charts_as_png_and_svg(data_set, tmp_path):
    analytics = data_set.plugin("analytics")
    png = analytics.chart(analytics.closed_share(FROM, TO), tmp_path / "share.png")
    assert png.startswith(b"\x89PNG") and (tmp_path / "share.png").read_bytes() == png
    svg = analytics.chart(analytics.sales(FROM, TO), tmp_path / "sales.svg", kind="line")
    assert b"<svg" in svg[:500]
    assert analytics.chart(
        analytics.customers(FROM, TO), kind="stacked", measures=["customers", "prospects"]
    ).startswith(b"\x89PNG")
    with pytest.raises(ValidationError, match="PNG or SVG"):
        analytics.chart(analytics.sales(FROM, TO), tmp_path / "sales.pdf")
    with pytest.raises(ValidationError, match="holds no numbers"):
        analytics.chart(analytics.sales(FROM, TO), measures=["region"])
    with pytest.raises(ValidationError, match="nothing to draw"):
        analytics.chart(analytics.sales("2020-01-01", "2020-12-31"))


# -- bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"start": "2025-06-30", "end": "2025-01-01"},
            "the period ends before it starts: --to 2025-01-01 is before --from 2025-06-30",
        ),
        ({"start": "31/01/2025"}, "--from '31/01/2025' is not a date; write it as YYYY-MM-DD"),
        ({"period": "fortnight"}, "period 'fortnight' is not one of week, month, quarter, year, all"),
        ({"by": ["colour"]}, "grouping 'colour' is not one of region, owner, product_line, kind"),
        ({"kind": ["lead"]}, "kind 'lead' is not one of"),
        ({"currency": "EURO"}, "currency 'EURO' is not an ISO 4217 code"),
        ({"start": "1990-01-01", "end": "2025-01-01", "period": "week"}, "makes more than 600 periods"),
    ],
)
def test_bad_report_input(analytics_app, options, message):
    with pytest.raises(ValidationError, match=message):
        analytics_app().plugin("analytics").closed_share(**options)


# -- scheduled reports ----------------------------------------------------------------

SCHEDULE = {
    "name": "quarterly",
    "report": "closed-share",
    "rule": "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1;BYHOUR=8;BYMINUTE=0;BYSECOND=0",
    "range": "previous-quarter",
    "to": ["ceo@example.com"],
}


def test_a_scheduled_report_is_mailed_once_per_occurrence(analytics_app, crm_clock, fill):
    crm = analytics_app(settings={"analytics": {"schedules": [SCHEDULE]}})
    fill(crm, crm_clock)
    jobs = crm.hooks.worker_jobs(crm)
    assert [(owner, job.name) for owner, job in jobs if owner == "analytics"] == [
        ("analytics", "analytics.report.quarterly")
    ]
    job = dict((j.name, j) for _, j in jobs)["analytics.report.quarterly"]
    occurrence = dt.datetime(2025, 7, 1, 6, tzinfo=UTC)  # 08:00 in Madrid
    first = job.run(crm, occurrence)
    again = job.run(crm, occurrence)  # a worker that died and ran it again
    assert "2025-04-01..2025-06-30: 2 row(s) queued" in first and "already queued" in again
    messages = crm.mail.list(limit=10)
    assert len(messages) == 1
    assert list(messages[0].to) == ["ceo@example.com"]
    assert messages[0].attachment_count == 2  # the CSV and the chart
    assert messages[0].subject == "Share of sales won, 2025-04-01 to 2025-06-30"
    rows = crm.plugin("analytics").schedules()
    assert rows[0]["name"] == "quarterly" and rows[0]["last_rows"] == 2


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rule": "FREQ=FORTNIGHTLY"}, "does not parse"),
        ({"range": "last-week"}, "'last-week' is not one of previous-month"),
        ({"to": ["not-an-address"]}, "'not-an-address' in to is not an e-mail address"),
        ({"to": []}, "to lists nobody"),
        ({"chart": "pie"}, "'pie' is not one of bar, line, stacked, none"),
    ],
)
def test_bad_schedules_are_configuration_errors(analytics_app, change, message):
    from crm_core.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        analytics_app(settings={"analytics": {"schedules": [{**SCHEDULE, **change}]}})


def test_a_schedule_naming_no_report_stops_the_worker(analytics_app):
    from crm_core.errors import PluginError

    crm = analytics_app(settings={"analytics": {"schedules": [{**SCHEDULE, "report": "annual-revenue"}]}})
    with pytest.raises(
        PluginError, match="schedule 'quarterly' names the report 'annual-revenue', which does not exist"
    ):
        crm.hooks.worker_jobs(crm)


@pytest.mark.sqlite_only
def test_relative_ranges():
    from crm_analytics.schedules import resolve_range

    day = dt.date(2026, 1, 2)
    assert resolve_range("previous-year", day) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert resolve_range("previous-quarter", day) == (dt.date(2025, 10, 1), dt.date(2025, 12, 31))
    assert resolve_range("previous-quarter", day, fiscal=4) == (dt.date(2025, 10, 1), dt.date(2025, 12, 31))
    assert resolve_range("previous-year", day, fiscal=4) == (dt.date(2024, 4, 1), dt.date(2025, 3, 31))
    assert resolve_range("year-to-date", day) == (dt.date(2026, 1, 1), day)
    assert resolve_range("last-4-quarters", day) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert resolve_range("last-12-months", day) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))


# -- the command line ------------------------------------------------------------------


def test_cli_standard_reports(data_set, crm_cli, tmp_path):
    result = crm_cli.invoke(["reports", "closed-share", "--from", FROM, "--to", TO, "--format", "csv"], app=data_set)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        lines[0] == "period,currency,won,lost,closed,won_share,won_amount,lost_amount,won_amount_share,open,open_amount"
    )
    assert lines[1] == "2025-Q1,EUR,1,1,2,50.0,1000.00,500.00,66.7,2,2300.00"
    as_json = crm_cli.invoke(
        ["reports", "staff", "--from", FROM, "--to", TO, "--period", "all", "--format", "json"], app=data_set
    )
    assert [(r["staff"], r["total"]) for r in json.loads(as_json.output)] == [("ana", 3), ("luis", 3)]
    chart = tmp_path / "sales.png"
    table = crm_cli.invoke(
        ["reports", "sales", "--from", FROM, "--to", TO, "--by", "owner", "--chart", str(chart)], app=data_set
    )
    assert table.exit_code == 0 and "chart written to" in table.output and chart.read_bytes().startswith(b"\x89PNG")
    for name in ("pipeline", "surveys", "customers", "forecast", "list", "schedules"):
        extra = ["--from", FROM, "--to", TO] if name in ("pipeline", "surveys", "customers") else []
        result = crm_cli.invoke(["reports", name, *extra], app=data_set)
        assert result.exit_code == 0, (name, result.output)


def test_cli_custom_reports_and_errors(data_set, crm_cli, tmp_path):
    path = tmp_path / "r.toml"
    path.write_text(
        'name = "by-stage"\nview = "sales"\ndimensions = ["stage"]\nmeasures = [{ agg = "count" }]\n', encoding="utf-8"
    )
    assert crm_cli.invoke(["reports", "check", str(path)], app=data_set).exit_code == 0
    added = crm_cli.invoke(["reports", "add", str(path)], app=data_set)
    assert "report 'by-stage' saved" in added.output
    run = crm_cli.invoke(["reports", "run", "by-stage", "--format", "csv"], app=data_set)
    assert run.output.splitlines() == ["stage,count", "lost,2", "proposal,1", "won,3"]
    assert 'name = "by-stage"' in crm_cli.invoke(["reports", "show", "by-stage"], app=data_set).output
    assert crm_cli.invoke(["reports", "remove", "by-stage"], app=data_set).exit_code == 0
    missing = crm_cli.invoke(["reports", "run", "by-stage"], app=data_set)
    assert (
        missing.exit_code == 5
        and "there is no report 'by-stage'" in missing.output
        and "Traceback" not in missing.output
    )
    backwards = crm_cli.invoke(["reports", "sales", "--from", TO, "--to", FROM], app=data_set)
    assert backwards.exit_code == 2 and "Error: the period ends before it starts" in backwards.output
    path.write_text('name = "bad"\nview = "sales"\nmeasures = [{ agg = "sum", field = "region" }]\n', encoding="utf-8")
    bad = crm_cli.invoke(["reports", "run", str(path)], app=data_set)
    assert bad.exit_code == 2 and "sum of 'region', which is text" in bad.output


def test_cli_empty_database(analytics_app, crm_cli):
    crm = analytics_app()
    result = crm_cli.invoke(["reports", "closed-share", "--from", FROM, "--to", TO], app=crm)
    assert result.exit_code == 0
    assert result.output.strip() == "no data: no sales records were closed or open between 2025-01-01 and 2025-06-30"
    as_csv = crm_cli.invoke(["reports", "customers", "--from", FROM, "--to", TO, "--format", "csv"], app=crm)
    assert as_csv.output.splitlines()[0].startswith("period,region,customers")
    # an empty report in a machine format: the header on stdout, the message on stderr, exit 0
    empty_csv = crm_cli.invoke(["reports", "closed-share", "--from", FROM, "--to", TO, "--format", "csv"], app=crm)
    assert empty_csv.exit_code == 0, empty_csv.output
    assert "no data: no sales records were closed or open" in empty_csv.output and "unexpected" not in empty_csv.output
