"""Signed links: one key store, one signer per purpose, one error family.

Every link the CRM puts in an e-mail or a letter (a self-service update
link, a survey invitation, an unsubscribe or sign-up confirmation link) is
signed here, so that all of them follow one policy:

* **One key.** ``[crm] secret`` in the configuration (at least
  :data:`MIN_SECRET` characters; ``"env:CRM_SECRET"`` reads it from the
  environment), or, when it is empty, a random key made once and kept in the
  kernel's ``crm_secret`` table. Each *purpose* gets its own key derived
  from it (itsdangerous' salt), so a signature made for one kind of link is
  never accepted for another.
* **One format.** :class:`LinkSigner` signs a short list of numbers and
  strings with itsdangerous (``URLSafeSerializer``, HMAC-SHA256): the text is
  base64url JSON, a dot and the signature. An expiry, when the link has one,
  travels inside the signed values and is checked on reading.
* **One error family**, each with a stable ``code`` and the HTTP status a web
  app answers with::

      LinkError (ValidationError)     code          http
      ├── ForgedLinkError             forged        403   damaged, changed, or signed with another key
      ├── ExpiredLinkError            expired       410   past its time (``expires_at``)
      ├── UsedLinkError               used          410   single-use and already used (``used_at``)
      ├── UnknownLinkError            unknown       404   names nothing here any more
      └── OutOfScopeLinkError         out_of_scope  403   asks for something the link does not cover

Links signed before this module existed (each plugin had its own format and
key) are still read by the plugin that issued them, for as long as such a
link can live; ``docs/security.md`` says how long for each kind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets as _secrets
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from crm_core.errors import ConfigError, ValidationError

if TYPE_CHECKING:
    from crm_core.context import AppContext

__all__ = [
    "ExpiredLinkError",
    "ForgedLinkError",
    "LinkError",
    "LinkSigner",
    "MIN_SECRET",
    "OutOfScopeLinkError",
    "UnknownLinkError",
    "UsedLinkError",
    "derive_key",
    "legacy_key",
    "new_nonce",
    "secret_key",
    "signer",
]

#: shortest configured secret accepted: 32 characters (a guessable key makes every link forgeable)
MIN_SECRET = 32
#: the configuration key of the secret, for messages
SECRET_CONFIG_KEY = "crm.secret"
#: the ``crm_secret`` row of the generated key
_KERNEL_ROW = "signing"

_keys: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()


class LinkError(ValidationError):
    """A signed link was refused; ``code`` and ``http_status`` say how."""

    code = "invalid"
    http_status = 400


class ForgedLinkError(LinkError):
    """The link is damaged, cut short, changed, or signed with another key."""

    code = "forged"
    http_status = 403


class ExpiredLinkError(LinkError):
    """The link's time is over; ``expires_at`` says when it ended (when known)."""

    code = "expired"
    http_status = 410

    def __init__(self, message: str, expires_at: dt.datetime | None = None) -> None:
        super().__init__(message)
        self.expires_at = expires_at


class UsedLinkError(LinkError):
    """A single-use link was already used; ``used_at`` says when (when known)."""

    code = "used"
    http_status = 410

    def __init__(self, message: str, used_at: dt.datetime | None = None) -> None:
        super().__init__(message)
        self.used_at = used_at


class UnknownLinkError(LinkError):
    """The link is correctly signed but names nothing here: withdrawn, another database, or erased."""

    code = "unknown"
    http_status = 404


class OutOfScopeLinkError(LinkError):
    """The link is valid but does not cover what was asked (another survey, a field it does not allow)."""

    code = "out_of_scope"
    http_status = 403


def new_nonce() -> str:
    """96 random bits as 24 hex digits: what a single-use link and its stored row share."""
    return _secrets.token_hex(12)


