"""The API's own tables: answers kept for their ``Idempotency-Key``; webhook subscriptions, deliveries and attempts."""

from __future__ import annotations

import peewee

from crm_core.storage import Model, UTCDateTimeField

__all__ = ["IdempotentRequest", "WebhookAttempt", "WebhookDelivery", "WebhookSubscription"]


class IdempotentRequest(Model):
    """A creating request made with an ``Idempotency-Key``, and the answer it got.

    A retry with the same key and body gets the stored answer; the same key
    with another body is refused. ``status`` is ``None`` while the first
    request is still running. Keys are per token: two integrations never
    share one.
    """

    id = peewee.AutoField()
    token_id = peewee.IntegerField()
    key = peewee.CharField(max_length=255)
    method = peewee.CharField(max_length=10)
    path = peewee.CharField(max_length=500)
    body_hash = peewee.CharField(max_length=64)
    status = peewee.IntegerField(null=True)
    headers = peewee.TextField(default="{}")
    response = peewee.TextField(default="")
    created_at = UTCDateTimeField(index=True)

    class Meta:
        table_name = "api_idempotent_request"
        indexes = ((("token_id", "key"), True),)


class WebhookSubscription(Model):
    """Where events go: a URL, the event types wanted (``[]``: all), the signing secret, and how it is doing."""

    id = peewee.AutoField()
    url = peewee.CharField(max_length=2000)
    event_types = peewee.TextField(default="[]")
    description = peewee.CharField(max_length=200, default="")
    secret = peewee.CharField(max_length=100)
    active = peewee.BooleanField(default=True)
    disabled_reason = peewee.CharField(max_length=300, null=True)
    owner = peewee.CharField(max_length=150, null=True)
    created_at = UTCDateTimeField()
    last_success_at = UTCDateTimeField(null=True)
    #: since when every delivery failed (reset by a success); disabled after webhooks.DISABLE_AFTER
    failing_since = UTCDateTimeField(null=True)

    class Meta:
        table_name = "api_webhook_subscription"


class WebhookDelivery(Model):
    """One event for one subscription: ``pending`` (due at ``next_attempt_at``), ``delivered`` or ``failed``."""

    id = peewee.AutoField()
    subscription = peewee.ForeignKeyField(WebhookSubscription, on_delete="CASCADE")
    event_id = peewee.CharField(max_length=64)
    type = peewee.CharField(max_length=100)
    body = peewee.TextField()
    status = peewee.CharField(max_length=10)
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = UTCDateTimeField(null=True)
    last_status = peewee.IntegerField(null=True)
    last_error = peewee.CharField(max_length=500, null=True)
    delivered_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "api_webhook_delivery"
        indexes = (
            (("subscription", "event_id"), True),
            (("status", "next_attempt_at"), False),
        )


class WebhookAttempt(Model):
    """One try to deliver: when, the receiver's status (``None``: no answer), the error, the time taken."""

    id = peewee.AutoField()
    delivery = peewee.ForeignKeyField(WebhookDelivery, on_delete="CASCADE")
    at = UTCDateTimeField()
    status = peewee.IntegerField(null=True)
    error = peewee.CharField(max_length=500, null=True)
    milliseconds = peewee.IntegerField(default=0)
    response = peewee.TextField(null=True)

    class Meta:
        table_name = "api_webhook_attempt"
