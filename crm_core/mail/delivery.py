"""Delivering the queue: claim a batch, send it, record what happened.

Each batch is claimed in a short transaction that first locks the
transport's row in ``crm_mail_transport``, so any number of workers claim
disjoint batches and the rate limit counts every worker's sends. Claimed
messages are ``sending`` under a lease; a worker that dies leaves them to
be taken back when the lease expires.

A message the transport accepted is written down before the next one is
sent (one single-row UPDATE, committed at once: see
:mod:`crm_core.mail.recorder`), when the transport can hand its results one
by one (``send_each``: smtp and memory can): a worker killed mid-batch
leaves at most one accepted message unrecorded, and only that one is sent
again (with its ``Message-ID``). The rare other outcomes (retries,
failures, bounces) are written at the end of the batch with one UPDATE per
outcome, together with the ``MailBounced`` events.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crm_core import rows as typed_rows
from crm_core.mail.message import build_message, envelope_address, restore_message
from crm_core.mail.recorder import SentStatement
from crm_core.mail.transports import Envelope, SendResult
from crm_core.storage import for_update

if TYPE_CHECKING:
    from crm_core.context import AppContext
    from crm_core.mail.mailer import Mailer

__all__ = ["DeliveryReport", "deliver"]

_WORKER_ID = f"{socket.gethostname()[:40]}:{os.getpid()}"


@attrs.define
class DeliveryReport:
    """What one :meth:`~crm_core.mail.Mailer.deliver` call did."""

    #: accepted by the transport
    sent: int = 0
    #: failed for now, queued again with back-off
    retried: int = 0
    #: given up: refused for good, or out of attempts
    failed: int = 0
    #: MailBounced events emitted
    bounced: int = 0
    #: taken back from a worker whose lease had expired
    reclaimed: int = 0
    #: the rate limit stopped this delivery before the queue was empty
    rate_limited: bool = False
    #: the last transport-level error (server down, connection lost), if any
    error: str | None = None

    def __str__(self) -> str:
        parts = [f"{self.sent} sent", f"{self.retried} to retry", f"{self.failed} failed", f"{self.bounced} bounced"]
        if self.reclaimed:
            parts.append(f"{self.reclaimed} taken back from a lost worker")
        text = ", ".join(parts)
        if self.rate_limited:
            text += " (rate limit reached: the rest waits)"
        if self.error:
            text += f"; last error: {self.error}"
        return text


def deliver(app: AppContext, mailer: Mailer, limit: int | None = None) -> DeliveryReport:
    """Send due messages, batch after batch, until none is due, ``limit`` is
    reached, the rate limit stops it, or the transport reports a connection
    problem (the rest waits for the next run rather than hammering a server
    that is down)."""
    report = DeliveryReport()
    transport = mailer.transport
    name = getattr(transport, "name", mailer.settings.transport)
    with app.activate():
        while limit is None or report.sent + report.retried + report.failed < limit:
            size = mailer.settings.batch_size
            if limit is not None:
                size = min(size, limit - (report.sent + report.retried + report.failed))
            batch, stop = _claim(app, mailer, name, size, report)
            if not batch:
                if stop:
                    report.rate_limited = True
                break
            lost, error = _send_batch(app, mailer, transport, name, batch, report)
            if error:
                report.error = error
            if lost or stop:
                report.rate_limited = report.rate_limited or stop
                break
    return report


def _send_batch(
    app: AppContext, mailer: Mailer, transport: Any, name: str, batch: Sequence[Any], report: DeliveryReport
) -> tuple[bool, str | None]:
    """Send a claimed batch, recording each accepted message before the next goes.

    Return whether the connection was lost, or nothing got through (the
    server is down: the rest of the queue waits), and the error to report.
    """
    envelopes, broken = _envelopes(app, mailer, batch)
    sendable = [e for e in envelopes if e.id not in broken]
    # not accepted (or from a batch transport): written together at the end
    later: dict[int, SendResult] = {pk: SendResult.failed(reason) for pk, reason in broken.items()}
    tried = retried = 0
    untried: SendResult | None = None
    last_retry: SendResult | None = None

    def keep(pk: int, result: SendResult) -> None:
        nonlocal retried, last_retry, untried
        later[pk] = result
        if result.status == "retry":
            retried, last_retry = retried + 1, result
        elif result.status == "untried" and untried is None:
            untried = result

    each = getattr(transport, "send_each", None)
    if not callable(each):
        # a batch transport (a plugin's, or files, where a message written
        # twice is one file): every result at once, one UPDATE per outcome
        for pk, result in _results(transport, name, sendable):
            tried += 1
            keep(pk, result)
    else:
        statement: SentStatement | None = None
        for pk, result in _results(transport, name, sendable):
            tried += 1
            if result.status != "sent":
                keep(pk, result)
            elif result.bounced or result.deferred or result.error:
                # partly delivered, or with bounces: rare; written at once, events included
                _record(app, mailer, name, batch, {pk: result}, report)
            else:
                # before the transport is asked for (and sends) the next one
                statement = statement or SentStatement(app, name, batch[0].lease_owner)
                statement.record(app, pk)
                report.sent += 1
    if later:
        _record(app, mailer, name, batch, later, report)
    if untried is not None or (retried and retried == len(broken) + tried):
        # the connection was lost, or nothing got through (server down)
        cause = last_retry or untried
        return True, cause.error if cause is not None else None
    return False, None


def _results(transport: Any, name: str, envelopes: Sequence[Envelope]) -> Iterator[tuple[int, SendResult]]:
    """``(message id, result)`` per envelope, in order, as the transport gives them.

    With ``send_each`` the next message is sent only when the caller asks
    for the next result (after it recorded this one). A transport that
    raises, or gives too few or too many results, has the messages it gave
    no result for retried, with the reason.
    """
    if not envelopes:
        return
    each = getattr(transport, "send_each", None)
    if not callable(each):
        try:  # a plugin's batch transport: all results at once
            got = list(transport.send(envelopes))
            if len(got) != len(envelopes):
                raise RuntimeError(f"transport {name!r} returned {len(got)} results for {len(envelopes)} messages")
        except Exception as exc:  # a transport bug or outage: nothing is lost, all retried
            got = [SendResult.retry(f"transport {name!r} raised {type(exc).__name__}: {exc}") for _ in envelopes]
        yield from zip((e.id for e in envelopes), got)
        return
    given = 0
    error: str | None = None
    stream = each(envelopes)
    try:
        for result in stream:
            if given == len(envelopes):
                error = f"transport {name!r} gave more results than the {len(envelopes)} messages it was handed"
                break
            if not isinstance(result, SendResult):
                error = f"transport {name!r} gave {result!r} instead of a SendResult"
                break
            yield envelopes[given].id, result
            given += 1
        else:
            if given < len(envelopes):
                error = f"transport {name!r} returned {given} results for {len(envelopes)} messages"
    except Exception as exc:  # a transport bug or outage: the messages not reported on are retried
        error = f"transport {name!r} raised {type(exc).__name__}: {exc}"
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # e.g. the SMTP connection, when the caller stopped early
    for env in envelopes[given:]:
        yield env.id, SendResult.retry(error or f"transport {name!r} gave no result")


def _claim(
    app: AppContext, mailer: Mailer, transport: str, size: int, report: DeliveryReport
) -> tuple[list[Any], bool]:
    """Claim up to ``size`` due messages; return them and whether the rate limit bit."""
    from crm_core.jobs import transaction_retry
    from crm_core.mail.models import MailMessage, MailTransportState

    database = app.database
    settings = mailer.settings
    now = app.clock.now()
    token = f"{_WORKER_ID}:{uuid.uuid4().hex[:12]}"
    if not MailTransportState.select().where(MailTransportState.name == transport).exists():
        # its own transaction: on MariaDB an INSERT IGNORE that meets the row
        # takes a shared lock, and two workers upgrading it would deadlock
        with database.atomic():
            MailTransportState.insert(name=transport, updated_at=now).on_conflict_ignore().execute()

    def claim() -> tuple[int, int, bool]:
        """(messages reclaimed, batch size, rate limit hit) — the claim itself is by token."""
        _lock_transport(database, transport)
        # a dead worker's batch: its lease ran out, so take it back
        reclaimed = (
            MailMessage.update(
                status="queued",
                lease_owner=None,
                lease_until=None,
                last_error="the worker sending it stopped before recording the result; sent again",
            )
            .where((MailMessage.status == "sending") & (MailMessage.lease_until < now))
            .execute()
        )
        wanted, limited = size, False
        if settings.rate_limit:
            window = now - dt.timedelta(minutes=1)
            used = (
                MailMessage.select()
                .where(
                    ((MailMessage.transport == transport) & (MailMessage.sent_at > window))
                    | (MailMessage.status == "sending")
                )
                .count()
            )
            allowed = settings.rate_limit - used
            if allowed <= 0:
                return reclaimed, 0, True
            if allowed < wanted:
                wanted, limited = allowed, True
        # claims are serialised by the transport row: a plain read is enough
        due = (
            MailMessage.select(MailMessage.id)
            .where((MailMessage.status == "queued") & (MailMessage.next_attempt_at <= now))
            .order_by(MailMessage.next_attempt_at, MailMessage.id)
            .limit(wanted)
        )
        ids = [pk for (pk,) in typed_rows.tuples(due)]
        if ids:
            lease = now + dt.timedelta(seconds=settings.lease)
            (
                MailMessage.update(status="sending", lease_owner=token, lease_until=lease)
                .where(MailMessage.id.in_(ids) & (MailMessage.status == "queued"))
                .execute()
            )
        return reclaimed, wanted, limited

    reclaimed, wanted, limited = transaction_retry(app, claim)
    report.reclaimed += reclaimed
    if wanted == 0:
        return [], limited
    rows = list(
        MailMessage.select()
        .where((MailMessage.lease_owner == token) & (MailMessage.status == "sending"))
        .order_by(MailMessage.next_attempt_at, MailMessage.id)
        .namedtuples()  # read-only rows: a third of the cost of model instances
    )
    return rows, limited and len(rows) >= wanted


def _lock_transport(database: Any, transport: str) -> None:
    """Take the transport's row lock: claims and result writes of one transport go one at a time."""
    from crm_core.mail.models import MailTransportState

    for_update(MailTransportState.select().where(MailTransportState.name == transport), database).get()


