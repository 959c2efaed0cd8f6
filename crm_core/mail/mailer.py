"""The app's mail queue: ``crm.mail``.

Queueing writes to ``crm_mail_message`` in the caller's transaction, so a
message exists if and only if the change that caused it commits; delivery
(:meth:`Mailer.deliver`, run by the worker's ``crm.mail`` job) sends what is
due through the configured transport.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import peewee

from crm_core import rows as typed_rows
from crm_core.errors import NotFoundError, ValidationError
from crm_core.mail.address import parse_address
from crm_core.mail.message import Attachment, OutgoingMessage, build_message, new_key, new_message_id
from crm_core.storage import atomic_block, bulk_insert

if TYPE_CHECKING:
    from crm_core.config import MailSettings
    from crm_core.context import AppContext
    from crm_core.events import EventBus
    from crm_core.mail.delivery import DeliveryReport
    from crm_core.mail.unsubscribe import Unsubscribe

__all__ = ["Mailer", "QueuedMessage"]

#: messages checked and inserted per statement by queue_many
_CHUNK = 500
#: up to this many messages (fourteen values each) go as one INSERT: under SQLite's historical 999 bound values
_FEW = 50


@attrs.frozen
class QueuedMessage:
    """A message in the queue, as :meth:`Mailer.get` and :meth:`Mailer.list` show it."""

    id: int
    key: str
    message_id: str
    sender: str
    to: tuple[str, ...]
    subject: str
    status: str
    attempts: int
    queued_at: dt.datetime
    next_attempt_at: dt.datetime | None
    sent_at: dt.datetime | None
    last_error: str | None
    reply_to: str | None = None
    #: recipients still to deliver after a partial delivery (None: all of ``to``)
    remaining: tuple[str, ...] | None = None
    transport: str | None = None
    attachment_count: int = 0
    #: the bodies and headers: filled by :meth:`Mailer.get`, None in listings
    text: str | None = None
    html: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[Attachment, ...] = ()

    def as_bytes(self) -> bytes:
        """The RFC 5322 message as the transport receives it."""
        from crm_core.privacy import ERASED

        if ERASED in self.to:
            raise ValidationError(
                f"message {self.id} was scrubbed when its recipient's personal data was erased: "
                f"there is no message left to build, only its state (crm mail show {self.id})"
            )
        return build_message(
            sender=self.sender,
            to=self.to,
            subject=self.subject,
            text=self.text or "",
            html=self.html,
            attachments=self.attachments,
            headers=self.headers,
            reply_to=self.reply_to,
            message_id=self.message_id,
            date=self.queued_at,
        )


class Mailer:
    """``crm.mail``: queue, inspect and deliver outgoing mail.

    ``crm.mail.transport`` is the configured transport, built on first use;
    with the memory transport (the test kit's), ``crm.mail.transport.sent``
    lists what was delivered. Built by the app with its
    :class:`~crm_core.context.AppContext` and its event bus (``events``),
    which records the bounces that delivery finds.
    """

    def __init__(
        self, app: AppContext, settings: MailSettings | None = None, *, events: EventBus | None = None
    ) -> None:
        from crm_core.events import EventBus

        self._app = app
        #: the event bus bounces are emitted on
        self.events: EventBus = events if events is not None else EventBus(app)
        self.settings: MailSettings = settings or app.config.core.mail
        self._transport: Any = None
        self._sender = str(parse_address(self.settings.sender, "[crm.mail] sender"))

    # -- transport -----------------------------------------------------------

    @property
    def transport(self) -> Any:
        """The configured transport object (``memory``, ``file``, ``smtp`` or a plugin's)."""
        if self._transport is None:
            from crm_core.mail.transports import make_transport

            self._transport = make_transport(self._app, self.settings)
        return self._transport

    @property
    def sent(self) -> list[Any]:
        """What the memory transport accepted (a shortcut for tests)."""
        transport = self.transport
        if not hasattr(transport, "sent"):
            raise AttributeError(
                f"the {self.settings.transport!r} transport keeps no list of sent messages; use the memory transport"
            )
        sent: list[Any] = transport.sent
        return sent

    # -- queueing ------------------------------------------------------------

    def queue(
        self,
        to: str | Sequence[str],
        subject: str,
        text: str,
        *,
        html: str | None = None,
        attachments: Iterable[Any] = (),
        headers: Mapping[str, str] | None = None,
        key: str | None = None,
        sender: str | None = None,
        reply_to: str | None = None,
        bulk: bool = False,
        contact_id: int | None = None,
        mailing_list: str | None = None,
    ) -> QueuedMessage | None:
        """Queue one message in the caller's transaction; None if ``key`` was queued before.

        ``bulk=True`` marks bulk mail to the contact ``contact_id`` (about
        ``mailing_list``, or about no list in particular): the queue adds his
        unsubscribe link (see :mod:`crm_core.mail.unsubscribe`).

        Raises :class:`~crm_core.errors.ValidationError` for a bad address,
        a line break in a header value, a reserved header, or bulk mail that
        would get no unsubscribe link.
        """
        message = OutgoingMessage(
            to, subject, text, html=html, attachments=attachments, headers=headers, key=key, sender=sender, reply_to=reply_to,
            bulk=bulk, contact_id=contact_id, mailing_list=mailing_list,
        )  # fmt: skip
        app = self._app
        now = app.clock.now()
        row = self._row(message, now, self._unsubscribe([message]).get(0))
        with app.activate(), app.database.atomic():
            from crm_core.mail.models import MailMessage

            inserted = MailMessage.insert(**row).on_conflict_ignore().as_rowcount().execute()
            if inserted != 1:
                return None
            pk = MailMessage.select(MailMessage.id).where(MailMessage.key == row["key"]).scalar()
            if message.attachments:
                self._insert_attachments({pk: message.attachments})
        return QueuedMessage(
            id=pk,
            key=row["key"],
            message_id=row["message_id"],
            sender=row["sender"],
            to=message.to,
            subject=message.subject,
            status="queued",
            attempts=0,
            queued_at=now,
            next_attempt_at=now,
            sent_at=None,
            last_error=None,
            reply_to=message.reply_to,
            attachment_count=len(message.attachments),
            text=row["text_body"],
            html=row["html_body"],
            headers=tuple(tuple(h) for h in json.loads(row["headers"])) if row["headers"] else (),
            attachments=message.attachments,
        )

    def _unsubscribe(self, messages: Sequence[OutgoingMessage]) -> dict[int, Unsubscribe]:
        if not any(m.bulk for m in messages):
            return {}
        from crm_core.mail.unsubscribe import unsubscribe_links

        return unsubscribe_links(self._app, self.settings, messages)

    def queue_many(self, messages: Iterable[OutgoingMessage]) -> int:
        """Queue many messages with set-based SQL; return how many were queued.

        Messages whose key is already queued (or repeated in ``messages``)
        are skipped. Runs in the caller's transaction, or in its own. Bulk
        messages (``OutgoingMessage(..., bulk=True, contact_id=...)``) get
        their unsubscribe links with one hook call per mailing list and chunk.
        """
        from crm_core.mail.models import MailMessage

        app = self._app
        database = app.database
        now = app.clock.now()
        total = 0
        columns = list(self._row(OutgoingMessage("a@example.com", "", ""), now).keys())
        seen: set[str] = set()
        messages = iter(messages)
        head = [_checked(m) for m in itertools.islice(messages, _FEW + 1)]
        if len(head) <= _FEW and not any(m.attachments or m.bulk for m in head):
            # a few plain messages: one INSERT that leaves out a key queued before (now or
            # concurrently), all or nothing by itself, so no key check first and no savepoint
            with app.activate(), atomic_block(database):
                rows: dict[str, dict[str, Any]] = {}
                for message in head:
                    row = self._row(message, now)
                    rows.setdefault(row["key"], row)  # a key repeated in `messages` is queued once
                values = (tuple(r[c] for c in columns) for r in rows.values())
                return bulk_insert(MailMessage, columns, values, database=database, skip_duplicates=True)
        with app.activate(), database.atomic():
            chunk: list[OutgoingMessage] = []
            for message in itertools.chain(head, messages):
                chunk.append(_checked(message))
                if len(chunk) >= _CHUNK:
                    total += self._queue_chunk(chunk, columns, now, seen, MailMessage)
                    chunk = []
            if chunk:
                total += self._queue_chunk(chunk, columns, now, seen, MailMessage)
        return total

    def _queue_chunk(
        self, chunk: list[OutgoingMessage], columns: list[str], now: dt.datetime, seen: set[str], model: Any
    ) -> int:
        database = self._app.database
        rows = []
        files: dict[str, tuple[Attachment, ...]] = {}
        links = self._unsubscribe(chunk)
        for index, message in enumerate(chunk):
            row = self._row(message, now, links.get(index))
            if row["key"] in seen:
                continue
            seen.add(row["key"])
            rows.append(row)
            if message.attachments:
                files[row["key"]] = message.attachments
        while True:
            try:
                with database.atomic():  # a savepoint: a key queued concurrently is looked up again
                    keys = [r["key"] for r in rows]
                    taken = {k for (k,) in model.select(model.key).where(model.key.in_(keys)).tuples()}
                    fresh = [r for r in rows if r["key"] not in taken]
                    values = (tuple(r[c] for c in columns) for r in fresh)  # bulk_insert converts the times
                    count = bulk_insert(model, columns, values, database=database) if fresh else 0
                    wanted = [r["key"] for r in fresh if r["key"] in files]
                    if wanted:
                        ids = dict(model.select(model.key, model.id).where(model.key.in_(wanted)).tuples())
                        self._insert_attachments({ids[k]: files[k] for k in wanted})
                return count
            except peewee.IntegrityError:
                continue

    def _row(
        self, message: OutgoingMessage, now: dt.datetime, unsubscribe: Unsubscribe | None = None
    ) -> dict[str, Any]:
        sender = message.sender or self._sender
        row = {
            "key": message.key or new_key(),
            "message_id": new_message_id(sender.rpartition("@")[2].rstrip(">")),
            "sender": sender,
            "recipients": json.dumps(list(message.to), ensure_ascii=False),
            "reply_to": message.reply_to,
            "subject": message.subject,
            "text_body": message.text,
            "html_body": message.html,
            "headers": [list(h) for h in message.headers],
            "attachment_count": len(message.attachments),
            "status": "queued",
            "attempts": 0,
            "queued_at": now,
            "next_attempt_at": now,
        }
        if unsubscribe is not None:
            from crm_core.mail.unsubscribe import apply

            apply(row, unsubscribe, self.settings.unsubscribe_text)
        headers = row["headers"]
        row["headers"] = json.dumps(headers, ensure_ascii=False) if headers else None
        return row

    def _insert_attachments(self, files: Mapping[int, Sequence[Attachment]]) -> None:
        from crm_core.mail.models import MailAttachment

        rows = (
            (pk, position, a.filename, a.content_type, a.content)
            for pk, items in files.items()
            for position, a in enumerate(items)
        )
        bulk_insert(
            MailAttachment,
            ("mail_id", "position", "filename", "content_type", "content"),
            rows,
            database=self._app.database,
        )

    # -- reading -------------------------------------------------------------

    def _record(self, row: Any, full: bool, attachments: Sequence[Attachment] = ()) -> QueuedMessage:
        return QueuedMessage(
            id=row.id,
            key=row.key,
            message_id=row.message_id,
            sender=row.sender,
            to=tuple(json.loads(row.recipients)),
            subject=row.subject,
            status=row.status,
            attempts=row.attempts,
            queued_at=row.queued_at,
            next_attempt_at=row.next_attempt_at if row.status in ("queued", "sending") else None,
            sent_at=row.sent_at,
            last_error=row.last_error,
            reply_to=row.reply_to,
            remaining=tuple(json.loads(row.remaining)) if row.remaining else None,
            transport=row.transport,
            attachment_count=row.attachment_count,
            text=row.text_body if full else None,
            html=row.html_body if full else None,
            headers=tuple(tuple(h) for h in json.loads(row.headers)) if full and row.headers else (),
            attachments=tuple(attachments),
        )

    def get(self, ref: int | str) -> QueuedMessage:
        """One message with its bodies and attachments, by id or by key."""
        from crm_core.mail.models import MailMessage

        with self._app.activate():
            row = None
            if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
                row = MailMessage.get_or_none(MailMessage.id == int(ref))
            if row is None and isinstance(ref, str):
                row = MailMessage.get_or_none(MailMessage.key == ref)
            if row is None:
                raise NotFoundError(
                    f"no queued message has the id or key {ref!r}; list them with 'crm mail queue --status all'"
                )
            return self._record(row, True, self.attachments([row.id]).get(row.id, ()))

    def attachments(self, ids: Sequence[int]) -> dict[int, list[Attachment]]:
        """The attachments of the queued messages ``ids``, in order, by message id (absent: none)."""
        from crm_core.mail.models import MailAttachment

        out: dict[int, list[Attachment]] = {}
        if not ids:
            return out
        query = typed_rows.tuples(
            MailAttachment.select(
                MailAttachment.message, MailAttachment.filename, MailAttachment.content_type, MailAttachment.content
            )
            .where(MailAttachment.message.in_(list(ids)))
            .order_by(MailAttachment.message, MailAttachment.position)
        )
        for pk, filename, content_type, content in query:
            out.setdefault(pk, []).append(Attachment(filename, bytes(content), content_type))
        return out

    def list(self, status: str | Sequence[str] | None = None, limit: int = 50) -> list[QueuedMessage]:
        """Messages, newest first; ``status`` one of (or a list of) queued, sending, sent, failed."""
        from crm_core.mail.models import STATUSES, MailMessage

        statuses = [status] if isinstance(status, str) else list(status or ())
        for s in statuses:
            if s not in STATUSES:
                raise ValidationError(f"unknown mail status {s!r}; use one of {', '.join(STATUSES)}")
        columns = [f for f in MailMessage._meta.sorted_fields if f.name not in ("text_body", "html_body", "headers")]
        with self._app.activate():
            query = MailMessage.select(*columns).order_by(MailMessage.id.desc()).limit(limit)
            if statuses:
                query = query.where(MailMessage.status.in_(statuses))
            return [self._record(row, False) for row in query]

    def counts(self) -> dict[str, int]:
        """How many messages are in each status."""
        from peewee import fn

        from crm_core.mail.models import STATUSES, MailMessage

        with self._app.activate():
            found: dict[str, int] = dict(
                typed_rows.tuples(
                    MailMessage.select(MailMessage.status, fn.COUNT(MailMessage.id)).group_by(MailMessage.status)
                )
            )
        return {s: int(found.get(s, 0)) for s in STATUSES}

    # -- managing ------------------------------------------------------------

    def retry(self, refs: Iterable[int | str] = (), *, failed: bool = True, waiting: bool = False) -> int:
        """Make messages due now; return how many.

        With no ``refs``: every ``failed`` message (given up, or refused) is
        queued again with its attempts reset, and with ``waiting`` every
        queued message waiting for its back-off is made due now. With
        ``refs`` (ids or keys): those messages, which must be failed or queued.
        A user (code run with ``crm.as_user``) needs ``admin.system``; the
        system may always retry.
        """
        from crm_core.mail.models import MailMessage

        app = self._app
        _require_system(app)
        now = app.clock.now()
        with app.activate(), app.database.atomic():
            if refs:
                ids = [self.get(r).id for r in refs]
                rows: dict[int, str] = dict(
                    typed_rows.tuples(
                        MailMessage.select(MailMessage.id, MailMessage.status).where(MailMessage.id.in_(ids))
                    )
                )
                wrong = {i: s for i, s in rows.items() if s not in ("failed", "queued")}
                if wrong:
                    pk, state = next(iter(wrong.items()))
                    raise ValidationError(f"message {pk} is {state}; only failed or waiting messages can be retried")
                where = MailMessage.id.in_(ids)
            else:
                wanted = (["failed"] if failed else []) + (["queued"] if waiting else [])
                if not wanted:
                    return 0
                where = MailMessage.status.in_(wanted)
            # attempts restart only for messages that had given up (two
            # statements: MySQL would see the new status in the same SET)
            MailMessage.update(attempts=0, remaining=None).where(where & (MailMessage.status == "failed")).execute()
            changed: int = MailMessage.update(status="queued", next_attempt_at=now).where(where).execute()
            return changed

    def deliver(self, limit: int | None = None) -> DeliveryReport:
        """Send what is due through the transport; see :func:`crm_core.mail.delivery.deliver`."""
        from crm_core.mail.delivery import deliver

        return deliver(self._app, self, limit=limit)


def _checked(message: Any) -> OutgoingMessage:
    if not isinstance(message, OutgoingMessage):
        raise ValidationError(
            f"queue_many() takes OutgoingMessage records, not {type(message).__name__}; "
            "build them with crm_core.mail.OutgoingMessage(to, subject, text, ...)"
        )
    return message


def _require_system(app: Any) -> None:
    """``admin.system`` for a user; an app without users (a bare context) acts as the system."""
    authz = getattr(app, "authz", None)
    if authz is not None:
        authz.require("admin.system")
