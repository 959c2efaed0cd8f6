"""``/api/v1/webhooks``: webhook subscriptions and their deliveries, managed over HTTP."""

from __future__ import annotations

from typing import Any

import attrs

from crm_api.webhooks import DeliveryInfo, SubscriptionInfo
from crm_core.errors import NotFoundError, ValidationError
from crm_hookspecs.records import ApiOperation, ApiPage, ApiParam, ApiRequest, ApiResource

__all__ = ["resources"]


@attrs.frozen
class SubscriptionInput:
    """A subscription to make or change: the URL, the dotted event types (``["*"]``: all), a description."""

    url: str = attrs.field(metadata={"schema": {"format": "uri", "pattern": "^https?://", "maxLength": 2000}})
    event_types: list[str] = attrs.field(factory=lambda: ["*"])
    description: str = ""
    active: bool = True


@attrs.frozen
class CreatedSubscription:
    """A subscription just made, with its signing secret: shown this once."""

    subscription: SubscriptionInfo
    secret: str


@attrs.frozen
class Replayed:
    """How many deliveries will be sent again."""

    queued: int


def _hooks(crm: Any) -> Any:
    return crm.plugin("api").webhooks


def _body(request: ApiRequest, *, partial: bool) -> dict[str, Any]:
    body = dict(request.body or {})
    if not partial and not isinstance(body.get("url"), str):
        raise ValidationError("url is required: the address that receives the events")
    if "event_types" in body and (
        not isinstance(body["event_types"], list) or not all(isinstance(t, str) for t in body["event_types"])
    ):
        raise ValidationError('event_types must be a list of dotted types (["contact.created"]), or ["*"]')
    if "active" in body and not isinstance(body["active"], bool):
        raise ValidationError("active must be true or false")
    return body


def _list(crm: Any, request: ApiRequest) -> ApiPage:
    items = _hooks(crm).subscriptions()
    return ApiPage(items=items, next=None, total=len(items))


def _create(crm: Any, request: ApiRequest) -> CreatedSubscription:
    body = _body(request, partial=False)
    made = _hooks(crm).subscribe(body["url"], body.get("event_types") or ["*"], description=body.get("description", ""))
    return CreatedSubscription(made.subscription, made.secret)


def _change(crm: Any, request: ApiRequest) -> SubscriptionInfo:
    body = _body(request, partial=True)
    return _hooks(crm).change(
        request.path["id"],
        url=body.get("url"),
        event_types=body.get("event_types"),
        description=body.get("description"),
        active=body.get("active"),
    )


def _deliveries(crm: Any, request: ApiRequest) -> ApiPage:
    status = request.query.get("status")
    items = _hooks(crm).deliveries(request.path["id"], status=status, after=request.cursor or 0, limit=request.limit)
    return ApiPage(items=items, next=items[-1].id if len(items) == request.limit else None)


def _replay(crm: Any, request: ApiRequest) -> Replayed:
    count = _hooks(crm).replay([request.path["delivery_id"]], subscription_id=request.path["id"])
    if not count:
        raise NotFoundError(f"webhook {request.path['id']} has no delivery {request.path['delivery_id']}")
    return Replayed(count)


def resources(crm: Any) -> list[ApiResource]:
    manage = "api.webhooks.manage"
    return [
        ApiResource(
            "webhooks",
            "Webhook subscriptions: where the CRM posts its events (signed as Standard Webhooks say), and the deliveries.",
            [
                ApiOperation(
                    "GET",
                    "/webhooks",
                    _list,
                    "api.webhooks.list",
                    summary="List subscriptions",
                    returns=SubscriptionInfo,
                    paginated=True,
                    permission=manage,
                ),
                ApiOperation(
                    "POST",
                    "/webhooks",
                    _create,
                    "api.webhooks.create",
                    summary="Subscribe a URL to events",
                    description="The answer holds the signing secret, shown this once.",
                    returns=CreatedSubscription,
                    body=SubscriptionInput,
                    status=201,
                    permission=manage,
                ),
                ApiOperation(
                    "GET",
                    "/webhooks/{id:int}",
                    lambda crm, r: _hooks(crm).subscription(r.path["id"]),
                    "api.webhooks.get",
                    summary="Read a subscription",
                    returns=SubscriptionInfo,
                    permission=manage,
                ),
                ApiOperation(
                    "PATCH",
                    "/webhooks/{id:int}",
                    _change,
                    "api.webhooks.update",
                    summary="Change a subscription, or enable it again",
                    returns=SubscriptionInfo,
                    body=SubscriptionInput,
                    etag_from="api.webhooks.get",
                    permission=manage,
                ),
                ApiOperation(
                    "DELETE",
                    "/webhooks/{id:int}",
                    lambda crm, r: _hooks(crm).unsubscribe(r.path["id"]),
                    "api.webhooks.delete",
                    summary="Remove a subscription and its deliveries",
                    etag_from="api.webhooks.get",
                    permission=manage,
                ),
                ApiOperation(
                    "GET",
                    "/webhooks/{id:int}/deliveries",
                    _deliveries,
                    "api.webhooks.deliveries",
                    summary="List a subscription's deliveries",
                    returns=DeliveryInfo,
                    paginated=True,
                    filters=[
                        ApiParam("status", "Only deliveries in this state.", enum=("pending", "delivered", "failed"))
                    ],
                    permission=manage,
                ),
                ApiOperation(
                    "POST",
                    "/webhooks/{id:int}/deliveries/{delivery_id:int}/replay",
                    _replay,
                    "api.webhooks.replay",
                    summary="Send a delivery again",
                    returns=Replayed,
                    permission=manage,
                ),
            ],
        )
    ]
