"""Which send an unsubscribe is owed to.

The link in a campaign mail is the portal's one-click unsubscribe link (the
kernel's mail queue asks for it through ``crm_unsubscribe_urls``); it names
the contact and the list, not the campaign. So an unsubscribe is counted for
a send when it is a ``ContactUnsubscribed`` event of the ``self-service``
channel (the link, or the ``List-Unsubscribe`` one-click POST) for a
contact the send mailed, from the send's list (or from all mail), within
``plugins.campaigns.unsubscribe_window_days`` after the mail was queued: it
goes to the latest such send, once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from crm_campaigns.models import Recipient, Send

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["CHANNEL", "attribute"]

CHANNEL = "self-service"


def attribute(crm: CRM, events: Sequence[Any]) -> int:
    """Mark the recipient row each link unsubscribe among ``events`` is owed to; how many were marked.

    Idempotent: a recipient already marked stays as it is, so an event seen
    twice is counted once.
    """
    from crm_hookspecs.events import ContactUnsubscribed

    window = dt.timedelta(days=crm.settings("campaigns").unsubscribe_window_days)
    marked = 0
    for event in events:
        if not isinstance(event, ContactUnsubscribed) or event.channel != CHANNEL:
            continue
        when = event.occurred_at or crm.clock.now()
        query = (
            Recipient.select(Recipient.id, Recipient.unsubscribed_at)
            .join(Send)
            .where(
                (Recipient.contact_id == event.contact_id)
                & (Recipient.queued_at <= when)
                & (Recipient.queued_at >= when - window)
            )
            .order_by(Recipient.queued_at.desc(), Recipient.id.desc())
            .limit(1)
        )
        if event.list_id is not None:
            query = query.where(Send.list_id == event.list_id)
        found = query.first()
        if found is None or found.unsubscribed_at is not None:
            continue
        marked += Recipient.update(unsubscribed_at=when).where(Recipient.id == found.id).execute()
    return marked
