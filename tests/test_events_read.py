"""crm.events.read: the event log for plugins that read history (ETL, previews, backfills)."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_core.models import OutboxEvent
from crm_hookspecs.events import ContactCreated, ContactDeleted, UnknownEvent


def _emit(crm, *events):
    with crm.transaction():
        crm.events.emit_many(events)


def test_pages_oldest_first_by_position(crm_factory, crm_clock):
    crm = crm_factory()
    _emit(crm, *(ContactCreated(contact_id=i, data={"name": f"C{i}"}) for i in range(1, 6)))
    first = crm.events.read(limit=2)
    assert [e.event.contact_id for e in first] == [1, 2]
    second = crm.events.read(first[-1].position, limit=2)
    assert [e.event.contact_id for e in second] == [3, 4]
    assert [e.event.contact_id for e in crm.events.read(second[-1].position)] == [5]
    assert crm.events.read(10**12) == []


def test_filters_by_type_and_time_and_reads_newest_first(crm_factory, crm_clock):
    crm = crm_factory()
    _emit(crm, ContactCreated(contact_id=1, data={"name": "Ana"}))
    crm_clock.advance(days=2)
    since = crm_clock.now()
    _emit(crm, ContactDeleted(contact_id=1), ContactCreated(contact_id=2, data={"name": "Luis"}))
    created = crm.events.read(types=["ContactCreated"])
    assert [(type(e.event).__name__, e.event.contact_id) for e in created] == [
        ("ContactCreated", 1),
        ("ContactCreated", 2),
    ]
    assert [e.event.contact_id for e in crm.events.read(since=since)] == [1, 2]
    newest = crm.events.read(newest_first=True, limit=2)
    assert [type(e.event).__name__ for e in newest] == ["ContactCreated", "ContactDeleted"]
    older = crm.events.read(newest[-1].position, newest_first=True)
    assert [e.event.contact_id for e in older] == [1]


def test_an_event_type_no_plugin_registers_comes_back_unknown(crm_factory):
    crm = crm_factory()
    with crm.activate():
        OutboxEvent.create(
            event_id="x-1",
            type="loyalty.PointsAwarded",
            occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            payload='{"event_id": "x-1", "points": 5}',
        )
    (logged,) = crm.events.read()
    assert isinstance(logged.event, UnknownEvent) and logged.event.payload["points"] == 5


@pytest.mark.parametrize("limit", [0, 100_001, True, 2.5])
def test_limit_is_bounded(crm_factory, limit):
    with pytest.raises(ValueError, match="limit must be a whole number from 1 to 100000"):
        crm_factory().events.read(limit=limit)
