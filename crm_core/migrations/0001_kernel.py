"""The kernel's tables: plugin state, the event outbox, handler progress."""

import peewee


def up(migrator, db):
    class PluginState(peewee.Model):
        name = peewee.CharField(max_length=100, primary_key=True)
        version = peewee.CharField(max_length=50, null=True)
        state = peewee.CharField(max_length=20)
        contract = peewee.CharField(max_length=100, null=True)
        error = peewee.TextField(null=True)
        updated_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "crm_plugin"

    class OutboxEvent(peewee.Model):
        id = peewee.BigAutoField()
        event_id = peewee.CharField(max_length=64, unique=True)
        type = peewee.CharField(max_length=120, index=True)
        occurred_at = peewee.DateTimeField(index=True)
        payload = peewee.TextField()

        class Meta:
            database = db
            table_name = "crm_event"

    class EventCursor(peewee.Model):
        handler = peewee.CharField(max_length=100, primary_key=True)
        last_id = peewee.BigIntegerField(default=0)
        updated_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "crm_event_cursor"

    class EventFailure(peewee.Model):
        id = peewee.BigAutoField()
        handler = peewee.CharField(max_length=100)
        event = peewee.ForeignKeyField(OutboxEvent, column_name="event_id", on_delete="CASCADE")
        attempts = peewee.IntegerField(default=1)
        error = peewee.TextField()
        failed_at = peewee.DateTimeField()
        next_attempt_at = peewee.DateTimeField(index=True)
        resolved_at = peewee.DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "crm_event_failure"
            indexes = ((("handler", "event"), True),)

    db.create_tables([PluginState, OutboxEvent, EventCursor, EventFailure])


def down(migrator, db):
    for name in ("crm_event_failure", "crm_event_cursor", "crm_event", "crm_plugin"):
        db.execute_sql(f"DROP TABLE IF EXISTS {name.join(db.quote)}")  # db.quote is the pair of quote characters
