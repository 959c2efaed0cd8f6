"""Events: the outbox, delivery after commit, retries.

``crm.emit(event)`` writes the event to the ``crm_event`` table in the
caller's transaction, so an event exists if and only if its change was
committed. After the commit, :meth:`EventBus.deliver` hands the new events to
each plugin that implements ``crm_handle_events``, in batches, in order. It
walks the outbox batch by batch: a batch is read and decoded once, and every
handler that is behind its end gets the part after its own cursor (each
handler a list of its own, the event objects shared).

Each handler has its own cursor (``crm_event_cursor``), advanced in the same
transaction as the handler's own writes, so a handler sees an event again
only after a failure. A batch that raises is rolled back and re-run event by
event; each event that still fails is recorded in ``crm_event_failure`` and
retried later with back-off (``crm events retry``, and the worker), while the
handler moves on to the next events. A failing handler never rolls back the
change that emitted the event, nor stops the other handlers.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import itertools
import json
import threading
import traceback
import zlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

import attrs

from crm_core import rows as typed_rows
from crm_core.clock import naive_utc
from crm_core.errors import EventError
from crm_core.memory import collector_paused
from crm_core.storage import atomic_block, bulk_insert, dialect, for_update

if TYPE_CHECKING:
    import peewee

    from crm_core.context import AppContext
    from crm_core.privacy import Redactor
    from crm_hookspecs.events import Event

__all__ = ["DeliveryReport", "EventBus", "FailureInfo", "LoggedEvent"]

#: events handed to a handler at once
BATCH_SIZE = 500
#: delay before the first retry; doubles with each attempt, up to MAX_BACKOFF
FIRST_BACKOFF = dt.timedelta(minutes=1)
MAX_BACKOFF = dt.timedelta(hours=6)
#: the row of crm_lock that event-writing transactions lock on MySQL/MariaDB (see EventBus._outbox_lock)
OUTBOX_LOCK = "events"
#: PostgreSQL's advisory lock of the outbox ("crm_evts"): shared by the transactions that write events,
#: taken alone for a moment by a reader that needs every id below a point final (see EventBus.horizon)
OUTBOX_ADVISORY_KEY = int.from_bytes(b"crm_evts", "big")
#: the longest error text kept for a failure (the start and the end of the traceback)
MAX_ERROR_CHARS = 16_000


@attrs.define
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    retried_ok: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.delivered + other.delivered, self.failed + other.failed, self.retried_ok + other.retried_ok
        )


@attrs.frozen
class LoggedEvent:
    """An event read back from the outbox: its ``position`` (ascending in emission order) and the event."""

    position: int
    event: Event


@attrs.frozen
class FailureInfo:
    id: int
    handler: str
    event_pk: int
    event_type: str
    attempts: int
    #: the last line of the traceback (the exception)
    error: str
    failed_at: dt.datetime
    next_attempt_at: dt.datetime
    #: the handler's whole traceback, as recorded
    traceback: str = ""


@attrs.frozen
class _Batch:
    """Outbox events after ``after``, read and decoded once and shared by the handlers of a delivery round."""

    after: int
    pks: list[int]
    events: list[Event]


@attrs.frozen
class _DeliverySQL:
    """The statements delivery runs per batch, as raw SQL.

    At hundreds of batches a second, peewee's query building and its
    conversion of each row cost more than the statements themselves.
    """

    #: the outbox after a position up to a bound, all lanes; :meth:`outbox_lane` adds a lane's condition
    outbox: str
    positions: str
    #: the newest outbox id
    newest: str
    lock: str
    advance: str
    #: moves an idle lane's cursor up to the bound it was read to (only forward)
    advance_idle: str
    #: PostgreSQL: the outbox's lock taken alone, then the newest id read and the lock let go
    horizon_lock: str
    horizon_read: str
    #: one event into the outbox
    insert_one: str
    #: ``MOD(lane_key, N) = k``, to be formatted with N and k (SQLite has ``%``; psycopg2 and pymysql
    #: would read a ``%`` as a parameter)
    lane_condition: str

    @classmethod
    def build(cls, database: Any) -> _DeliverySQL:
        def q(name: str) -> str:
            return name.join(database.quote)

        p = database.param
        cursors = q("crm_event_lane")
        kind = dialect(database)
        # the cursor's row lock makes two deliveries of one handler's lane take turns
        # (SQLite serialises write transactions already)
        lock = "" if kind == "sqlite" else " FOR UPDATE"
        key = q("lane_key")
        where_lane = f"{q('handler')} = {p} AND {q('lane')} = {p}"
        return cls(
            outbox=(
                f"SELECT {q('id')}, {q('type')}, {q('payload')} FROM {q('crm_event')} "
                f"WHERE {q('id')} > {p} AND {q('id')} <= {p}{{lane}} ORDER BY {q('id')} LIMIT {p}"
            ),
            insert_one=(
                f"INSERT INTO {q('crm_event')} ({q('event_id')}, {q('type')}, {q('occurred_at')}, {q('payload')}, "
                f"{key}) VALUES ({p}, {p}, {p}, {p}, {p})"
            ),
            horizon_lock=f"SELECT pg_advisory_lock({OUTBOX_ADVISORY_KEY})",
            # one statement: its snapshot is taken when it starts, while the lock is held
            horizon_read=(
                f"SELECT (SELECT MAX({q('id')}) FROM {q('crm_event')}), pg_advisory_unlock({OUTBOX_ADVISORY_KEY})"
            ),
            newest=f"SELECT MAX({q('id')}) FROM {q('crm_event')}",
            positions=f"SELECT {q('handler')}, {q('lane')}, {q('lanes')}, {q('last_id')} FROM {cursors}",
            lock=f"SELECT {q('last_id')}, {q('lanes')} FROM {cursors} WHERE {where_lane}{lock}",
            advance=f"UPDATE {cursors} SET {q('last_id')} = {p}, {q('updated_at')} = {p} WHERE {where_lane}",
            advance_idle=(
                f"UPDATE {cursors} SET {q('last_id')} = {p}, {q('updated_at')} = {p} "
                f"WHERE {where_lane} AND {q('lanes')} = {p} AND {q('last_id')} < {p}"
            ),
            lane_condition=(f" AND ({key} % {{n}}) = {{k}}" if kind == "sqlite" else f" AND MOD({key}, {{n}}) = {{k}}"),
        )

    def outbox_lane(self, lanes: int, lane: int) -> str:
        """The outbox read of one lane of ``lanes`` (all of them when there is one)."""
        condition = "" if lanes == 1 else self.lane_condition.format(n=int(lanes), k=int(lane))
        return self.outbox.replace("{lane}", condition)


def lane_key(event: Event) -> int:
    """The event's lane key: a stable hash of its subject, the first contact it concerns (0 without one).

    Its lane among N is ``lane_key % N``: the events of one contact share a
    lane, so they are delivered in order whatever the lane count.
    """
    ids = event.contact_ids()
    if not ids:
        return 0
    return zlib.crc32(str(ids[0]).encode("ascii")) & 0x7FFF_FFFF


_raw_decode = json.JSONDecoder().raw_decode


def _loads(text: str) -> Any:
    """``json.loads(text)``, skipping its wrappers when the text is one JSON value and nothing else.

    Delivery decodes every outbox payload; the wrappers cost about twice the
    decoding itself. Whatever the fast path does not take whole goes to
    ``json.loads``, so the result (or the error) is the same.
    """
    try:
        value, end = _raw_decode(text)
    except (ValueError, TypeError):
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


#: payload keys an erasure keeps in an event about the erased person
_KEPT_KEYS = frozenset({"event_id", "occurred_at", "actor", "channel"})
_kept_fields: dict[str, frozenset[str]] = {}


def _typed_fields(type_name: str) -> frozenset[str]:
    """Fields of a registered event type that hold numbers, amounts or times (kept by an erasure)."""
    if type_name not in _kept_fields:
        import decimal
        import typing

        from crm_hookspecs.events import registered_types

        kept: set[str] = set()
        cls = registered_types().get(type_name)
        if cls is not None:
            try:
                hints = typing.get_type_hints(cls)
            except Exception:  # a third-party type whose annotations do not resolve: keep no text
                hints = {}
            for name, hint in hints.items():
                args = set(typing.get_args(hint)) | {hint}
                if args & {decimal.Decimal, dt.date, dt.datetime, int, float, bool}:
                    kept.add(name)
        _kept_fields[type_name] = frozenset(kept)
    return _kept_fields[type_name]


def _erase_text(value: Any, redactor: Redactor) -> Any:
    """Every string in a JSON value becomes "[erased]"; numbers, booleans and nulls stay."""
    from crm_core.privacy import ERASED

    if isinstance(value, str):
        return ERASED
    if isinstance(value, dict):
        return {redactor.text(k) if isinstance(k, str) else k: _erase_text(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [_erase_text(v, redactor) for v in value]
    return value


def redact_payload(type_name: str, payload: dict[str, Any], about: bool, redactor: Redactor) -> dict[str, Any]:
    """An outbox payload after an erasure.

    ``about``: the event concerns the erased person (one of its contact
    fields names him). It keeps its event id, time, actor and channel, and
    the fields its type declares as numbers, amounts, dates or ids; every
    other text becomes "[erased]", so the event still reads back as its
    type. Otherwise only the person's values are replaced, wherever they
    appear (an address in ``MailBounced``, a name in a task's title).
    """
    kept = _KEPT_KEYS | _typed_fields(type_name)
    out = {}
    for key, value in payload.items():
        if key in kept:
            out[key] = value
        elif about:
            out[key] = _erase_text(value, redactor)
        else:
            out[key] = redactor.data(value)
    return out


def _outermost_transaction(database: peewee.Database) -> object | None:
    """The transaction the caller runs in (``None`` outside one), the same object for all of its nesting.

    peewee keeps a stack of the transactions opened with ``atomic()`` or
    ``transaction()``, but an ``atomic()`` block inside a transaction is a
    savepoint and is not put on it, so ``top_transaction()`` (public, unlike
    the stack) is the outermost transaction. A ``transaction()`` opened
    explicitly inside another is put on it (peewee flattens it into the outer
    one): it is then a caller of its own, which locks the outbox once more.
    """
    # top_transaction is not annotated in peewee
    top: Callable[[], object | None] = database.top_transaction
    return top()


def _json_default(value: Any) -> Any:
    raise TypeError(f"event payload value {value!r} ({type(value).__name__}) is not JSON-serialisable")


class _NotPlain(Exception):
    """A value the direct writer does not take: its event goes the general way (``to_payload``, then JSON)."""


#: per event class, the function writing an event of it straight to its payload's JSON text (``None``: none)
_writers: dict[type, Callable[[Any], str] | None] = {}


def _payload_writer(cls: type) -> Callable[[Any], str] | None:
    """A function giving exactly ``encode(to_payload(event)[1])`` for an event of ``cls``, or ``None``.

    For the registered types whose fields are all declared ``str``, ``int``,
    ``bool``, ``datetime`` or ``date`` (or one of those or ``None``): the
    payload's dict, then the JSON encoder walking it, cost twice as much
    as writing the text straight from the attributes (a rule's or a scan's
    batch of ``TaskCreated``). Each value is checked where it is read: one
    whose class is not exactly one of those (a subclass, a float, an
    amount…) raises :class:`_NotPlain`, and that event goes the general way.
    """
    if cls not in _writers:
        try:
            _writers[cls] = _make_writer(cls)
        except (NameError, TypeError, AttributeError):  # annotations that do not resolve: the general way
            _writers[cls] = None
    return _writers[cls]


def _make_writer(cls: type) -> Callable[[Any], str] | None:
    import types
    import typing

    from crm_hookspecs.events import registered_types

    if not attrs.has(cls) or registered_types().get(getattr(cls, "__event_type__", "")) is not cls:
        return None
    hints = typing.get_type_hints(cls)
    lines = ["def write(event):"]
    keys = []
    for i, field in enumerate(attrs.fields(cls)):
        name, hint, optional = field.name, hints.get(field.name), False
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            args = typing.get_args(hint)
            if len(args) != 2 or type(None) not in args:
                return None
            hint, optional = next(a for a in args if a is not type(None)), True
        if not name.isidentifier():
            return None
        keys.append(json.dumps(name, ensure_ascii=False))
        lines.append(f"    v = event.{name}")
        if hint in (str, int, bool):  # cattrs passes these through: JSON writes the value by its class
            lines += [
                "    c = v.__class__",
                f"    if c is str: s{i} = text(v)",
                f"    elif v is None: s{i} = 'null'",
                f"    elif c is int: s{i} = number(v)",
                f"    elif c is bool: s{i} = 'true' if v else 'false'",
                "    else: raise NotPlain",
            ]
        elif hint is dt.datetime or hint is dt.date:  # the contract writes them as isoformat()
            lines.append(f"    if v.__class__ is {hint.__name__}: s{i} = text(v.isoformat())")
            if optional:
                lines.append(f"    elif v is None: s{i} = 'null'")
            lines.append("    else: raise NotPlain")
        else:
            return None
    form = "{" + ",".join(f"{key}:%s" for key in keys) + "}"
    lines.append(f"    return {form!r} % ({', '.join(f's{i}' for i in range(len(keys)))},)")
    scope: dict[str, Any] = {
        "text": json.encoder.encode_basestring,  # what the encoder uses with ensure_ascii=False
        "number": int.__repr__,
        "NotPlain": _NotPlain,
        "datetime": dt.datetime,
        "date": dt.date,
    }
    exec(compile("\n".join(lines), f"<event writer {cls.__event_type__}>", "exec"), scope)  # noqa: S102
    writer: Callable[[Any], str] = scope["write"]
    return writer


class EventBus:
    """The app's event outbox and dispatcher; reached as ``crm.events``.

    Built by the app with its :class:`~crm_core.context.AppContext` and
    ``actor``, which names the user the code acts as (``None`` for the
    system): emitted events without an actor get that name.
    """

    def __init__(self, app: AppContext, *, actor: Callable[[], str | None] | None = None) -> None:
        self._app = app
        self._actor = actor
        #: "after-commit" delivers events as soon as their transaction commits;
        #: "worker" leaves them for the worker (``crm.deliver_events`` sets it)
        self.delivery = "after-commit"
        self._local = threading.local()
        self._sql: _DeliverySQL | None = None

    # -- emitting ------------------------------------------------------------

    def _preparer(self) -> Callable[[Event], tuple[str, str, dt.datetime, str, int]]:
        """The function that turns each event of one ``emit_many`` call into its outbox row's values.

        What every event of the call shares is looked up once: the encoder
        (``json.dumps`` with options builds a new one for every event), the
        acting user (who cannot change in the middle of one call), the
        contract's functions.
        """
        from crm_hookspecs.events import Event, to_payload

        encode = json.JSONEncoder(default=_json_default, ensure_ascii=False, separators=(",", ":")).encode
        acting = self._actor() if self._actor is not None else None
        clock = self._app.clock
        writers: dict[type, Callable[[Any], str] | None] = {}

        def prepare(event: Event) -> tuple[str, str, dt.datetime, str, int]:
            if not isinstance(event, Event):
                raise EventError(f"crm.emit() takes an event from crm_hookspecs.events, not {type(event).__name__}")
            occurred_at = event.occurred_at
            changes: dict[str, Any] = {}
            if occurred_at is None:
                occurred_at = changes["occurred_at"] = clock.now()
            if acting is not None and event.actor is None:
                # the acting user, so that every change says who made it
                changes["actor"] = acting
                if event.channel == "system":
                    changes["channel"] = "staff"
            if changes:
                # mypy checks attrs.evolve with its attrs plugin, which does not see
                # the attrs classes that event_type() makes (declared through dataclass_transform)
                event = attrs.evolve(cast(Any, event), **changes)
            cls = event.__class__
            writer = writers[cls] if cls in writers else writers.setdefault(cls, _payload_writer(cls))
            if writer is not None:
                try:
                    return event.event_id, cls.__event_type__, occurred_at, writer(event), lane_key(event)
                except _NotPlain:
                    pass
            type_name, payload = to_payload(event)
            try:
                text = encode(payload)
            except TypeError as exc:
                raise EventError(f"cannot emit {type_name}: {exc}") from None
            return event.event_id, type_name, occurred_at, text, lane_key(event)

        return prepare

    def emit(self, event: Event) -> None:
        """Write ``event`` to the outbox in the current transaction (or its own)."""
        self.emit_many((event,))

    def emit_many(self, events: Iterable[Event]) -> int:
        """Write many events with one bulk insert; return how many."""
        from crm_core.models import OutboxEvent

        app = self._app
        database = app.database
        prepared = map(self._preparer(), events)
        first = next(prepared, None)
        if first is None:
            return 0
        second = next(prepared, None)
        # the events of one change (an import's batch) share their time: converted once, not per event.
        # On SQLite the text its datetime adapter would store (str() is isoformat(" ")), made once too
        as_text = dialect(database) == "sqlite"
        last: list[Any] = [None, None]

        def stored(at: dt.datetime) -> Any:
            if at is not last[0]:
                value = naive_utc(at)
                last[0], last[1] = at, (str(value) if as_text else value)
            return last[1]

        # already in the stored form (naive UTC, JSON text): inserted by table
        # name, which skips bulk_insert's per-value conversion on this hot path
        rows = (
            (eid, t, stored(at), p, key)
            for eid, t, at, p, key in itertools.chain((first,), () if second is None else (second,), prepared)
        )
        with app.activate():
            caller = _outermost_transaction(database)
            # inside the caller's transaction no savepoint: a failure here fails that transaction anyway
            with atomic_block(database):
                lock = self._outbox_lock(caller)
                if second is None and dialect(database) == "postgresql":
                    # one event, as most changes emit: the lock and the insert in one round trip
                    sql = self._statements().insert_one
                    if lock is not None:
                        sql = f"{lock[0]}; {sql}"  # the lock's statement has no parameters on PostgreSQL
                    typed_rows.execute(database, sql, next(rows))
                    count = 1
                else:
                    if lock is not None:
                        typed_rows.execute(database, *lock)
                    count = bulk_insert(
                        OutboxEvent._meta.table_name,
                        ("event_id", "type", "occurred_at", "payload", "lane_key"),
                        rows,
                        database=database,
                    )
                if self.delivery == "after-commit":
                    self._schedule_delivery()
            if caller is not None:
                self._local.outbox_locked_by = caller  # held until the caller's transaction ends
        return count

    def _outbox_lock(self, caller: object | None) -> tuple[str, tuple[Any, ...]] | None:
        """The statement (and its parameters) that keeps event ids from being skipped by a reader
        (PostgreSQL, MySQL/MariaDB), or ``None`` when none is needed (SQLite, or this transaction holds
        the lock already).

        Event ids are handed out when a row is written, not when it commits.
        If a transaction that emitted first could commit last, a handler whose
        cursor had moved past a later id would never see its event.

        On PostgreSQL every event-writing transaction holds the outbox's
        advisory lock *shared* until it ends: writers do not wait for each
        other (nor for each other's commits), and a reader that needs every
        id below a point final takes the lock alone for a moment
        (:meth:`horizon`), which waits for the writers in flight. On
        MySQL/MariaDB every event-writing transaction locks the ``events``
        row of ``crm_lock`` until it ends, so ids commit in order. SQLite
        writers take turns already (write transactions begin IMMEDIATE).
        """
        database = self._app.database
        kind = dialect(database)
        if kind == "sqlite":
            return None
        if caller is not None and getattr(self._local, "outbox_locked_by", None) is caller:
            return None  # this transaction holds the lock already
        if kind == "postgresql":
            return f"SELECT pg_advisory_xact_lock_shared({OUTBOX_ADVISORY_KEY})", ()
        quoted = "crm_lock".join(database.quote)
        return f"SELECT name FROM {quoted} WHERE name = {database.param} FOR UPDATE", (OUTBOX_LOCK,)

    def horizon(self) -> int | None:
        """The newest outbox position at or below which every position is final, or ``None`` when they all are.

        On PostgreSQL a transaction that wrote events may still be running
        with an id below a committed one: this takes the outbox's lock alone
        for a moment (waiting for the transactions that hold it shared, that
        is, those writing events now), reads the newest id, and lets the lock
        go. Every id up to it is then committed, or rolled back for good. A
        reader that keeps a position (a handler's cursor, a feed's ``after``)
        reads no further than this. On MySQL/MariaDB and SQLite ids commit in
        order: ``None``.
        """
        database = self._app.database
        if dialect(database) != "postgresql":
            return None
        sql = self._statements()
        with self._app.activate():
            for _ in range(3):
                typed_rows.execute(database, sql.horizon_lock)
                try:
                    row = typed_rows.fetchone(database, sql.horizon_read)
                except BaseException:
                    if not database.is_closed():
                        typed_rows.execute(database, f"SELECT pg_advisory_unlock({OUTBOX_ADVISORY_KEY})")
                    raise
                # the unlock says whether the read ran under the lock: not when the connection dropped
                # between the two and the read ran again on a new one, where nothing waited for the writers
                if row is not None and row[1]:
                    return int(row[0] or 0)
        raise EventError("the outbox's lock was lost three times while reading its newest final id; try again")

    def _schedule_delivery(self) -> None:
        local = self._local
        if getattr(local, "delivering", False):
            local.again = True  # the running delivery loop picks them up
            return
        # One delivery per commit. The callback is registered again after
        # every write to the outbox, not once per transaction: peewee drops
        # the after-commit callbacks of a transaction that rolls back, at its
        # end or by an explicit ``txn.rollback()`` inside the block (which
        # then goes on), and says so nowhere public; a callback registered
        # once could be gone while its transaction still commits events.
        # Every registration of a commit is the same function, which
        # delivers only while it is the pending one: the first call of a
        # commit delivers, the others return at once.
        pending: Callable[[], None] | None = getattr(local, "pending", None)
        if pending is None:

            def deliver_once() -> None:
                if local.pending is not deliver_once:
                    return  # delivered already in this commit
                local.pending = None
                try:
                    self.deliver()
                except Exception:  # the change is committed: never fail the caller for its delivery
                    # (an exception here would also skip peewee's other after-commit
                    # callbacks); the events stay in the outbox for the next delivery,
                    # 'crm events deliver' or the worker
                    self._app.log.exception("delivering events after commit failed; they wait in the outbox")

            pending = local.pending = deliver_once
        self._app.database.after_commit(pending)

    # -- delivering ----------------------------------------------------------

    def lanes(self) -> int:
        """The configured lane count (``crm.worker.event_lanes``)."""
        return int(self._app.config.core.worker.event_lanes)

    def ensure_cursors(self) -> None:
        """Give every handler without a cursor one per lane, starting after the newest event.

        A plugin enabled today handles events from today on; the warehouse
        and others that want history rebuild it themselves.
        """
        from peewee import fn

        from crm_core.models import EventCursor, OutboxEvent

        handlers = [name for name, _ in self._app.hooks.event_handlers()]
        if not handlers:
            return
        count = self.lanes()
        with self._app.activate():
            have = {c.handler for c in EventCursor.select(EventCursor.handler)}
            missing = [h for h in handlers if h not in have]
            if missing:
                horizon = self.horizon()
                with self._app.database.atomic():
                    newest = OutboxEvent.select(fn.MAX(OutboxEvent.id)).scalar() or 0
                    if horizon is not None:  # an event in flight below the newest one is not "before" it
                        newest = min(newest, horizon)
                    now = self._app.clock.now()
                    for handler in missing:
                        EventCursor.insert_many(
                            [
                                {"handler": handler, "lane": k, "lanes": count, "last_id": newest, "updated_at": now}
                                for k in range(count)
                            ]
                        ).on_conflict_ignore().execute()

    def deliver(self, handler: str | None = None, *, lane: int | None = None) -> DeliveryReport:
        """Deliver every new event to every handler (or to ``handler`` only), in every lane (or ``lane`` only).

        Each lane of the outbox is walked batch by batch: each batch is read
        and decoded once and handed to every handler whose cursor in that
        lane is behind its end, in dependency order, each in its own
        transaction that moves its own cursor. A handler whose cursors were
        made for another lane count is first brought to one position and
        split anew (:meth:`_resplit`).
        """
        local = self._local
        if getattr(local, "delivering", False):
            local.again = True
            return DeliveryReport()
        local.delivering = True
        report = DeliveryReport()
        try:
            with self._app.activate():
                while True:
                    local.again = False
                    handlers = [
                        (n, fn) for n, fn in self._app.hooks.event_handlers() if handler is None or n == handler
                    ]
                    if handlers:
                        report += self._deliver_lanes(handlers, lane)
                    if not local.again:
                        break
        finally:
            local.delivering = False
            local.batch = local.positions = local.bound = local.lane = None
        return report

    def _deliver_lanes(self, handlers: list[tuple[str, Callable[[Any, Any], Any]]], only: int | None) -> DeliveryReport:
        count = self.lanes()
        report = DeliveryReport()
        bound = self._final_bound()
        cursors = self._cursors([name for name, _ in handlers])
        for name, fn in handlers:
            if {lanes for lanes, _ in cursors[name].values()} != {count} or len(cursors[name]) != count:
                report += self._resplit(name, fn, count)
                cursors = self._cursors([name for name, _ in handlers])
        for lane in range(count) if only is None else [only]:
            if 0 <= lane < count:
                positions = {
                    name: rows[lane][1] for name, rows in cursors.items() if lane in rows and rows[lane][0] == count
                }
                report += self._deliver_round(handlers, positions, count, lane, bound)
        return report

    def _final_bound(self) -> int:
        """The newest outbox id at or below which every id is final: :meth:`horizon` on PostgreSQL, else the
        newest id (MySQL/MariaDB and SQLite commit ids in order: one in flight is above every committed one)."""
        horizon = self.horizon()
        if horizon is not None:
            return horizon
        row = typed_rows.fetchone(self._app.database, self._statements().newest)
        return int(row[0] or 0) if row else 0

    def _resplit(self, name: str, fn: Callable[[Any, Any], Any], count: int) -> DeliveryReport:
        """Make ``count`` lanes of handler ``name``'s cursors, made for another lane count, losing nothing.

        Its lanes are first delivered up to the furthest of them, in the
        lane count they were made for, so that they all stand at one
        position; then, in one transaction that holds them, they are
        replaced by ``count`` lanes at that position. Other deliveries of
        the old lanes meanwhile only help (their cursors move forward).
        """
        from crm_core.models import EventCursor

        app = self._app
        report = DeliveryReport()
        for _ in range(100):
            rows = self._cursors([name])[name]
            if not rows:
                return report
            old = {lanes for lanes, _ in rows.values()}
            target = max(last for _, last in rows.values())
            if len(old) == 1:
                lanes = old.pop()
                positions = {k: last for k, (_, last) in rows.items()}
                if len(positions) == lanes and set(positions.values()) == {target}:
                    with app.database.atomic():
                        locked = list(
                            for_update(
                                EventCursor.select().where(EventCursor.handler == name).order_by(EventCursor.lane),
                                app.database,
                            )
                        )
                        if {(c.lanes, c.last_id) for c in locked} == {(lanes, target)} and len(locked) == lanes:
                            now = app.clock.now()
                            EventCursor.delete().where(EventCursor.handler == name).execute()
                            EventCursor.insert_many(
                                [
                                    {"handler": name, "lane": k, "lanes": count, "last_id": target, "updated_at": now}
                                    for k in range(count)
                                ]
                            ).execute()
                            app.log.info(
                                "event handler %s: %d delivery lane(s) made %d at event %d", name, lanes, count, target
                            )
                            return report
                    continue
                for lane in range(lanes):
                    if lane in positions:
                        report += self._deliver_round([(name, fn)], {name: positions[lane]}, lanes, lane, target)
                continue
            # rows of two lane counts: another process is splitting them now; wait for it
            threading.Event().wait(0.05)
        raise EventError(f"event handler {name!r}: its delivery lanes could not be brought to {count}; try again")

    def _deliver_round(
        self,
        handlers: list[tuple[str, Callable[[Any, Any], Any]]],
        positions: dict[str, int],
        lanes: int,
        lane: int,
        bound: int,
    ) -> DeliveryReport:
        """Walk one lane of the outbox from the handler furthest behind up to ``bound`` (final events only)."""
        local = self._local
        local.positions = positions
        local.bound = bound
        local.lane = (lanes, lane)
        report = DeliveryReport()
        with contextlib.ExitStack() as backlog:
            tidy: Callable[[], None] | None = None
            while positions:
                after = min(positions.values())
                if after >= bound:
                    return report
                batch = self._read_batch(after)
                if batch is None:
                    # nothing of this lane in the window read: its cursors move to the window's end
                    end = min(after + self._window(lanes), bound)
                    self._advance_idle(positions, lanes, lane, end)
                    for name in positions:
                        positions[name] = max(positions[name], end)
                    continue
                if tidy is None and len(batch.pks) == BATCH_SIZE:
                    # a backlog (after an import): the collector would walk each batch's events for nothing
                    tidy = backlog.enter_context(collector_paused())
                local.batch = batch
                for name, fn in handlers:
                    # cursors only move forward: a handler known to be past the
                    # batch needs neither a transaction nor a lock for it
                    if name in positions and positions[name] < batch.pks[-1]:
                        report += self._deliver_to(name, fn)
                if tidy is not None:
                    tidy()
        return report

    @staticmethod
    def _window(lanes: int) -> int:
        """How many ids one read of a lane spans at most (see :meth:`_read_batch`)."""
        return BATCH_SIZE * 2 * lanes

    def _advance_idle(self, positions: dict[str, int], lanes: int, lane: int, bound: int) -> None:
        """Move the lane's cursors up to ``bound``: the lane holds no event after them up to it.

        Later reads then start there, instead of passing over the other
        lanes' events again; a lane split anew needs its cursors at one
        position.
        """
        behind = [name for name, last in positions.items() if last < bound]
        if not behind:
            return
        from crm_core.models import EventCursor

        app = self._app
        sql = self._statements()
        now = EventCursor.updated_at.db_value(app.clock.now())
        with app.database.atomic():
            for name in behind:
                typed_rows.execute(app.database, sql.advance_idle, (bound, now, name, lane, lanes, bound))

    def _statements(self) -> _DeliverySQL:
        if self._sql is None:
            self._sql = _DeliverySQL.build(self._app.database)
        return self._sql

    def _cursors(self, names: list[str]) -> dict[str, dict[int, tuple[int, int]]]:
        """Each handler's lanes as ``{lane: (lanes, last_id)}``, read without a lock (each is locked when used)."""
        sql = self._statements()
        rows = typed_rows.fetchall(self._app.database, sql.positions)
        if any(name not in {r[0] for r in rows} for name in names):
            self.ensure_cursors()
            rows = typed_rows.fetchall(self._app.database, sql.positions)
        out: dict[str, dict[int, tuple[int, int]]] = {name: {} for name in names}
        for handler, lane, lanes, last in rows:
            if handler in out:
                out[handler][lane] = (lanes, last)
        return out

    def _read_batch(self, after: int) -> _Batch | None:
        """Up to ``BATCH_SIZE`` events of the current lane after ``after``, in order, decoded; ``None`` if none.

        One raw query and one pass over the rows: this runs once per batch
        for all handlers, and its cost is most of the kernel's cost per event.
        """
        from crm_hookspecs.events import from_payload

        database = self._app.database
        lanes, lane = self._local.lane
        sql = self._statements().outbox_lane(lanes, lane)
        # a window of ids, not everything up to the bound: with a lane's condition the planner cannot tell
        # how far an index scan in id order must go for a batch, and over a backlog it reads and sorts
        # all of it (PostgreSQL: a bitmap scan of the whole range, 40 ms a batch at 100,000 events)
        end = min(after + self._window(lanes), self._local.bound)
        rows = typed_rows.fetchall(database, sql, (after, end, BATCH_SIZE))
        if not rows:
            return None
        return _Batch(after, [row[0] for row in rows], [from_payload(t, _loads(p)) for _, t, p in rows])

    def _deliver_to(self, name: str, fn: Callable[[Any, Any], Any]) -> DeliveryReport:
        """Hand one handler its events of the current batch, in a transaction that also moves its lane's cursor."""
        from crm_core.models import EventCursor

        app = self._app
        database = app.database
        sql = self._statements()
        local = self._local
        batch: _Batch = local.batch
        lanes, lane = local.lane
        positions: dict[str, int] = local.positions
        report = DeliveryReport()
        with database.atomic():
            row = typed_rows.fetchone(database, sql.lock, (name, lane))
            if row is None or row[1] != lanes:  # split anew since the round began: the next round sees it
                del positions[name]
                return report
            last: int = row[0]
            if last >= batch.pks[-1]:  # another delivery got there first
                positions[name] = last
                return report
            if last >= batch.after:
                start = bisect.bisect_right(batch.pks, last)
                pks, events = batch.pks[start:], batch.events[start:]
            else:  # its cursor was moved back, before the batch: it reads its own
                own = self._read_batch(last)
                if own is None:
                    return report
                pks, events = own.pks, own.events
            try:
                with database.atomic():
                    # a list of its own: what the handler does to it changes
                    # neither the other handlers' events nor what is re-run
                    fn(app, list(events))
                report.delivered += len(events)
            except Exception:  # isolate the failing events, deliver the others
                for pk, event in zip(pks, events):
                    try:
                        with database.atomic():
                            fn(app, [event])
                        report.delivered += 1
                    except Exception as exc:  # recorded, retried later
                        self._record_failure(name, pk, exc)
                        report.failed += 1
            typed_rows.execute(
                database, sql.advance, (pks[-1], EventCursor.updated_at.db_value(app.clock.now()), name, lane)
            )
        positions[name] = pks[-1]
        return report

    def _record_failure(self, handler: str, event_pk: int, exc: BaseException) -> None:
        from crm_core.models import EventFailure

        now = self._app.clock.now()
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        if len(text) > MAX_ERROR_CHARS:
            # a deep recursion's traceback would not fit MySQL's TEXT, and a
            # failure that cannot be recorded would block the handler for good
            text = text[: MAX_ERROR_CHARS // 2] + "\n[… traceback shortened …]\n" + text[-MAX_ERROR_CHARS // 2 :]
        # said where it happens, not only recorded: operators see it in the
        # log, and the test kit fails a test on it (`crm_delivery_failure`)
        message = (str(exc).strip().splitlines() or [""])[0][:200]
        self._app.log.error(
            "event handler %s failed on event %s: %s: %s; recorded for a retry (crm events failed)",
            handler,
            event_pk,
            type(exc).__name__,
            message,
            extra={"crm_delivery_failure": (handler, event_pk, text)},
        )
        existing = EventFailure.get_or_none((EventFailure.handler == handler) & (EventFailure.event == event_pk))
        if existing is None:
            EventFailure.create(
                handler=handler,
                event=event_pk,
                attempts=1,
                error=text,
                failed_at=now,
                next_attempt_at=now + FIRST_BACKOFF,
            )
        else:
            attempts = existing.attempts + 1
            delay = min(FIRST_BACKOFF * (2 ** (attempts - 1)), MAX_BACKOFF)
            (
                EventFailure.update(
                    attempts=attempts, error=text, failed_at=now, next_attempt_at=now + delay, resolved_at=None
                )
                .where(EventFailure.id == existing.id)
                .execute()
            )

    # -- erasure -------------------------------------------------------------

    def redact(self, contact_id: int, redactor: Redactor) -> int:
        """Erase one person from the outbox in place (see :func:`redact_payload`); return how many events changed.

        Rows keep their ids, types and times, so cursors, failures and the
        order of events are untouched; a handler that has not yet seen an
        event gets the redacted one. Runs in the caller's transaction.
        """
        from crm_core.models import OutboxEvent
        from crm_core.privacy import matching
        from crm_hookspecs.events import from_payload

        # candidates: a payload naming the id (checked on the decoded event) or holding a value
        condition = OutboxEvent.payload.contains(f":{int(contact_id)}")
        values = matching(OutboxEvent.payload, redactor)
        if values is not None:
            condition = condition | values
        count = 0
        last = 0
        with self._app.activate(), self._app.database.atomic():
            while True:
                rows = list(
                    typed_rows.tuples(
                        OutboxEvent.select(OutboxEvent.id, OutboxEvent.type, OutboxEvent.payload)
                        .where(condition & (OutboxEvent.id > last))
                        .order_by(OutboxEvent.id)
                        .limit(BATCH_SIZE)
                    )
                )
                if not rows:
                    return count
                for pk, type_name, text in rows:
                    payload = json.loads(text)
                    about = int(contact_id) in from_payload(type_name, payload).contact_ids()
                    erased = redact_payload(type_name, payload, about, redactor)
                    if erased != payload:
                        new = json.dumps(erased, ensure_ascii=False, separators=(",", ":"))
                        count += OutboxEvent.update(payload=new).where(OutboxEvent.id == pk).execute()
                last = rows[-1][0]

    # -- failures ------------------------------------------------------------

    def failed(self) -> list[FailureInfo]:
        """Unresolved failures, oldest first."""
        from crm_core.models import EventFailure, OutboxEvent

        with self._app.activate():
            query = (
                EventFailure.select(
                    EventFailure.id,
                    EventFailure.handler,
                    EventFailure.event,
                    EventFailure.attempts,
                    EventFailure.error,
                    EventFailure.failed_at,
                    EventFailure.next_attempt_at,
                    OutboxEvent.type.alias("event_type"),
                )
                .join(OutboxEvent)
                .where(EventFailure.resolved_at.is_null())
                .order_by(EventFailure.id)
            )
            return [
                FailureInfo(
                    id=f["id"],
                    handler=f["handler"],
                    event_pk=f["event"],
                    event_type=f["event_type"],
                    attempts=f["attempts"],
                    error=f["error"].strip().splitlines()[-1] if f["error"].strip() else "",
                    failed_at=f["failed_at"],
                    next_attempt_at=f["next_attempt_at"],
                    traceback=f["error"],
                )
                for f in typed_rows.dicts(query)
            ]

    def retry(self, due_only: bool = True, *, failures: Iterable[int] | None = None) -> DeliveryReport:
        """Re-deliver failed events, one by one; with ``due_only`` only those whose back-off has passed.

        ``failures`` (ids of :meth:`failed`) retries those failures now,
        whatever their back-off; an id that is not an open failure, or whose
        handler's plugin is not enabled in this app, is a ``NotFoundError`` /
        ``ValidationError`` naming it, and nothing is retried. A user (code
        run with ``crm.as_user``) needs ``admin.system``; the handlers then
        run as that user, as they do after a commit of theirs.
        """
        from crm_core.errors import NotFoundError, ValidationError
        from crm_core.models import EventFailure, OutboxEvent
        from crm_hookspecs.events import from_payload

        app = self._app
        authz = getattr(app, "authz", None)
        if authz is not None:
            authz.require("admin.system")
        report = DeliveryReport()
        handlers = dict(app.hooks.event_handlers())
        wanted = None if failures is None else sorted({int(f) for f in failures})
        with app.activate():
            query = (
                EventFailure.select()
                .where(EventFailure.resolved_at.is_null())
                .order_by(EventFailure.event, EventFailure.id)
            )
            if wanted is not None:
                query = query.where(EventFailure.id.in_(wanted))
                found = {f.id: f for f in query}
                for pk in wanted:
                    if pk not in found:
                        raise NotFoundError(
                            f"no open event failure {pk}: it was retried already, or never existed; "
                            "see 'crm events failed' for the open ones"
                        )
                    if found[pk].handler not in handlers:
                        raise ValidationError(
                            f"event failure {pk}: its handler {found[pk].handler!r} is not enabled in this app; "
                            "enable its plugin, then retry"
                        )
            elif due_only:
                query = query.where(EventFailure.next_attempt_at <= app.clock.now())
            for failure in list(query):
                fn = handlers.get(failure.handler)
                if fn is None:
                    continue  # the plugin is not enabled in this app: keep the failure for later
                row = OutboxEvent.get_by_id(failure.event_id)
                event = from_payload(row.type, json.loads(row.payload))
                with app.database.atomic():
                    try:
                        with app.database.atomic():
                            fn(app, [event])
                    except Exception as exc:  # recorded with a longer back-off
                        self._record_failure(failure.handler, failure.event_id, exc)
                        report.failed += 1
                    else:
                        EventFailure.update(resolved_at=app.clock.now()).where(EventFailure.id == failure.id).execute()
                        report.retried_ok += 1
        return report

    def status(self) -> list[dict[str, Any]]:
        """Per handler: the cursor (its lane furthest behind), the events still to deliver, the open failures."""
        from peewee import fn

        from crm_core.models import EventCursor, EventFailure, OutboxEvent

        database = self._app.database
        with self._app.activate():
            newest = OutboxEvent.select(fn.MAX(OutboxEvent.id)).scalar() or 0
            lanes: dict[str, list[tuple[int, int, int]]] = {}
            for c in EventCursor.select().order_by(EventCursor.handler, EventCursor.lane):
                lanes.setdefault(c.handler, []).append((c.lane, c.lanes, c.last_id))
            cursors = {handler: min(last for _, _, last in rows) for handler, rows in lanes.items()}
            failures: dict[str, int] = dict(
                typed_rows.tuples(
                    EventFailure.select(EventFailure.handler, fn.COUNT(EventFailure.id))
                    .where(EventFailure.resolved_at.is_null())
                    .group_by(EventFailure.handler)
                )
            )
            pending = {}
            q = database.quote
            p = database.param
            sql = self._statements()
            for handler, rows in lanes.items():
                pending[handler] = 0
                for lane, count, last in rows:
                    if last < newest:
                        condition = "" if count == 1 else sql.lane_condition.format(n=count, k=lane)
                        row = typed_rows.fetchone(
                            database,
                            f"SELECT COUNT(*) FROM {'crm_event'.join(q)} WHERE {'id'.join(q)} > {p}{condition}",
                            (last,),
                        )
                        pending[handler] += int(row[0]) if row else 0
        names = [n for n, _ in self._app.hooks.event_handlers()]
        names += sorted(set(cursors) - set(names))
        return [
            {
                "handler": n,
                "enabled": n in self._app.hooks.implementers("crm_handle_events"),
                "position": cursors.get(n, 0),
                "pending": pending.get(n, 0),
                "failed": failures.get(n, 0),
            }
            for n in names
        ]

    def read(
        self,
        after: int = 0,
        *,
        types: Iterable[str] | None = None,
        since: dt.datetime | None = None,
        limit: int = 1000,
        newest_first: bool = False,
    ) -> list[LoggedEvent]:
        """Events of the outbox, for plugins that read history rather than handle deliveries.

        Oldest first after position ``after`` (page on with the last
        ``position`` you got), or with ``newest_first`` the newest ones
        (positions below ``after`` when it is given). ``types`` keeps those
        event types, ``since`` those that occurred at or after a time;
        ``limit`` (at most 100,000) bounds the page. Each payload comes back
        as the contract's class (:func:`crm_hookspecs.events.from_payload`),
        an :class:`~crm_hookspecs.events.UnknownEvent` for a type no installed
        plugin registers.
        """
        from crm_core.models import OutboxEvent
        from crm_hookspecs.events import from_payload

        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100_000:
            raise ValueError(f"limit must be a whole number from 1 to 100000, not {limit!r}")
        query = OutboxEvent.select(OutboxEvent.id, OutboxEvent.type, OutboxEvent.payload)
        if newest_first:
            query = query.order_by(OutboxEvent.id.desc())
            if after:
                query = query.where(OutboxEvent.id < after)
        else:
            query = query.where(OutboxEvent.id > after).order_by(OutboxEvent.id)
            horizon = self.horizon()
            if horizon is not None:  # a reader who pages on from the last position must not pass one in flight
                query = query.where(OutboxEvent.id <= horizon)
        if types is not None:
            query = query.where(OutboxEvent.type.in_(sorted(set(types))))
        if since is not None:
            query = query.where(OutboxEvent.occurred_at >= since)
        with self._app.activate():
            rows = list(typed_rows.tuples(query.limit(limit)))
        return [
            LoggedEvent(position, from_payload(type_name, _loads(payload))) for position, type_name, payload in rows
        ]

    def recent(self, limit: int = 20, type_name: str | None = None) -> list[dict[str, Any]]:
        """The newest events in the outbox."""
        from crm_core.models import OutboxEvent

        with self._app.activate():
            query = OutboxEvent.select().order_by(OutboxEvent.id.desc()).limit(limit)
            if type_name:
                query = query.where(OutboxEvent.type == type_name)
            return [
                {"id": e.id, "type": e.type, "occurred_at": e.occurred_at.isoformat(), "payload": json.loads(e.payload)}
                for e in query
            ]
