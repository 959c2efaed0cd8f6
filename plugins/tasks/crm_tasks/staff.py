"""Who tasks can be given to: the CRM users, or (for one release) ``[[plugins.tasks.staff]]``.

Since users exist in the kernel (``crm users``), the people who get tasks
are CRM users: an assignee, a rule's ``assignee``/``to`` and a reminder's
recipient are user names (any case; stored as the user spells it), and
teams are the kernel's teams. The migration ``0002_staff_users`` made a
user of every configured staff member. The configured list is still read
while no CRM user exists, and says it is deprecated when it is set.

A :class:`Roster` is a snapshot of the people, taken once per operation
(a batch of events, a page of the inactivity scan), so that rules firing
on thousands of events look names up in memory.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import attrs

from crm_core.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_hookspecs.records import UserInfo
    from crm_tasks.settings import TasksSettings

__all__ = ["DEPRECATION", "Member", "Roster", "Staff"]

#: the people looked up in the current :meth:`Staff.remembering` block (name casefolded -> member or None)
_REMEMBERED: contextvars.ContextVar[dict[str, Member | None] | None] = contextvars.ContextVar(
    "crm_tasks_staff_remembered", default=None
)

DEPRECATION = (
    "[[plugins.tasks.staff]] is deprecated: the people tasks are given to are CRM users now "
    "(the staff listed there were made users by the migration tasks/0002_staff_users); manage them with "
    "'crm users' and 'crm teams', then remove [[plugins.tasks.staff]] (it is ignored once users exist and "
    "goes away in the next release)"
)


@attrs.frozen
class Member:
    """One person tasks can be given to (a CRM user, or a configured staff member)."""

    name: str
    #: where reminders and notifications go (``None``: nowhere)
    email: str | None
    full_name: str = ""
    teams: tuple[str, ...] = ()
    #: an inactive member keeps the tasks already given but gets no new ones
    active: bool = True


@attrs.frozen
class Roster:
    """The members at one moment, looked up by name (case-insensitively for users)."""

    members: tuple[Member, ...]
    #: ``users`` (the CRM users) or ``config`` (``[[plugins.tasks.staff]]``)
    source: str
    _index: dict[str, Member] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_index", {self._key(m.name): m for m in self.members})

    def _key(self, name: str) -> str:
        return name.casefold() if self.source == "users" else name

    def member(self, name: str | None) -> Member | None:
        """The member called ``name`` (any case when they are users), or ``None``."""
        if not name:
            return None
        return self._index.get(self._key(name))

    @property
    def teams(self) -> dict[str, list[Member]]:
        """Team name → its members, in roster order."""
        out: dict[str, list[Member]] = {}
        for member in self.members:
            for team in member.teams:
                out.setdefault(team, []).append(member)
        return out

    def team(self, name: str) -> str | None:
        """The team's name as stored (any case for the kernel's teams), or ``None``."""
        for team in self.teams:
            if self._key(team) == self._key(name):
                return team
        return None

    def names(self) -> str:
        return ", ".join(m.name for m in self.members)


class Staff:
    """The people tasks can be given to, and the checks on assignees and teams."""

    #: up to this many names are looked up one by one rather than with every user
    FEW = 20

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self._users_table = False
        self._users_exist = False

    @property
    def settings(self) -> TasksSettings:
        settings: TasksSettings = self.crm.settings("tasks")
        return settings

    def _users_ready(self) -> bool:
        """Whether the kernel's users can be asked (not before ``crm migrate`` made their table)."""
        if not self._users_table:
            with self.crm.activate():
                self._users_table = self.crm.database.table_exists("crm_user")
        return self._users_table

    def _any_user(self) -> bool:
        # users are disabled, never deleted: once there is one there always is
        if not self._users_exist and self._users_ready():
            self._users_exist = bool(self.crm.authz.users.list())
        return self._users_exist

    def _member(self, user: UserInfo) -> Member:
        fallback = next((m for m in self.settings.staff if m.name.casefold() == user.name.casefold()), None)
        return Member(
            name=user.name,
            email=user.email or (fallback.email if fallback else None),
            full_name=user.display_name or (fallback.full_name if fallback else ""),
            teams=tuple(user.teams),
            active=user.active,
        )

    def _config_roster(self) -> Roster:
        return Roster(
            tuple(Member(m.name, m.email, m.full_name, tuple(m.teams), m.active) for m in self.settings.staff),
            "config",
        )

    @contextlib.contextmanager
    def remembering(self) -> Iterator[None]:
        """Within the block, each person is looked up once: one API call checks its assignee and e-mails them."""
        token = _REMEMBERED.set({}) if _REMEMBERED.get() is None else None
        try:
            yield
        finally:
            if token is not None:
                _REMEMBERED.reset(token)

    def _user_member(self, name: str) -> Member | None:
        remembered = _REMEMBERED.get()
        key = name.casefold()
        if remembered is not None and key in remembered:
            return remembered[key]
        try:
            member: Member | None = self._member(self.crm.authz.users.get(name))
        except NotFoundError:
            member = None
        if remembered is not None:
            remembered[key] = member
        return member

    def roster(self, names: Iterable[str | None] | None = None) -> Roster:
        """The CRM users when any exist, else the configured staff (deprecated).

        With ``names``, only those people need to be in it: a few are looked
        up one by one (the roster then holds just them).
        """
        wanted = None if names is None else sorted({n for n in names if n})
        if wanted is not None and len(wanted) <= self.FEW:
            if self._any_user():
                found = [m for m in (self._user_member(name) for name in wanted) if m is not None]
                return Roster(tuple(found), "users")
            return self._config_roster()
        if self._any_user():
            return Roster(tuple(self._member(u) for u in self.crm.authz.users.list()), "users")
        return self._config_roster()

    def members(self) -> list[Member]:
        return list(self.roster().members)

    def teams(self) -> dict[str, list[str]]:
        """Team name → its members' names."""
        return {team: [m.name for m in members] for team, members in sorted(self.roster().teams.items())}

    def check_assignee(self, assignee: str | None) -> str | None:
        """``assignee`` as stored (the user's own spelling), or a ``ValidationError`` saying what to do."""
        if assignee is None:
            return None
        roster = self.roster([assignee])
        member = roster.member(assignee)
        if roster.source == "users":
            if member is None:
                raise ValidationError(
                    f"unknown assignee {assignee!r:.80}: no CRM user has that name (users: {self.roster().names()}); "
                    f"add one with: crm users add {assignee:.80}"
                )
            if not member.active:
                raise ValidationError(
                    f"assignee {member.name!r} is inactive (a disabled CRM user); choose another, "
                    f"or enable them with: crm users enable {member.name}"
                )
            return member.name
        if member is None:
            names = roster.names() or "none: add users with 'crm users add NAME'"
            raise ValidationError(f"unknown assignee {assignee!r:.80}: not a staff member (staff: {names})")
        if not member.active:
            raise ValidationError(
                f"assignee {assignee!r} is inactive (active = false in [[plugins.tasks.staff]]); choose another"
            )
        return assignee

    def check_known(self, name: str) -> str:
        """``name`` as stored, for looking a person's tasks up (inactive ones too)."""
        member = self.roster([name]).member(name)
        if member is None:
            names = self.roster().names() or "none configured"
            raise ValidationError(f"unknown staff member {name!r:.80} (staff: {names})")
        return member.name

    def check_team(self, team: str | None) -> str | None:
        """``team`` as stored, or a ``ValidationError`` naming the teams."""
        if team is None:
            return None
        if self._any_user():
            try:
                name: str = self.crm.authz.teams.get(team)["name"]
                return name
            except NotFoundError:
                teams = ", ".join(t["name"] for t in self.crm.authz.teams.list())
                raise ValidationError(
                    f"unknown team {team!r} (teams: {teams or 'none: add one with crm teams add NAME'})"
                ) from None
        roster = self._config_roster()
        found = roster.team(team)
        if found is None:
            teams = ", ".join(sorted(roster.teams)) or "none: give staff members teams = [...]"
            raise ValidationError(f"unknown team {team!r} (teams: {teams})")
        return found
