"""The worker: claims due job occurrences, runs them, records the outcome.

Every occurrence is a row of ``crm_job_run`` keyed by (job, scheduled
time), claimed in a transaction that holds the job's ``crm_job`` row
(``SELECT … FOR UPDATE`` on PostgreSQL and MariaDB; SQLite serialises
writers) and advances its ``next_run_at``. So any number of workers, on any
number of machines, run each occurrence once. A claimed occurrence carries
a lease, extended while the job runs; if its worker dies, the lease runs
out and the next worker to look takes the occurrence over and runs it again
(jobs must be idempotent: use :func:`crm_core.jobs.run_once` for actions
inside them).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import attrs
import peewee

from crm_core.errors import PluginError, ValidationError
from crm_core.storage import for_update
from crm_core.worker.schedule import Schedule

if TYPE_CHECKING:
    from crm_hookspecs.records import JobSpec

    from crm_core.app import CRM

__all__ = ["Job", "RunOutcome", "Worker", "kernel_jobs", "registered_jobs", "require_tables", "status"]

log = logging.getLogger("crm.worker")
#: the owner name of the kernel's own jobs
KERNEL = "crm"


@attrs.frozen
class Job:
    """A job the worker runs: its spec, its owner (plugin or kernel), its schedule."""

    owner: str
    spec: Any  # crm_hookspecs.records.JobSpec
    schedule: Schedule

    @property
    def name(self) -> str:
        return self.spec.name


@attrs.frozen
class RunOutcome:
    """One occurrence this worker ran."""

    job: str
    scheduled_at: dt.datetime
    status: str  # done or failed
    attempt: int
    result: str | None = None
    error: str | None = None


def kernel_jobs(crm: CRM) -> list[Any]:
    """The jobs every worker runs: mail delivery, event delivery, clean-up."""
    from crm_hookspecs.records import JobSpec

    settings = crm.config.core.worker

    def deliver_mail(crm: CRM, scheduled_at: dt.datetime) -> Any:
        return crm.mail.deliver()

    def deliver_events(crm: CRM, scheduled_at: dt.datetime) -> str:
        delivered = crm.events.deliver()
        retried = crm.events.retry()
        return (
            f"{delivered.delivered} delivered, {delivered.failed} failed; "
            f"retries: {retried.retried_ok} delivered, {retried.failed} failed again"
        )

    def clean_up(crm: CRM, scheduled_at: dt.datetime) -> str:
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
        JobSpec(name="crm.cleanup", run=clean_up, interval=dt.timedelta(hours=1)),
    ]


def registered_jobs(crm: CRM) -> list[Job]:
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
                raise PluginError(owner, f"plugin {owner!r}: job {spec.name!r}: run must be callable as run(crm, scheduled_at)")
            if spec.lease.total_seconds() < 1:
                raise PluginError(owner, f"plugin {owner!r}: job {spec.name!r}: lease {spec.lease} is shorter than a second")
        if len(spec.name) > 150:
            raise PluginError(owner, f"plugin {owner!r}: job name {spec.name[:40]!r}… is longer than 150 characters")
        if spec.name in seen:
            raise PluginError(owner, f"job {spec.name!r} is offered by both {seen[spec.name]!r} and {owner!r}; rename one")
        seen[spec.name] = owner
        try:
            schedule = Schedule(interval=spec.interval, rrule=spec.rrule, tz=crm.tz)
        except ValidationError as exc:
            raise PluginError(owner, f"plugin {owner!r}: job {spec.name!r}: {exc}") from None
        jobs.append(Job(owner, spec, schedule))
    return jobs


def require_tables(crm: CRM) -> None:
    """A clear error, instead of "no such table", when the kernel's migration 0002 is not applied."""
    from crm_core.errors import StorageError
    from crm_core.mail.models import MailMessage
    from crm_core.worker.models import Job as JobRow

    with crm.activate():
        if not (JobRow.table_exists() and MailMessage.table_exists()):
            raise StorageError(
                "the database has no mail and worker tables yet (kernel migration 0002_mail_worker is pending); "
                "run 'crm migrate' first"
            )


def _first_line(text: str | None) -> str:
    if not text:
        return ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


