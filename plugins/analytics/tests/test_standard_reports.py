"""Each standard report against figures worked out by hand on the fixed data set (conftest.py).

Runs on every configured backend. The time zone is Europe/Madrid, so the
sale closed, the note logged and the survey answered late on 31 March (UTC)
all fall in Q2.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

FROM, TO = "2025-01-01", "2025-06-30"


def table(report, *columns):
    return [tuple(row[c] for c in columns) for row in report.rows]


def test_closed_share_per_quarter(data_set):
    report = data_set.plugin("analytics").closed_share(FROM, TO)
    # Q1 EUR: s1 won 1000, s2 lost 500; open on 31 March: s3 (closed 1 April in Madrid) 2000 + s4 300
    # Q2 EUR: s3 won 2000, s6 lost 400; open on 30 June: s4 300.  Q2 GBP: s5 won 800
    assert table(
        report,
        "period",
        "currency",
        "won",
        "lost",
        "won_share",
        "won_amount",
        "lost_amount",
        "won_amount_share",
        "open",
        "open_amount",
    ) == [
        ("2025-Q1", "EUR", 1, 1, 50.0, Decimal("1000.00"), Decimal("500.00"), 66.7, 2, Decimal("2300.00")),
        ("2025-Q2", "EUR", 1, 1, 50.0, Decimal("2000.00"), Decimal("400.00"), 83.3, 1, Decimal("300.00")),
        ("2025-Q2", "GBP", 1, 0, 100.0, Decimal("800.00"), Decimal("0.00"), 100.0, 0, Decimal("0.00")),
    ]
    assert report.period == "quarter" and report.start == dt.date(2025, 1, 1)


@pytest.mark.parametrize(("timezone", "quarter"), [("UTC", "2025-Q1"), ("Europe/Madrid", "2025-Q2")])
def test_the_quarter_follows_the_app_time_zone(analytics_app, crm_clock, timezone, quarter):
    """The same sale closed at 23:30 UTC on 31 March: Q1 in UTC, Q2 in Madrid."""
    utc = dt.UTC
    crm = analytics_app(timezone=timezone)
    crm_clock.set(dt.datetime(2025, 3, 1, 9, tzinfo=utc))
    contact = crm.plugin("contacts").create(first_name="Ana", region="north").id
    sale = crm.plugin("warehouse").sales.add("sale", contact, amount="10", actor="ana").id
    crm_clock.set(dt.datetime(2025, 3, 31, 23, 30, tzinfo=utc))
    crm.plugin("warehouse").sales.close(sale, won=True, actor="ana")
    report = crm.plugin("analytics").closed_share("2025-01-01", "2025-06-30")
    assert [row["period"] for row in report.rows if row["won"]] == [quarter]


def test_closed_share_grouped_and_filtered(data_set):
    analytics = data_set.plugin("analytics")
    report = analytics.closed_share(FROM, TO, by=["region"], currency="EUR")
    assert table(report, "period", "region", "won", "lost", "open") == [
        ("2025-Q1", "north", 1, 0, 2),
        ("2025-Q1", "south", 0, 1, 0),
        ("2025-Q2", "north", 1, 1, 1),
    ]
    months = analytics.closed_share(FROM, TO, period="month", kind=["sale"])
    assert table(months, "period", "currency", "won", "lost", "open") == [
        ("2025-01", "EUR", 0, 0, 1),  # s1 (s3 created in February)
        ("2025-02", "EUR", 1, 0, 1),  # s1 won; s3 open
        ("2025-03", "EUR", 0, 0, 1),
        ("2025-04", "EUR", 1, 0, 0),
        ("2025-04", "GBP", 0, 0, 1),
        ("2025-05", "EUR", 0, 0, 1),  # s6
        ("2025-05", "GBP", 1, 0, 0),
        ("2025-06", "EUR", 0, 1, 0),
    ]


def test_sales_by_region_owner_and_product_line(data_set):
    analytics = data_set.plugin("analytics")
    assert table(analytics.sales(FROM, TO), "period", "region", "currency", "sales", "amount") == [
        ("2025-Q1", "north", "EUR", 1, Decimal("1000.00")),
        ("2025-Q2", "north", "EUR", 1, Decimal("2000.00")),
        ("2025-Q2", "south", "GBP", 1, Decimal("800.00")),
    ]
    by_line = analytics.sales(FROM, TO, period="year", by=["product_line", "owner"])
    assert table(by_line, "period", "product_line", "owner", "currency", "sales", "amount", "average") == [
        ("2025", None, "luis", "GBP", 1, Decimal("800.00"), Decimal("800.00")),
        ("2025", "boilers", "ana", "EUR", 2, Decimal("3000.00"), Decimal("1500.00")),
    ]


def test_pipeline_value_conversion_and_days(data_set):
    report = data_set.plugin("analytics").pipeline(FROM, TO)
    # furthest stage: s1 won, s2 qualified, s3 won, s4 proposal, s5 won, s6 qualified
    # days in new: 36.125, 21, 28, 15, 40.125, 8 -> 24.7; qualified: 28.125, 82, 51.04 -> 53.7; proposal: 30.6
    assert table(report, "stage", "open", "amount_EUR", "weighted_EUR", "reached", "conversion", "avg_days") == [
        ("new", 0, Decimal("0.00"), Decimal("0.00"), 6, 100.0, 24.7),
        ("qualified", 0, Decimal("0.00"), Decimal("0.00"), 6, 66.7, 53.7),
        ("proposal", 1, Decimal("300.00"), Decimal("150.00"), 4, 75.0, 30.6),
        ("negotiation", 0, Decimal("0.00"), Decimal("0.00"), 3, 100.0, None),
        ("won", 0, Decimal("0.00"), Decimal("0.00"), 3, None, None),
    ]


def test_survey_results_per_quarter_and_region(data_set):
    report = data_set.plugin("analytics").surveys(FROM, TO)
    # Q1 north: A and C invited 1 March, A answered 4 days later (C two months later: outside 30 days)
    # B answered at 00:30 on 1 April in Madrid: a Q2 response of an invitation sent in Q1
    assert table(report, "period", "region", "invited", "answered", "response_rate", "responses", "nps", "csat") == [
        ("2025-Q1", "north", 2, 1, 50.0, 1, 100.0, 100.0),
        ("2025-Q1", "south", 1, 1, 100.0, 0, None, None),
        ("2025-Q2", "north", 1, 1, 100.0, 1, 0.0, 100.0),
        ("2025-Q2", "south", 0, 0, None, 1, -100.0, 0.0),
    ]
    overall = data_set.plugin("analytics").surveys(FROM, TO, period="all", by_region=False)
    # NPS: 1 promoter, 1 passive, 1 detractor -> 0; CSAT: 5, 2, 4 -> 2 of 3 satisfied
    assert table(overall, "invited", "answered", "responses", "nps_answers", "nps", "csat") == [(4, 3, 3, 3, 0.0, 66.7)]


def test_customers_per_region_gained_and_lost(data_set):
    report = data_set.plugin("analytics").customers(FROM, TO)
    # A customer from the start, C customer 20 Feb then former 15 June, B customer 20 May
    assert table(report, "period", "region", "customers", "prospects", "former", "gained", "lost") == [
        ("2025-Q1", "north", 2, 0, 0, 2, 0),
        ("2025-Q1", "south", 0, 1, 0, 0, 0),
        ("2025-Q2", "north", 1, 0, 1, 0, 1),
        ("2025-Q2", "south", 1, 0, 0, 1, 0),
    ]
    by_country = data_set.plugin("analytics").customers(FROM, TO, period="year", by=["country"])
    assert table(by_country, "country", "customers", "prospects", "former", "gained", "lost") == [
        ("ES", 1, 0, 0, 1, 0),
        ("FR", 1, 0, 0, 1, 0),
        ("PT", 0, 0, 1, 1, 1),
    ]


def test_staff_activity(data_set):
    report = data_set.plugin("analytics").staff(FROM, TO)
    assert table(report, "period", "staff", "calls", "meetings", "notes", "emails", "tasks_completed", "total") == [
        ("2025-Q1", "ana", 1, 1, 0, 0, 0, 2),
        ("2025-Q2", "ana", 0, 0, 0, 0, 1, 1),  # a task with no actor counts for its assignee
        ("2025-Q2", "luis", 0, 0, 1, 1, 1, 3),  # the note of 22:30 UTC on 31 March is Q2 in Madrid
    ]
    only = data_set.plugin("analytics").staff(FROM, TO, period="all", member="luis")
    assert table(only, "staff", "total") == [("luis", 3)]


@pytest.mark.parametrize("name", ["closed_share", "sales", "pipeline", "surveys", "customers", "staff"])
def test_an_empty_database_says_there_is_no_data(analytics_app, name):
    report = getattr(analytics_app().plugin("analytics"), name)(FROM, TO)
    assert report.empty
    assert report.empty_message.startswith("no data: ") and "2025-01-01" in report.empty_message
