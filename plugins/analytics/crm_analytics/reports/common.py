"""What the standard reports share: the range and its periods, grouping options, tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crm_analytics import periods as P
from crm_analytics.result import Note
from crm_analytics.sql import Tables
from crm_core.errors import ValidationError
from crm_core.i18n import N_

if TYPE_CHECKING:
    from crm_analytics.settings import AnalyticsSettings
    from crm_core.app import CRM

__all__ = ["Window", "check_choices", "window"]


@attrs.frozen
class Window:
    """A report's range (local days, both ends included) split into periods."""

    start: dt.date
    end: dt.date
    grain: str
    periods: tuple[P.Period, ...]
    tables: Tables
    tz: dt.tzinfo

    @property
    def stop(self) -> dt.date:
        """The first day after the range."""
        return self.end + dt.timedelta(days=1)

    def date_bounds(self) -> list[Any]:
        days = [p.start for p in self.periods] + [self.stop]
        return [self.tables.param(d) for d in days]

    def utc_bounds(self) -> list[Any]:
        days = [p.start for p in self.periods] + [self.stop]
        return [self.tables.param(d) for d in P.utc_bounds(days, self.tz)]

    def label(self, index: int) -> str:
        return self.periods[index].label

    def labels(self) -> tuple[str, ...]:
        """Every period's label, in time order (``Report.periods``)."""
        return tuple(p.label for p in self.periods)

    def notes(self) -> tuple[str, ...]:
        clipped = [p for p in self.periods if p.clipped]
        if not clipped or self.grain == "all":
            return ()
        parts = [
            Note(
                N_("%(period)s (%(first)s to %(last)s)"),
                period=p.label,
                first=p.start,
                last=p.end - dt.timedelta(days=1),
            )  # fmt: skip
            for p in clipped
        ]
        return (Note(N_("partial period(s), cut to the range: %(periods)s"), periods=parts),)


def settings(crm: CRM) -> AnalyticsSettings:
    found: AnalyticsSettings = crm.settings("analytics")
    return found


def window(
    crm: CRM,
    start: Any = None,
    end: Any = None,
    period: str | None = None,
    *,
    default_periods: int = 8,
) -> Window:
    """The range ``start``..``end`` (dates or ``YYYY-MM-DD``) split by ``period``.

    Without ``end``, today (in the app's time zone); without ``start``, the
    start of the quarter ``default_periods - 1`` quarters before ``end``'s
    (two years of quarters by default).
    """
    conf = settings(crm)
    grain = period or conf.default_period
    if grain not in P.GRAINS:
        raise ValidationError(f"period {grain!r} is not one of {', '.join(P.GRAINS)}")
    end_day = P.parse_day(end, "--to") if end is not None else crm.today()
    if start is not None:
        start_day = P.parse_day(start, "--from")
    else:
        first = P._grain_start(end_day, "quarter", conf.fiscal_year_start)
        total = first.year * 12 + first.month - 1 - 3 * (default_periods - 1)
        start_day = dt.date(total // 12, total % 12 + 1, 1)
    P.check_range(start_day, end_day)
    return Window(
        start_day,
        end_day,
        grain,
        tuple(P.split(start_day, end_day, grain, conf.fiscal_year_start)),
        Tables(crm),
        crm.tz,
    )


def check_choices(values: Sequence[str] | str | None, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    """``values`` (one or several) each one of ``allowed``, in the order given, once each."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        if value not in allowed:
            raise ValidationError(f"{what} {value!r} is not one of {', '.join(allowed)}")
        if value not in out:
            out.append(value)
    return tuple(out)


def check_texts(values: Sequence[str] | str | None, what: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    out = []
    for value in values:
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise ValidationError(f"{what} {value!r} must be a non-empty text of up to 200 characters")
        out.append(value.strip())
    return tuple(out)


def currency_filter(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValidationError(f"currency {value!r} is not an ISO 4217 code; write three letters, e.g. EUR")
    return code


def nothing(what: str, win: Window) -> Note:
    """Why a report is empty: ``what`` (English, marked with ``N_``) was not found in the range."""
    return Note(N_("no data: %(what)s between %(start)s and %(end)s"), what=Note(what), start=win.start, end=win.end)
