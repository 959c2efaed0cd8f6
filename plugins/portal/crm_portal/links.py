"""The portal's signed links: one-click unsubscribe and sign-up confirmation.

::

    unsubscribe   <contact>-<list>.<signature>             list 0: from everything
    confirmation  <signup>-<expires>-<nonce>.<signature>

Numbers are base 36 (``expires`` in Unix seconds, UTC); ``nonce`` is the 24
hex digits stored with the sign-up, which makes its link single-use; the
signature is the HMAC-SHA256 of the purpose and the rest under the portal's
secret, cut to 128 bits, base64url. Nothing in a link is secret and nothing
can be changed without the secret: another contact's id or another list
makes the signature wrong.

The errors, each with the HTTP status the portal answers with::

    LinkError (ValidationError)     code        http
    ├── ForgedLinkError             forged      403   damaged, changed, or signed with another secret
    ├── ExpiredLinkError            expired     410   past its time
    ├── UsedLinkError               used        410   already used (a confirmation)
    └── UnknownLinkError            unknown     404   names nothing here any more
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets as _secrets
from typing import TYPE_CHECKING

import attrs

from crm_core.errors import ConfigError, ValidationError

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = [
    "ConfirmClaims",
    "ExpiredLinkError",
    "ForgedLinkError",
    "LinkError",
    "UnknownLinkError",
    "UsedLinkError",
    "derive_key",
    "make_confirm_token",
    "make_unsubscribe_token",
    "new_nonce",
    "read_confirm_token",
    "read_unsubscribe_token",
    "secret",
]

SECRET_KEY = "plugins.portal.secret"
MIN_SECRET = 16
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_UNSUBSCRIBE = re.compile(r"([0-9a-z]{1,13})-([0-9a-z]{1,13})\.([A-Za-z0-9_-]{22})\Z")
_CONFIRM = re.compile(r"([0-9a-z]{1,13})-([0-9a-z]{1,13})-([0-9a-f]{24})\.([A-Za-z0-9_-]{22})\Z")


class LinkError(ValidationError):
    """A portal link was refused; ``code`` and ``http_status`` say how."""

    code = "invalid"
    http_status = 400


class ForgedLinkError(LinkError):
    code = "forged"
    http_status = 403


class ExpiredLinkError(LinkError):
    code = "expired"
    http_status = 410


class UsedLinkError(LinkError):
    code = "used"
    http_status = 410


class UnknownLinkError(LinkError):
    code = "unknown"
    http_status = 404


def secret(crm: CRM) -> bytes:
    """The portal's key: ``plugins.portal.secret``, or one made once and kept in ``portal_secret``."""
    configured = crm.settings("portal").secret
    if configured:
        if len(configured) < MIN_SECRET:
            raise ConfigError(f"{SECRET_KEY} is {len(configured)} characters long; use at least {MIN_SECRET} random characters")
        return configured.encode("utf-8")
    from crm_portal.models import Secret

    with crm.activate():
        row = Secret.get_or_none(Secret.name == "portal")
        if row is None:
            with crm.transaction():
                # two workers starting at once: the first insert wins, both read it back
                Secret.insert(name="portal", value=_secrets.token_urlsafe(32), created_at=crm.clock.now()).on_conflict_ignore().execute()
            row = Secret.get(Secret.name == "portal")
    return row.value.encode("utf-8")


def derive_key(key: bytes, purpose: str) -> bytes:
    """A key for one use (sessions, CSRF, previews), so one leaked use does not sign the others."""
    return hmac.new(key, b"crm-portal-key:" + purpose.encode("ascii"), hashlib.sha256).digest()


def new_nonce() -> str:
    return _secrets.token_hex(12)


def _b36(number: int) -> str:
    if number < 0:
        raise ValueError("link numbers are not negative")
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = _B36[rest] + out
        if not number:
            return out


def _signature(key: bytes, purpose: bytes, payload: str) -> str:
    digest = hmac.new(key, purpose + b":" + payload.encode("ascii"), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _check(key: bytes, purpose: bytes, payload: str, signature: str) -> None:
    if not hmac.compare_digest(_signature(key, purpose, payload), signature):
        raise ForgedLinkError("the link's signature does not match: it was changed, cut, or made for another site")


# -- unsubscribe --------------------------------------------------------------


def make_unsubscribe_token(key: bytes, contact_id: int, list_id: int | None) -> str:
    payload = f"{_b36(int(contact_id))}-{_b36(int(list_id or 0))}"
    return f"{payload}.{_signature(key, b'unsubscribe', payload)}"


def read_unsubscribe_token(key: bytes, token: str) -> tuple[int, int | None]:
    """``(contact id, list id or None for everything)``; raises :class:`ForgedLinkError`."""
    match = _UNSUBSCRIBE.match((token or "").strip())
    if match is None:
        raise ForgedLinkError("the link is damaged or cut short; open the whole link from the e-mail")
    contact, list_id, signature = match.groups()
    _check(key, b"unsubscribe", f"{contact}-{list_id}", signature)
    return int(contact, 36), (int(list_id, 36) or None)


# -- sign-up confirmation -------------------------------------------------------


@attrs.frozen
class ConfirmClaims:
    signup_id: int
    expires_at: dt.datetime
    nonce: str


def make_confirm_token(key: bytes, signup_id: int, expires_at: dt.datetime, nonce: str) -> str:
    payload = f"{_b36(int(signup_id))}-{_b36(int(expires_at.timestamp()))}-{nonce}"
    return f"{payload}.{_signature(key, b'confirm', payload)}"


def read_confirm_token(key: bytes, token: str, now: dt.datetime | None) -> ConfirmClaims:
    """What a confirmation link says, checked for signature and expiry (single use is the caller's).

    ``now=None`` skips the expiry: what an expired link was made for (its
    sign-up's language, for the page that refuses it).
    """
    match = _CONFIRM.match((token or "").strip())
    if match is None:
        raise ForgedLinkError("the link is damaged or cut short; open the whole link from the e-mail")
    signup, expires, nonce, signature = match.groups()
    _check(key, b"confirm", f"{signup}-{expires}-{nonce}", signature)
    claims = ConfirmClaims(int(signup, 36), dt.datetime.fromtimestamp(int(expires, 36), dt.timezone.utc), nonce)
    if now is not None and now >= claims.expires_at:
        raise ExpiredLinkError(f"the confirmation link expired on {claims.expires_at:%Y-%m-%d %H:%M} UTC")
    return claims
