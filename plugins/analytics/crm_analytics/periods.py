"""Periods in the app's time zone, and the SQL that puts a row in its period.

A report covers the local days ``[start, end]`` (both included) and groups
them by week, month, quarter or year (quarters and years follow
``plugins.analytics.fiscal_year_start``), or not at all (``all``). The
boundaries of every period are computed here, in Python, with the app's time
zone: local dates for date columns (``closed_on`` is already a local date),
and the UTC instants of local midnight for datetime columns (stored as naive
UTC). The database then compares each row with those boundaries:
:func:`bucket` builds a balanced ``CASE`` that returns the period's index in
about log2(periods) comparisons. This works the same on SQLite, PostgreSQL
and MariaDB, needs no time zone tables on the server, and is exact across
daylight-saving changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs
import peewee

from crm_core.clock import naive_utc
from crm_core.errors import ValidationError

__all__ = ["GRAINS", "MAX_PERIODS", "Period", "bucket", "check_range", "parse_day", "split", "utc_bounds"]

GRAINS = ("week", "month", "quarter", "year", "all")
#: more periods than this in one report is almost surely a mistake (ten years of weeks is 522)
MAX_PERIODS = 600


@attrs.frozen
class Period:
    """One period of a report: ``[start, end)`` in local days, clipped to the report's range."""

    index: int
    label: str
    start: dt.date
    end: dt.date
    #: the report's range cuts this period short
    clipped: bool = False


def parse_day(value: Any, what: str) -> dt.date:
    """A date from a ``date`` or ``YYYY-MM-DD`` text; ``what`` names the input in the error."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValidationError(f"{what} {value!r} is not a date; write it as YYYY-MM-DD (e.g. 2026-03-31)")


def check_range(start: dt.date, end: dt.date, what: tuple[str, str] = ("--from", "--to")) -> None:
    if end < start:
        raise ValidationError(
            f"the period ends before it starts: {what[1]} {end.isoformat()} is before {what[0]} {start.isoformat()}; "
            f"swap them or give a later {what[1]}"
        )


def _grain_start(day: dt.date, grain: str, fiscal_start: int) -> dt.date:
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    months_in = (day.month - fiscal_start) % 12  # months since the (fiscal) year started
    if grain == "quarter":
        back = months_in % 3
    elif grain == "year":
        back = months_in
    else:
        raise ValidationError(f"period {grain!r} is not one of {', '.join(GRAINS)}")
    month = day.month - back
    year = day.year
    if month < 1:
        month += 12
        year -= 1
    return dt.date(year, month, 1)


def _next(start: dt.date, grain: str) -> dt.date:
    if grain == "week":
        return start + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    total = start.year * 12 + start.month - 1 + months
    return dt.date(total // 12, total % 12 + 1, 1)


def label(start: dt.date, grain: str, fiscal_start: int = 1) -> str:
    """``2026-Q1``, ``2026-03``, ``2026-W05``, ``2026``; fiscal years are ``FY2027-Q1``, ``FY2027``.

    A fiscal year that does not start in January is named after the calendar
    year in which it ends.
    """
    if grain == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if grain == "month":
        return f"{start.year}-{start.month:02d}"
    year_start = _grain_start(start, "year", fiscal_start)
    if fiscal_start == 1:
        name = str(year_start.year)
    else:
        name = f"FY{year_start.year + 1}"
    if grain == "year":
        return name
    months_in = (start.month - fiscal_start) % 12
    return f"{name}-Q{months_in // 3 + 1}"


def split(start: dt.date, end: dt.date, grain: str, fiscal_start: int = 1) -> list[Period]:
    """The periods covering the local days ``start`` to ``end`` (both included)."""
    check_range(start, end)
    stop = end + dt.timedelta(days=1)
    if grain == "all":
        return [Period(0, f"{start.isoformat()}..{end.isoformat()}", start, stop)]
    if grain not in GRAINS:
        raise ValidationError(f"period {grain!r} is not one of {', '.join(GRAINS)}")
    out: list[Period] = []
    first = _grain_start(start, grain, fiscal_start)
    cursor = first
    while cursor < stop:
        nxt = _next(cursor, grain)
        out.append(
            Period(
                len(out),
                label(cursor, grain, fiscal_start),
                max(cursor, start),
                min(nxt, stop),
                cursor < start or nxt > stop,
            )
        )
        cursor = nxt
        if len(out) > MAX_PERIODS:
            raise ValidationError(
                f"{start.isoformat()} to {end.isoformat()} by {grain} makes more than {MAX_PERIODS} periods; "
                "choose a longer period (--period) or a shorter range"
            )
    return out


def utc_bounds(days: Sequence[dt.date], tz: dt.tzinfo) -> list[dt.datetime]:
    """Local midnight of each day, as naive UTC (the way datetime columns are stored)."""
    out = []
    for day in days:
        local = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
        out.append(naive_utc(local))
    return out


def bucket(column: Any, bounds: Sequence[Any], *, below: bool = False) -> peewee.ColumnBase:
    """The index ``i`` such that ``bounds[i] <= column < bounds[i + 1]``, as SQL.

    ``bounds`` are the periods' starts followed by the end of the last one
    (already converted for the database, see ``sql.param``). Rows at or past
    the last bound must be filtered out by the caller. With ``below``, rows
    before the first bound get ``-1`` (reports that carry counts forward need
    them); otherwise the caller filters them out too.
    """
    n = len(bounds) - 1
    if n < 1:
        raise ValueError("bucket needs at least one period")

    def build(lo: int, hi: int) -> peewee.ColumnBase:
        if hi - lo == 1:
            return peewee.SQL(str(lo))
        mid = (lo + hi) // 2
        return peewee.Case(None, [(column < bounds[mid], build(lo, mid))], build(mid, hi))

    node = build(0, n)
    if below:
        node = peewee.Case(None, [(column < bounds[0], peewee.SQL("-1"))], node)
    return node
