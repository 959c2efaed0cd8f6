"""Who may run which report, and which records a report counts for them (issue 15).

Two sellers, ``ana`` (team north) and ``luis`` (team south), each own two
contacts and the sales records on them; ``sam`` is support in team north.
Every figure expected below is computed from :data:`SALES` and
:data:`CONTACTS` by the records' owners, never written by hand.
"""

from __future__ import annotations

import csv
import datetime as dt
import inspect
import io
from decimal import Decimal
from typing import Any

import pytest

from crm_analytics.api import Analytics, AnalyticsAPI
from crm_analytics.permissions import PERMISSIONS
from crm_core.errors import PermissionDenied
from crm_hookspecs.records import Chart, ChartSeries

UTC = dt.UTC
PERMISSION_NAMES = {p.name for p in PERMISSIONS}
FROM, TO = "2025-01-01", "2025-03-31"

#: contact -> (owner, status, region)
CONTACTS = {
    "A1": ("ana", "customer", "north"),
    "A2": ("ana", "prospect", "north"),
    "L1": ("luis", "customer", "south"),
    "L2": ("luis", "prospect", "south"),
}
#: (name, contact, amount, outcome): won/lost on the day after it was added, open ones stay open
SALES = [
    ("a-won-1", "A1", "1000.00", "won"),
    ("a-won-2", "A2", "250.00", "won"),
    ("a-lost", "A1", "400.00", "lost"),
    ("a-open", "A2", "700.00", "open"),
    ("l-won", "L1", "5000.00", "won"),
    ("l-lost", "L2", "90.00", "lost"),
    ("l-open-1", "L1", "300.00", "open"),
    ("l-open-2", "L2", "60.00", "open"),
]
#: (author, contact, kind) of staff actions logged
ACTIONS = [("ana", "A1", "call"), ("ana", "A2", "meeting"), ("luis", "L1", "call")]
#: (contact, NPS score) of survey answers; every contact is invited
ANSWERS = [("A1", 10), ("L1", 3), ("L2", 9)]


def owner_of(contact: str) -> str:
    return CONTACTS[contact][0]


def expected_sales(owners: set[str]) -> dict[str, Any]:
    """What the reports should count for a user who sees the records of ``owners``."""
    mine = [s for s in SALES if owner_of(s[1]) in owners]
    won = [s for s in mine if s[3] == "won"]
    return {
        "won": len(won),
        "won_amount": sum((Decimal(s[2]) for s in won), Decimal("0.00")),
        "lost": sum(1 for s in mine if s[3] == "lost"),
        "open": sum(1 for s in mine if s[3] == "open"),
        "open_amount": sum((Decimal(s[2]) for s in mine if s[3] == "open"), Decimal("0.00")),
        "contacts": sum(1 for c in CONTACTS.values() if c[0] in owners),
        "customers": sum(1 for c in CONTACTS.values() if c[0] in owners and c[1] == "customer"),
        "actions": sum(1 for a in ACTIONS if owner_of(a[1]) in owners),
        "invited": sum(1 for c in CONTACTS.values() if c[0] in owners),
        "responses": sum(1 for a in ANSWERS if owner_of(a[0]) in owners),
    }