def _envelopes(app: AppContext, mailer: Mailer, rows: Sequence[Any]) -> tuple[list[Envelope], dict[int, str]]:
    """Build each claimed row; a row that cannot be built fails (permanently) with the reason."""
    files = mailer.attachments([r.id for r in rows if r.attachment_count])
    envelopes = []
    broken: dict[int, str] = {}
    for row in rows:
        try:
            message = restore_message(
                to=json.loads(row.recipients),
                subject=row.subject,
                text=row.text_body,
                html=row.html_body,
                attachments=files.get(row.id, ()),
                headers=[tuple(h) for h in json.loads(row.headers)] if row.headers else (),
                key=row.key,
                sender=row.sender,
                reply_to=row.reply_to,
            )
            recipients = (
                tuple(json.loads(row.remaining)) if row.remaining else tuple(envelope_address(t) for t in message.to)
            )
            data = build_message(
                sender=row.sender,
                to=message.to,
                subject=message.subject,
                text=message.text,
                html=message.html,
                attachments=message.attachments,
                headers=message.headers,
                reply_to=message.reply_to,
                message_id=row.message_id,
                date=row.queued_at,
            )
        except Exception as exc:  # a row edited by hand, say: fail it, keep the rest going
            broken[row.id] = f"the message cannot be built: {type(exc).__name__}: {exc}"
            continue
        envelopes.append(
            Envelope(
                id=row.id,
                key=row.key,
                message_id=row.message_id,
                sender=envelope_address(row.sender),
                recipients=recipients,
                data=data,
                message=message,
            )
        )
    return envelopes, broken


