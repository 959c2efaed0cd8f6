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

import datetime as dt
from typing import TYPE_CHECKING, Iterable

import peewee

from crm_core.errors import ValidationError
from crm_core.storage import Model, UTCDateTimeField, bulk_insert

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["MAX_KEY", "RunOnce", "forget", "run_once", "run_once_many"]

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


def run_once(crm: CRM, key: str) -> bool:
    """Claim ``key``; True if this call claimed it, False if it was claimed before.

    Runs in the caller's transaction (or its own): do the keyed action in
    the same transaction, so the claim and the action commit together.
    """
    _check(key)
    with crm.activate(), crm.database.atomic():
        inserted = (
            RunOnce.insert(key=key, claimed_at=crm.clock.now()).on_conflict_ignore().as_rowcount().execute()
        )
    return inserted == 1


def run_once_many(crm: CRM, keys: Iterable[str]) -> list[str]:
    """Claim many keys with set-based SQL; return those this call claimed, in order.

    Duplicates in ``keys`` count once. Same transaction rules as :func:`run_once`.
    """
    wanted = list(dict.fromkeys(_check(k) for k in keys))
    claimed: list[str] = []
    database = crm.database
    now = crm.clock.now().astimezone(dt.timezone.utc).replace(tzinfo=None)  # as the column stores it
    with crm.activate(), database.atomic():
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            while True:
                try:
                    with database.atomic():  # a savepoint: a lost race is retried, not fatal
                        taken = {k for (k,) in RunOnce.select(RunOnce.key).where(RunOnce.key.in_(chunk)).tuples()}
                        fresh = [k for k in chunk if k not in taken]
                        if fresh:
                            bulk_insert(RunOnce, ("key", "claimed_at"), ((k, now) for k in fresh), database=database)
                    break
                except peewee.IntegrityError:
                    continue  # another transaction claimed one of them meanwhile: look again
            claimed.extend(fresh)
    return claimed


def forget(crm: CRM, key: str) -> bool:
    """Release a claimed key (an operator undoing a run); True if it was claimed."""
    with crm.activate(), crm.database.atomic():
        return RunOnce.delete().where(RunOnce.key == _check(key)).execute() == 1
