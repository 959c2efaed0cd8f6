"""Delivery lanes: an outbox event's lane key, and a handler cursor per lane.

``crm_event.lane_key`` (0 for the events already stored: they all fall in
lane 0 whatever the lane count) and ``crm_event_lane`` (handler, lane,
lanes, last_id) replace ``crm_event_cursor`` (handler, last_id). Each
handler's cursor becomes its lane 0 of a single lane at the same
``last_id``, so no event is skipped or delivered again by the upgrade; the
kernel splits it into ``crm.worker.event_lanes`` lanes when it next
delivers (see ``crm_core.events``). Going down keeps, per handler, the
lowest ``last_id`` of its lanes: events of the other lanes after it are
delivered again (handlers are idempotent), none is skipped.
"""

import peewee


def _lane_model(db):
    class EventLane(peewee.Model):
        handler = peewee.CharField(max_length=100)
        lane = peewee.IntegerField()
        lanes = peewee.IntegerField()
        last_id = peewee.BigIntegerField(default=0)
        updated_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "crm_event_lane"
            primary_key = peewee.CompositeKey("handler", "lane")

    return EventLane


def _q(db, name):
    return name.join(db.quote)


def up(migrator, db):
    migrator.migrate(migrator.add_column("crm_event", "lane_key", peewee.IntegerField(default=0)))
    lane = _lane_model(db)
    db.create_tables([lane])
    db.execute_sql(
        f"INSERT INTO {_q(db, 'crm_event_lane')} "
        f"({_q(db, 'handler')}, {_q(db, 'lane')}, {_q(db, 'lanes')}, {_q(db, 'last_id')}, {_q(db, 'updated_at')}) "
        f"SELECT {_q(db, 'handler')}, 0, 1, {_q(db, 'last_id')}, {_q(db, 'updated_at')} "
        f"FROM {_q(db, 'crm_event_cursor')}"
    )
    db.execute_sql(f"DROP TABLE {_q(db, 'crm_event_cursor')}")


def down(migrator, db):
    class EventCursor(peewee.Model):
        handler = peewee.CharField(max_length=100, primary_key=True)
        last_id = peewee.BigIntegerField(default=0)
        updated_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "crm_event_cursor"

    db.create_tables([EventCursor])
    db.execute_sql(
        f"INSERT INTO {_q(db, 'crm_event_cursor')} ({_q(db, 'handler')}, {_q(db, 'last_id')}, {_q(db, 'updated_at')}) "
        f"SELECT {_q(db, 'handler')}, MIN({_q(db, 'last_id')}), MAX({_q(db, 'updated_at')}) "
        f"FROM {_q(db, 'crm_event_lane')} GROUP BY {_q(db, 'handler')}"
    )
    db.execute_sql(f"DROP TABLE {_q(db, 'crm_event_lane')}")
    migrator.migrate(migrator.drop_column("crm_event", "lane_key"))
