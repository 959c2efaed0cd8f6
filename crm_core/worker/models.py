"""The worker's tables (created by the kernel migration 0002)."""

from __future__ import annotations

import peewee

from crm_core.storage import Model, UTCDateTimeField

__all__ = ["Job", "JobRun"]


class Job(Model):
    """One row per job: where its schedule stands, and how its last run went.

    ``next_run_at`` is the next occurrence no worker has claimed yet; a
    worker advances it in the same transaction as it claims an occurrence.
    """

    name = peewee.CharField(max_length=150, primary_key=True)
    owner = peewee.CharField(max_length=100)
    schedule = peewee.CharField(max_length=500)
    next_run_at = UTCDateTimeField(null=True)
    last_scheduled_at = UTCDateTimeField(null=True)
    last_started_at = UTCDateTimeField(null=True)
    last_finished_at = UTCDateTimeField(null=True)
    last_status = peewee.CharField(max_length=16, null=True)
    last_error = peewee.TextField(null=True)
    #: what the last successful run returned, as text (a delivery report, say)
    last_result = peewee.CharField(max_length=500, null=True)
    #: occurrences skipped by catch_up="once" since the job was created
    skipped = peewee.IntegerField(default=0)
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "crm_job"


class JobRun(Model):
    """One occurrence of a job, keyed by (job, scheduled time): claimed once."""

    id = peewee.BigAutoField()
    job = peewee.CharField(max_length=150)
    scheduled_at = UTCDateTimeField()
    #: running, done or failed
    status = peewee.CharField(max_length=16)
    worker = peewee.CharField(max_length=100)
    attempts = peewee.IntegerField(default=1)
    started_at = UTCDateTimeField()
    lease_until = UTCDateTimeField()
    finished_at = UTCDateTimeField(null=True)
    error = peewee.TextField(null=True)

    class Meta:
        table_name = "crm_job_run"
        indexes = (
            (("job", "scheduled_at"), True),
            (("status", "lease_until"), False),
            (("finished_at",), False),
        )
