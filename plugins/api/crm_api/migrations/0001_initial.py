"""Create the API's tables: idempotent requests, webhook subscriptions, deliveries and attempts.

The models are frozen copies of crm_api/models.py as of this migration.
"""

from typing import Any

import peewee


def up(migrator: Any, db: peewee.Database) -> None:
    class IdempotentRequest(peewee.Model):
        token_id = peewee.IntegerField()
        key = peewee.CharField(max_length=255)
        method = peewee.CharField(max_length=10)
        path = peewee.CharField(max_length=500)
        body_hash = peewee.CharField(max_length=64)
        status = peewee.IntegerField(null=True)
        headers = peewee.TextField(default="{}")
        response = peewee.TextField(default="")
        created_at = peewee.DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "api_idempotent_request"
            indexes = ((("token_id", "key"), True),)

    class WebhookSubscription(peewee.Model):
        url = peewee.CharField(max_length=2000)
        event_types = peewee.TextField(default="[]")
        description = peewee.CharField(max_length=200, default="")
        secret = peewee.CharField(max_length=100)
        active = peewee.BooleanField(default=True)
        disabled_reason = peewee.CharField(max_length=300, null=True)
        owner = peewee.CharField(max_length=150, null=True)
        created_at = peewee.DateTimeField()
        last_success_at = peewee.DateTimeField(null=True)
        failing_since = peewee.DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "api_webhook_subscription"

    class WebhookDelivery(peewee.Model):
        subscription = peewee.ForeignKeyField(WebhookSubscription, on_delete="CASCADE")
        event_id = peewee.CharField(max_length=64)
        type = peewee.CharField(max_length=100)
        body = peewee.TextField()
        status = peewee.CharField(max_length=10)
        attempts = peewee.IntegerField(default=0)
        next_attempt_at = peewee.DateTimeField(null=True)
        last_status = peewee.IntegerField(null=True)
        last_error = peewee.CharField(max_length=500, null=True)
        delivered_at = peewee.DateTimeField(null=True)
        created_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "api_webhook_delivery"
            indexes = ((("subscription", "event_id"), True), (("status", "next_attempt_at"), False))

    class WebhookAttempt(peewee.Model):
        delivery = peewee.ForeignKeyField(WebhookDelivery, on_delete="CASCADE")
        at = peewee.DateTimeField()
        status = peewee.IntegerField(null=True)
        error = peewee.CharField(max_length=500, null=True)
        milliseconds = peewee.IntegerField(default=0)
        response = peewee.TextField(null=True)

        class Meta:
            database = db
            table_name = "api_webhook_attempt"

    db.create_tables([IdempotentRequest, WebhookSubscription, WebhookDelivery, WebhookAttempt])


def down(migrator: Any, db: peewee.Database) -> None:
    for name in ("api_webhook_attempt", "api_webhook_delivery", "api_webhook_subscription", "api_idempotent_request"):
        db.execute_sql(f"DROP TABLE IF EXISTS {name.join(db.quote)}")
