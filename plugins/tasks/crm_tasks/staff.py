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

from typing import TYPE_CHECKING

import attrs

from crm_core.errors import ValidationError

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_tasks.settings import TasksSettings

__all__ = ["DEPRECATION", "Member", "Roster", "Staff"]

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

    @property
    def _by_key(self) -> dict[str, Member]:
        if self.source == "users":
            return {m.name.casefold(): m for m in self.members}
        return {m.name: m for m in self.members}

    def member(self, name: str | None) -> Member | None:
        """The member called ``name`` (any case when they are users), or ``None``."""
        if not name:
            return None
        return self._by_key.get(name.casefold() if self.source == "users" else name)

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
            if team == name or (self.source == "users" and team.casefold() == name.casefold()):
                return team
        return None

    def names(self) -> str:
        return ", ".join(m.name for m in self.members)


class Staff:
    """The people tasks can be given to, and the checks on assignees and teams."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self._users_table = False

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

    def roster(self) -> Roster:
        """The CRM users when any exist, else the configured staff (deprecated)."""
        if self._users_ready():
            users = self.crm.authz.users.list()
            if users:
                config = {m.name.casefold(): m for m in self.settings.staff}
                members = []
                for user in users:
                    fallback = config.get(user.name.casefold())
                    members.append(
                        Member(
                            name=user.name,
                            email=user.email or (fallback.email if fallback else None),
                            full_name=user.display_name or (fallback.full_name if fallback else ""),
                            teams=tuple(user.teams),
                            active=user.active,
                        )
                    )
                return Roster(tuple(members), "users")
        return Roster(
            tuple(Member(m.name, m.email, m.full_name, tuple(m.teams), m.active) for m in self.settings.staff),
            "config",
        )

    def members(self) -> list[Member]:
        return list(self.roster().members)

    def teams(self) -> dict[str, list[str]]:
        """Team name → its members' names."""
        return {team: [m.name for m in members] for team, members in sorted(self.roster().teams.items())}

    def check_assignee(self, assignee: str | None, roster: Roster | None = None) -> str | None:
        """``assignee`` as stored (the user's own spelling), or a ``ValidationError`` saying what to do."""
        if assignee is None:
            return None
        roster = roster or self.roster()
        member = roster.member(assignee)
        if roster.source == "users":
            if member is None:
                raise ValidationError(
                    f"unknown assignee {assignee!r:.80}: no CRM user has that name (users: {roster.names()}); "
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
        roster = self.roster()
        member = roster.member(name)
        if member is None:
            names = roster.names() or "none configured"
            raise ValidationError(f"unknown staff member {name!r:.80} (staff: {names})")
        return member.name

    def check_team(self, team: str | None, roster: Roster | None = None) -> str | None:
        """``team`` as stored, or a ``ValidationError`` naming the teams."""
        if team is None:
            return None
        roster = roster or self.roster()
        found = roster.team(team)
        if found is None:
            teams = ", ".join(sorted(roster.teams)) or (
                "none: add one with 'crm teams add NAME'"
                if roster.source == "users"
                else "none: give staff members teams = [...]"
            )
            raise ValidationError(f"unknown team {team!r} (teams: {teams})")
        return found
