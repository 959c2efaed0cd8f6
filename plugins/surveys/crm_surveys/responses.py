"""Who answered what: the responses to a survey, one per contact and invitation, a page at a time.

The listing shows the contacts the acting user may read only (see
:mod:`crm_surveys.scope`): the scope is part of the query, so the page and
the total count hold the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.errors import ValidationError
from crm_surveys.models import Invitation, Response

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_surveys.models import Survey
    from crm_surveys.scope import ContactScope

__all__ = ["MAX_PAGE", "ResponseInfo", "ResponsePage", "Responses"]

MAX_PAGE = 1000


@attrs.frozen
class ResponseInfo:
    """One contact's response: his answers by question key (drafts too, with ``complete`` false)."""

    id: int
    survey_id: int
    version: int
    contact_id: int | None
    medium: str
    channel: str
    complete: bool
    negative: bool
    answered_at: dt.datetime | None
    updated_at: dt.datetime
    answers: dict[str, Any]


@attrs.frozen
class ResponsePage:
    """A page of responses, newest first, and how many there are in all (in the user's scope)."""

    items: tuple[ResponseInfo, ...]
    total: int
    limit: int
    offset: int


class Responses:
    """The responses to a survey, over the contacts the acting user may read."""

    def __init__(self, crm: CRM, scope: ContactScope) -> None:
        self.crm = crm
        self.scope = scope

    def page(
        self,
        survey: Survey,
        *,
        contact_id: int | None = None,
        drafts: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> ResponsePage:
        """The responses to ``survey`` (only complete ones unless ``drafts``), of one contact or all."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationError(f"limit must be from 1 to {MAX_PAGE}, not {limit}")
        if offset < 0:
            raise ValidationError(f"offset cannot be negative, not {offset}")
        query = (
            Response.select(Response, Invitation.medium)
            .join(Invitation, on=(Response.invitation == Invitation.id))
            .where(Response.survey == survey.id)
        )
        if not drafts:
            query = query.where(Response.complete == True)  # noqa: E712 - SQL
        if contact_id is not None:
            query = query.where(Response.contact_id == contact_id)
        query = self.scope.restrict(query, Response.contact_id)
        with self.crm.activate():
            total = query.count()
            rows = list(query.order_by(Response.updated_at.desc(), Response.id.desc()).limit(limit).offset(offset))
        items = tuple(
            ResponseInfo(
                id=r.id,
                survey_id=r.survey_id,
                version=r.version,
                contact_id=r.contact_id,
                medium=r.invitation.medium,
                channel=r.channel,
                complete=bool(r.complete),
                negative=bool(r.negative),
                answered_at=r.answered_at,
                updated_at=r.updated_at,
                answers=json.loads(r.data),
            )
            for r in rows
        )
        return ResponsePage(items, total, limit, offset)
