"""Events: the outbox, delivery after commit, failures and retries (crm_core.events)."""

from __future__ import annotations

import datetime as dt
import json

import peewee
import pytest

from crm_core.errors import ConfigError, EventError
from crm_core.events import BATCH_SIZE, FIRST_BACKOFF
from crm_core.models import EventFailure, OutboxEvent
from crm_core.storage import Model
from crm_hookspecs import hookimpl
from crm_hookspecs.events import ContactCreated, ContactDeleted, TaskCreated, UnknownEvent
from crm_hookspecs.records import PluginSchema

NOTE_MIGRATION = """
import peewee


def up(migrator, db):
    class Note(peewee.Model):
        text = peewee.CharField(max_length=200)

        class Meta:
            database = db
            table_name = "kt_note"

    db.create_tables([Note])
"""


class Note(Model):
    text = peewee.CharField(max_length=200)

    class Meta:
        table_name = "kt_note"


class Notes:
    """A plugin owning kt_note; its handler writes a note per event and can be told to fail."""

    def __init__(self, migrations) -> None:
        self.migrations = migrations
        self.fail_on: set[int] = set()
        self.seen: list[int] = []

    @hookimpl
    def crm_schema(self):
        return PluginSchema(migrations=self.migrations, models=(Note,))

    @hookimpl
    def crm_handle_events(self, crm, events):
        for event in events:
            cid = getattr(event, "contact_id", None)
            self.seen.append(cid)
            Note.create(text=f"saw {event.type_name} {cid}")  # written, then maybe rolled back
            if cid in self.fail_on:
                raise RuntimeError(f"cannot handle contact {cid}")


@pytest.fixture
def notes(tmp_path, kit):
    return Notes(kit.write_migrations(tmp_path / "notes_migrations", {"0001_note": NOTE_MIGRATION}))


def created(*ids: int) -> list[ContactCreated]:
    return [ContactCreated(contact_id=i, data={"name": f"c{i}"}) for i in ids]


def note_texts(crm) -> list[str]:
    with crm.activate():
        return [n.text for n in Note.select().order_by(Note.id)]


# -- emitting and delivering -------------------------------------------------


def test_events_are_delivered_after_commit_in_order(crm_factory, crm_recorder):
    crm = crm_factory([("rec", crm_recorder)])
    events = created(1, 2, 3)
    with crm.transaction():
        for event in events:
            crm.emit(event)
        assert crm_recorder.events == []  # nothing before the commit
        with crm.activate():
            assert OutboxEvent.select().count() == 3  # but written in the transaction
    assert [e.event_id for e in crm_recorder.events] == [e.event_id for e in events]
    assert [e.contact_id for e in crm_recorder.events] == [1, 2, 3]
    assert crm_recorder.events[0].data == {"name": "c1"}


def test_occurred_at_comes_from_the_app_clock(crm_factory, crm_recorder, crm_clock):
    crm = crm_factory([("rec", crm_recorder)])
    crm_clock.advance(days=2)
    crm.emit(ContactDeleted(contact_id=9))
    assert crm_recorder.events[0].occurred_at == crm_clock.now()
    explicit = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    crm.emit(ContactDeleted(contact_id=9, occurred_at=explicit))
    assert crm_recorder.events[1].occurred_at == explicit


def test_a_rolled_back_transaction_neither_stores_nor_delivers(crm_factory, crm_recorder):
    crm = crm_factory([("rec", crm_recorder)])
    with pytest.raises(RuntimeError):
        with crm.transaction():
            crm.emit(created(1)[0])
            raise RuntimeError("abandon")
    with crm.activate():
        assert OutboxEvent.select().count() == 0
    assert crm_recorder.events == []

    # the next committed transaction is delivered as usual
    with crm.transaction():
        crm.emit(created(2)[0])
    assert [e.contact_id for e in crm_recorder.events] == [2]


def test_a_rolled_back_savepoint_drops_only_its_events(crm_factory, crm_recorder):
    crm = crm_factory([("rec", crm_recorder)])
    with crm.transaction():
        crm.emit(created(1)[0])
        with pytest.raises(RuntimeError):
            with crm.transaction():
                crm.emit(created(2)[0])
                raise RuntimeError("inner")
        crm.emit(created(3)[0])
    assert [e.contact_id for e in crm_recorder.events] == [1, 3]


def test_emit_outside_a_transaction_is_delivered_at_once(crm_factory, crm_recorder):
    crm = crm_factory([("rec", crm_recorder)])
    crm.emit(created(5)[0])
    assert [e.contact_id for e in crm_recorder.events] == [5]


def test_emit_many_writes_in_bulk_and_delivers_in_batches(crm_factory, crm_plugin):
    batches: list[int] = []
    crm = crm_factory([crm_plugin("counter", crm_handle_events=lambda crm, events: batches.append(len(events)))])
    count = BATCH_SIZE * 2 + 7
    with crm.transaction():
        assert crm.events.emit_many(created(*range(count))) == count
        assert batches == []
    assert sum(batches) == count
    assert max(batches) == BATCH_SIZE  # one call per batch, not per event
    assert crm.events.emit_many([]) == 0


