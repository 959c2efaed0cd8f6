"""Events: ``emit_many`` into the outbox and delivery to a handler plugin.

On a fresh SQLite app with do-nothing handler plugins (registered as
objects, so no installed plugin is involved), times

* ``crm.events.emit_many`` of 100,000 ``ContactCreated`` events in one
  transaction (serialised with cattrs and json, written with
  ``bulk_insert``), delivery left to the worker,
* ``crm.events.deliver()`` of those events to 1, 2 and 3 handlers: the
  kernel's cost per event, per handler, and for each handler after the
  first (delivery reads and decodes each batch once for all handlers, so
  that one should be small),
* emit and delivery to one handler together, as an app does it (delivery
  after commit), against ``emit_many`` alone,

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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

    at = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
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


#: handler counts that delivery is timed with
HANDLER_COUNTS = (1, 2, 3)


def _app(path: Path, *handlers: CountingHandler) -> Any:
    from crm_core import CRM

    names = ["bench_handler"] + [f"bench_handler_{i + 2}" for i in range(len(handlers) - 1)]
    crm = CRM(database=f"sqlite:///{path}", plugins=list(zip(names, handlers)))
    crm.migrate()
    return crm


def _run(tmp: Path, i: int, events: list[Any]) -> dict[str, Any]:
    n = len(events)
    out: dict[str, Any] = {}
    # 1. emit, delivery left to the worker; 2. deliver, to 1, 2 and 3 handlers
    emits = []
    # each run starts with another count: the first app of a run tends to be slower
    for k in HANDLER_COUNTS[i % len(HANDLER_COUNTS) :] + HANDLER_COUNTS[: i % len(HANDLER_COUNTS)]:
        handlers = [CountingHandler() for _ in range(k)]
        with _app(tmp / f"emit{i}_{k}.db", *handlers) as crm:
            crm.deliver_events = "worker"
            seconds, count = timed(lambda: crm.events.emit_many(events))
            emits.append(seconds)
            if count != n:
                raise SystemExit(f"emit_many returned {count}, {n} expected")
            out[f"deliver{k}"], report = timed(crm.events.deliver)
            saw = [h.events for h in handlers]
            if report.delivered != n * k or saw != [n] * k:
                raise SystemExit(f"delivered {report.delivered} (the handlers saw {saw}), {n} to each of {k} expected")
            if k == 1:
                out["calls"], out["largest"] = handlers[0].calls, handlers[0].largest
    out["emit"] = median(emits)  # the same work each time: no handler runs
    out["deliver"] = out["deliver1"]
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
                lambda: bulk_insert(
                    OutboxEvent, ("event_id", "type", "occurred_at", "payload"), rows, database=crm.database
                )
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
            delivered = " / ".join(f"{out['deliver' + str(k)]:.2f}" for k in HANDLER_COUNTS)
            print(
                f"  run {i + 1}/{repeat}: emit {out['emit']:.2f} s, deliver to 1/2/3 handlers {delivered} s "
                f"({out['calls']} calls of one handler), emit+after-commit delivery {out['both']:.2f} s, "
                f"raw outbox insert {out['raw']:.2f} s",
                flush=True,
            )
    keys = ("emit", "deliver", "both", "raw", *(f"deliver{k}" for k in HANDLER_COUNTS))
    t = {k: median([r[k] for r in runs]) for k in keys}
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
            Figure(
                "emit_many + after-commit delivery",
                n / t["both"],
                "events/s",
                n=f"{n:,} x{repeat}",
                baseline=n / t["emit"],
                baseline_name="emit_many alone",
                higher_is_better=True,
            ),
            Figure("bulk_insert of serialised outbox rows", n / t["raw"], "events/s", n=f"{n:,} x{repeat}"),
        ],
    )
    us = 1e6 / n  # seconds for n events -> µs per event
    one = t["deliver1"] * us
    per_handler = [
        Figure(
            f"deliver() to {k} handler{'s' if k > 1 else ''}: per event",
            t[f"deliver{k}"] * us,
            "µs/event",
            n=f"{n:,} x{repeat}",
            baseline=one if k > 1 else None,
            baseline_name="1 handler",
        )
        for k in HANDLER_COUNTS
    ]
    per_handler += [
        Figure(
            f"deliver() to {k} handlers: per event and handler",
            t[f"deliver{k}"] * us / k,
            "µs/event",
            n=f"{n:,} x{repeat}",
        )
        for k in HANDLER_COUNTS
        if k > 1
    ]
    most = HANDLER_COUNTS[-1]
    per_handler += [
        Figure(
            "each handler after the first",
            # paired within each run: less noisy than a difference of medians
            median([(r[f"deliver{most}"] - r["deliver1"]) / (most - 1) for r in runs]) * us,
            "µs/event",
            n=f"{n:,} x{repeat}",
            baseline=one,
            baseline_name="the first",
        ),
        Figure(
            "after-commit delivery to 1 handler, on top of emit_many",
            (t["both"] - t["emit"]) * us,
            "µs/event",
            n=f"{n:,} x{repeat}",
            baseline=t["emit"] * us,
            baseline_name="emit_many",
        ),
    ]
    print_table("events: the kernel's delivery cost, do-nothing handlers, median µs/event", per_handler)
    print(
        f"\nhandler calls: {calls} for {n:,} events (batch size {BATCH_SIZE}, largest batch {runs[-1]['largest']}; "
        f"expected ceil(N / {BATCH_SIZE}) = {expected_calls}): {'per batch, ok' if per_batch else 'NOT PER BATCH'}"
    )
    if not per_batch:
        raise SystemExit("the handler was not called once per batch")


if __name__ == "__main__":
    main()
