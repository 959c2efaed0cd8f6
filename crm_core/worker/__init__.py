"""``crm worker``: timed jobs, each occurrence run once across every worker.

::

    from crm_core.worker import Worker
    Worker(crm).run_pending()      # what `crm worker --once` does

See ``docs/worker.md``.
"""

from crm_core.worker.registry import failed_runs
from crm_core.worker.runner import Job, RunOutcome, Worker, kernel_jobs, registered_jobs, status
from crm_core.worker.schedule import Schedule

__all__ = ["Job", "RunOutcome", "Schedule", "Worker", "failed_runs", "kernel_jobs", "registered_jobs", "status"]