@pytest.fixture
def shop(analytics_app: Any, crm_clock: Any, crm_user: Any) -> Any:
    """An app with the two sellers' contacts, sales, actions and survey answers, and the users."""
    from crm_hookspecs.events import SurveyAnswered, SurveySent

    def at(*args: int) -> dt.datetime:
        return dt.datetime(*args, 10, tzinfo=UTC)

    schedule = {
        "name": "weekly",
        "report": "sales",
        "rule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=8;BYMINUTE=0;BYSECOND=0",
        "range": "previous-quarter",
        "to": ["boss@example.com"],
        "options": {"by": ["owner"]},
    }
    schedules = [
        schedule,
        {**schedule, "name": "ana-weekly", "run_as": "ana"},
        {**schedule, "name": "vera-weekly", "run_as": "vera"},
    ]
    crm = analytics_app(timezone="UTC", settings={"analytics": {"schedules": schedules}})
    crm_user(crm, name="ana", roles=["sales"], teams=["north"])
    crm_user(crm, name="luis", roles=["sales"], teams=["south"])
    crm_user(crm, name="sam", roles=["support"], teams=["north"])
    crm_user(crm, name="nobody")
    crm.authz.roles.add("reporter", permissions=["analytics.reports.run"])
    crm_user(crm, name="rita", roles=["reporter"])
    crm_user(crm, name="vera", roles=["read-only"])
    contacts = crm.plugin("contacts")
    warehouse = crm.plugin("warehouse")
    ids: dict[str, int] = {}
    crm_clock.set(dt.datetime(2025, 1, 2, 9, tzinfo=UTC))
    for name, (owner, status, region) in CONTACTS.items():
        ids[name] = contacts.create(first_name=name, last_name="Test", status=status, region=region, owner=owner).id
    for day, (name, contact, amount, outcome) in enumerate(SALES, start=1):
        crm_clock.set(dt.datetime(2025, 2, day, 9, tzinfo=UTC))
        owner = owner_of(contact)
        ids[name] = warehouse.sales.add(
            "sale", ids[contact], amount=amount, owner=owner, actor=owner, expected_close_on=dt.date(2025, 5, 15)
        ).id
        warehouse.sales.move(ids[name], "qualified", actor=owner)
        if outcome != "open":
            crm_clock.set(dt.datetime(2025, 2, day + 1, 9, tzinfo=UTC))
            warehouse.sales.close(ids[name], won=outcome == "won", actor=owner)
    for author, contact, kind in ACTIONS:
        crm_clock.set(dt.datetime(2025, 3, 3, 9, tzinfo=UTC))
        warehouse.actions.log(kind, contact_id=ids[contact], subject="Visit", author=author)
    with crm.transaction():
        for contact in CONTACTS:
            crm.emit(SurveySent(survey_id=7, version=1, contact_id=ids[contact], occurred_at=at(2025, 3, 10)))
        for response, (contact, score) in enumerate(ANSWERS, start=1):
            crm.emit(SurveyAnswered(
                survey_id=7, version=1, contact_id=ids[contact], response_id=response, region=CONTACTS[contact][2],
                occurred_at=at(2025, 3, 12), scores={"nps": score}, negative=score <= 6,
            ))  # fmt: skip
    crm_clock.set(dt.datetime(2025, 4, 10, 9, tzinfo=UTC))
    crm.ids = ids
    return crm


def report_file(tmp_path: Any, name: str, text: str) -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'name = "{name}"\n{text}', encoding="utf-8")
    return str(path)


# -- every public method checks a permission -------------------------------------


def _calls(crm: Any, tmp_path: Any) -> dict[str, Any]:
    """Each public method of AnalyticsAPI called as a user would call it (objects made as the system)."""
    api = crm.plugin("analytics")
    path = report_file(tmp_path, "deals", 'view = "sales"\nmeasures = [{ name = "deals", agg = "count" }]\n')
    definition = api.check(path)
    report = api.sales(FROM, TO)
    return {
        "closed_share": lambda: api.closed_share(FROM, TO),
        "sales": lambda: api.sales(FROM, TO),
        "pipeline": lambda: api.pipeline(FROM, TO),
        "surveys": lambda: api.surveys(FROM, TO),
        "customers": lambda: api.customers(FROM, TO),
        "staff": lambda: api.staff(FROM, TO),
        "forecast": lambda: api.forecast(),
        "definitions": lambda: api.definitions(),
        "list": lambda: api.list(),
        "run": lambda: api.run("sales", FROM, TO),
        "run_definition": lambda: api.run_definition(definition),
        "run_file": lambda: api.run_file(path),
        "check": lambda: api.check(path),
        "save": lambda: api.save(path),
        "save_definition": lambda: api.save_definition(
            {"name": "deals", "view": "sales", "measures": [{"name": "deals", "agg": "count"}]}, replace=True
        ),
        "remove": lambda: api.remove("deals"),
        "saved": lambda: api.saved(),
        "source": lambda: api.source("deals"),
        "chart": lambda: api.chart(report, fmt="svg"),
        "draw_chart": lambda: api.draw_chart(Chart("Answers", ["yes", "no"], [ChartSeries("answers", [3, None])])),
        "export": lambda: api.export(report, "csv"),
        "schedules": lambda: api.schedules(),
        "send": lambda: api.send("weekly"),
    }


def test_every_public_method_is_in_the_table(shop, tmp_path):
    public = {
        name for name, _ in inspect.getmembers(AnalyticsAPI, predicate=inspect.isfunction) if not name.startswith("_")
    }
    assert public == set(_calls(shop, tmp_path))


