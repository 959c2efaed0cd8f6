"""Custom reports: TOML files, the crm_report_definitions hook, and every kind of bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_core.errors import NotFoundError, PluginError, ValidationError

FROM, TO = "2025-01-01", "2025-06-30"

WON_BY_COUNTRY = """
name = "won-by-country"
title = "Won sales by the contact's country"
view = "sales"
dimensions = ["contact.country"]
period = { field = "closed_on", grain = "year" }
measures = [
  { name = "deals", agg = "count" },
  { name = "revenue", agg = "sum", field = "amount" },
  { name = "biggest", agg = "max", field = "amount" },
]
filters = [
  { field = "outcome", op = "=", value = "won" },
  { field = "currency", op = "in", value = ["EUR", "GBP"] },
]
sort = ["-revenue"]
limit = 10
"""


def write(tmp_path, text, name="report.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_report_file_runs_and_is_saved(data_set, tmp_path):
    analytics = data_set.plugin("analytics")
    path = write(tmp_path, WON_BY_COUNTRY)
    report = analytics.run_file(path, FROM, TO)
    # won: s1 1000 + s3 2000 EUR (contact A, ES), s5 800 GBP (contact B, FR)
    assert [tuple(r.values()) for r in report.rows] == [("2025", "ES", 2, 3000, 2000), ("2025", "FR", 1, 800, 800)]
    assert report.columns == ("period", "contact_country", "deals", "revenue", "biggest")
    analytics.save(path, actor="ana")
    assert {
        "name": "won-by-country",
        "kind": "saved",
        "title": "Won sales by the contact's country",
    } in analytics.list()
    assert analytics.run("won-by-country", FROM, TO).rows == report.rows
    with pytest.raises(ValidationError, match="saved already; use --replace"):
        analytics.save(path)
    analytics.remove("won-by-country")
    with pytest.raises(NotFoundError, match="no report 'won-by-country'"):
        analytics.run("won-by-country")


def test_views_without_a_period_and_contacts_fields(data_set, tmp_path):
    analytics = data_set.plugin("analytics")
    report = analytics.check({
        "name": "contacts-by-status", "view": "contacts", "dimensions": ["status", "region"],
        "measures": [{"name": "contacts", "agg": "count"}], "sort": ["status", "region"],
    })  # fmt: skip
    rows = analytics.run_definition(report).rows
    assert [tuple(r.values()) for r in rows] == [
        ("customer", "south", 1),
        ("customer", "north", 1),
        ("former", "north", 1),
    ] or [tuple(r.values()) for r in rows] == [
        ("customer", "north", 1),
        ("customer", "south", 1),
        ("former", "north", 1),
    ]
    with pytest.raises(ValidationError, match="has no period field, so it takes no --from"):
        analytics.run_definition(report, FROM, TO)
    answers = analytics.check({
        "name": "scores", "view": "survey_answers", "dimensions": ["question"],
        "measures": [{"name": "mean", "agg": "avg", "field": "score"}, {"agg": "min", "field": "answered_at"}],
        "filters": [{"field": "answered_at", "op": ">=", "value": "2025-03-05"}, {"field": "negative", "op": "=", "value": False}],
    })  # fmt: skip
    rows = {r["question"]: r for r in analytics.run_definition(answers).rows}
    # responses 1 (10, 5) and 3 (8, 4) are not negative
    assert rows["recommend"]["mean"] == 9.0 and rows["satisfaction"]["mean"] == 4.5
    assert rows["recommend"]["min_answered_at"] == dt.datetime(2025, 3, 5, 10, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"view": "sale"}, "view 'sale' does not exist; the views are: sales"),
        ({"view": "warehouse_sales_fact"}, "view 'warehouse_sales_fact' does not exist"),
        ({"dimensions": ["regoin"]}, "dimension 'regoin' does not exist in view 'sales'; its fields are:"),
        ({"dimensions": ["contact.email"]}, "dimension 'contact.email' does not exist; the contact fields are"),
        (
            {"measures": [{"agg": "sum", "field": "region"}]},
            "sum of 'region', which is text: sum and avg need a number field",
        ),
        ({"measures": [{"agg": "avg", "field": "owner"}]}, "avg of 'owner', which is text"),
        ({"measures": [{"agg": "max", "field": "lost_reason"}]}, "max of 'lost_reason', which is text"),
        ({"measures": [{"agg": "median", "field": "amount"}]}, "agg 'median' is not one of count, sum, avg, min, max"),
        ({"measures": [{"agg": "sum"}]}, "sum needs a field"),
        ({"filters": [{"field": "amount", "op": "=", "value": "a lot"}]}, "'a lot' is not a number value for 'amount'"),
        (
            {"filters": [{"field": "amount", "op": ">", "value": float("nan")}]},
            "nan for 'amount' is not a number to compare with; give a finite one",
        ),
        (
            {"filters": [{"field": "amount", "op": ">", "value": float("-inf")}]},
            "-inf for 'amount' is not a number to compare with",
        ),
        (
            {"filters": [{"field": "amount", "op": "in", "value": [1, float("inf")]}]},
            "inf for 'amount' is not a number to compare with",
        ),
        (
            {"filters": [{"field": "amount", "op": "<", "value": 10**20}]},
            "100000000000000000000 for 'amount' is out of range",
        ),
        ({"filters": [{"field": "closed_on", "op": ">", "value": "yesterday"}]}, "'yesterday' is not a date value"),
        ({"filters": [{"field": "outcome", "op": "like", "value": "w%"}]}, "op 'like' is not one of"),
        ({"period": {"field": "region", "grain": "quarter"}}, "period field 'region' is text; periods need a date"),
        ({"period": {"field": "closed_on", "grain": "decade"}}, "period grain 'decade' is not one of"),
        ({"sort": ["-profit"]}, "sort '-profit' names no column of the report"),
        ({"limit": 0}, "limit 0 must be a whole number from 1 to 100000"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"name": "closed-share"}, "is a standard report's; choose another"),
    ],
)
def test_bad_definitions_name_the_problem(data_set, change, message):
    base = {"name": "r", "view": "sales", "dimensions": ["region"], "measures": [{"agg": "count"}]}
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        data_set.plugin("analytics").check({**base, **change})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dimensions": ["region; DROP TABLE warehouse_sales_fact"]}, "does not exist in view 'sales'"),
        ({"dimensions": ['region" FROM contacts_contact --']}, "does not exist in view 'sales'"),
        ({"view": "sales; DELETE FROM contacts_contact"}, "does not exist; the views are"),
        ({"measures": [{"name": 'n" FROM x; --', "agg": "count"}]}, "must be lower-case letters, digits and '_'"),
        ({"measures": [{"agg": "sum", "field": "amount) FROM contacts_contact --"}]}, "does not exist in view 'sales'"),
        ({"sort": ["region; DROP TABLE x"]}, "names no column of the report"),
    ],
)
def test_sql_injection_through_names_is_refused(data_set, change, message):
    base = {"name": "r", "view": "sales", "dimensions": ["region"], "measures": [{"agg": "count"}]}
    with pytest.raises(ValidationError, match=message):
        data_set.plugin("analytics").check({**base, **change})


def test_sql_injection_through_filter_values_is_only_a_value(data_set, tmp_path):
    analytics = data_set.plugin("analytics")
    path = write(
        tmp_path,
        """
