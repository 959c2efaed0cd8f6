"""The kernel's peewee databases: errors as CRMErrors, and connections that come back.

Every database an app opens (:func:`crm_core.storage.connect`) is one of the
classes at the bottom, peewee's own with :class:`KernelDatabase` mixed in.
That layer, the one every model query, transaction and plugin call passes
through, does two things:

* **Database errors become CRMErrors.** A statement, ``BEGIN``, ``COMMIT``
  or connect that fails raises an exception of the ``StorageError`` family
  (``crm_core.errors``) that is *also* the peewee exception it replaces
  (:mod:`crm_core.database_errors`): its ``IntegrityError`` is a
  ``ConstraintError`` and a ``peewee.IntegrityError``, its
  ``OperationalError`` a ``QueryError`` and a ``peewee.OperationalError``,
  and so on, so ``except peewee.IntegrityError`` keeps working while an
  embedder's ``except CRMError`` and the CLI's exit code 4 see it too. A driver error raised
  through a raw cursor (``database.cursor()``) is translated when it leaves
  ``database.atomic()``. The driver's exception stays as ``__cause__`` and
  ``.orig``.

* **A dropped connection is replaced, never retried mid-transaction.** When
  the server drops a connection (a restart, ``pg_terminate_backend``,
  MariaDB's ``wait_timeout`` or ``KILL``) the driver's connection is
  closed; the next ``BEGIN`` or read outside a transaction notices, opens a
  new connection and runs again: nothing had happened on the server, so
  the caller sees no error. A write outside a transaction is not run again
  blindly (it may have been applied before the connection broke): before
  one, an idle connection is checked (a look at the socket on PostgreSQL,
  no round trip; a ping on MySQL). Inside a transaction nothing is retried:
  the server rolled the transaction back, so the statement raises
  ``ConnectionLost`` (a ``ConnectionLostError``), and so does every
  later statement of that transaction, until it ends; the next transaction
  gets a new connection.
"""

from __future__ import annotations

import functools
import logging
import re
import select
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import peewee
from playhouse import pool

from crm_core.database_errors import (
    BY_PEEWEE,
    MY_DISK_FULL,
    MY_GONE_AWAY,
    MY_NO_TABLE,
    MY_READ_ONLY,
    PG_DISK_FULL,
    PG_NO_TABLE,
    PG_READ_ONLY,
    ConnectionLost,
    DatabaseUnavailable,
    codes,
    driver_exception,
    first_line,
    peewee_class,
)
from crm_core.errors import ConnectionLostError, CRMError

__all__ = [
    "KernelDatabase",
    "MySQLDatabase",
    "PooledMySQLDatabase",
    "PooledPostgresqlDatabase",
    "PostgresqlDatabase",
    "SqliteDatabase",
    "is_read",
]

log = logging.getLogger("crm.storage")
F = TypeVar("F", bound=Callable[..., Any])


_READ = re.compile(r"\s*\(*\s*(SELECT|SHOW|EXPLAIN|PRAGMA)\b", re.IGNORECASE)
_NOT_A_READ = re.compile(r"\bFOR\s+(UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)\b|\bINTO\b", re.IGNORECASE)
_SAVEPOINT_ROLLBACK = re.compile(r"\s*ROLLBACK\s+TO\s+SAVEPOINT\b", re.IGNORECASE)


def _throw(new: BaseException, old: BaseException) -> NoReturn:
    """Raise the translation ``new`` of ``old``, with the driver's exception as its cause."""
    if new is old:
        raise old
    raise new from driver_exception(old)


def is_read(sql: str) -> bool:
    """True for a statement that changes nothing, so that running it twice is harmless."""
    return bool(_READ.match(sql)) and not _NOT_A_READ.search(sql)


# -- the database ---------------------------------------------------------------


