"""The worker in-process: schedules, catch-up, failures, leases, the kernel's jobs.

Plugins contribute jobs through ``crm_worker_jobs``; time moves with the
fake clock, so nothing here sleeps (except the lease heartbeat test, which
waits about a second of real time for the heartbeat thread).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import zoneinfo

import pytest

from crm_core.errors import PluginError
from crm_core.worker import Worker, status
from crm_core.worker.models import Job as JobRow
from crm_core.worker.models import JobRun
from crm_hookspecs.records import JobSpec

UTC = dt.UTC
MADRID = zoneinfo.ZoneInfo("Europe/Madrid")


class Probe:
    """Records each run: (job name, scheduled time)."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, dt.datetime]] = []

    def job(self, name: str, **kwargs) -> JobSpec:
        fail = kwargs.pop("fail", False)
        action = kwargs.pop("action", None)

        def run(crm, scheduled_at):
            self.runs.append((name, scheduled_at))
            if action is not None:
                action(crm, scheduled_at)
            if fail:
                raise RuntimeError(f"{name} broke at {scheduled_at.isoformat()}")
            return f"ran {name}"

        return JobSpec(name=name, run=run, **kwargs)

    def times(self, name: str) -> list[dt.datetime]:
        return [when for job, when in self.runs if job == name]


def app_with_jobs(crm_factory, crm_plugin, jobs, **kwargs):
    return crm_factory(plugins=[crm_plugin("probe", crm_worker_jobs=lambda crm: jobs)], **kwargs)


def test_the_kernel_jobs_deliver_mail_and_events(crm_factory, crm_recorder, crm_clock):
    app = crm_factory(plugins=[("recorder", crm_recorder)])
    app.deliver_events = "worker"  # leave events to the worker's crm.events job
    from crm_hookspecs.events import MailBounced

    app.mail.queue("a@example.com", "s", "t", key="k")
    with app.transaction():
        app.emit(MailBounced(address="x@example.com", reason="550"))
    outcomes = Worker(app).run_pending()
    assert [o.job for o in outcomes] == ["crm.mail", "crm.events", "crm.cleanup"]
    assert outcomes[0].result.startswith("1 sent")
    assert [m.key for m in app.mail.sent] == ["k"]
    assert crm_recorder.types() == ["MailBounced"]


def test_an_interval_job_runs_once_per_occurrence(crm_factory, crm_plugin, crm_clock):
    probe = Probe()
    app = app_with_jobs(crm_factory, crm_plugin, [probe.job("probe.tick", interval=dt.timedelta(minutes=5))])
    worker = Worker(app)
    worker.run_pending()
    worker.run_pending()  # nothing new is due
    assert probe.times("probe.tick") == [dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)]  # the current slot, at once
    crm_clock.advance(minutes=4)
    worker.run_pending()
    crm_clock.advance(minutes=1)
    worker.run_pending()
    assert probe.times("probe.tick")[-1] == dt.datetime(2026, 1, 5, 9, 5, tzinfo=UTC)
    assert len(probe.runs) == 2


def test_catch_up_each_runs_every_missed_occurrence_in_order(crm_factory, crm_plugin, crm_clock):
    probe = Probe()
    app = app_with_jobs(
        crm_factory, crm_plugin, [probe.job("probe.each", interval=dt.timedelta(hours=1), catch_up="each")]
    )
    Worker(app).run_pending()
    crm_clock.advance(hours=5, minutes=30)  # no worker ran meanwhile
    Worker(app).run_pending()
    assert probe.times("probe.each") == [dt.datetime(2026, 1, 5, 9 + h, tzinfo=UTC) for h in range(6)]


def test_catch_up_once_runs_the_latest_and_counts_the_skipped(crm_factory, crm_plugin, crm_clock):
    probe = Probe()
    app = app_with_jobs(crm_factory, crm_plugin, [probe.job("probe.once", interval=dt.timedelta(hours=1))])
    Worker(app).run_pending()
    crm_clock.advance(hours=5, minutes=30)
    Worker(app).run_pending()
    assert probe.times("probe.once") == [
        dt.datetime(2026, 1, 5, 9, tzinfo=UTC),
        dt.datetime(2026, 1, 5, 14, tzinfo=UTC),
    ]
    [row] = [r for r in status(app) if r["job"] == "probe.once"]
    assert row["skipped"] == 4 and row["next_run"] == dt.datetime(2026, 1, 5, 15, tzinfo=UTC)


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_an_rrule_job_follows_local_time_across_dst(crm_factory, crm_plugin, crm_clock):
    probe = Probe()
    crm_clock.set(dt.datetime(2026, 3, 18, 12, tzinfo=UTC))  # a Wednesday
    app = app_with_jobs(
        crm_factory,
        crm_plugin,
        [probe.job("probe.weekly", rrule="FREQ=WEEKLY;BYDAY=MO;BYHOUR=9")],
        timezone="Europe/Madrid",
    )
    worker = Worker(app)
    worker.run_pending()
    assert probe.runs == []  # a new rule job waits for its next occurrence
    for _ in range(3):
        crm_clock.advance(days=7)
        worker.run_pending()
    local = [t.astimezone(MADRID) for t in probe.times("probe.weekly")]
    assert [(t.month, t.day, t.hour) for t in local] == [(3, 23, 9), (3, 30, 9), (4, 6, 9)]
    assert [t.astimezone(UTC).hour for t in probe.times("probe.weekly")] == [8, 7, 7]  # summer time from 29 March


