"""``[plugins.tasks]``: reminders, rules and (deprecated) staff, validated when the app starts.

The people tasks are given to are CRM users (``crm users``), and the teams
the kernel's teams; the rules name them (``assignee = "ana"``,
``to = ["team:sales"]``), and the names are checked when the app starts
(:mod:`crm_tasks.staff`). ``[[plugins.tasks.staff]]``, where they were
declared before users existed, is still read for one release: the migration
``0002_staff_users`` made each listed member a user, and while no CRM user
exists the list is used as before. Setting it logs a deprecation warning.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import datetime as dt

__all__ = [
    "KINDS",
    "PRIORITIES",
    "NotifyTemplate",
    "ReminderSettings",
    "RuleSettings",
    "StaffMember",
    "TaskTemplate",
    "TasksSettings",
    "parse_duration",
]

KINDS = ("to-do", "call", "e-mail", "meeting", "follow-up")
#: priority name -> rank (higher is more urgent)
PRIORITIES = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
TRIGGERS = ("event", "change", "inactivity")
ACTIONS = ("task", "notify")

_DURATION = re.compile(r"^\s*(?:(\d+)\s*w)?\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")


@functools.lru_cache(maxsize=256)
def parse_duration(text: str) -> dt.timedelta:
    """``"2d"``, ``"4h"``, ``"1w 2d"``, ``"90m"`` → ``timedelta``; ``ValueError`` otherwise."""
    import datetime as dt

    match = _DURATION.match(text or "")
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration; write it like '3d', '4h', '1w', '90m' or '1d 12h'")
    weeks, days, hours, minutes = (int(g or 0) for g in match.groups())
    return dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)


def _check_duration(instance: Any, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None:
        parse_duration(value)


def _check_kind(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {value!r}")


def _check_priority(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, not {value!r}")


@attrs.frozen
class StaffMember:
    """``[[plugins.tasks.staff]]``: one person who can be given tasks."""

    #: the short name used as assignee and as contact owner (``ana``)
    name: str = attrs.field()
    #: where reminders and notifications go
    email: str = attrs.field()
    full_name: str = ""
    #: teams this person belongs to (``["sales", "support"]``)
    teams: list[str] = attrs.field(factory=list)
    #: an inactive member keeps the tasks already given but gets no new ones
    active: bool = True

    @name.validator
    def _check_name(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not _NAME.match(value):
            raise ValueError(f"staff name {value!r} must be letters, digits, '.', '_', '-' or '@' (no spaces)")

    @email.validator
    def _check_email(self, attribute: attrs.Attribute[str], value: str) -> None:
        if "@" not in value or " " in value.strip():
            raise ValueError(f"staff {self.name!r}: {value!r} is not an e-mail address")


@attrs.frozen
class ReminderSettings:
    """``[plugins.tasks.reminders]``: which e-mails a task's assignee gets."""

    #: e-mail the assignee when a task is given to him
    on_assign: bool = True
    #: remind this many hours before the due time (0: no reminder)
    before_due_hours: int = attrs.field(default=24)
    #: e-mail the assignee once when a task becomes overdue
    overdue: bool = True

    @before_due_hours.validator
    def _check_hours(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value < 0:
            raise ValueError("before_due_hours must be 0 (off) or more")


@attrs.frozen
class TaskTemplate:
    """What a rule's ``task`` action creates; strings may use ``{fields}`` of the event."""

    title: str
    kind: str = attrs.field(default="follow-up", validator=_check_kind)
    #: a staff name, or a placeholder such as ``{contact.owner}`` or ``{owner}``
    assignee: str | None = None
    team: str | None = None
    #: due this long after the trigger (``"2d"``); none: no due time
    due_in: str | None = attrs.field(default=None, validator=_check_duration)
    priority: str = attrs.field(default="normal", validator=_check_priority)
    description: str = ""
    checklist: list[str] = attrs.field(factory=list)
    questions: list[str] = attrs.field(factory=list)


@attrs.frozen
class NotifyTemplate:
    """What a rule's ``notify`` action sends; strings may use ``{fields}`` of the event."""

    #: staff names, ``team:NAME``, or placeholders such as ``{owner}``
    to: list[str]
    subject: str
    text: str


@attrs.frozen
class RuleSettings:
    """``[[plugins.tasks.rules]]``: a trigger and an action (see docs/plugins/tasks.md)."""

    name: str = attrs.field()
    #: ``event``, ``change`` (a contact field changed) or ``inactivity``
    trigger: str = attrs.field()
    #: ``task`` or ``notify``
    action: str = attrs.field()
    #: the event type, for ``trigger = "event"``
    event: str | None = None
    #: conditions on the event's fields: ``{kind = "rfp"}``, ``{amount = {gte = 1000}}``
    when: dict[str, Any] = attrs.field(factory=dict)
    #: the contact field, for ``trigger = "change"``
    field: str | None = None
    #: the value before the change, for ``trigger = "change"`` (any when absent)
    old: Any = None
    #: the value after the change, for ``trigger = "change"`` (any when absent)
    new: Any = None
    #: days without a won sale, for ``trigger = "inactivity"``
    days: int | None = None
    #: act this long after the trigger instead of at once (``"3d"``)
    delay: str | None = attrs.field(default=None, validator=_check_duration)
    #: with ``delay``: act only if the event's sales record is still open then
    only_if_open: bool = False
    task: TaskTemplate | None = None
    notify: NotifyTemplate | None = None
    enabled: bool = True
    description: str = ""

    @name.validator
    def _check_name(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not re.match(r"^[a-z0-9][a-z0-9_-]{0,59}$", value):
            raise ValueError(f"rule name {value!r} must be 1-60 lower-case letters, digits, '-' or '_'")

    @trigger.validator
    def _check_trigger(self, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in TRIGGERS:
            raise ValueError(f"rule {self.name!r}: unknown trigger {value!r}; use one of {', '.join(TRIGGERS)}")

    @action.validator
    def _check_action(self, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in ACTIONS:
            raise ValueError(f"rule {self.name!r}: unknown action {value!r}; use one of {', '.join(ACTIONS)}")


@attrs.frozen
class TasksSettings:
    """``[plugins.tasks]``."""

    #: deprecated: the people tasks are given to are CRM users (``crm users``); read for one release
    staff: list[StaffMember] = attrs.field(factory=list)
    reminders: ReminderSettings = attrs.field(factory=ReminderSettings)
    rules: list[RuleSettings] = attrs.field(factory=list)
    #: the time of day a task due on a date (no time given) is due, in the app time zone
    default_due_time: str = attrs.field(default="17:00")
    #: pipeline stages (``StageChanged.new_stage``) that close a sales record
    closed_stages: list[str] = attrs.field(factory=lambda: ["won", "lost", "closed"])

    @default_due_time.validator
    def _check_time(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", value):
            raise ValueError(f"default_due_time must be HH:MM (24-hour), not {value!r}")

    def __attrs_post_init__(self) -> None:
        from crm_tasks.rules import compile_rules

        seen: set[str] = set()
        for member in self.staff:
            if member.name in seen:
                raise ValueError(f"staff member {member.name!r} is listed twice")
            seen.add(member.name)
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule name {dupes[0]!r} is used twice; rule names must be unique")
        # templates and conditions are checked against the events now; the names of
        # people and teams when the app starts, against the users (crm_startup)
        compile_rules(self.rules, None, source="plugins.tasks.rules")

    @property
    def teams(self) -> dict[str, list[StaffMember]]:
        """The configured staff's teams (deprecated with the staff list: see :class:`crm_tasks.staff.Staff`)."""
        out: dict[str, list[StaffMember]] = {}
        for member in self.staff:
            for team in member.teams:
                out.setdefault(team, []).append(member)
        return out

    def member(self, name: str) -> StaffMember | None:
        """The configured staff member ``name`` (deprecated: see :class:`crm_tasks.staff.Staff`)."""
        for member in self.staff:
            if member.name == name:
                return member
        return None
