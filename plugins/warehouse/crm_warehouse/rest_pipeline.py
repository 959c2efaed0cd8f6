"""More of the warehouse over HTTP: the open pipeline per stage and currency, and the audit of a contact.

What ``crm sales pipeline`` and ``crm warehouse audit`` do. Every handler calls ``crm.plugin("warehouse")``,
which checks the permissions and keeps to the records the caller may read.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs

from crm_core.errors import ValidationError
from crm_hookspecs.records import ApiOperation, ApiPage, ApiParam, ApiRequest, ApiResource

__all__ = ["resources"]


@attrs.frozen
class PipelineStage:
    """One open stage in one currency: how many records, their amount, and the amount weighted by the stage's
    probability (every open stage has a row; one with no records has an empty currency)."""

    stage: str
    probability: float
    records: int
    currency: str
    amount: Decimal
    weighted: Decimal


@attrs.frozen
class AuditLine:
    """One change to a contact: who changed which field, from what, to what, when and how."""

    occurred_at: dt.datetime
    contact_id: int
    actor: str | None
    #: ``staff``, ``import``, ``self-service``, ``api`` or ``system``
    channel: str
    action: str
    field: str | None
    old: Any = attrs.field(metadata={"schema": {"description": "The value before: any JSON value, or null."}})
    new: Any = attrs.field(metadata={"schema": {"description": "The value after: any JSON value, or null."}})


def _warehouse(crm: Any) -> Any:
    return crm.plugin("warehouse")


def _pipeline(crm: Any, request: ApiRequest) -> ApiPage:
    rows = _warehouse(crm).sales.forecast(owner=request.query.get("owner"), region=request.query.get("region"))
    items = [PipelineStage(**{k: row[k] for k in attrs.fields_dict(PipelineStage)}) for row in rows]
    return ApiPage(items=items, next=None, total=len(items))


def _day(name: str, text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"?{name}={text!r} is not a date; write it as 2026-11-01") from None


def _audit(crm: Any, request: ApiRequest) -> ApiPage:
    query = request.query
    filters: dict[str, Any] = {"contact_id": request.path["id"], "limit": request.limit}
    for name in ("field", "actor", "channel"):
        if name in query:
            filters[name] = query[name]
    for name in ("since", "until"):
        if name in query:
            filters[name] = _day(name, query[name])
    entries = _warehouse(crm).audit(**filters)
    return ApiPage(items=[AuditLine(**attrs.asdict(e, recurse=False)) for e in entries], next=None)


def resources(crm: Any) -> list[ApiResource]:
    return [
        ApiResource(
            "pipeline",
            "The open pipeline per stage, and the audit trail of a contact's fields.",
            [
                ApiOperation(
                    "GET",
                    "/pipeline",
                    _pipeline,
                    "warehouse.pipeline",
                    summary="Open records per stage and currency: count, amount and weighted amount",
                    returns=PipelineStage,
                    paginated=True,
                    filters=[
                        ApiParam("owner", "Only this owner's records (a user name)."),
                        ApiParam("region", "Only this region's records."),
                    ],
                    permission="warehouse.sales.read",
                ),
                ApiOperation(
                    "GET",
                    "/contacts/{id:int}/audit",
                    _audit,
                    "warehouse.audit",
                    summary="Who changed which of the contact's fields, from what, to what, when, newest first",
                    returns=AuditLine,
                    paginated=True,
                    filters=[
                        ApiParam("field", "Only changes of this field."),
                        ApiParam("actor", "Only changes by this user."),
                        ApiParam("channel", "Only changes through this channel (staff, import, api…)."),
                        ApiParam("since", "Changes on or after this day.", format="date"),
                        ApiParam("until", "Changes before this day.", format="date"),
                    ],
                    permission="warehouse.history.read",
                ),
            ],
        )
    ]
