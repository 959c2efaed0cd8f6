"""Outgoing messages: the record callers queue, and the RFC 5322 bytes sent.

:class:`OutgoingMessage` validates every field when it is made (addresses,
header injection, reserved headers), so what reaches the queue is sendable.
:func:`build_message` turns a message into bytes with the standard
:mod:`email` package: non-ASCII names and subjects as RFC 2047 encoded words,
bodies as UTF-8 quoted-printable, ``multipart/alternative`` for text + HTML,
``multipart/mixed`` around attachments.
"""

from __future__ import annotations

import binascii
import datetime as dt
import email.charset
import email.encoders
import mimetypes
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

import attrs

from crm_core.errors import ValidationError
from crm_core.mail.address import Address, check_header_value, from_normalized, parse_address, parse_addresses

__all__ = ["Attachment", "OutgoingMessage", "build_message", "new_key", "new_message_id"]

#: the longest idempotency key (it is a unique index on every backend)
MAX_KEY = 190
#: headers the kernel writes itself; the message says which argument sets them
_RESERVED = {
    "from": "sender=",
    "sender": "sender=",
    "to": "to=",
    "subject": "subject",
    "reply-to": "reply_to=",
    "message-id": "nothing (the kernel makes one per message)",
    "date": "nothing (the kernel sets it)",
    "mime-version": "nothing (the kernel sets it)",
    "content-type": "html= and attachments=",
    "content-transfer-encoding": "nothing (the kernel encodes bodies)",
    "cc": "to= (every recipient is listed in To)",
    "bcc": "a separate message per hidden recipient",
}
_FIELD_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII except ':' (RFC 5322 ftext)
_MIME_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")


def new_key() -> str:
    """A fresh idempotency key, for messages queued without one."""
    return uuid.uuid4().hex


def new_message_id(domain: str) -> str:
    """A ``<unique@domain>`` Message-ID (at most 255 characters, the column's width)."""
    host = _idna(domain)
    if len(host) > 200:  # legal but absurd: keep the id within its column
        host = "localhost"
    return f"<{uuid.uuid4().hex}@{host}>"


def _idna(domain: str) -> str:
    return domain if domain.isascii() else domain.encode("idna").decode("ascii")


@attrs.frozen
class Attachment:
    """A file attached to a message: ``Attachment("report.pdf", data)``.

    ``content_type`` is guessed from the file name when not given.
    """

    filename: str
    content: bytes = attrs.field(repr=lambda b: f"<{len(b)} bytes>")
    content_type: str = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        check_header_value(self.filename, "attachment file name")
        if len(self.filename) > 255:
            raise ValidationError(
                f"attachment file name {self.filename[:40]!r}… is longer than 255 characters; shorten it"
            )
        if not self.filename.strip() or "/" in self.filename or "\\" in self.filename:
            raise ValidationError(
                f"attachment file name {self.filename!r} must be a plain file name (no folders), e.g. 'report.pdf'"
            )
        if not isinstance(self.content, (bytes, bytearray, memoryview)):
            raise ValidationError(
                f"attachment {self.filename!r}: content must be bytes, not {type(self.content).__name__} "
                "(encode text first, e.g. text.encode('utf-8'))"
            )
        object.__setattr__(self, "content", bytes(self.content))
        content_type = self.content_type
        if content_type is None:
            content_type = mimetypes.guess_type(self.filename)[0] or "application/octet-stream"
        if not isinstance(content_type, str) or not _MIME_TYPE.match(content_type) or len(content_type) > 255:
            raise ValidationError(
                f"attachment {self.filename!r}: content type {content_type!r} is not of the form type/subtype"
            )
        object.__setattr__(self, "content_type", content_type.lower())

    @classmethod
    def coerce(cls, value: Any) -> Attachment:
        """An :class:`Attachment`, a path, or a ``(filename, bytes[, content_type])`` tuple."""
        if isinstance(value, Attachment):
            return value
        if isinstance(value, (str, os.PathLike)):
            path = Path(value)
            try:
                return cls(path.name, path.read_bytes())
            except OSError as exc:
                raise ValidationError(f"attachment {str(path)!r} cannot be read: {exc.strerror}") from None
        if isinstance(value, tuple) and len(value) in (2, 3):
            return cls(*value)
        raise ValidationError(
            f"attachment {value!r} must be an Attachment, a file path, or a (filename, bytes[, content_type]) tuple"
        )


def _to(value: Any) -> tuple[str, ...]:
    return tuple(str(a) for a in parse_addresses(value, "recipient"))


