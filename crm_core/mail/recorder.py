"""Writing down, one by one, the messages a transport accepted.

A message is ``sending`` until its row says ``sent``. If the worker sends
message *k + 1* only once the ``sent`` of message *k* is committed, a worker
killed at any moment leaves at most one accepted message unrecorded: that
is the whole of the duplicate bound (see ``docs/mail.md``). The write is
:class:`SentStatement`: one UPDATE of one row by primary key, committed on
its own, run in the delivering thread before the transport is asked for
the next message. (Running it in a second thread while the transport
already sends the next message, up to the point of acceptance, measured no
faster on SQLite, PostgreSQL or MariaDB, and cost CPU.)
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import peewee

from crm_core import rows as typed_rows

if TYPE_CHECKING:
    from crm_core.context import AppContext

__all__ = ["SentStatement", "retry_deadlock"]

T = TypeVar("T")


def retry_deadlock(app: AppContext, fn: Callable[[], T], attempts: int = 5) -> T:
    """Run one autocommitted statement again when the server picked it as a deadlock victim."""
    from crm_core.jobs import is_deadlock

    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except peewee.DatabaseError as exc:
            if attempt == attempts or app.database.in_transaction() or not is_deadlock(exc):
                raise
            time.sleep(random.uniform(0.005, 0.05) * attempt)
    raise AssertionError("unreachable")


class SentStatement:
    """The UPDATE that records one accepted message: one row, by primary key, committed at once.

    It takes no other lock (so it needs not the transport's row, and can be
    in no deadlock with a claim) and costs one round trip. peewee builds it
    once per batch, with marker values in place of the message's id and
    time; each message then runs that SQL with its own values, because
    building the query costs more CPU than running it on SQLite.

    On PostgreSQL the commit does not wait for the WAL to reach the disk
    (``SET LOCAL synchronous_commit TO OFF``, for this statement only): the
    record must survive the worker's death, which it does once the server
    has it, not a crash of the database server, which would at worst forget
    the last fraction of a second of deliveries (sent again, with their
    Message-IDs). Waiting for the disk would cost milliseconds per message.
    """

    _PK = -987_654_321
    _AT = dt.datetime(1999, 12, 31, 23, 59, 58, 123_456, tzinfo=dt.UTC)

    def __init__(self, app: AppContext, transport: str, token: str) -> None:
        from crm_core.mail.models import MailMessage
        from crm_core.storage import dialect

        self.field = MailMessage.sent_at
        query = MailMessage.update(
            status="sent",
            sent_at=self._AT,
            transport=transport,
            lease_owner=None,
            lease_until=None,
            remaining=None,
            attempts=MailMessage.attempts + 1,
            last_error=None,
        ).where((MailMessage.id == self._PK) & (MailMessage.lease_owner == token))
        sql, params = query.sql()
        stamp = self.field.db_value(self._AT)
        self.params = list(params)
        pk_at = [i for i, value in enumerate(self.params) if value == self._PK]
        at_at = [i for i, value in enumerate(self.params) if value == stamp]
        if len(pk_at) != 1 or len(at_at) != 1:  # peewee changed how it renders an UPDATE
            raise RuntimeError(f"cannot locate the id and time parameters of {sql!r} in {params!r}")
        self.pk_at, self.at_at = pk_at[0], at_at[0]
        self.database = app.database
        self.sql = sql
        self.quick_sql = "SET LOCAL synchronous_commit TO OFF; " + sql if dialect(app.database) == "postgresql" else sql

    def record(self, app: AppContext, pk: int) -> None:
        """Mark message ``pk`` sent now, committed (retried if the server picks it in a deadlock)."""
        now = app.clock.now()
        retry_deadlock(app, lambda: self.run(pk, now))

    def run(self, pk: int, now: dt.datetime) -> None:
        params = list(self.params)
        params[self.pk_at] = pk
        params[self.at_at] = self.field.db_value(now)
        # inside a caller's transaction (deliver() called in crm.transaction())
        # SET LOCAL would outlive this statement: the plain UPDATE then
        sql = self.sql if self.database.in_transaction() else self.quick_sql
        typed_rows.execute(self.database, sql, params)
