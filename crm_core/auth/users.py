"""Users and teams: ``crm.authz.users`` and ``crm.authz.teams``.

Every change checks the acting user's permission (``admin.users`` or
``admin.roles``; the system may do everything), and the security-relevant
ones are audited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from crm_core import rows as typed_rows
from crm_core.errors import NotFoundError, ValidationError
from crm_core.statements import Statement
from crm_hookspecs.records import UserInfo

if TYPE_CHECKING:
    from crm_core.auth.authz import Authz
    from crm_core.auth.models import User
    from crm_core.context import AppContext

__all__ = ["Teams", "Users"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,149}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
_UNSET: Any = object()


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            f"{kind} name {name!r}: use 1 to 150 letters, digits, '.', '_', '@' and '-', starting with a letter or digit"
        )
    return name


def _teams_and_roles(user_id: int, same_user_id: int) -> Any:
    """A user's teams and roles in one round trip: ``('team', id, name)`` and ``('role', NULL, role)`` rows."""
    from peewee import SQL

    from crm_core.auth.models import Team, UserRole, UserTeam

    teams = Team.select(SQL("'team'"), Team.id, Team.name).join(UserTeam).where(UserTeam.user == user_id)
    return teams + UserRole.select(SQL("'role'"), SQL("NULL"), UserRole.role).where(UserRole.user == same_user_id)


#: read on every request of a signed-in user or a token: its SQL is built once (crm_core.statements)
_TEAMS_AND_ROLES = Statement("auth.teams_and_roles", _teams_and_roles)

#: the columns of a user that a UserInfo shows, in the order selected
_INFO_FIELDS = (
    "id",
    "name",
    "display_name",
    "email",
    "language",
    "timezone",
    "active",
    "totp_enabled",
    "created_at",
    "last_sign_in_at",
)


def _user_teams_and_roles(by_id: bool) -> Callable[[Any, Any, Any], Any]:
    """A user (by id or by name) with its teams and roles in one round trip.

    Rows: ``('user', <the _INFO_FIELDS>, NULL, NULL)`` once, then
    ``('team', NULL…, team id, team name)`` and ``('role', NULL…, NULL, role)``.
    The user's row comes first, so that every column has a type on
    PostgreSQL before a bare ``NULL`` meets it.
    """

    def build(key: Any, same_key: Any, again: Any) -> Any:
        from peewee import SQL

        from crm_core.auth.models import Team, User, UserRole, UserTeam

        def match(value: Any) -> Any:
            return User.id == value if by_id else User.name_key == value

        blank = [SQL("NULL")] * len(_INFO_FIELDS)
        user = User.select(SQL("'user'"), *(getattr(User, f) for f in _INFO_FIELDS), SQL("NULL"), SQL("NULL"))
        teams = (
            Team.select(SQL("'team'"), *blank, Team.id, Team.name)
            .join(UserTeam)
            .join(User, on=UserTeam.user == User.id)
            .where(match(same_key))
        )
        roles = (
            UserRole.select(SQL("'role'"), *blank, SQL("NULL"), UserRole.role)
            .join(User, on=UserRole.user == User.id)
            .where(match(again))
        )
        return user.where(match(key)).union_all(teams).union_all(roles)

    return build


_USER_BY_ID = Statement("auth.user_by_id", _user_teams_and_roles(by_id=True))
_USER_BY_NAME = Statement("auth.user_by_name", _user_teams_and_roles(by_id=False))


