"""E-mails to staff, through the kernel's mail queue, each sent once.

Every message has a key (``tasks:due:<task>:<due time>``…). It is recorded in
``tasks_reminder`` (unique key) in the same transaction as the message is
queued, and handed to ``crm.mail.queue(key=...)``, which refuses a key it has
already queued: two workers, or a job run twice, send it once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import attrs
import peewee

if TYPE_CHECKING:
    from crm_core.app import CRM

    from crm_tasks.settings import StaffMember

__all__ = ["Notice", "send"]


@attrs.frozen
class Notice:
    key: str
    kind: str
    member: StaffMember
    subject: str
    text: str
    task_id: int | None = None


def send(crm: CRM, notices: Iterable[Notice]) -> int:
    """Queue each notice not sent before; return how many were queued.

    Call inside a transaction: the record and the queued message commit
    together, or neither does.
    """
    from crm_tasks.models import Reminder

    notices = list(notices)
    if not notices:
        return 0
    keys = [n.key for n in notices]
    sent: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        sent.update(k for (k,) in Reminder.select(Reminder.key).where(Reminder.key.in_(chunk)).tuples())
    now = crm.clock.now().replace(microsecond=0)
    queued = 0
    mail = crm.mail
    for notice in notices:
        if notice.key in sent:
            continue
        sent.add(notice.key)
        try:
            with crm.database.atomic():
                Reminder.insert(
                    key=notice.key,
                    task=notice.task_id,
                    kind=notice.kind,
                    recipient=notice.member.name,
                    subject=notice.subject[:300],
                    sent_at=now,
                ).execute()
        except peewee.IntegrityError:
            continue  # another worker recorded it first: it sends it
        if mail.queue(notice.member.email, notice.subject, notice.text, key=notice.key) is not None:
            queued += 1
    return queued
