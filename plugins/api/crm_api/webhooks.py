"""Webhooks: subscriptions, deliveries queued from the event log, signed sends with retries.

* **Queued from the event log.** The plugin's event handler (``crm_handle_events``,
  with the kernel's own cursor for it, so nothing emitted is skipped and a
  restart resumes) writes one delivery per matching subscription and event,
  in the handler's transaction; a redelivered event adds nothing (one
  delivery per subscription and event id).
* **Signed** as the Standard Webhooks specification says: headers
  ``webhook-id`` (the event id: a receiver dedupes on it, retries keep it),
  ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``
  (``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with the subscription's
  ``whsec_`` secret).
* **Sent by the worker** (job ``api.webhooks``), many at once; a 2xx answer
  delivers, anything else (a 3xx too: redirects are not followed), a timeout or
  a refused connection is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
  10 h (27 hours in all), then the delivery has *failed*. A subscription
  whose deliveries have all failed for :data:`DISABLE_AFTER` is disabled,
  with a notice to its owner. Every attempt is logged; a delivery can be
  sent again (``crm webhooks replay``).
* **No private targets**: an address that resolves into a private, loopback,
  link-local or reserved range is refused, when the subscription is made and
  again before each send (a name can change what it resolves to), unless
  ``[plugins.api] webhook_private_targets`` allows it.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.clock import naive_utc
from crm_core.errors import NotFoundError, ValidationError
from crm_core.storage import batched, bulk_insert

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_hookspecs.events import Event

__all__ = [
    "DeliveryInfo",
    "NewSubscription",
    "RETRY_DELAYS",
    "SubscriptionInfo",
    "Webhooks",
    "check_target",
    "sign",
]

log = logging.getLogger("crm.api.webhooks")

#: waits before each retry: the Standard Webhooks schedule, 27 hours in all
RETRY_DELAYS = tuple(dt.timedelta(seconds=s) for s in (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600))
#: a subscription whose deliveries all failed for this long is disabled
DISABLE_AFTER = dt.timedelta(days=5)
#: seconds to wait for a receiver's answer
TIMEOUT = 10
#: deliveries sent in one run of the job, and at once
BATCH = 500
PARALLEL = 16
MAX_RESPONSE = 2000
SECRET_PREFIX = "whsec_"


@attrs.frozen
class SubscriptionInfo:
    """A webhook subscription: where events go, which ones, and how it is doing."""

    id: int
    url: str
    event_types: list[str]
    description: str
    active: bool
    owner: str | None
    created_at: dt.datetime
    disabled_reason: str | None = None
    last_success_at: dt.datetime | None = None


@attrs.frozen
class NewSubscription:
    """A subscription just made, with its signing secret (shown once)."""

    subscription: SubscriptionInfo
    secret: str


@attrs.frozen
class DeliveryInfo:
    """One event on its way to one subscription."""

    id: int
    subscription_id: int
    event_id: str
    type: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header value for a message (Standard Webhooks, ``v1``)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allowed: Sequence[str]) -> bool:
    return any(address in ipaddress.ip_network(net, strict=False) for net in allowed)


def check_target(url: str, allowed: Sequence[str] = ()) -> None:
    """Refuse a URL that is not http(s), or whose host resolves to a private, loopback or reserved address."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"webhook URL {url!r} must be an http:// or https:// address with a host")
    if parts.username or parts.password:
        raise ValidationError(
            f"webhook URL {url!r} must not carry a user name or password; sign with the secret instead"
        )
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError) as exc:
        raise ValidationError(f"webhook URL {url!r}: the host {parts.hostname!r} cannot be resolved ({exc})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        private = (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
        )
        if private and not _allowed(address, allowed):
            raise ValidationError(
                f"webhook URL {url!r} resolves to {address}, a private or local address; webhooks go to public "
                "addresses only, unless [plugins.api] webhook_private_targets lists that network"
            )


def _types(event_types: Iterable[str]) -> list[str]:
    from crm_api.events_feed import dotted
    from crm_hookspecs.events import registered_types

    known = {dotted(name) for name in registered_types()}
    chosen = []
    for name in event_types:
        name = name.strip()
        if name == "*":
            return []
        if name not in known:
            raise ValidationError(
                f"unknown event type {name!r}; use a dotted type such as contact.created "
                f"(known: {', '.join(sorted(known)[:8])}…), or '*' for every type"
            )
        chosen.append(name)
    return sorted(set(chosen))