def test_a_backlog_is_delivered_with_the_collector_paused_a_few_events_are_not(crm_factory, crm_plugin):
    import gc

    seen: list[tuple[int, bool]] = []
    crm = crm_factory(
        [crm_plugin("watch", crm_handle_events=lambda crm, events: seen.append((len(events), gc.isenabled())))]
    )
    with crm.transaction():
        crm.events.emit_many(created(1, 2, 3))
    assert seen == [(3, True)]  # an everyday delivery leaves the process's collector alone
    seen.clear()
    with crm.transaction():
        crm.events.emit_many(created(*range(BATCH_SIZE + 5)))
    assert seen == [(BATCH_SIZE, False), (5, False)] and gc.isenabled()


def test_every_handler_gets_every_event_in_dependency_order(crm_factory, crm_plugin):
    calls: list[str] = []

    def handler(name):
        return lambda crm, events: calls.extend(f"{name}:{e.contact_id}" for e in events)

    first = crm_plugin("zfirst", crm_handle_events=handler("zfirst"))
    second = (*crm_plugin("asecond", crm_handle_events=handler("asecond")), {"zfirst": ""})
    crm = crm_factory([second, first])
    crm.events.emit_many(created(1, 2))
    assert calls == ["zfirst:1", "zfirst:2", "asecond:1", "asecond:2"]


def test_a_handler_that_emits_events_during_delivery(crm_factory, crm_recorder, crm_plugin):
    def follow_up(crm, events):
        for event in events:
            if isinstance(event, ContactCreated):
                crm.emit(
                    TaskCreated(task_id=event.contact_id * 10, kind="manual", title="call", contact_id=event.contact_id)
                )

    crm = crm_factory([crm_plugin("tasker", crm_handle_events=follow_up), ("rec", crm_recorder)])
    with crm.transaction():
        crm.emit(created(1)[0])
    assert crm_recorder.types() == ["ContactCreated", "TaskCreated"]
    assert crm_recorder.events[1].task_id == 10
    assert all(s["pending"] == 0 for s in crm.events.status())


def test_an_event_type_nobody_registered_is_kept_and_read_back(crm_factory, crm_recorder):
    crm = crm_factory([("rec", crm_recorder)])
    unknown = UnknownEvent(unknown_type="acme.ParcelShipped", payload={"parcel": "P-1", "contact_id": 4})
    crm.emit(unknown)
    got = crm_recorder.events[0]
    assert isinstance(got, UnknownEvent)
    assert got.type_name == "acme.ParcelShipped"
    assert {k: got.payload[k] for k in ("parcel", "contact_id")} == {"parcel": "P-1", "contact_id": 4}
    assert got.event_id == unknown.event_id  # recognisable by a handler, like any event
    assert got.contact_ids() == (4,)

    # a row written by a plugin that is no longer installed
    with crm.transaction():
        OutboxEvent.create(
            event_id="e" * 32,
            type="gone.Thing",
            occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            payload=json.dumps({"event_id": "e" * 32, "what": "kept"}),
        )
    crm.events.deliver()
    assert crm_recorder.events[-1].type_name == "gone.Thing"
    assert crm_recorder.events[-1].payload["what"] == "kept"
    assert [r["type"] for r in crm.events.recent()] == ["gone.Thing", "acme.ParcelShipped"]


def test_a_payload_that_is_not_json_is_an_event_error(crm_factory, crm_recorder):
    crm = crm_factory([("rec", crm_recorder)])
    with crm.transaction():
        with pytest.raises(EventError) as info:
            crm.emit(ContactCreated(contact_id=1, data={"when": object()}))
        crm.emit(created(2)[0])  # the transaction is still usable
    message = str(info.value)
    assert "cannot emit ContactCreated" in message and "not JSON-serialisable" in message and "object" in message
    with crm.activate():
        assert OutboxEvent.select().count() == 1
    with pytest.raises(EventError, match="takes an event from crm_hookspecs.events, not dict"):
        crm.emit({"type": "ContactCreated"})


def test_with_delivery_left_to_the_worker_events_wait(crm_factory, crm_recorder):
    crm = crm_factory([("rec", crm_recorder)])
    crm.deliver_events = "worker"
    crm.events.emit_many(created(1, 2))
    assert crm_recorder.events == []
    assert crm.events.status()[0]["pending"] == 2
    report = crm.events.deliver()
    assert report.delivered == 2 and [e.contact_id for e in crm_recorder.events] == [1, 2]
    assert crm.events.deliver().delivered == 0  # nothing twice


