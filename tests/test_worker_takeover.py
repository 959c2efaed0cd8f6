"""Two long-running worker processes: one is SIGKILLed, the other is inside a long job.

The survivor must take the dead worker's job over about a lease (plus a
poll interval) after the kill, not when its own long job ends. Real time
and the real clock here (the lease is three seconds), since what is checked
is how soon a sleeping, busy worker notices; every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from crm_core.worker.models import JobRun

LEASE = 3.0
POLL = 0.5

CHILD = textwrap.dedent(
    """
    import datetime as dt, logging, os, sys, time
    from crm_hookspecs import hookimpl
    from crm_hookspecs.records import JobSpec
    from crm_core.app import CRM
    from crm_core.config import Config, CoreSettings, structure_section
    from crm_core.worker import Worker

    url, log_path, role, release, lease, poll = sys.argv[1:7]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)

    def append(line):
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (line + "\\n").encode())
        os.close(fd)

    def held(crm, at):
        append(f"held {role} {time.time()!r}")
        if role == "victim":
            time.sleep(120)  # killed here
        return "held"

    def long(crm, at):
        append(f"long {role} {time.time()!r}")
        deadline = time.monotonic() + 60
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.05)
        append(f"end long {role}")
        return "long done"

    class Probe:
        @hookimpl
        def crm_worker_jobs(self, crm):
            return [
                JobSpec(name="probe.held", run=held, interval=dt.timedelta(hours=1), lease=dt.timedelta(seconds=float(lease))),
                JobSpec(name="probe.long", run=long, interval=dt.timedelta(hours=1), lease=dt.timedelta(seconds=float(lease))),
            ]

    core = structure_section(
        {"database": url, "mail": {"transport": "memory"}, "worker": {"poll_interval": float(poll)}}, CoreSettings, "child", "crm"
    )
    app = CRM(config=Config(core=core, enabled=()), plugins=[("probe", Probe())], strict=True)
    worker = Worker(app)
    if role == "victim":  # it only knows the job it will die in
        worker = Worker(app, jobs=[job for job in worker.jobs.values() if job.name == "probe.held"])
    append(f"ready {role}")
    worker.run()
    app.close()
    """
)


def _spawn(tmp_path: Path, url: str, role: str, log: Path, release: Path) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    env = dict(os.environ)
    env.pop("CRM_PLUGINS", None)
    return subprocess.Popen(
        [sys.executable, str(script), url, str(log), role, str(release), str(LEASE), str(POLL)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def _wait_for(path: Path, text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text().splitlines():
                if line.startswith(text):
                    return line
        time.sleep(0.02)
    raise AssertionError(
        f"{text!r} did not appear in {path} within {timeout} s: {path.read_text() if path.exists() else ''}"
    )


def test_a_busy_worker_takes_a_killed_workers_job_over_after_its_lease(crm_factory, crm_db_url, tmp_path):
    app = crm_factory()  # migrates the database the children share
    log, release = tmp_path / "log.txt", tmp_path / "release"
    victim = _spawn(tmp_path, crm_db_url, "victim", log, release)
    survivor = None
    try:
        _wait_for(log, "held victim")  # the victim holds probe.held…
        survivor = _spawn(tmp_path, crm_db_url, "survivor", log, release)
        _wait_for(log, "long survivor")  # …and the survivor is inside its long job
        time.sleep(LEASE)  # the victim's heartbeat has renewed its lease meanwhile
        assert "held survivor" not in log.read_text()  # a live worker's job is not taken over
        victim.send_signal(signal.SIGKILL)
        killed_at = time.time()
        victim.wait(timeout=30)
        line = _wait_for(log, "held survivor", timeout=60)
        delay = float(line.split()[2]) - killed_at
        # the lease left at the kill (at most LEASE), the survivor's next look
        # (at most POLL), and slack for a loaded machine; before, the
        # takeover waited for the long job (60 s here)
        assert delay < LEASE + POLL + 3.0, f"taken over {delay:.1f} s after the kill"
        assert "end long" not in log.read_text()  # while the survivor was still inside its long job
    finally:
        release.touch()
        if victim.poll() is None:
            victim.kill()
        if survivor is not None:
            survivor.send_signal(signal.SIGTERM)
            out, err = survivor.communicate(timeout=60)
            assert survivor.returncode == 0, err.decode()
    text = err.decode()
    assert "taking over the run scheduled at" in text
    with app.activate():
        held = JobRun.get(JobRun.job == "probe.held")
        assert (held.status, held.attempts) == ("done", 2)
        assert JobRun.get(JobRun.job == "probe.long").status == "done"  # finished on SIGTERM, and recorded