def _sub_info(row: Any) -> SubscriptionInfo:
    return SubscriptionInfo(
        id=row.id,
        url=row.url,
        event_types=json.loads(row.event_types),
        description=row.description,
        active=row.active,
        owner=row.owner,
        created_at=row.created_at,
        disabled_reason=row.disabled_reason,
        last_success_at=row.last_success_at,
    )


def _delivery_info(row: Any) -> DeliveryInfo:
    return DeliveryInfo(
        id=row.id,
        subscription_id=row.subscription_id,
        event_id=row.event_id,
        type=row.type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status=row.last_status,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
    )


class Webhooks:
    """``crm.plugin("api").webhooks``: subscriptions, deliveries and sending."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    @property
    def _allowed(self) -> list[str]:
        return list(self.crm.settings("api").webhook_private_targets)

    # -- subscriptions ------------------------------------------------------------------------------

    def subscribe(self, url: str, event_types: Sequence[str] = ("*",), *, description: str = "") -> NewSubscription:
        """Make a subscription; its signing secret is returned once (only a receiver needs it)."""
        from crm_api.models import WebhookSubscription

        self.crm.authz.require("api.webhooks.manage")
        if len(url) > 2000:
            raise ValidationError("a webhook URL is at most 2000 characters")
        types = _types(event_types or ["*"])
        check_target(url, self._allowed)
        secret = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
        user = self.crm.current_user
        with self.crm.transaction():
            row = WebhookSubscription.create(
                url=url,
                event_types=json.dumps(types),
                description=description[:200],
                secret=secret,
                active=True,
                owner=user.name if user else None,
                created_at=self.crm.clock.now(),
            )
        return NewSubscription(_sub_info(row), secret)

    def subscriptions(self) -> list[SubscriptionInfo]:
        from crm_api.models import WebhookSubscription

        self.crm.authz.require("api.webhooks.manage")
        with self.crm.activate():
            return [_sub_info(r) for r in WebhookSubscription.select().order_by(WebhookSubscription.id)]

    def subscription(self, subscription_id: int) -> SubscriptionInfo:
        self.crm.authz.require("api.webhooks.manage")
        return _sub_info(self._row(subscription_id))

    def _row(self, subscription_id: int) -> Any:
        from crm_api.models import WebhookSubscription

        with self.crm.activate():
            row = WebhookSubscription.get_or_none(WebhookSubscription.id == subscription_id)
        if row is None:
            raise NotFoundError(f"no webhook subscription {subscription_id}; 'crm webhooks list' shows them")
        return row

    def change(
        self,
        subscription_id: int,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
        active: bool | None = None,
    ) -> SubscriptionInfo:
        """Change a subscription; ``active=True`` enables one that was disabled (its failed deliveries stay failed)."""
        from crm_api.models import WebhookSubscription

        self.crm.authz.require("api.webhooks.manage")
        self._row(subscription_id)
        changes: dict[str, Any] = {}
        if url is not None:
            check_target(url, self._allowed)
            changes["url"] = url
        if event_types is not None:
            changes["event_types"] = json.dumps(_types(event_types))
        if description is not None:
            changes["description"] = description[:200]
        if active is not None:
            changes["active"] = active
            changes["disabled_reason"] = None if active else "disabled by hand"
            if active:
                changes["failing_since"] = None
        if changes:
            with self.crm.transaction():
                WebhookSubscription.update(**changes).where(WebhookSubscription.id == subscription_id).execute()
        return self.subscription(subscription_id)

    def unsubscribe(self, subscription_id: int) -> None:
        """Remove a subscription and its deliveries."""
        from crm_api.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

        self.crm.authz.require("api.webhooks.manage")
        self._row(subscription_id)
        with self.crm.transaction():
            deliveries = WebhookDelivery.select(WebhookDelivery.id).where(
                WebhookDelivery.subscription == subscription_id
            )
            WebhookAttempt.delete().where(WebhookAttempt.delivery.in_(deliveries)).execute()
            WebhookDelivery.delete().where(WebhookDelivery.subscription == subscription_id).execute()
            WebhookSubscription.delete().where(WebhookSubscription.id == subscription_id).execute()

    # -- deliveries ---------------------------------------------------------------------------------

    def deliveries(
        self, subscription_id: int | None = None, *, status: str | None = None, after: int = 0, limit: int = 50
    ) -> list[DeliveryInfo]:
        from crm_api.models import WebhookDelivery

        self.crm.authz.require("api.webhooks.manage")
        if status is not None and status not in ("pending", "delivered", "failed"):
            raise ValidationError(f"status {status!r} is not one of pending, delivered, failed")
        query = WebhookDelivery.select().where(WebhookDelivery.id > after).order_by(WebhookDelivery.id).limit(limit)
        if subscription_id is not None:
            query = query.where(WebhookDelivery.subscription == subscription_id)
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        with self.crm.activate():
            return [_delivery_info(r) for r in query]

    def attempts(self, delivery_id: int) -> list[dict[str, Any]]:
        from crm_api.models import WebhookAttempt

        self.crm.authz.require("api.webhooks.manage")
        with self.crm.activate():
            rows = WebhookAttempt.select().where(WebhookAttempt.delivery == delivery_id).order_by(WebhookAttempt.id)
            return [
                {
                    "at": r.at,
                    "status": r.status,
                    "error": r.error,
                    "milliseconds": r.milliseconds,
                    "response": r.response,
                }
                for r in rows
            ]

    def replay(
        self, delivery_ids: Sequence[int] = (), *, subscription_id: int | None = None, since: dt.datetime | None = None
    ) -> int:
        """Send deliveries again (given, or a subscription's since a time); return how many were queued."""
        from crm_api.models import WebhookDelivery

        self.crm.authz.require("api.webhooks.manage")
        if not delivery_ids and subscription_id is None:
            raise ValidationError("name the deliveries to send again, or a subscription (with --since)")
        query = WebhookDelivery.select(WebhookDelivery.id)
        if delivery_ids:
            query = query.where(WebhookDelivery.id.in_(list(delivery_ids)))
        if subscription_id is not None:
            self._row(subscription_id)
            query = query.where(WebhookDelivery.subscription == subscription_id)
        if since is not None:
            query = query.where(WebhookDelivery.created_at >= since)
        with self.crm.transaction():
            # counted by a select: MySQL's UPDATE counts only the rows whose values change
            ids = [row.id for row in query]
            for page in batched(ids, 500):
                WebhookDelivery.update(status="pending", next_attempt_at=self.crm.clock.now(), attempts=0).where(
                    WebhookDelivery.id.in_(page)
                ).execute()
        return len(ids)

    # -- queueing (the event handler) ---------------------------------------------------------------

    def queue(self, events: Sequence[Event]) -> int:
        """One delivery per active subscription that wants each event; redelivered events add none."""
        from crm_api.events_feed import dotted
        from crm_api.models import WebhookDelivery, WebhookSubscription
        from crm_hookspecs.events import to_payload

        with self.crm.activate():
            subscriptions = [
                (row.id, set(json.loads(row.event_types)))
                for row in WebhookSubscription.select(WebhookSubscription.id, WebhookSubscription.event_types).where(
                    WebhookSubscription.active == True  # noqa: E712 (peewee builds SQL from ==)
                )
            ]
        if not subscriptions:
            return 0
        now = self.crm.clock.now()
        rows = []
        for event in events:
            type_name, payload = to_payload(event)
            kind = dotted(type_name)
            wanted = [sid for sid, types in subscriptions if not types or kind in types]
            if not wanted:
                continue
            data = {k: v for k, v in payload.items() if k not in ("event_id", "occurred_at")}
            occurred = event.occurred_at or now
            body = json.dumps(
                {
                    "type": kind,
                    "timestamp": occurred.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
                    "data": data,
                },
                ensure_ascii=False,
                separators=(",", ":"),
                default=str,
            )
            for sid in wanted:
                rows.append(
                    {
                        "subscription": sid,
                        "event_id": event.event_id,
                        "type": kind,
                        "body": body,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": naive_utc(now),
                        "created_at": naive_utc(now),
                    }
                )
        if rows:
            with self.crm.transaction():
                for page in range(0, len(rows), 500):
                    WebhookDelivery.insert_many(rows[page : page + 500]).on_conflict_ignore().execute()
        return len(rows)

    # -- sending (the worker's job) -----------------------------------------------------------------

    def send_due(self, *, limit: int = BATCH) -> dict[str, int]:
        """Queue the events this plugin's handler has not seen yet, then send the deliveries that are due;
        return counts by outcome.

        Queueing first matters where requests leave event delivery to the
        worker (a served API's default): their events reach the webhooks at
        this job's pace, not at the kernel's ``crm.events`` job's.
        """
        from crm_api.models import WebhookDelivery, WebhookSubscription

        self.crm.authz.require("api.webhooks.manage")
        self.crm.events.deliver("api")
        now = self.crm.clock.now()
        with self.crm.activate():
            due = list(
                WebhookDelivery.select(WebhookDelivery, WebhookSubscription)
                .join(WebhookSubscription)
                .where(
                    (WebhookDelivery.status == "pending")
                    & (WebhookDelivery.next_attempt_at <= now)
                    & (WebhookSubscription.active == True)  # noqa: E712
                )
                .order_by(WebhookDelivery.id)
                .limit(limit)
            )
        counts = {"delivered": 0, "retrying": 0, "failed": 0}
        if not due:
            self._disable_failing(now)
            return counts
        sender = _Sender(self._allowed)
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=min(PARALLEL, len(due))) as pool:
                results = list(pool.map(sender.send, due))
        finally:
            sender.close()
        with self.crm.transaction():
            for outcome in self._record(due, results, now):
                counts[outcome] += 1
        self._disable_failing(now)
        return counts

    def _record(self, rows: Sequence[Any], results: Sequence[_Result], now: dt.datetime) -> list[str]:
        """Log every attempt and move each delivery on: a few statements per batch, not per delivery."""
        from crm_api.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

        bulk_insert(
            WebhookAttempt,
            ("delivery", "at", "status", "error", "milliseconds", "response"),
            ((row.id, now, r.status, r.error, r.milliseconds, r.response) for row, r in zip(rows, results)),
        )
        delivered: dict[int | None, list[int]] = {}  # by HTTP status: one UPDATE each
        succeeded: set[int] = set()
        outcomes = []
        for row, result in zip(rows, results):
            if result.ok:
                delivered.setdefault(result.status, []).append(row.id)
                succeeded.add(row.subscription_id)
                outcomes.append("delivered")
                continue
            attempts = row.attempts + 1
            retry = attempts <= len(RETRY_DELAYS)
            WebhookDelivery.update(
                status="pending" if retry else "failed",
                attempts=attempts,
                last_status=result.status,
                last_error=result.error,
                next_attempt_at=(now + RETRY_DELAYS[attempts - 1]) if retry else None,
            ).where(WebhookDelivery.id == row.id).execute()
            WebhookSubscription.update(failing_since=now).where(
                (WebhookSubscription.id == row.subscription_id) & WebhookSubscription.failing_since.is_null()
            ).execute()
            outcomes.append("retrying" if retry else "failed")
        for status, ids in delivered.items():
            for part in batched(ids, 900):
                WebhookDelivery.update(
                    status="delivered",
                    attempts=WebhookDelivery.attempts + 1,
                    delivered_at=now,
                    last_status=status,
                    last_error=None,
                    next_attempt_at=None,
                ).where(WebhookDelivery.id.in_(part)).execute()
        if succeeded:
            WebhookSubscription.update(last_success_at=now, failing_since=None).where(
                WebhookSubscription.id.in_(sorted(succeeded))
            ).execute()
        return outcomes

    def _disable_failing(self, now: dt.datetime) -> None:
        from crm_api.models import WebhookSubscription

        with self.crm.activate():
            failing = list(
                WebhookSubscription.select().where(
                    (WebhookSubscription.active == True)  # noqa: E712
                    & (WebhookSubscription.failing_since <= now - DISABLE_AFTER)
                )
            )
        for row in failing:
            reason = (
                f"disabled on {now:%Y-%m-%d %H:%M} UTC: no delivery succeeded since "
                f"{row.failing_since:%Y-%m-%d %H:%M} UTC"
            )
            with self.crm.transaction():
                WebhookSubscription.update(active=False, disabled_reason=reason).where(
                    WebhookSubscription.id == row.id
                ).execute()
                log.warning("webhook subscription %s (%s) %s", row.id, row.url, reason)
                self._notify(row, reason)

    def _notify(self, row: Any, reason: str) -> None:
        if not row.owner:
            return
        try:
            owner = self.crm.authz.users.get(row.owner)
        except NotFoundError:
            return
        if owner.email:
            self.crm.mail.queue(
                owner.email,
                f"Webhook {row.id} was disabled",
                f"The webhook subscription {row.id} to {row.url} was {reason}.\n\n"
                f"Its deliveries wait as 'failed'. Fix the receiver, then run:\n"
                f"  crm webhooks enable {row.id}\n  crm webhooks replay --subscription {row.id} --since <date>\n",
                key=f"api.webhook-disabled:{row.id}:{row.failing_since:%Y%m%d%H%M}",
            )


