"""API tokens for integrators: ``crm.authz.tokens``.

A token reads ``crm_<prefix>_<secret>``: the 8-character prefix is stored in
clear so that people can tell their tokens apart (``crm tokens list``), the
secret is 256 random bits, and the table keeps the SHA-256 of the whole
text. A slow password hash (Argon2) protects low-entropy secrets that
people choose; against a 256-bit random secret brute force is hopeless
already, and a slow hash would only make every API request cost ~50 ms of
CPU and 19 MiB, a lever for denial of service.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import string
from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.errors import (
    NotFoundError,
    PermissionDenied,
    TokenExpiredError,
    TokenRevokedError,
    TokenUnknownError,
    UserDisabledError,
    ValidationError,
)
from crm_core.statements import Statement
from crm_hookspecs.records import UserInfo

if TYPE_CHECKING:
    from crm_core.auth.authz import Authz
    from crm_core.context import AppContext

__all__ = ["NewToken", "TokenInfo", "Tokens"]

_ALPHABET = string.ascii_lowercase + string.digits
#: a token's last use is stamped, and audited, at most this often
AUDIT_USE_EVERY = dt.timedelta(minutes=1)
#: the channel on which PostgreSQL announces a change to tokens, users, teams and roles (kernel migration 0009)
AUTH_CHANNEL = "crm_auth"
#: tokens kept checked in one process at most (beyond, all are forgotten and checked again)
KEEP_AT_MOST = 1024


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@attrs.frozen
class TokenInfo:
    id: int
    prefix: str
    name: str
    user: str
    #: permission names; ``None``: every permission of the user
    scopes: tuple[str, ...] | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


@attrs.frozen
class NewToken:
    """A token just made: ``text`` is shown once and never stored."""

    text: str = attrs.field(repr=False)
    info: TokenInfo


@attrs.frozen
class Authenticated:
    """A token that checked out: act with ``crm.as_user(user, scopes=scopes)``."""

    user: UserInfo
    token: TokenInfo


def _token_with_user(prefix: str, same_prefix: str) -> Any:
    """A token, its user, and the user's teams and roles, in one round trip.

    The first part gives the token's and the user's columns, then ``'team'``,
    the team's id and name: a row per team (one with empty team columns for
    a user in no team). The second leaves the token's and user's columns
    empty, then gives ``'role'``, an empty id and a role: a row per role.
    """
    from peewee import JOIN, SQL

    from crm_core.auth.models import ApiToken, Team, User, UserRole, UserTeam

    teams = (
        ApiToken.select(ApiToken, User, SQL("'team'"), Team.id, Team.name)
        .join(User)
        .join(UserTeam, JOIN.LEFT_OUTER, on=UserTeam.user == User.id)
        .join(Team, JOIN.LEFT_OUTER, on=Team.id == UserTeam.team)
        .where(ApiToken.prefix == prefix)
    )
    width = len(ApiToken._meta.sorted_fields) + len(User._meta.sorted_fields)
    roles = (
        ApiToken.select(*[SQL("NULL")] * width, SQL("'role'"), SQL("NULL"), UserRole.role)
        .join(UserRole, on=UserRole.user == ApiToken.user)
        .where(ApiToken.prefix == same_prefix)
    )
    return teams + roles


#: every API request checks its token: the query's SQL is built once (crm_core.statements)
_TOKEN_WITH_USER = Statement("auth.token_with_user", _token_with_user)


class Tokens:
    def __init__(self, app: AppContext, authz: Authz) -> None:
        self._app = app
        self._authz = authz
        #: SHA-256 of a token's text -> (what it authenticated, until when it may be used unchecked, the
        #: generation it was read under: Authz.kept_generation)
        self._kept: dict[str, tuple[Authenticated, dt.datetime, int]] = {}

    def _info(self, row: Any) -> TokenInfo:
        return TokenInfo(
            id=row.id,
            prefix=row.prefix,
            name=row.name,
            user=row.user.name,
            scopes=tuple(json.loads(row.scopes)) if row.scopes is not None else None,
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )

    def _may_manage(self, user: UserInfo) -> None:
        self._authz.require_over("admin.tokens", user)

    def create(
        self, user: str | int, name: str, *, scopes: Sequence[str] | None = None, days: int | None = None
    ) -> NewToken:
        """Make a token for ``user``; ``scopes`` narrows it to some of the user's permissions.

        A scope the user does not hold is refused (a token never grants more
        than its user has). ``days`` (default ``[crm.auth] token_days``) sets
        the expiry.
        """
        from crm_core.auth.models import ApiToken

        info = self._authz.users.get(user)
        self._may_manage(info)
        if not info.active:
            raise UserDisabledError(f"user {info.name!r} is disabled; enable it before making tokens for it")
        if not name.strip() or len(name) > 100:
            raise ValidationError("a token needs a name of 1 to 100 characters, saying what uses it ('nightly export')")
        days = self._app.config.core.auth.token_days if days is None else days
        if days <= 0:
            raise ValidationError(f"a token's life must be at least one day, not {days}")
        if scopes is not None:
            scopes = list(dict.fromkeys(scopes))
            if not scopes:
                raise ValidationError(
                    "a token with an empty scope list could do nothing; name at least one permission, or none for all"
                )
            for scope in scopes:
                if scope not in self._authz.declared.permissions:
                    self._unknown(scope)
            held = self._authz.grants_for(info)
            beyond = [s for s in scopes if s not in held]
            if beyond:
                raise PermissionDenied(
                    f"a token of {info.name!r} cannot have {', '.join(map(repr, beyond))}: the user does not hold "
                    f"{'it' if len(beyond) == 1 else 'them'}, and a token only narrows its user's permissions",
                    beyond[0],
                )
        prefix = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        text = f"crm_{prefix}_{secrets.token_urlsafe(32)}"
        now = self._app.clock.now()
        with self._app.transaction():
            row = ApiToken.create(
                prefix=prefix,
                secret_hash=_sha256(text),
                user=info.id,
                name=name.strip(),
                scopes=json.dumps(scopes) if scopes is not None else None,
                created_at=now,
                expires_at=now + dt.timedelta(days=days),
            )
            self._authz.audit.record(
                "token.created",
                user_id=info.id,
                user_name=info.name,
                detail={"prefix": prefix, "name": row.name, "scopes": scopes, "expires_at": row.expires_at.isoformat()},
            )
        return NewToken(text, self.get(prefix))

    def _unknown(self, scope: str) -> None:
        import difflib

        near = difflib.get_close_matches(scope, list(self._authz.declared.permissions), n=3)
        hint = f"; did you mean {', '.join(map(repr, near))}?" if near else "; 'crm roles permissions' lists them"
        raise ValidationError(f"unknown permission {scope!r} in the token's scopes{hint}")

    def _row(self, prefix: str) -> Any:
        from crm_core.auth.models import ApiToken, User

        prefix = prefix.removeprefix("crm_").split("_", 1)[0]
        with self._app.activate():
            row = ApiToken.select(ApiToken, User).join(User).where(ApiToken.prefix == prefix).first()
        if row is None:
            raise NotFoundError(f"no API token with prefix {prefix!r}; 'crm tokens list' shows them")
        return row

    def get(self, prefix: str) -> TokenInfo:
        return self._info(self._row(prefix))

    def list(self, user: str | int | None = None) -> list[TokenInfo]:
        """Tokens of one user, or (with ``admin.tokens``) of everyone; newest first."""
        from crm_core.auth.models import ApiToken, User

        query = ApiToken.select(ApiToken, User).join(User).order_by(ApiToken.id.desc())
        if user is not None:
            info = self._authz.users.get(user)
            self._may_manage(info)
            query = query.where(ApiToken.user == info.id)
        else:
            acting = self._authz.current_user
            if acting is not None and not self._authz.can("admin.tokens"):
                query = query.where(ApiToken.user == acting.id)
        with self._app.activate():
            return [self._info(r) for r in query]

    def revoke(self, prefix: str) -> TokenInfo:
        from crm_core.auth.models import ApiToken

        row = self._row(prefix)
        self._may_manage(self._authz.users.get(row.user.id))
        if row.revoked_at is None:
            with self._app.transaction():
                ApiToken.update(revoked_at=self._app.clock.now()).where(ApiToken.id == row.id).execute()
                self._authz.audit.record(
                    "token.revoked",
                    user_id=row.user.id,
                    user_name=row.user.name,
                    detail={"prefix": row.prefix, "name": row.name},
                )
        return self.get(row.prefix)

    def authenticate(self, text: str, *, address: str | None = None) -> Authenticated:
        """Check a presented token: unknown, revoked, expired, and a disabled user's are refused, each with its own error.

        On PostgreSQL a token that checked out is kept in this process (by
        the SHA-256 of its whole text) and used again without a read, while
        the database announces no change to tokens, users, teams or roles
        (``LISTEN crm_auth``; the triggers of kernel migration 0009 send the
        notices, whoever makes the change), until it expires, and for at most
        :data:`AUDIT_USE_EVERY`, when its use is stamped again. A revoked
        token, a disabled user or a lost role thus counts on the next request
        of every process, as soon as the server's notice reaches it. SQLite
        and MariaDB send no notices: every request reads the token.
        """
        from crm_core.auth.models import ApiToken, User

        text = text.strip()
        digest = _sha256(text)
        generation = self._authz.kept_generation()  # None: nothing may be kept
        if generation is not None:
            kept = self._kept.get(digest)
            if kept is not None and kept[2] == generation and self._app.clock.now() < kept[1]:
                return kept[0]
        parts = text.split("_", 2)
        row = None
        teams_and_roles: list[tuple[str, int | None, str]] = []
        if len(parts) == 3 and parts[0] == "crm":
            with self._app.activate():
                found = _TOKEN_WITH_USER.rows(parts[1], parts[1])
            # the statement selects the token's fields, then its user's, then a team or a role: rebuild
            # both rows (as plain namespaces: building peewee model instances was a third of this
            # method's CPU), the teams and the roles from the one read
            token_fields = ApiToken._meta.sorted_field_names
            user_fields = User._meta.sorted_field_names
            user_end = len(token_fields) + len(user_fields)
            for values in found:
                kind, ref, name = values[user_end:]
                if kind == "role" or ref is not None:
                    teams_and_roles.append((kind, ref, name))
                if row is None and values[0] is not None:
                    row = SimpleNamespace(**dict(zip(token_fields, values[: len(token_fields)])))
                    row.user = SimpleNamespace(**dict(zip(user_fields, values[len(token_fields) : user_end])))
        if row is None or not hmac.compare_digest(row.secret_hash, digest):
            self._refused(None, parts[1] if len(parts) == 3 else None, "unknown", address)
            raise TokenUnknownError(
                "unknown API token; check that it was copied whole, or make a new one with 'crm tokens create'"
            )
        now = self._app.clock.now()
        if row.revoked_at is not None:
            self._refused(row, row.prefix, "revoked", address)
            raise TokenRevokedError(f"API token {row.prefix!r} ({row.name}) was revoked; make a new one")
        if row.expires_at is not None and now >= row.expires_at:
            self._refused(row, row.prefix, "expired", address)
            raise TokenExpiredError(
                f"API token {row.prefix!r} ({row.name}) expired on {row.expires_at:%Y-%m-%d %H:%M} UTC; make a new one"
            )
        if not row.user.active:
            self._refused(row, row.prefix, "user disabled", address)
            raise UserDisabledError(f"API token {row.prefix!r} belongs to user {row.user.name!r}, who is disabled")
        # a busy integration calls many times a minute: stamp and audit the use once a minute, not on every request
        used = row.last_used_at
        if used is None or now - used >= AUDIT_USE_EVERY:
            used = now
            with self._app.transaction():
                ApiToken.update(last_used_at=now).where(ApiToken.id == row.id).execute()
                self._authz.audit.record(
                    "token.used",
                    user_id=row.user.id,
                    user_name=row.user.name,
                    address=address,
                    detail={"prefix": row.prefix},
                )
        # the rows read above (the token, its user, their teams and roles) are the current state: build all from them
        auth = Authenticated(self._authz.users.info_of(row.user, teams_and_roles), self._info(row))
        if generation is not None and self._authz.still_kept(generation):
            # kept until the next stamp is due, or the expiry if sooner; not when a change was announced
            # while the rows were read (they may be older than it)
            until = used + AUDIT_USE_EVERY
            if row.expires_at is not None:
                until = min(until, row.expires_at)
            if len(self._kept) >= KEEP_AT_MOST:
                self._kept = {}
            self._kept[digest] = (auth, until, generation)
        return auth

    def _refused(self, row: Any, prefix: str | None, reason: str, address: str | None) -> None:
        self._authz.audit.record(
            "token.refused",
            user_id=row.user.id if row else None,
            user_name=row.user.name if row else None,
            address=address,
            detail={"prefix": prefix, "reason": reason},
        )