class Worker:
    """Runs the registered jobs of one app: ``run_pending()`` once, or ``run()`` until stopped."""

    def __init__(self, crm: CRM, *, jobs: Sequence[Job] | None = None, name: str | None = None) -> None:
        self.crm = crm
        self.id = name or f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        if not self.id or len(self.id) > 100:
            raise ValidationError(f"worker name {self.id[:40]!r} must be 1 to 100 characters")
        self.jobs = {job.name: job for job in (jobs if jobs is not None else registered_jobs(crm))}
        self._stop = threading.Event()
        self._synced = False

    # -- the schedule table --------------------------------------------------

    def sync(self) -> None:
        """Make sure every job has its ``crm_job`` row (and the schedule it has now)."""
        from crm_core.worker.models import Job as JobRow

        crm = self.crm
        now = crm.clock.now()
        with crm.activate():
            require_tables(crm)
            known = {row.name: row for row in JobRow.select(JobRow.name, JobRow.schedule, JobRow.owner)}
            for name, job in self.jobs.items():
                text = job.schedule.describe()
                row = known.get(name)
                if row is None:
                    with crm.database.atomic():
                        JobRow.insert(
                            name=name, owner=job.owner, schedule=text, next_run_at=job.schedule.first(now), created_at=now
                        ).on_conflict_ignore().execute()
                elif row.schedule != text or row.owner != job.owner:
                    # the schedule changed (new settings or plugin version): start it afresh
                    with crm.database.atomic():
                        JobRow.update(schedule=text, owner=job.owner, next_run_at=job.schedule.first(now)).where(
                            JobRow.name == name
                        ).execute()
        self._synced = True

    # -- running -------------------------------------------------------------

    def stop(self) -> None:
        """Ask the worker to stop after the job in hand."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _due(self) -> list[str]:
        """Jobs with an occurrence due, or a run whose worker's lease ran out (one query each)."""
        from crm_core.worker.models import Job as JobRow
        from crm_core.worker.models import JobRun

        now = self.crm.clock.now()
        names = list(self.jobs)
        due = {
            name
            for (name,) in JobRow.select(JobRow.name)
            .where(JobRow.name.in_(names) & JobRow.next_run_at.is_null(False) & (JobRow.next_run_at <= now))
            .tuples()
        }
        due |= {
            name
            for (name,) in JobRun.select(JobRun.job)
            .where(JobRun.job.in_(names) & (JobRun.status == "running") & (JobRun.lease_until < now))
            .distinct()
            .tuples()
        }
        return [n for n in names if n in due]  # registration order: the kernel's first

    def run_pending(self) -> list[RunOutcome]:
        """Run every occurrence that is due now (and take over abandoned ones); return what ran."""
        outcomes: list[RunOutcome] = []
        with self.crm.activate():
            if not self._synced:
                self.sync()
            while not self.stopping:
                progressed = False
                for name in self._due():
                    if self.stopping:
                        break
                    claim = self._claim(self.jobs[name])
                    if claim is not None:
                        outcomes.append(self._run(self.jobs[name], *claim))
                        progressed = True
                if not progressed:
                    break
        return outcomes

    def _claim(self, job: Job) -> tuple[int, dt.datetime, int] | None:
        """Claim one occurrence of ``job``: ``(run id, scheduled time, attempt)``, or None."""
        from crm_core.jobs import transaction_retry

        skipped: list[int] = []
        claim = transaction_retry(self.crm, lambda: self._claim_in_transaction(job, skipped))
        if skipped and skipped[-1]:
            log.info("job %s: %d missed occurrence(s) skipped (catch_up='once')", job.name, skipped[-1])
        return claim

    def _claim_in_transaction(self, job: Job, skipped_out: list[int]) -> tuple[int, dt.datetime, int] | None:
        from crm_core.worker.models import Job as JobRow
        from crm_core.worker.models import JobRun

        crm = self.crm
        database = crm.database
        now = crm.clock.now()
        lease_until = now + job.spec.lease
        # the job's row is the lock every claim (and every finish) of this
        # job takes first: claims of one job are serialised, in one order
        row = for_update(JobRow.select().where(JobRow.name == job.name), database).first()
        if row is None:
            return None
        stale = (
            JobRun.select()
            .where((JobRun.job == job.name) & (JobRun.status == "running") & (JobRun.lease_until < now))
            .order_by(JobRun.scheduled_at)
            .first()
        )
        if stale is not None:
            taken = (
                JobRun.update(worker=self.id, lease_until=lease_until, attempts=JobRun.attempts + 1, started_at=now)
                .where((JobRun.id == stale.id) & (JobRun.status == "running") & (JobRun.lease_until < now))
                .execute()
            )
            if taken:
                log.warning(
                    "job %s: taking over the run scheduled at %s from %s (its lease ran out)",
                    job.name, stale.scheduled_at.isoformat(), stale.worker,
                )
                return stale.id, stale.scheduled_at, stale.attempts + 1
        if row.next_run_at is None or row.next_run_at > now:
            return None
        skipped = 0
        if job.spec.catch_up == "each":
            scheduled = row.next_run_at
        else:
            scheduled = job.schedule.latest(now) or row.next_run_at
            if scheduled < row.next_run_at:
                scheduled = row.next_run_at
            skipped = job.schedule.count_between(row.next_run_at, scheduled)
        following = job.schedule.after(scheduled)
        inserted = (
            JobRun.insert(
                job=job.name, scheduled_at=scheduled, status="running", worker=self.id,
                attempts=1, started_at=now, lease_until=lease_until,
            )
            .on_conflict_ignore()
            .as_rowcount()
            .execute()
        )
        JobRow.update(
            next_run_at=following, last_scheduled_at=scheduled, last_started_at=now,
            skipped=JobRow.skipped + skipped,
        ).where(JobRow.name == job.name).execute()
        skipped_out.append(skipped)
        if inserted != 1:
            return None  # already claimed (a schedule reset went back in time): skip it
        run_id = JobRun.select(JobRun.id).where((JobRun.job == job.name) & (JobRun.scheduled_at == scheduled)).scalar()
        return run_id, scheduled, 1

    def _run(self, job: Job, run_id: int, scheduled: dt.datetime, attempt: int) -> RunOutcome:
        from crm_core.worker.models import Job as JobRow
        from crm_core.worker.models import JobRun

        crm = self.crm
        beat = _Heartbeat(crm, run_id, self.id, job.spec.lease)
        beat.start()
        result: Any = None
        error: str | None = None
        try:
            with crm.activate():
                result = job.spec.run(crm, scheduled)
        except Exception as exc:  # a job's failure is recorded, and the worker goes on
            error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            log.error("job %s (scheduled %s) failed: %s", job.name, scheduled.isoformat(), _first_line(error))
        finally:
            beat.stop()
        now = crm.clock.now()
        status_ = "failed" if error else "done"
        text = None if result is None else str(result)[:500]

        def finish() -> int:
            # the job's row first, as claims do: one lock order, no deadlock
            for_update(JobRow.select(JobRow.name).where(JobRow.name == job.name), crm.database).first()
            mine = (
                JobRun.update(status=status_, finished_at=now, error=error)
                .where((JobRun.id == run_id) & (JobRun.worker == self.id) & (JobRun.status == "running"))
                .execute()
            )
            if mine:
                values: dict[str, Any] = dict(last_finished_at=now, last_status=status_, last_error=error)
                if not error:
                    values["last_result"] = text
                JobRow.update(**values).where(JobRow.name == job.name).execute()
            return mine

        from crm_core.jobs import transaction_retry

        if not transaction_retry(crm, finish):
            log.warning("job %s: another worker took this run over while it ran (lease too short?)", job.name)
        return RunOutcome(job.name, scheduled, status_, attempt, text, _first_line(error) or None)

    def next_wakeup(self) -> dt.datetime | None:
        """The earliest time something becomes due (a next run or a lease running out)."""
        from peewee import fn

        from crm_core.worker.models import Job as JobRow
        from crm_core.worker.models import JobRun

        names = list(self.jobs)
        with self.crm.activate():
            nxt = JobRow.select(fn.MIN(JobRow.next_run_at)).where(JobRow.name.in_(names)).scalar()
            lease = (
                JobRun.select(fn.MIN(JobRun.lease_until))
                .where(JobRun.job.in_(names) & (JobRun.status == "running") & (JobRun.worker != self.id))
                .scalar()
            )
        times = [_aware(t) for t in (nxt, lease) if t is not None]
        return min(times) if times else None

    def run(self, *, once: bool = False, handle_signals: bool = True, on_outcome: Callable[[RunOutcome], None] | None = None) -> list[RunOutcome]:
        """Run until :meth:`stop` (SIGTERM, Ctrl-C), or with ``once`` run what is due and return.

        The job in hand is always finished. Between runs the worker sleeps
        until the next occurrence, at most ``[crm.worker] poll_interval``
        seconds (other workers may have changed the schedule meanwhile).
        """
        restore = self._install_signals() if handle_signals else None
        done: list[RunOutcome] = []
        try:
            while True:
                try:
                    outcomes = self.run_pending()
                except peewee.DatabaseError as exc:
                    if once:
                        raise
                    # the database went away (a restart, a failover): a
                    # long-running worker waits for it instead of dying
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    log.error("worker %s: database error (%s); trying again in %g s", self.id, reason, self._retry_delay())
                    self._close_connection()
                    self._stop.wait(self._retry_delay())
                    if self.stopping:
                        break
                    continue
                for outcome in outcomes:
                    done.append(outcome)
                    if on_outcome is not None:
                        on_outcome(outcome)
                if once or self.stopping:
                    break
                self._sleep()
                if self.stopping:
                    break
        finally:
            if restore is not None:
                restore()
        return done

    def _retry_delay(self) -> float:
        return self.crm.config.core.worker.poll_interval

    def _close_connection(self) -> None:
        try:
            if not self.crm.database.is_closed():
                self.crm.database.close()
        except peewee.DatabaseError:  # a broken connection may not even close cleanly
            pass

    def _sleep(self) -> None:
        poll = self.crm.config.core.worker.poll_interval
        wake = self.next_wakeup()
        delay = poll
        if wake is not None:
            delay = min(poll, max((wake - self.crm.clock.now()).total_seconds(), 0.0))
        # the database is not needed while asleep: give the connection back
        if not self.crm.database.in_transaction():
            self._close_connection()
        self._stop.wait(max(delay, 0.05))

    def _install_signals(self) -> Callable[[], None] | None:
        if threading.current_thread() is not threading.main_thread():
            return None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

        def handler(signum: int, frame: Any) -> None:
            if self.stopping and signum == signal.SIGINT:
                raise KeyboardInterrupt  # a second Ctrl-C: stop now
            log.warning("worker %s: %s received, stopping after the job in hand", self.id, signal.Signals(signum).name)
            self.stop()

        for sig in previous:
            signal.signal(sig, handler)

        def restore() -> None:
            for sig, old in previous.items():
                signal.signal(sig, old)

        return restore


