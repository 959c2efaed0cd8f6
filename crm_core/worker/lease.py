"""The lease heartbeat: keeps a running occurrence's claim alive while its job runs."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import TYPE_CHECKING

from crm_core.worker.backoff import is_database_outage, reason

if TYPE_CHECKING:
    from crm_core.context import AppContext

__all__ = ["Heartbeat"]

log = logging.getLogger("crm.worker")


class Heartbeat:
    """Extends a running occurrence's lease every third of the lease, in a thread.

    The thread has its own database connection (peewee connections are per
    thread), so a job that holds a long transaction, or none, does not stop
    the beats. A failed beat (the database away for a moment) is logged once
    and tried again at the next beat: the lease only runs out if the
    database stays away for a whole lease.
    """

    def __init__(self, crm: AppContext, run_id: int, worker: str, lease: dt.timedelta) -> None:
        self.crm, self.run_id, self.worker, self.lease = crm, run_id, worker, lease
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        every = max(self.lease.total_seconds() / 3, 0.5)
        self._thread = threading.Thread(target=self._loop, args=(every,), name=f"crm-lease-{self.run_id}", daemon=True)
        self._thread.start()

    def _loop(self, every: float) -> None:
        from crm_core.worker.models import JobRun

        failing = False
        try:
            while not self._done.wait(every):
                try:
                    with self.crm.activate(), self.crm.database.atomic():
                        JobRun.update(lease_until=self.crm.clock.now() + self.lease).where(
                            (JobRun.id == self.run_id) & (JobRun.worker == self.worker) & (JobRun.status == "running")
                        ).execute()
                except Exception as exc:
                    if not is_database_outage(exc):
                        raise
                    if not failing:
                        log.error(
                            "lease heartbeat of run %s failed (%s); trying again at the next beat",
                            self.run_id,
                            reason(exc),
                        )
                    failing = True
                    self._close()
                    continue
                if failing:
                    log.warning("lease heartbeat of run %s works again", self.run_id)
                    failing = False
        except Exception as exc:  # the lease then simply runs out; say why
            log.error("lease heartbeat of run %s stopped: %s", self.run_id, exc)
        finally:
            self._close()  # this thread's connection

    def _close(self) -> None:
        try:
            if not self.crm.database.is_closed():
                self.crm.database.close()
        except Exception:  # a broken connection may not even close cleanly
            pass

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
