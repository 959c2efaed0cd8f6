"""A PostgreSQL deployment at scale: history, reports, search and event delivery by several workers (issue 19).

The database (``--database``, else ``$CRM_BENCH_POSTGRES_URL``, else
``$CRM_TEST_POSTGRES_URL``; its tables are dropped) is grown in three steps,
a hundredth, a tenth and all of ``--contacts`` people (default 5,000,000)
and ``--events`` warehouse events (default 50,000,000), bulk-loaded with the
fill code of ``bench_desk`` (the contacts tests' generated book) and
``bench_warehouse`` (ten events per contact, written straight into the
store), both through ``crm_core.storage.bulk_insert`` (``COPY`` on
PostgreSQL). At each step, timed in alternation with a baseline (one stored
event read by its key):

* a contact's timeline (newest 50; target < 20 ms median) and its fields as
  of a date (< 50 ms);
* a contact search by e-mail (the contacts plugin's ``search``; < 5 ms, issue 4);

and a growth table shows how each cost moves with the size (flat for
indexed look-ups). At the largest step the standard reports (analytics,
over ``contacts // 10`` sales filled as ``bench_analytics`` fills them) are
checked against the hand-written SQL and timed. Last, **event delivery**:
a backlog of ``--backlog`` events (``ContactChanged`` of random contacts)
is drained by 1, 2 and 4 worker processes (``crm_core.worker.Worker.run``,
what ``crm worker`` runs; ``crm.worker.event_lanes = 4``) to a handler that
records each event id in a table with a unique key: a duplicate fails the
benchmark, and so does an event missing or failed. Target: 2 workers
deliver at least 1.6x the events/s of 1.

``--reuse`` keeps the data of an earlier run made with ``--keep`` (same
sizes) and measures only the largest step; ``--keep`` leaves the tables in
place at the end.

    python -m bench.bench_scale [--quick] [--database URL] [--contacts N] [--events N]
                                [--backlog N] [--samples N] [--repeat N] [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from bench import bench_analytics, bench_desk, bench_warehouse
from bench._timing import Figure, median, parse_args, print_table, section, timed

TIMELINE_TARGET_MS = 20.0
AS_OF_TARGET_MS = 50.0
SEARCH_TARGET_MS = 5.0  # issue 4: searches < 5 ms median
SCALING_TARGET = 1.6
LANES = 4
PLUGINS = ["contacts", "warehouse", "analytics"]
#: the history's event ids start above this: bench_analytics' fill numbers its own events from 1
HISTORY_IDS = 1_000_000_000


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", help="a throw-away PostgreSQL URL (its tables are dropped)")
    parser.add_argument("--contacts", type=int, help="people at the largest step (default 5,000,000; --quick 50,000)")
    parser.add_argument("--events", type=int, help="warehouse events at the largest step (default 50,000,000)")
    parser.add_argument("--backlog", type=int, help="events each delivery run drains (default 200,000; --quick 20,000)")
    parser.add_argument("--samples", type=int, help="look-ups timed per figure and step (default 200; --quick 50)")
    parser.add_argument("--repeat", type=int, help="delivery runs per worker count, alternated (default 3)")
    parser.add_argument("--keep", action="store_true", help="leave the loaded tables in place at the end")
    parser.add_argument("--reuse", action="store_true", help="measure the data a --keep run left (largest step only)")


# -- the database --------------------------------------------------------------------


def _url(args: argparse.Namespace) -> str:
    url = args.database or os.environ.get("CRM_BENCH_POSTGRES_URL") or os.environ.get("CRM_TEST_POSTGRES_URL")
    if not url or not url.startswith("postgres"):
        raise SystemExit(
            "bench_scale needs a PostgreSQL database: --database URL, or $CRM_BENCH_POSTGRES_URL "
            "(make one with: .venv/bin/python .ci/databases.py create crm_bench)"
        )
    return url


def _config(url: str, settings: dict[str, Any] | None = None) -> Any:
    """The configuration of the benchmark's apps: ``url``, the report's time zone, ``LANES`` lanes."""
    from crm_core.config import Config, CoreSettings, structure_section

    core = {"database": url, "timezone": bench_analytics.TZ, "worker": {"event_lanes": LANES}}
    return Config(
        core=structure_section(core, CoreSettings, "bench_scale", "crm"),
        enabled=(),
        plugin_tables=settings or {},
        enabled_source="bench_scale",
    )


def _app(url: str) -> Any:
    from crm_core.app import CRM

    app = CRM(config=_config(url, {"contacts": {"default_region": "ES"}}), plugins=PLUGINS, strict=True)
    app.deliver_events = "worker"  # the delivery benchmark's workers deliver; nothing else here
    return app


def _scalar(app: Any, sql: str, params: tuple[Any, ...] = ()) -> Any:
    with app.activate():
        return app.database.execute_sql(sql, params).fetchone()[0]


def _grow(app: Any, people: int, events: int, have_people: int, have_events: int) -> tuple[float, float]:
    """Add people and history up to the step's sizes; the seconds each load took."""
    rng = random.Random(have_events + 7)
    with app.activate():
        seconds_people, _ = timed(
            lambda: bench_desk._book_helper().fill_book(app.database, people - have_people, duplicates=0.0)
        )
        seconds_events, _ = timed(
            lambda: bench_warehouse._fill_store(
                app,
                events - have_events,
                rng,
                {},
                first_contact=have_events // bench_warehouse.EVENTS_PER_CONTACT + 1,
                first_pk=HISTORY_IDS + have_events,
            )
        )
        app.database.execute_sql("ANALYZE")
    return seconds_people, seconds_events


