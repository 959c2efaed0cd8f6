"""What the campaigns plugin's API returns: frozen records (the HTTP API serialises them by field name)."""

from __future__ import annotations

import datetime as dt

import attrs

__all__ = ["Audience", "CampaignInfo", "Preview", "RecurringInfo", "SendCounts", "SendInfo", "TestMail"]


@attrs.frozen
class CampaignInfo:
    """A campaign: its name and its three templates."""

    id: int
    name: str
    subject: str
    text: str
    html: str | None
    revision: int
    created_by: str | None
    updated_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


@attrs.frozen
class SendCounts:
    """What became of a send's mail.

    ``queued``: messages put in the mail queue (one per address); ``sent``:
    accepted by the mail server; ``bounced``: given up for good by the queue
    (a 5xx refusal, or every retry failed); ``waiting``: still in the queue;
    ``unsubscribed``: recipients who unsubscribed through this mail's link.
    """

    queued: int = 0
    sent: int = 0
    bounced: int = 0
    waiting: int = 0
    unsubscribed: int = 0


@attrs.frozen
class SendInfo:
    """One send of a campaign to a list or segment, and its counts."""

    id: int
    campaign_id: int
    campaign_name: str
    source: str
    status: str
    scheduled_for: dt.datetime
    recurring_id: int | None
    created_by: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    cancelled_by: str | None
    counts: SendCounts
    #: contacts left out when it was sent: do-not-contact, unsubscribed from the list,
    #: without an e-mail address, sharing an address already mailed, with an unusable address
    do_not_contact: int = 0
    unsubscribed_before: int = 0
    no_address: int = 0
    duplicates: int = 0
    invalid: int = 0
    last_error: str | None = None


@attrs.frozen
class RecurringInfo:
    """A recurring newsletter: the campaign sent to a list on an RFC 5545 rule, one send per occurrence."""

    id: int
    campaign_id: int
    campaign_name: str
    source: str
    rule: str
    active: bool
    starts_at: dt.datetime
    last_occurrence: dt.datetime | None
    next_at: dt.datetime | None
    created_by: str | None


@attrs.frozen
class Preview:
    """A campaign rendered for one contact (``contact_id`` 0: the made-up sample contact)."""

    contact_id: int
    contact_name: str
    subject: str
    text: str
    html: str | None


@attrs.frozen
class TestMail:
    """A test mail queued to the acting user: its address and the mail queue's key."""

    to: str
    subject: str
    key: str


@attrs.frozen
class Audience:
    """Who a send to ``source`` would reach now: ``included`` contacts with an address, and those left out.

    Contacts sharing an address are mailed once, so ``included`` is the most
    messages the send would queue.
    """

    source: str
    included: int
    do_not_contact: int
    unsubscribed: int
    no_address: int
