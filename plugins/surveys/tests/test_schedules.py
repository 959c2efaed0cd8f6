"""Scheduled surveys: a recurrence run by the worker, each occurrence sent once (crm_worker_jobs)."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_core.errors import NotFoundError, ValidationError

QUARTERLY = "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1;BYHOUR=9;BYMINUTE=0"


@pytest.fixture
def scheduled(app, people, definition):
    contacts = app.plugin("contacts")
    contacts.create_list("customers")
    contacts.add_to_list("customers", [people.add() for _ in range(3)])
    api = app.plugin("surveys")
    api.save(definition)
    # the clock starts on Monday 2026-01-05 09:00 UTC: the first occurrence is 2026-04-01 09:00
    return api.schedule("csat", "customers", QUARTERLY)


def rounds(app):
    with app.activate():
        from crm_surveys.models import Round

        return sorted(r.key for r in Round.select())


def test_a_schedule_sends_each_occurrence_once(app, scheduled, crm_clock):
    api = app.plugin("surveys")
    assert scheduled.next_at == dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
    assert api.run_schedules() == []
    crm_clock.set(dt.datetime(2026, 4, 1, 9, 0, 30, tzinfo=dt.UTC))
    (report,) = api.run_schedules()
    assert report.sent == 3 and report.round == "schedule-1-2026-04-01T09:00"
    assert api.run_schedules() == []
    crm_clock.set(dt.datetime(2026, 7, 1, 9, 5, tzinfo=dt.UTC))
    assert [r.sent for r in api.run_schedules()] == [3]
    assert rounds(app) == ["schedule-1-2026-04-01T09:00", "schedule-1-2026-07-01T09:00"]
    assert api.get("csat").invited == 6
    (info,) = api.schedules("csat")
    assert info.last_occurrence == dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC)
    assert info.next_at == dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)


def test_two_workers_send_an_occurrence_once(app, crm_factory, scheduled, crm_clock):
    other = crm_factory(
        plugins=["contacts", "surveys"], settings={"surveys": {"secret": "test-secret-for-surveys"}}, migrate=False
    )
    crm_clock.set(dt.datetime(2026, 4, 1, 10, 0, tzinfo=dt.UTC))
    first = app.plugin("surveys").run_schedules()
    second = other.plugin("surveys").run_schedules()
    assert [r.sent for r in first] == [3] and second == []
    assert len(app.mail.list(limit=100)) == 3


def test_missed_occurrences_send_only_the_latest(app, scheduled, crm_clock):
    crm_clock.set(dt.datetime(2027, 2, 1, tzinfo=dt.UTC))
    (report,) = app.plugin("surveys").run_schedules()
    assert report.round == "schedule-1-2027-01-01T09:00"
    assert rounds(app) == ["schedule-1-2027-01-01T09:00"]


def test_the_rule_follows_the_app_time_zone(crm_factory, definition, crm_clock):
    app = crm_factory(
        plugins=["contacts", "surveys"], settings={"surveys": {"secret": "s"}}, timezone="Europe/Madrid",
        mail={"unsubscribe_mailto": "unsubscribe@example.com"},
    )  # fmt: skip
    contacts = app.plugin("contacts")
    contacts.create_list("l")
    contacts.add_to_list("l", [contacts.create(first_name="A", email="a@example.com").id])
    api = app.plugin("surveys")
    api.save(definition)
    info = api.schedule("csat", "l", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0")
    # Monday 2026-01-12 09:00 in Madrid is 08:00 UTC (and 07:00 UTC in summer)
    assert info.next_at == dt.datetime(2026, 1, 12, 8, 0, tzinfo=dt.UTC)
    crm_clock.set(dt.datetime(2026, 6, 1, 7, 1, tzinfo=dt.UTC))
    (report,) = api.run_schedules()
    assert report.round == "schedule-1-2026-06-01T09:00"


def test_bad_schedules(app, scheduled):
    api = app.plugin("surveys")
    with pytest.raises(ValidationError, match="does not parse|has no FREQ"):
        api.schedule("csat", "customers", "EVERY QUARTER")
    with pytest.raises(ValidationError, match="has no occurrence after"):
        api.schedule("csat", "customers", "FREQ=DAILY;UNTIL=20250101T000000Z")
    with pytest.raises(NotFoundError):
        api.schedule("csat", "no-such-list", QUARTERLY)
    with pytest.raises(NotFoundError, match="no schedule 99"):
        api.unschedule(99)


def test_a_stopped_schedule_sends_nothing_and_a_broken_one_does_not_stop_the_others(app, scheduled, people, crm_clock):
    api = app.plugin("surveys")
    contacts = app.plugin("contacts")
    contacts.create_list("temporary")
    contacts.add_to_list("temporary", [people.add()])
    broken = api.schedule("csat", "temporary", QUARTERLY)
    contacts.delete_list("temporary")
    crm_clock.set(dt.datetime(2026, 4, 2, tzinfo=dt.UTC))
    assert [r.source for r in api.run_schedules()] == ["customers"]  # the broken one is logged and retried
    api.unschedule(scheduled.id)
    crm_clock.set(dt.datetime(2026, 7, 2, tzinfo=dt.UTC))
    assert api.run_schedules() == []
    assert [s.active for s in api.schedules()] == [False, True] and broken.id == 2


def test_worker_jobs_send_schedules_and_reminders(app, scheduled, crm_clock):
    jobs = {job.name: job for owner, job in app.hooks.worker_jobs(app) if owner == "surveys"}
    assert set(jobs) == {"surveys.schedules", "surveys.reminders"}
    assert jobs["surveys.schedules"].interval == dt.timedelta(minutes=5)
    crm_clock.set(dt.datetime(2026, 4, 1, 9, 1, tzinfo=dt.UTC))
    assert jobs["surveys.schedules"].run(app, crm_clock.now()) == "1 scheduled send(s), 3 message(s)"
    crm_clock.advance(days=7)
    assert jobs["surveys.reminders"].run(app, crm_clock.now()) == "3 reminder(s)"
    assert jobs["surveys.reminders"].run(app, crm_clock.now()) == "0 reminder(s)"


@pytest.mark.sqlite_only  # the commands' parsing and output
def test_schedule_commands(crm_cli, app, scheduled):
    listed = crm_cli.invoke(["surveys", "schedule", "list", "--format", "csv"], app=app)
    assert listed.exit_code == 0, listed.output
    assert "customers" in listed.output and QUARTERLY in listed.output
    added = crm_cli.invoke(
        [
            "surveys",
            "schedule",
            "add",
            "csat",
            "--to",
            "customers",
            "--rule",
            "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1;BYHOUR=9",
            "--start",
            "2026-02-01T00:00",
        ],
        app=app,
    )
    assert added.exit_code == 0, added.output
    assert "schedule 2: survey 'csat' to 'customers'" in added.output and "next at 2026-03-01 09:00" in added.output
    bad = crm_cli.invoke(
        ["surveys", "schedule", "add", "csat", "--to", "customers", "--rule", "FREQ=DAILY", "--start", "soon"], app=app
    )
    assert bad.exit_code == 2 and "'soon' is not a date and time" in bad.output
    stopped = crm_cli.invoke(["surveys", "schedule", "stop", "2"], app=app)
    assert stopped.output.strip() == "schedule 2 stopped"


def test_occurrences_fall_on_whole_minutes_whenever_the_schedule_was_made(app, people, definition, crm_clock):
    contacts = app.plugin("contacts")
    contacts.create_list("l")
    contacts.add_to_list("l", [people.add()])
    api = app.plugin("surveys")
    api.save(definition)
    crm_clock.set(dt.datetime(2026, 1, 5, 10, 17, 14, 500_000, tzinfo=dt.UTC))
    info = api.schedule("csat", "l", "FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9")
    assert info.next_at == dt.datetime(2026, 2, 1, 9, 17, tzinfo=dt.UTC)
