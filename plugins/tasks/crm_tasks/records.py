"""The values the tasks API hands out and takes in (frozen attrs classes)."""

from __future__ import annotations

import datetime as dt

import attrs

__all__ = [
    "ChecklistEntry",
    "Draft",
    "FiringInfo",
    "QuestionEntry",
    "RecurringInfo",
    "ReminderInfo",
    "SentReminder",
    "TaskInfo",
]


@attrs.frozen
class ChecklistEntry:
    position: int
    text: str
    done_at: dt.datetime | None = None
    done_by: str | None = None

    @property
    def done(self) -> bool:
        return self.done_at is not None


@attrs.frozen
class QuestionEntry:
    position: int
    text: str
    answer: str | None = None
    answered_at: dt.datetime | None = None
    answered_by: str | None = None


@attrs.frozen
class ReminderInfo:
    kind: str
    recipient: str
    subject: str
    sent_at: dt.datetime


@attrs.frozen
class SentReminder:
    """A reminder e-mail sent to a user, with its task as it is now (:meth:`TasksAPI.reminders`)."""

    kind: str
    subject: str
    sent_at: dt.datetime
    task_id: int | None = None
    task_title: str | None = None
    task_status: str | None = None
    task_due_at: dt.datetime | None = None


@attrs.frozen
class TaskInfo:
    """One task as the API shows it (``checklist``, ``questions``, ``links`` only from ``get``)."""

    id: int
    title: str
    kind: str
    status: str
    priority: str
    assignee: str | None
    team: str | None
    due_at: dt.datetime | None
    contact_id: int | None
    description: str
    created_at: dt.datetime
    created_by: str | None
    closed_at: dt.datetime | None
    closed_by: str | None
    origin: str
    rule: str | None
    links: tuple[tuple[str, int], ...] = ()
    checklist: tuple[ChecklistEntry, ...] = ()
    questions: tuple[QuestionEntry, ...] = ()
    reminders: tuple[ReminderInfo, ...] = ()


@attrs.frozen
class Draft:
    """A task about to be created (by a rule, a template or the inactivity scan)."""

    title: str
    kind: str = "to-do"
    assignee: str | None = None
    team: str | None = None
    due_at: dt.datetime | None = None
    priority: int = 2
    description: str = ""
    contact_id: int | None = None
    links: tuple[tuple[str, int], ...] = ()
    checklist: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    origin: str = "manual"
    origin_key: str | None = None
    rule: str | None = None
    created_by: str | None = None


@attrs.frozen
class FiringInfo:
    id: int
    rule: str
    key: str
    event_type: str | None
    contact_id: int | None
    fired_at: dt.datetime
    outcome: str
    task_id: int | None
    detail: str


@attrs.frozen
class RecurringInfo:
    id: int
    name: str
    title: str
    kind: str
    assignee: str | None
    team: str | None
    rrule: str
    timezone: str
    dtstart: dt.datetime
    lead: dt.timedelta
    active: bool
    next_occurrence: dt.datetime | None
    priority: str = "normal"
    description: str = ""
    checklist: tuple[str, ...] = ()
