"""Sign-in, its limits, server-side sessions and two-factor codes: ``crm.authz.sessions``.

Failed sign-ins are rows of ``crm_signin_failure``, so the limit holds
across processes and restarts. After ``signin_max_failures`` failures of one
user name within an hour (``signin_address_max_failures`` from one
address), each further try must wait 30 seconds after the last failure,
doubling with each failure up to 15 minutes; a successful sign-in clears the
user name's failures.

A session key is 256 random bits given to the client once; the table keeps
its SHA-256, so a copy of the database does not hold usable sessions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.errors import AuthenticationError, TwoFactorRequired, UserDisabledError, ValidationError
from crm_hookspecs.records import UserInfo

if TYPE_CHECKING:
    from crm_core.auth.authz import Authz
    from crm_core.context import AppContext

__all__ = ["SignIn", "Sessions", "TwoFactorSetup"]

WINDOW = dt.timedelta(hours=1)
FIRST_WAIT = 30.0
MAX_WAIT = 15 * 60.0
#: a session's last-seen stamp is written at most this often (a request per page must not write each time)
TOUCH_EVERY = dt.timedelta(minutes=1)
RECOVERY_CODES = 10
#: how long a two-factor ticket (the password was right, the code is still to come) is good for
TICKET_LIFETIME = dt.timedelta(minutes=5)
_TICKET_PURPOSE = "auth.second-factor"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@attrs.frozen
class SignIn:
    """A successful sign-in: the session key to give the client (once), and the user."""

    session_key: str = attrs.field(repr=False)
    user: UserInfo


@attrs.frozen
class TwoFactorSetup:
    """A TOTP secret to show the user (as text and as an ``otpauth://`` URI) until they confirm a code."""

    secret: str = attrs.field(repr=False)
    uri: str = attrs.field(repr=False)


class Sessions:
    def __init__(self, app: AppContext, authz: Authz) -> None:
        self._app = app
        self._authz = authz

    @property
    def _settings(self) -> Any:
        return self._app.config.core.auth

    # -- limits ----------------------------------------------------------------

    def wait_seconds(self, user_name: str, address: str | None = None) -> float:
        """How long a sign-in as ``user_name`` (from ``address``) must still wait; 0 when it may go ahead."""
        from peewee import fn

        from crm_core.auth.models import SignInFailure as F

        now = self._app.clock.now()
        since = now - WINDOW
        waits = [0.0]
        with self._app.activate():
            checks = [(F.user_key == user_name.casefold(), self._settings.signin_max_failures)]
            if address:
                checks.append((F.address == address, self._settings.signin_address_max_failures))
            for condition, limit in checks:
                count, last = (
                    F.select(fn.COUNT(F.id), fn.MAX(F.failed_at))
                    .where(condition & (F.failed_at >= since))
                    .scalar(as_tuple=True)
                )
                if count >= limit and last is not None:
                    last = F.failed_at.python_value(last) if not isinstance(last, dt.datetime) else last
                    if last.tzinfo is None:
                        last = last.replace(tzinfo=dt.UTC)
                    wait = min(MAX_WAIT, FIRST_WAIT * 2 ** (count - limit))
                    waits.append(max(0.0, wait - (now - last).total_seconds()))
        return max(waits)

    def _failed(self, name: str, address: str | None, reason: str, user_id: int | None) -> None:
        from crm_core.auth.models import SignInFailure

        now = self._app.clock.now()
        with self._app.transaction():
            SignInFailure.create(user_key=name.casefold()[:150], address=address, failed_at=now)
            SignInFailure.delete().where(SignInFailure.failed_at < now - dt.timedelta(days=1)).execute()
            self._authz.audit.record(
                "signin.failed", user_id=user_id, user_name=name[:150], address=address, detail={"reason": reason}
            )

    def _throttle(self, name: str, address: str | None) -> None:
        wait = self.wait_seconds(name, address)
        if wait > 0:
            self._authz.audit.record(
                "signin.failed", user_name=name[:150], address=address, detail={"reason": "throttled"}
            )
            raise AuthenticationError(
                f"too many failed sign-ins for {name!r}"
                + (" or from this address" if address else "")
                + f"; try again in {math.ceil(wait)} seconds",
                "signin_throttled",
            )

    # -- signing in --------------------------------------------------------------

    def sign_in(self, name: str, password: str, *, address: str | None = None, otp: str | None = None) -> SignIn:
        """Check a user name and password (and a two-factor code when the user has one); start a session.

        Refusals are :class:`AuthenticationError` with a ``code``:
        ``invalid_credentials`` (the same for an unknown name and a wrong
        password), ``signin_throttled``, ``user_disabled``, ``otp_required``
        or ``invalid_otp``. Each is audited.
        """
        from crm_core.auth import passwords
        from crm_core.auth.models import User

        self._throttle(name, address)
        with self._app.activate():
            row = User.get_or_none(User.name_key == name.casefold())
        if not passwords.verify(row.password_hash if row else None, password):
            self._failed(name, address, "wrong user name or password", row.id if row else None)
            raise AuthenticationError("wrong user name or password", "invalid_credentials")
        assert row is not None
        if not row.active:
            self._failed(name, address, "user disabled", row.id)
            raise UserDisabledError(f"user {row.name!r} is disabled; an admin can enable it")
        if row.totp_enabled:
            if not otp:
                raise TwoFactorRequired(
                    f"user {row.name!r} signs in with a two-factor code too; give the code from the app (or a recovery code)",
                    self._ticket(row),
                )
            self._second_factor(row, name, otp, address)
        return self._start(row, password, address)

    def _ticket(self, row: Any) -> str:
        from crm_core.signing import signer

        expires_at = self._app.clock.now() + TICKET_LIFETIME
        return signer(self._app, _TICKET_PURPOSE).sign(
            [row.id, _sha256(row.password_hash or "")[:20]], expires_at=expires_at
        )

    def _second_factor(self, row: Any, name: str, otp: str, address: str | None) -> None:
        if not self._check_second_factor(row, otp, address):
            self._failed(name, address, "wrong two-factor code", row.id)
            raise AuthenticationError("wrong or already used two-factor code", "invalid_otp")

    def sign_in_with_ticket(self, ticket: str, otp: str, *, address: str | None = None) -> SignIn:
        """Finish a sign-in that raised :class:`~crm_core.errors.TwoFactorRequired`, with its ``ticket`` and a code.

        The ticket expires after :data:`TICKET_LIFETIME` and dies when the
        password changes; failures count against the same limits as
        :meth:`sign_in`. Refusals are :class:`AuthenticationError`
        (``invalid_credentials`` for a bad or stale ticket).
        """
        from crm_core.auth.models import User
        from crm_core.signing import LinkError, signer

        try:
            values, _ = signer(self._app, _TICKET_PURPOSE).read(ticket, now=self._app.clock.now(), what="sign-in")
        except LinkError:
            raise AuthenticationError(
                "the sign-in took too long or was changed; sign in again", "invalid_credentials"
            ) from None
        with self._app.activate():
            row = User.get_or_none(User.id == values[0]) if values and isinstance(values[0], int) else None
        if row is None or len(values) != 2 or values[1] != _sha256(row.password_hash or "")[:20]:
            raise AuthenticationError("the sign-in is no longer valid; sign in again", "invalid_credentials")
        self._throttle(row.name, address)
        if not row.active:
            self._failed(row.name, address, "user disabled", row.id)
            raise UserDisabledError(f"user {row.name!r} is disabled; an admin can enable it")
        self._second_factor(row, row.name, otp, address)
        return self._start(row, None, address)

    def _start(self, row: Any, password: str | None, address: str | None) -> SignIn:
        from crm_core.auth import passwords
        from crm_core.auth.models import SignInFailure, User

        now = self._app.clock.now()
        with self._app.transaction():
            values: dict[str, Any] = {"last_sign_in_at": now}
            # (verify() accepted the password, so there is a hash)
            if password is not None and row.password_hash is not None and passwords.needs_rehash(row.password_hash):
                values["password_hash"] = passwords.hash_password(password)  # parameters changed since it was set
            User.update(**values).where(User.id == row.id).execute()
            SignInFailure.delete().where(SignInFailure.user_key == row.name_key).execute()
            key = self._create(row.id, address)
            self._authz.audit.record(
                "signin.succeeded",
                user_id=row.id,
                user_name=row.name,
                address=address,
                detail={
                    "method": "password+totp" if row.totp_enabled else "password",
                    "rehashed": "password_hash" in values,
                },
            )
        return SignIn(key, self._authz.users.get(row.id))

    def _check_second_factor(self, row: Any, code: str, address: str | None) -> bool:
        from crm_core.auth import totp
        from crm_core.auth.models import RecoveryCode, User

        step = totp.verify(row.totp_secret, code, self._app.clock.now().timestamp(), row.totp_last_step)
        with self._app.transaction():
            if step is not None:
                # the condition makes two simultaneous sign-ins with one code accept only one
                done = (
                    User.update(totp_last_step=step)
                    .where((User.id == row.id) & ((User.totp_last_step.is_null()) | (User.totp_last_step < step)))
                    .execute()
                )
                return bool(done)
            used = (
                RecoveryCode.update(used_at=self._app.clock.now())
                .where(
                    (RecoveryCode.user == row.id)
                    & (RecoveryCode.code_hash == _sha256(_normal_code(code)))
                    & RecoveryCode.used_at.is_null()
                )
                .execute()
            )
            if used:
                self._authz.audit.record("recovery.used", user_id=row.id, user_name=row.name, address=address)
            return bool(used)

    # -- sessions ----------------------------------------------------------------

    def _create(self, user_id: int, address: str | None) -> str:
        from crm_core.auth.models import Session

        key = secrets.token_urlsafe(32)
        now = self._app.clock.now()
        Session.create(
            key_hash=_sha256(key),
            user=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(hours=self._settings.session_max_hours),
            address=address,
        )
        return key

    def create(self, user: str | int, *, address: str | None = None) -> str:
        """Start a session for a user without a password (a single sign-on done elsewhere); return its key."""
        info = self._authz.users.get(user)
        if not info.active:
            raise UserDisabledError(f"user {info.name!r} is disabled")
        with self._app.transaction():
            return self._create(info.id, address)

    def lookup(self, key: str, *, touch: bool = True) -> UserInfo:
        """The user of a live session; an unknown, ended or expired session, or a disabled user's, is refused."""
        from crm_core.auth.models import Session, User

        now = self._app.clock.now()
        with self._app.activate():
            row = Session.select(Session, User).join(User).where(Session.key_hash == _sha256(key)).first()
        if row is None or row.ended_at is not None:
            raise AuthenticationError("this session has ended or never existed; sign in again", "session_invalid")
        idle = dt.timedelta(minutes=self._settings.session_idle_minutes)
        if now >= row.expires_at or now - row.last_seen_at >= idle:
            why = "idle" if now < row.expires_at else "expired"
            self._end(Session.id == row.id, why)
            raise AuthenticationError(
                f"the session has {'been idle too long' if why == 'idle' else 'expired'}; sign in again",
                "session_expired",
            )
        if not row.user.active:
            self._end(Session.id == row.id, "disabled")
            self._authz.audit.record(
                "session.refused", user_id=row.user.id, user_name=row.user.name, detail={"reason": "user disabled"}
            )
            raise UserDisabledError(f"user {row.user.name!r} is disabled")
        if touch and now - row.last_seen_at >= TOUCH_EVERY:
            with self._app.transaction():
                Session.update(last_seen_at=now).where(Session.id == row.id).execute()
        return self._authz.users.get(row.user.id)

    def _end(self, condition: Any, reason: str) -> int:
        from crm_core.auth.models import Session

        with self._app.transaction():
            ended: int = (
                Session.update(ended_at=self._app.clock.now(), ended_reason=reason)
                .where(condition & Session.ended_at.is_null())
                .execute()
            )
            return ended

    def end(self, key: str) -> bool:
        """Sign out: end one session. Returns whether it was live."""
        from crm_core.auth.models import Session

        with self._app.activate():
            row = Session.get_or_none(Session.key_hash == _sha256(key))
        if row is None:
            return False
        with self._app.transaction():
            ended = self._end(Session.id == row.id, "signout")
            if ended:
                self._authz.audit.record("signout", user_id=row.user_id, detail={"sessions": 1})
        return bool(ended)

    def end_all(self, user: str | int, *, reason: str = "signout", audit: bool = True) -> int:
        """End every live session of a user; returns how many."""
        from crm_core.auth.models import Session

        user_id = user if isinstance(user, int) else self._authz.users.get(user).id
        with self._app.transaction():
            ended = self._end(Session.user == user_id, reason)
            if audit and ended:
                self._authz.audit.record("signout", user_id=user_id, detail={"sessions": ended, "reason": reason})
        return ended

    def live(self, user: str | int) -> int:
        """How many sessions of the user are open (not ended; expiry is checked when one is used)."""
        from crm_core.auth.models import Session

        user_id = user if isinstance(user, int) else self._authz.users.get(user).id
        with self._app.activate():
            return Session.select().where((Session.user == user_id) & Session.ended_at.is_null()).count()

    # -- two-factor ------------------------------------------------------------------

    def begin_two_factor(self, user: str | int) -> TwoFactorSetup:
        """Make a new TOTP secret for the user (not yet in force: :meth:`confirm_two_factor` turns it on)."""
        from crm_core.auth import totp
        from crm_core.auth.models import User

        info = self._own_or_admin(user)
        secret = totp.new_secret()
        with self._app.transaction():
            User.update(totp_secret=secret, totp_enabled=False, totp_last_step=None).where(User.id == info.id).execute()
        return TwoFactorSetup(secret, totp.provisioning_uri(secret, info.name))

    def confirm_two_factor(self, user: str | int, code: str) -> list[str]:
        """Turn two-factor sign-in on once the user proves their app shows the right code; return the recovery codes (shown once)."""
        from crm_core.auth import totp
        from crm_core.auth.models import RecoveryCode, User

        info = self._own_or_admin(user)
        with self._app.activate():
            row = User.get_by_id(info.id)
        if not row.totp_secret:
            raise ValidationError(f"user {info.name!r} has no two-factor secret yet; begin the set-up first")
        step = totp.verify(row.totp_secret, code, self._app.clock.now().timestamp(), None)
        if step is None:
            raise ValidationError("the code does not match; check the app's clock and type the current code")
        codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
        with self._app.transaction():
            User.update(totp_enabled=True, totp_last_step=step).where(User.id == row.id).execute()
            RecoveryCode.delete().where(RecoveryCode.user == row.id).execute()
            RecoveryCode.insert_many([{"user": row.id, "code_hash": _sha256(c)} for c in codes]).execute()
            self._authz.audit.record("twofactor.enabled", user_id=row.id, user_name=row.name)
        return codes

    def disable_two_factor(self, user: str | int) -> None:
        from crm_core.auth.models import RecoveryCode, User

        info = self._own_or_admin(user)
        with self._app.transaction():
            User.update(totp_secret=None, totp_enabled=False, totp_last_step=None).where(User.id == info.id).execute()
            RecoveryCode.delete().where(RecoveryCode.user == info.id).execute()
            self._authz.audit.record("twofactor.disabled", user_id=info.id, user_name=info.name)

    def _own_or_admin(self, user: str | int) -> UserInfo:
        info = self._authz.users.get(user)
        self._authz.require_over("admin.users", info)
        return info


def _normal_code(code: str) -> str:
    return code.strip().replace("-", "").replace(" ", "").lower()