# -- look-ups ------------------------------------------------------------------------


def _lookups(app: Any, events: int, samples: int) -> dict[str, float]:
    """Median milliseconds of each look-up among ``events`` stored events."""
    rng = random.Random(events)
    contacts = events // bench_warehouse.EVENTS_PER_CONTACT
    warehouse, book = app.plugin("warehouse"), app.plugin("contacts")
    with app.activate():
        low, high = app.database.execute_sql(
            "SELECT MIN(id), MAX(id) FROM contacts_contact WHERE kind = 'person'"
        ).fetchone()
        emails = [
            row[0]
            for row in app.database.execute_sql(
                "SELECT address FROM contacts_email WHERE contact_id = ANY(%s)",
                ([rng.randint(low, high) for _ in range(samples * 2)],),
            ).fetchall()
        ][:samples]
    times: dict[str, list[float]] = {"key": [], "timeline": [], "as_of": [], "search": []}
    entries = 0
    for i in range(samples):
        cid = rng.randint(1, contacts)
        # a day within the contact's history: the fold reads some of its events, not all
        created = _scalar(app, "SELECT MIN(occurred_at) FROM warehouse_event_contact WHERE contact_id = %s", (cid,))
        day = (created + dt.timedelta(days=rng.uniform(1, 90))).date()
        key = HISTORY_IDS + rng.randint(1, events)
        s, _ = timed(
            lambda: _scalar(app, "SELECT length(payload) FROM warehouse_event WHERE id = %s", (key,))  # noqa: B023
        )
        times["key"].append(s * 1000)
        s, found = timed(lambda: warehouse.timeline(cid))  # noqa: B023
        times["timeline"].append(s * 1000)
        entries += len(found)
        s, _ = timed(lambda: warehouse.contact_as_of(cid, day))  # noqa: B023
        times["as_of"].append(s * 1000)
        if i < len(emails):
            s, hits = timed(lambda: book.search(emails[i]))  # noqa: B023
            times["search"].append(s * 1000)
            assert hits, f"searching {emails[i]!r} found nobody"
    assert entries == samples * bench_warehouse.EVENTS_PER_CONTACT, "every timeline holds the contact's ten events"
    return {name: median(values) for name, values in times.items()}


# -- event delivery by worker processes ----------------------------------------------