def secret_key(crm: AppContext) -> bytes:
    """The app's signing key: ``[crm] secret``, or the generated one kept in ``crm_secret``.

    Read once per app. Raises :class:`ConfigError` for a configured secret
    shorter than :data:`MIN_SECRET` characters.
    """
    cached = _keys.get(crm)
    if cached is not None:
        return cached
    configured = crm.config.core.secret
    if configured:
        if len(configured) < MIN_SECRET:
            raise ConfigError(
                f"{SECRET_CONFIG_KEY} is {len(configured)} characters long; use at least {MIN_SECRET} random characters "
                '(python -c "import secrets; print(secrets.token_urlsafe(32))" makes one), or leave it empty '
                "to let the CRM make and keep one in its database"
            )
        key = configured.encode("utf-8")
    else:
        key = _stored(crm, _KERNEL_ROW, create=True) or b""
    _keys[crm] = key
    return key


def legacy_key(crm: AppContext, name: str) -> bytes | None:
    """A key a plugin made before the kernel kept one (``surveys``, ``portal``), if this database has it.

    The plugins' own secret tables were moved into ``crm_secret`` by their
    migrations; links and paper codes made with those keys stay readable.
    """
    return _stored(crm, f"legacy:{name}", create=False)


def _stored(crm: AppContext, name: str, *, create: bool) -> bytes | None:
    from crm_core.models import Secret

    with crm.activate():
        row = Secret.get_or_none(Secret.name == name)
        if row is None and create:
            with crm.transaction():
                # two processes starting at once: the first insert wins, both read it back
                Secret.insert(
                    name=name, value=_secrets.token_urlsafe(32), created_at=crm.clock.now()
                ).on_conflict_ignore().execute()
            row = Secret.get(Secret.name == name)
    return None if row is None else row.value.encode("utf-8")


def derive_key(key: bytes, purpose: str) -> bytes:
    """A key for one use (sessions, CSRF, previews, paper codes), so that one leaked use signs nothing else."""
    return hmac.new(key, b"crm-key:" + purpose.encode("utf-8"), hashlib.sha256).digest()


class LinkSigner:
    """Signs and reads the values of one kind of link (``purpose``) under one key."""

    def __init__(self, key: bytes, purpose: str) -> None:
        from itsdangerous import URLSafeSerializer

        self.purpose = purpose
        self._serializer = URLSafeSerializer(
            key, salt=f"crm-link:{purpose}", signer_kwargs={"digest_method": hashlib.sha256}
        )

    def sign(self, values: Sequence[int | str], *, expires_at: dt.datetime | None = None) -> str:
        """The link text for ``values``; with ``expires_at`` the link stops working then."""
        payload: list[Any] = list(values)
        payload.append(None if expires_at is None else int(expires_at.timestamp()))
        return str(self._serializer.dumps(payload))

    def read(
        self, token: str, *, now: dt.datetime | None = None, what: str = "link"
    ) -> tuple[list[Any], dt.datetime | None]:
        """The values a link carries and its expiry, once the signature (and, given ``now``, the expiry) are checked.

        Raises :class:`ForgedLinkError` or :class:`ExpiredLinkError`, whose
        messages start with ``what`` ("this survey link …").
        """
        from itsdangerous import BadData

        text = (token or "").strip()
        try:
            payload = self._serializer.loads(text)
        except BadData:
            raise ForgedLinkError(
                f"this {what} is not valid: it is damaged, cut short, or was changed; open the whole link from the message"
            ) from None
        if not isinstance(payload, list) or not payload or not (payload[-1] is None or isinstance(payload[-1], int)):
            raise ForgedLinkError(f"this {what} is not valid: it was not made for this purpose")
        *values, expires = payload
        expires_at = None if expires is None else dt.datetime.fromtimestamp(expires, dt.UTC)
        if expires_at is not None and now is not None and now >= expires_at:
            raise ExpiredLinkError(
                f"this {what} expired on {expires_at:%Y-%m-%d %H:%M} UTC; ask us for a new one", expires_at
            )
        return values, expires_at


def signer(crm: AppContext, purpose: str) -> LinkSigner:
    """The app's :class:`LinkSigner` for ``purpose`` (``"contacts.update"``, ``"surveys.answer"``…)."""
    return LinkSigner(secret_key(crm), purpose)
