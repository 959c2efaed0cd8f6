"""The warehouse's desk pages: server time of the pipeline board among open deals, and of a contact's timeline among events.

Builds a CRM with the desk, contacts and warehouse on SQLite (a temporary
folder) or on ``--database`` (PostgreSQL or MariaDB; its tables are dropped
before and after), then writes with bulk inserts:

- ``--deals`` open sales records (default 10,000) over the open stages and
  five sellers, each with its stage move, and four times as many closed ones
  (won or lost), which the board must not read;
- timeline events (``ContactChanged`` in the event store and its timeline
  index) in steps up to ``--events`` (default 1,000,000; ``--quick``
  100,000): a hundredth of them about one busy contact, the rest spread over
  100,000 contact numbers. The issue's size, 10,000,000, is reached with
  ``--events 10000000``; the growth table says how the time moves between
  the steps.

Then signs in a manager (who sees every deal) and a seller (their own
fifth), and times in process (the Flask app through its test client: the
server's time, no network, no browser), in alternation, ``--requests``
requests of each:

- the board (``/warehouse/pipeline``) as the manager and as a seller, and
  filtered by one owner;
- the busy contact's timeline page (``/warehouse/contacts/<id>/timeline``),
  its page 20 (through the "Older" cursor), and filtered by kind;
- the baseline: the change-password page (``/account/password``).

Target (issue 18): median server time under 200 ms for each page.

    python -m bench.bench_desk_warehouse [--quick] [--deals N] [--events N] [--database URL] [--requests 40]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench._timing import Figure, median, parse_args, print_table, section

TARGET_MS = 200.0
PASSWORD = "Correct-horse-42!"
SELLERS = ("ana", "bea", "carl", "dora", "eloy")
BATCH = 5_000


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deals", type=int, help="open deals on the board (default 10,000; --quick 2,000)")
    parser.add_argument(
        "--events", type=int, help="timeline events at the last step (default 1,000,000; --quick 100,000)"
    )
    parser.add_argument(
        "--database", help="a throw-away PostgreSQL or MariaDB URL (its tables are dropped); default: SQLite"
    )
    parser.add_argument("--requests", type=int, help="requests per page (default 40; --quick: 15)")


def build(database: str) -> Any:
    from crm_core.app import CRM

    app = CRM(
        database=database,
        plugins=["desk", "contacts", "warehouse"],
        settings={"desk": {"base_url": "http://localhost:8200"}},
    )
    app.migrate()
    app.deliver_events = "worker"  # the benchmark writes the warehouse's tables itself
    app.authz.users.add("marta", display_name="Marta Manager", roles=["manager"], password=PASSWORD)
    for name in SELLERS:
        app.authz.users.add(name, display_name=f"{name.title()} Seller", roles=["sales"], password=PASSWORD)
    return app


def load_deals(app: Any, deals: int) -> tuple[int, float]:
    """``deals`` open records and four times as many closed ones, with one stage move each; their contacts."""
    from crm_warehouse.models import SaleRow, StageMoveRow

    rng = random.Random(18)
    contacts = app.plugin("contacts")
    owners_contacts = {
        name: contacts.create(first_name="Client", last_name=name.title(), owner=name).id for name in SELLERS
    }
    pipeline = app.settings("warehouse").pipeline
    now = app.clock.now()
    start = time.perf_counter()
    total = deals * 5
    with app.activate():
        for first in range(0, total, BATCH):
            rows = []
            for n in range(first, min(first + BATCH, total)):
                owner = SELLERS[n % len(SELLERS)]
                stage = (
                    rng.choice(pipeline.open_stages)
                    if n < deals
                    else rng.choice((pipeline.won_stage, pipeline.lost_stage))
                )
                rows.append(
                    {
                        "kind": "sale",
                        "title": f"Deal {n}",
                        "contact_id": owners_contacts[owner],
                        "owner": owner,
                        "amount": rng.randint(100, 90_000),
                        "currency": "EUR" if n % 4 else "USD",
                        "stage": stage,
                        "expected_close_on": now.date() + dt.timedelta(days=rng.randint(-30, 300)) if n % 3 else None,
                        "closed_on": now.date() if n >= deals else None,
                        "description": "",
                        "created_at": now - dt.timedelta(days=rng.randint(1, 400)),
                        "updated_at": now,
                    }
                )
            with app.transaction():
                SaleRow.insert_many(rows).execute()
        with app.transaction():
            moves = SaleRow.select(SaleRow.id, SaleRow.stage, SaleRow.created_at).tuples()
            batch = []
            for sale_id, stage, created in moves.iterator():
                batch.append(
                    {"sale": sale_id, "old_stage": None, "new_stage": stage, "moved_at": created, "actor": None}
                )
                if len(batch) >= BATCH:
                    StageMoveRow.insert_many(batch).execute()
                    batch = []
            if batch:
                StageMoveRow.insert_many(batch).execute()
        app.database.execute_sql("ANALYZE")
    return owners_contacts["ana"], time.perf_counter() - start


def load_events(app: Any, busy: int, have: int, want: int) -> float:
    """Add events until the store holds ``want`` (a thousandth about ``busy``); the seconds it took."""
    from crm_warehouse.models import EventContactRow, EventRow

    rng = random.Random(have)
    base = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    start = time.perf_counter()
    with app.activate():
        for first in range(have, want, BATCH):
            count = min(BATCH, want - first)
            events = []
            links = []
            for n in range(first, first + count):
                contact = busy if n % 100 == 0 else 1_000 + rng.randrange(100_000)
                at = base + dt.timedelta(seconds=n * 60)
                event_id = uuid.UUID(int=n + 1).hex
                payload = {
                    "event_id": event_id,
                    "contact_id": contact,
                    "changes": {"notes": {"old": f"n{n}", "new": f"n{n + 1}"}},
                }
                events.append(
                    {
                        "event_id": event_id,
                        "type": "ContactChanged",
                        "kind": "contact" if n % 7 else "note",
                        "occurred_at": at,
                        "actor": "bench",
                        "channel": "staff",
                        "payload": json.dumps(payload),
                        "stored_at": at,
                    }
                )
                links.append((contact, at, "contact" if n % 7 else "note"))
            with app.transaction():
                EventRow.insert_many(events).execute()
                ids = dict(
                    EventRow.select(EventRow.event_id, EventRow.id)
                    .where(EventRow.event_id.in_([e["event_id"] for e in events]))
                    .tuples()
                )
                EventContactRow.insert_many(
                    [
                        {"contact_id": c, "occurred_at": at, "event": ids[e["event_id"]], "kind": kind}
                        for e, (c, at, kind) in zip(events, links, strict=True)
                    ]
                ).execute()
        app.database.execute_sql("ANALYZE")
    return time.perf_counter() - start


def time_pages(desks: dict[str, Any], pages: dict[str, tuple[str, Any]], requests: int) -> dict[str, float]:
    """Each page's median server time in milliseconds, the pages asked in alternation."""
    times: dict[str, list[float]] = {name: [] for name in pages}
    for who, url in pages.values():  # warm up: templates compiled, caches filled
        for _ in range(3):
            desks[who].get(url)
    for _ in range(requests):
        for name, (who, url) in pages.items():
            begin = time.perf_counter()
            answer = desks[who].get(url)
            times[name].append((time.perf_counter() - begin) * 1000)
            assert answer.status_code == 200, f"{url}: {answer.status_code}"
    for name in pages:
        ordered = sorted(times[name])
        print(
            f"{name}: min {ordered[0]:.1f} ms, p90 {ordered[int(len(ordered) * 0.9) - 1]:.1f} ms, max {ordered[-1]:.1f} ms"
        )
    return {name: median(values) for name, values in times.items()}


