"""The app's clock: everything timed reads it, so tests can travel in time."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock", "aware_utc", "naive_utc"]


class Clock(Protocol):
    """Anything with ``now()`` returning an aware UTC datetime."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FakeClock:
    """A clock that moves only when told to: ``advance(days=3)`` or ``set(when)``."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        start = start or dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
        self._now = _aware(start)
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def set(self, when: dt.datetime) -> None:
        with self._lock:
            self._now = _aware(when)

    def advance(self, delta: dt.timedelta | None = None, **kwargs: float) -> dt.datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; return the new time."""
        step = delta if delta is not None else dt.timedelta(**kwargs)
        if step < dt.timedelta(0):
            raise ValueError("FakeClock only moves forward; use set() to go back")
        with self._lock:
            self._now += step
            return self._now


def _aware(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None:
        raise ValueError(f"the clock needs an aware datetime, got naive {when!r}")
    return when.astimezone(dt.UTC)


def naive_utc(when: dt.datetime) -> dt.datetime:
    """``when`` as naive UTC, the form every backend stores (``UTCDateTimeField`` does this itself).

    An aware datetime is converted to UTC; a naive one is taken to be UTC
    already and returned unchanged. For raw SQL and values compared with
    stored columns; ``bulk_insert`` given a model converts on its own.
    """
    if when.tzinfo is None:
        return when
    return when.astimezone(dt.UTC).replace(tzinfo=None)


def aware_utc(when: dt.datetime | str) -> dt.datetime:
    """``when`` (a datetime or an ISO 8601 string, as raw SQL returns on SQLite) as an aware UTC datetime.

    A naive value is taken to be UTC, as the database stores it.
    """
    if isinstance(when, str):
        when = dt.datetime.fromisoformat(when)
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)