def _headers(value: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    pairs = list(value.items()) if isinstance(value, Mapping) else list(value)
    out = []
    for item in pairs:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise ValidationError(f"headers must be a mapping of name to value, not {value!r}")
        name, text = item
        if not isinstance(name, str) or not _FIELD_NAME.match(name):
            raise ValidationError(f"header name {name!r} is not valid (printable ASCII, no spaces or colon)")
        reserved = _RESERVED.get(name.lower())
        if reserved is not None:
            raise ValidationError(f"header {name!r} cannot be set through headers=; it is set by {reserved}")
        if not isinstance(text, str):
            raise ValidationError(f"header {name!r}: the value must be a string, not {type(text).__name__}")
        check_header_value(text, f"header {name!r} value")
        out.append((name, text))
    return tuple(out)


def _attachments(value: Any) -> tuple[Attachment, ...]:
    if value is None:
        return ()
    if isinstance(value, (Attachment, str, os.PathLike)) or (
        isinstance(value, tuple) and value and isinstance(value[0], str)
    ):
        value = [value]
    return tuple(Attachment.coerce(v) for v in value)


#: the sender and reply-to columns' width (a long display name must not be cut)
MAX_MAILBOX = 400


def _optional_address(value: Any, what: str) -> str | None:
    if value is None:
        return None
    text = str(value) if isinstance(value, Address) else str(parse_address(value, what))
    if len(text) > MAX_MAILBOX:
        raise ValidationError(
            f"{what} {text[:40]!r}… is {len(text)} characters; keep it under {MAX_MAILBOX + 1} (shorten the name)"
        )
    return text


# attrs converters are named functions, so that mypy's attrs plugin can read their types
def _sender(value: Any) -> str | None:
    return _optional_address(value, "the sender")


def _reply_to(value: Any) -> str | None:
    return _optional_address(value, "reply_to")


def _key(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"the idempotency key must be a non-empty string, not {value!r}")
    if len(value) > MAX_KEY:
        raise ValidationError(
            f"the idempotency key {value[:40]!r}… is {len(value)} characters; keep it under {MAX_KEY + 1} "
            "(hash long keys, e.g. with hashlib.sha256)"
        )
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"the text body must be a string, not {type(value).__name__}")
    return value


def _html(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"the HTML body must be a string, not {type(value).__name__}")
    return value


def _subject(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"the subject must be a string, not {type(value).__name__}")
    return check_header_value(value, "the subject")


@attrs.frozen
class OutgoingMessage:
    """A message to queue, validated when made (see :meth:`crm_core.mail.Mailer.queue`).

    ``to`` is an address or a list of them, each ``"Name <addr>"`` or
    ``"addr"``. ``key`` is the idempotency key: a key already queued is
    skipped. ``sender`` defaults to ``[crm.mail] sender``.
    """

    to: tuple[str, ...] = attrs.field(converter=_to)
    subject: str = attrs.field(converter=_subject)
    text: str = attrs.field(converter=_text)
    html: str | None = attrs.field(default=None, kw_only=True, converter=_html)
    attachments: tuple[Attachment, ...] = attrs.field(default=(), kw_only=True, converter=_attachments)
    headers: tuple[tuple[str, str], ...] = attrs.field(default=None, kw_only=True, converter=_headers)
    key: str | None = attrs.field(default=None, kw_only=True, converter=_key)
    sender: str | None = attrs.field(default=None, kw_only=True, converter=_sender)
    reply_to: str | None = attrs.field(default=None, kw_only=True, converter=_reply_to)
    #: bulk mail (a survey, a newsletter): the queue adds an unsubscribe link
    #: for ``contact_id`` (from ``mailing_list``, or from all mail when None)
    bulk: bool = attrs.field(default=False, kw_only=True)
    contact_id: int | None = attrs.field(default=None, kw_only=True)
    mailing_list: str | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.bulk, bool):
            raise ValidationError(f"bulk= must be True or False, not {self.bulk!r}")
        if not self.bulk:
            if self.contact_id is not None or self.mailing_list is not None:
                raise ValidationError(
                    "contact_id= and mailing_list= name the recipient of bulk mail; pass bulk=True too"
                )
            return
        if isinstance(self.contact_id, bool) or not isinstance(self.contact_id, int):
            raise ValidationError(
                f"bulk mail needs contact_id= (the recipient's contact id, for his unsubscribe link), not {self.contact_id!r}"
            )
        if len(self.to) != 1:
            raise ValidationError(
                f"bulk mail goes to one recipient per message (his own unsubscribe link), not {len(self.to)}"
            )
        if self.mailing_list is not None and (not isinstance(self.mailing_list, str) or not self.mailing_list.strip()):
            raise ValidationError(f"mailing_list= must be a list's name or None, not {self.mailing_list!r}")
        for name, _ in self.headers:
            if name.lower() in ("list-unsubscribe", "list-unsubscribe-post"):
                raise ValidationError(
                    f"header {name!r} of bulk mail is set by the mail queue (bulk=True); leave it out"
                )


