"""Workers as real processes: two at once, one SIGKILLed mid-job, one stopped by SIGTERM.

The children share the test's database (SQLite file, PostgreSQL or MariaDB)
and run the same code as ``crm worker --once``, with a fake clock fixed at a
time the test passes in, so that "due" is the same for everyone. They log
each action by appending a line to one file (O_APPEND: lines never mix),
and the test counts the lines. Every real wait is bounded.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from crm_core.app import CRM
from crm_core.config import load_config
from crm_core.worker import Worker
from crm_core.worker.models import Job as JobRow
from crm_core.worker.models import JobRun
from crm_hookspecs.records import JobSpec

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the crm_clock fixture's start

CHILD = textwrap.dedent(
    """
    import datetime as dt, os, sys, time
    from crm_hookspecs import hookimpl
    from crm_hookspecs.records import JobSpec, MailTransportSpec
    from crm_core.app import CRM
    from crm_core.clock import FakeClock
    from crm_core.config import Config, CoreSettings, structure_section
    from crm_core.jobs import run_once_many
    from crm_core.mail import SendResult
    from crm_core.worker import Worker

    url, now_iso, log_path, mode, go_path = sys.argv[1:6]

    def append(line):
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (line + "\\n").encode())
        os.close(fd)

    class LogTransport:
        name = "probe"
        def send(self, envelopes):
            if mode == "mailkill":
                append(f"sending {len(envelopes)}")
                time.sleep(60)  # killed here, mid-batch
            for e in envelopes:
                append(f"mail {e.key}")
            return [SendResult.sent() for _ in envelopes]

    def each(crm, at):
        append(f"run {at.isoformat()} {os.getpid()}")
        with crm.transaction():
            for key in run_once_many(crm, [f"reminder:{i}" for i in range(100)]):
                append(f"key {key}")

    def slow(crm, at):
        append(f"started {at.isoformat()} {os.getpid()}")
        time.sleep(60)  # killed here, mid-job

    class Probe:
        @hookimpl
        def crm_worker_jobs(self, crm):
            if mode == "slow":
                return [JobSpec(name="probe.slow", run=slow, interval=dt.timedelta(hours=1), lease=dt.timedelta(seconds=30))]
            return [JobSpec(name="probe.each", run=each, interval=dt.timedelta(minutes=1), catch_up="each")]

        @hookimpl
        def crm_mail_transports(self):
            return [MailTransportSpec(name="probe", factory=lambda crm, options: LogTransport())]

    core = structure_section(
        {"database": url, "mail": {"transport": "probe", "batch_size": 20, "lease": 30.0}}, CoreSettings, "child", "crm"
    )
    app = CRM(config=Config(core=core, enabled=()), plugins=[("probe", Probe())],
              clock=FakeClock(dt.datetime.fromisoformat(now_iso)), strict=True)
    append(f"ready {os.getpid()}")
    deadline = time.monotonic() + 30
    while not os.path.exists(go_path) and time.monotonic() < deadline:
        time.sleep(0.005)
    if mode == "mailkill":
        app.mail.deliver()
    else:
        Worker(app).run_pending()
        app.mail.deliver()
    app.close()
    """
)


def _spawn(tmp_path: Path, url: str, mode: str, log: Path, go: Path) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    env = dict(os.environ)
    env.pop("CRM_PLUGINS", None)
    return subprocess.Popen(
        [sys.executable, str(script), url, NOW.isoformat(), str(log), mode, str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def _wait_for(path: Path, text: str, count: int = 1, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count(text) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{text!r} did not appear {count} time(s) in {path} within {timeout} s")


def _finish(proc: subprocess.Popen, timeout: float = 60.0) -> None:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err.decode()


def test_two_worker_processes_started_together_run_everything_exactly_once(crm_factory, crm_db_url, tmp_path):
    app = crm_factory()
    # 51 occurrences of probe.each are due (the last 50 minutes and now)
    with app.activate():
        JobRow.insert(
            name="probe.each",
            owner="probe",
            schedule="every 1 min",
            next_run_at=NOW - dt.timedelta(minutes=50),
            created_at=NOW,
        ).execute()
    for i in range(200):
        app.mail.queue(f"user{i}@example.com", "s", "t", key=f"m{i}")
    log, go = tmp_path / "log.txt", tmp_path / "go"
    children = [_spawn(tmp_path, crm_db_url, "both", log, go) for _ in range(2)]
    _wait_for(log, "ready", count=2)
    go.touch()  # both start at the same moment
    for child in children:
        _finish(child)
    lines = log.read_text().splitlines()
    runs = collections.Counter(line.split()[1] for line in lines if line.startswith("run "))
    keys = collections.Counter(line.split()[1] for line in lines if line.startswith("key "))
    mails = collections.Counter(line.split()[1] for line in lines if line.startswith("mail "))
    assert len(runs) == 51 and set(runs.values()) == {1}, runs.most_common(3)
    assert len(keys) == 100 and set(keys.values()) == {1}
    assert len(mails) == 200 and set(mails.values()) == {1}
    with app.activate():
        assert JobRun.select().where(JobRun.job == "probe.each").count() == 51
        assert JobRun.select().where(JobRun.status != "done").count() == 0
    assert app.mail.counts()["sent"] == 200


def test_a_worker_killed_mid_job_is_taken_over_after_its_lease(
    crm_factory, crm_plugin, crm_db_url, crm_clock, tmp_path
):
    finished = []
    plugin = crm_plugin(
        "probe",
        crm_worker_jobs=lambda crm: [
            JobSpec(
                name="probe.slow",
                run=lambda crm, at: finished.append(at) or "finished",
                interval=dt.timedelta(hours=1),
                lease=dt.timedelta(seconds=30),
            )
        ],
    )
    app = crm_factory(plugins=[plugin])
    log, go = tmp_path / "log.txt", tmp_path / "go"
    go.touch()
    child = _spawn(tmp_path, crm_db_url, "slow", log, go)
    try:
        _wait_for(log, "started")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    worker = Worker(app, name="survivor")
    # the lease (30 s of the clock) still holds: nobody takes the job over
    assert [o for o in worker.run_pending() if o.job == "probe.slow"] == []
    crm_clock.set(NOW + dt.timedelta(seconds=31))
    outcomes = [o for o in worker.run_pending() if o.job == "probe.slow"]
    assert [(o.scheduled_at, o.attempt, o.status) for o in outcomes] == [(NOW, 2, "done")]
    assert finished == [NOW]
    with app.activate():
        run = JobRun.get(JobRun.job == "probe.slow")
        assert (run.status, run.attempts, run.worker) == ("done", 2, "survivor")
    assert log.read_text().count("started") == 1


def test_mail_held_by_a_killed_worker_is_sent_once_after_its_lease(crm_factory, crm_db_url, crm_clock, tmp_path):
    app = crm_factory(mail={"lease": 30.0, "batch_size": 20})
    for i in range(30):
        app.mail.queue(f"user{i}@example.com", "s", "t", key=f"m{i}")
    log, go = tmp_path / "log.txt", tmp_path / "go"
    go.touch()
    child = _spawn(tmp_path, crm_db_url, "mailkill", log, go)
    try:
        _wait_for(log, "sending 20")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert app.mail.counts()["sending"] == 20
    first = app.mail.deliver()  # the 10 unclaimed go; the 20 are still leased
    assert first.sent == 10 and first.reclaimed == 0
    crm_clock.set(NOW + dt.timedelta(seconds=31))
    second = app.mail.deliver()
    assert second.reclaimed == 20 and second.sent == 20
    assert sorted(m.key for m in app.mail.sent) == sorted(f"m{i}" for i in range(30))
    assert "mail " not in log.read_text()  # the killed worker sent nothing


SLOW_PLUGIN = """
import datetime as dt, os, time
from crm_hookspecs import hookimpl
from crm_hookspecs.records import JobSpec