def test_a_new_handler_starts_after_the_newest_event(crm_factory, crm_recorder, crm_db_url):
    crm = crm_factory()
    crm.events.emit_many(created(1, 2))
    crm.close()
    later = crm_factory([("rec", crm_recorder)], migrate=False)
    later.emit(created(3)[0])
    assert [e.contact_id for e in crm_recorder.events] == [3]


# -- one batch, many handlers ---------------------------------------------------


@pytest.fixture
def decoded(monkeypatch):
    """The contact id of each payload delivery turns back into an event, in order."""
    import crm_hookspecs.events as contract

    seen: list[int] = []
    real = contract.from_payload

    def counting(type_name, payload):
        seen.append(payload.get("contact_id"))
        return real(type_name, payload)

    monkeypatch.setattr(contract, "from_payload", counting)
    return seen


def two_handlers(crm_factory, crm_plugin, on_first=None):
    """An app with handlers 'zfirst' and 'asecond' (after it), delivery left to the test; and their calls."""
    calls: list[tuple[str, list[int]]] = []

    def handler(name):
        def handle(crm, events):
            calls.append((name, [e.contact_id for e in events]))
            if name == "zfirst" and on_first is not None:
                on_first(crm, events)

        return handle

    first = crm_plugin("zfirst", crm_handle_events=handler("zfirst"))
    second = (*crm_plugin("asecond", crm_handle_events=handler("asecond")), {"zfirst": ""})
    crm = crm_factory([second, first])
    crm.deliver_events = "worker"
    return crm, calls


def seen_by(calls, name):
    return [cid for n, ids in calls if n == name for cid in ids]


def test_handlers_share_one_decoding_of_each_batch(crm_factory, crm_plugin, decoded):
    def clear(crm, events):
        events.clear()  # its own list: the next handler still gets the whole batch

    crm, calls = two_handlers(crm_factory, crm_plugin, on_first=clear)
    count = BATCH_SIZE + 2
    crm.events.emit_many(created(*range(count)))
    report = crm.events.deliver()
    assert (report.delivered, report.failed) == (2 * count, 0)
    assert decoded == list(range(count))  # each payload decoded once, not once per handler
    # batch by batch, each batch to the handlers in dependency order
    assert [(n, len(ids)) for n, ids in calls] == [
        ("zfirst", BATCH_SIZE),
        ("asecond", BATCH_SIZE),
        ("zfirst", 2),
        ("asecond", 2),
    ]
    assert seen_by(calls, "zfirst") == seen_by(calls, "asecond") == list(range(count))
    assert all(s["pending"] == 0 for s in crm.events.status())


def test_a_handler_behind_the_others_catches_up_without_repeating_theirs(crm_factory, crm_plugin, decoded):
    crm, calls = two_handlers(crm_factory, crm_plugin)
    crm.events.emit_many(created(1, 2))
    assert crm.events.deliver("asecond").delivered == 2
    crm.events.emit_many(created(3, 4))
    decoded.clear()
    assert crm.events.deliver().delivered == 6
    assert seen_by(calls, "zfirst") == [1, 2, 3, 4]
    assert seen_by(calls, "asecond") == [1, 2, 3, 4]  # 1 and 2 once, in the first delivery
    assert calls[-2:] == [("zfirst", [1, 2, 3, 4]), ("asecond", [3, 4])]  # one batch, from zfirst's position
    assert decoded == [1, 2, 3, 4]


def test_each_handler_gets_what_is_after_its_locked_cursor(crm_factory, crm_plugin):
    """The batch is read before the cursors are locked: the locked cursor decides, wherever it moved meanwhile."""
    from peewee import fn

    from crm_core.models import EventCursor

    moves: list[str] = []

    def move_second(crm, events):
        # what another delivery (moved forward) or an operator (moved back) could do
        if moves:
            to = moves.pop(0)
            last = 0 if to == "back" else OutboxEvent.select(fn.MAX(OutboxEvent.id)).scalar()
            EventCursor.update(last_id=last).where(EventCursor.handler == "asecond").execute()

    crm, calls = two_handlers(crm_factory, crm_plugin, on_first=move_second)
    crm.events.emit_many(created(1, 2))
    crm.events.deliver()
    moves.append("back")
    crm.events.emit_many(created(3, 4))
    crm.events.deliver()
    assert seen_by(calls, "asecond") == [1, 2, 1, 2, 3, 4]  # from its cursor, not from the shared batch
    moves.append("forward")
    crm.events.emit_many(created(5))
    assert crm.events.deliver().delivered == 1
    assert seen_by(calls, "zfirst") == [1, 2, 3, 4, 5]
    assert seen_by(calls, "asecond") == [1, 2, 1, 2, 3, 4]  # delivered elsewhere already: not twice
    assert all(s["pending"] == 0 for s in crm.events.status())


