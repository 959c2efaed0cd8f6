"""Recurring templates: RFC 5545 rules in a time zone, lead times, each occurrence once."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from crm_core.errors import NotFoundError, ValidationError

UTC = dt.UTC
MADRID = zoneinfo.ZoneInfo("Europe/Madrid")


BAD_RULES = [
    ("FREQ=FORTNIGHTLY", "does not parse"),
    ("every monday", "has no FREQ"),
    ("FREQ=WEEKLY;BYDAY=XX", "does not parse"),
    ("", "is empty"),
    ("FREQ=DAILY;COUNT=2\nFREQ=WEEKLY", "one RRULE line"),
    ("FREQ=DAILY;UNTIL=20200101T000000Z", "has no occurrence"),
]


def test_an_unparsable_recurrence_rule_is_refused(tasks_app):
    api = tasks_app().plugin("tasks")
    for rrule, message in BAD_RULES:
        with pytest.raises(ValidationError, match=message):
            api.add_recurring("weekly", "Newsletter", rrule)
    assert api.recurring() == []


def test_other_bad_template_input(tasks_app):
    api = tasks_app().plugin("tasks")
    with pytest.raises(ValidationError, match="unknown assignee 'bob'"):
        api.add_recurring("w", "Newsletter", "FREQ=WEEKLY", assignee="bob")
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        api.add_recurring("w", "Newsletter", "FREQ=WEEKLY", timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="lead time: 'soon' is not a duration"):
        api.add_recurring("w", "Newsletter", "FREQ=WEEKLY", lead="soon")
    with pytest.raises(ValidationError, match="start 'monday' is not a date-time"):
        api.add_recurring("w", "Newsletter", "FREQ=WEEKLY", start="monday")
    api.add_recurring("w", "Newsletter", "FREQ=WEEKLY")
    with pytest.raises(ValidationError, match="a recurring template named 'w' exists"):
        api.add_recurring("w", "Other", "FREQ=DAILY")
    with pytest.raises(NotFoundError, match="no recurring template 'x'"):
        api.remove_recurring("x")


def test_weekly_rule_keeps_its_wall_time_across_daylight_saving(tasks_app, crm_clock):
    # Madrid moves from CET (UTC+1) to CEST (UTC+2) on Sunday 2026-03-29
    crm_clock.set(dt.datetime(2026, 3, 16, 12, 0, tzinfo=UTC))
    crm = tasks_app(timezone="Europe/Madrid")
    api = crm.plugin("tasks")
    info = api.add_recurring(
        "team-meeting",
        "Weekly sales meeting",
        "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0",
        start="2026-03-16 09:00",
        lead="1d",
        kind="meeting",
        assignee="ana",
        checklist=["Pipeline review"],
    )
    assert info.next_occurrence == dt.datetime(2026, 3, 23, 9, 0, tzinfo=MADRID)
    created_at = []
    # step a day at a time over three weeks that cross the change
    for _ in range(21):
        crm_clock.advance(days=1)
        if api.run_recurring():
            created_at.append(crm_clock.now())
    dues = [t.due_at.astimezone(MADRID) for t in api.list(status=None)]
    assert [(d.date().isoformat(), d.hour, d.minute) for d in dues] == [
        ("2026-03-23", 9, 0),
        ("2026-03-30", 9, 0),
        ("2026-04-06", 9, 0),
    ]
    # in UTC the meeting moved an hour earlier with the clocks
    assert [t.due_at.astimezone(UTC).hour for t in api.list(status=None)] == [8, 7, 7]
    # each was created once its one-day lead time had come: the Sunday before
    assert [c.date().isoformat() for c in created_at] == ["2026-03-22", "2026-03-29", "2026-04-05"]
    task = api.get(api.list()[0].id)
    assert (task.kind, task.assignee, task.origin, [c.text for c in task.checklist]) == (
        "meeting",
        "ana",
        "recurring",
        ["Pipeline review"],
    )


def test_a_year_of_a_weekly_rule_creates_each_occurrence_once(tasks_app, crm_clock):
    crm_clock.set(dt.datetime(2026, 1, 1, 8, 0, tzinfo=UTC))
    crm = tasks_app(timezone="Europe/Madrid")
    api = crm.plugin("tasks")
    api.add_recurring(
        "newsletter",
        "Send the newsletter",
        "FREQ=WEEKLY;BYDAY=TH;BYHOUR=10",
        start="2026-01-01 10:00",
        kind="e-mail",
        team="sales",
    )
    # the worker runs every 15 minutes in life; here every 31 hours (never in step with the
    # rule), and now and then twice in a row
    total = 0
    for step in range(283):
        crm_clock.advance(hours=31)
        total += api.run_recurring()
        if step % 50 == 0:
            assert api.run_recurring() == 0
    tasks = api.list(status=None)
    assert total == len(tasks) == 53  # the Thursdays of 2026, and New Year's Day 2027
    dues = [t.due_at.astimezone(MADRID) for t in tasks]
    assert all(d.weekday() == 3 and (d.hour, d.minute) == (10, 0) for d in dues)
    assert len({d.date() for d in dues}) == 53


def test_occurrences_missed_while_no_worker_ran_are_created_on_the_next_run(tasks_app, crm_clock):
    crm_clock.set(dt.datetime(2026, 1, 5, 7, 0, tzinfo=UTC))
    api = tasks_app().plugin("tasks")
    api.add_recurring("daily", "Check the inbox", "FREQ=DAILY;BYHOUR=8", start="2026-01-05 08:00")
    crm_clock.advance(days=3, hours=2)
    assert api.run_recurring() == 4
    assert api.run_recurring() == 0
    assert [t.next_occurrence.isoformat() for t in api.recurring()] == ["2026-01-09T08:00:00+00:00"]


def test_removing_a_template_keeps_its_tasks(tasks_app, crm_clock):
    api = tasks_app().plugin("tasks")
    api.add_recurring("daily", "Check the inbox", "FREQ=DAILY", start="2026-01-05 09:00")
    assert api.run_recurring() == 1
    api.remove_recurring("daily")
    crm_clock.advance(days=3)
    assert api.run_recurring() == 0
    assert len(api.list()) == 1


def test_a_template_is_changed_paused_and_resumed_without_past_occurrences(tasks_app, crm_clock):
    crm_clock.set(dt.datetime(2026, 3, 2, 7, 0, tzinfo=UTC))  # Monday, 08:00 in Madrid
    crm = tasks_app(timezone="Europe/Madrid")
    api = crm.plugin("tasks")
    api.add_recurring("report", "Weekly report", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0", start="2026-03-02 09:00")
    changed = api.edit_recurring(
        "report",
        title="Send the weekly report",
        priority="urgent",
        assignee="ana",
        checklist=["Sales", "Pipeline"],
        description="For the board",
        lead="1h",
    )
    assert (changed.title, changed.priority, changed.assignee, changed.checklist, changed.description) == (
        "Send the weekly report",
        "urgent",
        "ana",
        ("Sales", "Pipeline"),
        "For the board",
    )
    assert changed.lead == dt.timedelta(hours=1) and changed.next_occurrence == dt.datetime(
        2026, 3, 2, 9, 0, tzinfo=MADRID
    )
    assert api.run_recurring() == 1  # 09:00 today is within the hour's lead
    made = api.list(status="all")[0]
    assert (made.title, made.assignee, made.priority) == ("Send the weekly report", "ana", "urgent")
    assert api.edit_recurring("report", assignee=None).assignee is None  # None clears it; absent keeps it
    assert api.edit_recurring("report", title="Weekly report").assignee is None

    paused = api.edit_recurring("report", active=False)
    assert not paused.active and paused.next_occurrence is None
    crm_clock.advance(days=14, hours=3)  # two Mondays pass while paused (11:00 in Madrid)
    assert api.run_recurring() == 0
    resumed = api.edit_recurring("report", active=True)
    assert resumed.active and resumed.next_occurrence == dt.datetime(2026, 3, 23, 9, 0, tzinfo=MADRID)
    assert api.run_recurring() == 0  # the Mondays passed while paused are not made now
    # a new rule counts from now too: no Tuesday already past is owed
    daily = api.edit_recurring("report", rrule="RRULE:FREQ=DAILY;BYHOUR=18;BYMINUTE=0")
    assert daily.rrule == "FREQ=DAILY;BYHOUR=18;BYMINUTE=0"
    assert daily.next_occurrence == dt.datetime(2026, 3, 16, 18, 0, tzinfo=MADRID)
    assert api.run_recurring() == 0
    assert api.count(status="all") == 1  # the tasks it made stay as they were
    assert api.list(status="all")[0].title == "Send the weekly report"


def test_bad_changes_to_a_template_are_refused_and_change_nothing(tasks_app):
    api = tasks_app().plugin("tasks")
    api.add_recurring("w", "Newsletter", "FREQ=WEEKLY")
    for changes, message in (
        ({"rrule": "FREQ=FORTNIGHTLY"}, "does not parse"),
        ({"title": "  "}, "needs a title"),
        ({"kind": "party"}, "unknown kind 'party'"),
        ({"priority": "asap"}, "unknown priority 'asap'"),
        ({"assignee": "bob"}, "unknown assignee 'bob'"),
        ({"lead": "soon"}, "lead time"),
        ({"checklist": "one item"}, "checklist must be a list"),
    ):
        with pytest.raises(ValidationError, match=message):
            api.edit_recurring("w", title="Changed", **{k: v for k, v in changes.items() if k != "title"}) if (
                "title" not in changes
            ) else api.edit_recurring("w", **changes)
    info = api.recurring()[0]
    assert (info.title, info.rrule, info.kind, info.priority) == ("Newsletter", "FREQ=WEEKLY", "to-do", "normal")
    with pytest.raises(NotFoundError, match="no recurring template 'x'"):
        api.edit_recurring("x", title="New")
