"""Mail transports: how built messages leave the CRM.

A transport is any object with ``send(envelopes) -> results``: it gets a
batch of :class:`Envelope` (the built bytes, the envelope sender and
recipients) and returns one :class:`SendResult` per envelope, in order. It
may keep a connection open for the batch (SMTP does), and may have a
``close()``. It may also have ``send_each(envelopes)``, a generator that
yields each result as soon as it has it and sends the next message only
when asked for the next result: the kernel then records each accepted
message before the next one goes, so a worker killed mid-batch sends at
most one message twice (``smtp`` and ``memory`` have it; ``file`` needs
not: a message written twice is one file).

The kernel ships ``memory``, ``file`` and ``smtp``; plugins add
more through ``crm_mail_transports`` (a :class:`~crm_hookspecs.records.MailTransportSpec`
whose ``factory(crm, options)`` gets ``[crm.mail.transport_options]``).

A transport never raises for one message's problem: it reports it in the
message's result. If ``send`` raises anyway, every message of the batch is
retried later.
"""

from __future__ import annotations

import email
import email.policy
import os
import smtplib
import ssl
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import attrs

from crm_core.errors import ConfigError

if TYPE_CHECKING:
    from email.message import EmailMessage

    from crm_core.config import MailSettings, SmtpSettings
    from crm_core.context import AppContext
    from crm_core.mail.message import OutgoingMessage

__all__ = [
    "BUILTIN_TRANSPORTS",
    "Envelope",
    "FileTransport",
    "MemoryTransport",
    "SendResult",
    "SentMessage",
    "SmtpTransport",
    "Transport",
    "make_transport",
]


@attrs.frozen
class Envelope:
    """One message as a transport sees it."""

    #: the queue row's id and idempotency key
    id: int
    key: str
    message_id: str
    #: the envelope sender (MAIL FROM) and recipients (RCPT TO): bare addresses
    sender: str
    recipients: tuple[str, ...]
    #: the RFC 5322 message, CRLF line ends
    data: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    #: the fields it was built from (subject, text, html, headers, attachments)
    message: OutgoingMessage


@attrs.frozen
class SendResult:
    """What happened to one envelope.

    ``status``: ``sent`` (accepted for every recipient except those in
    ``bounced`` and ``deferred``), ``retry`` (a temporary failure: try it all
    again later), ``failed`` (a permanent failure: never retry) or
    ``untried`` (the transport did not get to it, e.g. the connection dropped
    before: it goes back to the queue without counting an attempt).
    ``bounced`` lists ``(address, reason)`` refused for good: each becomes a
    ``MailBounced`` event. ``deferred`` lists recipients refused for now.
    """

    status: Literal["sent", "retry", "failed", "untried"]
    error: str | None = None
    bounced: tuple[tuple[str, str], ...] = ()
    deferred: tuple[str, ...] = ()

    @classmethod
    def sent(
        cls, bounced: Sequence[tuple[str, str]] = (), deferred: Sequence[str] = (), error: str | None = None
    ) -> SendResult:
        return cls("sent", error, tuple(bounced), tuple(deferred))

    @classmethod
    def retry(cls, error: str) -> SendResult:
        return cls("retry", error)

    @classmethod
    def failed(cls, error: str, bounced: Sequence[tuple[str, str]] = ()) -> SendResult:
        return cls("failed", error, tuple(bounced))

    @classmethod
    def untried(cls, error: str | None = None) -> SendResult:
        return cls("untried", error)


class Transport(Protocol):
    """What the delivery loop needs from a transport (``send_each`` is optional; see above)."""

    name: str

    def send(self, envelopes: Sequence[Envelope]) -> Sequence[SendResult]: ...


# -- memory ------------------------------------------------------------------


@attrs.frozen
class SentMessage:
    """A message the memory transport accepted; what a test inspects."""

    key: str
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None
    headers: dict[str, str]
    attachments: tuple[tuple[str, str, bytes], ...]
    data: bytes = attrs.field(repr=False)

    @property
    def email(self) -> EmailMessage:
        """The sent bytes parsed back with :mod:`email` (modern policy)."""
        return email.message_from_bytes(self.data, policy=email.policy.default)


