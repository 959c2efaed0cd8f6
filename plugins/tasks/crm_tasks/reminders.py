"""Reminders: "assigned to you", "due soon" and "overdue" e-mails, each sent once.

The worker's ``tasks.reminders`` job calls :func:`run`. It claims the tasks
to remind with ``SELECT … FOR UPDATE`` and marks them (``reminded_due_at`` /
``overdue_notified_at`` take the task's due time) in the same transaction as
the e-mails are queued, so two workers never remind twice, and a task whose
due time is moved is reminded again for the new time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from crm_core import rows as typed_rows
from crm_core.storage import for_update

if TYPE_CHECKING:
    import peewee

    from crm_core.app import CRM
    from crm_tasks.settings import TasksSettings

__all__ = ["notify_assigned", "run"]

CHUNK = 500


def _when(crm: CRM, value: dt.datetime | None) -> str:
    return value.astimezone(crm.tz).strftime("%Y-%m-%d %H:%M %Z") if value else "no due time"


def notify_assigned(
    crm: CRM, settings: TasksSettings, tasks: Iterable[tuple[int, str, str, dt.datetime | None]]
) -> int:
    """E-mail each ``(task id, assignee, title, due)``'s assignee that the task is his."""
    from crm_tasks import notify

    notices = []
    stamp = crm.clock.now().strftime("%Y%m%dT%H%M%S")
    for task_id, assignee, title, due in tasks:
        member = settings.member(assignee)
        if member is None:
            continue
        notices.append(
            notify.Notice(
                key=f"tasks:assigned:{task_id}:{assignee}:{stamp}",
                kind="assigned",
                member=member,
                subject=f"Task #{task_id} for you: {title}",
                text=(
                    f"Task #{task_id} has been given to you.\n\n{title}\nDue: {_when(crm, due)}\n\n"
                    f"See it with: crm tasks show {task_id}\n"
                ),
                task_id=task_id,
            )
        )
    return notify.send(crm, notices)


def run(crm: CRM, settings: TasksSettings, now: dt.datetime | None = None) -> dict[str, int]:
    """Send the due-soon and overdue reminders that are due; return how many of each."""
    from crm_tasks.models import Task

    now = (now or crm.clock.now()).astimezone(dt.UTC)
    counts = {"due": 0, "overdue": 0}
    with crm.transaction():
        if settings.reminders.before_due_hours > 0:
            horizon = now + dt.timedelta(hours=settings.reminders.before_due_hours)
            rows = _claim(
                crm,
                Task.reminded_due_at,
                (Task.due_at > now) & (Task.due_at <= horizon),
            )
            counts["due"] = _send(crm, settings, rows, "due")
        if settings.reminders.overdue:
            rows = _claim(crm, Task.overdue_notified_at, Task.due_at <= now)
            counts["overdue"] = _send(crm, settings, rows, "overdue")
    return counts


def _claim(crm: CRM, mark: peewee.Field[Any], window: peewee.Expression) -> list[tuple[int, str, str, dt.datetime]]:
    from crm_tasks.models import Task

    query = (
        Task.select(Task.id, Task.assignee, Task.title, Task.due_at)
        .where(
            (Task.status == "open")
            & Task.assignee.is_null(False)
            & Task.due_at.is_null(False)
            & window
            & (mark.is_null() | (mark != Task.due_at))
        )
        .order_by(Task.id)
    )
    rows = list(typed_rows.tuples(for_update(query, crm.database)))
    ids = [r[0] for r in rows]
    for start in range(0, len(ids), CHUNK):
        Task.update({mark: Task.due_at}).where(Task.id.in_(ids[start : start + CHUNK])).execute()
    return [(i, a, t, Task.due_at.python_value(d)) for i, a, t, d in rows]


def _send(crm: CRM, settings: TasksSettings, rows: Sequence[tuple[int, str, str, dt.datetime]], kind: str) -> int:
    from crm_tasks import notify

    notices = []
    for task_id, assignee, title, due in rows:
        member = settings.member(assignee)
        if member is None:
            crm.log.warning(
                "task %s: assignee %r is not in [[plugins.tasks.staff]]; no %s reminder sent", task_id, assignee, kind
            )
            continue
        when = _when(crm, due)
        if kind == "due":
            subject = f"Reminder: task #{task_id} is due {when}: {title}"
            text = f"Task #{task_id} is due {when}.\n\n{title}\n\nClose it with: crm tasks done {task_id}\n"
        else:
            subject = f"Overdue: task #{task_id} was due {when}: {title}"
            text = (
                f"Task #{task_id} was due {when} and is still open.\n\n{title}\n\n"
                f"Close it with: crm tasks done {task_id}\n"
            )
        notices.append(
            notify.Notice(
                key=f"tasks:{kind}:{task_id}:{due.strftime('%Y%m%dT%H%M%S')}",
                kind=kind,
                member=member,
                subject=subject,
                text=text,
                task_id=task_id,
            )
        )
    return notify.send(crm, notices)
