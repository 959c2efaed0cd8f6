"""Self-service update tokens: the signed text in a link, and the errors a holder can meet.

A token binds one contact, the fields he may change and an expiry time::

    <contact>-<expires>-<fields>-<nonce>.<signature>

``contact`` and ``expires`` (Unix seconds, UTC) are base 36, ``fields`` a
base-36 bit mask over :data:`~crm_contacts.settings.SELF_SERVICE_FIELDS`,
``nonce`` 24 hex digits naming the stored ``contacts_update_token`` row
(which makes it single-use and revocable), and ``signature`` the
HMAC-SHA256 of the rest under the configured secret, base64url without
padding. Nothing in it is secret; nothing can be changed without the secret.

The errors form one family, each with a stable ``code`` and the HTTP status
a web portal should answer with::

    SelfServiceError (ValidationError)     code            http
    ├── ForgedTokenError                   forged          403   damaged, cut short, or signed with another secret
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
import secrets

import attrs

from crm_core.errors import ConfigError, ValidationError

from crm_contacts.settings import SELF_SERVICE_FIELDS

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
    "secret_bytes",
]

#: the configuration key of the secret, for messages
SECRET_KEY = "plugins.contacts.self_service.secret"
#: shortest secret accepted: 16 characters (a guessable key makes every link forgeable)
MIN_SECRET = 16
_PURPOSE = b"crm-contacts-update:"
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_SHAPE = re.compile(r"([0-9a-z]{1,13})-([0-9a-z]{1,13})-([0-9a-z]{1,13})-([0-9a-f]{24})\.([A-Za-z0-9_-]{43})\Z")


class SelfServiceError(ValidationError):
    """A self-service token or change was refused; ``code`` and ``http_status`` say how."""

    code = "invalid"
    http_status = 400


class ForgedTokenError(SelfServiceError):
    """The token is damaged or its signature does not match (changed, forged, or an old secret)."""

    code = "forged"
    http_status = 403


class ExpiredTokenError(SelfServiceError):
    """The token's time is over; ``expires_at`` says when it ended."""

    code = "expired"
    http_status = 410

    def __init__(self, message: str, expires_at: dt.datetime) -> None:
        super().__init__(message)
        self.expires_at = expires_at


class UsedTokenError(SelfServiceError):
    """The token was already used to submit a change; ``used_at`` says when."""

    code = "used"
    http_status = 410

    def __init__(self, message: str, used_at: dt.datetime | None) -> None:
        super().__init__(message)
        self.used_at = used_at


class UnknownTokenError(SelfServiceError):
    """The token is correctly signed but names nothing here: revoked, another database, or its contact is gone."""

    code = "unknown"
    http_status = 404


class OutOfScopeError(SelfServiceError):
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


def secret_bytes(secret: str) -> bytes:
    """The configured secret as a key; a clear ConfigError when it is missing or too short."""
    if not secret:
        raise ConfigError(
            f"{SECRET_KEY} is not set: self-service links need a secret to sign them; "
            f'set it in [plugins.contacts.self_service] (secret = "env:CRM_CONTACTS_SECRET" reads it from the environment)'
        )
    if len(secret) < MIN_SECRET:
        raise ConfigError(f"{SECRET_KEY} is {len(secret)} characters long; use at least {MIN_SECRET} random characters")
    return secret.encode("utf-8")


def new_nonce() -> str:
    """96 random bits, as the 24 hex digits a token and its stored row share."""
    return secrets.token_hex(12)


def _b36(number: int) -> str:
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = _B36[rest] + out
        if not number:
            return out


def _mask(fields: tuple[str, ...]) -> int:
    return sum(1 << SELF_SERVICE_FIELDS.index(f) for f in fields)


def _signature(secret: bytes, payload: str) -> str:
    digest = hmac.new(secret, _PURPOSE + payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def make_token(secret: bytes, contact_id: int, fields: tuple[str, ...], expires_at: dt.datetime, nonce: str) -> str:
    """The token text for a stored update link."""
    payload = f"{_b36(contact_id)}-{_b36(int(expires_at.timestamp()))}-{_b36(_mask(fields))}-{nonce}"
    return f"{payload}.{_signature(secret, payload)}"


def read_token(secret: bytes, token: str) -> TokenClaims:
    """What ``token`` says, once its signature is checked; raises :class:`ForgedTokenError` otherwise.

    Expiry and single use are checked by the caller (they need the clock
    and the database).
    """
    text = (token or "").strip()
    match = _SHAPE.match(text)
    if match is None:
        raise ForgedTokenError("this update link is not valid: it is damaged or cut short; open the whole link from the message")
    contact, expires, mask, nonce, signature = match.groups()
    payload = text.rpartition(".")[0]
    if not hmac.compare_digest(_signature(secret, payload), signature):
        raise ForgedTokenError("this update link is not valid: its signature does not match (it was changed, forged, or made with an old secret)")
    bits = int(mask, 36)
    fields = tuple(f for i, f in enumerate(SELF_SERVICE_FIELDS) if bits & (1 << i))
    if not fields or bits >> len(SELF_SERVICE_FIELDS):
        raise ForgedTokenError("this update link is not valid: the fields it names are not known here")
    return TokenClaims(
        contact_id=int(contact, 36),
        expires_at=dt.datetime.fromtimestamp(int(expires, 36), dt.timezone.utc),
        fields=fields,
        nonce=nonce,
    )
