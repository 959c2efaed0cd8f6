"""The kernel's own tables (all named ``crm_*``)."""

from __future__ import annotations

import peewee

from crm_core.storage import Model, UTCDateTimeField

__all__ = ["EventCursor", "EventFailure", "OutboxEvent", "PluginState", "Secret"]


class PluginState(Model):
    """Each plugin the app has seen: state, installed version, last error."""

    name = peewee.CharField(max_length=100, primary_key=True)
    version = peewee.CharField(max_length=50, null=True)
    state = peewee.CharField(max_length=20)
    contract = peewee.CharField(max_length=100, null=True)
    error = peewee.TextField(null=True)
    updated_at = UTCDateTimeField()

    class Meta:
        table_name = "crm_plugin"


class OutboxEvent(Model):
    """Every emitted event, written in the transaction of the change."""

    id = peewee.BigAutoField()
    event_id = peewee.CharField(max_length=64, unique=True)
    type = peewee.CharField(max_length=120, index=True)
    occurred_at = UTCDateTimeField(index=True)
    payload = peewee.TextField()
    #: a stable hash of the event's subject (its first contact id; 0 without one): the event's
    #: delivery lane is ``lane_key % crm.worker.event_lanes`` (see crm_core.events)
    lane_key = peewee.IntegerField(default=0)

    class Meta:
        table_name = "crm_event"


class EventCursor(Model):
    """How far each handler (plugin) has got through one lane of the outbox.

    A handler has ``lanes`` rows, lane 0 to ``lanes - 1``: lane ``k`` holds
    the events whose ``lane_key % lanes == k``, and its ``last_id`` says
    that every event of that lane up to it has been delivered.
    """

    handler = peewee.CharField(max_length=100)
    lane = peewee.IntegerField()
    #: the lane count this row belongs to (``crm.worker.event_lanes`` when it was made)
    lanes = peewee.IntegerField()
    last_id = peewee.BigIntegerField(default=0)
    updated_at = UTCDateTimeField()

    class Meta:
        table_name = "crm_event_lane"
        primary_key = peewee.CompositeKey("handler", "lane")


class EventFailure(Model):
    """An event a handler failed on; retried until it succeeds."""

    id = peewee.BigAutoField()
    handler = peewee.CharField(max_length=100)
    event = peewee.ForeignKeyField(OutboxEvent, column_name="event_id", on_delete="CASCADE")
    event_id: int  # the id peewee's ForeignKeyField adds, declared for type checkers
    attempts = peewee.IntegerField(default=1)
    error = peewee.TextField()
    failed_at = UTCDateTimeField()
    next_attempt_at = UTCDateTimeField(index=True)
    resolved_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "crm_event_failure"
        indexes = ((("handler", "event"), True),)


class Secret(Model):
    """Keys the CRM made itself: the signing key when ``[crm] secret`` is empty, and older plugins' keys.

    ``signing`` is the kernel's; ``legacy:<plugin>`` rows are the keys the
    surveys and portal plugins made before the kernel kept one, moved here by
    their migrations so that the links they signed stay readable.
    """

    name = peewee.CharField(max_length=60, primary_key=True)
    value = peewee.CharField(max_length=200)
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "crm_secret"