def _backoff(mailer: Mailer, attempts: int) -> dt.timedelta:
    s = mailer.settings
    seconds = min(s.retry_backoff * (2 ** max(attempts - 1, 0)), s.max_backoff)
    return dt.timedelta(seconds=seconds)


def _record(
    app: AppContext,
    mailer: Mailer,
    transport: str,
    rows: Sequence[Any],
    results: dict[int, SendResult],
    report: DeliveryReport,
) -> None:
    """Write these results of the batch ``rows``: one UPDATE per outcome, and the bounce events."""
    from crm_core.mail.models import MailMessage
    from crm_hookspecs.events import MailBounced

    now = app.clock.now()
    settings = mailer.settings
    by_id = {r.id: r for r in rows}
    sent: list[int] = []
    untried: list[int] = []
    # (status, attempts, next_attempt_at, error) -> ids: one UPDATE per group
    groups: dict[tuple[str, int, dt.datetime | None, str | None], list[int]] = defaultdict(list)
    partial: list[tuple[int, SendResult]] = []
    bounces: list[Any] = []
    for pk, result in results.items():
        row = by_id[pk]
        for address, reason in result.bounced:
            bounces.append(MailBounced(address=address, reason=reason, message_id=row.message_id))
        if result.status == "sent":
            if result.deferred:
                partial.append((pk, result))
            else:
                sent.append(pk)
                if result.error:
                    groups[("sent-note", row.attempts + 1, None, result.error)].append(pk)
        elif result.status == "untried":
            untried.append(pk)
        elif result.status == "failed":
            groups[("failed", row.attempts + 1, None, result.error)].append(pk)
        else:
            attempts = row.attempts + 1
            if result.deferred:
                partial.append((pk, result))
            elif attempts >= settings.max_attempts:
                error = f"gave up after {attempts} attempts; last error: {result.error}"
                groups[("failed", attempts, None, error)].append(pk)
            else:
                groups[("queued", attempts, now + _backoff(mailer, attempts), result.error)].append(pk)
    from crm_core.jobs import transaction_retry

    counts = {"sent": 0, "failed": 0, "retried": 0, "bounced": 0}

    def write() -> None:
        counts.update(sent=0, failed=0, retried=0, bounced=0)
        _lock_transport(app.database, transport)  # the same lock order as claims
        owned = MailMessage.lease_owner == rows[0].lease_owner
        if sent:
            MailMessage.update(
                status="sent",
                sent_at=now,
                transport=transport,
                lease_owner=None,
                lease_until=None,
                remaining=None,
                attempts=MailMessage.attempts + 1,
                last_error=None,
            ).where(MailMessage.id.in_(sent) & owned).execute()
            counts["sent"] += len(sent)
        for (status, attempts, when, error), ids in groups.items():
            if status == "sent-note":
                MailMessage.update(last_error=error).where(MailMessage.id.in_(ids)).execute()
                continue
            values: dict[str, Any] = dict(
                status=status, attempts=attempts, lease_owner=None, lease_until=None, last_error=error
            )
            if when is not None:
                values["next_attempt_at"] = when
            MailMessage.update(**values).where(MailMessage.id.in_(ids) & owned).execute()
            if status == "failed":
                counts["failed"] += len(ids)
            else:
                counts["retried"] += len(ids)
        for pk, result in partial:  # rare: some recipients deferred, each its own list
            row = by_id[pk]
            attempts = row.attempts + 1
            values = dict(
                remaining=json.dumps(list(result.deferred)), lease_owner=None, lease_until=None, attempts=attempts
            )
            if attempts >= settings.max_attempts:
                values.update(status="failed", last_error=f"gave up after {attempts} attempts; {result.error}")
                counts["failed"] += 1
            else:
                values.update(
                    status="queued", next_attempt_at=now + _backoff(mailer, attempts), last_error=result.error
                )
                counts["retried"] += 1
            if result.status == "sent":
                values.update(transport=transport, sent_at=now)
            MailMessage.update(**values).where((MailMessage.id == pk) & owned).execute()
        if untried:
            MailMessage.update(
                status="queued", lease_owner=None, lease_until=None, last_error=results[untried[0]].error
            ).where(MailMessage.id.in_(untried) & owned).execute()
        if bounces:
            mailer.events.emit_many(bounces)
            counts["bounced"] += len(bounces)

    transaction_retry(app, write)
    report.sent += counts["sent"]
    report.failed += counts["failed"]
    report.retried += counts["retried"]
    report.bounced += counts["bounced"]