def restore_message(
    *,
    to: Iterable[str],
    subject: str,
    text: str,
    html: str | None,
    attachments: Iterable[Attachment],
    headers: Iterable[tuple[str, str]],
    key: str,
    sender: str,
    reply_to: str | None,
) -> OutgoingMessage:
    """A record from queue values that were validated when they were queued.

    Delivery rebuilds thousands of records a second; running every converter
    again would cost a sixth of the time. What could do harm if a row were
    edited by hand is still checked: a line break in a header value (the
    addresses are parsed again when the message is built).
    """
    headers = tuple(headers)
    for what, value in (("the subject", subject), *((f"header {n!r} value", v) for n, v in headers)):
        check_header_value(value, what)
    message = object.__new__(OutgoingMessage)
    for name, field_value in (
        ("to", tuple(to)),
        ("subject", subject),
        ("text", text),
        ("html", html),
        ("attachments", tuple(attachments)),
        ("headers", headers),
        ("key", key),
        ("sender", sender),
        ("reply_to", reply_to),
        # the queue has added the unsubscribe link already: the restored record is plain mail
        ("bulk", False),
        ("contact_id", None),
        ("mailing_list", None),
    ):
        object.__setattr__(message, name, field_value)
    return message


# -- building ----------------------------------------------------------------


class _Policy(Compat32):
    """compat32, with one-line ASCII headers written as they are.

    The stdlib folds every header through :class:`email.header.Header` even
    when it is short plain ASCII; skipping that triples the speed of
    building a message, and longer or non-ASCII values still fold as usual.
    """

    def fold(self, name: str, value: Any) -> str:
        folded = self._folded(name, value)
        return folded if folded is not None else super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        folded = self._folded(name, value)
        return folded.encode("ascii", "surrogateescape") if folded is not None else super().fold_binary(name, value)

    def _folded(self, name: str, value: Any) -> str | None:
        """The header line as written, for the cases this policy writes itself; None for the stdlib's folding."""
        if isinstance(value, _Folded):
            # already encoded and folded by _encode_words/_address_list
            return f"{name}: {value.replace(chr(10), self.linesep)}{self.linesep}"
        if (
            isinstance(value, str)
            and value.isascii()
            and "\n" not in value
            and "\r" not in value
            and len(name) + len(value) + 2 <= (self.max_line_length or 998)
        ):
            return f"{name}: {value}{self.linesep}"
        if isinstance(value, str) and value.isascii() and len(name) + len(value) + 2 <= 998:
            tokens = value.split(", ")
            if not any(c in t for t in tokens for c in " \t\r\n"):
                # a token or a list of tokens (List-Unsubscribe's URIs): the stdlib
                # would fold before the first one; fold between them only
                lines, line = [], f"{name}: {tokens[0]}"
                for token in tokens[1:]:
                    if len(line) + 2 + len(token) > (self.max_line_length or 998):
                        lines.append(line + ",")
                        line = " " + token
                    else:
                        line += ", " + token
                lines.append(line)
                return self.linesep.join(lines) + self.linesep
        return None


_POLICY = _Policy(linesep="\r\n")
_UTF8 = email.charset.Charset("utf-8")
_UTF8.header_encoding = email.charset.BASE64
_UTF8.body_encoding = email.charset.QP


class _Folded(str):
    """A header value this module encoded and folded itself (ASCII, "\n " between lines)."""


#: UTF-8 bytes per base64 encoded word: 45 bytes → 60 characters, 72 with
#: the =?utf-8?b?…?= wrapper, under RFC 2047's 75
_WORD_BYTES = 45