def test_a_handler_that_empties_its_list_and_fails_still_gets_each_event(crm_factory, crm_plugin):
    seen: list[int] = []

    def one_at_a_time(crm, events):
        batch = list(events)
        events.clear()
        if len(batch) > 1:
            raise RuntimeError("one at a time")
        seen.extend(e.contact_id for e in batch)

    crm = crm_factory([crm_plugin("fussy", crm_handle_events=one_at_a_time)])
    crm.events.emit_many(created(1, 2, 3))
    assert seen == [1, 2, 3]  # re-run event by event, from the kernel's list, not the handler's
    assert crm.events.failed() == []


# -- failures -----------------------------------------------------------------


@pytest.mark.crm_allow_delivery_failures  # a failing handler is what it checks
def test_a_failing_handler_keeps_the_change_and_the_other_handlers(crm_factory, notes, crm_recorder):
    crm = crm_factory([("notes", notes), ("rec", crm_recorder)])
    notes.fail_on = {2}
    with crm.transaction():
        Note.create(text="the change itself")
        crm.events.emit_many(created(1, 2, 3))

    # the change stays; the other handler saw everything once
    assert [e.contact_id for e in crm_recorder.events] == [1, 2, 3]
    # the failing event's partial write was rolled back; the others' kept once
    assert note_texts(crm) == ["the change itself", "saw ContactCreated 1", "saw ContactCreated 3"]
    failures = crm.events.failed()
    assert len(failures) == 1
    failure = failures[0]
    assert (failure.handler, failure.event_type, failure.attempts) == ("notes", "ContactCreated", 1)
    with crm.activate():
        # the failure names the outbox row of contact 2's event
        assert json.loads(OutboxEvent.get_by_id(failure.event_pk).payload)["contact_id"] == 2
    assert failure.error == "RuntimeError: cannot handle contact 2"
    assert failure.next_attempt_at == failure.failed_at + FIRST_BACKOFF
    with crm.activate():
        assert "Traceback" in EventFailure.get_by_id(failure.id).error  # the whole traceback is kept
    status = {s["handler"]: s for s in crm.events.status()}
    assert status["notes"]["failed"] == 1 and status["notes"]["pending"] == 0
    assert status["rec"]["failed"] == 0


@pytest.mark.crm_allow_delivery_failures  # a failing handler is what it checks
def test_retry_waits_for_the_back_off_then_succeeds(crm_factory, notes, crm_clock):
    crm = crm_factory([("notes", notes)])
    notes.fail_on = {7}
    crm.emit(created(7)[0])
    assert len(crm.events.failed()) == 1

    # not due yet
    assert crm.events.retry().retried_ok == 0 and crm.events.retry().failed == 0

    crm_clock.advance(FIRST_BACKOFF)
    report = crm.events.retry()
    assert (report.retried_ok, report.failed) == (0, 1)
    failure = crm.events.failed()[0]
    assert failure.attempts == 2
    assert failure.next_attempt_at == crm_clock.now() + 2 * FIRST_BACKOFF  # doubled

    notes.fail_on = set()  # the handler is fixed
    crm_clock.advance(FIRST_BACKOFF)
    assert crm.events.retry().retried_ok == 0  # still waiting
    crm_clock.advance(FIRST_BACKOFF)
    report = crm.events.retry()
    assert (report.retried_ok, report.failed) == (1, 0)
    assert crm.events.failed() == []
    assert note_texts(crm) == ["saw ContactCreated 7"]  # failed attempts left nothing behind


@pytest.mark.crm_allow_delivery_failures  # a failing handler is what it checks
def test_retry_all_ignores_the_back_off(crm_factory, notes):
    crm = crm_factory([("notes", notes)])
    notes.fail_on = {1, 2}
    crm.events.emit_many(created(1, 2))
    notes.fail_on = {2}
    report = crm.events.retry(due_only=False)
    assert (report.retried_ok, report.failed) == (1, 1)
    assert [f.event_type for f in crm.events.failed()] == ["ContactCreated"]


@pytest.mark.crm_allow_delivery_failures  # a failing handler is what it checks
def test_a_handler_sees_an_event_again_only_after_a_failure(crm_factory, notes, crm_clock):
    crm = crm_factory([("notes", notes)])
    notes.fail_on = {2}
    crm.events.emit_many(created(1, 2, 3))
    # the batch failed at 2, so it was rolled back and re-run event by event
    assert notes.seen == [1, 2, 1, 2, 3]
    notes.seen.clear()
    crm.emit(created(4)[0])
    assert notes.seen == [4]  # the cursor moved past 1-3
    assert crm.events.deliver().delivered == 0
    notes.fail_on = set()
    crm_clock.advance(hours=1)
    crm.events.retry()
    assert notes.seen == [4, 2]  # only the failed one comes back


@pytest.mark.crm_allow_delivery_failures  # a failing handler is what it checks
def test_exhausted_back_off_is_capped(crm_factory, notes, crm_clock):
    from crm_core.events import MAX_BACKOFF

    crm = crm_factory([("notes", notes)])
    notes.fail_on = {1}
    crm.emit(created(1)[0])
    for _ in range(12):
        crm_clock.advance(MAX_BACKOFF)
        crm.events.retry()
    failure = crm.events.failed()[0]
    assert failure.attempts == 13
    assert failure.next_attempt_at - crm_clock.now() == MAX_BACKOFF


