"""The campaigns plugin's resources in the HTTP API (``crm_api_resources``): campaigns, their sends, recurring newsletters.

Every handler calls ``crm.plugin("campaigns")`` as the token's user, whose
permissions decide (sending is a manager's action, see the plugin's page).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from crm_campaigns.content import FieldError
from crm_hookspecs.records import ApiOperation, ApiPage, ApiParam, ApiRequest, ApiResource

__all__ = ["resources"]

_MAX_ID = 2**63 - 1


@attrs.frozen
class Campaign:
    """A new campaign: its name, and its subject, text and HTML parts as Jinja2 templates with the contact's fields."""

    name: str = attrs.field(metadata={"schema": {"minLength": 1, "maxLength": 200, "pattern": r"\S"}})
    subject: str = attrs.field(metadata={"schema": {"minLength": 1, "maxLength": 500, "pattern": r"\S"}})
    text: str = attrs.field(metadata={"schema": {"minLength": 1, "pattern": r"\S"}})
    html: str | None = None


@attrs.frozen
class CampaignChange:
    """What to change on a campaign: any of its name, subject, text and HTML (``null`` removes the HTML part)."""

    name: str | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None


@attrs.frozen
class ContactChoice:
    """The contact to render the campaign for (by id); none: a made-up sample contact."""

    contact_id: int | None = attrs.field(default=None, metadata={"schema": {"minimum": 1, "maximum": _MAX_ID}})


@attrs.frozen
class CampaignSend:
    """A send: the mailing list or segment, and when (RFC 3339; none: now)."""

    source: str = attrs.field(metadata={"schema": {"minLength": 1, "maxLength": 200}})
    at: str | None = attrs.field(default=None, metadata={"schema": {"format": "date-time"}})


@attrs.frozen
class CampaignRecurrence:
    """A recurring newsletter: the list or segment, an RFC 5545 rule in the app's time zone, and its first possible time."""

    source: str = attrs.field(metadata={"schema": {"minLength": 1, "maxLength": 200}})
    rule: str = attrs.field(metadata={"schema": {"minLength": 1, "maxLength": 500}})
    start: str | None = attrs.field(default=None, metadata={"schema": {"format": "date-time"}})


def _api(crm: Any) -> Any:
    return crm.plugin("campaigns")


def _body(request: ApiRequest) -> dict[str, Any]:
    if not isinstance(request.body, dict):
        raise FieldError("the body must be a JSON object")
    return dict(request.body)