class Users:
    def __init__(self, app: AppContext, authz: Authz) -> None:
        self._app = app
        self._authz = authz

    # -- reading ---------------------------------------------------------------

    def _row(self, user: str | int) -> User:
        from crm_core.auth.models import User

        with self._app.activate():
            if isinstance(user, int) and not isinstance(user, bool):
                row = User.get_or_none(User.id == user)
            else:
                row = User.get_or_none(User.name_key == str(user).casefold())
        if row is None:
            raise NotFoundError(f"no user {user!r}; 'crm users list' shows the users, 'crm users add' adds one")
        return row

    def get(self, user: str | int) -> UserInfo:
        """The user named ``user`` (any case) or with id ``user``, with its teams and roles: one query."""
        with self._app.activate():
            if isinstance(user, int) and not isinstance(user, bool):
                rows = _USER_BY_ID.rows(user, user, user)
            else:
                key = str(user).casefold()
                rows = _USER_BY_NAME.rows(key, key, key)
        found = next((row for row in rows if row[0] == "user"), None)
        if found is None:
            raise NotFoundError(f"no user {user!r}; 'crm users list' shows the users, 'crm users add' adds one")
        values = dict(zip(_INFO_FIELDS, found[1:]))
        teams = sorted((name, team_id) for kind, *_, team_id, name in rows if kind == "team")
        return UserInfo(
            id=values["id"],
            name=values["name"],
            display_name=values["display_name"],
            email=values["email"],
            language=values["language"],
            timezone=values["timezone"],
            active=bool(values["active"]),
            teams=[name for name, _ in teams],
            team_ids=[team_id for _, team_id in teams],
            roles=sorted(name for kind, *_, name in rows if kind == "role"),
            created_at=values["created_at"],
            last_sign_in_at=values["last_sign_in_at"],
            two_factor=bool(values["totp_enabled"]),
        )

    def info_of(self, row: User, teams_and_roles: Sequence[tuple[str, int | None, str]] | None = None) -> UserInfo:
        """The :class:`UserInfo` of a user row already read, with its teams and roles: those given as
        ``('team', id, name)`` and ``('role', None, role)`` read with the row, else read in one more query."""
        return self._info(row, teams_and_roles)

    def _info(self, row: User, both: Any = None) -> UserInfo:
        """``row`` as a :class:`UserInfo`; its teams and roles read in one query, or taken from ``both``."""
        if both is None:
            with self._app.activate():
                both = _TEAMS_AND_ROLES.rows(row.id, row.id)
        teams = sorted((name, team_id) for kind, team_id, name in both if kind == "team")
        roles = sorted(name for kind, _, name in both if kind == "role")
        return UserInfo(
            id=row.id,
            name=row.name,
            display_name=row.display_name,
            email=row.email,
            language=row.language,
            timezone=row.timezone,
            active=row.active,
            teams=[name for name, _ in teams],
            team_ids=[team_id for _, team_id in teams],
            roles=roles,
            created_at=row.created_at,
            last_sign_in_at=row.last_sign_in_at,
            two_factor=row.totp_enabled,
        )

    def list(self, *, include_disabled: bool = True) -> list[UserInfo]:
        from peewee import SQL

        from crm_core.auth.models import Team, User, UserRole, UserTeam

        with self._app.activate():
            query = User.select().order_by(User.name_key)
            if not include_disabled:
                query = query.where(User.active == True)  # noqa: E712 - peewee expression
            rows = list(query)
            # every user's teams and roles in one more query, whatever the number of users
            teams = Team.select(UserTeam.user, SQL("'team'"), Team.id, Team.name).join(UserTeam)
            every = teams + UserRole.select(UserRole.user, SQL("'role'"), SQL("NULL"), UserRole.role)
            by_user: dict[int, list[tuple[str, int | None, str]]] = {row.id: [] for row in rows}
            for user_id, kind, team_id, name in typed_rows.tuples(every):
                if user_id in by_user:
                    by_user[user_id].append((kind, team_id, name))
        return [self._info(row, by_user[row.id]) for row in rows]

    # -- changing --------------------------------------------------------------

    def add(
        self,
        name: str,
        *,
        display_name: str = "",
        email: str | None = None,
        language: str | None = None,
        timezone: str | None = None,
        teams: Sequence[str] = (),
        roles: Sequence[str] = (),
        password: str | None = None,
    ) -> UserInfo:
        """Add a user; a name that differs from another only in case is refused."""
        from crm_core.auth.models import User

        self._authz.require("admin.users")
        if roles:
            self._authz.require("admin.roles")
        _check_name("user", name)
        fields = self._checked(email=email, language=language, timezone=timezone)
        team_rows = self._authz.teams._rows(teams)
        self._authz.roles.definitions(roles)  # unknown role names are refused
        hashed = None
        if password is not None:
            from crm_core.auth import passwords

            passwords.check_policy(password, self._app.config.core.auth.password_min_length, name)
            hashed = passwords.hash_password(password)
        with self._app.transaction():
            clash = User.get_or_none(User.name_key == name.casefold())
            if clash is not None:
                raise ValidationError(
                    f"user name {name!r} is taken: user {clash.name!r} exists, and names differing only in case are one name; choose another"
                )
            row = User.create(
                name=name,
                name_key=name.casefold(),
                display_name=display_name or "",
                created_at=self._app.clock.now(),
                password_hash=hashed,
                active=True,
                **fields,
            )
            self._set_teams(row.id, [t.id for t in team_rows])
            self._set_roles(row.id, list(dict.fromkeys(roles)))
            self._authz.audit.record(
                "user.added", user_id=row.id, user_name=name, detail={"roles": list(roles), "teams": list(teams)}
            )
        return self.get(row.id)

    def _checked(self, **values: Any) -> dict[str, Any]:
        out = {}
        email = values.get("email", _UNSET)
        if email is not _UNSET:
            if email is not None and (
                email.count("@") != 1 or email.startswith("@") or email.endswith("@") or " " in email
            ):
                raise ValidationError(f"e-mail address {email!r} is not valid; write it as name@example.com")
            out["email"] = email or None
        language = values.get("language", _UNSET)
        if language is not _UNSET:
            if language is not None and not _LANGUAGE.match(language):
                raise ValidationError(f"language {language!r} is not a language tag; use one such as 'en' or 'pt-BR'")
            out["language"] = language or None
        timezone = values.get("timezone", _UNSET)
        if timezone is not _UNSET:
            if timezone:
                import zoneinfo

                try:
                    zoneinfo.ZoneInfo(timezone)
                except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                    raise ValidationError(
                        f"unknown time zone {timezone!r}; use an IANA name such as 'Europe/Madrid'"
                    ) from None
            out["timezone"] = timezone or None
        return out

    def _set_teams(self, user_id: int, team_ids: Iterable[int]) -> None:
        from crm_core.auth.models import UserTeam

        rows = [{"user": user_id, "team": t} for t in dict.fromkeys(team_ids)]
        if rows:
            UserTeam.insert_many(rows).execute()

    def _set_roles(self, user_id: int, roles: Iterable[str]) -> None:
        from crm_core.auth.models import UserRole

        rows = [{"user": user_id, "role": r} for r in dict.fromkeys(roles)]
        if rows:
            UserRole.insert_many(rows).execute()

    def edit(
        self,
        user: str | int,
        *,
        display_name: str | None = None,
        email: str | None = _UNSET,
        language: str | None = _UNSET,
        timezone: str | None = _UNSET,
        add_teams: Sequence[str] = (),
        remove_teams: Sequence[str] = (),
        add_roles: Sequence[str] = (),
        remove_roles: Sequence[str] = (),
    ) -> UserInfo:
        """Change a user's details, teams and roles; removing the last admin's admin role is refused."""
        from crm_core.auth.models import User, UserRole, UserTeam

        self._authz.require("admin.users")
        if add_roles or remove_roles:
            self._authz.require("admin.roles")
        row = self._row(user)
        before = self._info(row)
        self._authz.require_over("admin.users", before)
        fields = self._checked(
            **{k: v for k, v in (("email", email), ("language", language), ("timezone", timezone)) if v is not _UNSET}
        )
        if display_name is not None:
            fields["display_name"] = display_name
        added_teams = self._authz.teams._rows(add_teams)
        dropped_teams = self._authz.teams._rows(remove_teams)
        self._authz.roles.definitions(add_roles)
        unknown = [r for r in remove_roles if r not in before.roles]
        if unknown:
            raise ValidationError(
                f"user {row.name!r} does not have role {unknown[0]!r} (their roles: {', '.join(before.roles) or 'none'})"
            )
        after_roles = [r for r in before.roles if r not in remove_roles] + [
            r for r in add_roles if r not in before.roles
        ]
        if before.active and self._is_admin(before.roles) and not self._is_admin(after_roles):
            self._refuse_last_admin(row, "take the admin role from")
        with self._app.transaction():
            if fields:
                User.update(**fields).where(User.id == row.id).execute()
            if dropped_teams:
                UserTeam.delete().where(
                    (UserTeam.user == row.id) & UserTeam.team.in_([t.id for t in dropped_teams])
                ).execute()
            self._set_teams(row.id, [t.id for t in added_teams if t.name not in before.teams])
            if remove_roles:
                UserRole.delete().where((UserRole.user == row.id) & UserRole.role.in_(list(remove_roles))).execute()
            self._set_roles(row.id, [r for r in add_roles if r not in before.roles])
            after = self.get(row.id)
            changes = {
                key: [getattr(before, key), getattr(after, key)]
                for key in ("display_name", "email", "language", "timezone", "teams", "roles")
                if getattr(before, key) != getattr(after, key)
            }
            if changes:
                self._authz.audit.record("user.changed", user_id=row.id, user_name=row.name, detail=changes)
        return after

    def _is_admin(self, roles: Iterable[str]) -> bool:
        return any(role.grants("admin.roles") for role in self._authz.roles.definitions(roles, missing_ok=True))

    def _admin_ids(self) -> set[int]:
        from crm_core.auth.models import User, UserRole

        admin_roles = [r.name for r in self._authz.roles.all() if r.grants("admin.roles")]
        with self._app.activate():
            query = (
                UserRole.select(UserRole.user).join(User).where(UserRole.role.in_(admin_roles) & (User.active == True))  # noqa: E712
            )
            return {r.user_id for r in query}

    def _refuse_last_admin(self, row: User, what: str) -> None:
        if self._admin_ids() - {row.id}:
            return
        self._authz.audit.record("admin.refused", user_id=row.id, user_name=row.name, detail={"attempt": what})
        raise ValidationError(
            f"cannot {what} {row.name!r}: they are the last active admin, and nobody could manage users and roles after; "
            "give another user the admin role first ('crm users edit NAME --add-role admin')"
        )

    def disable(self, user: str | int) -> UserInfo:
        """Disable a user: they cannot sign in or act, and their sessions end at once."""
        from crm_core.auth.models import User

        self._authz.require("admin.users")
        row = self._row(user)
        self._authz.require_over("admin.users", self._info(row))
        if not row.active:
            return self._info(row)
        if self._is_admin(self._info(row).roles):
            self._refuse_last_admin(row, "disable")
        with self._app.transaction():
            User.update(active=False, disabled_at=self._app.clock.now()).where(User.id == row.id).execute()
            ended = self._authz.sessions.end_all(row.id, reason="disabled", audit=False)
            self._authz.audit.record(
                "user.disabled", user_id=row.id, user_name=row.name, detail={"sessions_ended": ended}
            )
        return self.get(row.id)

    def enable(self, user: str | int) -> UserInfo:
        from crm_core.auth.models import User

        self._authz.require("admin.users")
        row = self._row(user)
        if row.active:
            return self._info(row)
        with self._app.transaction():
            User.update(active=True, disabled_at=None).where(User.id == row.id).execute()
            self._authz.audit.record("user.enabled", user_id=row.id, user_name=row.name)
        return self.get(row.id)

    def set_password(self, user: str | int, password: str) -> None:
        """Set a user's password (checked against the policy); a user may set their own, ``admin.users`` anyone's.

        Every session of the user ends, so a stolen session dies with the old password.
        """
        from crm_core.auth import passwords
        from crm_core.auth.models import User

        row = self._row(user)
        self._authz.require_over("admin.users", self._info(row))
        passwords.check_policy(password, self._app.config.core.auth.password_min_length, row.name)
        hashed = passwords.hash_password(password)
        with self._app.transaction():
            User.update(password_hash=hashed).where(User.id == row.id).execute()
            ended = self._authz.sessions.end_all(row.id, reason="password", audit=False)
            self._authz.audit.record(
                "password.changed", user_id=row.id, user_name=row.name, detail={"sessions_ended": ended}
            )

    def change_password(self, user: str | int, current: str, new: str) -> None:
        """A user changes their own password, proving they know the current one (``AuthenticationError`` if not).

        As with :meth:`set_password`, every session of the user ends.
        """
        self.verify_password(user, current)
        self.set_password(user, new)

    def verify_password(self, user: str | int, password: str) -> None:
        """Check a user's current password before a sensitive change; ``AuthenticationError`` (audited) if wrong.

        A user may check their own; checking another's needs ``admin.users``.
        """
        from crm_core.auth import passwords
        from crm_core.errors import AuthenticationError

        row = self._row(user)
        self._authz.require_over("admin.users", self._info(row))
        if not passwords.verify(row.password_hash, password):
            self._authz.audit.record(
                "password.refused", user_id=row.id, user_name=row.name, detail={"reason": "wrong current password"}
            )
            raise AuthenticationError("the current password is wrong; type it again", "invalid_credentials")

    def set_preferences(
        self, user: str | int, *, language: str | None = _UNSET, timezone: str | None = _UNSET
    ) -> UserInfo:
        """Set a user's language and time zone: their own, or anyone's with ``admin.users``; ``None`` clears one."""
        from crm_core.auth.models import User

        row = self._row(user)
        before = self._info(row)
        self._authz.require_over("admin.users", before)
        fields = self._checked(**{k: v for k, v in (("language", language), ("timezone", timezone)) if v is not _UNSET})
        with self._app.transaction():
            if fields:
                User.update(**fields).where(User.id == row.id).execute()
        return self.get(row.id)


