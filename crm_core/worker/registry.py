"""The jobs a worker runs (the kernel's and the plugins'), and their status.

See ``docs/worker.md``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from crm_core import rows as typed_rows
from crm_core.context import AppContext
from crm_core.errors import PluginError, ValidationError
from crm_core.worker.schedule import Schedule

if TYPE_CHECKING:
    from crm_core.events import EventBus
    from crm_core.mail.mailer import Mailer

__all__ = [
    "KERNEL",
    "LANE_JOB_PREFIX",
    "Job",
    "WorkerContext",
    "failed_runs",
    "first_line",
    "is_lane_job",
    "kernel_jobs",
    "registered_jobs",
    "require_tables",
    "status",
]


class WorkerContext(AppContext, Protocol):
    """What the worker needs of the app: the app context and the two services its own jobs run.

    The worker hands the same object to every job's ``run(crm, scheduled_at)``.
    """

    @property
    def events(self) -> EventBus:
        """The event bus (the ``crm.events`` job delivers and retries)."""
        ...

    @property
    def mail(self) -> Mailer:
        """The mail queue (the ``crm.mail`` job delivers it)."""
        ...


#: the owner name of the kernel's own jobs
KERNEL = "crm"
#: the name of lane K's delivery job is this and K (``crm.worker.event_lanes`` above 1)
LANE_JOB_PREFIX = "crm.events.lane."


def is_lane_job(name: str) -> bool:
    """Whether ``name`` is a lane's event delivery job (a worker runs one of them at a time)."""
    return name.startswith(LANE_JOB_PREFIX)


@attrs.frozen
class Job:
    """A job the worker runs: its spec, its owner (plugin or kernel), its schedule."""

    owner: str
    spec: Any  # crm_hookspecs.records.JobSpec
    schedule: Schedule

    @property
    def name(self) -> str:
        name: str = self.spec.name
        return name


def kernel_jobs(crm: WorkerContext) -> list[Any]:
    """The jobs every worker runs: mail delivery, event delivery, clean-up."""
    from crm_hookspecs.records import JobSpec

    settings = crm.config.core.worker

    def deliver_mail(crm: WorkerContext, scheduled_at: dt.datetime) -> Any:
        return crm.mail.deliver()

    lanes = settings.event_lanes

    def deliver_events(crm: WorkerContext, scheduled_at: dt.datetime) -> str:
        # with several lanes, their own jobs deliver them (in several workers at once)
        delivered = crm.events.deliver() if lanes == 1 else None
        retried = crm.events.retry()
        retries = f"retries: {retried.retried_ok} delivered, {retried.failed} failed again"
        if delivered is None:
            return retries
        return f"{delivered.delivered} delivered, {delivered.failed} failed; {retries}"

    def lane_job(lane: int) -> Any:
        def deliver_lane(crm: WorkerContext, scheduled_at: dt.datetime) -> str:
            delivered = crm.events.deliver(lane=lane)
            return f"lane {lane} of {lanes}: {delivered.delivered} delivered, {delivered.failed} failed"

        return JobSpec(
            name=f"{LANE_JOB_PREFIX}{lane}",
            run=deliver_lane,
            interval=dt.timedelta(seconds=settings.events_interval),
            lease=dt.timedelta(seconds=settings.event_lane_lease),
        )

    def clean_up(crm: WorkerContext, scheduled_at: dt.datetime) -> str:
        from crm_core.worker.models import JobRun

        cutoff = crm.clock.now() - dt.timedelta(days=settings.keep_runs_days)
        with crm.transaction():
            gone = JobRun.delete().where((JobRun.status != "running") & (JobRun.finished_at < cutoff)).execute()
        return f"{gone} finished run(s) older than {settings.keep_runs_days} day(s) removed"

    return [
        JobSpec(
            name="crm.mail",
            run=deliver_mail,
            interval=dt.timedelta(seconds=settings.mail_interval),
            lease=dt.timedelta(seconds=crm.config.core.mail.lease),
        ),
        JobSpec(name="crm.events", run=deliver_events, interval=dt.timedelta(seconds=settings.events_interval)),
        *(lane_job(k) for k in range(lanes) if lanes > 1),
        JobSpec(name="crm.cleanup", run=clean_up, interval=dt.timedelta(hours=1)),
    ]