def test_a_user_without_roles_is_denied_every_method(shop, tmp_path):
    calls = _calls(shop, tmp_path)
    with shop.as_user("nobody"):
        for name, call in calls.items():
            with pytest.raises(PermissionDenied, match="'nobody' may not analytics\\.") as denied:
                call()
            assert denied.value.permission in PERMISSION_NAMES, name
    assert shop.plugin("analytics").list()  # the system still may


def test_the_system_does_everything(shop, tmp_path):
    calls = _calls(shop, tmp_path)
    assert calls["save"]().name == "deals" and calls["definitions"]()["deals"].origin == "saved"
    assert calls["save_definition"]().origin == "saved"  # replaced, from a dict this time
    assert "deals" in {r["name"] for r in calls["list"]()}
    assert calls["run_file"]().rows == calls["run_definition"]().rows == ({"deals": len(SALES)},)
    calls["remove"]()
    assert "deals" not in calls["definitions"]()
    assert b"<svg" in calls["chart"]()
    assert b"<svg" in calls["draw_chart"]()
    assert calls["export"]().startswith("period,region,currency,sales")
    assert calls["send"]()["status"] == "queued"
    assert [r["name"] for r in calls["schedules"]()] == ["weekly", "ana-weekly", "vera-weekly"]
    report = shop.plugin("analytics").sales(FROM, TO, period="all")
    everyone = expected_sales({"ana", "luis"})
    assert sum(r["sales"] for r in report.rows) == everyone["won"]
    assert sum(r["amount"] for r in report.rows) == everyone["won_amount"]


def test_the_deprecated_name_is_the_same_class(shop):
    assert Analytics is AnalyticsAPI
    assert isinstance(shop.plugin("analytics"), Analytics)


# -- scopes: what a report counts ------------------------------------------------


def _figures(crm: Any, user: str | None) -> dict[str, Any]:
    """The reports' figures as ``user`` (None: the system) sees them."""
    from contextlib import nullcontext

    api = crm.plugin("analytics")
    with crm.as_user(user) if user else nullcontext():
        sales = api.sales(FROM, TO, period="all", by=["owner"])
        share = api.closed_share(FROM, TO, period="all")
        pipeline = api.pipeline(FROM, TO)
        forecast = api.forecast(quarters=2)
        customers = api.customers(FROM, TO, period="all", by=None)
        staff = api.staff(FROM, TO, period="all")
        surveys = api.surveys(FROM, TO, period="all", by_region=False)
    return {
        "invited": sum(r["invited"] for r in surveys.rows),
        "responses": sum(r["responses"] for r in surveys.rows),
        "owners": {r["owner"] for r in sales.rows},
        "won": sum(r["sales"] for r in sales.rows),
        "won_amount": sum((r["amount"] for r in sales.rows), Decimal("0.00")),
        "share_won": sum(r["won"] for r in share.rows),
        "lost": sum(r["lost"] for r in share.rows),
        "open": sum(r["open"] for r in pipeline.rows),
        "reached": pipeline.rows[0]["reached"],
        "open_amount": sum((r["pipeline"] for r in forecast.rows), Decimal("0.00")),
        "contacts": sum(r["contacts"] for r in customers.rows),
        "customers": sum(r["customers"] for r in customers.rows),
        "actions": sum(r["total"] for r in staff.rows),
        "staff": {r["staff"] for r in staff.rows},
    }


@pytest.mark.parametrize(
    ("user", "owners"),
    [
        ("ana", {"ana"}),  # sales: own records
        ("luis", {"luis"}),
        ("sam", {"ana"}),  # support in team north: the records of north's members (ana)
        (None, {"ana", "luis"}),  # the system: everything
    ],
)
def test_a_report_counts_exactly_the_records_the_user_may_read(shop, user, owners):
    seen = _figures(shop, user)
    want = expected_sales(owners)
    assert seen["owners"] == owners
    assert seen["won"] == seen["share_won"] == want["won"]
    assert seen["won_amount"] == want["won_amount"]
    assert seen["lost"] == want["lost"]
    assert seen["open"] == want["open"]
    assert seen["open_amount"] == want["open_amount"]
    assert seen["reached"] == len([s for s in SALES if owner_of(s[1]) in owners])  # every record was in 'new'
    assert seen["contacts"] == want["contacts"]
    assert seen["customers"] == want["customers"]
    assert seen["actions"] == want["actions"]
    assert seen["staff"] == {a[0] for a in ACTIONS if owner_of(a[1]) in owners}
    assert seen["invited"] == want["invited"]
    assert seen["responses"] == want["responses"]


