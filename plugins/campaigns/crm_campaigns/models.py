"""The campaigns plugin's tables (all named ``campaigns_*``).

::

    campaigns_campaign ──< campaigns_send ──< campaigns_recipient   one row per address a send mailed
            │                    │
            └──< campaigns_recurring (a send per occurrence)

A *send* is one mailing of a campaign to a list or segment: scheduled for a
time (now, for "send now"), or made by a recurring newsletter for one of
its occurrences. ``campaigns_recipient`` has one row per normalized address
a send queued mail to, unique per send, written in the transaction that
queues the mail: a send that is run again (a retry, a second worker, a
crash half way) mails nobody twice.
"""

from __future__ import annotations

import peewee

from crm_core.storage import Model, UTCDateTimeField

__all__ = ["Campaign", "Recipient", "Recurring", "Send", "STATUSES"]

#: scheduled: waiting for its time; sending: being queued (or cut off: the worker
#: resumes it); sent: every recipient queued; cancelled: stopped before it went out
STATUSES = ("scheduled", "sending", "sent", "cancelled")


class Campaign(Model):
    id = peewee.AutoField()
    name = peewee.CharField(max_length=200, unique=True)
    subject = peewee.CharField(max_length=500)
    text_body = peewee.TextField()
    html_body = peewee.TextField(null=True)
    #: one more at each change (the HTTP API's ETag and the desk's stale-form check)
    revision = peewee.IntegerField(default=1)
    created_by = peewee.CharField(max_length=150, null=True)
    updated_by = peewee.CharField(max_length=150, null=True)
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()

    class Meta:
        table_name = "campaigns_campaign"


class Recurring(Model):
    id = peewee.AutoField()
    campaign = peewee.ForeignKeyField(Campaign, backref="recurrings", on_delete="CASCADE")
    campaign_id: int
    source = peewee.CharField(max_length=200)
    rule = peewee.CharField(max_length=500)
    starts_at = UTCDateTimeField()
    active = peewee.BooleanField(default=True)
    last_occurrence = UTCDateTimeField(null=True)
    created_by = peewee.CharField(max_length=150, null=True)
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "campaigns_recurring"


class Send(Model):
    id = peewee.AutoField()
    campaign = peewee.ForeignKeyField(Campaign, backref="sends", on_delete="CASCADE")
    campaign_id: int
    #: the mailing list or segment name
    source = peewee.CharField(max_length=200)
    #: the list's id when ``source`` is a static list (unsubscribes are attributed by it), else NULL
    list_id = peewee.IntegerField(null=True)
    status = peewee.CharField(max_length=16, default="scheduled")
    scheduled_for = UTCDateTimeField()
    recurring = peewee.ForeignKeyField(Recurring, null=True, on_delete="SET NULL")
    recurring_id: int | None
    #: the occurrence of the recurring newsletter this send is (unique with it)
    occurrence = UTCDateTimeField(null=True)
    created_by = peewee.CharField(max_length=150, null=True)
    created_at = UTCDateTimeField()
    started_at = UTCDateTimeField(null=True)
    finished_at = UTCDateTimeField(null=True)
    cancelled_at = UTCDateTimeField(null=True)
    cancelled_by = peewee.CharField(max_length=150, null=True)
    #: contacts of the audience left out when it was sent, and why
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


class Recipient(Model):
    id = peewee.BigAutoField()
    send = peewee.ForeignKeyField(Send, backref="recipients", on_delete="CASCADE")
    send_id: int
    #: the address, lower-cased: one mail per address and send
    address = peewee.CharField(max_length=254)
    contact_id = peewee.IntegerField(null=True)
    #: the mail queue's key of the message (its state gives sent and bounced)
    mail_key = peewee.CharField(max_length=190)
    queued_at = UTCDateTimeField()
    #: when the contact unsubscribed through this mail's link (see the plugin's docs)
    unsubscribed_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "campaigns_recipient"
        indexes = (
            (("send", "address"), True),
            (("contact_id", "queued_at"), False),
        )
