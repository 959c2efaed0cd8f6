"""``crm.authz``: who is acting, what they may do, and which records they reach.

Code that runs with no user acts as *the system*: it is trusted and every
check passes (the worker, migrations, an embedding app's own code, the CLI
when the shell user is no CRM user). Inside ``with crm.as_user(user):``
every ``require`` is checked against the user's roles, and ``where``
turns the user's scope into SQL.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any

import attrs
import peewee

from crm_core.auth.audit import SecurityAuditLog
from crm_core.auth.registry import Declarations, RoleDef, check_role, grants_of
from crm_core.errors import PermissionDenied, PluginError, UserDisabledError
from crm_hookspecs.records import PermissionSpec, UserInfo

if TYPE_CHECKING:
    from crm_core.auth.resets import PasswordResets
    from crm_core.auth.roles import Roles
    from crm_core.auth.sessions import Sessions
    from crm_core.auth.tokens import Tokens
    from crm_core.auth.users import Teams, Users
    from crm_core.context import AppContext
    from crm_core.events import EventBus

__all__ = ["Acting", "Authz"]

_UNSET: Any = object()
_EVERYTHING = peewee.SQL("1 = 1")


@attrs.frozen
class Acting:
    """The acting user and what they may do: permission -> scope (``own``, ``team``, ``all``)."""

    user: UserInfo
    grants: dict[str, str]
    #: the API token the user acts through (its scopes narrowed ``grants``)
    token_id: int | None = None


class Authz:
    """Permission checks and the services for users, teams, roles, sessions, tokens and the audit."""

    def __init__(self, app: AppContext, *, events: EventBus | None = None) -> None:
        from crm_core.events import EventBus

        self._app = app
        # one variable per app: two apps in one process have their own acting users
        self._acting: contextvars.ContextVar[Acting | None] = contextvars.ContextVar(
            f"crm_acting_{id(app)}", default=None
        )
        self.declared = Declarations.collect(app)
        #: grants_of() by the roles' contents (see grants_for)
        self._grants: dict[tuple[Any, ...], dict[str, str]] = {}
        #: problems with the roles that do not stop the app (logged once)
        self.warnings: list[str] = []
        #: bumped at each change to tokens, users, teams or roles the database announces (see kept_generation)
        self._generation = 0
        self.config_roles = self._config_roles()
        for warning in self.warnings:
            app.log.warning("%s", warning)
        if events is None:
            events = EventBus(app, actor=self._actor_name)
        self.audit = SecurityAuditLog(app, events=events, actor=self._actor_name)

    def _actor_name(self) -> str | None:
        user = self.current_user
        return user.name if user is not None else None

    def _config_roles(self) -> dict[str, RoleDef]:
        from crm_core.plugins import discover

        roles = {}
        installed: list[str] | None = None
        for index, settings in enumerate(self._app.config.core.roles):
            role = RoleDef(
                settings.name, settings.description, tuple(settings.permissions), dict(settings.scopes), "config"
            )
            if installed is None:
                installed = list(discover())
            where = f"{self._app.config.source}: crm.roles[{index}] ({settings.name!r})"
            self.warnings += check_role(role, self.declared, installed, where)
            roles[role.name] = role
        return roles

    # -- services ------------------------------------------------------------

    @functools.cached_property
    def users(self) -> Users:
        from crm_core.auth.users import Users

        return Users(self._app, self)

    @functools.cached_property
    def teams(self) -> Teams:
        from crm_core.auth.users import Teams

        return Teams(self._app, self)

    @functools.cached_property
    def roles(self) -> Roles:
        from crm_core.auth.roles import Roles

        return Roles(self._app, self)

    @functools.cached_property
    def sessions(self) -> Sessions:
        from crm_core.auth.sessions import Sessions

        return Sessions(self._app, self)

    @functools.cached_property
    def resets(self) -> PasswordResets:
        from crm_core.auth.resets import PasswordResets

        return PasswordResets(self._app, self)

    @functools.cached_property
    def tokens(self) -> Tokens:
        from crm_core.auth.tokens import Tokens

        return Tokens(self._app, self)

    # -- what may be kept between requests ------------------------------------

    def kept_generation(self) -> int | None:
        """The generation of what was read about tokens, users, teams and roles that may still be used.

        ``None`` where nothing may be kept: the database announces no changes
        (SQLite, MariaDB, PostgreSQL behind PgBouncer), or a transaction is
        open. Otherwise a number that grows with every change the database
        announced (PostgreSQL's ``NOTIFY`` on ``crm_auth``, sent by the
        triggers of kernel migration 0009 whoever makes the change); what was
        read under an older number is stale. A reader keeps what it read with
        the number it had *before* reading, and uses it only while the number
        is the same: a change announced while it read is not missed.
        """
        from crm_core.auth.tokens import AUTH_CHANNEL

        database: Any = self._app.database  # a KernelDatabase (crm_core.database)
        announced = database.announced(AUTH_CHANNEL)
        if announced is None:
            return None
        if announced:
            self._generation += 1
        return self._generation

    def still_kept(self, generation: int) -> bool:
        """Whether what was read under ``generation`` may be kept (no change was announced since)."""
        return generation == self._generation

    # -- the acting user -----------------------------------------------------

    @property
    def current_user(self) -> UserInfo | None:
        acting = self._acting.get()
        return acting.user if acting else None

    @property
    def acting(self) -> Acting | None:
        return self._acting.get()

    def grants_for(self, user: UserInfo) -> dict[str, str]:
        """Permission -> scope for ``user``, from their roles.

        A role the user holds that no longer exists (taken out of the
        configuration) grants nothing; it is logged, not fatal, so the user
        keeps the rights of their other roles.
        """
        roles = self.roles.definitions(user.roles, missing_ok=True, kept=True)
        gone = sorted(set(user.roles) - {r.name for r in roles})
        if gone:
            self._app.log.warning(
                "user %r holds role(s) %s, which no longer exist; they grant nothing", user.name, ", ".join(gone)
            )
        # matching every declared permission against every pattern of every role is a few hundred fnmatch
        # calls, on every request of a token or a session: kept per set of role contents (not names, so a
        # stored role that changes is matched anew), for this app's declarations
        key = tuple((r.name, r.permissions, tuple(sorted(r.scopes.items()))) for r in roles)
        grants = self._grants.get(key)
        if grants is None:
            if len(self._grants) >= 256:
                self._grants.clear()
            grants = self._grants[key] = grants_of(roles, self.declared)
        return dict(grants)

    @contextlib.contextmanager
    def as_user(
        self, user: UserInfo | str | int, *, scopes: Collection[str] | None = None, token_id: int | None = None
    ) -> Iterator[UserInfo]:
        """Run the block as ``user`` (a :class:`UserInfo`, a user name or an id); see ``CRM.as_user``."""
        info = self.users.get(user.id if isinstance(user, UserInfo) else user)
        with self._acting_as(info, scopes=scopes, token_id=token_id):
            yield info

    @contextlib.contextmanager
    def _acting_as(
        self, info: UserInfo, *, scopes: Collection[str] | None = None, token_id: int | None = None
    ) -> Iterator[None]:
        """Run the block as ``info`` as it was just read from the database (no second read)."""
        if not info.active:
            raise UserDisabledError(
                f"user {info.name!r} is disabled and cannot act; enable it with 'crm users enable {info.name}'"
            )
        grants = self.grants_for(info)
        if scopes is not None:
            beyond = sorted(set(scopes) - set(grants))
            if beyond:
                raise PermissionDenied(
                    f"user {info.name!r} does not have {', '.join(map(repr, beyond))}, so cannot act with it", beyond[0]
                )
            grants = {p: s for p, s in grants.items() if p in scopes}
        token = self._acting.set(Acting(info, grants, token_id))
        try:
            yield
        finally:
            self._acting.reset(token)

    @contextlib.contextmanager
    def as_token(self, text: str, *, address: str | None = None) -> Iterator[UserInfo]:
        """Check an API token and run the block as its user, narrowed to the token's scopes."""
        auth = self.tokens.authenticate(text, address=address)
        # authenticate read the user with the token: acting on that read saves the three queries of another
        with self._acting_as(auth.user, scopes=auth.token.scopes, token_id=auth.token.id):
            yield auth.user

    @contextlib.contextmanager
    def as_session(self, key: str, *, touch: bool = True) -> Iterator[UserInfo]:
        """Check a session key (``sessions.lookup``) and run the block as its user.

        The user is read once, with the session (``as_user(lookup(key))``
        would read it again).
        """
        user = self.sessions.lookup(key, touch=touch)
        with self._acting_as(user):
            yield user

    def enter(self, user: UserInfo | str | int) -> contextvars.Token[Acting | None]:
        """Act as ``user`` until :meth:`leave` (for the CLI, which has no ``with`` block to offer)."""
        info = self.users.get(user.id if isinstance(user, UserInfo) else user)
        if not info.active:
            raise UserDisabledError(
                f"user {info.name!r} is disabled and cannot act; enable it with 'crm users enable {info.name}'"
            )
        return self._acting.set(Acting(info, self.grants_for(info)))

    def leave(self, token: contextvars.Token[Acting | None]) -> None:
        self._acting.reset(token)

    def require_over(self, permission: str, target: UserInfo) -> None:
        """Require ``permission`` to manage another user, who may hold nothing the acting user lacks.

        Without the second rule a holder of ``admin.users`` could set an
        admin's password, or a holder of ``admin.tokens`` make a token for
        an admin, and so act with rights they were not given.
        """
        acting = self._acting.get()
        if acting is None or acting.user.id == target.id:
            return
        self.require(permission)
        beyond = sorted(set(self.grants_for(target)) - set(acting.grants))
        if beyond:
            raise PermissionDenied(
                f"user {acting.user.name!r} may not manage {target.name!r}, who holds permissions they do not "
                f"({', '.join(beyond[:3])}{'…' if len(beyond) > 3 else ''}); ask someone who holds them all",
                beyond[0],
            )

    # -- checks --------------------------------------------------------------

    def permission(self, name: str) -> PermissionSpec:
        """The declaration of permission ``name``; checking an undeclared one is the plugin's bug."""
        try:
            return self.declared.permissions[name]
        except KeyError:
            plugin = name.split(".", 1)[0]
            raise PluginError(
                plugin,
                f"permission {name!r} is checked but not declared; declare it with PermissionSpec in the plugin's crm_permissions",
            ) from None

    def scope(self, permission: str) -> str | None:
        """The acting user's scope for ``permission``: ``own``, ``team``, ``all``, or ``None`` when not granted (the system: ``all``)."""
        self.permission(permission)
        acting = self._acting.get()
        return "all" if acting is None else acting.grants.get(permission)

    def can(self, permission: str, *, record_owner: int | str | None = _UNSET, record_team: int | None = None) -> bool:
        """Whether :meth:`require` would pass."""
        try:
            self.require(permission, record_owner=record_owner, record_team=record_team)
        except PermissionDenied:
            return False
        return True

    def require(
        self, permission: str, *, record_owner: int | str | None = _UNSET, record_team: int | None = None
    ) -> None:
        """Raise :class:`PermissionDenied` unless the acting user holds ``permission``.

        With ``record_owner`` (the owning user's id, or their user name for
        plugins whose owner column holds names; ``None`` for a record nobody
        owns) and optionally ``record_team`` (a team id on the
        record), the record must also be in the user's scope for the
        permission's record type: ``own`` — the user owns it; ``team`` — the
        user or a member of one of the user's teams owns it, or its team is
        one of the user's; ``all`` — any record.
        """
        spec = self.permission(permission)
        acting = self._acting.get()
        if acting is None:
            return  # the system is trusted
        user = acting.user
        scope = acting.grants.get(permission)
        if scope is None:
            what = f" ({spec.description.rstrip('.')})" if spec.description else ""
            how = (
                "the API token's scopes do not include it"
                if acting.token_id is not None
                else (f"none of their roles ({', '.join(user.roles) or 'none'}) grants it")
            )
            raise PermissionDenied(f"user {user.name!r} may not {permission}{what}: {how}", permission)
        if spec.record_type is None or scope == "all" or (record_owner is _UNSET and record_team is None):
            return
        owner = None if record_owner is _UNSET else record_owner
        if self._in_scope(acting, scope, owner, record_team):
            return
        raise PermissionDenied(
            f"user {user.name!r} may not {permission} this {spec.record_type} record ({self._owner_text(owner)}): "
            f"their scope for {spec.record_type} is {scope!r}",
            permission,
            record=True,
        )

    def _in_scope(self, acting: Acting, scope: str, owner: int | str | None, team: int | None) -> bool:
        from crm_core.auth.models import User, UserTeam

        user = acting.user
        if owner is not None and (owner == user.id if isinstance(owner, int) else owner == user.name):
            return True
        if scope != "team" or not user.team_ids:
            return False
        if team is not None and team in user.team_ids:
            return True
        if owner is None:
            return False
        with self._app.activate():
            mates = UserTeam.select().where(UserTeam.team.in_(list(user.team_ids)))
            if isinstance(owner, int):
                return mates.where(UserTeam.user == owner).exists()
            return mates.join(User).where(User.name == owner).exists()

    def _owner_text(self, owner: int | str | None) -> str:
        if owner is None:
            return "owned by nobody"
        if isinstance(owner, str):
            return f"owned by {owner!r}"
        from crm_core.auth.models import User

        with self._app.activate():
            row = User.get_or_none(User.id == owner)
        return f"owned by {row.name!r}" if row else f"owned by user #{owner}"

    def where(self, permission: str, owner: Any, team: Any = None, *, owner_is: str = "id") -> Any:
        """A peewee expression keeping the rows in the acting user's scope for ``permission``.

        ``owner`` is the model's owner column: the owning user's id, or with
        ``owner_is="name"`` their user name (as written by
        ``crm.authz.users.get(name).name``, so compared exactly); ``team`` an
        optional team column (team ids). ``query.where(crm.authz.where(
        "contacts.read", Contact.owner_id))`` filters in SQL, so paging and
        counts are right. Raises :class:`PermissionDenied` when the user does
        not hold the permission at all; for the system it keeps every row.
        """
        spec = self.permission(permission)
        acting = self._acting.get()
        if acting is None:
            return _EVERYTHING
        scope = acting.grants.get(permission)
        if scope is None:
            self.require(permission)  # raises, with the message
        if spec.record_type is None or scope == "all":
            return _EVERYTHING
        if owner_is not in ("id", "name"):
            raise ValueError(f"owner_is is 'id' or 'name', not {owner_is!r}")
        user = acting.user
        mine = owner == (user.id if owner_is == "id" else user.name)
        if scope == "own" or not user.team_ids:
            return mine
        from crm_core.auth.models import User, UserTeam

        in_teams = UserTeam.team.in_(list(user.team_ids))
        mates: Any
        if owner_is == "id":
            mates = UserTeam.select(UserTeam.user).where(in_teams)
        else:
            mates = User.select(User.name).join(UserTeam, on=UserTeam.user == User.id).where(in_teams)
        expr = mine | owner.in_(mates)
        if team is not None:
            expr = expr | team.in_(list(user.team_ids))
        return expr

    def restrict(self, query: Any, permission: str, owner: Any, team: Any = None, *, owner_is: str = "id") -> Any:
        """``query`` limited to the acting user's scope (unchanged for ``all`` and for the system)."""
        expr = self.where(permission, owner, team, owner_is=owner_is)
        return query if expr is _EVERYTHING else query.where(expr)