def older_link(desk: Any, url: str, pages: int) -> str:
    """The URL of page ``pages + 1`` of a timeline, following its "Older" links."""
    import html
    import re

    for _ in range(pages):
        desk.get(url)
        found = re.search(r'href="([^"]*before=[^"]*)"[^>]*>Older<', desk.text)
        assert found is not None, f"{url}: no Older link"
        url = html.unescape(found.group(1))
    return url


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv, "The warehouse's desk pages: the pipeline board and a timeline (issue 18).", _add_options)
    deals = args.deals or (2_000 if args.quick else 10_000)
    events = args.events or (100_000 if args.quick else 1_000_000)
    requests = args.requests or (15 if args.quick else 40)
    with tempfile.TemporaryDirectory(prefix="bench-desk-warehouse-") as folder:
        database = args.database or f"sqlite:///{Path(folder) / 'crm.db'}"
        if not database.startswith("sqlite"):
            from crm_core.testing import drop_all_tables

            drop_all_tables(database)
        try:
            run(database, database.split(":", 1)[0], deals, events, requests)
        finally:
            if not database.startswith("sqlite"):
                from crm_core.testing import drop_all_tables

                drop_all_tables(database)


def run(database: str, backend: str, deals: int, events: int, requests: int) -> None:
    from crm_desk.testing import DeskClient

    section(f"desk: the pipeline board among {deals:,} open deals, a timeline among up to {events:,} events, {backend}")
    app = build(database)
    try:
        busy, seconds = load_deals(app, deals)
        print(f"{deals * 5:,} deals ({deals:,} open) written in {seconds:.1f} s", flush=True)
        desks = {}
        for name in ("marta", "ana"):
            desks[name] = DeskClient(app)
            assert desks[name].sign_in(name, PASSWORD).status_code == 302, f"{name} could not sign in"
        board = {
            "password page (baseline)": ("marta", "/account/password"),
            f"board, manager ({deals:,} open)": ("marta", "/warehouse/pipeline"),
            f"board, a seller ({deals // len(SELLERS):,} open)": ("ana", "/warehouse/pipeline"),
            "board, filtered by owner": ("marta", "/warehouse/pipeline?owner=bea"),
        }
        medians = time_pages(desks, board, requests)
        base = medians.pop("password page (baseline)")
        figures = [Figure("password page (baseline)", base, "ms", n=str(requests))]
        figures += [
            Figure(
                name, value, "ms", n=str(requests), baseline=base, baseline_name="password page", target_value=TARGET_MS
            )
            for name, value in medians.items()
        ]
        steps = sorted({max(events // 100, 10_000), max(events // 10, 10_000), events})
        growth: list[tuple[int, dict[str, float]]] = []
        have = 0
        for size in steps:
            seconds = load_events(app, busy, have, size)
            print(f"events: {size:,} stored ({size - have:,} added in {seconds:.1f} s)", flush=True)
            have = size
            timeline = f"/warehouse/contacts/{busy}/timeline"
            depth = max(1, min(20, size // 100 // 50))  # page 20, or the last page the busy contact has
            pages = {
                "timeline, first page": ("ana", timeline),
                f"timeline, page {depth}": ("ana", older_link(desks["ana"], timeline, depth - 1)),
                "timeline, notes only": ("ana", f"{timeline}?kind=note"),
            }
            growth.append((size, time_pages(desks, pages, requests)))
        last_size, last = growth[-1]
        busy_events = last_size // 100
        figures += [
            Figure(
                f"{name} ({last_size:,} events, {busy_events:,} about the contact)",
                value,
                "ms",
                n=str(requests),
                baseline=base,
                baseline_name="password page",
                target_value=TARGET_MS,
            )
            for name, value in last.items()
        ]
        print("\ngrowth of the timeline's median server time with the events stored:")
        first = growth[0][1]
        for size, values in growth:
            cells = ", ".join(
                f"{name} {value:.1f} ms" + (f" (x{value / first[name]:.2f})" if name in first else "")
                for name, value in values.items()
            )
            print(f"  {size:>12,} events: {cells}")
        print_table(f"server time per page, {backend} (target: median < {TARGET_MS:g} ms)", figures)
    finally:
        app.close()


if __name__ == "__main__":
    main()