def test_a_failing_job_is_recorded_and_the_others_run(crm_factory, crm_plugin, crm_clock):
    probe = Probe()
    app = app_with_jobs(
        crm_factory,
        crm_plugin,
        [
            probe.job("probe.bad", interval=dt.timedelta(minutes=1), fail=True),
            probe.job("probe.good", interval=dt.timedelta(minutes=1)),
        ],
    )
    outcomes = Worker(app).run_pending()
    by_job = {o.job: o for o in outcomes}
    assert by_job["probe.bad"].status == "failed" and "probe.bad broke" in by_job["probe.bad"].error
    assert by_job["probe.good"].status == "done"
    [row] = [r for r in status(app) if r["job"] == "probe.bad"]
    assert row["last_status"] == "failed" and row["last_error"].startswith("RuntimeError: probe.bad broke")
    with app.activate():
        run = JobRun.get(JobRun.job == "probe.bad")
        assert run.status == "failed" and "Traceback" in run.error
    crm_clock.advance(minutes=1)
    assert {o.job for o in Worker(app).run_pending()} >= {"probe.bad", "probe.good"}  # the next occurrence runs


def test_two_workers_never_run_an_occurrence_twice(crm_factory, crm_plugin, crm_clock):
    probe = Probe()
    jobs = [probe.job("probe.each", interval=dt.timedelta(minutes=1), catch_up="each")]
    one = app_with_jobs(crm_factory, crm_plugin, jobs)
    two = app_with_jobs(crm_factory, crm_plugin, jobs, migrate=False)
    Worker(one).run_pending()
    crm_clock.advance(minutes=30)
    first, second = Worker(one), Worker(two)
    # interleave the two workers occurrence by occurrence
    for _ in range(40):
        for worker in (first, second):
            claim = worker._claim(worker.jobs["probe.each"])
            if claim:
                worker._run(worker.jobs["probe.each"], *claim)
    times = probe.times("probe.each")
    assert len(times) == 31 and len(set(times)) == 31


def test_a_run_whose_worker_died_is_taken_over_after_its_lease(crm_factory, crm_plugin, crm_clock):
    probe = Probe()
    jobs = [probe.job("probe.slow", interval=dt.timedelta(hours=1), lease=dt.timedelta(minutes=10))]
    app = app_with_jobs(crm_factory, crm_plugin, jobs)
    dead = Worker(app, name="dead-worker")
    dead.sync()
    with app.activate():
        claim = dead._claim(dead.jobs["probe.slow"])  # claimed, then the worker "dies"
    assert claim is not None
    survivor = Worker(app, name="survivor")
    assert survivor.run_pending() == [] or all(o.job != "probe.slow" for o in survivor.run_pending())
    crm_clock.advance(minutes=9)
    assert all(o.job != "probe.slow" for o in survivor.run_pending())  # the lease still holds
    [row] = [r for r in status(app) if r["job"] == "probe.slow"]
    assert row["running"].startswith("dead-worker since")
    crm_clock.advance(minutes=2)
    outcomes = [o for o in survivor.run_pending() if o.job == "probe.slow"]
    assert [(o.scheduled_at, o.attempt, o.status) for o in outcomes] == [(claim[1], 2, "done")]
    with app.activate():
        run = JobRun.get(JobRun.job == "probe.slow")
        assert (run.worker, run.attempts, run.status) == ("survivor", 2, "done")
        # the dead worker coming back late cannot overwrite the result
        dead._run(dead.jobs["probe.slow"], *claim)
        assert JobRun.get(JobRun.job == "probe.slow").worker == "survivor"
    assert probe.times("probe.slow") == [claim[1], claim[1]]


