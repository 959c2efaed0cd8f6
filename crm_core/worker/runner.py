"""The worker: claims due job occurrences, runs them, records the outcome.

Every occurrence is a row of ``crm_job_run`` keyed by (job, scheduled
time), claimed in a transaction that holds the job's ``crm_job`` row
(``SELECT … FOR UPDATE`` on PostgreSQL and MariaDB; SQLite serialises
writers) and advances its ``next_run_at``. So any number of workers, on any
number of machines, run each occurrence once. A claimed occurrence carries
a lease, extended by a heartbeat thread while the job runs; if its worker
dies, the lease runs out and the next worker to look takes the occurrence
over and runs it again (jobs must be idempotent: use
:func:`crm_core.jobs.run_once` for actions inside them).

A long-running worker (:meth:`Worker.run`) runs each claimed occurrence in
a thread of its own and goes on looking while it runs, so one long job
delays neither the other jobs nor the takeover of a dead worker's job.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import signal
import socket
import threading
import traceback
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crm_core import rows as typed_rows
from crm_core.errors import ValidationError
from crm_core.storage import for_update
from crm_core.worker.backoff import Backoff, is_database_outage, reason
from crm_core.worker.lease import Heartbeat
from crm_core.worker.registry import KERNEL as KERNEL  # noqa: F401 - where it used to be
from crm_core.worker.registry import (
    Job,
    first_line,
    is_lane_job,
    kernel_jobs,
    registered_jobs,
    require_tables,
    status,
)

if TYPE_CHECKING:
    from crm_core.worker.registry import WorkerContext

__all__ = ["Job", "RunOutcome", "Worker", "kernel_jobs", "registered_jobs", "require_tables", "status"]

log = logging.getLogger("crm.worker")

#: the longest wait between two attempts while the database is away (seconds)
MAX_RETRY_DELAY = 60.0


@attrs.frozen
class RunOutcome:
    """One occurrence this worker ran."""

    job: str
    scheduled_at: dt.datetime
    status: str  # done or failed
    attempt: int
    result: str | None = None
    error: str | None = None


class Worker:
    """Runs the registered jobs of one app: ``run_pending()`` once, or ``run()`` until stopped."""

    def __init__(self, crm: WorkerContext, *, jobs: Sequence[Job] | None = None, name: str | None = None) -> None:
        self.crm = crm
        self.id = name or f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        if not self.id or len(self.id) > 100:
            raise ValidationError(f"worker name {self.id[:40]!r} must be 1 to 100 characters")
        self.jobs = {job.name: job for job in (jobs if jobs is not None else registered_jobs(crm))}
        self._stop = threading.Event()
        #: set by stop() and by a run that ends: the sleeping loop looks again
        self._wake = threading.Event()
        #: ids of the runs this worker has in hand: never "taken over" from itself
        self._in_hand: set[int] = set()
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
                            name=name,
                            owner=job.owner,
                            schedule=text,
                            next_run_at=job.schedule.first(now),
                            created_at=now,
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
        """Ask the worker to stop after the jobs in hand."""
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _due(self, busy: Sequence[str] = ()) -> list[str]:
        """Jobs with an occurrence due, or a run whose worker's lease ran out (one query each).

        A job in ``busy`` (running here) counts only for a dead worker's run.
        """
        from crm_core.worker.models import Job as JobRow
        from crm_core.worker.models import JobRun

        now = self.crm.clock.now()
        names = list(self.jobs)
        due = {
            name
            for (name,) in typed_rows.tuples(
                JobRow.select(JobRow.name).where(
                    JobRow.name.in_(names) & JobRow.next_run_at.is_null(False) & (JobRow.next_run_at <= now)
                )
            )
            if name not in busy
        }
        due |= {
            name
            for (name,) in typed_rows.tuples(
                JobRun.select(JobRun.job)
                .where(JobRun.job.in_(names) & (JobRun.status == "running") & (JobRun.lease_until < now))
                .distinct()
            )
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

    def _claim(self, job: Job, *, takeover_only: bool = False) -> tuple[int, dt.datetime, int] | None:
        """Claim one occurrence of ``job``: ``(run id, scheduled time, attempt)``, or None.

        ``takeover_only``: only a run whose worker's lease ran out, not a new
        occurrence (this worker is running the job already).
        """
        from crm_core.jobs import transaction_retry

        skipped: list[int] = []
        claim = transaction_retry(self.crm, lambda: self._claim_in_transaction(job, skipped, takeover_only))
        if skipped and skipped[-1]:
            log.info("job %s: %d missed occurrence(s) skipped (catch_up='once')", job.name, skipped[-1])
        return claim

    def _claim_in_transaction(
        self, job: Job, skipped_out: list[int], takeover_only: bool = False
    ) -> tuple[int, dt.datetime, int] | None:
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
        abandoned = (JobRun.job == job.name) & (JobRun.status == "running") & (JobRun.lease_until < now)
        in_hand = list(self._in_hand)
        if in_hand:  # a run whose heartbeat was held up (the database away) is still ours
            abandoned &= JobRun.id.not_in(in_hand)
        stale = JobRun.select().where(abandoned).order_by(JobRun.scheduled_at).first()
        if stale is not None:
            taken = (
                JobRun.update(worker=self.id, lease_until=lease_until, attempts=JobRun.attempts + 1, started_at=now)
                .where((JobRun.id == stale.id) & (JobRun.status == "running") & (JobRun.lease_until < now))
                .execute()
            )
            if taken:
                log.warning(
                    "job %s: taking over the run scheduled at %s from %s (its lease ran out)",
                    job.name,
                    stale.scheduled_at.isoformat(),
                    stale.worker,
                )
                return stale.id, stale.scheduled_at, stale.attempts + 1
        if takeover_only or row.next_run_at is None or row.next_run_at > now:
            return None
        if (
            is_lane_job(job.name)
            and JobRun.select()
            .where((JobRun.job == job.name) & (JobRun.status == "running") & (JobRun.lease_until >= now))
            .exists()
        ):
            # one delivery of a lane at a time: a second would only wait for the first's row locks
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
                job=job.name,
                scheduled_at=scheduled,
                status="running",
                worker=self.id,
                attempts=1,
                started_at=now,
                lease_until=lease_until,
            )
            .on_conflict_ignore()
            .as_rowcount()
            .execute()
        )
        JobRow.update(
            next_run_at=following,
            last_scheduled_at=scheduled,
            last_started_at=now,
            skipped=JobRow.skipped + skipped,
        ).where(JobRow.name == job.name).execute()
        skipped_out.append(skipped)
        if inserted != 1:
            return None  # already claimed (a schedule reset went back in time): skip it
        run_id = JobRun.select(JobRun.id).where((JobRun.job == job.name) & (JobRun.scheduled_at == scheduled)).scalar()
        return run_id, scheduled, 1

    def _run(self, job: Job, run_id: int, scheduled: dt.datetime, attempt: int) -> RunOutcome:
        self._in_hand.add(run_id)
        try:
            return self._run_and_record(job, run_id, scheduled, attempt)
        finally:
            self._in_hand.discard(run_id)

    def _run_and_record(self, job: Job, run_id: int, scheduled: dt.datetime, attempt: int) -> RunOutcome:
        from crm_core.worker.models import Job as JobRow
        from crm_core.worker.models import JobRun

        crm = self.crm
        beat = Heartbeat(crm, run_id, self.id, job.spec.lease)
        beat.start()
        result: Any = None
        error: str | None = None
        try:
            with crm.activate():
                result = job.spec.run(crm, scheduled)
        except Exception as exc:  # a job's failure is recorded, and the worker goes on
            error = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            log.error("job %s (scheduled %s) failed: %s", job.name, scheduled.isoformat(), first_line(error))
        finally:
            beat.stop()
        now = crm.clock.now()
        status_ = "failed" if error else "done"
        text = None if result is None else str(result)[:500]

        def finish() -> int:
            # the job's row first, as claims do: one lock order, no deadlock
            for_update(JobRow.select(JobRow.name).where(JobRow.name == job.name), crm.database).first()
            mine: int = (
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
        return RunOutcome(job.name, scheduled, status_, attempt, text, first_line(error) or None)

    def next_wakeup(self, busy: Sequence[str] = ()) -> dt.datetime | None:
        """The earliest time something becomes due (a next run or a lease running out).

        ``busy``: jobs this worker is running now, whose next occurrence
        waits for the run in hand (only a dead worker's run of them counts).
        """
        from peewee import fn

        from crm_core.worker.models import Job as JobRow
        from crm_core.worker.models import JobRun

        names = list(self.jobs)
        idle = [n for n in names if n not in busy]
        with self.crm.activate():
            nxt = JobRow.select(fn.MIN(JobRow.next_run_at)).where(JobRow.name.in_(idle)).scalar() if idle else None
            lease = (
                JobRun.select(fn.MIN(JobRun.lease_until))
                .where(JobRun.job.in_(names) & (JobRun.status == "running") & (JobRun.worker != self.id))
                .scalar()
            )
        times = [_aware(t) for t in (nxt, lease) if t is not None]
        return min(times) if times else None

    def run(
        self, *, once: bool = False, handle_signals: bool = True, on_outcome: Callable[[RunOutcome], None] | None = None
    ) -> list[RunOutcome]:
        """Run until :meth:`stop` (SIGTERM, Ctrl-C), or with ``once`` run what is due and return.

        The jobs in hand are always finished. Until stopped, each claimed
        occurrence runs in a thread of its own while the worker goes on
        looking for due occurrences and for runs whose worker died; between
        looks it sleeps until the next occurrence, at most ``[crm.worker]
        poll_interval`` seconds (other workers may have changed the schedule
        meanwhile). While the database is away it waits, longer and longer
        (up to :data:`MAX_RETRY_DELAY` seconds), and logs only when it goes
        away and when it comes back. ``once`` runs what is due one job after
        the other, and raises a database error instead of waiting.
        """
        restore = self._install_signals() if handle_signals else None
        done: list[RunOutcome] = []

        def report(outcome: RunOutcome) -> None:
            done.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

        try:
            if once:
                for outcome in self.run_pending():
                    report(outcome)
            else:
                self._serve(report)
        finally:
            if restore is not None:
                restore()
        return done

    def _serve(self, report: Callable[[RunOutcome], None]) -> None:
        poll = self.crm.config.core.worker.poll_interval
        health = Backoff(log, f"worker {self.id}", first=min(poll, 1.0), cap=max(MAX_RETRY_DELAY, poll))
        runs = _Runs(self)
        try:
            while not self.stopping:
                try:
                    with self.crm.activate():
                        if not self._synced:
                            self.sync()
                        self._dispatch(runs)
                        health.succeeded()
                        runs.drain(report)
                        if self.stopping:
                            break
                        self._sleep(busy=self._busy(runs))
                except Exception as exc:
                    if not is_database_outage(exc):
                        raise
                    # the database went away (a restart, a failover): wait for
                    # it instead of dying, without a log line per attempt
                    delay = health.failed(exc)
                    self._close_connection()
                    self._wake.wait(delay)
                    self._wake.clear()
                runs.drain(report)
        finally:
            runs.join()  # the jobs in hand finish, and are recorded
            runs.drain(report)

    def _dispatch(self, runs: _Runs) -> None:
        """Claim what is due and start it; a job running here only takes over a dead worker's run.

        One event lane at a time: a worker that ran every lane in threads
        of one process would leave the other workers nothing to share.
        """
        for name in self._due(busy=self._busy(runs)):
            if self.stopping:
                return
            if is_lane_job(name) and name in self._busy(runs):  # a lane started in this pass counts too
                continue
            job = self.jobs[name]
            claim = self._claim(job, takeover_only=runs.running(name))
            if claim is not None:
                runs.start(job, claim)

    def _busy(self, runs: _Runs) -> list[str]:
        """The jobs running here, and every lane's delivery job while one of them is (see :meth:`_dispatch`)."""
        busy = runs.busy()
        if any(is_lane_job(name) for name in busy):
            busy += [name for name in self.jobs if is_lane_job(name) and name not in busy]
        return busy

    def _close_connection(self) -> None:
        try:
            if not self.crm.database.is_closed():
                self.crm.database.close()
        except Exception:  # a broken connection may not even close cleanly
            pass

    def _sleep(self, busy: Sequence[str] = ()) -> None:
        """Wait until something is due (at most ``poll_interval``), :meth:`stop`, or a run here ends."""
        poll = self.crm.config.core.worker.poll_interval
        wake = self.next_wakeup(busy)
        delay = poll
        if wake is not None:
            delay = min(poll, max((wake - self.crm.clock.now()).total_seconds(), 0.0))
        # the database is not needed while asleep: give the connection back
        if not self.crm.database.in_transaction():
            self._close_connection()
        self._wake.wait(max(delay, 0.05))
        self._wake.clear()

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


class _Runs:
    """The occurrences a long-running worker is running, one thread each.

    A thread runs one claimed occurrence (its lease kept by its own
    heartbeat), hands the outcome to the loop through a queue, and wakes it
    so that the job's next occurrence, if due, is claimed at once. Each
    thread uses its own database connection and closes it when done.
    """

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._threads: dict[threading.Thread, str] = {}
        self._outcomes: queue.SimpleQueue[RunOutcome] = queue.SimpleQueue()

    def running(self, name: str) -> bool:
        return name in self.busy()

    def busy(self) -> list[str]:
        """The jobs with a run in hand (finished threads are forgotten)."""
        for thread in [t for t in self._threads if not t.is_alive()]:
            del self._threads[thread]
        return list(self._threads.values())

    def start(self, job: Job, claim: tuple[int, dt.datetime, int]) -> None:
        thread = threading.Thread(target=self._body, args=(job, claim), name=f"crm-job-{job.name}", daemon=True)
        self._threads[thread] = job.name
        thread.start()

    def _body(self, job: Job, claim: tuple[int, dt.datetime, int]) -> None:
        worker = self.worker
        try:
            self._outcomes.put(worker._run(job, *claim))
        except Exception as exc:  # recording the outcome failed: the lease runs out, and the run is taken over
            log.error(
                "job %s: the outcome of the run scheduled at %s could not be recorded: %s",
                job.name,
                claim[1].isoformat(),
                reason(exc),
            )
        finally:
            worker._close_connection()  # this thread's
            worker._wake.set()

    def drain(self, report: Callable[[RunOutcome], None]) -> None:
        """Hand the outcomes of finished runs to ``report``, in the loop's thread."""
        while True:
            try:
                outcome = self._outcomes.get_nowait()
            except queue.Empty:
                return
            report(outcome)

    def join(self) -> None:
        for thread in list(self._threads):
            thread.join()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
