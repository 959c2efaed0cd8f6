"""`crm worker --once` and `crm worker status` in-process (the signal tests run real processes)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from crm_hookspecs.records import JobSpec

# the commands format what the API returns; the API is tested on every backend
pytestmark = pytest.mark.sqlite_only


def _boom(crm, scheduled_at):
    raise ValueError("the export folder is missing")


def test_worker_once_runs_what_is_due_and_reports_it(crm_factory, crm_cli, crm_plugin):
    app = crm_factory(
        plugins=[
            crm_plugin(
                "probe",
                crm_worker_jobs=lambda crm: [
                    JobSpec(name="probe.ok", run=lambda crm, at: "fine", interval=dt.timedelta(hours=1))
                ],
            )
        ]
    )
    app.mail.queue("a@example.com", "s", "t")
    result = crm_cli.invoke(["worker", "--once"], app=app)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("crm.mail 2026-01-05T09:00:00+00:00: 1 sent") for line in lines)
    assert any(line.startswith("probe.ok ") and line.endswith(": fine") for line in lines)
    assert crm_cli.invoke(["worker", "--once"], app=app).output == ""  # nothing due any more


def test_worker_once_exits_non_zero_when_a_job_failed(crm_factory, crm_cli, crm_plugin):
    app = crm_factory(
        plugins=[
            crm_plugin(
                "probe",
                crm_worker_jobs=lambda crm: [JobSpec(name="probe.bad", run=_boom, interval=dt.timedelta(hours=1))],
            )
        ]
    )
    result = crm_cli.invoke(["worker", "--once", "--quiet"], app=app)
    assert result.exit_code == 1
    assert "probe.bad 2026-01-05T09:00:00+00:00: failed: ValueError: the export folder is missing" in result.output


def test_worker_status_shows_last_and_next_run_and_errors(crm_factory, crm_cli, crm_plugin):
    app = crm_factory(
        plugins=[
            crm_plugin(
                "probe",
                crm_worker_jobs=lambda crm: [JobSpec(name="probe.bad", run=_boom, interval=dt.timedelta(hours=1))],
            )
        ]
    )
    crm_cli.invoke(["worker", "--once"], app=app)
    table = crm_cli.invoke(["worker", "status"], app=app).output
    assert table.splitlines()[0].split() == [
        "job",
        "owner",
        "schedule",
        "last_run",
        "last_status",
        "next_run",
        "running",
        "last_error",
    ]
    assert "ValueError: the export folder is missing" in table
    rows = {r["job"]: r for r in json.loads(crm_cli.invoke(["worker", "status", "--format", "json"], app=app).output)}
    assert rows["probe.bad"]["last_status"] == "failed" and rows["probe.bad"]["owner"] == "probe"
    assert rows["probe.bad"]["next_run"] == "2026-01-05T10:00:00+00:00"
    assert rows["crm.mail"]["last_status"] == "done" and rows["crm.mail"]["last_result"].startswith("0 sent")


def test_commands_on_a_database_that_is_not_migrated_say_what_to_do(crm_factory, crm_cli):
    app = crm_factory(migrate=False)
    for args in (["worker", "--once"], ["worker", "status"], ["mail", "queue"], ["mail", "deliver"]):
        result = crm_cli.invoke(args, app=app)
        assert result.exit_code == 4, (args, result.output)
        assert result.output.strip().splitlines() == [
            "Error: the database has no mail and worker tables yet (kernel migration 0002_mail_worker is pending); "
            "run 'crm migrate' first"
        ]
