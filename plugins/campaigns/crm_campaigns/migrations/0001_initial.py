"""Create the campaigns plugin's tables: campaigns, recurring newsletters, sends, recipients."""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    class Base(peewee.Model):
        class Meta:
            database = db

    class Campaign(Base):
        name = peewee.CharField(max_length=200, unique=True)
        subject = peewee.CharField(max_length=500)
        text_body = peewee.TextField()
        html_body = peewee.TextField(null=True)
        revision = peewee.IntegerField(default=1)
        created_by = peewee.CharField(max_length=150, null=True)
        updated_by = peewee.CharField(max_length=150, null=True)
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = "campaigns_campaign"

    class Recurring(Base):
        campaign = peewee.ForeignKeyField(Campaign, on_delete="CASCADE")
        source = peewee.CharField(max_length=200)
        rule = peewee.CharField(max_length=500)
        starts_at = peewee.DateTimeField()
        active = peewee.BooleanField(default=True)
        last_occurrence = peewee.DateTimeField(null=True)
        created_by = peewee.CharField(max_length=150, null=True)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "campaigns_recurring"

    class Send(Base):
        campaign = peewee.ForeignKeyField(Campaign, on_delete="CASCADE")
        source = peewee.CharField(max_length=200)
        list_id = peewee.IntegerField(null=True)
        status = peewee.CharField(max_length=16, default="scheduled")
        scheduled_for = peewee.DateTimeField()
        recurring = peewee.ForeignKeyField(Recurring, null=True, on_delete="SET NULL")
        occurrence = peewee.DateTimeField(null=True)
        created_by = peewee.CharField(max_length=150, null=True)
        created_at = peewee.DateTimeField()
        started_at = peewee.DateTimeField(null=True)
        finished_at = peewee.DateTimeField(null=True)
        cancelled_at = peewee.DateTimeField(null=True)
        cancelled_by = peewee.CharField(max_length=150, null=True)
        do_not_contact = peewee.IntegerField(default=0)
        unsubscribed_before = peewee.IntegerField(default=0)
        no_address = peewee.IntegerField(default=0)
        duplicates = peewee.IntegerField(default=0)
        invalid = peewee.IntegerField(default=0)
        last_error = peewee.TextField(null=True)

        class Meta:
            table_name = "campaigns_send"
            indexes = (
                (("status", "scheduled_for"), False),
                (("recurring", "occurrence"), True),
            )

    class Recipient(Base):
        id = peewee.BigAutoField()
        send = peewee.ForeignKeyField(Send, on_delete="CASCADE")
        address = peewee.CharField(max_length=254)
        contact_id = peewee.IntegerField(null=True)
        mail_key = peewee.CharField(max_length=190)
        queued_at = peewee.DateTimeField()
        unsubscribed_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "campaigns_recipient"
            indexes = (
                (("send", "address"), True),
                (("contact_id", "queued_at"), False),
            )

    db.create_tables([Campaign, Recurring, Send, Recipient])


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    for name in ("campaigns_recipient", "campaigns_send", "campaigns_recurring", "campaigns_campaign"):
        db.execute_sql(f"DROP TABLE IF EXISTS {name.join(db.quote)}")  # type: ignore[no-untyped-call]  # peewee stubs leave it unannotated
