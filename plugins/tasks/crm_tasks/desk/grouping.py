"""The to-do list's groups: overdue, today, this week, later, in the user's time zone (no Flask, no database)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

__all__ = ["GROUPS", "group_tasks"]

#: the groups, in the order the page shows them
GROUPS = ("overdue", "today", "this_week", "later")


def group_tasks(tasks: Iterable[Any], now: dt.datetime, tz: dt.tzinfo) -> dict[str, list[Any]]:
    """``tasks`` (with ``due_at``, aware) split by due time: before ``now``, before tomorrow, before next Monday, the rest.

    Days and weeks (Monday to Sunday) are those of ``tz``, the user's time
    zone; tasks without a due time are ``later``. Each group keeps the order given.
    """
    local_now = now.astimezone(tz)
    today = local_now.date()
    tomorrow = _midnight(today + dt.timedelta(days=1), tz)
    next_monday = _midnight(today + dt.timedelta(days=7 - today.weekday()), tz)
    out: dict[str, list[Any]] = {group: [] for group in GROUPS}
    for task in tasks:
        due = task.due_at
        if due is None:
            out["later"].append(task)
        elif due < now:
            out["overdue"].append(task)
        elif due < tomorrow:
            out["today"].append(task)
        elif due < next_monday:
            out["this_week"].append(task)
        else:
            out["later"].append(task)
    return out


def _midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    # zoneinfo resolves a skipped or repeated midnight (a DST change) by fold=0
    return dt.datetime.combine(day, dt.time(), tzinfo=tz)