CHILD = textwrap.dedent(
    """
    import os, sys, time
    from crm_hookspecs import hookimpl
    from crm_core.app import CRM
    from crm_core.config import Config, CoreSettings, structure_section
    from crm_core.worker import Worker

    url, ready, go = sys.argv[1:4]

    class Probe:
        # one row per delivered event; the unique key makes a second delivery fail loudly
        @hookimpl
        def crm_handle_events(self, crm, events):
            pid = os.getpid()
            values = [v for e in events for v in (e.event_id, e.contact_id, pid)]
            crm.database.execute_sql(
                "INSERT INTO bench_seen (event_id, contact_id, pid) VALUES " + ", ".join(["(%s, %s, %s)"] * len(events)),
                values,
            )

    core = {"database": url, "worker": {"event_lanes": __LANES__, "events_interval": 1.0, "poll_interval": 0.2}}
    config = Config(core=structure_section(core, CoreSettings, "worker", "crm"), enabled=())
    app = CRM(config=config, plugins=[("probe", Probe())], strict=True)
    worker = Worker(app)
    with app.activate():
        worker.sync()
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.005)
    worker.run()
    app.close()
    """
).replace("__LANES__", str(LANES))


def _probe_app(url: str) -> Any:
    from crm_core.app import CRM
    from crm_hookspecs import hookimpl

    class Probe:
        @hookimpl
        def crm_handle_events(self, crm: Any, events: Any) -> None:  # never called here: the workers deliver
            raise AssertionError("the benchmark's own process delivered events")

    app = CRM(config=_config(url), plugins=[("probe", Probe())], strict=True)
    app.deliver_events = "worker"
    with app.activate():
        app.database.execute_sql(
            "CREATE TABLE IF NOT EXISTS bench_seen (event_id varchar(64) PRIMARY KEY, contact_id bigint, pid integer)"
        )
    app.events.ensure_cursors()
    return app


def _deliver_once(url: str, app: Any, workers: int, backlog: int, contacts: int, folder: Path) -> float:
    """Emit a backlog, let ``workers`` processes drain it; events/s. Fails on a duplicate, a gap or a failure."""
    from crm_hookspecs.events import ContactChanged
    from crm_hookspecs.records import FieldChange

    rng = random.Random(workers * 1000 + backlog)
    with app.activate():
        app.database.execute_sql("TRUNCATE bench_seen")
        app.database.execute_sql("DELETE FROM crm_job_run")
        app.database.execute_sql("DELETE FROM crm_job")  # each run's workers start on a due occurrence
    events = (
        ContactChanged(contact_id=rng.randint(1, contacts), changes={"n": FieldChange(i, i + 1)})
        for i in range(backlog)
    )
    with app.transaction():
        app.events.emit_many(events)
    script = folder / "worker.py"
    script.write_text(CHILD, encoding="utf-8")
    go = folder / f"go-{workers}-{time.monotonic_ns()}"
    ready = [folder / f"ready-{k}-{go.name}" for k in range(workers)]
    procs = [
        subprocess.Popen([sys.executable, str(script), url, str(r), str(go)], stderr=subprocess.PIPE) for r in ready
    ]
    try:
        deadline = time.monotonic() + 120
        while not all(r.exists() for r in ready):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("a worker did not start: " + "; ".join(_errors(procs)))
            time.sleep(0.01)
        usage, machine = resource.getrusage(resource.RUSAGE_CHILDREN), _machine_cpu()
        start = time.perf_counter()
        go.touch()
        seen = 0
        while seen < backlog:
            time.sleep(0.05)
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("a worker died: " + "; ".join(_errors(procs)))
            seen = _scalar(app, "SELECT COUNT(*) FROM bench_seen")
            if time.perf_counter() - start > 3600:
                raise RuntimeError(f"the backlog was not drained within an hour ({seen:,} of {backlog:,})")
        seconds = time.perf_counter() - start
        busy, cores = (b - a for a, b in zip(machine, _machine_cpu()))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
    failed = _scalar(app, "SELECT COUNT(*) FROM crm_event_failure WHERE handler = 'probe' AND resolved_at IS NULL")
    if failed:
        raise AssertionError(
            f"{failed} event(s) failed in the handler: a duplicate delivery breaks bench_seen's unique key"
        )
    if seen != backlog:
        raise AssertionError(f"{seen:,} events recorded for a backlog of {backlog:,}")
    pending = [s["pending"] for s in app.events.status() if s["handler"] == "probe"]
    if pending != [0]:
        raise AssertionError(f"events left undelivered: {pending}")
    per_worker = _scalar(app, "SELECT COUNT(DISTINCT pid) FROM bench_seen")
    rate = backlog / seconds
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers, once they have exited
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    print(
        f"  {workers} worker(s): {backlog:,} events in {seconds:.2f} s = {rate:,.0f}/s ({per_worker} took part); "
        f"workers' CPU {cpu:.2f} s ({cpu * 1e6 / backlog:.0f} us/event, start-up and exit included); "
        f"the machine's cores {busy / cores:.0%} busy meanwhile (everything on it, the database too)",
        flush=True,
    )
    return rate


