"""Delivery lanes (``crm.worker.event_lanes``): a handler's backlog shared by several workers.

Each event is delivered once per handler, the events of one contact in
order, whatever the lane count, its changes, and the workers (real
processes here, one of them SIGKILLed mid-batch).
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import peewee

from crm_core.events import lane_key
from crm_core.models import EventCursor
from crm_core.storage import Model
from crm_core.worker import Worker
from crm_hookspecs.events import ContactChanged, ContactCreated, TaskCreated
from crm_hookspecs.records import FieldChange

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the crm_clock fixture's start


class Seen(Model):
    """One row per delivered event: a second delivery breaks the unique key."""

    id = peewee.BigAutoField()
    event_id = peewee.CharField(max_length=64, unique=True)
    contact_id = peewee.IntegerField()
    n = peewee.IntegerField()
    pid = peewee.IntegerField()

    class Meta:
        table_name = "probe_seen"


def record(crm, events) -> None:
    with crm.activate():
        Seen.insert_many(
            [
                {"event_id": e.event_id, "contact_id": e.contact_id, "n": e.changes["n"].new, "pid": os.getpid()}
                for e in events
            ]
        ).execute()


def changes(contacts: int, per_contact: int) -> list[ContactChanged]:
    """``per_contact`` changes of each contact, interleaved: n counts a contact's changes in order."""
    return [
        ContactChanged(contact_id=c, changes={"n": FieldChange(n - 1, n)})
        for n in range(per_contact)
        for c in range(1, contacts + 1)
    ]


def lanes_app(crm_factory, crm_plugin, lanes: int, handler=record, **worker):
    app = crm_factory(
        plugins=[crm_plugin("probe", crm_handle_events=handler)],
        core={"worker": {"event_lanes": lanes, **worker}},
    )
    app.deliver_events = "worker"
    with app.activate():
        Seen.create_table(safe=True)
    app.events.ensure_cursors()
    return app


def check_once_and_in_order(app, expected: int) -> collections.Counter[int]:
    """Every event seen once (the unique key) and each contact's changes in order; the rows per process."""
    with app.activate():
        rows = list(Seen.select().order_by(Seen.id))
    assert len(rows) == expected
    by_contact: dict[int, list[int]] = collections.defaultdict(list)
    for row in rows:
        by_contact[row.contact_id].append(row.n)
    for contact, ns in by_contact.items():
        assert ns == sorted(ns), (contact, ns)
    return collections.Counter(row.pid for row in rows)


def test_lane_keys_follow_the_first_contact_and_spread_over_the_lanes():
    assert lane_key(ContactCreated(contact_id=7, data={})) == lane_key(ContactChanged(contact_id=7, changes={}))
    assert lane_key(TaskCreated(task_id=1, kind="call", title="t", contact_id=None)) == 0
    keys = {lane_key(ContactCreated(contact_id=i, data={})) % 4 for i in range(1, 50)}
    assert keys == {0, 1, 2, 3}


def test_each_lane_is_delivered_once_in_order(crm_factory, crm_plugin):
    app = lanes_app(crm_factory, crm_plugin, 4)
    with app.transaction():
        app.events.emit_many(changes(40, 30))
    for lane in range(4):
        report = app.events.deliver(lane=lane)
        assert report.failed == 0
    check_once_and_in_order(app, 1200)
    with app.activate():
        cursors = list(EventCursor.select().where(EventCursor.handler == "probe").order_by(EventCursor.lane))
    assert [(c.lane, c.lanes) for c in cursors] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    assert app.events.deliver().delivered == 0
    assert [s["pending"] for s in app.events.status() if s["handler"] == "probe"] == [0]


def test_changing_the_lane_count_skips_and_repeats_nothing(crm_factory, crm_plugin):
    app = lanes_app(crm_factory, crm_plugin, 1)
    with app.transaction():
        app.events.emit_many(changes(10, 5))
    app.events.deliver()
    with app.transaction():
        app.events.emit_many(changes(10, 10)[50:])  # n 5 to 9
    # three lanes, one of them delivered ahead of the others before the count changes again
    three = lanes_app(crm_factory, crm_plugin, 3)
    three.events.deliver(lane=1)
    with three.transaction():
        three.events.emit_many(changes(10, 15)[100:])  # n 10 to 14
    two = lanes_app(crm_factory, crm_plugin, 2)
    two.events.deliver()
    check_once_and_in_order(app, 150)
    with app.activate():
        assert sorted((c.lane, c.lanes) for c in EventCursor.select()) == [(0, 2), (1, 2)]
        assert EventCursor.select(peewee.fn.COUNT(peewee.fn.DISTINCT(EventCursor.last_id))).scalar() >= 1


