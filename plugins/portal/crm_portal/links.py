"""The portal's signed links: one-click unsubscribe and sign-up confirmation.

Both are signed by the kernel's link signer (:mod:`crm_core.signing`, purposes
``portal.unsubscribe`` and ``portal.confirm``) under the app's key:
nothing in a link is secret and nothing can be changed without the key;
another contact's id or another list makes the signature wrong. An
unsubscribe link names a contact and a list (0: everything) and does not
expire; a confirmation link names a sign-up and the nonce stored with it
(which makes it single-use) and expires.

Links the portal signed before the kernel did (``<contact>-<list>.<signature>``
and ``<signup>-<expires>-<nonce>.<signature>``, HMAC-SHA256 under
``plugins.portal.secret`` or the key the portal made itself) are still read:
unsubscribe links never expire, and a person must always be able to use the
one in an old e-mail.

The errors are the kernel's (:mod:`crm_core.signing`), each with the HTTP
status the portal answers with::

    LinkError (ValidationError)     code        http
    ├── ForgedLinkError             forged      403   damaged, changed, or signed with another key
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
from typing import TYPE_CHECKING

import attrs

from crm_core.signing import (
    ExpiredLinkError,
    ForgedLinkError,
    LinkError,
    LinkSigner,
    UnknownLinkError,
    UsedLinkError,
    derive_key,
    legacy_key,
    new_nonce,
    secret_key,
)

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
    "legacy",
    "make_confirm_token",
    "make_unsubscribe_token",
    "new_nonce",
    "read_confirm_token",
    "read_unsubscribe_token",
    "secret",
]

_LEGACY_UNSUBSCRIBE = re.compile(r"([0-9a-z]{1,13})-([0-9a-z]{1,13})\.([A-Za-z0-9_-]{22})\Z")
_LEGACY_CONFIRM = re.compile(r"([0-9a-z]{1,13})-([0-9a-z]{1,13})-([0-9a-f]{24})\.([A-Za-z0-9_-]{22})\Z")


def secret(crm: CRM) -> bytes:
    """The app's signing key (:func:`crm_core.signing.secret_key`); sessions and CSRF derive theirs from it."""
    return secret_key(crm)


def legacy(crm: CRM) -> bytes | None:
    """The key the portal signed links with before the kernel did: ``plugins.portal.secret``, or the one it made."""
    configured = crm.settings("portal").secret
    return configured.encode("utf-8") if configured else legacy_key(crm, "portal")


def _legacy_check(key: bytes | None, purpose: bytes, payload: str, signature: str) -> None:
    if key is None:
        raise ForgedLinkError("the link was made with a key this site no longer has; ask us for a new one")
    digest = hmac.new(key, purpose + b":" + payload.encode("ascii"), hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"), signature):
        raise ForgedLinkError("the link's signature does not match: it was changed, cut, or made for another site")


def _ints(values: list[object], count: int) -> list[int]:
    numbers = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and v >= 0]
    if len(values) != count or len(numbers) != count:
        raise ForgedLinkError("the link was not made for this page; open the whole link from the e-mail")
    return numbers


# -- unsubscribe --------------------------------------------------------------


def make_unsubscribe_token(key: bytes, contact_id: int, list_id: int | None) -> str:
    return LinkSigner(key, "portal.unsubscribe").sign([int(contact_id), int(list_id or 0)])


def read_unsubscribe_token(key: bytes, token: str, legacy: bytes | None = None) -> tuple[int, int | None]:
    """``(contact id, list id or None for everything)``; raises :class:`ForgedLinkError`."""
    text = (token or "").strip()
    match = _LEGACY_UNSUBSCRIBE.match(text)
    if match is not None:
        contact, list_id, signature = match.groups()
        _legacy_check(legacy, b"unsubscribe", f"{contact}-{list_id}", signature)
        return int(contact, 36), (int(list_id, 36) or None)
    values, _ = LinkSigner(key, "portal.unsubscribe").read(text, what="unsubscribe link")
    contact_id, list_number = _ints(values, 2)
    return contact_id, (list_number or None)


# -- sign-up confirmation -------------------------------------------------------


@attrs.frozen
class ConfirmClaims:
    signup_id: int
    expires_at: dt.datetime
    nonce: str


def make_confirm_token(key: bytes, signup_id: int, expires_at: dt.datetime, nonce: str) -> str:
    return LinkSigner(key, "portal.confirm").sign([int(signup_id), nonce], expires_at=expires_at)


def read_confirm_token(key: bytes, token: str, now: dt.datetime | None, legacy: bytes | None = None) -> ConfirmClaims:
    """What a confirmation link says, checked for signature and expiry (single use is the caller's).

    ``now=None`` skips the expiry: what an expired link was made for (its
    sign-up's language, for the page that refuses it).
    """
    text = (token or "").strip()
    match = _LEGACY_CONFIRM.match(text)
    if match is not None:
        signup, expires, nonce, signature = match.groups()
        _legacy_check(legacy, b"confirm", f"{signup}-{expires}-{nonce}", signature)
        claims = ConfirmClaims(int(signup, 36), dt.datetime.fromtimestamp(int(expires, 36), dt.UTC), nonce)
    else:
        values, expires_at = LinkSigner(key, "portal.confirm").read(text, what="confirmation link")
        if len(values) != 2 or not isinstance(values[1], str) or expires_at is None:
            raise ForgedLinkError("the link was not made for confirming a sign-up; open the whole link from the e-mail")
        (signup_id,) = _ints(values[:1], 1)
        claims = ConfirmClaims(signup_id, expires_at, values[1])
    if now is not None and now >= claims.expires_at:
        raise ExpiredLinkError(
            f"the confirmation link expired on {claims.expires_at:%Y-%m-%d %H:%M} UTC", claims.expires_at
        )
    return claims