def _encode_words(value: str, name: str) -> str:
    """A non-ASCII header value as RFC 2047 encoded words, one per line.

    :class:`email.header.Header` does this too, but measures every split
    point again and again: it is most of the time spent building a
    message. Words never split a character.
    """
    words: list[str] = []
    chunk: list[str] = []
    size = 0
    # the first word shares its line with "Name: ": 12 characters of wrapper,
    # 4 base64 characters per 3 bytes
    first = max(3, (78 - len(name) - 2 - 12) // 4 * 3) if name else _WORD_BYTES
    for char in value:
        width = len(char.encode("utf-8"))
        if size + width > (first if not words else _WORD_BYTES) and chunk:
            words.append(_UTF8.header_encode("".join(chunk)))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    if chunk:
        words.append(_UTF8.header_encode("".join(chunk)))
    if len(words) == 1 and len(name) + 2 + len(words[0]) <= 78:
        return words[0]
    return _Folded("\n ".join(words))


def _header(value: str, name: str) -> str:
    return value if value.isascii() else _encode_words(value, name)


def _mailbox(address: Address) -> str:
    local, _, domain = address.addr.rpartition("@")
    addr = f"{local}@{_idna(domain)}"
    if not address.name:
        return addr
    if address.name.isascii():
        return formataddr((address.name, addr))
    # one encoded word, as formataddr() writes it: split words in a display
    # name are read back with spaces by some parsers (Python's among them)
    return f"{_UTF8.header_encode(address.name)} <{addr}>"


def _address_list(addresses: Iterable[str], name: str) -> str:
    """``To``/``From`` values, folded between addresses when the line grows long."""
    items = [_mailbox(from_normalized(a)) for a in addresses]
    text = ", ".join(items)
    if len(name) + 2 + len(text) <= 78 and "\n" not in text:
        return text
    lines: list[str] = []
    line = ""
    for item in items:
        candidate = f"{line}, {item}" if line else item
        if line and len(candidate.split("\n")[-1]) + len(name) + 2 > 78:
            lines.append(line + ",")
            line = item
        else:
            line = candidate
    lines.append(line)
    return _Folded("\n ".join(lines))


def envelope_address(text: str) -> str:
    """The bare ``local@domain`` (domain in IDNA) of a validated address."""
    address = from_normalized(text)
    local, _, domain = address.addr.rpartition("@")
    return f"{local}@{_idna(domain)}"


def _text_part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, policy=_POLICY, charset="utf-8")
    del part["MIME-Version"]  # only the top level carries it
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    if body.isascii() and all(len(line) <= 998 for line in body.split("\n")):
        part["Content-Transfer-Encoding"] = "7bit"
        part.set_payload(body)
    else:
        # binascii's quoted-printable is C code: four times faster than
        # email.quoprimime's, with the same output rules (RFC 2045)
        part["Content-Transfer-Encoding"] = "quoted-printable"
        part.set_payload(binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii"))
    return part


def build_message(
    *,
    sender: str,
    to: Iterable[str],
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Iterable[Attachment] = (),
    headers: Iterable[tuple[str, str]] = (),
    reply_to: str | None = None,
    message_id: str,
    date: dt.datetime,
) -> bytes:
    """The message as the bytes a transport sends (CRLF line ends)."""
    body: MIMEBase = _text_part(text, "plain")
    if html is not None:
        alternative = MIMEMultipart("alternative", boundary=f"=_alt_{uuid.uuid4().hex}", policy=_POLICY)
        del alternative["MIME-Version"]
        alternative.attach(body)
        alternative.attach(_text_part(html, "html"))
        body = alternative
    files = list(attachments)
    if files:
        mixed = MIMEMultipart("mixed", boundary=f"=_mix_{uuid.uuid4().hex}", policy=_POLICY)
        del mixed["MIME-Version"]
        mixed.attach(body)
        for item in files:
            maintype, _, subtype = item.content_type.partition("/")
            part = MIMENonMultipart(maintype, subtype, policy=_POLICY)
            del part["MIME-Version"]
            part.set_payload(item.content)
            email.encoders.encode_base64(part)
            if item.filename.isascii():
                part.add_header("Content-Disposition", "attachment", filename=item.filename)
            else:
                part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", item.filename))
            mixed.attach(part)
        body = mixed
    message = body
    # top-level headers first in the output: build them on a fresh list
    top = [
        ("From", _address_list([sender], "From")),
        ("To", _address_list(to, "To")),
        ("Subject", _header(subject, "Subject")),
        ("Date", format_datetime(date.astimezone(dt.UTC))),
        ("Message-ID", message_id),
        ("MIME-Version", "1.0"),
    ]
    if reply_to:
        top.append(("Reply-To", _address_list([reply_to], "Reply-To")))
    top += [(name, _header(value, name)) for name, value in headers]
    existing = list(message.items())
    for name in {n for n, _ in existing}:
        del message[name]
    for name, value in top + existing:
        message[name] = value
    return message.as_bytes(policy=_POLICY)