@pytest.mark.crm_allow_delivery_failures  # a failing handler is what it checks
def test_a_failure_of_a_plugin_not_enabled_is_kept(crm_factory, notes, crm_db_url):
    crm = crm_factory([("notes", notes)])
    notes.fail_on = {1}
    crm.emit(created(1)[0])
    crm.close()
    other = crm_factory(migrate=False)
    assert other.events.retry(due_only=False).retried_ok == 0
    assert [f.handler for f in other.events.failed()] == ["notes"]
    status = {s["handler"]: s for s in other.events.status()}
    assert status["notes"]["enabled"] is False and status["notes"]["failed"] == 1


# -- the commands ---------------------------------------------------------------


@pytest.mark.crm_allow_delivery_failures  # a failing handler is what it checks
def test_events_commands(crm_factory, notes, crm_cli, crm_clock):
    crm = crm_factory([("notes", notes)])
    notes.fail_on = {2}
    crm.events.emit_many(created(1, 2))

    listed = crm_cli.invoke(["events", "list", "--format", "json"], app=crm)
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [r["payload"]["contact_id"] for r in rows] == [2, 1]
    assert {r["type"] for r in rows} == {"ContactCreated"}
    only = crm_cli.invoke(["events", "list", "--type", "TaskCreated"], app=crm)
    assert only.output.strip() == "(none)"

    status = crm_cli.invoke(["events", "status", "--format", "csv"], app=crm)
    assert status.output.splitlines() == ["handler,enabled,position,pending,failed", "notes,True,2,0,1"]

    failed = crm_cli.invoke(["events", "failed", "--format", "json"], app=crm)
    [row] = json.loads(failed.output)
    assert row["handler"] == "notes" and row["attempts"] == 1
    assert row["error"] == "RuntimeError: cannot handle contact 2"

    retried = crm_cli.invoke(["events", "retry"], app=crm)
    assert retried.exit_code == 0 and retried.output.strip() == "0 delivered, 0 failed again"
    retried = crm_cli.invoke(["events", "retry", "--all"], app=crm)
    assert retried.exit_code == 1 and retried.output.strip() == "0 delivered, 1 failed again"
    notes.fail_on = set()
    retried = crm_cli.invoke(["events", "retry", "--all"], app=crm)
    assert retried.exit_code == 0 and retried.output.strip() == "1 delivered, 0 failed again"
    assert crm_cli.invoke(["events", "failed"], app=crm).output.strip() == "(none)"

    crm.deliver_events = "worker"
    crm.emit(created(3)[0])
    delivered = crm_cli.invoke(["events", "deliver"], app=crm)
    assert delivered.output.strip() == "1 delivered, 0 failed"


def test_a_delivery_that_breaks_after_commit_does_not_fail_the_committed_change(
    crm_factory, crm_recorder, monkeypatch, caplog
):
    crm = crm_factory([("rec", crm_recorder)])
    other_callbacks: list[str] = []

    def broken(name, fn):
        raise peewee.OperationalError("server went away")

    monkeypatch.setattr(crm.events, "_deliver_to", broken)
    with crm.transaction():
        crm.emit(created(1)[0])
        crm.database.after_commit(lambda: other_callbacks.append("ran"))
    assert other_callbacks == ["ran"]  # peewee's other after-commit callbacks still run
    assert "delivering events after commit failed" in caplog.text
    assert crm.events.status()[0]["pending"] == 1  # kept in the outbox
    monkeypatch.undo()
    assert crm.events.deliver().delivered == 1
    assert [e.contact_id for e in crm_recorder.events] == [1]


@pytest.mark.crm_allow_delivery_failures  # a failing handler is what it checks
def test_a_huge_error_is_shortened_but_recorded(crm_factory, crm_plugin):
    def handler(crm, events):
        raise ValueError("bad row: " + "x" * 100_000)  # more than MySQL's TEXT holds

    crm = crm_factory([crm_plugin("huge", crm_handle_events=handler)])
    crm.emit(created(1)[0])
    [failure] = crm.events.failed()
    with crm.activate():
        text = EventFailure.get_by_id(failure.id).error
    assert text.startswith("Traceback") and "ValueError: bad row: xxx" in text
    assert len(text) < 17_000 and "[… traceback shortened …]" in text
    assert failure.error.endswith("xxx")


