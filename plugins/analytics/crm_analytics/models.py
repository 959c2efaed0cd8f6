"""The analytics plugin's tables: saved custom reports and the log of scheduled deliveries."""

from __future__ import annotations

import peewee

from crm_core.storage import Model, UTCDateTimeField

__all__ = ["Delivery", "MODELS", "SavedReport"]


class SavedReport(Model):
    """A custom report saved with ``crm reports add``: its TOML text, validated when saved and when run."""

    id = peewee.AutoField()
    name = peewee.CharField(max_length=60, unique=True)
    title = peewee.CharField(max_length=200, default="")
    source = peewee.TextField()
    created_at = UTCDateTimeField()
    created_by = peewee.CharField(max_length=100, null=True)
    updated_at = UTCDateTimeField()

    class Meta:
        table_name = "analytics_report"


class Delivery(Model):
    """One occurrence of a scheduled report, e-mailed (or failed)."""

    id = peewee.AutoField()
    schedule = peewee.CharField(max_length=60)
    report = peewee.CharField(max_length=60)
    scheduled_at = UTCDateTimeField()
    range_from = peewee.DateField()
    range_to = peewee.DateField()
    rows = peewee.IntegerField(default=0)
    message_key = peewee.CharField(max_length=190, unique=True)
    recipients = peewee.TextField()
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "analytics_delivery"
        indexes = ((("schedule", "scheduled_at"), False),)


MODELS = (SavedReport, Delivery)
