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
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import attrs

from crm_core.storage import dialect

from crm_warehouse.catalog import kind_of

if TYPE_CHECKING:
    import peewee
    from crm_hookspecs.events import Event

    from crm_core.app import CRM

__all__ = ["StoredEvent", "append", "backfill_from_outbox", "insert_ignore", "load_event", "naive_utc"]

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
    payload: dict[str, Any]
    contact_ids: tuple[int, ...]
    known: bool = True


def naive_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as naive UTC, the way :class:`~crm_core.storage.UTCDateTimeField` stores it."""
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


def aware_utc(value: Any) -> dt.datetime:
    """A datetime read from a raw query (naive UTC, or text on SQLite) as aware UTC."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


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


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def append(crm: CRM, events: Iterable[Event]) -> list[StoredEvent]:
    """Store the events not stored yet; return those, in their order."""
    from crm_hookspecs.events import UnknownEvent, to_payload

    from crm_warehouse.models import EventContactRow, EventRow

    database = crm.database
    now = crm.clock.now()
    batch: dict[str, tuple[Event, str, dict[str, Any], dt.datetime]] = {}
    for event in events:
        if event.event_id in batch:
            continue
        type_name, payload = to_payload(event)
        occurred = event.occurred_at or now
        batch[event.event_id] = (event, type_name, payload, occurred)
    if not batch:
        return []
    ids = list(batch)
    existing: set[str] = set()
    for chunk in _chunks(ids, LOOKUP_CHUNK):
        existing.update(r[0] for r in EventRow.select(EventRow.event_id).where(EventRow.event_id.in_(chunk)).tuples())
    fresh = [eid for eid in ids if eid not in existing]
    if not fresh:
        return []
    stored_at = naive_utc(now)
    rows = []
    for eid in fresh:
        event, type_name, payload, occurred = batch[eid]
        rows.append(
            (
                eid,
                type_name,
                kind_of(type_name),
                naive_utc(occurred),
                event.actor,
                event.channel,
                json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str),
                stored_at,
            )
        )
    with database.atomic():
        insert_ignore(
            database,
            EventRow._meta.table_name,
            ("event_id", "type", "kind", "occurred_at", "actor", "channel", "payload", "stored_at"),
            rows,
            conflict=("event_id",),
        )
        keys: dict[str, int] = {}
        for chunk in _chunks(fresh, LOOKUP_CHUNK):
            keys.update(EventRow.select(EventRow.event_id, EventRow.id).where(EventRow.event_id.in_(chunk)).tuples())
        out: list[StoredEvent] = []
        links = []
        for eid in fresh:
            event, type_name, payload, occurred = batch[eid]
            pk = keys.get(eid)
            if pk is None:  # pragma: no cover - only if the row vanished under us
                continue
            kind = kind_of(type_name)
            contact_ids = tuple(dict.fromkeys(event.contact_ids()))
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
                    payload=payload,
                    contact_ids=contact_ids,
                    known=not isinstance(event, UnknownEvent),
                )
            )
        insert_ignore(
            database,
            EventContactRow._meta.table_name,
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
    from crm_core.models import OutboxEvent

    from crm_warehouse.models import EventRow

    added = 0
    last = 0
    while True:
        page = list(
            OutboxEvent.select(OutboxEvent.id, OutboxEvent.type, OutboxEvent.payload)
            .where(OutboxEvent.id > last)
            .order_by(OutboxEvent.id)
            .limit(batch_size)
            .tuples()
        )
        if not page:
            return added
        last = page[-1][0]
        events = [load_event(t, p) for _, t, p in page]
        ids = [e.event_id for e in events]
        have = {r[0] for r in EventRow.select(EventRow.event_id).where(EventRow.event_id.in_(ids)).tuples()}
        missing = [e for e in events if e.event_id not in have]
        if missing:
            with crm.database.atomic():
                added += len(append(crm, missing))
