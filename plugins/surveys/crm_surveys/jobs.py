"""The surveys plugin's jobs for ``crm worker``: scheduled sends and reminders."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from crm_hookspecs.records import JobSpec

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["worker_jobs"]

#: how often the worker looks for due schedule occurrences and reminders
SCHEDULE_EVERY = dt.timedelta(minutes=5)
REMIND_EVERY = dt.timedelta(hours=1)


def send_scheduled(crm: CRM, scheduled_at: Any = None) -> str:
    reports = crm.plugin("surveys").run_schedules()
    return f"{len(reports)} scheduled send(s), {sum(r.sent for r in reports)} message(s)"


def send_reminders(crm: CRM, scheduled_at: Any = None) -> str:
    reports = crm.plugin("surveys").remind()
    return f"{sum(r.sent for r in reports)} reminder(s)"


def worker_jobs(crm: CRM) -> list[JobSpec]:
    return [
        JobSpec("surveys.schedules", send_scheduled, interval=SCHEDULE_EVERY),
        JobSpec("surveys.reminders", send_reminders, interval=REMIND_EVERY),
    ]
