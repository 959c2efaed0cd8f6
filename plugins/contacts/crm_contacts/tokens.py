"""Self-service update tokens: the signed text in a link, and the errors a holder can meet.

A token binds one contact, the fields he may change, an expiry time and a
nonce naming the stored ``contacts_update_token`` row (which makes it
single-use and revocable). It is signed by the kernel's link signer
(:mod:`crm_core.signing`, purpose ``contacts.update``) under the app's key.
Nothing in it is secret; nothing can be changed without the key.

Links issued before the kernel signed links had their own shape
(``<contact>-<expires>-<fields>-<nonce>.<signature>``, HMAC-SHA256 under
``plugins.contacts.self_service.secret``); they are read as before while
that setting is kept, for at most their life of 90 days.

The errors form one family, each with a stable ``code`` and the HTTP status
a web portal should answer with; each is also the kernel's error of the
same code (``ForgedTokenError`` is a :class:`crm_core.signing.ForgedLinkError`)::

    SelfServiceError (LinkError)           code            http
    ├── ForgedTokenError                   forged          403   damaged, cut short, or signed with another key
    ├── ExpiredTokenError                  expired         410   past its expiry time
    ├── UsedTokenError                     used            410   already submitted once
    ├── UnknownTokenError                  unknown         404   revoked, from another database, or its contact is gone
    ├── OutOfScopeError                    out_of_scope    403   a field the link does not let its holder change
    └── InvalidChangeError                 invalid         422   a submitted value is not valid (``field`` names it)
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re

import attrs

from crm_contacts.settings import SELF_SERVICE_FIELDS
from crm_core.signing import (
    ExpiredLinkError,
    ForgedLinkError,
    LinkError,
    LinkSigner,
    OutOfScopeLinkError,
    UnknownLinkError,
    UsedLinkError,
    new_nonce,
)

__all__ = [
    "ExpiredTokenError",
    "ForgedTokenError",
    "InvalidChangeError",
    "OutOfScopeError",
    "SECRET_KEY",
    "SelfServiceError",
    "TokenClaims",
    "UnknownTokenError",
    "UsedTokenError",
    "make_token",
    "new_nonce",
    "read_token",
    "legacy_secret",
]

#: the configuration key of the secret, for messages
SECRET_KEY = "plugins.contacts.self_service.secret"
#: the kernel signer's purpose for update links
PURPOSE = "contacts.update"
_PURPOSE = b"crm-contacts-update:"
_LEGACY_SHAPE = re.compile(r"([0-9a-z]{1,13})-([0-9a-z]{1,13})-([0-9a-z]{1,13})-([0-9a-f]{24})\.([A-Za-z0-9_-]{43})\Z")


class SelfServiceError(LinkError):
    """A self-service token or change was refused; ``code`` and ``http_status`` say how."""

    code = "invalid"
    http_status = 400


class ForgedTokenError(SelfServiceError, ForgedLinkError):
    """The token is damaged or its signature does not match (changed, forged, or an old secret)."""

    code = "forged"
    http_status = 403


class ExpiredTokenError(SelfServiceError, ExpiredLinkError):
    """The token's time is over; ``expires_at`` says when it ended."""

    code = "expired"
    http_status = 410


class UsedTokenError(SelfServiceError, UsedLinkError):
    """The token was already used to submit a change; ``used_at`` says when."""

    code = "used"
    http_status = 410


class UnknownTokenError(SelfServiceError, UnknownLinkError):
    """The token is correctly signed but names nothing here: revoked, another database, or its contact is gone."""

    code = "unknown"
    http_status = 404


class OutOfScopeError(SelfServiceError, OutOfScopeLinkError):
    """The change names fields the token does not cover; ``fields`` lists them, ``allowed`` what it covers."""

    code = "out_of_scope"
    http_status = 403

    def __init__(self, message: str, fields: tuple[str, ...], allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.fields = fields
        self.allowed = allowed


class InvalidChangeError(SelfServiceError):
    """A submitted value cannot be stored; ``field`` names it and ``reason`` says why."""

    code = "invalid"
    http_status = 422

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@attrs.frozen
class TokenClaims:
    """What a correctly signed token says."""

    contact_id: int
    expires_at: dt.datetime
    fields: tuple[str, ...]
    nonce: str


def legacy_secret(secret: str) -> bytes | None:
    """The deprecated ``plugins.contacts.self_service.secret``, kept only to read links issued with it."""
    return secret.encode("utf-8") if secret else None


def _mask(fields: tuple[str, ...]) -> int:
    return sum(1 << SELF_SERVICE_FIELDS.index(f) for f in fields)


def _legacy_signature(secret: bytes, payload: str) -> str:
    digest = hmac.new(secret, _PURPOSE + payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def make_token(key: bytes, contact_id: int, fields: tuple[str, ...], expires_at: dt.datetime, nonce: str) -> str:
    """The token text for a stored update link, signed with the app's key (:func:`crm_core.signing.secret_key`)."""
    return LinkSigner(key, PURPOSE).sign([contact_id, _mask(fields), nonce], expires_at=expires_at)


def _fields(bits: int) -> tuple[str, ...]:
    fields = tuple(f for i, f in enumerate(SELF_SERVICE_FIELDS) if bits & (1 << i))
    if not fields or bits >> len(SELF_SERVICE_FIELDS):
        raise ForgedTokenError("this update link is not valid: the fields it names are not known here")
    return fields


def read_token(key: bytes, token: str, legacy: bytes | None = None) -> TokenClaims:
    """What ``token`` says, once its signature is checked; raises :class:`ForgedTokenError` otherwise.

    ``legacy`` is the old per-plugin secret, to read links issued before the
    kernel signed them. Expiry and single use are checked by the caller
    (they need the clock and the database).
    """
    text = (token or "").strip()
    match = _LEGACY_SHAPE.match(text)
    if match is not None:
        return _read_legacy(legacy, text, match)
    try:
        values, expires_at = LinkSigner(key, PURPOSE).read(text, what="update link")
    except ForgedLinkError as exc:
        raise ForgedTokenError(str(exc)) from None
    try:
        contact_id, bits, nonce = values
        if not (
            isinstance(contact_id, int) and isinstance(bits, int) and isinstance(nonce, str) and expires_at is not None
        ):
            raise ValueError
    except ValueError:
        raise ForgedTokenError("this update link is not valid: it was not made for updating details") from None
    return TokenClaims(contact_id=contact_id, expires_at=expires_at, fields=_fields(bits), nonce=nonce)


def _read_legacy(legacy: bytes | None, text: str, match: re.Match[str]) -> TokenClaims:
    if legacy is None:
        raise ForgedTokenError(
            "this update link is not valid: it was made with a key this CRM no longer has; ask us for a new one"
        )
    contact, expires, mask, nonce, signature = match.groups()
    payload = text.rpartition(".")[0]
    if not hmac.compare_digest(_legacy_signature(legacy, payload), signature):
        raise ForgedTokenError(
            "this update link is not valid: its signature does not match (it was changed, forged, or made with an old secret)"
        )
    return TokenClaims(
        contact_id=int(contact, 36),
        expires_at=dt.datetime.fromtimestamp(int(expires, 36), dt.UTC),
        fields=_fields(int(mask, 36)),
        nonce=nonce,
    )