def _text(body: dict[str, Any], name: str, *, required: bool = False, nullable: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise FieldError(f"{name} is required", field=name)
        return None
    if not isinstance(value, str):
        raise FieldError(f"{name} must be a text" + (" or null" if nullable else ""), field=name)
    return value


def _time(body: dict[str, Any], name: str) -> dt.datetime | None:
    text = _text(body, name)
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FieldError(f"{name} {text!r} is not a time; write it as 2026-12-01T09:00:00Z", field=name) from None
    if value.tzinfo is None:
        raise FieldError(f"{name} {text!r} has no time zone; end it with Z or an offset such as +01:00", field=name)
    return value


def _contact(body: Any) -> int | None:
    value = (body or {}).get("contact_id") if isinstance(body, dict) or body is None else None
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise FieldError("contact_id must be a contact's id (a whole number from 1)", field="contact_id")
    return value


def _sends(crm: Any, request: ApiRequest, ref: int | None = None) -> ApiPage:
    offset = int(request.cursor or 0)
    status = request.query.get("status")
    items = _api(crm).sends(ref, status=status, limit=request.limit + 1, offset=offset)
    more = len(items) > request.limit
    items = items[: request.limit]
    total = _api(crm).count_sends(ref, status=status) if request.count else None
    return ApiPage(items=items, next=offset + len(items) if more else None, total=total)


def _page(items: list[Any], request: ApiRequest) -> ApiPage:
    offset = int(request.cursor or 0)
    chunk = items[offset : offset + request.limit]
    more = offset + len(chunk) < len(items)
    return ApiPage(items=chunk, next=offset + len(chunk) if more else None, total=len(items) if request.count else None)


def _create(crm: Any, request: ApiRequest) -> Any:
    body = _body(request)
    return _api(crm).create(
        _text(body, "name", required=True),
        _text(body, "subject", required=True),
        _text(body, "text", required=True),
        _text(body, "html", nullable=True),
    )


def _change(crm: Any, request: ApiRequest) -> Any:
    body = _body(request)
    unknown = sorted(set(body) - {"name", "subject", "text", "html"})
    if unknown:
        raise FieldError(f"unknown field {unknown[0]!r}; a campaign has name, subject, text and html", field=unknown[0])
    changes = {name: _text(body, name, nullable=name == "html") for name in body}
    return _api(crm).update(request.path["id"], **changes)


def _send(crm: Any, request: ApiRequest) -> Any:
    body = _body(request)
    return _api(crm).send(request.path["id"], _text(body, "source", required=True), at=_time(body, "at"))


def _recur(crm: Any, request: ApiRequest) -> Any:
    body = _body(request)
    return _api(crm).recur(
        request.path["id"],
        _text(body, "source", required=True),
        _text(body, "rule", required=True),
        _time(body, "start"),
    )


def resources(crm: Any) -> list[ApiResource]:
    from crm_campaigns.records import CampaignInfo, Preview, RecurringInfo, SendInfo, TestMail

    one = "campaigns.get"
    status_filter = ApiParam("status", "Only sends in this state.", enum=("scheduled", "sending", "sent", "cancelled"))
    return [
        ApiResource(
            "campaigns",
            "E-mail campaigns: their templates, a preview for a contact, a test to oneself, sends to a list or "
            "segment (now or at a time) with their counts, and recurring newsletters.",
            [
                ApiOperation(
                    "GET",
                    "/campaigns",
                    lambda c, r: _page(_api(c).list(), r),
                    "campaigns.list",
                    summary="Campaigns, the most recently changed first",
                    returns=CampaignInfo,
                    paginated=True,
                    permission="campaigns.read",
                ),
                ApiOperation(
                    "POST",
                    "/campaigns",
                    _create,
                    "campaigns.create",
                    summary="Write a campaign (its templates are checked by rendering them for a sample contact)",
                    returns=CampaignInfo,
                    body=Campaign,
                    status=201,
                    location=one,
                    permission="campaigns.create",
                ),
                ApiOperation(
                    "GET",
                    "/campaigns/{id:int}",
                    lambda c, r: _api(c).get(r.path["id"]),
                    one,
                    summary="A campaign with its templates",
                    returns=CampaignInfo,
                    permission="campaigns.read",
                ),
                ApiOperation(
                    "PATCH",
                    "/campaigns/{id:int}",
                    _change,
                    "campaigns.update",
                    summary="Change a campaign's name, subject, text or HTML",
                    returns=CampaignInfo,
                    body=CampaignChange,
                    etag_from=one,
                    permission="campaigns.edit",
                ),
                ApiOperation(
                    "POST",
                    "/campaigns/{id:int}/preview",
                    lambda c, r: _api(c).preview(r.path["id"], _contact(r.body)),
                    "campaigns.preview",
                    summary="The campaign rendered for a contact (or a made-up sample contact); nothing is sent",
                    returns=Preview,
                    body=ContactChoice,
                    permission="campaigns.read",
                ),
                ApiOperation(
                    "POST",
                    "/campaigns/{id:int}/test",
                    lambda c, r: _api(c).test(r.path["id"], _contact(r.body)),
                    "campaigns.test",
                    summary="Queue a test of the campaign to the token user's own e-mail address",
                    returns=TestMail,
                    body=ContactChoice,
                    status=202,
                    permission="campaigns.edit",
                ),
                ApiOperation(
                    "GET",
                    "/campaigns/{id:int}/sends",
                    lambda c, r: _sends(c, r, r.path["id"]),
                    "campaigns.sends.list",
                    summary="A campaign's sends, the latest first, with their counts",
                    returns=SendInfo,
                    paginated=True,
                    filters=[status_filter],
                    permission="campaigns.read",
                ),
                ApiOperation(
                    "POST",
                    "/campaigns/{id:int}/sends",
                    _send,
                    "campaigns.sends.create",
                    summary="Send the campaign to a list or segment now, or schedule it (at)",
                    description="Needs campaigns.send, contacts.lists.send and a contacts.read scope of all.",
                    returns=SendInfo,
                    body=CampaignSend,
                    status=201,
                    location="campaigns.sends.get",
                    permission="campaigns.send",
                ),
                ApiOperation(
                    "GET",
                    "/campaign-sends",
                    _sends,
                    "campaigns.sends.all",
                    summary="Every campaign's sends, the latest first, with their counts",
                    returns=SendInfo,
                    paginated=True,
                    filters=[
                        ApiParam(
                            "status", "Only sends in this state.", enum=("scheduled", "sending", "sent", "cancelled")
                        )
                    ],
                    permission="campaigns.read",
                ),
                ApiOperation(
                    "GET",
                    "/campaign-sends/{id:int}",
                    lambda c, r: _api(c).send_info(r.path["id"]),
                    "campaigns.sends.get",
                    summary="A send and its counts (queued, sent, bounced, waiting, unsubscribed)",
                    returns=SendInfo,
                    permission="campaigns.read",
                ),
                ApiOperation(
                    "POST",
                    "/campaign-sends/{id:int}/cancel",
                    lambda c, r: _api(c).cancel(r.path["id"]),
                    "campaigns.sends.cancel",
                    summary="Cancel a scheduled send before it goes out",
                    returns=SendInfo,
                    permission="campaigns.send",
                ),
                ApiOperation(
                    "GET",
                    "/campaigns/{id:int}/recurring",
                    lambda c, r: _page(_api(c).recurring(r.path["id"]), r),
                    "campaigns.recurring.list",
                    summary="A campaign's recurring newsletters and their next occurrence",
                    returns=RecurringInfo,
                    paginated=True,
                    permission="campaigns.read",
                ),
                ApiOperation(
                    "POST",
                    "/campaigns/{id:int}/recurring",
                    _recur,
                    "campaigns.recurring.create",
                    summary="Send the campaign to a list on an RFC 5545 rule (a monthly newsletter)",
                    returns=RecurringInfo,
                    body=CampaignRecurrence,
                    status=201,
                    permission="campaigns.send",
                ),
                ApiOperation(
                    "POST",
                    "/campaign-recurrences/{id:int}/stop",
                    lambda c, r: _api(c).stop_recurring(r.path["id"]),
                    "campaigns.recurring.stop",
                    summary="Stop a recurring newsletter (its sends so far stay)",
                    returns=RecurringInfo,
                    permission="campaigns.send",
                ),
            ],
        )
    ]