def test_an_event_committed_after_a_later_one_is_not_skipped(crm_factory, crm_recorder):
    """Two writers: the one that emitted first commits last. Its event must still be delivered.

    Ids are handed out when a row is written, not when it commits; a cursor
    that moved past a later id must not leave the earlier one behind.
    """
    import threading

    crm = crm_factory([("rec", crm_recorder)])
    first_emitted = threading.Event()
    second_started = threading.Event()
    errors: list[BaseException] = []

    def slow_writer():
        try:
            with crm.transaction():
                crm.emit(created(1)[0])
                first_emitted.set()
                second_started.wait(5)
                # give the other writer time to insert and commit if it can
                __import__("time").sleep(0.3)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def fast_writer():
        try:
            first_emitted.wait(5)
            second_started.set()
            with crm.transaction():
                crm.emit(created(2)[0])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=slow_writer), threading.Thread(target=fast_writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    crm.events.deliver()
    assert sorted(e.contact_id for e in crm_recorder.events) == [1, 2]
    assert all(s["pending"] == 0 for s in crm.events.status())


def test_a_reader_does_not_pass_an_event_still_in_flight(crm_factory, crm_recorder, crm_db_url):
    """Writer A emits first and commits last; writer B emits and commits meanwhile. On PostgreSQL B does not
    wait for A (writers share the outbox's lock), and a reader that keeps positions (the feed, delivery) waits
    for A rather than pass A's id; elsewhere B waits for A. Either way A's event is never skipped."""
    import threading
    import time

    crm = crm_factory([("rec", crm_recorder)])
    crm.deliver_events = "worker"  # the readers below are the test's
    a_emitted, b_done, a_committed = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []
    read: list[list[int]] = []

    def writer_a():
        try:
            with crm.transaction():
                crm.emit(created(1)[0])
                a_emitted.set()
                b_done.wait(1.0)  # on PostgreSQL B commits meanwhile; elsewhere it waits for this commit
                time.sleep(0.3)
            a_committed.set()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def writer_b():
        try:
            a_emitted.wait(5)
            with crm.transaction():
                crm.emit(created(2)[0])
            b_done.set()
        except BaseException as exc:
            errors.append(exc)

    def reader():
        try:
            b_done.wait(5)
            read.append([e.event.contact_id for e in crm.events.read()])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (writer_a, writer_b, reader)]
    for thread in threads:
        thread.start()
    threads[1].join(10)
    b_before_a = not a_committed.is_set()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert b_before_a == crm_db_url.startswith("postgres")  # writers take turns only off PostgreSQL
    assert read == [[1, 2]]
    crm.events.deliver()
    assert [e.contact_id for e in crm_recorder.events] == [1, 2]


def test_an_unknown_event_keeps_its_identity_through_a_round_trip():
    from crm_hookspecs.events import from_payload, to_payload

    at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    event = UnknownEvent(unknown_type="acme.Shipped", payload={"parcel": 7}, occurred_at=at, actor="ana", channel="api")
    type_name, payload = to_payload(event)
    again = from_payload(type_name, payload)
    assert isinstance(again, UnknownEvent)
    assert (again.type_name, again.event_id, again.occurred_at, again.actor, again.channel) == (
        "acme.Shipped",
        event.event_id,
        at,
        "ana",
        "api",
    )
    assert again.payload["parcel"] == 7


def test_payloads_of_any_typed_values_are_what_cattrs_makes_of_them():
    """The contract's fast path for values typed Any gives cattrs' own output, for every kind of value."""
    import decimal
    import enum

    import cattrs

    from crm_hookspecs.events import ContactChanged, from_payload, to_payload
    from crm_hookspecs.records import FieldChange

    class Colour(enum.Enum):
        RED = "red"

    at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    data = {
        "name": "Núñez",
        "count": 3,
        "ratio": 0.5,
        "vip": True,
        "none": None,
        "emails": [{"address": "a@example.com", "primary": True}],
        "nested": {"when": at, "day": dt.date(2026, 3, 1), "amount": decimal.Decimal("12.50"), 7: "seven"},
        "pair": ("a", at),
        "colour": Colour.RED,
        "change": FieldChange(old="a", new=at),
    }
    plain = cattrs.Converter(forbid_extra_keys=False)
    plain.register_unstructure_hook(dt.datetime, lambda v: v.isoformat())
    plain.register_unstructure_hook(dt.date, lambda v: v.isoformat())
    plain.register_unstructure_hook(decimal.Decimal, str)
    event = ContactCreated(contact_id=4, data=data, occurred_at=at, actor="ana", channel="import")
    assert to_payload(event) == ("ContactCreated", plain.unstructure(event))
    changed = ContactChanged(contact_id=4, changes={"owner": FieldChange(old=None, new={"when": at, "list": [1, at]})})
    assert to_payload(changed)[1] == plain.unstructure(changed)
    # and back: a decoded payload's data is the same dict of JSON values
    text = json.loads(json.dumps(to_payload(event)[1], default=str))
    assert from_payload("ContactCreated", text).data == text["data"]
    assert isinstance(from_payload("ContactCreated", {**text, "data": [1, 2]}), UnknownEvent)
    assert isinstance(from_payload("ContactCreated", {**text, "contact_id": "four"}), UnknownEvent)
    assert isinstance(
        from_payload("ContactCreated", {k: v for k, v in text.items() if k != "contact_id"}), UnknownEvent
    )
    again = from_payload("ContactChanged", json.loads(json.dumps(to_payload(changed)[1])))
    assert again.changes["owner"] == FieldChange(old=None, new={"when": at.isoformat(), "list": [1, at.isoformat()]})
    assert from_payload("ContactCreated", {**text, "extra": 1, "contact_id": 4.0}).contact_id == 4


