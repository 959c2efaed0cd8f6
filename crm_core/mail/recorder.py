"""Writing down, one by one, the messages a transport accepted.

A message is ``sending`` until its row says ``sent``. If the worker sends
message *k + 1* only once the ``sent`` of message *k* is committed, a worker
killed at any moment leaves at most one accepted message unrecorded: that
is the whole of the duplicate bound (see ``docs/mail.md``).

The write is :class:`SentStatement`: one UPDATE of one row by primary key,
committed on its own. :class:`Recorder` runs those writes either in the
delivering thread, before the transport is asked for the next message, or
(when the transport's ``send_each`` takes ``before_accept``) in a thread of
its own while the transport already sends the next message up to the point
where the server would accept it, and waits there. The second way hides the
commit's round trip behind the SMTP dialogue; both keep the bound.
"""

from __future__ import annotations

import datetime as dt
import inspect
import random
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import peewee

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["Recorder", "SentStatement", "retry_deadlock", "takes_before_accept"]

T = TypeVar("T")


def retry_deadlock(app: CRM, fn: Callable[[], T], attempts: int = 5) -> T:
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


def takes_before_accept(send_each: Callable[..., Any]) -> bool:
    """Whether a transport's ``send_each`` takes the ``before_accept`` keyword."""
    try:
        return "before_accept" in inspect.signature(send_each).parameters
    except (TypeError, ValueError):  # a callable without a signature
        return False


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
    _AT = dt.datetime(1999, 12, 31, 23, 59, 58, 123_456, tzinfo=dt.timezone.utc)

    def __init__(self, app: CRM, transport: str, token: str) -> None:
        from crm_core.mail.models import MailMessage
        from crm_core.storage import dialect

        self.field = MailMessage.sent_at
        query = MailMessage.update(
            status="sent", sent_at=self._AT, transport=transport, lease_owner=None, lease_until=None, remaining=None,
            attempts=MailMessage.attempts + 1, last_error=None,
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

    def run(self, pk: int, now: dt.datetime) -> None:
        params = list(self.params)
        params[self.pk_at] = pk
        params[self.at_at] = self.field.db_value(now)
        # inside a caller's transaction (deliver() called in crm.transaction())
        # SET LOCAL would outlive this statement: the plain UPDATE then
        sql = self.sql if self.database.in_transaction() else self.quick_sql
        self.database.execute_sql(sql, params)


class Recorder:
    """Records accepted messages of one batch, in order, one commit each.

    ``submit(pk)`` records message ``pk`` (at once, or handed to the
    recording thread); ``wait()`` returns when everything submitted is
    committed, and raises the recording's error if one failed; ``close()``
    waits, stops the thread and closes its database connection.
    """

    def __init__(self, app: CRM, transport: str, token: str, *, threaded: bool) -> None:
        self.app = app
        self.statement = SentStatement(app, transport, token)
        # the rows were claimed in the caller's transaction if there is one:
        # another connection would wait for it forever
        self.threaded = threaded and not app.database.in_transaction()
        self._todo: deque[tuple[int, dt.datetime] | None] = deque()
        self._pending = 0
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, pk: int) -> None:
        now = self.app.clock.now()
        if not self.threaded:
            retry_deadlock(self.app, lambda: self.statement.run(pk, now))
            return
        with self._changed:
            if self._error is not None:
                raise self._error
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="crm-mail-recorder", daemon=True)
                self._thread.start()
            self._pending += 1
            self._todo.append((pk, now))
            self._changed.notify_all()

    def wait(self) -> None:
        """Return when every submitted message is written down (the transport's ``before_accept``)."""
        if not self.threaded:
            return
        with self._changed:
            while self._pending and self._error is None:
                self._changed.wait()
            if self._error is not None:
                raise self._error

    def close(self) -> None:
        """Wait for the last record, and end the thread; raises a recording's error."""
        if self._thread is None:
            return
        try:
            self.wait()
        finally:
            with self._changed:
                self._todo.append(None)
                self._changed.notify_all()
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        app = self.app
        try:
            while True:
                with self._changed:
                    while not self._todo:
                        self._changed.wait()
                    item = self._todo.popleft()
                if item is None:
                    return
                pk, now = item
                try:
                    retry_deadlock(app, lambda: self.statement.run(pk, now))
                except BaseException as exc:  # handed to the delivering thread at its next wait()
                    with self._changed:
                        self._error = exc
                        self._pending -= 1
                        self._changed.notify_all()
                    return
                with self._changed:
                    self._pending -= 1
                    self._changed.notify_all()
        finally:
            try:
                if not app.database.is_closed():
                    app.database.close()  # this thread's connection
            except Exception:  # a broken connection may not even close cleanly
                pass
