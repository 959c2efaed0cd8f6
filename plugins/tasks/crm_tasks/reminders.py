"""Reminders: "assigned to you", "due soon" and "overdue" e-mails, each sent once.

The worker's ``tasks.reminders`` job calls :meth:`Reminders.run`. It claims the tasks
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
from crm_core.storage import batched, for_update
from crm_tasks.notify import Notice

if TYPE_CHECKING:
    import peewee

    from crm_core.app import CRM
    from crm_tasks.notify import Notifications
    from crm_tasks.settings import TasksSettings
    from crm_tasks.staff import Staff

__all__ = ["Reminders"]

CHUNK = 500


class Reminders:
    """The reminders of one app's tasks."""

    def __init__(self, crm: CRM, staff: Staff, notifications: Notifications) -> None:
        self.crm = crm
        self._staff = staff
        self._notifications = notifications

    @property
    def settings(self) -> TasksSettings:
        settings: TasksSettings = self.crm.settings("tasks")
        return settings

    def _when(self, value: dt.datetime | None) -> str:
        return value.astimezone(self.crm.tz).strftime("%Y-%m-%d %H:%M %Z") if value else "no due time"

    def notify_assigned(self, tasks: Iterable[tuple[int, str, str, dt.datetime | None]]) -> list[Notice]:
        """E-mail each ``(task id, assignee, title, due)``'s assignee that the task is theirs; return the notices recorded."""
        crm = self.crm
        tasks = list(tasks)
        roster = self._staff.roster(assignee for _, assignee, _, _ in tasks)
        notices = []
        stamp = crm.clock.now().strftime("%Y%m%dT%H%M%S")
        for task_id, assignee, title, due in tasks:
            member = roster.member(assignee)
            if member is None:
                continue
            notices.append(
                Notice(
                    key=f"tasks:assigned:{task_id}:{assignee}:{stamp}",
                    kind="assigned",
                    member=member,
                    subject=f"Task #{task_id} for you: {title}",
                    text=(
                        f"Task #{task_id} has been given to you.\n\n{title}\nDue: {self._when(due)}\n\n"
                        f"See it with: crm tasks show {task_id}\n"
                    ),
                    task_id=task_id,
                )
            )
        return self._notifications.record(notices)

    def run(self, now: dt.datetime | None = None) -> dict[str, int]:
        """Send the due-soon and overdue reminders that are due; return how many of each."""
        from crm_tasks.models import Task

        crm, settings = self.crm, self.settings

        now = (now or crm.clock.now()).astimezone(dt.UTC)
        counts = {"due": 0, "overdue": 0}
        with crm.transaction():
            if settings.reminders.before_due_hours > 0:
                horizon = now + dt.timedelta(hours=settings.reminders.before_due_hours)
                rows = self._claim(
                    Task.reminded_due_at,
                    (Task.due_at > now) & (Task.due_at <= horizon),
                )
                counts["due"] = self._send(rows, "due")
            if settings.reminders.overdue:
                rows = self._claim(Task.overdue_notified_at, Task.due_at <= now)
                counts["overdue"] = self._send(rows, "overdue")
        return counts

    def _claim(self, mark: peewee.Field[Any], window: peewee.Expression) -> list[tuple[int, str, str, dt.datetime]]:
        from crm_tasks.models import Task

        crm = self.crm
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
        for ids in batched([r[0] for r in rows], CHUNK):
            Task.update({mark: Task.due_at}).where(Task.id.in_(ids)).execute()
        return [(i, a, t, Task.due_at.python_value(d)) for i, a, t, d in rows]

    def _send(self, rows: Sequence[tuple[int, str, str, dt.datetime]], kind: str) -> int:
        roster = self._staff.roster(assignee for _, assignee, _, _ in rows)
        notices = []
        for task_id, assignee, title, due in rows:
            member = roster.member(assignee)
            if member is None:
                self.crm.log.warning(
                    "task %s: assignee %r is not a CRM user (nor a staff member); no %s reminder sent",
                    task_id,
                    assignee,
                    kind,
                )
                continue
            when = self._when(due)
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
                Notice(
                    key=f"tasks:{kind}:{task_id}:{due.strftime('%Y%m%dT%H%M%S')}",
                    kind=kind,
                    member=member,
                    subject=subject,
                    text=text,
                    task_id=task_id,
                )
            )
        return self._notifications.send(notices)