@pytest.mark.sqlite_only
def test_the_heartbeat_extends_the_lease_of_a_long_job(crm_factory, crm_plugin, crm_clock):
    seen = {}

    def long_job(crm, scheduled_at):
        crm_clock.advance(minutes=30)  # the job takes "30 minutes" of app time…
        time.sleep(1.0)  # …and a second of real time, so that the heartbeat beats
        with crm.activate():
            seen["lease"] = JobRun.get(JobRun.job == "probe.long").lease_until

    jobs = [JobSpec(name="probe.long", run=long_job, interval=dt.timedelta(hours=1), lease=dt.timedelta(seconds=1.5))]
    app = app_with_jobs(crm_factory, crm_plugin, jobs)
    start = crm_clock.now()
    [outcome] = [o for o in Worker(app).run_pending() if o.job == "probe.long"]
    assert outcome.status == "done"
    assert seen["lease"] >= start + dt.timedelta(minutes=30)  # extended from the moved clock


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_stop_finishes_the_job_in_hand_and_runs_no_more(crm_factory, crm_plugin, crm_clock):
    probe = Probe()
    holder = {}
    jobs = [
        probe.job(
            "probe.a", interval=dt.timedelta(minutes=1), catch_up="each", action=lambda crm, at: holder["w"].stop()
        ),
    ]
    app = app_with_jobs(crm_factory, crm_plugin, jobs)
    worker = Worker(app)
    holder["w"] = worker
    crm_clock.advance(minutes=10)
    done = worker.run(once=False, handle_signals=False)
    assert [o.job for o in done if o.job.startswith("probe")] == ["probe.a"]
    assert done[-1].status == "done"


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_run_once_mode_returns_after_what_is_due(crm_factory, crm_plugin):
    probe = Probe()
    app = app_with_jobs(crm_factory, crm_plugin, [probe.job("probe.a", interval=dt.timedelta(minutes=1))])
    done = Worker(app).run(once=True, handle_signals=False)
    assert {o.job for o in done} == {"crm.mail", "crm.events", "crm.cleanup", "probe.a"}


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_status_lists_every_job_and_ones_no_longer_registered(crm_factory, crm_plugin, crm_clock):
    probe = Probe()
    app = app_with_jobs(crm_factory, crm_plugin, [probe.job("probe.old", interval=dt.timedelta(minutes=1))])
    Worker(app).run_pending()
    other = crm_factory(plugins=[], migrate=False)
    rows = {r["job"]: r for r in status(other)}
    assert set(rows) == {"crm.mail", "crm.events", "crm.cleanup", "probe.old"}
    assert "not registered" in rows["probe.old"]["schedule"]
    assert rows["crm.mail"]["schedule"] == "every 10 s"


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_a_changed_schedule_starts_afresh(crm_factory, crm_plugin, crm_clock):
    probe = Probe()
    app = app_with_jobs(crm_factory, crm_plugin, [probe.job("probe.a", interval=dt.timedelta(hours=6))])
    Worker(app).run_pending()
    crm_clock.advance(minutes=90)
    again = app_with_jobs(
        crm_factory, crm_plugin, [probe.job("probe.a", interval=dt.timedelta(hours=1))], migrate=False
    )
    Worker(again).run_pending()
    # 6-hour slots are 00:00, 06:00…; after the change the current hourly slot runs
    assert probe.times("probe.a") == [dt.datetime(2026, 1, 5, 6, tzinfo=UTC), dt.datetime(2026, 1, 5, 10, tzinfo=UTC)]
    with again.activate():
        assert JobRow.get_by_id("probe.a").schedule == "every 1 h"


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
@pytest.mark.parametrize(
    ("jobs", "problem"),
    [
        (
            lambda p: [p.job("probe.bad", rrule="FREQ=FORTNIGHTLY")],
            "job 'probe.bad': recurrence rule 'FREQ=FORTNIGHTLY' does not parse",
        ),
        (lambda p: [p.job("tick", interval=dt.timedelta(minutes=1))], "job 'tick' must be named after the plugin"),
        (
            lambda p: [
                p.job("probe.a", interval=dt.timedelta(minutes=1)),
                p.job("probe.a", interval=dt.timedelta(minutes=2)),
            ],
            "offered by both",
        ),
        (lambda p: [p.job("probe.fast", interval=dt.timedelta(milliseconds=10))], "shorter than one second"),
        (lambda p: ["not a JobSpec"], "crm_worker_jobs must return .*JobSpec objects"),
    ],
)
def test_bad_jobs_are_plugin_errors_naming_plugin_and_job(crm_factory, crm_plugin, jobs, problem):
    app = app_with_jobs(crm_factory, crm_plugin, jobs(Probe()))
    with pytest.raises(PluginError, match=problem) as info:
        Worker(app)
    assert info.value.plugin == "probe"


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_the_worker_sleeps_until_the_next_occurrence(crm_factory, crm_plugin, crm_clock):
    probe = Probe()
    app = app_with_jobs(crm_factory, crm_plugin, [probe.job("probe.a", interval=dt.timedelta(minutes=1))])
    worker = Worker(app)
    worker.run_pending()
    assert worker.next_wakeup() == dt.datetime(2026, 1, 5, 9, 0, 10, tzinfo=UTC)  # crm.mail, every 10 s
    # a sleeping worker wakes up when stopped, not after its full poll interval
    stopper = threading.Timer(0.2, worker.stop)
    stopper.start()
    started = time.monotonic()
    worker._sleep()
    assert time.monotonic() - started < 3
