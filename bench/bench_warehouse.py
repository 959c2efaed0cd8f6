"""The warehouse plugin: the cost of storing events, and history reads among 10,000,000 events, on SQLite.

1. **Storing events during a contacts import.** The same CSV of contacts is
   imported (``crm.plugin("contacts").import_csv``, which delivers the
   events to the handlers once the import is done) into a fresh database
   three ways, in alternation:

   * contacts alone (the baseline: no handler, nothing delivered);
   * contacts and a handler that does nothing (the kernel's own delivery
     cost: reading the outbox and rebuilding each event);
   * contacts and the warehouse (delivery, the event store, the contact
     status history).

   Target (issue 5): the warehouse costs at most 15% of the import's
   throughput, i.e. import time with the warehouse <= 1.15x without. The
   times are the process's CPU time (the import runs in this process alone;
   on a shared machine wall time measures the neighbours too).
   ``--contacts 1000000`` is the issue's size; the default is smaller so
   that ``python -m bench`` stays within minutes.

2. **History among 10,000,000 stored events** (1,000,000 contacts, ten
   events each: creation, field changes, pipeline moves, staff actions, a
   survey answer, spread over three years), written straight into the
   store's two tables with ``crm_core.storage.bulk_insert``. Then, for
   random contacts, timed one by one:

   * ``timeline(contact_id)`` (newest 50): target < 20 ms median;
   * ``contact_as_of(contact_id, date)``: target < 50 ms median;
   * baseline: one stored event read by its key.

    python -m bench.bench_warehouse [--quick] [--repeat N] [--contacts N] [--events N]
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._timing import Figure, median, parse_args, print_table, section, timed

IMPORT_TARGET_RATIO = 1.15
TIMELINE_TARGET_MS = 20.0
AS_OF_TARGET_MS = 50.0
EVENTS_PER_CONTACT = 10
START = dt.datetime(2023, 6, 1, tzinfo=dt.UTC)
SPAN_DAYS = 3 * 365
REGIONS = ["Norte", "Sur", "Centro", "Levante", "Noreste"]
STATUSES = ["prospect", "customer", "former"]


# -- 1. storing events during an import --------------------------------------------


def _write_csv(path: Path, n: int) -> None:
    rng = random.Random(5)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["first_name", "last_name", "email", "city", "country", "region", "status", "owner"])
        for i in range(n):
            out.writerow([
                f"Name{i}", rng.choice(["García", "López", "Martín", "Ruiz", "Vidal"]), f"person{i}@example{i % 97}.es",
                rng.choice(["Madrid", "Bilbao", "Sevilla"]), "ES", rng.choice(REGIONS), rng.choice(STATUSES[:2]), rng.choice(["maria", "luis"]),
            ])  # fmt: skip


def _import_once(workdir: Path, csv_path: Path, variant: str) -> tuple[float, int]:
    """Import the CSV into a fresh SQLite database; return (seconds, contacts created)."""
    from crm_core.app import CRM
    from crm_core.testing import make_plugin

    db = workdir / f"import-{variant}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    plugins: list[Any] = ["contacts"]
    if variant == "noop handler":
        plugins.append(make_plugin("noop", crm_handle_events=lambda crm, events: None))
    elif variant == "warehouse":
        plugins.append("warehouse")
    app = CRM(database=f"sqlite:///{db}", plugins=plugins, settings={"contacts": {"default_region": "ES"}}, strict=True)
    try:
        app.migrate()
        # CPU time of this process: the import runs in it alone, and the machine is shared,
        # so wall time would measure the neighbours as much as the import
        started = time.process_time()
        report = app.plugin("contacts").import_csv(csv_path)
        seconds = time.process_time() - started
        if variant == "warehouse":
            stored = app.database.execute_sql("SELECT COUNT(*) FROM warehouse_event").fetchone()[0]
            assert stored == report.created, f"the warehouse stored {stored} events for {report.created} contacts"
        return seconds, report.created
    finally:
        app.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)


def bench_import(args: Any, workdir: Path) -> list[Figure]:
    n = args.contacts or (20_000 if args.quick else 100_000)
    section(
        f"importing {n:,} contacts: alone, with a no-op handler, with the warehouse ({args.repeat} repeat(s), alternating)"
    )
    csv_path = workdir / "contacts.csv"
    _write_csv(csv_path, n)
    times: dict[str, list[float]] = {"alone": [], "noop handler": [], "warehouse": []}
    for repeat in range(args.repeat):
        for variant in times:
            seconds, created = _import_once(workdir, csv_path, variant)
            assert created == n, f"{variant}: {created} of {n} contacts imported"
            times[variant].append(seconds)
        print(
            "  repeat {}: {} (CPU)".format(repeat + 1, ", ".join(f"{v} {t[-1]:.1f} s" for v, t in times.items())),
            flush=True,
        )
    alone, noop, warehouse = (median(times[v]) for v in ("alone", "noop handler", "warehouse"))
    return [
        Figure("import, warehouse enabled", n / warehouse, "contacts/s", n=f"{n:,}", baseline=n / alone,
               baseline_name="contacts alone", higher_is_better=True, target_ratio=round(1 / IMPORT_TARGET_RATIO, 3)),
        Figure("import, no-op handler (kernel delivery)", n / noop, "contacts/s", n=f"{n:,}", baseline=n / alone,
               baseline_name="contacts alone", higher_is_better=True),
        Figure("storing one event (warehouse - no-op handler)", (warehouse - noop) / n * 1e6, "us", n=f"{n:,}",
               baseline=(noop - alone) / n * 1e6, baseline_name="kernel delivery per event"),
    ]  # fmt: skip


# -- 2. history among millions of events --------------------------------------------


def _text(value: dt.datetime) -> str:
    """A naive UTC datetime as SQLite stores it (formatted once, used three times)."""
    return value.strftime("%Y-%m-%d %H:%M:%S")


# the payloads as to_payload writes them, formatted from templates: json.dumps would be most of the build time
TEMPLATES = {
    "ContactCreated": '"contact_id":{cid},"kind":"person","data":{{"first_name":"Name{cid}","last_name":"Garc\\u00eda",'
                      '"email":"p{cid}@example.es","status":"prospect","region":"{region}","country":"ES"}}',
    "ContactChanged": '"contact_id":{cid},"changes":{{"{field}":{{"old":null,"new":"{new}"}}}}',
    "StageChanged": '"record_id":{cid},"contact_id":{cid},"old_stage":"new","new_stage":"qualified","owner":"maria"',
    "StaffActionLogged": '"action_id":{k},"contact_id":{cid},"kind":"call","author":"maria","sale_id":null',
    "SurveyAnswered": '"survey_id":1,"version":1,"contact_id":{cid},"response_id":{cid},"scores":{{"nps":{score}}},'
                      '"negative":false,"region":"{region}"',
}  # fmt: skip
KINDS = {
    "ContactCreated": "contact", "ContactChanged": "contact", "StageChanged": "sale",
    "StaffActionLogged": "note", "SurveyAnswered": "survey",
}  # fmt: skip
SEQUENCE = ["ContactCreated", "ContactChanged", "StageChanged", "StaffActionLogged", "ContactChanged",
            "StaffActionLogged", "StageChanged", "SurveyAnswered", "ContactChanged", "StaffActionLogged"]  # fmt: skip
CHANGED = ("status", "region", "email")


def _payload(kind: str, event_id: str, at: dt.datetime, cid: int, k: int, rng: random.Random) -> str:
    field = CHANGED[(k // 3) % 3]  # the three changes: status, region, e-mail
    new = {"status": STATUSES[k % 3], "region": REGIONS[(cid + k) % 5], "email": f"p{cid}.{k}@example.es"}[field]
    body = TEMPLATES[kind].format(
        cid=cid, k=cid * 10 + k, region=REGIONS[cid % 5], field=field, new=new, score=(cid + k) % 11
    )
    return f'{{"event_id":"{event_id}","occurred_at":"{at.isoformat()}","actor":"maria","channel":"staff",{body}}}'


def _fill_store(
    app: Any,
    n_events: int,
    rng: random.Random,
    watch: dict[int, dt.datetime],
    *,
    first_contact: int = 1,
    first_pk: int = 0,
) -> int:
    """Write ``n_events`` events (ten per contact) with bulk inserts; return the number of contacts.

    Contacts are written one after the other, each with its ten events
    spread over the following months; ``watch`` gets the creation time of
    the contacts it names. ``first_contact`` and ``first_pk`` (the id before
    the first event's) let a caller add to a store filled before
    (``bench_scale`` grows it in steps).
    """
    from crm_core.storage import bulk_insert

    contacts = n_events // EVENTS_PER_CONTACT
    stored_at = "2026-06-01 00:00:00"
    page = 20_000  # contacts per transaction
    database = app.database
    started = time.perf_counter()
    pk = first_pk
    end = first_contact + contacts
    for first in range(first_contact, end, page):
        events, links = [], []
        for cid in range(first, min(first + page, end)):
            at = START + dt.timedelta(days=rng.uniform(0, SPAN_DAYS - 200))
            if cid in watch:
                watch[cid] = at
            for k, kind in enumerate(SEQUENCE):
                pk += 1
                event_id = f"{pk:032x}"
                naive = _text(at)
                kind_name = KINDS[kind]
                events.append(
                    (
                        pk,
                        event_id,
                        kind,
                        kind_name,
                        naive,
                        "maria",
                        "staff",
                        _payload(kind, event_id, at, cid, k, rng),
                        stored_at,
                    )
                )
                links.append((cid, naive, pk, kind_name, None))
                at += dt.timedelta(seconds=rng.randint(86_400, 20 * 86_400))
        with database.atomic():
            bulk_insert("warehouse_event", ("id", "event_id", "type", "kind", "occurred_at", "actor", "channel", "payload", "stored_at"),
                        events, database=database)  # fmt: skip
            bulk_insert(
                "warehouse_event_contact",
                ("contact_id", "occurred_at", "event_id", "kind", "via_contact_id"),
                links,
                database=database,
            )
        if ((first - first_contact) // page) % 10 == 0:
            done = pk - first_pk
            print(f"  {done:,} events stored ({done / (time.perf_counter() - started):,.0f}/s)", flush=True)
    return contacts


def bench_history(args: Any, workdir: Path) -> list[Figure]:
    import crm_warehouse.plugin as warehouse_plugin
    from crm_core.app import CRM

    n_events = args.events or (1_000_000 if args.quick else 10_000_000)
    samples = 100 if args.quick else 300
    section(f"history among {n_events:,} stored events ({n_events // EVENTS_PER_CONTACT:,} contacts)")
    db = workdir / "history.db"
    app = CRM(database=f"sqlite:///{db}", plugins=[("warehouse", warehouse_plugin)], strict=True)
    rng = random.Random(7)
    try:
        app.migrate()
        app.database.execute_sql("PRAGMA cache_size = -1000000")  # 1 GB while building
        contacts = n_events // EVENTS_PER_CONTACT
        picks = [rng.randint(1, contacts) for _ in range(samples)]
        created: dict[int, dt.datetime] = dict.fromkeys(picks, START)
        build, _ = timed(lambda: _fill_store(app, n_events, rng, created))
        print(f"  built in {build:.0f} s ({n_events / build:,.0f} events/s with their contact links)", flush=True)
        app.database.execute_sql("PRAGMA cache_size = -2000")  # back to SQLite's default for the reads
        app.database.execute_sql("ANALYZE")
        api = app.plugin("warehouse")
        # a day within the contact's history: the fold reads some of its events, not all
        days = [(created[cid] + dt.timedelta(days=rng.uniform(1, 90))).date() for cid in picks]
        timeline_us, as_of_us, key_us = [], [], []
        entries = fields = 0
        for _ in range(args.repeat):
            for cid, day in zip(picks, days):
                seconds, found = timed(lambda: api.timeline(cid))
                timeline_us.append(seconds * 1e6)
                entries += len(found)
                seconds, state = timed(lambda: api.contact_as_of(cid, day))
                as_of_us.append(seconds * 1e6)
                fields += len(state)
                key = rng.randint(1, n_events)
                seconds, _ = timed(
                    lambda: app.database.execute_sql(
                        "SELECT payload FROM warehouse_event WHERE id = ?", (key,)
                    ).fetchone()
                )
                key_us.append(seconds * 1e6)
        assert entries == EVENTS_PER_CONTACT * samples * args.repeat, "every timeline holds the contact's ten events"
        print(f"  {len(timeline_us)} timelines and as-of rebuilds of random contacts", flush=True)
        base = median(key_us)
        # microseconds: the reads take a fraction of a millisecond, the baseline a few dozen microseconds
        return [
            Figure("timeline of one contact (newest 50)", median(timeline_us), "us", n=f"{n_events:,} events", baseline=base,
                   baseline_name="one event by key", target_value=TIMELINE_TARGET_MS * 1000),
            Figure("contact fields as of a date", median(as_of_us), "us", n=f"{n_events:,} events", baseline=base,
                   baseline_name="one event by key", target_value=AS_OF_TARGET_MS * 1000),
        ]  # fmt: skip
    finally:
        app.close()


def main(argv: list[str] | None = None) -> None:
    def options(parser: Any) -> None:
        parser.add_argument("--repeat", type=int, default=None, help="repeats (median) [default: 3, quick: 1]")
        parser.add_argument(
            "--contacts",
            type=int,
            default=None,
            help="contacts imported [default: 100,000; quick: 20,000; the issue's: 1,000,000]",
        )
        parser.add_argument(
            "--events",
            type=int,
            default=None,
            help="events stored for the history reads [default: 10,000,000; quick: 1,000,000]",
        )
        parser.add_argument("--only", choices=["import", "history"], default=None, help="run one part only")

    args = parse_args(
        argv, "The warehouse: storing events during an import, history reads among millions of events.", options
    )
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench_warehouse_") as tmp:
        if args.only in (None, "import"):
            figures += bench_import(args, Path(tmp))
        if args.only in (None, "history"):
            figures += bench_history(args, Path(tmp))
    print_table("Warehouse (SQLite)", figures)


if __name__ == "__main__":
    main()
