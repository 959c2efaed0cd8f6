"""The campaigns plugin's event types, registered when the plugin's entry module is imported.

Their dotted names in the HTTP API's events feed and webhooks are
``campaign.scheduled``, ``campaign.sent`` and ``campaign.cancelled``.
"""

from __future__ import annotations

import datetime as dt

from crm_hookspecs.events import Event, event_type

__all__ = ["CampaignCancelled", "CampaignScheduled", "CampaignSent"]


@event_type("CampaignScheduled")
class CampaignScheduled(Event):
    """A send of a campaign to a list or segment was set for a time (``scheduled_for``; now for "send now")."""

    __contact_fields__ = ()
    campaign_id: int
    send_id: int
    source: str
    scheduled_for: dt.datetime
    recurring_id: int | None = None


@event_type("CampaignSent")
class CampaignSent(Event):
    """A send finished: ``queued`` messages went to the mail queue, ``skipped`` contacts were left out."""

    __contact_fields__ = ()
    campaign_id: int
    send_id: int
    source: str
    queued: int
    skipped: int = 0
    recurring_id: int | None = None


@event_type("CampaignCancelled")
class CampaignCancelled(Event):
    """A scheduled send was cancelled before it went out."""

    __contact_fields__ = ()
    campaign_id: int
    send_id: int
    source: str
