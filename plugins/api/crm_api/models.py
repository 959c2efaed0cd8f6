"""The API's own table: the answers to creating requests, kept for their ``Idempotency-Key``."""

from __future__ import annotations

import peewee

from crm_core.storage import Model, UTCDateTimeField

__all__ = ["IdempotentRequest"]


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