class _Heartbeat:
    """Extends a running occurrence's lease while its job runs (in a thread)."""

    def __init__(self, crm: CRM, run_id: int, worker: str, lease: dt.timedelta) -> None:
        self.crm, self.run_id, self.worker, self.lease = crm, run_id, worker, lease
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        every = max(self.lease.total_seconds() / 3, 0.5)
        self._thread = threading.Thread(target=self._loop, args=(every,), name=f"crm-lease-{self.run_id}", daemon=True)
        self._thread.start()

    def _loop(self, every: float) -> None:
        from crm_core.worker.models import JobRun

        try:
            while not self._done.wait(every):
                with self.crm.activate(), self.crm.database.atomic():
                    JobRun.update(lease_until=self.crm.clock.now() + self.lease).where(
                        (JobRun.id == self.run_id) & (JobRun.worker == self.worker) & (JobRun.status == "running")
                    ).execute()
        except Exception as exc:  # the lease then simply runs out; say why
            log.error("lease heartbeat of run %s failed: %s", self.run_id, exc)
        finally:
            if not self.crm.database.is_closed():
                self.crm.database.close()  # this thread's connection

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def status(crm: CRM) -> list[dict[str, Any]]:
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
            f"{r.worker} since {r.started_at.isoformat()}" + (" (lease expired)" if r.lease_until < now else "") for r in runs
        )
        out.append(
            {
                "job": name,
                "owner": job.owner if job else (row.owner if row else ""),
                "schedule": job.schedule.describe() if job else f"{row.schedule} (not registered: plugin disabled?)",
                "catch_up": job.spec.catch_up if job else "",
                "last_run": row.last_scheduled_at if row else None,
                "last_status": (row.last_status or "") if row else "never run",
                "last_result": (row.last_result or "") if row else "",
                "next_run": row.next_run_at if row else None,
                "running": now_running,
                "skipped": row.skipped if row else 0,
                "last_error": _first_line(row.last_error) if row else "",
            }
        )
    return out
