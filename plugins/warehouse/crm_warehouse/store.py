"""The event store: every delivered event, kept forever, stored once.

:func:`append` is the warehouse's ``crm_handle_events``: per batch it makes
one query for the event ids already stored, one multi-row insert of the new
events (duplicates ignored by the database too, so a concurrent retry is
harmless), one query for their keys and one multi-row insert of their
contact links. It returns the newly stored events, so that the reporting
tables see each event exactly once however often it is delivered.

Payloads are written with :func:`crm_hookspecs.events.to_payload` and read
back with :func:`~crm_hookspecs.events.from_payload`: a type that gained a
field reads back with the field's default, and a type that no installed code
defines reads back as :class:`~crm_hookspecs.events.UnknownEvent`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.clock import aware_utc, naive_utc
from crm_core.storage import batched, dialect
from crm_warehouse.catalog import TYPE_KINDS, kind_of

if TYPE_CHECKING:
    import peewee

    from crm_core.app import CRM
    from crm_hookspecs.events import Event

__all__ = ["EventStore", "StoredEvent", "append", "backfill_from_outbox", "insert_ignore", "load_event"]

INSPECT = "warehouse.events.inspect"

#: event ids looked up per IN (...) query
LOOKUP_CHUNK = 500


@attrs.frozen
class StoredEvent:
    """An event as the store holds it."""

    pk: int
    event_id: str
    type: str
    kind: str
    occurred_at: dt.datetime
    actor: str | None
    channel: str
    #: the event as the contract's attrs class (``UnknownEvent`` for an unknown type)
    event: Event
    contact_ids: tuple[int, ...] = ()
    known: bool = True

    @property
    def payload(self) -> dict[str, Any]:
        """The event as ``to_payload`` writes it."""
        from crm_hookspecs.events import to_payload

        return to_payload(self.event)[1]


def insert_ignore(
    database: peewee.Database,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    conflict: Sequence[str] | None = None,
) -> None:
    """Insert ``rows``, skipping those that would repeat a unique key: one statement per page.

    ``conflict`` names the unique columns (PostgreSQL needs them only to be
    precise; without them any unique violation is skipped).
    """
    if not rows:
        return
    kind = dialect(database)
    open_q, close_q = database.quote[0], database.quote[1]

    def q(identifier: str) -> str:
        return f"{open_q}{identifier}{close_q}"

    cols = ", ".join(q(c) for c in columns)
    cursor = database.cursor()
    if kind == "sqlite":
        sql = f"INSERT OR IGNORE INTO {q(table)} ({cols}) VALUES ({', '.join('?' * len(columns))})"
        cursor.executemany(sql, rows)
    elif kind == "postgresql":
        from psycopg2.extras import execute_values

        target = f" ({', '.join(q(c) for c in conflict)})" if conflict else ""
        execute_values(
            cursor, f"INSERT INTO {q(table)} ({cols}) VALUES %s ON CONFLICT{target} DO NOTHING", rows, page_size=1000
        )
    else:
        # ON DUPLICATE KEY skips only duplicates; INSERT IGNORE would also hide bad data
        first = q(columns[0])
        sql = (
            f"INSERT INTO {q(table)} ({cols}) VALUES ({', '.join(['%s'] * len(columns))}) "
            f"ON DUPLICATE KEY UPDATE {first} = {first}"
        )
        cursor.executemany(sql, rows)


def _quote(database: peewee.Database, identifier: str) -> str:
    return f"{database.quote[0]}{identifier}{database.quote[1]}"


def _keys(database: peewee.Database, event_ids: Sequence[str]) -> dict[str, int]:
    """``{event_id: key}`` of the stored events among ``event_ids`` (raw SQL: this is the hot path)."""
    table = _quote(database, "warehouse_event")
    out: dict[str, int] = {}
    for chunk in batched(event_ids, LOOKUP_CHUNK):
        marks = ", ".join([database.param] * len(chunk))
        cursor = database.execute_sql(f"SELECT event_id, id FROM {table} WHERE event_id IN ({marks})", list(chunk))
        out.update(cursor.fetchall())
    return out


def _kind_case(database: peewee.Database, column: str) -> tuple[str, list[str]]:
    """``CASE type WHEN … THEN kind … ELSE 'other' END`` for an INSERT … SELECT, with its parameters."""
    params: list[str] = []
    branches = []
    for type_name, kind in TYPE_KINDS.items():
        branches.append(f"WHEN {database.param} THEN {database.param}")
        params += [type_name, kind]
    return f"CASE {column} {' '.join(branches)} ELSE {database.param} END", [*params, "other"]


def _copy_from_outbox(
    database: peewee.Database, runs: Sequence[tuple[tuple[str | None, str], list[str]]], stored_at: dt.datetime
) -> None:
    """Copy events from the kernel's outbox, payload text and all: no serialising in Python.

    One ``INSERT … SELECT`` per run of events with the same actor and
    channel, in the outbox's order, skipping events already stored.
    """
    kind = dialect(database)
    target = _quote(database, "warehouse_event")
    outbox = _quote(database, "crm_event")
    columns = "event_id, type, kind, occurred_at, actor, channel, payload, stored_at"
    case, case_params = _kind_case(database, "type")
    head = {"sqlite": "INSERT OR IGNORE INTO", "postgresql": "INSERT INTO", "mysql": "INSERT INTO"}[kind]
    tail = {
        "sqlite": "",
        "postgresql": " ON CONFLICT (event_id) DO NOTHING",
        "mysql": f" ON DUPLICATE KEY UPDATE {target}.id = {target}.id",
    }[kind]
    p = database.param
    for (actor, channel), event_ids in runs:
        for chunk in batched(event_ids, LOOKUP_CHUNK):
            marks = ", ".join([p] * len(chunk))
            sql = (
                f"{head} {target} ({columns}) "
                f"SELECT event_id, type, {case}, occurred_at, {p}, {p}, payload, {p} FROM {outbox} WHERE event_id IN ({marks}) ORDER BY id{tail}"
            )
            database.execute_sql(sql, [*case_params, actor, channel, stored_at, *chunk])


def append(crm: CRM, events: Iterable[Event]) -> list[StoredEvent]:
    """Store the events not stored yet; return those, in their order.

    The payloads are copied from the kernel's outbox, where the kernel wrote
    them with ``to_payload``; an event that is not there (handed over
    directly, or from a pruned outbox) is serialised here.
    """
    from crm_hookspecs.events import UnknownEvent, to_payload

    database = crm.database
    now = crm.clock.now()
    batch: dict[str, Event] = {}
    for event in events:
        batch.setdefault(event.event_id, event)
    if not batch:
        return []
    stored_at = naive_utc(now)
    table = _quote(database, "warehouse_event")
    with database.atomic():
        # the rows this batch adds are those with a key above the largest now
        # (and an event id of the batch): no look-up of every id before and after
        newest = database.execute_sql(f"SELECT MAX(id) FROM {table}").fetchone()[0] or 0
        # runs of consecutive events with the same actor and channel (an import is one run),
        # copied run by run in the outbox's order, so keys follow the order of emission
        runs: list[tuple[tuple[str | None, str], list[str]]] = []
        for eid, event in batch.items():
            who = (event.actor, event.channel)
            if runs and runs[-1][0] == who:
                runs[-1][1].append(eid)
            else:
                runs.append((who, [eid]))
        _copy_from_outbox(database, runs, stored_at)
        cursor = database.execute_sql(f"SELECT event_id, id FROM {table} WHERE id > {database.param}", [newest])
        keys = {eid: pk for eid, pk in cursor.fetchall() if eid in batch}
        fresh = list(batch)
        if len(keys) < len(batch):
            # delivered before (at-least-once), or not in the outbox (to serialise here)
            rest = [eid for eid in batch if eid not in keys]
            before = _keys(database, rest)
            fresh = [eid for eid in batch if eid not in before]
        missing = [eid for eid in fresh if eid not in keys]
        if missing:
            rows = []
            for eid in missing:
                event = batch[eid]
                type_name, payload = to_payload(event)
                rows.append(
                    (
                        eid,
                        type_name,
                        kind_of(type_name),
                        naive_utc(event.occurred_at or now),
                        event.actor,
                        event.channel,
                        json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str),
                        stored_at,
                    )
                )
            insert_ignore(
                database,
                "warehouse_event",
                ("event_id", "type", "kind", "occurred_at", "actor", "channel", "payload", "stored_at"),
                rows,
                conflict=("event_id",),
            )
            keys.update(_keys(database, missing))
        out: list[StoredEvent] = []
        links: list[tuple[int, dt.datetime, int, str, int | None]] = []
        for eid in fresh:
            event = batch[eid]
            pk = keys.get(eid)
            if pk is None:  # pragma: no cover - only if the row vanished under us
                continue
            type_name = event.type_name
            kind = kind_of(type_name)
            occurred = event.occurred_at or now
            contact_ids = tuple(dict.fromkeys(event.contact_ids()))
            if contact_ids:
                naive = naive_utc(occurred)
                links.extend((cid, naive, pk, kind, None) for cid in contact_ids)
            out.append(
                StoredEvent(
                    pk=pk,
                    event_id=eid,
                    type=type_name,
                    kind=kind,
                    occurred_at=aware_utc(occurred),
                    actor=event.actor,
                    channel=event.channel,
                    event=event,
                    contact_ids=contact_ids,
                    known=not isinstance(event, UnknownEvent),
                )
            )
        insert_ignore(
            database,
            "warehouse_event_contact",
            ("contact_id", "occurred_at", "event_id", "kind", "via_contact_id"),
            links,
            conflict=("contact_id", "occurred_at", "event_id"),
        )
    out.sort(key=lambda s: s.pk)
    return out


def load_event(type_name: str, payload: str | dict[str, Any]) -> Event:
    """The stored event as the contract's attrs class (or ``UnknownEvent``)."""
    from crm_hookspecs.events import from_payload

    return from_payload(type_name, json.loads(payload) if isinstance(payload, str) else payload)