class Teams:
    def __init__(self, app: AppContext, authz: Authz) -> None:
        self._app = app
        self._authz = authz

    def _rows(self, names: Iterable[str]) -> list[Any]:
        from crm_core.auth.models import Team

        names = list(names)
        if not names:
            return []
        with self._app.activate():
            found = {t.name_key: t for t in Team.select().where(Team.name_key.in_([n.casefold() for n in names]))}
        missing = [n for n in names if n.casefold() not in found]
        if missing:
            raise NotFoundError(
                f"no team {missing[0]!r}; 'crm teams list' shows the teams, 'crm teams add {missing[0]}' adds it"
            )
        return [found[n.casefold()] for n in names]

    def add(self, name: str, description: str = "") -> dict[str, Any]:
        from crm_core.auth.models import Team

        self._authz.require("admin.users")
        _check_name("team", name)
        with self._app.transaction():
            clash = Team.get_or_none(Team.name_key == name.casefold())
            if clash is not None:
                raise ValidationError(
                    f"team name {name!r} is taken by team {clash.name!r} (names differing only in case are one name)"
                )
            Team.create(name=name, name_key=name.casefold(), description=description, created_at=self._app.clock.now())
        return self.get(name)

    def get(self, name: str) -> dict[str, Any]:
        from crm_core.auth.models import User, UserTeam

        team = self._rows([name])[0]
        with self._app.activate():
            members = [
                u.name
                for u in User.select(User.name).join(UserTeam).where(UserTeam.team == team.id).order_by(User.name_key)
            ]
        return {"id": team.id, "name": team.name, "description": team.description, "members": members}

    def list(self) -> list[dict[str, Any]]:
        """Every team with its members (two queries, whatever the number of teams)."""
        from crm_core.auth.models import Team, User, UserTeam

        with self._app.activate():
            teams = list(Team.select().order_by(Team.name_key))
            members: dict[int, list[str]] = {team.id: [] for team in teams}
            # every team's members in one more query, whatever the number of teams
            query = UserTeam.select(UserTeam.team, User.name).join(User).order_by(User.name_key)
            for team_id, name in typed_rows.tuples(query):
                members.setdefault(team_id, []).append(name)
        return [{"id": t.id, "name": t.name, "description": t.description, "members": members[t.id]} for t in teams]

    def remove(self, name: str, *, force: bool = False) -> int:
        """Remove a team; with members it is refused unless ``force`` (the users stay, without this team)."""
        from crm_core.auth.models import Team

        self._authz.require("admin.users")
        info = self.get(name)
        if info["members"] and not force:
            raise ValidationError(
                f"team {info['name']!r} has {len(info['members'])} member(s) ({', '.join(info['members'])}); "
                "take them out first, or pass --force to remove the team from them"
            )
        with self._app.transaction():
            Team.delete().where(Team.id == info["id"]).execute()  # memberships go with it (ON DELETE CASCADE)
            self._authz.audit.record("user.changed", detail={"team_removed": info["name"], "members": info["members"]})
        return len(info["members"])