def test_a_user_who_may_not_read_a_reports_source_is_refused_naming_it(shop):
    with shop.as_user("rita"):  # analytics.reports.run, and nothing else
        with pytest.raises(PermissionDenied, match=r"warehouse\.sales\.read.*sales records \(warehouse_sales_fact\)"):
            shop.plugin("analytics").sales(FROM, TO)
        with pytest.raises(PermissionDenied, match=r"contacts\.read.*contacts' status history"):
            shop.plugin("analytics").customers(FROM, TO)


# -- custom reports select from the scoped tables --------------------------------


@pytest.mark.parametrize(
    ("text", "column", "expected"),
    [
        # the other seller's records by name: nothing comes back
        ('view = "sales"\nmeasures = [{ name = "n", agg = "count" }]\nfilters = [{ field = "owner", op = "=", value = "luis" }]', "n", lambda o: sum(1 for s in SALES if owner_of(s[1]) == "luis" and "luis" in o)),
        # every sales record, summed
        ('view = "sales"\nmeasures = [{ name = "total", agg = "sum", field = "amount" }]', "total", lambda o: sum(Decimal(s[2]) for s in SALES if owner_of(s[1]) in o)),
        # the contacts, and those reached through the sales records' contact
        ('view = "contacts"\nmeasures = [{ name = "n", agg = "count" }]', "n", lambda o: expected_sales(o)["contacts"]),
        ('view = "sales"\nmeasures = [{ name = "n", agg = "count", field = "contact.owner" }]', "n", lambda o: sum(1 for s in SALES if owner_of(s[1]) in o)),
        ('view = "contact_status"\nmeasures = [{ name = "n", agg = "count" }]\nfilters = [{ field = "valid_to", op = "is null" }]', "n", lambda o: expected_sales(o)["contacts"]),
        ('view = "events"\nmeasures = [{ name = "n", agg = "count" }]\nfilters = [{ field = "type", op = "=", value = "StaffActionLogged" }]', "n", lambda o: expected_sales(o)["actions"]),
    ],
)  # fmt: skip
def test_a_custom_report_cannot_reach_records_out_of_scope(shop, tmp_path, text, column, expected):
    path = report_file(tmp_path, "probe", text + "\n")
    api = shop.plugin("analytics")
    for user, owners in (("ana", {"ana"}), ("sam", {"ana"}), (None, {"ana", "luis"})):
        with shop.as_user(user) if user else _system():
            report = api.run_file(path)
        value = report.rows[0][column] if report.rows else 0
        assert Decimal(str(value)) == Decimal(str(expected(owners))), (user, text)


def test_a_custom_report_grouped_by_owner_shows_only_the_scope(shop, tmp_path):
    path = report_file(
        tmp_path,
        "by-owner",
        'view = "contacts"\ndimensions = ["owner"]\nmeasures = [{ name = "n", agg = "count" }]\n',
    )
    api = shop.plugin("analytics")
    with shop.as_user("ana"):
        api.save(path)
        mine = api.run("by-owner")
    assert [(r["owner"], r["n"]) for r in mine.rows] == [("ana", expected_sales({"ana"})["contacts"])]
    assert {r["owner"] for r in api.run("by-owner").rows} == {"ana", "luis"}


def _system() -> Any:
    from contextlib import nullcontext

    return nullcontext()


# -- custom reports: who creates, edits and removes -----------------------------------


def test_a_saved_report_records_the_acting_user_and_replacing_needs_edit(shop, tmp_path, crm_user):
    from crm_analytics.models import SavedReport

    path = report_file(tmp_path, "deals", 'view = "sales"\nmeasures = [{ name = "n", agg = "count" }]\n')
    api = shop.plugin("analytics")
    shop.authz.roles.add("author", permissions=["analytics.reports.run", "analytics.reports.create"])
    crm_user(shop, name="olga", roles=["author"])
    with shop.as_user("olga"):
        api.save(path)
        with pytest.raises(PermissionDenied, match="analytics.reports.edit"):
            api.save(path, replace=True)
        with pytest.raises(PermissionDenied, match="analytics.reports.edit"):
            api.remove("deals")
    with shop.activate():
        assert SavedReport.get(SavedReport.name == "deals").created_by == "olga"


