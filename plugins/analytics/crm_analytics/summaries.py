"""Reading the warehouse's summary tables: when a report may, and the rows of a range it reads.

The warehouse keeps its reporting tables added up per day and per month
(``warehouse_*_summary``, documented with its reporting tables). A standard
report reads them instead of the rows they add up when all of this holds
(:meth:`Summaries.usable`), and otherwise reads the reporting tables, with
the same answer:

* ``plugins.analytics.summaries`` is on (the default);
* the warehouse names them (``reporting_tables()``: an older warehouse does not);
* they are complete (a database upgraded with data needs ``crm warehouse
  summaries --rebuild`` first: the report says so in a note);
* for summaries of dates and times (contacts' history, surveys, staff
  activity), their days are in the app's time zone (after a change of
  ``[crm] timezone``, until a rebuild: a note says so too);
* the reader's scope allows it: sales summaries keep the owner (a seller's
  report reads the ``owner`` rows), the others only serve readers whose
  scope is ``all`` (:meth:`crm_analytics.sql.Tables.scoped`); a report that
  groups or filters by more columns than one summary keeps reads the
  reporting tables too.

A range is read from the month rows of the months that lie wholly inside
one period, and from the day rows of the other days (:func:`in_range`), so
two years of quarters read 24 rows per key, not 730.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import peewee

from crm_analytics.reports.common import settings
from crm_analytics.result import Note
from crm_core.i18n import N_

if TYPE_CHECKING:
    from crm_analytics.sql import Tables
    from crm_core.app import CRM

__all__ = ["Summaries", "in_range", "split"]

#: the summary tables' roles in the warehouse's reporting_tables()
ROLES = (
    "sales_summary",
    "open_sales_summary",
    "pipeline_summary",
    "status_summary",
    "activity_summary",
    "survey_summary",
    "summary_state",
)
_E4 = 10000


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def split(days: Sequence[dt.date], *, below: bool) -> tuple[list[tuple[Any, dt.date]], list[tuple[dt.date, dt.date]]]:
    """The months and days that cover the periods ``days[i]`` to ``days[i + 1]`` (and all before ``days[0]``).

    Returns ``(months, singles)``: ranges ``[lo, hi)`` of month starts whose
    whole month lies inside one period (``lo`` ``None``: from the first),
    and ranges ``[lo, hi)`` of the days left over, each merged with the next
    when they touch.
    """
    months: list[tuple[Any, dt.date]] = []
    singles: list[tuple[dt.date, dt.date]] = []

    def add(ranges: list[Any], lo: Any, hi: dt.date) -> None:
        if lo is not None and lo >= hi:
            return
        if ranges and ranges[-1][1] == lo:
            ranges[-1] = (ranges[-1][0], hi)
        else:
            ranges.append((lo, hi))

    segments: list[tuple[Any, dt.date]] = [(None, days[0])] if below else []
    segments += list(zip(days, days[1:]))
    for lo, hi in segments:
        last = hi.replace(day=1)  # months starting before it end on or before hi
        first = None if lo is None else (lo if lo.day == 1 else _next_month(lo))
        if first is None or first < last:
            add(months, first, last)
            if lo is not None and first is not None:
                add(singles, lo, first)
            add(singles, last, hi)
        else:
            add(singles, lo, hi)
    return months, singles


def in_range(table: peewee.Table, days: Sequence[dt.date], tables: Tables, *, below: bool = False) -> Any:
    """The rows of a summary ``table`` that add up the periods of ``days`` exactly (see :func:`split`)."""
    months, singles = split(days, below=below)
    day = table.c.day

    def within(lo: Any, hi: dt.date) -> Any:
        before = day < tables.param(hi)
        return before if lo is None else (day >= tables.param(lo)) & before

    def any_of(parts: list[Any]) -> Any:
        out = parts[0]
        for part in parts[1:]:
            out = out | part
        return out

    conditions = []
    if months:
        conditions.append((table.c.span == "month") & any_of([within(lo, hi) for lo, hi in months]))
    if singles:
        conditions.append((table.c.span == "day") & any_of([within(lo, hi) for lo, hi in singles]))
    return any_of(conditions) if conditions else peewee.SQL("1 = 0")


def money_e4(value: Any) -> Any:
    """A sum of ``amount_e4`` as the amount it is (a Decimal)."""
    import decimal

    return decimal.Decimal(int(value or 0)) / _E4


class Summaries:
    """Whether a report may read the summary tables, and what it should say when it may not."""

    def __init__(self, crm: CRM, tables: Tables) -> None:
        self.crm = crm
        self.tables = tables
        self.enabled = bool(settings(crm).summaries) and all(tables.has(role) for role in ROLES)
        self._state: tuple[bool, str | None] | None = None
        #: what the report should say about them (summaries that could not be read)
        self.notes: list[Note] = []

    def _read_state(self) -> tuple[bool, str | None]:
        if self._state is None:
            from crm_analytics.sql import fetch

            S = peewee.Table(self.tables.names["summary_state"]).bind(self.tables.database)
            found = fetch(S.select(S.c.complete, S.c.timezone).where(S.c.name == "summaries"), self.tables)
            self._state = (bool(found[0][0]), found[0][1]) if found else (False, None)
        return self._state

    def usable(self, role: str, *, local_days: bool = False) -> bool:
        """Whether the summary ``role`` may stand for the rows it adds up (``local_days``: its days are of times).

        A ``whole`` summary also needs a reader whose scope is ``all``; an
        ``owner`` one is read through the reader's scope (see the module's
        docstring).
        """
        if not self.enabled:
            return False
        complete, timezone = self._read_state()
        if not complete:
            self._say(
                Note(
                    N_(
                        "the warehouse's summary tables are not complete (a database upgraded with data); this report "
                        "read the reporting tables themselves; run 'crm warehouse summaries --rebuild'"
                    )
                )
            )
            return False
        if local_days and timezone is not None and timezone != _zone_name(self.crm.tz):
            self._say(
                Note(
                    N_(
                        "the warehouse's summary tables count days in %(zone)s, not in the app's time zone "
                        "(%(app_zone)s); this report read the reporting tables themselves; run "
                        "'crm warehouse summaries --rebuild'"
                    ),
                    zone=timezone,
                    app_zone=_zone_name(self.crm.tz),
                )
            )
            return False
        return not self.tables.scoped(role) if _whole(role) else True

    def _say(self, note: Note) -> None:
        if note not in self.notes:
            self.notes.append(note)


def _whole(role: str) -> bool:
    from crm_analytics.sql import SOURCES

    return SOURCES[role].keep == "whole"


def _zone_name(tz: dt.tzinfo) -> str:
    return str(getattr(tz, "key", None) or tz)