def tick(crm, scheduled_at):
    path = os.environ["SLOWJOB_LOG"]
    with open(path, "a") as fh:
        fh.write("begin\\n")
    time.sleep(0.5)
    with open(path, "a") as fh:
        fh.write("end\\n")
    return "tick done"


@hookimpl
def crm_worker_jobs(crm):
    return [JobSpec(name="slowjob.tick", run=tick, interval=dt.timedelta(hours=1))]
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_crm_worker_stops_on_a_signal_after_finishing_the_job_in_hand(fake_site, tmp_path, sig):
    fake_site.add("slowjob", SLOW_PLUGIN)
    (tmp_path / "crm.toml").write_text(
        '[crm]\ndatabase = "sqlite:///crm.db"\n[crm.mail]\ntransport = "file"\n'
        '[crm.worker]\npoll_interval = 0.2\n[plugins]\nenabled = ["slowjob"]\n',
        encoding="utf-8",
    )
    joblog = tmp_path / "job.log"
    env = fake_site.env(SLOWJOB_LOG=str(joblog))
    crm = [str(Path(sys.executable).with_name("crm")), "--config", str(tmp_path / "crm.toml")]
    with CRM(config=load_config(tmp_path / "crm.toml", environ={})) as app:  # migrated in-process: one start-up less
        app.migrate()
    proc = subprocess.Popen(crm + ["worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(joblog, "begin")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert joblog.read_text().splitlines() == ["begin", "end"]  # the job in hand was finished
    assert "stopped" in out.decode()
    assert "received, stopping after the job in hand" in err.decode()
    with CRM(config=load_config(tmp_path / "crm.toml", environ={})) as app:
        with app.activate():
            run = JobRun.get(JobRun.job == "slowjob.tick")
            assert (run.status, run.attempts) == ("done", 1)  # recorded by the worker as it stopped
