"""RFC 5545 recurrence rules in a time zone, daylight-saving changes included.

::

    rule = Recurrence.parse("FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", start=..., tz="Europe/Madrid")
    rule.after(now)              # the next Monday 09:00 in Madrid, as an aware datetime
    rule.between(a, b)           # every occurrence in [a, b]

Occurrences are computed by ``dateutil.rrule`` on the *local wall clock*
and then placed in the zone, so a 09:00 rule stays at 09:00 local time when
the clocks change. A wall time that does not exist (02:30 on the night the
clocks go forward) is moved forward by the gap, and one that happens twice
(when they go back) is the first of the two, as RFC 5545 says.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator

import attrs
from dateutil import rrule as _rrule

from crm_core.errors import ValidationError

__all__ = ["Recurrence", "parse"]

#: the day every rule without a DTSTART is anchored to (a Monday, at midnight)
DEFAULT_START = dt.datetime(2024, 1, 1)
_UNTIL_UTC = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.IGNORECASE)
_FREQ_STEP = {
    "SECONDLY": dt.timedelta(seconds=1),
    "MINUTELY": dt.timedelta(minutes=1),
    "HOURLY": dt.timedelta(hours=1),
    "DAILY": dt.timedelta(days=1),
    "WEEKLY": dt.timedelta(weeks=1),
}
_PART = re.compile(r"(?:^|;)\s*(FREQ|INTERVAL|COUNT)\s*=\s*([^;]*)", re.IGNORECASE)


def _fixed_period(text: str) -> dt.timedelta | None:
    """The rule's period when it is a whole number of fixed steps and it has no COUNT (else None).

    Read from the rule's own text (dateutil keeps these in private attributes).
    """
    parts = {name.upper(): value.strip() for name, value in _PART.findall(text)}
    step = _FREQ_STEP.get(parts.get("FREQ", "").upper())
    if step is None or "COUNT" in parts:
        return None
    interval = parts.get("INTERVAL", "1")
    return step * int(interval) if interval.isdigit() and int(interval) > 0 else None


def _zone(tz: str | dt.tzinfo) -> dt.tzinfo:
    if isinstance(tz, dt.tzinfo):
        return tz
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown time zone {tz!r}; use an IANA name such as 'Europe/Madrid'") from None


def _aware(value: dt.datetime, what: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValidationError(f"{what} must be an aware datetime (with tzinfo), not {value!r}")
    return value


@attrs.frozen
class Recurrence:
    """A parsed rule: its text, its first occurrence's wall time, its zone."""

    rule: str
    #: the rule's DTSTART as a naive wall time in ``tz``
    start: dt.datetime
    tz: dt.tzinfo
    _rrule: _rrule.rrule = attrs.field(repr=False, eq=False)
    #: the fixed period of a rule without COUNT (lets :meth:`_near` re-anchor it), else None
    _period: dt.timedelta | None = attrs.field(default=None, repr=False, eq=False)

    @classmethod
    def parse(cls, rule: str, *, start: dt.datetime | None = None, tz: str | dt.tzinfo = "UTC") -> Recurrence:
        """Parse ``rule`` (``"FREQ=…"`` or ``"RRULE:FREQ=…"``).

        ``start`` (aware; default 2024-01-01 00:00 in ``tz``) is DTSTART: it
        gives the rule its phase, and the hour, minute and second of each
        occurrence unless BYHOUR/BYMINUTE/BYSECOND say otherwise. A rule
        that does not parse is a :class:`~crm_core.errors.ValidationError`
        naming the rule and the problem.
        """
        zone = _zone(tz)
        if not isinstance(rule, str) or not rule.strip():
            raise ValidationError(
                f"recurrence rule {rule!r} is empty; write an RFC 5545 rule such as 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=9'"
            )
        text = rule.strip()
        if text.upper().startswith("RRULE:"):
            text = text[6:]
        if "\n" in text or "DTSTART" in text.upper():
            raise ValidationError(
                f"recurrence rule {rule!r}: give one RRULE line without DTSTART (the start is passed separately)"
            )
        if start is None:
            local_start = DEFAULT_START
        else:
            local_start = _aware(start, "the start of a recurrence").astimezone(zone).replace(tzinfo=None)

        def until_local(match: re.Match[str]) -> str:
            # UNTIL in UTC (the RFC's form) becomes the wall time the rule runs on
            when = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
            return "UNTIL=" + when.astimezone(zone).strftime("%Y%m%dT%H%M%S")

        if not re.search(r"(^|;)\s*FREQ\s*=", text, re.IGNORECASE):
            raise ValidationError(
                f"recurrence rule {rule!r} has no FREQ; every rule starts with one, e.g. 'FREQ=WEEKLY;{text}'"
            )
        text = _UNTIL_UTC.sub(until_local, text)
        try:
            parsed = _rrule.rrulestr(text, dtstart=local_start)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ValidationError(
                f"recurrence rule {rule!r} does not parse: {exc}; write it as in RFC 5545, "
                "e.g. 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0'"
            ) from None
        if not isinstance(parsed, _rrule.rrule):
            raise ValidationError(f"recurrence rule {rule!r}: give a single RRULE")
        return cls(rule=rule.strip(), start=local_start, tz=zone, rrule=parsed, period=_fixed_period(text))

    # -- conversions ---------------------------------------------------------

    def _place(self, wall: dt.datetime) -> dt.datetime:
        """A naive wall time → an aware time in the zone (gaps moved forward)."""
        placed = wall.replace(tzinfo=self.tz, fold=0)
        # normalise through UTC: a wall time in a gap comes back shifted
        return placed.astimezone(dt.UTC).astimezone(self.tz)

    def _wall(self, when: dt.datetime) -> dt.datetime:
        return when.astimezone(self.tz).replace(tzinfo=None)

    def _near(self, wall: dt.datetime) -> _rrule.rrule:
        """The rule re-anchored close before ``wall``: same occurrences, less iteration.

        dateutil walks every period from DTSTART; a minutely rule a year old
        would take half a million steps. Moving DTSTART by whole periods
        keeps the phase, so the occurrences are the same, when the rule has
        a fixed period and no COUNT.
        """
        rule, period = self._rrule, self._period
        if period is None:
            return rule
        periods = (wall - self.start) // period - 2
        if periods <= 0:
            return rule
        return rule.replace(dtstart=self.start + period * periods)

    # -- queries -------------------------------------------------------------

    def after(self, when: dt.datetime, inc: bool = False) -> dt.datetime | None:
        """The first occurrence after ``when`` (or at it, with ``inc``); None when the rule has ended."""
        when = _aware(when, "the time")
        wall = self._wall(when)
        rule = self._near(wall)
        # step back an hour of wall time so that a repeated hour (clocks going
        # back) cannot hide an occurrence; then keep the first one past `when`
        for candidate in rule.xafter(wall - dt.timedelta(hours=1), count=None, inc=True):
            placed = self._place(candidate)
            if placed > when or (inc and placed == when):
                return placed
        return None

    def between(self, start: dt.datetime, end: dt.datetime, inc: bool = True) -> list[dt.datetime]:
        """Every occurrence from ``start`` to ``end`` (both included with ``inc``)."""
        start, end = _aware(start, "the start"), _aware(end, "the end")
        out = []
        for when in self.iter_from(start, inc=inc):
            if when > end or (not inc and when == end):
                break
            out.append(when)
        return out

    def iter_from(self, when: dt.datetime, inc: bool = True) -> Iterator[dt.datetime]:
        """Occurrences from ``when`` on, in order (endless for a rule without COUNT/UNTIL)."""
        when = _aware(when, "the time")
        wall = self._wall(when)
        for candidate in self._near(wall).xafter(wall - dt.timedelta(hours=1), count=None, inc=True):
            placed = self._place(candidate)
            if placed > when or (inc and placed == when):
                yield placed

    def before(self, when: dt.datetime, inc: bool = False) -> dt.datetime | None:
        """The last occurrence before ``when`` (or at it, with ``inc``); None if there is none."""
        when = _aware(when, "the time")
        wall = self._wall(when) + dt.timedelta(hours=1)  # see after(): repeated hours
        candidate = self._rrule.before(wall, inc=True)
        while candidate is not None:
            placed = self._place(candidate)
            if placed < when or (inc and placed == when):
                return placed
            candidate = self._rrule.before(candidate, inc=False)
        return None


def parse(rule: str, *, start: dt.datetime | None = None, tz: str | dt.tzinfo = "UTC") -> Recurrence:
    """Shorthand for :meth:`Recurrence.parse`."""
    return Recurrence.parse(rule, start=start, tz=tz)