class KernelDatabase(peewee.Database):
    """peewee's database with the kernel's error translation and reconnects (mixed in first)."""

    #: the URL without its password, for messages (set by ``storage.connect``)
    display_url: str = ""
    #: a connection pool (``?pool=true``): a thread's ``close()`` hands its connection back
    pooled: bool = False
    #: a server connection that may be dropped, and replaced (not SQLite's)
    reconnects: bool = True

    if TYPE_CHECKING:
        # peewee's private per-thread state and connection hooks, which its stubs leave out
        _state: Any

        def _connect(self) -> Any: ...

        def _close(self, conn: Any, close_conn: bool = False) -> None: ...

    # -- what each backend knows about its driver's connection

    def _connection_closed(self, conn: Any) -> bool:
        """True when the driver has found its connection closed (after an error)."""
        return False

    def _idle_connection_dead(self, conn: Any) -> bool:
        """True when an idle connection was dropped by the server (checked before a write)."""
        return False

    def _fix_for(self, kind: str) -> str:
        return {
            "read-only": "connect to a server that accepts writes (not a read-only standby or replica) with a user allowed to write",
            "open": "check that the server runs and that the URL in [crm] database is right",
        }.get(kind, "")

    # -- state

    def _broken(self) -> bool:
        return bool(getattr(self._state, "broken", False))

    def _set_broken(self, value: bool) -> None:
        self._state.broken = value

    def _lost(self, exc: BaseException) -> bool:
        """Did ``exc`` come with (or from) the loss of this thread's connection?"""
        if isinstance(exc, ConnectionLostError):
            return True
        conn = self._state.conn
        if conn is None or isinstance(exc, CRMError):
            return False
        try:
            return self._connection_closed(conn)
        except Exception:  # noqa: BLE001 - a driver that cannot even say is not usable
            return True

    def _discard(self) -> None:
        """Forget this thread's (dead) connection; the transaction stack stays for peewee to unwind."""
        conn = self._state.conn
        self._state.conn = None
        self._state.closed = True
        if conn is None:
            return
        try:
            if isinstance(self, pool.PooledDatabase):
                self._close(conn, close_conn=True)  # out of the pool, not back into it
            else:
                self._close(conn)
        except Exception:  # noqa: BLE001 - a dropped connection often fails to close too
            log.debug("closing a dropped connection to %s failed", self.display_url, exc_info=True)

    # -- translation

    def translate(self, exc: BaseException, *, lost: bool = False, during: str = "statement") -> BaseException:
        """The kernel's exception for ``exc`` (``exc`` itself when it is not a database error).

        ``during`` says what ran: ``"statement"`` (outside a transaction),
        ``"transaction"`` or ``"commit"``; it words a lost connection's message.
        """
        if isinstance(exc, CRMError):
            return exc
        if lost:
            return self._lost_error(exc, during)
        base = peewee_class(exc)
        if base is None:
            return exc
        cls = BY_PEEWEE[base]
        reason = first_line(driver_exception(exc))
        new = cls(self._explain(exc, reason))
        new.orig = driver_exception(exc)  # as peewee's exceptions carry it
        new.reason = reason
        return new

    def _explain(self, exc: BaseException, reason: str) -> str:
        """The message: the driver's reason, and for the causes a user can fix, what to do."""
        pgcode, mycode = codes(exc)
        low = reason.lower()
        where = self.display_url or "the database"
        if pgcode in PG_READ_ONLY or mycode in MY_READ_ONLY or "readonly database" in low:
            return f"the database {where} is read-only ({reason}); {self._fix_for('read-only')}"
        if "unable to open database file" in low and self.database != ":memory:":
            # SQLite, mid-run: its folder no longer lets it create the -wal/-journal file
            return f"the database {where} cannot be written ({reason}); {self._fix_for('read-only')}"
        if pgcode in PG_DISK_FULL or mycode in MY_DISK_FULL or "disk is full" in low:
            return f"{reason}: the disk holding {where} is full; free some space and run it again"
        if "database is locked" in low:
            return f"{reason}: another process kept {where} locked for too long; run it again once it has finished"
        if pgcode in PG_NO_TABLE or mycode in MY_NO_TABLE or "no such table" in low:
            return f"{reason}; a plugin's tables are made by its migrations: run 'crm migrate'"
        return reason

    def _lost_error(self, exc: BaseException | None, during: str) -> ConnectionLost:
        where = self.display_url or "the database"
        why = f" ({first_line(driver_exception(exc))})" if exc is not None else ""
        if during == "commit":
            text = (
                f"the connection to {where} was lost while committing{why}; the server may or may not have "
                "saved the transaction: check before running it again (the next transaction opens a new connection)"
            )
        elif during == "transaction":
            text = (
                f"the connection to {where} was lost in the middle of a transaction{why}; the server rolled "
                "the transaction back, so none of its changes were saved: run it again (the next transaction "
                "opens a new connection)"
            )
        else:
            text = (
                f"the connection to {where} was lost while a statement ran outside a transaction{why}; it may "
                "or may not have been applied: check before running it again (the next call opens a new connection)"
            )
        new = ConnectionLost(text)
        if exc is not None:
            new.orig = driver_exception(exc)
        return new

    def _fail(self, exc: BaseException, during: str) -> BaseException:
        """Translate a failure of this thread's connection, forgetting the connection if it died."""
        lost = self._lost(exc)
        if lost:
            self._discard()
            if during == "transaction":
                self._set_broken(True)
        return self.translate(exc, lost=lost, during=during)

    # -- peewee's entry points

    def connect(self, reuse_if_open: bool = False) -> bool:
        self._set_broken(False)
        try:
            return super().connect(reuse_if_open)
        except pool.MaxConnectionsExceeded as exc:
            raise DatabaseUnavailable(
                f"cannot open a connection to {self.display_url}: every connection of its pool is in use "
                f"({exc}); raise pool_max_connections in the URL, or pool_timeout to wait longer"
            ) from exc
        except peewee.PeeweeException as exc:
            if not hasattr(exc, "orig"):  # peewee's own refusal ("Connection already opened"), not the server's
                raise
            reason = first_line(exc.orig)
            error = DatabaseUnavailable(
                f"cannot open the database {self.display_url}: {reason}; {self._fix_for('open')}"
            )
            error.orig = exc.orig
            # one line with the reason: the driver's traceback adds nothing for the user (``.orig`` keeps it)
            raise error from None

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        if self._broken() and self.in_transaction():
            raise self._lost_error(None, "transaction")
        # Database.cursor is not annotated in peewee
        open_cursor: Callable[..., Any] = super().cursor
        return open_cursor(*args, **kwargs)

    def _execute(self, sql: str, params: Any) -> Any:
        """peewee's own ``execute_sql`` (not annotated in peewee: typed here, once)."""
        run: Callable[[str, Any], Any] = super().execute_sql
        return run(sql, params)

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        if not self.reconnects:  # SQLite: no connection to lose, only errors to translate
            try:
                return self._execute(sql, params)
            except Exception as exc:
                _throw(self.translate(exc), exc)
        if self.in_transaction():
            if self._broken():
                if _SAVEPOINT_ROLLBACK.match(sql):
                    return None  # the server already undid everything: let the original error through
                raise self._lost_error(None, "transaction")
            try:
                return self._execute(sql, params)
            except Exception as exc:
                _throw(self._fail(exc, "transaction"), exc)
        if not _READ.match(sql):  # the full is_read() only on failure: this runs for every statement
            self._check_idle()
        try:
            return self._execute(sql, params)
        except Exception as exc:
            if not (self._lost(exc) and (is_read(sql) or self._never_sent(exc))):
                _throw(self._fail(exc, "statement"), exc)
            self._discard()
            log.info(
                "the connection to %s was dropped (%s); running the statement again on a new one",
                self.display_url,
                first_line(exc),
            )
        try:
            return self._execute(sql, params)
        except Exception as exc:
            _throw(self._fail(exc, "statement"), exc)

    def execute_read(self, name: str, sql: str, params: Sequence[Any]) -> Any:
        """Run ``sql``, a read whose text never changes (:class:`crm_core.statements.Statement`), named ``name``.

        Here as :meth:`execute_sql`; PostgreSQL prepares it on the server once per connection (see
        :meth:`_PostgresqlMixin.execute_read`).
        """
        return self.execute_sql(sql, params)

    def announced(self, channel: str) -> bool | None:
        """Whether a change was announced on ``channel`` since this thread's connection last looked.

        ``None`` where the database cannot tell (it sends no notices: SQLite
        and MariaDB; or inside a transaction); ``True`` also when it cannot
        be sure nothing was announced (a connection new to the channel). A
        caller that keeps what it read between requests keeps it only while
        this answers ``False`` (:meth:`_PostgresqlMixin.announced`).
        """
        return None

    def begin(self, *args: Any, **kwargs: Any) -> None:
        if self.in_transaction():  # txn.commit()/rollback() beginning again inside an atomic block
            if self._broken():
                raise self._lost_error(None, "transaction")
            try:
                return super().begin(*args, **kwargs)
            except Exception as exc:
                _throw(self._fail(exc, "transaction"), exc)
        self._set_broken(False)
        try:
            return super().begin(*args, **kwargs)
        except Exception as exc:
            if not self._lost(exc):
                _throw(self._fail(exc, "statement"), exc)
            # nothing of the transaction has run yet: a new connection, and BEGIN again
            self._discard()
            log.info("the connection to %s was dropped (%s); opening a new one", self.display_url, first_line(exc))
        try:
            return super().begin(*args, **kwargs)
        except Exception as exc:
            _throw(self._fail(exc, "transaction"), exc)

    def commit(self) -> None:
        if self._broken():
            raise self._lost_error(None, "transaction")
        try:
            return super().commit()
        except Exception as exc:
            lost = self._lost(exc)
            if lost:
                self._discard()
                self._set_broken(True)  # so that peewee's rollback after this is a no-op
            _throw(self.translate(exc, lost=lost, during="commit"), exc)

    def rollback(self) -> None:
        if self._broken():
            if not self.in_transaction():
                self._set_broken(False)  # the transaction is over; the next one reconnects
            return
        try:
            return super().rollback()
        except Exception as exc:
            if self._lost(exc):
                # the server rolled back when the connection died; the error in hand says why
                log.debug("rollback on a dropped connection to %s", self.display_url, exc_info=True)
                self._discard()
                return
            _throw(self.translate(exc), exc)

    def close(self) -> bool:
        if not self.in_transaction():  # inside one, peewee refuses to close: the broken mark must stay
            self._set_broken(False)
        try:
            return super().close()
        except Exception as exc:
            if isinstance(exc, peewee.PeeweeException) and not hasattr(exc, "orig"):
                raise  # "Attempting to close database while transaction is open": a caller's bug
            # the driver failed to close a connection the server had dropped: it is gone all the same
            log.debug("closing the connection to %s failed", self.display_url, exc_info=True)
            return True

    # not a peewee _atomic but a wrapper around one, used the same way (with, or as a decorator)
    def atomic(self, *args: Any, **kwargs: Any) -> _Atomic:  # type: ignore[override]
        return _Atomic(self, super().atomic(*args, **kwargs), args, kwargs)

    # -- reconnect helpers

    def _never_sent(self, exc: BaseException) -> bool:
        """True when the driver knew the connection was closed before sending the statement."""
        if isinstance(exc, peewee.InterfaceError):
            return True
        return codes(exc)[1] == MY_GONE_AWAY

    def _check_idle(self) -> None:
        conn = self._state.conn
        if conn is None or self._state.closed:
            return
        try:
            dead = self._idle_connection_dead(conn)
        except Exception:  # noqa: BLE001
            dead = True
        if dead:
            log.info("the connection to %s was dropped while idle; opening a new one", self.display_url)
            self._discard()


