"""The campaigns plugin's job for ``crm worker``: due sends, newsletter occurrences, and resuming cut-off sends."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from crm_hookspecs.records import JobSpec

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["SENDS_EVERY", "worker_jobs"]

#: how often the worker looks for due sends (a scheduled send leaves at most this late)
SENDS_EVERY = dt.timedelta(minutes=1)


def run_sends(crm: CRM, scheduled_at: Any = None) -> str:
    done = crm.plugin("campaigns").run_due()
    return f"{len(done)} send(s) queued"


def worker_jobs(crm: CRM) -> list[JobSpec]:
    return [JobSpec("campaigns.sends", run_sends, interval=SENDS_EVERY)]