def _machine_cpu() -> tuple[float, float]:
    """Jiffies the machine's cores were busy and in all, from ``/proc/stat`` (zeros elsewhere)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return 0.0, 1.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return float(sum(fields) - idle), float(sum(fields))


def _errors(procs: list[subprocess.Popen[bytes]]) -> list[str]:
    out = []
    for p in procs:
        if p.poll() is not None and p.stderr is not None:
            out.append(p.stderr.read().decode(errors="replace")[-2000:])
    return out


def bench_delivery(url: str, backlog: int, contacts: int, repeat: int) -> list[Figure]:
    section(f"event delivery: a backlog of {backlog:,} events, 1, 2 and 4 worker processes, {LANES} lanes")
    print(f"  load average before: {os.getloadavg()[0]:.2f}", flush=True)
    app = _probe_app(url)
    rates: dict[int, list[float]] = {1: [], 2: [], 4: []}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as folder:
            for _ in range(repeat):
                for workers in rates:
                    rates[workers].append(_deliver_once(url, app, workers, backlog, contacts, Path(folder)))
    finally:
        with app.activate():
            app.database.execute_sql("DROP TABLE IF EXISTS bench_seen")
        app.close()
    one = median(rates[1])
    return [
        Figure("delivery, 1 worker", one, "events/s", n=f"{backlog:,}", higher_is_better=True),
        Figure("delivery, 2 workers", median(rates[2]), "events/s", n=f"{backlog:,}", baseline=one,
               baseline_name="1 worker", higher_is_better=True, target_ratio=SCALING_TARGET),
        Figure("delivery, 4 workers", median(rates[4]), "events/s", n=f"{backlog:,}", baseline=one,
               baseline_name="1 worker", higher_is_better=True),
    ]  # fmt: skip


# -- the run -------------------------------------------------------------------------


def _reports(app: Any, contacts: int, key: float, *, fill: bool = True, repeat: int = 3) -> list[Figure]:
    """Each standard report over ``contacts // 10`` sales filled as ``bench_analytics`` fills them, timed.

    ``bench_analytics`` checks the reports against hand-written SQL on
    SQLite; its SQL is SQLite's, so here they are timed alone (median of
    ``repeat`` after a warm-up), against ``key``: the milliseconds of one
    stored event read by its key. ``fill=False`` times the reporting tables
    a ``--keep`` run left.
    """
    n_sales = max(contacts // 10, 1000)
    section(f"standard reports over {n_sales:,} sales among {contacts:,} contacts")
    with app.activate():
        if fill:
            seconds, _ = timed(lambda: bench_analytics._fill(app, n_sales, contacts))
            summed = bench_analytics._summarise(app)
            print(f"  reporting tables filled in {seconds:.1f} s; summaries added up in {summed:.1f} s")
        else:
            n_sales = _scalar(app, "SELECT COUNT(*) FROM warehouse_sales_fact")
    analytics = app.plugin("analytics")
    a, b = bench_analytics.FROM, bench_analytics.TO
    runs = {
        "closed-share": lambda: analytics.closed_share(a, b),
        "sales": lambda: analytics.sales(a, b),
        "pipeline": lambda: analytics.pipeline(a, b),
        "surveys": lambda: analytics.surveys(a, b),
        "customers": lambda: analytics.customers(a, b),
        "staff": lambda: analytics.staff(a, b),
    }
    figures = []
    for name, report in runs.items():
        report()  # warm-up
        times = [timed(report)[0] * 1000 for _ in range(repeat)]
        print(f"  {name}: {', '.join(f'{t:.1f}' for t in times)} ms", flush=True)
        figures.append(Figure(f"report: {name}", median(times), "ms", n=f"{n_sales:,} sales", baseline=key,
                              baseline_name="one event by key"))  # fmt: skip
    return figures


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv, __doc__.splitlines()[0], _add_options)
    url = _url(args)
    contacts = args.contacts or (50_000 if args.quick else 5_000_000)
    events = args.events or contacts * bench_warehouse.EVENTS_PER_CONTACT
    if events // bench_warehouse.EVENTS_PER_CONTACT < 100:
        raise SystemExit("--events must be at least 1,000 (ten per contact)")
    backlog = args.backlog or (20_000 if args.quick else 200_000)
    samples = args.samples or (50 if args.quick else 200)
    repeat = args.repeat or (1 if args.quick else 3)
    from crm_core.testing import drop_all_tables

    app = None
    steps = [(contacts // 100, events // 100), (contacts // 10, events // 10), (contacts, events)]
    try:
        if args.reuse:
            app = _app(url)
            have = (
                _scalar(app, "SELECT COUNT(*) FROM contacts_contact WHERE kind = 'person'"),
                _scalar(app, "SELECT COUNT(*) FROM warehouse_event WHERE id > %s", (HISTORY_IDS,)),
            )
            if have != (contacts, events):
                raise SystemExit(f"--reuse: the database holds {have[0]:,} people and {have[1]:,} events, not "
                                 f"{contacts:,} and {events:,}; run once with --keep and these sizes")  # fmt: skip
            steps = steps[-1:]
        else:
            drop_all_tables(url)
            app = _app(url)
            app.migrate()
        growth: list[tuple[int, int, dict[str, float]]] = []
        loaded = (0, 0)
        for people, n_events in steps:
            if not args.reuse:
                section(f"loading up to {people:,} people and {n_events:,} events")
                s_people, s_events = _grow(app, people, n_events, *loaded)
                print(f"  people: {people - loaded[0]:,} in {s_people:.1f} s ({(people - loaded[0]) / s_people:,.0f}/s); "
                      f"events: {n_events - loaded[1]:,} in {s_events:.1f} s ({(n_events - loaded[1]) / s_events:,.0f}/s, "
                      "with their contact links)", flush=True)  # fmt: skip
                loaded = (people, n_events)
            section(f"look-ups among {people:,} people and {n_events:,} events (load {os.getloadavg()[0]:.2f})")
            found = _lookups(app, n_events, samples)
            print("  " + ", ".join(f"{k} {v:.2f} ms" for k, v in found.items()), flush=True)
            growth.append((people, n_events, found))
        section("growth (medians, ms; x = against the smallest step)")
        first = growth[0][2]
        print(f"  {'people':>12} {'events':>12} " + " ".join(f"{k:>18}" for k in first))
        for people, n_events, found in growth:
            cells = " ".join(f"{found[k]:9.2f} ({found[k] / first[k]:4.1f}x)" for k in first)
            print(f"  {people:>12,} {n_events:>12,} {cells}")
        last_people, last_events, last = growth[-1]
        n = f"{last_events:,} events"
        figures = [
            Figure("timeline of one contact (newest 50)", last["timeline"], "ms", n=n, baseline=last["key"],
                   baseline_name="one event by key", target_value=TIMELINE_TARGET_MS),
            Figure("contact fields as of a date", last["as_of"], "ms", n=n, baseline=last["key"],
                   baseline_name="one event by key", target_value=AS_OF_TARGET_MS),
            Figure("contact search by e-mail", last["search"], "ms", n=f"{last_people:,} people", baseline=last["key"],
                   baseline_name="one event by key", target_value=SEARCH_TARGET_MS),
        ]  # fmt: skip
        figures += _reports(app, last_people, last["key"], fill=not args.reuse)
        figures += bench_delivery(url, backlog, last_people, repeat)
        print_table(f"PostgreSQL at scale: {last_people:,} people, {last_events:,} events (medians)", figures)
    finally:
        if app is not None:
            app.close()
        if not args.keep:
            drop_all_tables(url)


if __name__ == "__main__":
    main()
