"""Analytics: every standard report over 1,000,000 sales and 1,000,000 contacts on SQLite, against hand-written SQL.

The reporting tables are filled directly (bulk inserts of generated rows):
1,000,000 sales facts, 1,000,000 contacts' status intervals (a fifth of
them with a second interval), 300,000 stage moves, 200,000 staff actions
and completed tasks, 100,000 survey invitations and 200,000 answers in the
event store and the survey tables (``--quick``: a tenth). Each report runs
through ``crm.plugin("analytics")`` and as the SQL one would write by hand
for the same answer (SQLite's ``strftime`` for date columns, a flat ``CASE``
on the UTC boundaries of local quarters for datetime columns), in
alternation, and the medians are compared (target: at most 1.2x). The
answers are checked to agree.

The tables are filled around the warehouse, so its summary tables are
then added up with ``rebuild_summaries()`` (timed, as ``crm warehouse
summaries --rebuild`` would); each report runs as configured by default
(reading the summaries) and, from a second app on the same database with
``plugins.analytics.summaries = false``, over the reporting tables.

    python -m bench.bench_analytics [--quick] [--repeat N]
"""

from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
from pathlib import Path
from typing import Any

from bench._timing import Figure, median, parse_args, print_table, section, timed

FROM, TO = dt.date(2024, 1, 1), dt.date(2025, 12, 31)
TZ = "Europe/Madrid"