class MemoryTransport:
    """Keeps sent messages in ``sent`` (a list of :class:`SentMessage`), for tests.

    ``bounce(address)`` makes the next messages to that address fail for good
    (a 550, and a ``MailBounced`` event); ``defer(address)`` makes them fail
    for now (a 451, retried with back-off) until ``clear()``.
    """

    name = "memory"

    def __init__(self) -> None:
        self.sent: list[SentMessage] = []
        self._bounce: dict[str, str] = {}
        self._defer: dict[str, str] = {}
        self._lock = threading.Lock()

    def bounce(self, address: str, reason: str = "550 5.1.1 mailbox unavailable") -> None:
        self._bounce[address.lower()] = reason

    def defer(self, address: str, reason: str = "451 4.3.0 try again later") -> None:
        self._defer[address.lower()] = reason

    def clear(self) -> None:
        """Forget the sent messages and the bounce/defer rules."""
        with self._lock:
            self.sent.clear()
            self._bounce.clear()
            self._defer.clear()

    def to(self, address: str) -> list[SentMessage]:
        """The sent messages whose envelope included ``address``."""
        address = address.lower()
        return [m for m in self.sent if address in (r.lower() for r in m.recipients)]

    def send(self, envelopes: Sequence[Envelope]) -> list[SendResult]:
        return list(self.send_each(envelopes))

    def send_each(self, envelopes: Sequence[Envelope]) -> Iterator[SendResult]:
        """Send one envelope per result asked for (see the module's docstring)."""
        for env in envelopes:
            bounced = [(r, self._bounce[r.lower()]) for r in env.recipients if r.lower() in self._bounce]
            deferred = [r for r in env.recipients if r.lower() in self._defer and r.lower() not in self._bounce]
            accepted = tuple(
                r for r in env.recipients if r.lower() not in self._bounce and r.lower() not in self._defer
            )
            if not accepted:
                if deferred:
                    yield SendResult.retry(f"{self._defer[deferred[0].lower()]} ({deferred[0]})")
                else:
                    yield SendResult.failed(bounced[0][1], bounced)
                continue
            msg = env.message
            with self._lock:
                self.sent.append(
                    SentMessage(
                        key=env.key,
                        message_id=env.message_id,
                        sender=env.sender,
                        recipients=accepted,
                        to=msg.to,
                        subject=msg.subject,
                        text=msg.text,
                        html=msg.html,
                        headers=dict(msg.headers),
                        attachments=tuple((a.filename, a.content_type, a.content) for a in msg.attachments),
                        data=env.data,
                    )
                )
            yield SendResult.sent(bounced=bounced, deferred=deferred)


# -- file --------------------------------------------------------------------


