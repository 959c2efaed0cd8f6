"""E-mails to staff, through the kernel's mail queue, each sent once.

Every message has a key (``tasks:due:<task>:<due time>``…). It is recorded in
``tasks_reminder`` (unique key) in the same transaction as the message is
queued, and handed to ``crm.mail.queue(key=...)``, which refuses a key it has
already queued: two workers, or a job run twice, send it once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_tasks.staff import Member

__all__ = ["Notice", "Notifications"]


@attrs.frozen
class Notice:
    key: str
    kind: str
    member: Member
    subject: str
    text: str
    task_id: int | None = None
    #: when it was recorded (set by :meth:`Notifications.record`)
    sent_at: dt.datetime | None = None


class Notifications:
    """The e-mails the tasks plugin sends to the people who do the tasks."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    def send(self, items: Iterable[Notice]) -> int:
        """Queue each notice not sent before; return how many were queued."""
        return self._record(items)[1]

    def record(self, items: Iterable[Notice]) -> list[Notice]:
        """Queue each notice not sent before; return those recorded, with their ``sent_at``."""
        return self._record(items)[0]

    def _record(self, items: Iterable[Notice]) -> tuple[list[Notice], int]:
        """Record and queue each notice not sent before: the notices recorded, and how many messages were queued.

        Set-based: one look-up of the keys already recorded, one bulk insert of
        the new ``tasks_reminder`` rows, one ``crm.mail.queue_many``. Call
        inside a transaction: the records and the queued messages commit
        together, or neither does. A key recorded concurrently by another
        worker makes the insert fail on the unique key, so the transaction rolls
        back instead of sending twice. A lone notice (a task given to someone)
        is one insert that leaves out a key recorded before, now or
        concurrently (it then waits for the other transaction), and is queued
        only if its row was written.
        """
        from crm_core.mail import OutgoingMessage
        from crm_core.storage import bulk_insert
        from crm_tasks.models import Reminder
        from crm_tasks.store import quote, rows_in

        crm = self.crm
        notices = []
        for notice in items:
            if notice.member.email:
                notices.append(notice)
            else:
                crm.log.warning("tasks: %s has no e-mail address; no %s notice sent", notice.member.name, notice.kind)
        if not notices:
            return [], 0
        database = crm.database
        now = crm.clock.now().replace(microsecond=0)
        columns = ("key", "task_id", "kind", "recipient", "subject", "sent_at")

        def rows(chosen: list[Notice]) -> Iterable[tuple[object, ...]]:
            return ((n.key, n.task_id, n.kind, n.member.name, n.subject[:300], now) for n in chosen)

        if len(notices) == 1:
            fresh = (
                notices
                if bulk_insert(Reminder, columns, rows(notices), database=database, skip_duplicates=True)
                else []
            )
        else:
            sql = f"SELECT {quote(database, 'key')} FROM tasks_reminder WHERE {quote(database, 'key')} {{in}}"
            sent = {k for (k,) in rows_in(database, sql, [n.key for n in notices])}
            fresh = []
            for notice in notices:
                if notice.key not in sent:
                    sent.add(notice.key)
                    fresh.append(notice)
            bulk_insert(Reminder, columns, rows(fresh), database=database)
        if not fresh:
            return [], 0
        queued: int = crm.mail.queue_many(
            OutgoingMessage(n.member.email or "", n.subject, n.text, key=n.key) for n in fresh
        )
        return [attrs.evolve(n, sent_at=now) for n in fresh], queued