def registered_jobs(crm: WorkerContext) -> list[Job]:
    """The kernel's jobs and every enabled plugin's (``crm_worker_jobs``), validated."""
    jobs: list[Job] = []
    seen: dict[str, str] = {}
    specs = [(KERNEL, spec) for spec in kernel_jobs(crm)] + crm.hooks.worker_jobs(crm)
    for owner, spec in specs:
        if owner != KERNEL:
            if not spec.name.startswith(owner) or spec.name.startswith("crm."):
                raise PluginError(
                    owner,
                    f"plugin {owner!r}: job {spec.name!r} must be named after the plugin, e.g. {owner}.{spec.name}",
                )
            if not callable(spec.run):
                raise PluginError(
                    owner, f"plugin {owner!r}: job {spec.name!r}: run must be callable as run(crm, scheduled_at)"
                )
            if spec.lease.total_seconds() < 1:
                raise PluginError(
                    owner, f"plugin {owner!r}: job {spec.name!r}: lease {spec.lease} is shorter than a second"
                )
        if len(spec.name) > 150:
            raise PluginError(owner, f"plugin {owner!r}: job name {spec.name[:40]!r}… is longer than 150 characters")
        if spec.name in seen:
            raise PluginError(
                owner, f"job {spec.name!r} is offered by both {seen[spec.name]!r} and {owner!r}; rename one"
            )
        seen[spec.name] = owner
        try:
            schedule = Schedule(interval=spec.interval, rrule=spec.rrule, tz=crm.tz)
        except ValidationError as exc:
            raise PluginError(owner, f"plugin {owner!r}: job {spec.name!r}: {exc}") from None
        jobs.append(Job(owner, spec, schedule))
    return jobs


def require_tables(crm: WorkerContext) -> None:
    """A clear error, instead of "no such table", when the kernel's migration 0002 is not applied."""
    from crm_core.errors import StorageError
    from crm_core.mail.models import MailMessage
    from crm_core.worker.models import Job as JobRow

    with crm.activate():
        if not (typed_rows.table_exists(JobRow) and typed_rows.table_exists(MailMessage)):
            raise StorageError(
                "the database has no mail and worker tables yet (kernel migration 0002_mail_worker is pending); "
                "run 'crm migrate' first"
            )


def first_line(text: str | None) -> str:
    if not text:
        return ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def status(crm: WorkerContext) -> list[dict[str, Any]]:
    """Each job: owner, schedule, last run, next run, who runs it now, last error."""
    from crm_core.worker.models import Job as JobRow
    from crm_core.worker.models import JobRun

    jobs = {job.name: job for job in registered_jobs(crm)}
    require_tables(crm)
    with crm.activate():
        rows = {row.name: row for row in JobRow.select()}
        running: dict[str, list[Any]] = {}
        for run in JobRun.select().where(JobRun.status == "running").order_by(JobRun.scheduled_at):
            running.setdefault(run.job, []).append(run)
    now = crm.clock.now()
    out = []
    for name in list(jobs) + sorted(set(rows) - set(jobs)):
        job, row = jobs.get(name), rows.get(name)
        runs = running.get(name, [])
        now_running = ", ".join(
            f"{r.worker} since {r.started_at.isoformat()}" + (" (lease expired)" if r.lease_until < now else "")
            for r in runs
        )
        out.append(
            {
                "job": name,
                "owner": job.owner if job else (row.owner if row else ""),
                "schedule": job.schedule.describe()
                if job
                else f"{rows[name].schedule} (not registered: plugin disabled?)",
                "catch_up": job.spec.catch_up if job else "",
                "last_run": row.last_scheduled_at if row else None,
                "last_status": (row.last_status or "") if row else "never run",
                "last_result": (row.last_result or "") if row else "",
                "next_run": row.next_run_at if row else None,
                "running": now_running,
                "skipped": row.skipped if row else 0,
                "last_error": first_line(row.last_error) if row else "",
            }
        )
    return out


def failed_runs(crm: WorkerContext, limit: int = 20) -> list[dict[str, Any]]:
    """The latest failed runs of every job, newest first: job, scheduled, started, finished, attempts, worker, error.

    ``error`` is the whole traceback as recorded; runs are kept
    ``keep_runs_days`` (``crm.worker``).
    """
    from crm_core.worker.models import JobRun

    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
        raise ValidationError(f"limit must be a whole number from 1 to 10000, not {limit!r}")
    require_tables(crm)
    with crm.activate():
        query = (
            JobRun.select()
            .where(JobRun.status == "failed")
            .order_by(JobRun.finished_at.desc(), JobRun.id.desc())
            .limit(limit)
        )
        return [
            {
                "job": run.job,
                "scheduled_at": run.scheduled_at,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "attempts": run.attempts,
                "worker": run.worker,
                "error": run.error or "",
                "error_line": first_line(run.error),
            }
            for run in query
        ]
