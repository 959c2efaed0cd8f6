"""The mail queue's tables (created by the kernel migration 0002)."""

from __future__ import annotations

import peewee

from crm_core.storage import Model, UTCDateTimeField

__all__ = ["MailAttachment", "MailMessage", "MailTransportState", "STATUSES"]

#: queued: waiting (new, or for its next attempt); sending: a worker holds it
#: under a lease; sent: the transport accepted it; failed: given up for good;
#: cancelled: never to be sent (its recipient's personal data was erased)
STATUSES = ("queued", "sending", "sent", "failed", "cancelled")


class MailMessage(Model):
    """One queued message: its fields, its delivery state, its history."""

    id = peewee.BigAutoField()
    key = peewee.CharField(max_length=190, unique=True)
    message_id = peewee.CharField(max_length=255)
    sender = peewee.CharField(max_length=400)
    #: JSON list of "Name <addr>" strings, as the To header shows them
    recipients = peewee.TextField()
    #: JSON list of the bare addresses still to deliver after a partial
    #: delivery (some recipients deferred); NULL means all of ``recipients``
    remaining = peewee.TextField(null=True)
    reply_to = peewee.CharField(max_length=400, null=True)
    subject = peewee.TextField()
    text_body = peewee.TextField()
    html_body = peewee.TextField(null=True)
    #: JSON list of [name, value] pairs
    headers = peewee.TextField(null=True)
    attachment_count = peewee.IntegerField(default=0)
    status = peewee.CharField(max_length=16, default="queued")
    attempts = peewee.IntegerField(default=0)
    queued_at = UTCDateTimeField()
    next_attempt_at = UTCDateTimeField()
    lease_owner = peewee.CharField(max_length=100, null=True)
    lease_until = UTCDateTimeField(null=True)
    sent_at = UTCDateTimeField(null=True)
    transport = peewee.CharField(max_length=50, null=True)
    last_error = peewee.TextField(null=True)

    class Meta:
        table_name = "crm_mail_message"
        indexes = (
            (("status", "next_attempt_at"), False),
            (("transport", "sent_at"), False),
            (("lease_owner",), False),
        )


class MailAttachment(Model):
    """A file attached to a queued message."""

    id = peewee.BigAutoField()
    message = peewee.ForeignKeyField(MailMessage, column_name="mail_id", on_delete="CASCADE")
    position = peewee.IntegerField()
    filename = peewee.CharField(max_length=255)
    content_type = peewee.CharField(max_length=255)
    content = peewee.BlobField()

    class Meta:
        table_name = "crm_mail_attachment"
        indexes = ((("message", "position"), True),)


class MailTransportState(Model):
    """One row per transport: locked while a worker claims a batch, so that
    claims (and the rate limit) are serialised across workers."""

    name = peewee.CharField(max_length=50, primary_key=True)
    updated_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "crm_mail_transport"
