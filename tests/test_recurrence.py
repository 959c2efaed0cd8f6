"""RFC 5545 recurrence in a time zone: DST, gaps, folds, UNTIL, bad rules."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from crm_core.errors import ValidationError
from crm_core.recurrence import Recurrence, parse

UTC = dt.UTC
MADRID = zoneinfo.ZoneInfo("Europe/Madrid")


def test_a_weekly_rule_stays_at_nine_local_across_the_spring_change():
    rule = parse("FREQ=WEEKLY;BYDAY=SU;BYHOUR=9", tz="Europe/Madrid")
    got = rule.between(dt.datetime(2026, 3, 20, tzinfo=UTC), dt.datetime(2026, 4, 6, tzinfo=UTC))
    assert [t.astimezone(MADRID).hour for t in got] == [9, 9, 9]
    # the UTC instants move by an hour when Madrid moves to summer time (29 March)
    assert [t.astimezone(UTC).hour for t in got] == [8, 7, 7]


def test_a_weekly_rule_stays_at_nine_local_across_the_autumn_change():
    rule = parse("RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0", tz="Europe/Madrid")
    got = rule.between(dt.datetime(2026, 10, 19, tzinfo=UTC), dt.datetime(2026, 11, 3, tzinfo=UTC))
    assert [(t.day, t.astimezone(MADRID).hour, t.astimezone(UTC).hour) for t in got] == [
        (19, 9, 7),
        (26, 9, 8),
        (2, 9, 8),
    ]


def test_a_wall_time_in_the_spring_gap_moves_forward():
    rule = parse("FREQ=DAILY;BYHOUR=2;BYMINUTE=30", tz="Europe/Madrid")
    got = rule.between(dt.datetime(2026, 3, 28, tzinfo=UTC), dt.datetime(2026, 3, 30, 12, tzinfo=UTC))
    assert [t.astimezone(MADRID).strftime("%d %H:%M") for t in got] == ["28 02:30", "29 03:30", "30 02:30"]


def test_a_repeated_wall_time_in_autumn_happens_once_the_first_time():
    rule = parse("FREQ=DAILY;BYHOUR=2;BYMINUTE=30", tz="Europe/Madrid")
    got = rule.between(dt.datetime(2026, 10, 24, 12, tzinfo=UTC), dt.datetime(2026, 10, 26, 12, tzinfo=UTC))
    assert [t.astimezone(UTC).strftime("%d %H:%M") for t in got] == ["25 00:30", "26 01:30"]


def test_after_before_and_inclusive_bounds():
    start = dt.datetime(2026, 1, 5, 9, tzinfo=UTC)
    rule = Recurrence.parse("FREQ=DAILY", start=start)
    assert rule.after(start) == start + dt.timedelta(days=1)
    assert rule.after(start, inc=True) == start
    assert rule.before(start + dt.timedelta(hours=1)) == start
    assert rule.before(start) is None  # the start is the first occurrence
    assert rule.before(start, inc=True) == start
    assert rule.between(start, start + dt.timedelta(days=2)) == [
        start,
        start + dt.timedelta(days=1),
        start + dt.timedelta(days=2),
    ]
    assert rule.between(start, start + dt.timedelta(days=2), inc=False) == [start + dt.timedelta(days=1)]


def test_the_start_gives_the_phase_and_the_time_of_day():
    start = dt.datetime(2026, 1, 5, 7, 15, tzinfo=UTC)  # 08:15 in Madrid
    rule = parse("FREQ=DAILY;INTERVAL=3", start=start, tz="Europe/Madrid")
    got = rule.between(start, start + dt.timedelta(days=7))
    assert [(t.day, t.astimezone(MADRID).strftime("%H:%M")) for t in got] == [(5, "08:15"), (8, "08:15"), (11, "08:15")]


def test_until_in_utc_and_count_end_the_rule():
    rule = parse("FREQ=HOURLY;UNTIL=20240101T030000Z", tz="Europe/Madrid")  # 04:00 in Madrid
    got = rule.between(dt.datetime(2023, 12, 31, tzinfo=UTC), dt.datetime(2024, 1, 2, tzinfo=UTC))
    assert got[-1] == dt.datetime(2024, 1, 1, 3, tzinfo=UTC) and len(got) == 5
    assert rule.after(dt.datetime(2024, 1, 1, 3, tzinfo=UTC)) is None
    counted = parse("FREQ=DAILY;COUNT=2")
    assert len(counted.between(dt.datetime(2020, 1, 1, tzinfo=UTC), dt.datetime(2030, 1, 1, tzinfo=UTC))) == 2


def test_a_frequent_rule_far_from_its_start_is_fast_and_exact():
    rule = parse("FREQ=MINUTELY;INTERVAL=7", tz="Europe/Madrid")
    when = dt.datetime(2031, 6, 1, 12, 0, 30, tzinfo=UTC)
    nxt = rule.after(when)
    minutes = (nxt.astimezone(MADRID).replace(tzinfo=None) - dt.datetime(2024, 1, 1)).total_seconds() / 60
    assert minutes % 7 == 0 and dt.timedelta(0) < nxt - when <= dt.timedelta(minutes=7)


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("FREQ=SOMETIMES", "does not parse: invalid 'FREQ'"),
        ("BYDAY=MO", "has no FREQ"),
        ("FREQ=WEEKLY;BYDAY=XX", "invalid 'BYDAY'"),
        ("FREQ=DAILY;COLOUR=BLUE", "unknown parameter"),
        ("", "is empty"),
        ("DTSTART:20240101T000000\nRRULE:FREQ=DAILY", "without DTSTART"),
    ],
)
def test_a_rule_that_does_not_parse_names_the_rule_and_the_problem(rule, problem):
    with pytest.raises(ValidationError, match=problem) as info:
        parse(rule)
    assert repr(rule) in str(info.value)


def test_bad_zone_and_naive_times_are_refused():
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        parse("FREQ=DAILY", tz="Mars/Olympus")
    with pytest.raises(ValidationError, match="aware datetime"):
        parse("FREQ=DAILY").after(dt.datetime(2026, 1, 1))
    with pytest.raises(ValidationError, match="aware datetime"):
        parse("FREQ=DAILY", start=dt.datetime(2026, 1, 1))


def test_an_old_rule_with_a_fixed_period_is_re_anchored_and_keeps_its_phase():
    """A minutely rule a year old is not walked from its start: it is moved by whole periods, same occurrences."""
    start = dt.datetime(2025, 1, 1, 0, 7, tzinfo=dt.UTC)
    rule = Recurrence.parse("FREQ=MINUTELY;INTERVAL=15", start=start)
    assert rule._period == dt.timedelta(minutes=15)
    assert rule.after(dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)) == dt.datetime(2026, 3, 1, 10, 7, tzinfo=dt.UTC)
    assert rule._near(dt.datetime(2026, 3, 1, 10, 0)).after(dt.datetime(2026, 3, 1, 9, 0)) is not None
    # a rule with COUNT, or a monthly one, is walked from its start (its occurrences depend on it)
    assert Recurrence.parse("FREQ=MINUTELY;COUNT=3", start=start)._period is None
    assert Recurrence.parse("FREQ=MONTHLY;BYMONTHDAY=1", start=start)._period is None
    assert Recurrence.parse("freq=daily;interval=2", start=start)._period == dt.timedelta(days=2)