def _fill(crm: Any, n_sales: int, n_contacts: int) -> None:
    from crm_core.storage import bulk_insert

    rng = random.Random(7)
    day0 = dt.date(2023, 10, 1)
    regions = [f"region-{i}" for i in range(20)]
    owners = [f"staff-{i}" for i in range(30)]
    stages = ["new", "qualified", "proposal", "negotiation"]

    def sales():
        for i in range(1, n_sales + 1):
            created = day0 + dt.timedelta(days=rng.randrange(800))
            r = rng.random()
            outcome = "open" if r < 0.3 else ("won" if r < 0.6 else "lost")
            closed = created + dt.timedelta(days=rng.randrange(120)) if outcome != "open" else None
            stage = rng.choice(stages) if outcome == "open" else outcome
            yield (
                i,
                "sale",
                rng.randrange(1, n_contacts + 1),
                rng.choice(regions),
                rng.choice(owners),
                rng.choice(["a", "b", None]),
                f"{rng.randrange(100, 100000)}.00",
                rng.choice(["EUR", "EUR", "EUR", "GBP"]),
                stage,
                0.5,
                outcome,
                None if outcome == "open" else outcome == "won",
                created.isoformat(),
                "2000-Q1",
                (created + dt.timedelta(days=90)).isoformat(),
                closed.isoformat() if closed else None,
                None,
                "2026-01-01 00:00:00",
            )

    def status():
        for c in range(1, n_contacts + 1):
            start = dt.datetime(2023, 10, 1) + dt.timedelta(minutes=rng.randrange(800 * 1440))
            region = rng.choice(regions)
            country = rng.choice(["ES", "FR", "DE", "GB"])
            if c % 5 == 0:
                change = start + dt.timedelta(days=rng.randrange(1, 200))
                yield (
                    c,
                    "prospect",
                    region,
                    country,
                    False,
                    start.strftime("%Y-%m-%d %H:%M:%S"),
                    change.strftime("%Y-%m-%d %H:%M:%S"),
                    "e",
                )
                yield (c, "customer", region, country, False, change.strftime("%Y-%m-%d %H:%M:%S"), None, "e")
            else:
                yield (
                    c,
                    rng.choice(["prospect", "customer", "former"]),
                    region,
                    country,
                    False,
                    start.strftime("%Y-%m-%d %H:%M:%S"),
                    None,
                    "e",
                )

    n_moves, n_staff, n_sent, n_answers = n_sales * 3 // 10, n_sales // 5, n_sales // 10, n_sales // 5

    def events():
        eid = 0

        def ev(type_, at, actor, payload):
            nonlocal eid
            eid += 1
            return (
                eid,
                f"e{eid}",
                type_,
                "other",
                at.strftime("%Y-%m-%d %H:%M:%S"),
                actor,
                "staff",
                json.dumps(payload),
                "2026-01-01 00:00:00",
            )

        for i in range(n_moves // 3):
            at = dt.datetime(2023, 10, 1) + dt.timedelta(minutes=rng.randrange(700 * 1440))
            for k, stage in enumerate(("new", "qualified", rng.choice(["proposal", "won", "lost"]))):
                yield ev("StageChanged", at + dt.timedelta(days=10 * k), None, {"record_id": i + 1, "new_stage": stage})
        for _ in range(n_staff):
            at = dt.datetime(2023, 10, 1) + dt.timedelta(minutes=rng.randrange(800 * 1440))
            if rng.random() < 0.8:
                yield ev(
                    "StaffActionLogged",
                    at,
                    rng.choice(owners),
                    {"kind": rng.choice(["call", "meeting", "note", "email"])},
                )
            else:
                yield ev(
                    "TaskCompleted", at, rng.choice(owners + [None]), {"kind": "call", "assignee": rng.choice(owners)}
                )
        for _ in range(n_sent):
            at = dt.datetime(2023, 10, 1) + dt.timedelta(minutes=rng.randrange(800 * 1440))
            yield ev("SurveySent", at, None, {"survey_id": 1, "contact_id": rng.randrange(1, n_contacts + 1)})

    def responses():
        for r in range(1, n_answers // 2 + 1):
            at = dt.datetime(2023, 10, 1) + dt.timedelta(minutes=rng.randrange(800 * 1440))
            yield (
                r,
                1,
                1,
                rng.randrange(1, n_contacts + 1),
                False,
                rng.choice(regions),
                at.strftime("%Y-%m-%d %H:%M:%S"),
                at.date().isoformat(),
                "2000-Q1",
                "{}",
                "e",
            )

    with crm.transaction():
        bulk_insert(
            "warehouse_sales_fact",
            [
                "sale_id",
                "kind",
                "contact_id",
                "region",
                "owner",
                "product_line",
                "amount",
                "currency",
                "stage",
                "probability",
                "outcome",
                "won",
                "created_on",
                "created_quarter",
                "expected_close_on",
                "closed_on",
                "closed_quarter",
                "updated_at",
            ],
            sales(),
        )
        bulk_insert(
            "warehouse_contact_status",
            ["contact_id", "status", "region", "country", "deleted", "valid_from", "valid_to", "event_id"],
            status(),
        )
        bulk_insert(
            "warehouse_event",
            ["id", "event_id", "type", "kind", "occurred_at", "actor", "channel", "payload", "stored_at"],
            events(),
        )
        bulk_insert(
            "warehouse_survey_response",
            [
                "response_id",
                "survey_id",
                "version",
                "contact_id",
                "negative",
                "region",
                "answered_at",
                "answered_on",
                "answered_quarter",
                "scores",
                "event_id",
            ],
            responses(),
        )
        db = crm.database
        from crm_core.storage import dialect

        def score(n: int) -> str:
            # a random whole score 0..n-1 (bench_desk_reports fills PostgreSQL too)
            return f"abs(random()) % {n}" if dialect(db) == "sqlite" else f"CAST(floor(random() * {n}) AS INTEGER)"

        db.execute_sql(
            "INSERT INTO warehouse_survey_answer_fact (response_id, question, survey_id, version, contact_id, score, negative, region, answered_at, answered_on, answered_quarter) "
            f"SELECT response_id, 'recommend', survey_id, version, contact_id, {score(11)}, negative, region, answered_at, answered_on, answered_quarter FROM warehouse_survey_response"
        )
        db.execute_sql(
            "INSERT INTO warehouse_survey_answer_fact (response_id, question, survey_id, version, contact_id, score, negative, region, answered_at, answered_on, answered_quarter) "
            f"SELECT response_id, 'satisfaction', survey_id, version, contact_id, 1 + {score(5)}, negative, region, answered_at, answered_on, answered_quarter FROM warehouse_survey_response"
        )
    crm.database.execute_sql("ANALYZE")


def _summarise(crm: Any) -> float:
    """Add up the summary tables of the tables ``_fill`` wrote around the warehouse; the seconds it took."""
    seconds, _ = timed(lambda: crm.plugin("warehouse").rebuild_summaries())
    crm.database.execute_sql("ANALYZE")
    return seconds


def _quarter_case(column: str, crm: Any) -> str:
    """A flat CASE on the UTC instants of local quarter starts: what one writes by hand on SQLite (no time zones)."""
    from crm_analytics.periods import split, utc_bounds

    periods = split(FROM, TO, "quarter")
    bounds = utc_bounds([p.start for p in periods] + [periods[-1].end], crm.tz)
    text = [f"WHEN {column} < '{b:%Y-%m-%d %H:%M:%S}' THEN '{p.label}'" for p, b in zip(periods, bounds[1:])]
    return (
        f"CASE {' '.join(text)} END",
        bounds[0].strftime("%Y-%m-%d %H:%M:%S"),
        bounds[-1].strftime("%Y-%m-%d %H:%M:%S"),
    )


DATE_Q = "strftime('%Y', {c}) || '-Q' || ((CAST(strftime('%m', {c}) AS INTEGER) + 2) / 3)"


def _hand(crm: Any) -> dict[str, Any]:
    """The hand-written SQL of each report (the same answers), as functions returning their rows."""
    db = crm.database
    q = lambda sql, *p: db.execute_sql(sql, p).fetchall()  # noqa: E731
    f, t, stop = FROM.isoformat(), TO.isoformat(), (TO + dt.timedelta(days=1)).isoformat()

    def closed_share():
        closed = q(
            f"SELECT {DATE_Q.format(c='closed_on')} p, currency, outcome, COUNT(*), SUM(amount) FROM warehouse_sales_fact "
            "WHERE outcome IN ('won','lost') AND closed_on >= ? AND closed_on <= ? GROUP BY p, currency, outcome",
            f,
            t,
        )
        entered = q(
            f"SELECT CASE WHEN created_on < ? THEN 'before' ELSE {DATE_Q.format(c='created_on')} END p, currency, COUNT(*), SUM(amount) "
            "FROM warehouse_sales_fact WHERE created_on <= ? GROUP BY p, currency",
            f,
            t,
        )
        left = q(
            f"SELECT CASE WHEN max(closed_on, created_on) < ? THEN 'before' ELSE {DATE_Q.format(c='max(closed_on, created_on)')} END p, currency, COUNT(*), SUM(amount) "
            "FROM warehouse_sales_fact WHERE closed_on IS NOT NULL AND max(closed_on, created_on) <= ? GROUP BY p, currency",
            f,
            t,
        )
        return closed, entered, left

    def sales():
        return q(
            f"SELECT {DATE_Q.format(c='closed_on')} p, region, currency, COUNT(*), SUM(amount) FROM warehouse_sales_fact "
            "WHERE outcome = 'won' AND closed_on >= ? AND closed_on <= ? GROUP BY p, region, currency",
            f,
            t,
        )

    def pipeline():
        value = q(
            "SELECT stage, currency, COUNT(*), SUM(amount), SUM(amount * CASE stage WHEN 'new' THEN 0.1 WHEN 'qualified' THEN 0.25 "
            "WHEN 'proposal' THEN 0.5 WHEN 'negotiation' THEN 0.75 WHEN 'won' THEN 1.0 WHEN 'lost' THEN 0.0 ELSE probability END) "
            "FROM warehouse_sales_fact WHERE outcome = 'open' GROUP BY stage, currency"
        )
        reach = q(
            "SELECT m.furthest, COUNT(*) FROM (SELECT json_extract(payload, '$.record_id') rid, MAX(CASE json_extract(payload, '$.new_stage') "
            "WHEN 'new' THEN 0 WHEN 'qualified' THEN 1 WHEN 'proposal' THEN 2 WHEN 'negotiation' THEN 3 WHEN 'won' THEN 4 END) furthest "
            "FROM warehouse_event WHERE type = 'StageChanged' GROUP BY rid) m JOIN warehouse_sales_fact f ON f.sale_id = m.rid "
            "WHERE f.created_on >= ? AND f.created_on < ? AND m.furthest IS NOT NULL GROUP BY m.furthest",
            f,
            stop,
        )
        days = q(
            "SELECT s.stage, COUNT(*), AVG((julianday(s.left_at) - julianday(s.entered)) * 86400.0) FROM (SELECT json_extract(payload, '$.record_id') rid, "
            "json_extract(payload, '$.new_stage') stage, occurred_at entered, LEAD(occurred_at) OVER (PARTITION BY json_extract(payload, '$.record_id') "
            "ORDER BY occurred_at, id) left_at FROM warehouse_event WHERE type = 'StageChanged') s JOIN warehouse_sales_fact f ON f.sale_id = s.rid "
            "WHERE f.created_on >= ? AND f.created_on < ? AND s.left_at IS NOT NULL GROUP BY s.stage",
            f,
            stop,
        )
        return value, reach, days

    def surveys():
        case, lo, hi = _quarter_case("answered_at", crm)
        answers = q(
            f"SELECT {case} p, region, SUM(question = 'recommend'), SUM(question = 'recommend' AND score >= 9), SUM(question = 'recommend' AND score <= 6), "
            f"SUM(question = 'satisfaction'), SUM(question = 'satisfaction' AND score >= 4) FROM warehouse_survey_answer_fact "
            "WHERE question IN ('recommend', 'satisfaction') AND answered_at >= ? AND answered_at < ? GROUP BY p, region",
            lo,
            hi,
        )
        responses = q(
            f"SELECT {case} p, region, COUNT(*) FROM warehouse_survey_response WHERE answered_at >= ? AND answered_at < ? GROUP BY p, region",
            lo,
            hi,
        )
        ecase = case.replace("answered_at", "e.occurred_at")
        invited = q(
            f"SELECT {ecase} p, s.region, COUNT(*), SUM(EXISTS (SELECT 1 FROM warehouse_survey_response r WHERE r.contact_id = json_extract(e.payload, '$.contact_id') "
            "AND r.survey_id = json_extract(e.payload, '$.survey_id') AND r.answered_at >= e.occurred_at AND r.answered_at < datetime(e.occurred_at, '+30 days'))) "
            "FROM warehouse_event e LEFT JOIN warehouse_contact_status s ON s.contact_id = json_extract(e.payload, '$.contact_id') "
            "AND s.valid_from <= e.occurred_at AND (s.valid_to IS NULL OR s.valid_to > e.occurred_at) "
            "WHERE e.type = 'SurveySent' AND e.occurred_at >= ? AND e.occurred_at < ? GROUP BY p, s.region",
            lo,
            hi,
        )
        return answers, responses, invited

    def customers():
        case, lo, hi = _quarter_case("valid_from", crm)
        started = q(
            f"SELECT CASE WHEN valid_from < ? THEN 'before' ELSE {case} END p, status, region, COUNT(*) FROM warehouse_contact_status "
            "WHERE deleted = 0 AND valid_from < ? AND status IN ('customer','prospect','former') GROUP BY p, status, region",
            lo,
            hi,
        )
        ended = q(
            f"SELECT CASE WHEN valid_to < ? THEN 'before' ELSE {case.replace('valid_from', 'valid_to')} END p, status, region, COUNT(*) FROM warehouse_contact_status "
            "WHERE deleted = 0 AND valid_to IS NOT NULL AND valid_to < ? AND status IN ('customer','prospect','former') GROUP BY p, status, region",
            lo,
            hi,
        )
        gained = q(
            f"SELECT {case.replace('valid_from', 's.valid_from')} p, s.region, COUNT(*) FROM warehouse_contact_status s WHERE s.status = 'customer' AND s.deleted = 0 "
            "AND s.valid_from >= ? AND s.valid_from < ? AND NOT EXISTS (SELECT 1 FROM warehouse_contact_status o WHERE o.contact_id = s.contact_id "
            "AND o.valid_to = s.valid_from AND o.status = 'customer' AND o.deleted = 0) GROUP BY p, s.region",
            lo,
            hi,
        )
        lost = q(
            f"SELECT {case.replace('valid_from', 's.valid_to')} p, s.region, COUNT(*) FROM warehouse_contact_status s WHERE s.status = 'customer' AND s.deleted = 0 "
            "AND s.valid_to >= ? AND s.valid_to < ? AND NOT EXISTS (SELECT 1 FROM warehouse_contact_status o WHERE o.contact_id = s.contact_id "
            "AND o.valid_from = s.valid_to AND o.status = 'customer' AND o.deleted = 0) GROUP BY p, s.region",
            lo,
            hi,
        )
        return started, ended, gained, lost

    def staff():
        case, lo, hi = _quarter_case("occurred_at", crm)
        return q(
            f"SELECT {case} p, type, CASE WHEN type = 'StaffActionLogged' THEN json_extract(payload, '$.kind') END k, "
            "COALESCE(actor, CASE WHEN type = 'TaskCompleted' THEN json_extract(payload, '$.assignee') END) who, COUNT(*) FROM warehouse_event "
            "WHERE type IN ('StaffActionLogged', 'TaskCompleted') AND occurred_at >= ? AND occurred_at < ? GROUP BY p, type, k, who",
            lo,
            hi,
        )

    return {
        "closed-share": closed_share,
        "sales": sales,
        "pipeline": pipeline,
        "surveys": surveys,
        "customers": customers,
        "staff": staff,
    }


def _check(name: str, report: Any, hand: Any) -> str:
    """The two answers agree on a total that each report shows."""
    rows = report.rows
    if name == "closed-share":
        ours = sum(r["won"] + r["lost"] for r in rows)
        theirs = sum(c for _, _, _, c, _ in hand[0])
    elif name == "sales":
        ours, theirs = sum(r["sales"] for r in rows), sum(r[3] for r in hand)
    elif name == "pipeline":
        ours, theirs = sum(r["open"] for r in rows), sum(r[2] for r in hand[0])
    elif name == "surveys":
        ours, theirs = sum(r["invited"] for r in rows), sum(r[2] for r in hand[2])
    elif name == "customers":
        ours, theirs = sum(r["gained"] for r in rows), sum(r[2] for r in hand[2])
    else:
        ours, theirs = sum(r["total"] for r in rows), sum(r[4] for r in hand)
    if ours != theirs:
        raise AssertionError(f"{name}: the report says {ours}, the hand-written SQL {theirs}")
    return f"{ours:,}"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv, __doc__.splitlines()[0], lambda p: p.add_argument("--repeat", type=int, default=5))
    n = 100_000 if args.quick else 1_000_000
    repeat = 3 if args.quick else args.repeat
    from crm_core import CRM

    with tempfile.TemporaryDirectory() as folder:
        crm = CRM(
            database=f"sqlite:///{Path(folder) / 'bench.db'}",
            plugins=["contacts", "warehouse", "analytics"],
            timezone=TZ,
            strict=True,
        )
        crm.migrate()
        section(f"filling the reporting tables: {n:,} sales, {n:,} contacts")
        seconds, _ = timed(lambda: _fill(crm, n, n))
        print(f"filled in {seconds:.1f} s")
        with crm.activate():
            print(f"summary tables added up in {_summarise(crm):.1f} s")
        raw = CRM(
            database=f"sqlite:///{Path(folder) / 'bench.db'}",
            plugins=["contacts", "warehouse", "analytics"],
            timezone=TZ,
            strict=True,
            settings={"analytics": {"summaries": False}},
        )
        hand = _hand(crm)
        figures = []
        for app, how in ((crm, ""), (raw, ", reporting tables")):
            analytics = app.plugin("analytics")
            runs = {
                "closed-share": lambda a=analytics: a.closed_share(FROM, TO),
                "sales": lambda a=analytics: a.sales(FROM, TO),
                "pipeline": lambda a=analytics: a.pipeline(FROM, TO),
                "surveys": lambda a=analytics: a.surveys(FROM, TO),
                "customers": lambda a=analytics: a.customers(FROM, TO),
                "staff": lambda a=analytics: a.staff(FROM, TO),
            }
            for name, ours in runs.items():
                figures.append(_compare(crm, f"{name}{how}", name, ours, hand[name], repeat, n))
        raw.close()
        crm.close()
    print_table("Analytics: standard reports on SQLite (medians)", figures)


def _compare(crm: Any, label: str, name: str, ours: Any, theirs: Any, repeat: int, n: int) -> Figure:
    """Time a report against its hand-written SQL, in alternation; check they agree."""
    mine, base = [], []
    report = hand_rows = None
    with crm.activate():
        ours(), theirs()  # warm the page cache for both
        for _ in range(repeat):
            s, report = timed(ours)
            mine.append(s)
            s, hand_rows = timed(theirs)
            base.append(s)
    checked = _check(name, report, hand_rows)
    print(
        f"{label}: plugin {', '.join(f'{s:.3f}' for s in mine)} s; hand-written {', '.join(f'{s:.3f}' for s in base)} s; both count {checked}",
        flush=True,
    )
    return Figure(
        label, median(mine), "s", n=f"{n:,}", baseline=median(base), baseline_name="hand-written SQL", target_ratio=1.2
    )


if __name__ == "__main__":
    main()