# -- real worker processes ---------------------------------------------------

CHILD = textwrap.dedent(
    """
    import datetime as dt, os, sys, time
    from crm_hookspecs import hookimpl
    from crm_core.app import CRM
    from crm_core.clock import FakeClock
    from crm_core.config import Config, CoreSettings, structure_section
    from crm_core.worker import Worker

    url, now_iso, log_path, mode, go_path = sys.argv[1:6]

    def append(line):
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (line + "\\n").encode())
        os.close(fd)

    class Probe:
        @hookimpl
        def crm_handle_events(self, crm, events):
            q = crm.database.quote
            p = crm.database.param
            cols = ", ".join(c.join(q) for c in ("event_id", "contact_id", "n", "pid"))
            for e in events:
                crm.database.execute_sql(
                    f"INSERT INTO {'probe_seen'.join(q)} ({cols}) VALUES ({p}, {p}, {p}, {p})",
                    (e.event_id, e.contact_id, e.changes["n"].new, os.getpid()),
                )
            if mode == "hold":
                append(f"holding {len(events)}")
                time.sleep(60)  # killed here, its inserts not committed
            time.sleep(0.1)  # long enough batches that both workers take part

    core = structure_section(
        {"database": url, "worker": {"event_lanes": 4, "event_lane_lease": 30.0}}, CoreSettings, "child", "crm"
    )
    app = CRM(config=Config(core=core, enabled=()), plugins=[("probe", Probe())],
              clock=FakeClock(dt.datetime.fromisoformat(now_iso)), strict=True)
    append(f"ready {os.getpid()}")
    deadline = time.monotonic() + 30
    while not os.path.exists(go_path) and time.monotonic() < deadline:
        time.sleep(0.005)
    for outcome in Worker(app).run_pending():
        append(f"ran {outcome.job} {outcome.status} {outcome.result}")
    app.close()
    """
)


