"""Waiting out a database outage: exponential back-off, one log line per change of state.

A long-running worker must not die when the database restarts or fails
over, nor write a line to the log every few seconds while it is away (a
night's outage would bury everything else). :class:`Backoff` doubles the
wait after each failure up to a cap, logs when the database goes away and
when it comes back, and nothing in between.
"""

from __future__ import annotations

import logging
import time

import peewee

from crm_core.errors import CRMError

__all__ = ["Backoff", "is_database_outage", "reason"]


def is_database_outage(exc: BaseException) -> bool:
    """True for an error that says the database cannot be reached or used right now.

    A raw peewee error, or one of the kernel's errors that wraps one (the
    storage layer maps driver errors to :class:`~crm_core.errors.StorageError`
    with the original as its cause). A kernel error without such a cause (a
    pending migration, say) is not an outage: waiting would not fix it.
    """
    if isinstance(exc, (peewee.DatabaseError, peewee.InterfaceError)):
        return True
    if isinstance(exc, CRMError):
        cause = exc.__cause__ or exc.__context__
        return cause is not None and is_database_outage(cause)
    return False


def reason(exc: BaseException) -> str:
    """The first line of an error, or its type when it has no text."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Backoff:
    """The wait before the next attempt, after ``failed()`` calls in a row.

    The first wait is ``first`` seconds, each next one twice as long, at most
    ``cap``. ``failed()`` logs an error the first time only; ``succeeded()``
    logs once that it works again (with how long it did not).
    """

    def __init__(self, logger: logging.Logger, who: str, first: float, cap: float) -> None:
        if first <= 0 or cap < first:
            raise ValueError(f"back-off needs 0 < first <= cap, not first={first!r}, cap={cap!r}")
        self.log, self.who, self.first, self.cap = logger, who, first, cap
        self.failures = 0
        self._since = 0.0

    @property
    def failing(self) -> bool:
        return self.failures > 0

    def failed(self, exc: BaseException) -> float:
        """Count a failure; return how long to wait before trying again."""
        self.failures += 1
        delay: float = min(self.first * 2 ** (self.failures - 1), self.cap)
        if self.failures == 1:
            self._since = time.monotonic()
            self.log.error(
                "%s: database error (%s); trying again in %g s, then less and less often (at most every %g s) "
                "until it works",
                self.who,
                reason(exc),
                delay,
                self.cap,
            )
        else:  # the same state: no new line at the default level
            self.log.debug("%s: database still failing (%s); next try in %g s", self.who, reason(exc), delay)
        return delay

    def succeeded(self) -> None:
        """The database answered: log the recovery if it had failed."""
        if self.failures:
            self.log.warning(
                "%s: database reachable again after %d failed attempt(s) over %.0f s",
                self.who,
                self.failures,
                time.monotonic() - self._since,
            )
            self.failures = 0
