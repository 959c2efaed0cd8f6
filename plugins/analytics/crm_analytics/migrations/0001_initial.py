"""Create analytics_report (saved custom reports) and analytics_delivery (scheduled reports sent)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    class SavedReport(peewee.Model):
        id = peewee.AutoField()
        name = peewee.CharField(max_length=60, unique=True)
        title = peewee.CharField(max_length=200, default="")
        source = peewee.TextField()
        created_at = peewee.DateTimeField()
        created_by = peewee.CharField(max_length=100, null=True)
        updated_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "analytics_report"

    class Delivery(peewee.Model):
        id = peewee.AutoField()
        schedule = peewee.CharField(max_length=60)
        report = peewee.CharField(max_length=60)
        scheduled_at = peewee.DateTimeField()
        range_from = peewee.DateField()
        range_to = peewee.DateField()
        rows = peewee.IntegerField(default=0)
        message_key = peewee.CharField(max_length=190, unique=True)
        recipients = peewee.TextField()
        created_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "analytics_delivery"
            indexes = ((("schedule", "scheduled_at"), False),)

    db.create_tables([SavedReport, Delivery], safe=True)


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    db.execute_sql("DROP TABLE analytics_delivery")  # type: ignore[no-untyped-call]  # peewee stubs leave it unannotated
    db.execute_sql("DROP TABLE analytics_report")  # type: ignore[no-untyped-call]  # peewee stubs leave it unannotated