def test_a_saved_report_is_changed_only_within_the_editors_scope(shop, tmp_path):
    api = shop.plugin("analytics")
    path = report_file(tmp_path, "anas", 'view = "sales"\nmeasures = [{ name = "n", agg = "count" }]\n')
    with shop.as_user("ana"):
        api.save(path)
    for user in ("luis", "nobody"):  # another seller (scope own); no roles at all
        with shop.as_user(user):
            with pytest.raises(PermissionDenied, match="analytics.reports.edit"):
                api.remove("anas")
            with pytest.raises(PermissionDenied, match="analytics.reports.(edit|create)"):
                api.save(path, replace=True)
    with shop.as_user("luis"):
        assert api.run("anas").rows == ({"n": sum(1 for s in SALES if owner_of(s[1]) == "luis")},)  # runs it, his rows
    with shop.as_user("ana"):
        api.save(path, replace=True)  # her own
    with shop.as_user("sam"):  # support in ana's team
        api.remove("anas")
    assert "anas" not in api.definitions()
    api.save(path)  # saved by the system: owned by nobody, so only scope all changes it
    with shop.as_user("ana"):
        with pytest.raises(PermissionDenied, match="owned by nobody"):
            api.remove("anas")
    api.remove("anas")


# -- scheduled reports run as their run_as user ----------------------------------------


def _mailed_table(crm: Any, key: str) -> str:
    """The report's table in the message's text (the CSV attached holds the same rows)."""
    text = crm.mail.get(key).text
    return text.split("\n\n")[1]


def test_a_scheduled_report_counts_what_its_run_as_user_may_read(shop):
    api = shop.plugin("analytics")
    when = dt.datetime(2025, 4, 7, 8, tzinfo=UTC)
    system = api.send("weekly", when)
    as_ana = api.send("ana-weekly", when)
    everyone, anas = _mailed_table(shop, system["key"]), _mailed_table(shop, as_ana["key"])
    assert "luis" in everyone and "ana" in everyone
    assert "luis" not in anas and "ana" in anas
    assert as_ana["rows"] < system["rows"]
    assert {r["name"]: r["run_as"] for r in api.schedules()} == {
        "weekly": None,
        "ana-weekly": "ana",
        "vera-weekly": "vera",
    }


def test_sending_a_schedule_needs_its_permission_and_run_as_must_be_allowed_to_export(shop):
    api = shop.plugin("analytics")
    when = dt.datetime(2025, 4, 7, 8, tzinfo=UTC)
    with shop.as_user("sam"):  # support: no analytics.schedules.send
        with pytest.raises(PermissionDenied, match="analytics.schedules.send"):
            api.send("ana-weekly", when)
    # read-only runs reports but may not export them: the mail carries the CSV
    with pytest.raises(PermissionDenied, match="'vera' may not analytics.reports.export"):
        api.send("vera-weekly", when)
    assert shop.mail.list(limit=10) == []


# -- the command line ------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "command", "permission"),
    [
        ("nobody", ["sales", "--from", FROM, "--to", TO], "analytics.reports.run"),
        ("rita", ["sales", "--from", FROM, "--to", TO], "warehouse.sales.read"),  # runs reports, reads no sales
        ("sam", ["sales", "--from", FROM, "--to", TO, "--format", "csv"], "analytics.reports.export"),
        ("ana", ["send", "weekly"], "analytics.schedules.send"),
    ],
)
def test_the_cli_refuses_a_user_in_one_line(shop, crm_cli, user, command, permission):
    result = crm_cli.invoke(["--as", user, "reports", *command], app=shop)
    assert result.exit_code == 6
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and permission in lines[0] and f"'{user}'" in lines[0]
    assert "Traceback" not in result.output


def test_the_cli_runs_a_report_in_the_users_scope(shop, crm_cli):
    result = crm_cli.invoke(
        ["--as", "ana", "reports", "sales", "--from", FROM, "--to", TO, "--by", "owner", "--format", "csv"], app=shop
    )
    assert result.exit_code == 0, result.output
    assert {row["owner"] for row in csv.DictReader(io.StringIO(result.output))} == {"ana"}
