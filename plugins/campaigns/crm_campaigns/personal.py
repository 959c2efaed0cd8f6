"""What the campaigns plugin holds about one contact: the campaign mail sent to him.

* export: each send that mailed him, with the address and when;
* erasure: his recipient rows keep counting in the sends' figures but lose
  the address and the link to him (the address becomes ``erased:<row id>``);
* merge: his rows move to the surviving contact and back on an unmerge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm_campaigns.models import Campaign, Recipient, Send
from crm_core.storage import batched

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["erase", "export", "merged", "personal_values", "unmerged"]

_PAGE = 500


def export(crm: CRM, contact_id: int) -> dict[str, Any] | None:
    with crm.activate():
        rows = list(
            Recipient.select(Recipient, Send.source, Campaign.name)
            .join(Send)
            .join(Campaign)
            .where(Recipient.contact_id == contact_id)
            .order_by(Recipient.queued_at, Recipient.id)
        )
    if not rows:
        return None
    return {
        "mailings": [
            {
                "campaign": row.send.campaign.name,
                "send": row.send_id,
                "source": row.send.source,
                "address": row.address,
                "queued_at": row.queued_at.isoformat(),
                "unsubscribed_at": row.unsubscribed_at.isoformat() if row.unsubscribed_at else None,
            }
            for row in rows
        ]
    }


def personal_values(crm: CRM, contact_id: int) -> list[str]:
    with crm.activate():
        return sorted(set(Recipient.select(Recipient.address).where(Recipient.contact_id == contact_id).scalars()))


def erase(crm: CRM, contact_id: int) -> int:
    with crm.activate():
        ids = list(Recipient.select(Recipient.id).where(Recipient.contact_id == contact_id).scalars())
        for part in batched(ids, _PAGE):
            for pk in part:  # each row its own placeholder: the address is unique per send
                Recipient.update(address=f"erased:{pk}", contact_id=None).where(Recipient.id == pk).execute()
    return len(ids)


def merged(crm: CRM, survivor_id: int, merged_id: int) -> dict[str, list[int]]:
    with crm.activate():
        ids = list(Recipient.select(Recipient.id).where(Recipient.contact_id == merged_id).scalars())
        for part in batched(ids, _PAGE):
            Recipient.update(contact_id=survivor_id).where(Recipient.id.in_(part)).execute()
    return {"campaigns_recipient": ids} if ids else {}


def unmerged(crm: CRM, survivor_id: int, merged_id: int, moved: dict[str, list[int]]) -> None:
    with crm.activate():
        for part in batched(moved.get("campaigns_recipient", []), _PAGE):
            Recipient.update(contact_id=merged_id).where(
                Recipient.id.in_(part) & (Recipient.contact_id == survivor_id)
            ).execute()