def test_events_of_plain_types_are_written_straight_to_the_same_json_text(crm_factory):
    """emit_many writes a plain event's text from its attributes: the same text as to_payload + json, always."""
    import enum

    from crm_core.events import _NotPlain, _payload_writer
    from crm_hookspecs.events import (
        ContactDeleted,
        MailBounced,
        SaleClosed,
        StageChanged,
        TaskCompleted,
        TaskCreated,
        registered_types,
        to_payload,
    )

    class Level(enum.IntEnum):
        HIGH = 1

    class Name(str):
        pass

    class Moment(dt.datetime):
        pass

    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    at = dt.datetime(2026, 3, 1, 12, 0, 5, 123456, tzinfo=dt.UTC)
    odd = 'Núñez "q" \\ \n \t \x00 \u2028 😀'
    events = [
        TaskCreated(task_id=1, kind="call", title=odd, assignee=None, contact_id=None, occurred_at=at),
        TaskCreated(task_id=2**70, kind="call", title="x", assignee="ana", contact_id=3, occurred_at=at, actor="a"),
        TaskCreated(task_id=True, kind="call", title="x", contact_id=False, occurred_at=dt.datetime(2026, 3, 1)),
        TaskCompleted(task_id=-4, kind="to-do", occurred_at=at, channel="staff"),
        StageChanged(record_id=5, contact_id=6, old_stage=None, new_stage="won", owner="luis", occurred_at=at),
        MailBounced(address="a@example.com", reason="full", message_id=None, occurred_at=at),
        ContactDeleted(contact_id=7, occurred_at=at),
        # values the writer leaves to the general way: a subclass, a float, an enum, a datetime subclass
        TaskCreated(task_id=8, kind=Name("call"), title="x", occurred_at=at),
        TaskCreated(task_id=9.5, kind="call", title="x", occurred_at=at),
        TaskCreated(task_id=Level.HIGH, kind="call", title="x", occurred_at=at),
        TaskCreated(task_id=10, kind="call", title="x", occurred_at=Moment(2026, 3, 1, tzinfo=dt.UTC)),
        SaleClosed(record_id=12, contact_id=1, won=True, amount=3, occurred_at=at),  # a type with an amount: no writer
    ]
    for event in events:
        writer = _payload_writer(type(event))
        assert (writer is None) == isinstance(event, SaleClosed)
        if writer is not None:
            try:
                text = writer(event)
            except _NotPlain:
                continue  # left to the general way, checked below with the rest
            assert text == encode(to_payload(event)[1]), event
    # the contract's plain types have a writer; those with an amount, a dict or a list have none
    writers = {name for name, cls in registered_types().items() if _payload_writer(cls) is not None}
    assert {"TaskCreated", "TaskCompleted", "StageChanged", "ContactDeleted"} <= writers
    assert not {"SaleClosed", "ContactCreated", "ContactChanged", "SurveyAnswered"} & writers
    crm = crm_factory()
    with crm.transaction():
        crm.events.emit_many(events)
    with crm.activate():
        stored = [row.payload for row in OutboxEvent.select().order_by(OutboxEvent.id)]
    assert stored == [encode(to_payload(e)[1]) for e in events]


