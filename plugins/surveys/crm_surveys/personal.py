"""What the surveys plugin holds about one contact: export, erasure, merges.

* export: his invitations and responses, with his answers;
* erasure: his invitations and responses stay as anonymous statistics
  (scores and choices count in the results) but lose the link to him and
  every free-text answer, which could identify him;
* merge: his invitations and responses move to the surviving contact and
  move back when the merge is undone. Tokens and paper codes name the
  original contact, so his old links keep working after a merge.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from crm_core.storage import batched
from crm_surveys import catalog
from crm_surveys.models import Answer, Invitation, Response, Round, Survey

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["erase", "export", "merged", "unmerged"]

_PAGE = 500


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export(crm: CRM, contact_id: int) -> dict[str, Any] | None:
    """The contact's invitations and responses, with his answers (``crm_export_personal_data``)."""
    with crm.activate():
        invitations = list(
            Invitation.select(Invitation, Survey.key, Survey.title, Round.key)
            .join(Survey, on=(Invitation.survey == Survey.id))
            .switch(Invitation)
            .join(Round, on=(Invitation.round == Round.id))
            .where(Invitation.contact_id == contact_id)
            .order_by(Invitation.sent_at, Invitation.id)
        )
        if not invitations:
            return None
        responses = {
            r.invitation_id: r for r in Response.select().where(Response.invitation.in_([i.id for i in invitations]))
        }
    out = []
    for invitation in invitations:
        item: dict[str, Any] = {
            "survey": invitation.survey.key,
            "title": invitation.survey.title,
            "version": invitation.version,
            "round": invitation.round.key,
            "medium": invitation.medium,
            "sent_at": _iso(invitation.sent_at),
            "reminded_at": _iso(invitation.reminded_at),
            "expires_at": _iso(invitation.expires_at),
        }
        response = responses.get(invitation.id)
        if response is not None:
            item["response"] = {
                "complete": bool(response.complete),
                "channel": response.channel,
                "answered_at": _iso(response.answered_at),
                "updated_at": _iso(response.updated_at),
                "answers": json.loads(response.data),
            }
        out.append(item)
    return {"invitations": out}


def erase(crm: CRM, contact_id: int) -> int:
    """Unlink the contact from his invitations and responses and drop his free text (``crm_erase_personal_data``)."""
    with crm.activate():
        responses = list(Response.select().where(Response.contact_id == contact_id))
        text_keys: dict[tuple[int, int], set[str]] = {}
        for response in responses:
            version = (response.survey_id, response.version)
            if version not in text_keys:
                definition = catalog.definition(*version)
                text_keys[version] = {q.key for q in definition.questions if q.kind == "text"}
            data = json.loads(response.data)
            kept = {k: v for k, v in data.items() if k not in text_keys[version]}
            Response.update(contact_id=None, data=json.dumps(kept, ensure_ascii=False)).where(
                Response.id == response.id
            ).execute()
        for ids in batched([r.id for r in responses], _PAGE):
            Answer.update(text=None).where(Answer.response.in_(ids) & Answer.text.is_null(False)).execute()
        invitations: int = (
            Invitation.update(contact_id=None, original_contact_id=None)
            .where(Invitation.contact_id == contact_id)
            .execute()
        )
    return len(responses) + invitations


def merged(crm: CRM, survivor_id: int, merged_id: int) -> dict[str, list[int]]:
    """Move the merged contact's invitations and responses to the survivor (``crm_contacts_merged``)."""
    with crm.activate():
        invitations: list[int] = list(
            Invitation.select(Invitation.id).where(Invitation.contact_id == merged_id).scalars()
        )
        responses: list[int] = list(Response.select(Response.id).where(Response.contact_id == merged_id).scalars())
        Invitation.update(contact_id=survivor_id).where(Invitation.contact_id == merged_id).execute()
        Response.update(contact_id=survivor_id).where(Response.contact_id == merged_id).execute()
    moved = {}
    if invitations:
        moved["surveys_invitation"] = invitations
    if responses:
        moved["surveys_response"] = responses
    return moved


def unmerged(crm: CRM, survivor_id: int, merged_id: int, moved: dict[str, list[int]]) -> None:
    """Move back what :func:`merged` moved (``crm_contacts_unmerged``)."""
    with crm.activate():
        for table, model in (("surveys_invitation", Invitation), ("surveys_response", Response)):
            for ids in batched(moved.get(table, []), _PAGE):
                model.update(contact_id=merged_id).where(
                    model.id.in_(ids) & (model.contact_id == survivor_id)
                ).execute()
