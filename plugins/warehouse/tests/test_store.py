"""The event store: every delivered event kept, once, readable back."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from crm_hookspecs.events import (
    ContactChanged,
    ContactCreated,
    ContactsMerged,
    SaleClosed,
    StaffActionLogged,
    UnknownEvent,
)
from crm_hookspecs.records import FieldChange
from crm_warehouse.models import EventContactRow, EventRow
from crm_warehouse.store import append


def test_crm_handle_events_stores_type_time_contacts_actor_channel_payload(warehouse_app, emit, crm_clock):
    app = warehouse_app()
    created = ContactCreated(
        contact_id=7, data={"first_name": "Ana", "status": "prospect"}, actor="maria", channel="import"
    )
    merged = ContactsMerged(survivor_id=7, merged_id=9, merge_id=1, actor="luis", channel="staff")
    emit(app, created, merged)
    with app.activate():
        rows = list(EventRow.select().order_by(EventRow.id))
        assert [(r.event_id, r.type, r.kind, r.actor, r.channel) for r in rows] == [
            (created.event_id, "ContactCreated", "contact", "maria", "import"),
            (merged.event_id, "ContactsMerged", "contact", "luis", "staff"),
        ]
        assert rows[0].occurred_at == crm_clock.now()
        assert json.loads(rows[0].payload)["data"] == {"first_name": "Ana", "status": "prospect"}
        links = sorted((link.contact_id, link.event) for link in EventContactRow.select())
        # the merge concerns both contacts: it is on both timelines
        assert links == [(7, rows[0].id), (7, rows[1].id), (9, rows[1].id)]


def test_an_event_delivered_twice_is_stored_once(warehouse_app, emit):
    app = warehouse_app()
    event = StaffActionLogged(action_id=1, contact_id=3, kind="call", author="maria")
    emit(app, event)
    with app.transaction():
        # a redelivery (at-least-once), and a batch repeating an event
        assert append(app, [event]) == []
        again = append(app, [event, StaffActionLogged(action_id=2, contact_id=3, kind="note"), event])
    assert [s.payload["action_id"] for s in again] == [2]
    with app.activate():
        assert EventRow.select().count() == 2
        assert EventContactRow.select().count() == 2


def test_a_failed_batch_is_retried_without_duplicates(warehouse_app, emit, crm_plugin):
    """The kernel re-runs a failed batch event by event: the store must not double anything."""
    calls = []

    def flaky(crm, events):
        calls.append(len(events))
        if len(calls) == 1:
            raise RuntimeError("boom")

    app = warehouse_app(crm_plugin("flaky", crm_handle_events=flaky))
    emit(app, *[StaffActionLogged(action_id=i, contact_id=1, kind="note") for i in range(5)])
    app.events.deliver()
    with app.activate():
        assert EventRow.select().count() == 5


def test_unknown_event_types_are_kept_and_shown_as_unknown(warehouse_app, emit, make_unknown):
    app = warehouse_app()
    parcel = make_unknown("acme.ParcelShipped", contact_id=12, tracking="XY1")
    emit(app, parcel)
    api = app.plugin("warehouse")
    [stored] = api.events(unknown=True)
    assert (stored.type, stored.kind, stored.known) == ("acme.ParcelShipped", "other", False)
    assert stored.payload["tracking"] == "XY1"
    back = api.event(parcel.event_id)
    assert isinstance(back, UnknownEvent) and back.unknown_type == "acme.ParcelShipped"
    [entry] = api.timeline(12)
    assert entry.known is False and "unknown type" in entry.summary and "XY1" in entry.summary
    assert {"type": "acme.ParcelShipped", "known": False}.items() <= api.status()[0].items()


def test_a_payload_written_before_a_type_gained_fields_reads_back(warehouse_app, emit):
    """An old SaleClosed without region/owner/lost_reason, with a key since removed, reads back as SaleClosed."""
    app = warehouse_app()
    event = SaleClosed(record_id=4, contact_id=2, won=True)
    emit(app, event)
    with app.transaction():
        row = EventRow.get(EventRow.event_id == event.event_id)
        old = json.loads(row.payload)
        for gained in ("region", "owner", "closed_on", "lost_reason"):
            old.pop(gained)
        old["discount_code"] = "X"  # a field the type no longer has
        EventRow.update(payload=json.dumps(old)).where(EventRow.id == row.id).execute()
    back = app.plugin("warehouse").event(event.event_id)
    assert isinstance(back, SaleClosed)
    assert (back.record_id, back.won, back.region, back.lost_reason) == (4, True, None, None)


def test_events_without_contacts_are_stored_too(warehouse_app, emit):
    from crm_hookspecs.events import MailBounced

    app = warehouse_app()
    emit(app, MailBounced(address="x@example.com", reason="550 no such user"))
    with app.activate():
        assert EventRow.select().count() == 1
        assert EventContactRow.select().count() == 0


def test_rebuild_copies_the_outbox_history_from_before_the_warehouse(crm_factory, emit, crm_plugin, crm_clock):
    """A warehouse enabled later starts at the newest event; rebuild fetches the older ones."""
    import crm_warehouse.plugin as warehouse_plugin

    first = crm_factory(plugins=[crm_plugin("probe")])
    created = ContactCreated(contact_id=1, data={"status": "prospect", "region": "north"})
    emit(first, created)
    crm_clock.advance(days=1)
    changed = ContactChanged(contact_id=1, changes={"status": FieldChange("prospect", "customer")})
    emit(first, changed)
    url = first.config.core.database
    first.close()
    app = crm_factory(plugins=[("warehouse", warehouse_plugin)], database=url)
    api = app.plugin("warehouse")
    assert api.timeline(1) == []
    counts = api.rebuild()
    assert counts["events_added"] == 2
    assert [e.type for e in api.timeline(1)] == ["ContactChanged", "ContactCreated"]
    assert api.contact_as_of(1, crm_clock.now())["status"] == "customer"
    assert api.rebuild()["events_added"] == 0  # idempotent


def test_stored_times_are_aware_utc(warehouse_app, emit, crm_clock):
    crm_clock.set(dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))))
    app = warehouse_app()
    emit(app, StaffActionLogged(action_id=1, contact_id=1, kind="note"))
    [entry] = app.plugin("warehouse").timeline(1)
    assert entry.occurred_at == dt.datetime(2026, 3, 2, 4, 30, tzinfo=dt.UTC)
    assert entry.occurred_at.tzinfo is not None


@pytest.mark.sqlite_only
def test_the_timeline_index_is_the_primary_key(warehouse_app):
    """One b-tree per link row on SQLite (WITHOUT ROWID), ordered for the timeline."""
    app = warehouse_app()
    sql = app.database.execute_sql("SELECT sql FROM sqlite_master WHERE name = 'warehouse_event_contact'").fetchone()[0]
    assert "WITHOUT ROWID" in sql and 'PRIMARY KEY ("contact_id", "occurred_at", "event_id")' in sql


def test_events_of_one_instant_keep_the_order_they_were_emitted_in(warehouse_app, emit):
    """Copied from the outbox run by run (same actor and channel): the keys follow the emission."""
    app = warehouse_app()
    actors = ["maria", "maria", "luis", None, "maria", "luis", "luis"]
    emit(app, *[StaffActionLogged(action_id=i, contact_id=4, kind="note", actor=a, channel="api" if i % 2 else "staff")
                for i, a in enumerate(actors)])  # fmt: skip
    assert [e.payload["action_id"] for e in app.plugin("warehouse").timeline(4)] == [6, 5, 4, 3, 2, 1, 0]
    assert [e.actor for e in app.plugin("warehouse").timeline(4)] == list(reversed(actors))