def test_event_ids_are_unique_time_ordered_uuids_also_across_a_fork():
    import os
    import uuid

    ids = [ContactCreated(contact_id=i).event_id for i in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)  # made one after the other, they sort in that order (an index grows at its end)
    assert {(uuid.UUID(i).version, uuid.UUID(i).variant) for i in ids[:100]} == {(7, uuid.RFC_4122)}
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only writes its ids
        os.close(read)
        os.write(write, " ".join(ContactCreated(contact_id=i).event_id for i in range(100)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    mine = [ContactCreated(contact_id=i).event_id for i in range(100)]
    assert len(child) == 100 and not set(child) & set(mine)
    assert {i[-8:] for i in child} != {i[-8:] for i in mine}  # the child draws its own number


def test_one_delivery_per_outermost_transaction_even_after_a_rollback(crm_factory, crm_recorder, monkeypatch):
    crm = crm_factory([("rec", crm_recorder)])
    bus = crm.events
    rounds = []
    deliver = bus.deliver
    monkeypatch.setattr(bus, "deliver", lambda *a, **kw: rounds.append(1) or deliver(*a, **kw))
    with crm.transaction():
        crm.emit(created(1)[0])
        with crm.transaction():  # a savepoint: the same outermost transaction
            crm.emit(created(2)[0])
        crm.emit(created(3)[0])
    assert len(rounds) == 1
    # peewee drops the after-commit callbacks of a rolled-back transaction:
    # the marker must not outlive it and stop the next transaction's delivery
    with pytest.raises(RuntimeError):
        with crm.transaction():
            crm.emit(created(4)[0])
            raise RuntimeError("abandon")
    assert len(rounds) == 1
    with crm.transaction():
        crm.emit(created(5)[0])
        crm.emit(created(6)[0])
    assert len(rounds) == 2
    assert [e.contact_id for e in crm_recorder.events] == [1, 2, 3, 5, 6]


def test_events_written_after_an_explicit_rollback_inside_the_block_are_delivered(crm_factory, crm_recorder):
    crm = crm_factory([("rec", crm_recorder)])
    # txn.rollback() inside the block drops the after-commit callbacks
    # registered so far, and the block goes on in a new transaction
    with crm.activate(), crm.database.atomic() as txn:
        crm.emit(created(1)[0])
        txn.rollback()
        crm.emit(created(2)[0])
    assert [e.contact_id for e in crm_recorder.events] == [2]


@pytest.mark.sqlite_only  # an attribute of the app, not storage
def test_deliver_events_is_the_event_bus_mode(crm):
    assert crm.deliver_events == crm.events.delivery == "after-commit"
    crm.deliver_events = "worker"
    assert crm.events.delivery == "worker"
    with pytest.raises(ConfigError, match="crm.deliver_events is 'after-commit' or 'worker', not 'later'"):
        crm.deliver_events = "later"
    assert crm.deliver_events == "worker"


@pytest.mark.crm_allow_delivery_failures  # a failing handler is what it checks
def test_retry_named_failures_now_and_refuse_unknown_ones(crm_factory, notes):
    from crm_core.errors import NotFoundError

    crm = crm_factory([("notes", notes)])
    notes.fail_on = {1, 2}
    crm.events.emit_many(created(1, 2))
    first, second = crm.events.failed()
    notes.fail_on = set()
    report = crm.events.retry(failures=[second.id])  # before its back-off has passed
    assert (report.retried_ok, report.failed) == (1, 0)
    assert [f.id for f in crm.events.failed()] == [first.id]
    with pytest.raises(NotFoundError, match=f"no open event failure {second.id}: it was retried already"):
        crm.events.retry(failures=[first.id, second.id])
    assert [f.id for f in crm.events.failed()] == [first.id]  # nothing was retried


@pytest.mark.crm_allow_delivery_failures  # a failing handler is what it checks
def test_retrying_needs_admin_system_of_a_user(crm_factory, notes, crm_as_user):
    from crm_core.errors import PermissionDenied

    crm = crm_factory([("notes", notes)])
    notes.fail_on = {1}
    crm.emit(created(1)[0])
    notes.fail_on = set()
    with crm_as_user(crm, roles=["manager"]), pytest.raises(PermissionDenied, match="admin.system"):
        crm.events.retry(due_only=False)
    assert len(crm.events.failed()) == 1
    with crm_as_user(crm, roles=["admin"]):
        assert crm.events.retry(due_only=False).retried_ok == 1


def test_optional_scalars_are_stored_as_they_are_in_every_event_type() -> None:
    """The identity hook for ``str | None``, ``int | None``… gives what cattrs' own optional handling gave."""
    import types
    import typing

    import cattrs

    from crm_hookspecs.events import registered_types, to_payload

    plain = cattrs.Converter()  # none of the contract's hooks: its own handling of Optional
    scalars = (str, int, float, bool, type(None))
    samples = {str: ["text", "ñ"], int: [0, 7], float: [1.5], bool: [True, False]}
    event = TaskCreated(task_id=1, kind="call", title="Call")
    checked = 0
    for cls in registered_types().values():
        for kind in typing.get_type_hints(cls).values():
            args = typing.get_args(kind)
            if typing.get_origin(kind) not in (typing.Union, types.UnionType) or type(None) not in args:
                continue
            if not all(a in scalars for a in args):
                continue
            scalar = next(a for a in args if a is not type(None))
            for value in [None, *samples[scalar]]:
                assert plain.unstructure(value, kind) == value
            checked += 1
    assert checked > 20  # the actor of every event type, TaskCreated's assignee and contact_id…
    for assignee, contact_id in ((None, None), ("ana", 5)):
        made = TaskCreated(
            task_id=1, kind="call", title="Call", assignee=assignee, contact_id=contact_id, actor=assignee
        )
        payload = to_payload(made)[1]
        assert (payload["assignee"], payload["contact_id"], payload["actor"]) == (assignee, contact_id, assignee)
    assert list(to_payload(event)[1]) == [
        "event_id",
        "occurred_at",
        "actor",
        "channel",
        "task_id",
        "kind",
        "title",
        "assignee",
        "contact_id",
    ]
