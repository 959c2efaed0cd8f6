"""Events: ``emit_many`` into the outbox and delivery to a handler plugin.

On a fresh SQLite app with one handler plugin (registered as an object, so
no installed plugin is involved), times

* ``crm.events.emit_many`` of 100,000 ``ContactCreated`` events in one
  transaction (serialised with cattrs and json, written with
  ``bulk_insert``), delivery left to the worker,
* ``crm.events.deliver()`` of those events to the handler,
* both together, as an app does it (delivery after commit),

and, for reference, ``bulk_insert`` of the same outbox rows already
serialised (what the outbox write costs without building the payloads).
It counts the handler's calls: delivery hands the events over in batches
(``crm_core.events.BATCH_SIZE``), so the calls must be N / batch, not N.

    python -m bench.bench_events [--quick] [--events N] [--repeat N]
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tempfile
from pathlib import Path
from typing import Any, Sequence

from bench._timing import Figure, median, parse_args, print_table, section, timed


class CountingHandler:
    """A plugin whose ``crm_handle_events`` counts its calls and events."""

    def __init__(self) -> None:
        from crm_hookspecs import hookimpl

        self.calls = 0
        self.events = 0
        self.largest = 0

        @hookimpl
        def crm_handle_events(crm: Any, events: Sequence[Any]) -> None:
            self.calls += 1
            self.events += len(events)
            self.largest = max(self.largest, len(events))

        self.crm_handle_events = crm_handle_events

    def reset(self) -> None:
        self.calls = self.events = self.largest = 0


def make_events(n: int) -> list[Any]:
    from crm_hookspecs.events import ContactCreated

    at = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.timezone.utc)
    return [
        ContactCreated(
            contact_id=i,
            kind="person",
            data={"first_name": "Ana", "last_name": f"García {i}", "email": f"ana{i}@example.com", "city": "Madrid"},
            occurred_at=at,
            channel="import",
        )
        for i in range(n)
    ]


def _app(path: Path, handler: CountingHandler) -> Any:
    from crm_core import CRM

    crm = CRM(database=f"sqlite:///{path}", plugins=[("bench_handler", handler)])
    crm.migrate()
    return crm


def _run(tmp: Path, i: int, events: list[Any]) -> dict[str, Any]:
    n = len(events)
    out: dict[str, Any] = {}
    # 1. emit, delivery left to the worker; 2. deliver
    handler = CountingHandler()
    with _app(tmp / f"emit{i}.db", handler) as crm:
        crm.deliver_events = "worker"
        out["emit"], count = timed(lambda: crm.events.emit_many(events))
        if count != n:
            raise SystemExit(f"emit_many returned {count}, {n} expected")
        out["deliver"], report = timed(crm.events.deliver)
        if report.delivered != n or handler.events != n:
            raise SystemExit(f"delivered {report.delivered} (handler saw {handler.events}), {n} expected")
        out["calls"], out["largest"] = handler.calls, handler.largest
    # 3. both, as the app does it: delivered after the commit of emit_many
    handler = CountingHandler()
    with _app(tmp / f"both{i}.db", handler) as crm:
        out["both"], _ = timed(lambda: crm.events.emit_many(events))
        if handler.events != n:
            raise SystemExit(f"after-commit delivery gave the handler {handler.events} events, {n} expected")
        out["both_calls"] = handler.calls
    # reference: the outbox rows, already serialised, written by bulk_insert
    from crm_core.models import OutboxEvent
    from crm_core.storage import bulk_insert
    from crm_hookspecs.events import to_payload

    with _app(tmp / f"raw{i}.db", CountingHandler()) as crm:
        rows = [
            (e.event_id, to_payload(e)[0], e.occurred_at.replace(tzinfo=None), json.dumps(to_payload(e)[1]))
            for e in events
        ]
        with crm.activate():
            out["raw"], _ = timed(
                lambda: bulk_insert(OutboxEvent, ("event_id", "type", "occurred_at", "payload"), rows, database=crm.database)
            )
    return out


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(
        argv,
        "emit_many and batched delivery of events to a handler plugin",
        add=lambda p: (
            p.add_argument("--events", type=int, default=None, help="events per run (default 100,000; quick 10,000)"),
            p.add_argument("--repeat", type=int, default=None, help="runs (default 3)"),
        ),
    )
    n = args.events or (10_000 if args.quick else 100_000)
    repeat = args.repeat or 3
    from crm_core.events import BATCH_SIZE

    section(f"events: emit_many and delivery of {n:,} ContactCreated events")
    events = make_events(n)
    runs = []
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        for i in range(repeat):
            out = _run(Path(tmp), i, events)
            runs.append(out)
            print(
                f"  run {i + 1}/{repeat}: emit {out['emit']:.2f} s, deliver {out['deliver']:.2f} s "
                f"({out['calls']} handler calls), emit+after-commit delivery {out['both']:.2f} s, "
                f"raw outbox insert {out['raw']:.2f} s",
                flush=True,
            )
    t = {k: median([r[k] for r in runs]) for k in ("emit", "deliver", "both", "raw")}
    expected_calls = math.ceil(n / BATCH_SIZE)
    calls = runs[-1]["calls"]
    per_batch = all(r["calls"] == expected_calls and r["both_calls"] == expected_calls for r in runs)
    print_table(
        "events, median events/s",
        [
            Figure(
                "emit_many (cattrs + json + bulk_insert)",
                n / t["emit"],
                "events/s",
                n=f"{n:,} x{repeat}",
                baseline=n / t["raw"],
                baseline_name="bulk_insert of serialised rows",
                higher_is_better=True,
            ),
            Figure("deliver() to one handler", n / t["deliver"], "events/s", n=f"{n:,} x{repeat}"),
            Figure("emit_many + after-commit delivery", n / t["both"], "events/s", n=f"{n:,} x{repeat}"),
            Figure("bulk_insert of serialised outbox rows", n / t["raw"], "events/s", n=f"{n:,} x{repeat}"),
        ],
    )
    print(
        f"\nhandler calls: {calls} for {n:,} events (batch size {BATCH_SIZE}, largest batch {runs[-1]['largest']}; "
        f"expected ceil(N / {BATCH_SIZE}) = {expected_calls}): {'per batch, ok' if per_batch else 'NOT PER BATCH'}"
    )
    if not per_batch:
        raise SystemExit("the handler was not called once per batch")


if __name__ == "__main__":
    main()