def backfill_from_outbox(crm: CRM, batch_size: int = 1000) -> int:
    """Store the kernel outbox's events that the store lacks (history from before the warehouse was enabled).

    Returns how many were added. Reads the outbox in pages by its key, so
    memory stays flat; each page is one set-based anti-join.
    """
    from crm_warehouse.models import EventRow

    added = 0
    last = 0
    while True:
        page = crm.events.read(last, limit=batch_size)
        if not page:
            return added
        last = page[-1].position
        events = [logged.event for logged in page]
        ids = [e.event_id for e in events]
        have = {r[0] for r in EventRow.select(EventRow.event_id).where(EventRow.event_id.in_(ids)).tuples().iterator()}
        missing = [e for e in events if e.event_id not in have]
        if missing:
            with crm.database.atomic():
                added += len(append(crm, missing))


class EventStore:
    """The stored events as the API shows them (``warehouse.events.inspect``: every event, whoever it concerns)."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    def events(
        self,
        *,
        type_name: str | None = None,
        kind: str | None = None,
        unknown: bool = False,
        limit: int = 50,
    ) -> list[StoredEvent]:
        """Stored events, newest first; ``unknown`` keeps only types no installed code defines."""
        from crm_core.errors import ValidationError
        from crm_hookspecs.events import registered_types
        from crm_warehouse.catalog import KINDS
        from crm_warehouse.models import EventRow as E

        self.crm.authz.require(INSPECT)
        if not isinstance(limit, int) or not 1 <= limit <= 100_000:
            raise ValidationError(f"limit {limit!r} must be a whole number from 1 to 100000")
        query = E.select().order_by(E.id.desc()).limit(limit)
        if type_name is not None:
            query = query.where(E.type == type_name)
        if kind is not None:
            if kind not in KINDS:
                raise ValidationError(f"unknown kind {kind!r}; the kinds are: {', '.join(KINDS)}")
            query = query.where(E.kind == kind)
        known = registered_types()
        if unknown:
            query = query.where(E.type.not_in(sorted(known)))
        with self.crm.activate():
            return [
                StoredEvent(
                    pk=row.id,
                    event_id=row.event_id,
                    type=row.type,
                    kind=row.kind,
                    occurred_at=row.occurred_at,
                    actor=row.actor,
                    channel=row.channel,
                    event=load_event(row.type, row.payload),
                    known=row.type in known,
                )
                for row in query
            ]

    def event(self, event_id: str) -> Event:
        """One stored event as the contract's attrs class (``UnknownEvent`` for unknown types)."""
        from crm_core.errors import NotFoundError
        from crm_warehouse.models import EventRow

        self.crm.authz.require(INSPECT)
        with self.crm.activate():
            row = EventRow.get_or_none(EventRow.event_id == event_id)
        if row is None:
            raise NotFoundError(f"the warehouse holds no event {event_id!r}")
        return load_event(row.type, row.payload)

    def status(self) -> list[dict[str, Any]]:
        """Stored events per type: how many, the first and last time, whether the type is known."""
        from peewee import fn

        from crm_hookspecs.events import registered_types
        from crm_warehouse.models import EventRow as E

        self.crm.authz.require(INSPECT)
        known = registered_types()
        with self.crm.activate():
            query = (
                E.select(E.type, E.kind, fn.COUNT(E.id), fn.MIN(E.occurred_at), fn.MAX(E.occurred_at))
                .group_by(E.type, E.kind)
                .order_by(E.type)
                .tuples()
                .iterator()
            )
            return [
                {
                    "type": t,
                    "kind": k,
                    "events": n,
                    "first": aware_utc(first) if first else None,
                    "last": aware_utc(last) if last else None,
                    "known": t in known,
                }
                for t, k, n, first, last in query
            ]

    def table_sizes(self, tables: Mapping[str, str]) -> dict[str, tuple[str, int]]:
        """``{role: (table, rows)}`` for the reporting tables named in ``tables`` (role -> table)."""
        self.crm.authz.require(INSPECT)
        database = self.crm.database
        out: dict[str, tuple[str, int]] = {}
        with self.crm.activate():
            for role, table in tables.items():
                count = database.execute_sql(f"SELECT COUNT(*) FROM {_quote(database, table)}").fetchone()[0]
                out[role] = (table, int(count))
        return out
