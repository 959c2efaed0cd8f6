"""Due times from what people write: ``2026-03-02 10:00``, ``tomorrow``, ``+2d``, in the app's time zone."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from crm_core.errors import ValidationError
from crm_tasks.settings import parse_duration

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["as_due", "localize", "parse_due"]

_RELATIVE = re.compile(r"^\+\s*(.+)$")


def parse_due(crm: CRM, text: str, *, day_time: str) -> dt.datetime:
    """A due time from the user, in the app time zone.

    ``2026-03-02 10:00``, ``2026-03-02T10:00``, ``2026-03-02`` (at
    ``day_time``, ``HH:MM``), ``today``, ``tomorrow``, or ``+2d`` / ``+4h``
    from now.
    """
    value = text.strip()
    now = crm.now()
    relative = _RELATIVE.match(value)
    if relative:
        try:
            return (now + parse_duration(relative.group(1))).replace(second=0, microsecond=0)
        except ValueError as exc:
            raise ValidationError(f"due time {text!r}: {exc}") from None
    day: dt.date | None = None
    if value.lower() == "today":
        day = now.date()
    elif value.lower() == "tomorrow":
        day = now.date() + dt.timedelta(days=1)
    else:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(
                f"due time {text!r} is not understood; write '2026-03-02 10:00', '2026-03-02', 'today', "
                "'tomorrow' or '+2d'"
            ) from None
        if len(value) <= 10:
            day = parsed.date()
        elif parsed.tzinfo is None:
            return localize(parsed, crm.tz)
        else:
            return parsed
    hour, minute = (int(p) for p in day_time.split(":"))
    return localize(dt.datetime.combine(day, dt.time(hour, minute)), crm.tz)


def as_due(crm: CRM, due: dt.datetime | dt.date | str | None, day_time: str) -> dt.datetime | None:
    """A due time given as an aware or naive (app time zone) datetime, a date (at ``day_time``) or text."""
    if due is None:
        return None
    if isinstance(due, str):
        return parse_due(crm, due, day_time=day_time)
    if isinstance(due, dt.datetime):
        return due if due.tzinfo is not None else localize(due, crm.tz)
    if isinstance(due, dt.date):
        return parse_due(crm, due.isoformat(), day_time=day_time)
    raise ValidationError(f"due must be a datetime, a date or a string, not {type(due).__name__}")


def localize(naive: dt.datetime, tz: Any) -> dt.datetime:
    """A wall-clock time in ``tz`` as an aware datetime (a skipped time moves forward)."""
    aware = naive.replace(tzinfo=tz)
    # round-trip through UTC: a wall time skipped by a DST jump comes back shifted
    return aware.astimezone(dt.UTC).astimezone(tz)
