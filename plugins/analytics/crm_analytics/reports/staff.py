"""Staff activity from the warehouse's event store: calls, meetings, notes, e-mails, tasks completed.

* ``StaffActionLogged`` events count by their ``kind`` (``call``,
  ``meeting``, ``note``, ``email``) for their ``actor``, the staff member
  who logged them (the warehouse sets it to the author);
* ``TaskCompleted`` events count as tasks completed, for the staff member
  who completed the task (the event's ``actor``), or its assignee when no
  actor is recorded (a task closed by the system);
* each falls in the period of the event's time in the app's time zone.

For readers whose scope is ``all``, the counts come from the warehouse's
activity summary (the same per day and month: :mod:`crm_analytics.summaries`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import peewee

from crm_analytics.periods import bucket
from crm_analytics.reports.common import check_texts, nothing, window
from crm_analytics.result import ChartSpec, Report
from crm_analytics.sql import fetch, json_text
from crm_analytics.summaries import Summaries, in_range
from crm_core.i18n import N_

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["staff"]

KINDS = {"call": "calls", "meeting": "meetings", "note": "notes", "email": "emails"}
NOBODY = "(nobody)"


def staff(
    crm: CRM,
    start: Any = None,
    end: Any = None,
    *,
    period: str = "quarter",
    member: Sequence[str] | str | None = None,
) -> Report:
    win = window(crm, start, end, period)
    members = check_texts(member, "staff member")
    tables = win.tables
    kind = tables.kind
    E = tables["events"]
    bounds = win.utc_bounds()
    is_action = E.c.type == "StaffActionLogged"
    action_kind = peewee.Case(None, [(is_action, json_text(kind, E.c.payload, "kind"))], None)
    who = peewee.fn.COALESCE(
        E.c.actor, peewee.Case(None, [(E.c.type == "TaskCompleted", json_text(kind, E.c.payload, "assignee"))], None)
    )
    query = (
        E.select(
            bucket(E.c.occurred_at, bounds).alias("p"),
            E.c.type,
            action_kind.alias("k"),
            who.alias("who"),
            peewee.fn.COUNT(peewee.SQL("*")),
        )
        .where(
            E.c.type.in_(["StaffActionLogged", "TaskCompleted"]),
            E.c.occurred_at >= bounds[0],
            E.c.occurred_at < bounds[-1],
        )
        .group_by(peewee.SQL("1"), peewee.SQL("2"), peewee.SQL("3"), peewee.SQL("4"))
    )
    summaries = Summaries(crm, tables)
    if summaries.usable("activity_summary", local_days=True):
        T = tables["activity_summary"]
        query = (
            T.select(bucket(T.c.day, win.date_bounds()), T.c.type, T.c.action, T.c.staff, peewee.fn.SUM(T.c.records))
            .where(in_range(T, [p.start for p in win.periods] + [win.stop], tables))
            .group_by(peewee.SQL("1"), T.c.type, T.c.action, T.c.staff)
        )
    cells: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for p, type_name, action, person, count in fetch(query, tables):
        person = person if person else NOBODY
        if members and person not in members:
            continue
        cell = cells[(int(p), person)]
        if type_name == "TaskCompleted":
            cell["tasks_completed"] += int(count)
        else:
            cell[KINDS.get(action, "other")] += int(count)
    columns = ("period", "staff", *KINDS.values(), "other", "tasks_completed", "total")
    rows = []
    for (p, person), cell in sorted(cells.items()):
        row: dict[str, Any] = {"period": win.label(p), "staff": person}
        row.update({c: cell.get(c, 0) for c in (*KINDS.values(), "other", "tasks_completed")})
        row["total"] = sum(cell.values())
        rows.append(row)
    return Report(
        name="staff",
        title="Staff activity",
        columns=columns,
        rows=tuple(rows),
        start=win.start,
        end=win.end,
        period=win.grain,
        periods=win.labels(),
        notes=(*win.notes(), *summaries.notes),
        empty_message=nothing(N_("no calls, meetings, notes, e-mails or completed tasks"), win),
        chart=ChartSpec(
            x="staff" if win.grain == "all" else "period",
            y=(*KINDS.values(), "tasks_completed"),
            group=() if win.grain == "all" else ("staff",),
            kind="stacked",
        ),
    )