@attrs.frozen
class _Result:
    ok: bool
    status: int | None
    error: str | None
    milliseconds: int
    response: str | None


class _Sender:
    """Posts deliveries from a pool of threads, each keeping one connection per receiver alive.

    A receiver is checked against the SSRF rules once per batch (its
    address is resolved then); a connection is reused for its next
    delivery, and a reused connection the receiver closed while idle is
    replaced once before the attempt counts as failed.
    """

    def __init__(self, allowed: Sequence[str]) -> None:
        self._allowed = allowed
        self._checked: dict[str, str | None] = {}
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _refusal(self, url: str) -> str | None:
        with self._lock:
            if url in self._checked:
                return self._checked[url]
        try:
            check_target(url, self._allowed)
            refusal = None
        except ValidationError as exc:
            refusal = exc.message
        with self._lock:
            self._checked[url] = refusal
        return refusal

    def _connection(self, parts: urllib.parse.SplitResult, fresh: bool) -> http.client.HTTPConnection:
        pool: dict[tuple[str, str, int | None], http.client.HTTPConnection] = self._local.__dict__.setdefault(
            "connections", {}
        )
        key = (parts.scheme, parts.hostname or "", parts.port)
        connection = pool.get(key)
        if connection is not None and not fresh:
            return connection
        if connection is not None:
            connection.close()
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = pool[key] = connection_class(parts.hostname or "", parts.port, timeout=TIMEOUT)
        with self._lock:
            self._opened.append(connection)
        return connection

    def send(self, row: Any) -> _Result:
        subscription = row.subscription
        started = time.monotonic()

        def result(ok: bool, status: int | None, error: str | None, response: str | None = None) -> _Result:
            return _Result(ok, status, error, int((time.monotonic() - started) * 1000), response)

        refusal = self._refusal(subscription.url)
        if refusal is not None:
            return result(False, None, refusal)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "crm-webhooks/1",
            "webhook-id": row.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(subscription.secret, row.event_id, timestamp, row.body),
        }
        parts = urllib.parse.urlsplit(subscription.url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        body = row.body.encode()
        for fresh in (False, True):
            connection = self._connection(parts, fresh)
            reused = connection.sock is not None
            try:
                connection.request("POST", path, body=body, headers=headers)
                answer = connection.getresponse()
                text = answer.read(MAX_RESPONSE).decode("utf-8", "replace")
                if answer.will_close or not answer.isclosed():
                    connection.close()  # an answer read in part, or a receiver that closes: the next one reconnects
                break
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                if reused and not fresh and isinstance(exc, _STALE):
                    continue  # the receiver closed the idle connection: one more try on a new one
                return result(False, None, f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= answer.status < 300:
            return result(True, answer.status, None, text)
        what = "a redirect, which webhooks do not follow" if 300 <= answer.status < 400 else "not a 2xx answer"
        return result(False, answer.status, f"HTTP {answer.status}: {what}", text)

    def close(self) -> None:
        with self._lock:
            for connection in self._opened:
                connection.close()
            self._opened.clear()


#: what a reused keep-alive connection raises when the receiver closed it while it was idle
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
