"""When a job runs: an interval or an RFC 5545 rule, as occurrences in time.

Interval occurrences are aligned to the Unix epoch (every 10 s means
:00, :10, :20…), so every worker computes the same scheduled times without
asking anyone; rule occurrences come from :mod:`crm_core.recurrence` in the
app's time zone. Scheduled times are whole seconds (MySQL keeps no more).
"""

from __future__ import annotations

import datetime as dt
import math

from crm_core.errors import ValidationError
from crm_core.recurrence import Recurrence

__all__ = ["Schedule"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: occurrences counted at most when reporting how many a catch-up skipped
_COUNT_CAP = 100_000


class Schedule:
    """The occurrences of one job."""

    def __init__(
        self, *, interval: dt.timedelta | None = None, rrule: str | None = None, tz: dt.tzinfo = dt.UTC
    ) -> None:
        if (interval is None) == (rrule is None):
            raise ValidationError("a schedule needs exactly one of an interval and an rrule")
        self.seconds: int | None = None
        self.rule: Recurrence | None = None
        if interval is not None:
            if not isinstance(interval, dt.timedelta):
                raise ValidationError(f"interval must be a datetime.timedelta, not {interval!r}")
            seconds = interval.total_seconds()
            if seconds < 1:
                raise ValidationError(
                    f"interval {interval} is shorter than one second; use timedelta(seconds=1) or more"
                )
            self.seconds = int(math.ceil(seconds))
        else:
            self.rule = Recurrence.parse(rrule, tz=tz)  # type: ignore[arg-type]

    def describe(self) -> str:
        if self.seconds is not None:
            return f"every {_duration(self.seconds)}"
        assert self.rule is not None
        return f"rrule {self.rule.rule}"

    def _slot(self, when: dt.datetime) -> dt.datetime:
        assert self.seconds is not None
        elapsed = int((when - _EPOCH).total_seconds() // self.seconds)
        return _EPOCH + dt.timedelta(seconds=elapsed * self.seconds)

    def first(self, now: dt.datetime) -> dt.datetime | None:
        """The occurrence a new job starts from: an interval job's current
        slot (so it runs at once), a rule's next occurrence (a Monday 09:00
        job first seen on a Wednesday waits for Monday)."""
        if self.seconds is not None:
            return self._slot(now)
        assert self.rule is not None
        return _whole(self.rule.after(now, inc=True))

    def after(self, when: dt.datetime) -> dt.datetime | None:
        """The first occurrence strictly after ``when`` (None: the rule has ended)."""
        if self.seconds is not None:
            return self._slot(when) + dt.timedelta(seconds=self.seconds)
        assert self.rule is not None
        nxt = _whole(self.rule.after(when))
        while nxt is not None and nxt <= when:  # sub-second rules truncated to the same second
            nxt = _whole(self.rule.after(nxt + dt.timedelta(seconds=1), inc=True))
        return nxt

    def latest(self, now: dt.datetime) -> dt.datetime | None:
        """The last occurrence at or before ``now``."""
        if self.seconds is not None:
            return self._slot(now)
        assert self.rule is not None
        return _whole(self.rule.before(now, inc=True))

    def count_between(self, start: dt.datetime, end: dt.datetime) -> int:
        """How many occurrences lie in ``[start, end)`` (capped, for reports)."""
        if end <= start:
            return 0
        if self.seconds is not None:
            return int((end - start).total_seconds() // self.seconds)
        assert self.rule is not None
        count = 0
        for when in self.rule.iter_from(start, inc=True):
            if when >= end or count >= _COUNT_CAP:
                break
            count += 1
        return count


def _whole(when: dt.datetime | None) -> dt.datetime | None:
    if when is None:
        return None
    return when.astimezone(dt.UTC).replace(microsecond=0)


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
