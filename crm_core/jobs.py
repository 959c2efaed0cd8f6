"""Run a keyed action exactly once, across any number of workers and processes.

A reminder, a recurring occurrence, a scheduled send: each has a key (say
``"tasks.reminder:42:2026-03-01"``). :func:`run_once` claims the key in the
``crm_run_once`` table *in the caller's transaction*::

    with crm.transaction():
        if run_once(crm, f"tasks.reminder:{task.id}:{due}"):
            crm.mail.queue(...)          # committed together with the claim

If the transaction rolls back, so does the claim, and the action can run
again later; once it commits, every other claim of the key returns False.
On PostgreSQL and MariaDB a concurrent claim of the same key waits for the
first transaction to finish; SQLite serialises writers anyway.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

import peewee

from crm_core import rows as typed_rows
from crm_core.errors import ValidationError
from crm_core.storage import Model, UTCDateTimeField, batched, bulk_insert

if TYPE_CHECKING:
    from crm_core.context import AppContext

T = TypeVar("T")

__all__ = ["MAX_KEY", "RunOnce", "forget", "is_deadlock", "run_once", "run_once_many", "transaction_retry"]

#: the longest key (a primary key on every backend, utf8mb4 included)
MAX_KEY = 190
#: keys looked up (and inserted) per statement in run_once_many
_CHUNK = 500


class RunOnce(Model):
    """A claimed key."""

    key = peewee.CharField(max_length=MAX_KEY, primary_key=True)
    claimed_at = UTCDateTimeField()

    class Meta:
        table_name = "crm_run_once"


def _check(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise ValidationError(f"a run-once key must be a non-empty string, not {key!r}")
    if len(key) > MAX_KEY:
        raise ValidationError(
            f"run-once key {key[:40]!r}… is {len(key)} characters; keep it under {MAX_KEY + 1} "
            "(hash the variable part, e.g. with hashlib.sha256)"
        )
    return key


def run_once(crm: AppContext, key: str) -> bool:
    """Claim ``key``; True if this call claimed it, False if it was claimed before.

    Runs in the caller's transaction (or its own): do the keyed action in
    the same transaction, so the claim and the action commit together.
    """
    _check(key)
    with crm.activate(), crm.database.atomic():
        inserted: int = RunOnce.insert(key=key, claimed_at=crm.clock.now()).on_conflict_ignore().as_rowcount().execute()
    return inserted == 1


def run_once_many(crm: AppContext, keys: Iterable[str]) -> list[str]:
    """Claim many keys with set-based SQL; return those this call claimed, in order.

    Duplicates in ``keys`` count once. Same transaction rules as :func:`run_once`.
    """
    wanted = list(dict.fromkeys(_check(k) for k in keys))
    claimed: list[str] = []
    database = crm.database
    now = crm.clock.now()  # bulk_insert stores it as naive UTC
    with crm.activate(), database.atomic():
        for chunk in batched(wanted, _CHUNK):
            while True:
                try:
                    with database.atomic():  # a savepoint: a lost race is retried, not fatal
                        taken = {
                            k for (k,) in typed_rows.tuples(RunOnce.select(RunOnce.key).where(RunOnce.key.in_(chunk)))
                        }
                        fresh = [k for k in chunk if k not in taken]
                        if fresh:
                            bulk_insert(RunOnce, ("key", "claimed_at"), ((k, now) for k in fresh), database=database)
                    break
                except peewee.IntegrityError:
                    continue  # another transaction claimed one of them meanwhile: look again
            claimed.extend(fresh)
    return claimed


def forget(crm: AppContext, key: str) -> bool:
    """Release a claimed key (an operator undoing a run); True if it was claimed."""
    with crm.activate(), crm.database.atomic():
        deleted: int = RunOnce.delete().where(RunOnce.key == _check(key)).execute()
        return deleted == 1


def is_deadlock(exc: BaseException) -> bool:
    """True for a deadlock or serialization failure the server asks us to retry."""
    for candidate in (exc, *(a for a in exc.args if isinstance(a, BaseException)), exc.__cause__, exc.__context__):
        if candidate is None:
            continue
        if getattr(candidate, "pgcode", None) in ("40P01", "40001"):  # deadlock_detected, serialization_failure
            return True
        args = getattr(candidate, "args", ())
        if args and isinstance(args[0], int) and args[0] in (1213, 1205):  # MySQL deadlock, lock wait timeout
            return True
    return False


def transaction_retry(crm: AppContext, fn: Callable[[], T], attempts: int = 5) -> T:
    """Run ``fn`` in a transaction; if the server reports a deadlock, roll back and run it again.

    PostgreSQL and MariaDB may pick a transaction to fail when two workers
    lock rows in an order that crosses; the right answer is to try again.
    Inside a caller's transaction there is nothing safe to retry, so ``fn``
    then runs once (in a savepoint).
    """
    database = crm.database
    nested = database.in_transaction()
    for attempt in range(1, attempts + 1):
        try:
            with crm.activate(), database.atomic():
                return fn()
        except peewee.DatabaseError as exc:
            if nested or attempt == attempts or not is_deadlock(exc):
                raise
            time.sleep(random.uniform(0.005, 0.05) * attempt)  # let the other transaction finish
    raise AssertionError("unreachable")
