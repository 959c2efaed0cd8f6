"""The portal's job for ``crm worker``: forget what it no longer needs."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from crm_hookspecs.records import JobSpec

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["worker_jobs"]

CLEAN_EVERY = dt.timedelta(hours=1)


def clean(crm: CRM, scheduled_at: Any = None) -> str:
    """Delete expired unconfirmed sign-ups (an address without consent) and spent rate-limit counters."""
    from crm_portal import ratelimit, signup

    signups = signup.forget_expired(crm)
    counters = ratelimit.clean(crm)
    return f"{signups} expired sign-up(s), {counters} rate counter(s) deleted"


def worker_jobs(crm: CRM) -> list[JobSpec]:
    return [JobSpec("portal.cleanup", clean, interval=CLEAN_EVERY)]
