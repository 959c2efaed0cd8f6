"""Forgotten passwords: ``crm.authz.resets``, a signed, expiring, single-use link per request.

A reset token is signed by the kernel's link signer (purpose
``auth.password-reset``) and carries the user's id, an expiry and a
fingerprint of the user's current password hash. Setting a password
changes the hash, so a token works once (and every older token of the user
dies with it) without a table of tokens. Requests are limited per user
(:data:`MAX_REQUESTS_PER_HOUR`), so that nobody can fill a mailbox with
reset mails; each request and each reset is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import TYPE_CHECKING

import attrs

from crm_core.signing import UnknownLinkError, UsedLinkError
from crm_hookspecs.records import UserInfo

if TYPE_CHECKING:
    from crm_core.auth.authz import Authz
    from crm_core.auth.models import User
    from crm_core.context import AppContext

__all__ = ["MAX_REQUESTS_PER_HOUR", "PURPOSE", "PasswordResets", "ResetToken"]

PURPOSE = "auth.password-reset"
#: reset links issued per user and hour; more requests are refused quietly
MAX_REQUESTS_PER_HOUR = 3
_WHAT = "password reset link"


@attrs.frozen
class ResetToken:
    """A reset link's token for ``user`` (give it only to the user's e-mail address), and when it stops working."""

    token: str = attrs.field(repr=False)
    user: UserInfo
    expires_at: dt.datetime


def _fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256(("reset:" + (password_hash or "")).encode("utf-8")).hexdigest()[:20]


class PasswordResets:
    """Issue and redeem password reset tokens."""

    def __init__(self, app: AppContext, authz: Authz) -> None:
        self._app = app
        self._authz = authz

    def _find(self, login: str) -> User | None:
        from crm_core.auth.models import User

        text = (login or "").strip()
        if not text:
            return None
        with self._app.activate():
            row = User.get_or_none(User.name_key == text.casefold())
            if row is None and "@" in text:
                row = User.select().where(User.email == text).order_by(User.id).first()
        return row

    def _recent_requests(self, user_id: int) -> int:
        from crm_core.auth.models import SecurityAudit as A

        since = self._app.clock.now() - dt.timedelta(hours=1)
        with self._app.activate():
            count: int = (
                A.select()
                .where((A.action == "password.reset_requested") & (A.user_id == user_id) & (A.occurred_at >= since))
                .count()
            )
        return count

    def issue(self, login: str, *, minutes: int = 60, address: str | None = None) -> ResetToken | None:
        """A token for the active user named ``login`` (or with that e-mail address) who has an e-mail address.

        ``None`` when there is no such user, or when the user asked
        :data:`MAX_REQUESTS_PER_HOUR` times within the hour: a web page
        answers the same in every case, so that it does not tell who has an
        account.
        """
        from crm_core.signing import signer

        row = self._find(login)
        if row is None or not row.active or not row.email:
            return None
        if self._recent_requests(row.id) >= MAX_REQUESTS_PER_HOUR:
            self._authz.audit.record(
                "password.reset_refused",
                user_id=row.id,
                user_name=row.name,
                address=address,
                detail={"reason": "limit"},
            )
            return None
        expires_at = self._app.clock.now() + dt.timedelta(minutes=minutes)
        token = signer(self._app, PURPOSE).sign([row.id, _fingerprint(row.password_hash)], expires_at=expires_at)
        self._authz.audit.record(
            "password.reset_requested", user_id=row.id, user_name=row.name, address=address, detail={"minutes": minutes}
        )
        return ResetToken(token, self._authz.users.get(row.id), expires_at)

    def check(self, token: str) -> UserInfo:
        """The user a token may reset the password of; raises a :class:`~crm_core.signing.LinkError` otherwise.

        ``ForgedLinkError`` (damaged), ``ExpiredLinkError``, ``UsedLinkError``
        (used, or the password changed since it was issued) or
        ``UnknownLinkError`` (the user is gone or disabled).
        """
        from crm_core.auth.models import User
        from crm_core.signing import signer

        values, _expires = signer(self._app, PURPOSE).read(token, now=self._app.clock.now(), what=_WHAT)
        if len(values) != 2 or not isinstance(values[0], int):
            raise UnknownLinkError(f"this {_WHAT} names no user; ask for a new one")
        with self._app.activate():
            row = User.get_or_none(User.id == values[0])
        if row is None or not row.active:
            raise UnknownLinkError(f"this {_WHAT} is for a user who no longer exists or is disabled")
        if not hmac.compare_digest(str(values[1]), _fingerprint(row.password_hash)):
            raise UsedLinkError(f"this {_WHAT} was already used, or the password changed since; ask for a new one")
        return self._authz.users.get(row.id)

    def redeem(self, token: str, password: str, *, address: str | None = None) -> UserInfo:
        """Set the password of the token's user (checked against the policy); the token stops working.

        Every session of the user ends, as with any password change.
        """
        user = self.check(token)
        with self._authz.as_user(user):
            self._authz.users.set_password(user.id, password)
        self._authz.audit.record("password.reset", user_id=user.id, user_name=user.name, address=address)
        return user