name = "sneaky"
view = "sales"
dimensions = ["region"]
measures = [{ agg = "count" }]
filters = [
  { field = "region", op = "=", value = "north' OR '1'='1" },
  { field = "owner", op = "in", value = ["x'); DROP TABLE warehouse_sales_fact; --"] },
]
""",
    )
    report = analytics.run_file(path)
    assert report.empty and "no rows of sales match report 'sneaky'" in report.empty_message
    # the table is still there, with its six records
    assert sum(row["closed"] for row in analytics.closed_share(FROM, TO, period="all").rows) == 5


def test_a_report_file_that_is_not_toml_or_missing(data_set, tmp_path):
    analytics = data_set.plugin("analytics")
    with pytest.raises(ValidationError, match="not a valid TOML file"):
        analytics.check(write(tmp_path, "name = [unclosed"))
    with pytest.raises(ValidationError, match="cannot read the report file"):
        analytics.check(tmp_path / "missing.toml")


def test_crm_report_definitions_contributes_reports(analytics_app, crm_plugin):
    definitions = [{"name": "open-by-stage", "title": "Open records by stage", "view": "sales", "dimensions": ["stage"],
                    "measures": [{"name": "records", "agg": "count"}], "filters": [{"field": "outcome", "op": "=", "value": "open"}]}]  # fmt: skip
    crm = analytics_app(plugins=[crm_plugin("loyalty", crm_report_definitions=lambda crm: definitions)])
    analytics = crm.plugin("analytics")
    assert {"name": "open-by-stage", "kind": "loyalty", "title": "Open records by stage"} in analytics.list()
    assert analytics.run("open-by-stage").empty


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("result", "message"),
    [
        (
            [{"name": "x", "view": "nope", "measures": [{"agg": "count"}]}],
            "plugin 'loyalty': report 'x': view 'nope' does not exist",
        ),
        ({"name": "x"}, "crm_report_definitions must return a list of dicts"),
        (["x"], "crm_report_definitions must return a list of dicts; it holds str"),
    ],
)
def test_a_plugin_s_bad_definitions_name_the_plugin(analytics_app, crm_plugin, result, message):
    crm = analytics_app(plugins=[crm_plugin("loyalty", crm_report_definitions=lambda crm: result)])
    with pytest.raises(PluginError, match=message):
        crm.plugin("analytics").list()
