"""What the system pages of an admin read and do: admin.system on mail retry, the worker's failed runs, plugin rows."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_core.errors import PermissionDenied, ValidationError


def test_retrying_mail_needs_admin_system_of_a_user(crm, crm_as_user):
    from crm_core.mail.models import MailMessage

    message = crm.mail.queue("lost@example.com", "Hi", "Hello", key="m1")
    with crm.activate():
        MailMessage.update(status="failed", last_error="550 no such user").where(MailMessage.id == message.id).execute()
    with crm_as_user(crm, roles=["manager"]), pytest.raises(PermissionDenied, match="admin.system"):
        crm.mail.retry()
    assert crm.mail.get(message.id).status == "failed"
    with crm_as_user(crm, roles=["admin"]):
        assert crm.mail.retry([message.id]) == 1
    assert crm.mail.get(message.id).status == "queued"


def test_failed_runs_newest_first_with_their_error(crm, crm_clock):
    from crm_core.worker import failed_runs
    from crm_core.worker.models import JobRun

    now = crm_clock.now()
    with crm.activate():
        for minutes, status, error in (
            (1, "failed", "Traceback\nOSError: older"),
            (2, "done", None),
            (3, "failed", "Traceback\nValueError: newer"),
        ):
            JobRun.create(
                job="crm.mail",
                scheduled_at=now + dt.timedelta(minutes=minutes),
                status=status,
                worker="w1",
                started_at=now,
                lease_until=now,
                finished_at=now + dt.timedelta(minutes=minutes),
                error=error,
            )
    runs = failed_runs(crm)
    assert [r["error_line"] for r in runs] == ["ValueError: newer", "OSError: older"]
    assert runs[0]["error"] == "Traceback\nValueError: newer" and runs[0]["worker"] == "w1"
    assert len(failed_runs(crm, limit=1)) == 1
    with pytest.raises(ValidationError, match="limit must be a whole number from 1 to 10000, not 0"):
        failed_runs(crm, limit=0)


def test_plugin_rows_show_loaded_then_disabled_plugins(crm_factory, crm_plugin):
    from crm_core.plugins.report import plugin_rows

    crm = crm_factory([crm_plugin("probe")])
    rows = {row["name"]: row for row in plugin_rows(crm.plugins)}
    assert rows["probe"]["state"] == "enabled" and rows["probe"]["error"] == ""
    # the installed plugins this app did not enable are listed as disabled, with their version
    assert rows["contacts"]["state"] == "disabled" and rows["contacts"]["version"]