def _spawn(tmp_path: Path, url: str, mode: str, log: Path, go: Path) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    env = dict(os.environ)
    env.pop("CRM_PLUGINS", None)
    return subprocess.Popen(
        [sys.executable, str(script), url, NOW.isoformat(), str(log), mode, str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def _wait_for(path: Path, text: str, count: int = 1, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count(text) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{text!r} did not appear {count} time(s) in {path} within {timeout} s")


def test_two_worker_processes_share_the_lanes_and_deliver_each_event_once(
    crm_factory, crm_plugin, crm_db_url, tmp_path
):
    app = lanes_app(crm_factory, crm_plugin, 4, event_lane_lease=30.0)
    with app.transaction():
        app.events.emit_many(changes(200, 20))
    log, go = tmp_path / "log.txt", tmp_path / "go"
    children = [_spawn(tmp_path, crm_db_url, "share", log, go) for _ in range(2)]
    _wait_for(log, "ready", count=2)
    go.touch()
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err.decode()
    per_process = check_once_and_in_order(app, 4000)
    assert len(per_process) == 2, per_process  # both took lanes
    ran = [line for line in log.read_text().splitlines() if line.startswith("ran crm.events.lane.")]
    assert sorted(line.split()[1] for line in ran) == [f"crm.events.lane.{k}" for k in range(4)]
    assert all(" done " in line for line in ran), ran


def test_a_killed_workers_lane_is_taken_over_after_its_lease(crm_factory, crm_plugin, crm_db_url, crm_clock, tmp_path):
    app = lanes_app(crm_factory, crm_plugin, 4, event_lane_lease=30.0)
    with app.transaction():
        app.events.emit_many(changes(50, 4))
    log, go = tmp_path / "log.txt", tmp_path / "go"
    go.touch()
    child = _spawn(tmp_path, crm_db_url, "hold", log, go)
    try:
        _wait_for(log, "holding")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    survivor = Worker(app, name="survivor")
    first = [o.job for o in survivor.run_pending() if o.job.startswith("crm.events.lane.")]
    assert len(first) == 3  # the killed worker's lane is still leased
    crm_clock.set(NOW + dt.timedelta(seconds=31))
    taken = [o for o in survivor.run_pending() if o.job.startswith("crm.events.lane.")]
    assert [(o.attempt, o.status) for o in taken] == [(2, "done")]
    assert {o.job for o in taken} | set(first) == {f"crm.events.lane.{k}" for k in range(4)}
    per_process = check_once_and_in_order(app, 200)
    assert set(per_process) == {os.getpid()}  # the killed worker's writes were rolled back with it


def test_a_running_worker_takes_one_lane_at_a_time(crm_factory, crm_plugin):
    import threading

    import attrs

    from crm_core.worker.registry import registered_jobs
    from crm_core.worker.runner import _Runs

    release = threading.Event()
    started: list[str] = []

    def held(name):
        def run(crm, at):
            started.append(name)
            release.wait(30)  # outside any transaction: the other lanes stay free to claim

        return run

    app = lanes_app(crm_factory, crm_plugin, 4)
    jobs = [
        attrs.evolve(job, spec=attrs.evolve(job.spec, run=held(job.name)))
        if job.name.startswith("crm.events.lane.")
        else job
        for job in registered_jobs(app)
    ]
    worker = Worker(app, name="one", jobs=jobs)
    runs = _Runs(worker)
    other = Worker(app, name="two", jobs=jobs)
    other_runs = _Runs(other)
    try:
        with app.activate():
            worker.sync()
            worker._dispatch(runs)
            worker._dispatch(runs)  # looking again while the lane runs takes no other lane
        assert [name for name in runs.busy() if name.startswith("crm.events.lane.")] == ["crm.events.lane.0"]
        # another worker takes the next lane, not the one running here
        with app.activate():
            other._dispatch(other_runs)
        assert [name for name in other_runs.busy() if name.startswith("crm.events.lane.")] == ["crm.events.lane.1"]
    finally:
        release.set()
        runs.join()
        other_runs.join()
    assert sorted(started) == ["crm.events.lane.0", "crm.events.lane.1"]


def test_upgrading_turns_each_cursor_into_lane_zero_at_the_same_place(crm_factory, crm_plugin):
    import json

    from playhouse.migrations import Runner

    from crm_core.schema import KERNEL_MIGRATIONS
    from crm_hookspecs.events import to_payload

    app = crm_factory(
        plugins=[crm_plugin("probe", crm_handle_events=record)], migrate=False, core={"worker": {"event_lanes": 2}}
    )
    app.deliver_events = "worker"
    runner = Runner(app.database, str(KERNEL_MIGRATIONS), table_name="crm_schema_migration")
    db = app.database
    q, p = db.quote, db.param
    with app.activate():
        runner.up(target="0007_users")
        for event in changes(5, 2):  # ten events stored before the upgrade; the handler had seen six
            type_name, payload = to_payload(event)
            db.execute_sql(
                f"INSERT INTO {'crm_event'.join(q)} ({'event_id'.join(q)}, {'type'.join(q)}, "
                f"{'occurred_at'.join(q)}, {'payload'.join(q)}) VALUES ({p}, {p}, {p}, {p})",
                (event.event_id, type_name, dt.datetime(2026, 1, 1), json.dumps(payload)),
            )
        db.execute_sql(
            f"INSERT INTO {'crm_event_cursor'.join(q)} ({'handler'.join(q)}, {'last_id'.join(q)}, "
            f"{'updated_at'.join(q)}) VALUES ({p}, {p}, {p})",
            ("probe", 6, dt.datetime(2026, 1, 1)),
        )
    app.migrate()
    with app.activate():
        assert [(c.handler, c.lane, c.lanes, c.last_id) for c in EventCursor.select()] == [("probe", 0, 1, 6)]
        assert "crm_event_cursor" not in db.get_tables()
        Seen.create_table(safe=True)
    assert app.events.deliver().delivered == 4  # split into two lanes at 6, then the four after it
    with app.activate():
        assert sorted((row.contact_id, row.n) for row in Seen.select()) == [(2, 1), (3, 1), (4, 1), (5, 1)]
        assert sorted((c.lane, c.lanes) for c in EventCursor.select()) == [(0, 2), (1, 2)]