class FileTransport:
    """Writes one ``.eml`` file per message into a folder (the outbox).

    The file is named after the Message-ID, written to a temporary name and
    renamed, so a message delivered twice (after a crash) is one file, and a
    reader never sees half a file.
    """

    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path_for(self, envelope: Envelope) -> Path:
        local = envelope.message_id.strip("<>").partition("@")[0]
        return self.folder / f"{local}.eml"

    def send(self, envelopes: Sequence[Envelope]) -> list[SendResult]:
        """Write the batch; its results are recorded together.

        No ``send_each``: a message written again (its worker was killed
        before recording the batch) replaces its own file, named after its
        Message-ID, so there is no duplicate to bound, and one commit per
        file would cost more than the file.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            error = f"cannot create the outbox folder {self.folder}: {exc.strerror}; fix [crm.mail] outbox or its permissions"
            return [SendResult.retry(error) for _ in envelopes]
        results = []
        for env in envelopes:
            target = self.path_for(env)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            try:
                with open(tmp, "wb") as fh:
                    fh.write(env.data)
                os.replace(tmp, target)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                results.append(SendResult.retry(f"cannot write {target}: {exc.strerror}"))
                continue
            results.append(SendResult.sent())
        return results


# -- smtp --------------------------------------------------------------------


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}".strip()


class SmtpTransport:
    """Sends through an SMTP server: one connection per batch.

    4xx replies, refused connections and timeouts are temporary (``retry``);
    5xx replies are permanent (``failed``, and the refused addresses bounce);
    a connection lost mid-batch leaves the message in flight for a retry and
    the rest of the batch ``untried``.
    """

    name = "smtp"

    def __init__(self, settings: SmtpSettings, base_dir: Path | None = None) -> None:
        self.settings = settings
        self.base_dir = base_dir
        if settings.username and settings.password is None:
            raise ConfigError(
                '[crm.mail.smtp] username is set but password is not; set password = "env:CRM_SMTP_PASSWORD" '
                "(and the variable), or remove username"
            )

    def _tls_context(self) -> ssl.SSLContext:
        s = self.settings
        cafile = None
        if s.ca_file:
            cafile = str(
                Path(s.ca_file) if Path(s.ca_file).is_absolute() or self.base_dir is None else self.base_dir / s.ca_file
            )
        try:
            context = ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"[crm.mail.smtp] ca_file {cafile!r} cannot be used: {exc}") from None
        if not s.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def connect(self) -> smtplib.SMTP:
        """An open, greeted (and, as configured, encrypted and logged-in) connection."""
        s = self.settings
        if s.security == "tls":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._tls_context())
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            conn.ehlo()
            if s.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        f"{s.host}:{s.port} does not offer STARTTLS; set [crm.mail.smtp] security to 'tls' or 'none'"
                    )
                conn.starttls(context=self._tls_context())
                conn.ehlo()
            if s.username:
                conn.login(s.username, s.password or "")
        except BaseException:
            conn.close()
            raise
        return conn

    def send(self, envelopes: Sequence[Envelope]) -> list[SendResult]:
        return list(self.send_each(envelopes))

    def send_each(self, envelopes: Sequence[Envelope]) -> Iterator[SendResult]:
        """Send one message per result asked for, over one connection (see the module's docstring).

        The connection is closed when the batch is done, or when the caller
        stops asking (the generator is closed).
        """
        if not envelopes:
            return
        s = self.settings
        where = f"{s.host}:{s.port}"
        try:
            conn = self.connect()
        except smtplib.SMTPAuthenticationError as exc:
            error = f"SMTP login to {where} refused ({_reply(exc.smtp_code, exc.smtp_error)}); check [crm.mail.smtp] username and password"
            yield from (SendResult.retry(error) for _ in envelopes)
            return
        except smtplib.SMTPResponseException as exc:
            error = f"SMTP server {where} refused the session: {_reply(exc.smtp_code, exc.smtp_error)}"
            yield from (SendResult.retry(error) for _ in envelopes)
            return
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            error = f"cannot connect to the SMTP server {where}: {exc or type(exc).__name__}"
            yield from (SendResult.retry(error) for _ in envelopes)
            return
        try:
            for index, env in enumerate(envelopes):
                result, connection_lost = self._send_one(conn, env)
                yield result
                if connection_lost:
                    reason = f"not tried: the connection to {where} was lost before it"
                    yield from (SendResult.untried(reason) for _ in envelopes[index + 1 :])
                    break
        finally:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()

    def _send_one(self, conn: smtplib.SMTP, env: Envelope) -> tuple[SendResult, bool]:
        """Send one envelope; return its result and whether the connection is gone."""
        try:
            refused = conn.sendmail(env.sender, list(env.recipients), env.data)
        except smtplib.SMTPRecipientsRefused as exc:
            return self._refused(exc.recipients, accepted_any=False), False
        except smtplib.SMTPSenderRefused as exc:
            reply = _reply(exc.smtp_code, exc.smtp_error)
            if exc.smtp_code == 421:
                return SendResult.retry(f"server closing the connection: {reply}"), True
            if 400 <= exc.smtp_code < 500:
                return SendResult.retry(f"sender {env.sender} refused for now: {reply}"), False
            return SendResult.failed(f"sender {env.sender} refused: {reply}; check [crm.mail] sender"), False
        except smtplib.SMTPDataError as exc:
            reply = _reply(exc.smtp_code, exc.smtp_error)
            if exc.smtp_code == 421:
                return SendResult.retry(f"server closing the connection: {reply}"), True
            if 400 <= exc.smtp_code < 500:
                return SendResult.retry(f"message refused for now: {reply}"), False
            return SendResult.failed(f"message refused: {reply}", [(r, reply) for r in env.recipients]), False
        except smtplib.SMTPServerDisconnected as exc:
            return SendResult.retry(f"the SMTP server closed the connection: {exc or 'no reason given'}"), True
        except smtplib.SMTPResponseException as exc:
            reply = _reply(exc.smtp_code, exc.smtp_error)
            if exc.smtp_code == 421 or exc.smtp_code < 500:
                return SendResult.retry(f"SMTP error: {reply}"), exc.smtp_code == 421
            return SendResult.failed(f"SMTP error: {reply}"), False
        except TimeoutError as exc:
            return SendResult.retry(f"the SMTP server did not answer in {self.settings.timeout:g} s: {exc}"), True
        except OSError as exc:
            return SendResult.retry(f"connection to the SMTP server failed: {exc}"), True
        except smtplib.SMTPException as exc:
            return SendResult.retry(f"SMTP error: {exc}"), True
        if refused:
            return self._refused(refused, accepted_any=True), False
        return SendResult.sent(), False

    @staticmethod
    def _refused(refused: dict[str, tuple[int, bytes]], accepted_any: bool) -> SendResult:
        bounced = [(addr, _reply(code, msg)) for addr, (code, msg) in refused.items() if code >= 500]
        deferred = [addr for addr, (code, _) in refused.items() if code < 500]
        detail = "; ".join(f"{addr}: {_reply(code, msg)}" for addr, (code, msg) in refused.items())
        if accepted_any:
            return SendResult.sent(bounced=bounced, deferred=deferred, error=f"refused recipients: {detail}")
        if deferred:
            # nobody accepted it: retry the message for the deferred ones
            # only (the bounced ones are reported now, and dropped)
            return SendResult("retry", f"recipients refused: {detail}", tuple(bounced), tuple(deferred))
        return SendResult.failed(f"recipients refused: {detail}", bounced)


# -- choosing ----------------------------------------------------------------

BUILTIN_TRANSPORTS = ("file", "memory", "smtp")


def make_transport(app: AppContext, settings: MailSettings) -> Any:
    """The transport ``[crm.mail] transport`` names, built for ``app``."""
    name = settings.transport
    if name == "memory":
        return MemoryTransport()
    if name == "file":
        return FileTransport(app.config.resolve_path(settings.outbox))
    if name == "smtp":
        return SmtpTransport(settings.smtp, app.config.base_dir)
    specs: dict[str, tuple[str, Any]] = {}
    for plugin, spec in app.hooks.mail_transports():
        if spec.name in BUILTIN_TRANSPORTS:
            from crm_core.errors import PluginError

            raise PluginError(
                plugin,
                f"plugin {plugin!r} offers a mail transport named {spec.name!r}, which is a kernel transport; rename it",
            )
        if spec.name in specs:
            from crm_core.errors import PluginError

            raise PluginError(
                plugin,
                f"plugins {specs[spec.name][0]!r} and {plugin!r} both offer a mail transport named {spec.name!r}",
            )
        specs[spec.name] = (plugin, spec)
    if name not in specs:
        known = ", ".join(list(BUILTIN_TRANSPORTS) + sorted(specs))
        raise ConfigError(
            f"{app.config.source}: crm.mail.transport = {name!r} is not a known transport; use one of: {known} "
            "(a plugin's transport needs the plugin enabled)"
        )
    plugin, spec = specs[name]
    transport = spec.factory(app, dict(settings.transport_options))
    if not callable(getattr(transport, "send", None)):
        from crm_core.errors import PluginError

        raise PluginError(
            plugin,
            f"plugin {plugin!r}: mail transport {name!r} factory returned {transport!r}, which has no send(envelopes)",
        )
    if not getattr(transport, "name", None):
        try:
            transport.name = name
        except AttributeError:
            pass
    return transport
