"""``GET /api/v1/events``: the event log read from a cursor, for ETL and BI tools.

Events come oldest first, each with its ``position``; a client that stores
the last position it processed resumes with ``?after=<position>`` (or
follows ``next``). Nothing emitted is skipped: positions grow in the order
events commit (the kernel makes event-writing transactions take turns).
The types are dotted (``ContactCreated`` -> ``contact.created``); ``data``
is the contract's event record as JSON. Reading the feed needs
``api.events.feed``: it shows every change to every record, so no built-in
role but admin and manager grants it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import attrs

from crm_api.openapi import MAX_ID
from crm_core.errors import ValidationError
from crm_hookspecs.records import ApiOperation, ApiPage, ApiParam, ApiRequest, ApiResource

__all__ = ["FeedEvent", "dotted", "resources"]

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+")


def dotted(type_name: str) -> str:
    """``ContactCreated`` -> ``contact.created``; ``SaleStageChanged`` -> ``sale.stage.changed``."""
    return ".".join(word.lower() for word in _WORD.findall(type_name)) or type_name


def undotted(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("."))


@attrs.frozen
class FeedEvent:
    """An event of the log: its position, id, dotted type, time, who made it, how, and its data."""

    position: int
    id: str
    type: str
    occurred_at: dt.datetime | None
    actor: str | None
    channel: str
    data: dict[str, Any]


def _list(crm: Any, request: ApiRequest) -> ApiPage:
    from crm_hookspecs.events import to_payload

    crm.authz.require("api.events.feed")
    after = request.cursor if request.cursor is not None else _after(request.query.get("after"))
    types = None
    if request.query.get("types"):
        types = [undotted(t.strip()) for t in request.query["types"].split(",") if t.strip()]
    since = _since(request.query.get("since"))
    logged = crm.events.read(after, types=types, since=since, limit=request.limit)
    items = []
    for entry in logged:
        event = entry.event
        type_name, payload = to_payload(event)
        data = {k: v for k, v in payload.items() if k not in ("event_id", "occurred_at", "actor", "channel")}
        items.append(
            FeedEvent(
                position=entry.position,
                id=event.event_id,
                type=dotted(type_name),
                occurred_at=event.occurred_at,
                actor=event.actor,
                channel=event.channel,
                data=data,
            )
        )
    more = len(items) == request.limit
    return ApiPage(items=items, next=items[-1].position if more and items else None)


def _after(text: str | None) -> int:
    if text is None:
        return 0
    if not text.isdigit() or int(text) > MAX_ID:
        raise ValidationError(
            f"?after={text!r} must be the position of an event (a whole number), as 'position' gave it"
        )
    return int(text)


def _since(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"?since={text!r} is not a time; write it as 2026-11-01T00:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def resources(crm: Any) -> list[ApiResource]:
    return [
        ApiResource(
            "events",
            "The event log: every change, oldest first, read from a position (for ETL and BI tools).",
            [
                ApiOperation(
                    "GET",
                    "/events",
                    _list,
                    "api.events.list",
                    summary="Read the event log from a position",
                    returns=FeedEvent,
                    paginated=True,
                    filters=[
                        ApiParam(
                            "after",
                            "Start after this position (the last one you processed).",
                            "integer",
                            minimum=0,
                            maximum=MAX_ID,
                        ),
                        ApiParam("types", "Only these types, comma-separated (contact.created,sale.closed)."),
                        ApiParam("since", "Only events that occurred at or after this time.", "string", "date-time"),
                    ],
                    permission="api.events.feed",
                )
            ],
        )
    ]