class _Atomic:
    """``database.atomic()`` that also translates driver errors raised through raw cursors."""

    def __init__(self, db: KernelDatabase, inner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.db = db
        self.inner = inner
        self._args = (args, kwargs)

    def __enter__(self) -> Any:
        return self.inner.__enter__()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        raw = exc is not None and not isinstance(exc, CRMError) and peewee_class(exc) is not None
        lost = raw and exc is not None and self.db._lost(exc)
        if lost:
            self.db._discard()
            self.db._set_broken(True)
        result = self.inner.__exit__(exc_type, exc, tb)
        if raw and exc is not None:
            _throw(self.db.translate(exc, lost=lost, during="transaction"), exc)
        return result

    def __call__(self, fn: F) -> F:
        args, kwargs = self._args

        @functools.wraps(fn)
        def inner(*a: Any, **kw: Any) -> Any:
            with self.db.atomic(*args, **kwargs):
                return fn(*a, **kw)

        return inner  # type: ignore[return-value]


# -- the backends ---------------------------------------------------------------


class _SqliteMixin(KernelDatabase):
    reconnects = False
    #: the URL's ``mode`` (``ro``, ``rw``, ``rwc``): the file is opened through a SQLite URI
    sqlite_mode: str | None = None

    if TYPE_CHECKING:
        # peewee.SqliteDatabase's own, which its stubs leave out
        _timeout: float

        def _add_conn_hooks(self, conn: Any) -> None: ...

    def _connect(self) -> Any:
        if not self.sqlite_mode or self.database == ":memory:":
            return super()._connect()
        import sqlite3
        from urllib.parse import quote

        # the path stays in .database (callers read it as a path); only the connection uses the URI
        uri = f"file:{quote(str(Path(self.database).absolute()))}?mode={self.sqlite_mode}"
        conn = sqlite3.connect(uri, timeout=self._timeout, isolation_level=None, uri=True, **self.connect_params)
        try:
            self._add_conn_hooks(conn)  # peewee's pragmas and functions, as its own _connect does
        except Exception:
            conn.close()
            raise
        return conn

    def _fix_for(self, kind: str) -> str:
        if kind == "read-only" and self.database != ":memory:":
            file = Path(self.database)
            return (
                f"check that the user running the CRM may write the file {file} and its folder "
                f"{file.parent} (SQLite writes {file.name}-wal and {file.name}-shm next to it), "
                "and that the URL does not say mode=ro"
            )
        if kind == "open":
            return "check that its folder exists and is writable, and that the URL in [crm] database is right"
        return super()._fix_for(kind)


#: a bound parameter in the text psycopg is given (``%%`` is a literal percent sign)
_PARAMETER = re.compile(r"%%|%s")


class _PostgresqlMixin(KernelDatabase):
    #: hot reads run as prepared statements (the URL's ``prepare=false`` turns it off: PgBouncer in
    #: transaction mode hands a session's statements to connections that never prepared them)
    prepares: bool = True
    #: each connection's prepared statements (by name); a connection that is gone takes its set with it
    _prepared: weakref.WeakKeyDictionary[Any, set[str]]
    _prepared_lock: threading.Lock
    #: a statement's text -> (``PREPARE … AS …; EXECUTE …(…)``, ``EXECUTE …(…)``)
    _prepared_texts: dict[str, tuple[str, str]]
    #: each connection's ``LISTEN`` channels (see :meth:`announced`)
    _listening: weakref.WeakKeyDictionary[Any, set[str]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepared = weakref.WeakKeyDictionary()
        self._prepared_lock = threading.Lock()
        self._prepared_texts = {}
        self._listening = weakref.WeakKeyDictionary()

    def execute_read(self, name: str, sql: str, params: Sequence[Any]) -> Any:
        """Run a hot read as a prepared statement: parsed and planned by the server once per connection.

        Planning is most of PostgreSQL's work on the short reads every
        request makes (an API token with its user; a contact with its
        e-mails, phones and tags): a prepared statement's plan is kept for
        the connection, and later calls send ``EXECUTE name(values)``. The
        first call on a connection sends ``PREPARE`` with it, in the same
        round trip. A connection is known by its driver object, so a
        replaced (reconnected) or pooled one prepares what it lacks.
        Errors and reconnects are those of :meth:`execute_sql`: outside a
        transaction a dropped connection is replaced and the read runs
        again, preparing on the new one.
        """
        if not self.prepares:
            return self.execute_sql(sql, params)
        texts = self._prepared_texts.get(sql)
        if texts is None:
            texts = self._prepared_texts[sql] = _prepared_texts(name, sql, len(params))
        if self.in_transaction():
            if self._broken():
                raise self._lost_error(None, "transaction")
            try:
                return self._execute_prepared(name, texts, params)
            except Exception as exc:
                _throw(self._fail(exc, "transaction"), exc)
        try:
            return self._execute_prepared(name, texts, params)
        except Exception as exc:
            if not self._lost(exc):
                _throw(self._fail(exc, "statement"), exc)
            self._discard()
            log.info(
                "the connection to %s was dropped (%s); running the statement again on a new one",
                self.display_url,
                first_line(exc),
            )
        try:
            return self._execute_prepared(name, texts, params)
        except Exception as exc:
            _throw(self._fail(exc, "statement"), exc)

    def announced(self, channel: str) -> bool | None:
        """PostgreSQL's ``LISTEN``/``NOTIFY``: a notice on ``channel`` since this connection last looked.

        The first look on a connection sends ``LISTEN`` (one round trip) and
        answers ``True``: what was announced before it is unknown. Later
        looks send nothing: the driver reads the notices the server has
        already pushed to the connection's socket (``poll``), a few
        microseconds. Notices of other channels are left for their readers.
        ``None`` inside a transaction (notices arrive between transactions)
        and with ``prepare=false`` (PgBouncer's transaction mode keeps no
        session's ``LISTEN``).
        """
        if not self.prepares or self.in_transaction():
            return None
        connection: Callable[[], Any] = self.connection
        conn = connection()
        with self._prepared_lock:
            channels = self._listening.get(conn)
            if channels is None:
                channels = self._listening[conn] = set()
        if channel not in channels:
            self.execute_sql(f'LISTEN "{channel}"')
            channels.add(channel)
            return True
        try:
            # anything but notices (the end of a session the server dropped, after which no notice can
            # come) and this connection cannot vouch that nothing was announced
            sound = _read_notices(conn)
        except Exception:  # noqa: BLE001 - a connection that cannot be read cannot vouch for anything
            log.debug("reading notices from %s failed", self.display_url, exc_info=True)
            return True
        return _take_notices(conn, channel) or not sound

    def _execute_prepared(self, name: str, texts: tuple[str, str], params: Sequence[Any]) -> Any:
        connection: Callable[[], Any] = self.connection  # not annotated in peewee
        conn = connection()
        with self._prepared_lock:
            done = self._prepared.get(conn)
            if done is None:
                done = self._prepared[conn] = set()
        if name in done:
            return self._execute(texts[1], params)
        cursor = self._execute(texts[0], params)
        done.add(name)
        return cursor

    def _connection_closed(self, conn: Any) -> bool:
        return bool(conn.closed) or bool(getattr(conn, "broken", False))

    def _idle_connection_dead(self, conn: Any) -> bool:
        if conn.closed:
            return True
        # An idle connection has nothing to read: the server sends nothing
        # unasked except notices of a channel it listens on (announced())
        # and the end of the session (a FATAL message, then EOF). Reading
        # what is there keeps the notices for their reader and finds the end.
        return not _read_notices(conn)


class _MySQLMixin(KernelDatabase):
    def _connection_closed(self, conn: Any) -> bool:
        return not conn.open

    def _idle_connection_dead(self, conn: Any) -> bool:
        # PyMySQL offers no socket to look at: one round trip, before writes
        # outside a transaction only (BEGIN and reads are retried instead)
        try:
            conn.ping(reconnect=False)
        except Exception:  # noqa: BLE001 - any failure means the connection is unusable
            return True
        return False


def _prepared_texts(name: str, sql: str, count: int) -> tuple[str, str]:
    """``PREPARE name AS sql; EXECUTE name(%s, …)`` and ``EXECUTE name(%s, …)`` for a text with ``count``
    parameters (psycopg's ``%s``, which become ``$1``, ``$2``… in the prepared text; ``%%`` stays, as the
    driver turns it into ``%`` in the whole text it sends)."""
    numbers = iter(range(1, count + 1))
    body = _PARAMETER.sub(lambda m: m.group() if m.group() == "%%" else f"${next(numbers)}", sql)
    if next(numbers, None) is not None:
        raise ValueError(f"statement {name!r}: {count} parameters given for fewer placeholders in its text")
    execute = f"EXECUTE {name}" + (f"({', '.join(['%s'] * count)})" if count else "")
    return f"PREPARE {name} AS {body}; {execute}", execute


def _read_notices(conn: Any) -> bool:
    """Read what the server pushed to an idle psycopg2 connection; ``False`` unless it was only notices.

    Anything else is the end of the session (the server's FATAL message,
    which ``poll`` reads without a word, then the end of the stream).
    """
    if not _readable(conn.fileno()):
        return True
    before = len(conn.notifies)
    conn.poll()
    return not conn.closed and len(conn.notifies) > before and not _readable(conn.fileno())


def _take_notices(conn: Any, channel: str) -> bool:
    """Remove ``channel``'s notices from a psycopg2 connection's list; whether there were any."""
    notices = conn.notifies
    if not notices:
        return False
    mine = [n for n in notices if n.channel == channel]
    if mine:
        notices[:] = [n for n in notices if n.channel != channel]
    return bool(mine)


def _readable(fd: int) -> bool:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    ready, _, _ = select.select([fd], [], [], 0)
    return bool(ready)


class SqliteDatabase(_SqliteMixin, peewee.SqliteDatabase):
    """SQLite, as the kernel opens it."""


class PostgresqlDatabase(_PostgresqlMixin, peewee.PostgresqlDatabase):
    """PostgreSQL, as the kernel opens it."""


class MySQLDatabase(_MySQLMixin, peewee.MySQLDatabase):
    """MySQL or MariaDB, as the kernel opens it."""


class PooledPostgresqlDatabase(_PostgresqlMixin, pool.PooledPostgresqlDatabase):  # type: ignore[misc]
    """PostgreSQL with a connection pool (``?pool=true``)."""

    pooled = True


class PooledMySQLDatabase(_MySQLMixin, pool.PooledMySQLDatabase):  # type: ignore[misc]
    """MySQL or MariaDB with a connection pool (``?pool=true``)."""

    pooled = True
