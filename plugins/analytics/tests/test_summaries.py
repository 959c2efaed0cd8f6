"""The standard reports read from the warehouse's summary tables give exactly the rows the reporting tables give.

Every report is run twice on the same database: by the app under test,
which reads the summary tables where it may, and by a twin app with
``plugins.analytics.summaries = false``, which reads the reporting tables
(the computation the other tests check by hand). The data is the fixed set
of conftest.py plus a seeded history of changes made through the plugins'
APIs: sales added, moved, changed (amount, currency, region, owner, kind),
closed late or before they were created, reopened; contacts changed,
deleted, restored, merged; survey invitations and answers (some answered
again, some out of order); staff actions logged late. The comparisons run
after each stage of it, over ranges that do and do not fall on month
boundaries, for every grouping, filter and period, for users of each scope.

Runs on every configured backend.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from crm_core.testing import statements

UTC = dt.UTC
PLUGINS = ["contacts", "warehouse", "analytics"]
RANGES = [
    ("2025-01-01", "2025-06-30"),
    ("2024-11-17", "2025-05-09"),
    ("2025-03-31", "2025-03-31"),
    (None, "2025-09-30"),
]
SUMMARY_TABLES = (
    "warehouse_sales_summary",
    "warehouse_open_sales_summary",
    "warehouse_pipeline_summary",
    "warehouse_status_summary",
    "warehouse_activity_summary",
    "warehouse_survey_summary",
)


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def pair(analytics_app: Callable[..., Any], crm_clock: Any, fill: Callable[..., Any]) -> Iterator[tuple[Any, Any]]:
    """``(app, twin)``: the fixed data set in Europe/Madrid; the twin reads the same database without summaries."""
    crm = analytics_app()
    crm.ids = fill(crm, crm_clock)
    crm.authz.users.add("ana", roles=["sales"])
    crm.authz.users.add("marta", roles=["manager"])
    crm.authz.users.add("luis", roles=["sales"])
    twin = analytics_app(settings={"analytics": {"summaries": False}})
    yield crm, twin


def same(crm: Any, twin: Any, name: str, start: Any, end: Any, *, summed: bool = True, **options: Any) -> Any:
    """Run report ``name`` on both apps; the reports must be equal, and the app must (or must not) read a summary."""
    with statements(crm) as sql:
        got = crm.plugin("analytics").run(name, start, end, **options)
    want = twin.plugin("analytics").run(name, start, end, **options)
    where = f"{name} {start}..{end} {options}"
    assert got.columns == want.columns, where
    assert got.rows == want.rows, where
    assert got.notes == want.notes and got.periods == want.periods, where
    read = any(table in text for text in sql for table in SUMMARY_TABLES)
    assert read is summed, f"{where}: read the summary tables: {read}"
    return got


def every_report(crm: Any, twin: Any, *, sellers_too: bool = True) -> int:
    """Compare every report over every range and option; return how many rows were compared."""
    rows = 0
    for start, end in RANGES:
        for period in ("week", "month", "quarter", "year", "all"):
            rows += len(same(crm, twin, "closed-share", start, end, period=period).rows)
            rows += len(same(crm, twin, "sales", start, end, period=period).rows)
            rows += len(same(crm, twin, "surveys", start, end, period=period).rows)
            rows += len(same(crm, twin, "customers", start, end, period=period).rows)
            rows += len(same(crm, twin, "staff", start, end, period=period).rows)
        rows += len(same(crm, twin, "pipeline", start, end).rows)
        for by in (["region"], ["owner"], ["product_line"], ["kind"], ["kind", "owner"]):
            rows += len(same(crm, twin, "closed-share", start, end, by=by, period="month").rows)
            rows += len(same(crm, twin, "sales", start, end, by=by).rows)
        for options in ({"currency": "EUR"}, {"kind": ["sale"]}, {"region": ["north"]}, {"owner": ["ana"]}):
            rows += len(same(crm, twin, "closed-share", start, end, **options).rows)
            rows += len(same(crm, twin, "sales", start, end, by=[], **options).rows)
        # two of region, owner and product line: no summary keeps both, the facts answer
        rows += len(same(crm, twin, "sales", start, end, by=["region", "owner"], summed=False).rows)
        rows += len(same(crm, twin, "closed-share", start, end, by=["region"], owner=["ana"], summed=False).rows)
        rows += len(same(crm, twin, "pipeline", start, end, currency="GBP").rows)
        for by in ([], ["country"], ["region", "country"], ["country", "region"]):
            rows += len(same(crm, twin, "customers", start, end, by=by).rows)
        rows += len(same(crm, twin, "surveys", start, end, by_region=False).rows)
        rows += len(
            same(crm, twin, "surveys", start, end, survey=7, nps_question=["satisfaction"], csat_question=["nps"]).rows
        )
        rows += len(same(crm, twin, "staff", start, end, member=["luis", "(nobody)"]).rows)
    if sellers_too:
        rows += sellers(crm, twin)
    return rows


def sellers(crm: Any, twin: Any) -> int:
    """A seller (scope own) and a manager: sales summaries keep the owner, the others are read whole only."""
    rows = 0
    for name, role in (("ana", "sales"), ("marta", "manager")):
        with crm.as_user(name), twin.as_user(name):
            own = role == "sales"
            for start, end in RANGES[:2]:
                rows += len(same(crm, twin, "closed-share", start, end).rows)
                rows += len(same(crm, twin, "closed-share", start, end, by=["owner"], period="month").rows)
                rows += len(same(crm, twin, "sales", start, end, summed=not own).rows)
                rows += len(same(crm, twin, "sales", start, end, by=[]).rows)
                rows += len(same(crm, twin, "pipeline", start, end).rows)  # the open value: owner rows
                for name_ in ("surveys", "customers", "staff"):
                    rows += len(same(crm, twin, name_, start, end, summed=not own).rows)
    return rows


def test_the_fixed_data_set_reads_the_same_from_the_summaries(pair):
    crm, twin = pair
    assert every_report(crm, twin) > 300


def test_a_busy_history_reads_the_same_after_every_stage(pair, crm_clock):
    crm, twin = pair
    ids = crm.ids
    history = Busy(crm, crm_clock, ids)
    for stage in history.stages():
        assert every_report(crm, twin, sellers_too=stage == "merged") > 0, stage


def test_fiscal_quarters_and_another_time_zone(analytics_app, crm_clock, fill):
    crm = analytics_app(timezone="America/New_York", settings={"analytics": {"fiscal_year_start": 4}})
    fill(crm, crm_clock)
    twin = analytics_app(
        timezone="America/New_York", settings={"analytics": {"fiscal_year_start": 4, "summaries": False}}
    )
    for period in ("quarter", "year", "week"):
        for name in ("closed-share", "sales", "surveys", "customers", "staff"):
            same(crm, twin, name, "2024-12-15", "2025-08-10", period=period)


def test_the_open_value_weighs_each_stage_by_the_probability_configured_now(pair, analytics_app, crm_clock):
    crm, _ = pair
    crm_clock.set(at(2025, 7, 20, 9))
    sales = crm.plugin("warehouse").sales
    sales.move(sales.add("sale", crm.ids["A"], amount="70").id, "negotiation")
    # the pipeline changes, the facts are not rewritten: a stage still named is weighed as configured now, one no
    # longer named by the probability stored with its facts
    pipeline = {"stages": ["new", "qualified", "proposal", "won", "lost"],
                "probabilities": {"new": 0.2, "qualified": 0.3, "proposal": 0.9}}  # fmt: skip
    now = analytics_app(settings={"warehouse": {"pipeline": pipeline}})
    raw = analytics_app(settings={"warehouse": {"pipeline": pipeline}, "analytics": {"summaries": False}})
    report = same(now, raw, "pipeline", "2025-01-01", "2025-07-31")
    weighted = {row["stage"]: row.get("weighted_EUR") for row in report.rows}
    assert str(weighted["proposal"]) == "270.00" and str(weighted["negotiation"]) == "52.50"


def test_incomplete_summaries_or_another_time_zone_are_not_read_and_the_report_says_so(pair):
    crm, twin = pair
    with crm.activate():
        crm.database.execute_sql(f"UPDATE warehouse_summary_state SET timezone = {crm.database.param}", ("UTC",))
    report = crm.plugin("analytics").customers("2025-01-01", "2025-06-30")
    assert any("count days in UTC, not in the app's time zone (Europe/Madrid)" in n for n in report.notes)
    assert report.rows == twin.plugin("analytics").customers("2025-01-01", "2025-06-30").rows
    # the sales summaries count the facts' dates, which the time zone does not change
    same(crm, twin, "sales", "2025-01-01", "2025-06-30")
    with crm.activate():
        crm.database.execute_sql(f"UPDATE warehouse_summary_state SET complete = {crm.database.param}", (False,))
    report = crm.plugin("analytics").sales("2025-01-01", "2025-06-30")
    assert any("run 'crm warehouse summaries --rebuild'" in n for n in report.notes)
    assert report.rows == twin.plugin("analytics").sales("2025-01-01", "2025-06-30").rows
    crm.plugin("warehouse").rebuild_summaries()
    assert (
        same(crm, twin, "customers", "2025-01-01", "2025-06-30").notes
        == twin.plugin("analytics").customers("2025-01-01", "2025-06-30").notes
    )


class Busy:
    """A seeded history of changes, through the APIs, in stages (each ends where the reports are compared)."""

    REGIONS = ("north", "south", "east", None)
    OWNERS = ("ana", "luis", "marta")
    LINES = ("boilers", "pumps", None)
    CURRENCIES = ("EUR", "GBP", "JPY")

    def __init__(self, crm: Any, clock: Any, ids: dict[str, int]) -> None:
        self.crm, self.clock, self.ids = crm, clock, ids
        self.rng = random.Random(18)
        self.contacts = crm.plugin("contacts")
        self.sales = crm.plugin("warehouse").sales
        self.actions = crm.plugin("warehouse").actions
        self.people = [ids["A"], ids["B"], ids["C"]]
        self.records: list[int] = [ids[f"s{i}"] for i in range(1, 7)]
        self.response = 100

    def moments(self, n: int, start: dt.datetime, days: int) -> list[dt.datetime]:
        edges = [at(2025, 3, 30, 0, 59), at(2025, 3, 31, 22, 30), at(2024, 12, 31, 23, 30), at(2025, 6, 30, 22, 0)]
        spread = [start + dt.timedelta(minutes=self.rng.randrange(days * 1440)) for _ in range(n)]
        return sorted([e for e in edges if start <= e < start + dt.timedelta(days=days)] + spread)

    def stages(self) -> Iterator[str]:
        rng = self.rng
        for when in self.moments(8, at(2024, 10, 1), 60):
            self.clock.set(when)
            self.people.append(
                self.contacts.create(
                    first_name=f"P{len(self.people)}", region=rng.choice(self.REGIONS), country=rng.choice(["ES", "FR"]),
                    status=rng.choice(["prospect", "customer", "former"]), owner=rng.choice(self.OWNERS),
                ).id
            )  # fmt: skip
        for when in self.moments(40, at(2024, 11, 1), 330):
            self.clock.set(when)
            self.step(when)
        yield "changed"
        self.survey_edges()
        yield "invitations"
        # late corrections: closed on a past day (in another quarter), or before it was created
        for record in self.records[:10]:
            self.clock.set(self.clock.now() + dt.timedelta(hours=3))
            sale = self.sales.get(record)
            if sale.stage in ("won", "lost"):
                self.sales.move(record, "qualified", reopen=True)
            self.sales.close(
                record, won=rng.random() < 0.5, closed_on=rng.choice(["2024-12-31", "2025-01-01", "2024-09-30"])
            )
        self.clock.set(at(2025, 9, 1, 9))
        # a customer who only moves region is neither gained nor lost
        self.contacts.update(self.ids["A"], region="west")
        self.actions.log(
            "call", contact_id=self.people[3], author="luis", subject="Late", occurred_at=at(2025, 2, 28, 23, 30)
        )
        yield "late"
        self.contacts.delete(self.people[4])
        self.contacts.restore(self.people[4])
        self.contacts.delete(self.people[5])
        self.contacts.merge(self.people[6], self.people[7])
        yield "merged"
        self.contacts.unmerge(self.people[7])
        yield "unmerged"

    def survey_edges(self) -> None:
        """Invitations answered at the window's edge, or answered for another survey only."""
        from crm_hookspecs.events import SurveyAnswered, SurveySent

        sent = at(2025, 4, 10, 8)
        p, q, r = self.people[8], self.people[9], self.people[10]
        self.clock.set(sent)
        with self.crm.transaction():
            for person, survey in ((p, 8), (p, 7), (q, 7), (r, 7)):
                self.crm.emit(SurveySent(survey_id=survey, version=1, contact_id=person))
        for person, survey, later in (
            (p, 7, dt.timedelta(days=2)),  # p's invitation to survey 8 stays unanswered
            (q, 7, dt.timedelta(days=30)),  # exactly 30 days: outside the window
            (r, 7, dt.timedelta(days=29, hours=23, minutes=59)),
        ):
            self.response += 1
            self.clock.set(sent + later)
            with self.crm.transaction():
                self.crm.emit(SurveyAnswered(survey_id=survey, version=1, contact_id=person,
                                             response_id=self.response, scores={"recommend": 9}))  # fmt: skip

    def step(self, when: dt.datetime) -> None:
        from crm_hookspecs.events import SurveyAnswered, SurveySent, TaskCompleted

        rng = self.rng
        op = rng.randrange(9)
        person = rng.choice(self.people)
        if op <= 1:
            currency = rng.choice(self.CURRENCIES)
            amount = str(rng.randrange(1, 5000)) + ("" if currency == "JPY" else f".{rng.randrange(100):02d}")
            self.records.append(
                self.sales.add(
                    rng.choice(["sale", "quote", "rfq"]), person, amount=amount, currency=currency,
                    owner=rng.choice(self.OWNERS), region=rng.choice(self.REGIONS), product_line=rng.choice(self.LINES),
                ).id
            )  # fmt: skip
        elif op == 2:
            record = self.sales.get(rng.choice(self.records))
            if record.stage not in ("won", "lost"):
                self.sales.move(record.id, rng.choice(["new", "qualified", "proposal", "negotiation"]))
        elif op == 3:
            record = self.sales.get(rng.choice(self.records))
            if record.stage in ("won", "lost"):
                self.sales.move(record.id, "proposal", reopen=True)
            else:
                self.sales.close(record.id, won=rng.random() < 0.6)
        elif op == 4:
            record = self.sales.get(rng.choice(self.records))
            currency = rng.choice(["EUR", "GBP"])
            self.sales.update(
                record.id, currency=currency, amount=f"{rng.randrange(1, 900)}.50", region=rng.choice(self.REGIONS),
                owner=rng.choice(self.OWNERS), kind=rng.choice(["sale", "quote"]), product_line=rng.choice(self.LINES),
            )  # fmt: skip
        elif op == 5:
            changes = rng.choice(
                [{"status": "customer"}, {"status": "former"}, {"region": rng.choice(["north", "west"])}]
            )
            self.contacts.update(person, **changes)
        elif op == 6:
            with self.crm.transaction():
                self.crm.emit(SurveySent(survey_id=rng.choice([7, 8]), version=1, contact_id=person))
        elif op == 7:
            self.response += 1
            response = rng.choice([self.response, 101])  # 101 answered again, now and then
            late = when - dt.timedelta(days=rng.choice([0, 0, 40]))  # an answer that arrives after later ones
            with self.crm.transaction():
                self.crm.emit(SurveyAnswered(
                    survey_id=rng.choice([7, 8]), version=1, contact_id=person, response_id=response,
                    region=rng.choice(self.REGIONS), occurred_at=late,
                    scores={"recommend": rng.randrange(11), "satisfaction": rng.randrange(1, 6)},
                ))  # fmt: skip
        else:
            if rng.random() < 0.5:
                self.actions.log(rng.choice(["call", "meeting", "note", "email"]), contact_id=person,
                                 author=rng.choice(self.OWNERS), subject="Follow-up")  # fmt: skip
            else:
                with self.crm.transaction():
                    self.crm.emit(TaskCompleted(task_id=rng.randrange(1000), kind="call",
                                                assignee=rng.choice(self.OWNERS), actor=rng.choice([None, "ana"])))  # fmt: skip
