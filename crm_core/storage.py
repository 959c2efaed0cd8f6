"""The storage layer: database URLs, the per-app database routing, bulk writes.

Plugins declare their models on :class:`Model`, whose database is
:data:`db`: a proxy that sends each query to the database of the *active*
app. An app is active inside ``with crm.activate():`` (and inside
``crm.transaction()``); when exactly one app is open in the process it is
active everywhere, so single-app code never has to say so. With several apps
open and none active, a query is refused with :class:`AppContextError`
instead of reaching the wrong database.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import itertools
import math
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import peewee

from crm_core import rows as typed_rows
from crm_core.database_url import describe_url, mysql_driver_options, parse_url
from crm_core.errors import AppContextError, StorageError

if TYPE_CHECKING:
    from crm_core.context import AppContext

__all__ = [
    "Model",
    "UTCDateTimeField",
    "atomic_block",
    "batched",
    "bulk_insert",
    "check_writable",
    "close_database",
    "connect",
    "copy_text",
    "current_app",
    "db",
    "describe_url",
    "dialect",
    "for_update",
    "insert_returning",
    "page_cache",
]

#: SQLite waits this long (ms) for another writer before giving up
SQLITE_BUSY_TIMEOUT_MS = 30_000

_active: contextvars.ContextVar[AppContext | None] = contextvars.ContextVar("crm_active_app", default=None)
_open_apps: weakref.WeakSet[AppContext] = weakref.WeakSet()
_open_lock = threading.Lock()


def register_open(app: AppContext) -> None:
    with _open_lock:
        _open_apps.add(app)


def unregister_open(app: AppContext) -> None:
    with _open_lock:
        _open_apps.discard(app)


def current_app() -> Any:
    """The app whose database a model query goes to (a :class:`crm_core.CRM`).

    Typed ``Any`` because storage sits below the app and does not import it;
    the kernel itself relies only on its :class:`~crm_core.context.AppContext`
    part.
    """
    return _current()


def _current() -> AppContext:
    app = _active.get()
    if app is not None:
        if app.closed:
            raise AppContextError("the active CRM app is closed; build a new one (or activate an open app)")
        return app
    with _open_lock:
        apps = list(_open_apps)
    if len(apps) == 1:
        return apps[0]
    if not apps:
        raise AppContextError(
            "no CRM app is open: create one with CRM(...) or CRM.from_config(...) before using models"
        )
    raise AppContextError(
        f"{len(apps)} CRM apps are open in this process, so a model query cannot tell which "
        "database to use; wrap it in 'with crm.activate():' (or crm.transaction())"
    )


_A = TypeVar("_A", bound="AppContext")


@contextlib.contextmanager
def activate(app: _A) -> Iterator[_A]:
    """Route model queries in the block to ``app``'s database (what ``crm.activate()`` does)."""
    token = _active.set(app)
    try:
        yield app
    finally:
        _active.reset(token)


class _AppDatabase(peewee.DatabaseProxy):
    """A peewee database proxy whose target is the active app's database."""

    __slots__ = ()

    def __init__(self) -> None:
        object.__setattr__(self, "_callbacks", [])

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr == "obj":
            raise TypeError("crm_core.storage.db follows the active app; it cannot be pointed elsewhere")
        object.__setattr__(self, attr, value)

    @property
    def obj(self) -> peewee.Database | None:
        try:
            return _current().database
        except AppContextError:
            # a model class being defined: peewee only asks whether the proxy is bound yet, and no query
            # runs; a module of models first imported while several apps are open must not fail there
            if _defining.get():
                return None
            raise

    def initialize(self, obj: Any) -> None:
        raise TypeError("crm_core.storage.db follows the active app; it cannot be initialised by hand")


#: The database every plugin model uses: the active app's.
db = _AppDatabase()


#: set while a model class is being defined (see _AppDatabase.obj)
_defining: contextvars.ContextVar[bool] = contextvars.ContextVar("crm_defining_model", default=False)


class _ModelBase(peewee.ModelBase):
    """peewee's metaclass, telling the database proxy that a class is being defined, not queried."""

    def __new__(cls, name: str, bases: tuple[type, ...], attrs: dict[str, Any], **kwargs: Any) -> Any:
        token = _defining.set(True)
        try:
            return super().__new__(cls, name, bases, attrs, **kwargs)  # type: ignore[no-untyped-call]
        finally:
            _defining.reset(token)


class Model(peewee.Model, metaclass=_ModelBase):
    """Base class for every model of the kernel and the plugins.

    Give each model an explicit ``table_name`` starting with your plugin's
    name and an underscore (``contacts_person``).
    """

    class Meta:
        database = db
        legacy_table_names = False


def dialect(database: peewee.Database) -> str:
    """``"sqlite"``, ``"postgresql"`` or ``"mysql"``."""
    if isinstance(database, _AppDatabase):
        database = _current().database
    if isinstance(database, peewee.SqliteDatabase):
        return "sqlite"
    if isinstance(database, peewee.PostgresqlDatabase):
        return "postgresql"
    if isinstance(database, peewee.MySQLDatabase):
        return "mysql"
    raise StorageError(f"unsupported database class {type(database).__name__}")


_Q = TypeVar("_Q", bound=peewee.Select)


def for_update(query: _Q, database: peewee.Database) -> _Q:
    """``SELECT … FOR UPDATE`` where the database has row locks.

    SQLite has none and needs none: write transactions begin IMMEDIATE,
    which already serialises writers.
    """
    return query if dialect(database) == "sqlite" else query.for_update()


def connect(url: str, base_dir: Path | None = None) -> peewee.Database:
    """Make (but do not open) the database named by ``url``.

    ``sqlite:///relative.db`` is relative to ``base_dir``;
    ``sqlite:////abs/path.db`` and ``sqlite:///:memory:`` work as usual; a
    bare path is taken as a SQLite file. SQLite gets WAL, foreign keys, a
    busy timeout, and write transactions that begin IMMEDIATE, so two writer
    processes wait for each other instead of failing with "database is
    locked". The URL's options (``?sslmode=require``, ``?pool=true``…) go
    to the driver; an unknown one is a :class:`StorageError` (see
    :mod:`crm_core.database_url`). The database is one of
    :mod:`crm_core.database`'s classes: its errors are CRMErrors and its
    dropped connections are replaced.
    """
    from crm_core import database as kernel

    parsed = parse_url(url, base_dir)
    database: kernel.KernelDatabase
    if parsed.kind == "sqlite":
        options = parsed.options
        busy = options.get("busy_timeout", SQLITE_BUSY_TIMEOUT_MS)
        database = kernel.SqliteDatabase(
            parsed.name,
            pragmas={
                "journal_mode": "wal",
                "foreign_keys": 1,
                "busy_timeout": busy,
                "synchronous": "normal",
            },
            timeout=busy / 1000,
            lock_type="IMMEDIATE",
        )
        database.sqlite_mode = options.get("mode")
    elif parsed.kind == "postgresql":
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            raise StorageError("PostgreSQL needs the psycopg2 driver: pip install 'crm-core[postgres]'") from None
        # no host at all is libpq's default, the local Unix socket (not TCP to localhost)
        params = {**parsed.server, **parsed.options}
        prepare = params.pop("prepare", True)
        if parsed.pool is not None:
            database = kernel.PooledPostgresqlDatabase(parsed.name, **parsed.pool, **params)
        else:
            database = kernel.PostgresqlDatabase(parsed.name, **params)
        database.prepares = prepare
    else:
        try:
            import pymysql  # noqa: F401
        except ImportError:
            raise StorageError("MySQL/MariaDB needs the PyMySQL driver: pip install 'crm-core[mysql]'") from None
        params = {"host": "localhost", "user": "root", **parsed.server}
        params.update(mysql_driver_options(parsed.options, describe_url(url)))
        if "unix_socket" in params and "host" not in parsed.server:
            del params["host"]
        if parsed.pool is not None:
            database = kernel.PooledMySQLDatabase(parsed.name, charset="utf8mb4", **parsed.pool, **params)
        else:
            database = kernel.MySQLDatabase(parsed.name, charset="utf8mb4", **params)
    database.display_url = describe_url(url if "://" in url else f"sqlite:///{url}")
    return database


def open_database(database: peewee.Database, url: str) -> None:
    """Connect now; a database that cannot be opened is a one-line :class:`StorageError`."""
    database.connect(reuse_if_open=True)


def close_database(database: peewee.Database) -> None:
    """Close this thread's connection, and with a pool (``?pool=true``) every pooled connection."""
    if not database.is_closed():
        database.close()
    close_all = getattr(database, "close_all", None)  # playhouse.pool's
    if close_all is not None:
        close_all()


def check_writable(database: peewee.Database) -> None:
    """Raise the database's :class:`~crm_core.errors.StorageError` unless it can be written now.

    A write to the kernel's ``crm_plugin`` table that changes no row, rolled
    back: it takes a write lock (SQLite) or is refused by a read-only
    server, file or transaction like any real write, and leaves nothing
    behind. For readiness checks (the portal's ``/readyz``).
    """
    q = database.quote[0] + "{}" + database.quote[1]
    with database.atomic() as txn:
        typed_rows.execute(
            database, f"UPDATE {q.format('crm_plugin')} SET {q.format('name')} = {q.format('name')} WHERE 1 = 0"
        )
        txn.rollback()


def atomic_block(database: peewee.Database) -> contextlib.AbstractContextManager[Any]:
    """A transaction when none is open; inside one, nothing more: the caller's transaction is the unit.

    For a step that needs no savepoint of its own (one statement, or steps
    whose failure fails the caller's transaction anyway), where
    ``database.atomic()`` would add a SAVEPOINT and its RELEASE that protect
    nothing.
    """
    if database.in_transaction():
        return contextlib.nullcontext()
    return database.atomic()


@contextlib.contextmanager
def page_cache(database: peewee.Database, megabytes: int) -> Iterator[None]:
    """SQLite: this connection's page cache holds ``megabytes`` during the block, then what it held before.

    For bulk writes into large tables: each row goes into several indexes at
    places spread over the whole index, and with SQLite's default cache (2 MB)
    most of those pages are read again for every batch. Other databases size
    their caches on the server; there this does nothing.
    """
    if dialect(database) != "sqlite":
        yield
        return
    before = typed_rows.fetchone(database, "PRAGMA cache_size")
    typed_rows.execute(database, f"PRAGMA cache_size = -{int(megabytes) * 1024}")
    try:
        yield
    finally:
        if before is not None and not database.is_closed():
            typed_rows.execute(database, f"PRAGMA cache_size = {int(before[0])}")


#: bulk_insert writes up to this many rows, and values, as one multi-row INSERT (999: SQLite's oldest bind limit)
_ONE_STATEMENT_ROWS = 100
_ONE_STATEMENT_PARAMS = 999


def bulk_insert(
    table: type[peewee.Model] | str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    database: peewee.Database | None = None,
    batch_size: int = 5000,
    skip_duplicates: bool = False,
) -> int:
    """Insert many rows fast; return how many.

    The statement is built once and executed with many parameter rows
    (``executemany`` on SQLite, ``COPY … FROM STDIN`` on PostgreSQL, multi-row
    ``VALUES`` statements on MySQL, sized to stay under ``max_allowed_packet``). ``rows`` may be
    any iterable, consumed ``batch_size`` rows at a time, so memory stays
    flat. Runs in one transaction, or inside the caller's in a savepoint
    (so that a caller that catches the error keeps none of the rows), except
    for a few rows (up to 100, and 999 values): they go as one multi-row
    ``INSERT``, which is all or nothing by itself and needs no savepoint;
    its failure fails the caller's transaction as any one statement's does
    (on PostgreSQL it can then only roll back: a caller that means to go on
    after a refused insert wraps it in ``database.atomic()``, as the mail
    queue and ``run_once`` do). No rows run no statement at all.

    ``skip_duplicates=True`` leaves out a row that a unique key already
    holds, in the same statement (``ON CONFLICT DO NOTHING`` on SQLite and
    PostgreSQL, ``ON DUPLICATE KEY UPDATE`` of the first column to itself on
    MySQL/MariaDB, which unlike ``INSERT IGNORE`` hides no other error), and
    returns how many rows were written: a check of the keys first, and the
    savepoint that a concurrent insert of the same key would need, are not.

    Otherwise, on PostgreSQL each batch is one ``COPY`` in text form (see
    :func:`copy_text`); a batch holding a value that form cannot carry as the
    driver would (an aware datetime, a dict, a UUID…) goes as multi-row
    ``INSERT … VALUES`` pages instead, with the driver's own conversion.

    Given a model, ``columns`` are its fields' names (or column names) and
    each value goes through its field's ``db_value``, as ``Model.create``
    would do it: an aware datetime becomes naive UTC, a boolean the
    backend's form, a foreign-key model its id. Given a table name, values
    go to the driver as they are: pass what the column stores.
    """
    database = database if database is not None else _current().database
    if not columns:
        raise ValueError("bulk_insert needs at least one column")
    rows = iter(rows)
    width = len(columns)
    # a few rows go as one multi-row INSERT: one statement is all or nothing by itself, so it needs no savepoint
    few = max(1, min(_ONE_STATEMENT_ROWS, _ONE_STATEMENT_PARAMS // width))
    head_rows = list(itertools.islice(rows, few + 1))
    if not head_rows:
        return 0
    single = len(head_rows) <= few
    rows = itertools.chain(head_rows, rows)
    block = atomic_block(database) if single else database.atomic()
    if isinstance(table, str):
        name = table
    else:
        name = table._meta.table_name
        fields = [_field(table, c) for c in columns]
        columns = [f.column_name for f in fields]
        rows = _converted(rows, [_binary(f) if isinstance(f, peewee.BlobField) else f.db_value for f in fields])
    kind = dialect(database)
    open_q, close_q = database.quote[0], database.quote[1]

    def quote(identifier: str) -> str:
        return f"{open_q}{identifier}{close_q}"

    cols = ", ".join(quote(c) for c in columns)
    head = f"INSERT INTO {quote(name)} ({cols}) VALUES "
    tail = ""
    if skip_duplicates:
        first = quote(columns[0])
        tail = f" ON DUPLICATE KEY UPDATE {first} = {first}" if kind == "mysql" else " ON CONFLICT DO NOTHING"
    total = 0

    def run(execute: Any, batch: list[Sequence[Any]]) -> None:
        try:
            # the raw cursor bypasses peewee: wrap the driver's errors as
            # peewee's (IntegrityError…), like every other query
            with peewee.__exception_wrapper__:  # type: ignore[attr-defined]
                execute(batch)
        except Exception:
            # checked only on failure, so the fast path stays per batch
            for i, row in enumerate(batch):
                if len(row) != width:
                    raise ValueError(
                        f"bulk_insert into {name}: row {total + i + 1} has {len(row)} value(s) but "
                        f"{width} columns were given ({', '.join(columns)})"
                    ) from None
            raise

    with block:
        cursor = typed_rows.cursor(database)
        if single:
            batch = list(rows)
            mark = "?" if kind == "sqlite" else "%s"
            one = "(" + ", ".join([mark] * width) + ")"
            sql = head + ", ".join([one] * len(batch)) + tail
            run(lambda b: cursor.execute(sql, [value for row in b for value in row]), batch)
            return cursor.rowcount if skip_duplicates else len(batch)
        if kind == "sqlite":
            sql = head + "(" + ", ".join("?" * width) + ")" + tail
            for batch in batched(rows, batch_size):
                run(lambda b: cursor.executemany(sql, b), batch)
                total += cursor.rowcount if skip_duplicates else len(batch)
        elif kind == "postgresql":
            from psycopg2.extras import execute_values

            copy = f"COPY {quote(name)} ({cols}) FROM STDIN"
            # execute_values (skipping duplicates, or the fallback) pages the rows
            # itself; 65,535 is PostgreSQL's bind-parameter cap, but the values
            # are inlined, so only the statement size matters: keep pages moderate.
            page = max(1, min(batch_size, 1000))

            def send(b: list[Sequence[Any]]) -> None:
                text = copy_text(b)
                if text is None:  # a value COPY's text form cannot carry as the driver would: INSERT … VALUES
                    execute_values(cursor, head + "%s", b, page_size=page)
                else:
                    cursor.copy_expert(copy, io.StringIO(text), size=_COPY_READ)

            if skip_duplicates:  # COPY has no ON CONFLICT: the pages go one at a time, the row count is a page's
                for batch in batched(rows, page):
                    run(lambda b: execute_values(cursor, head + "%s" + tail, b, page_size=page), batch)
                    total += cursor.rowcount
            else:
                for batch in batched(rows, batch_size):
                    run(send, batch)
                    total += len(batch)
        else:
            # PyMySQL rewrites executemany of INSERT … VALUES into multi-row
            # statements sized to max_allowed_packet (and adds up their row counts).
            sql = head + "(" + ", ".join(["%s"] * width) + ")" + tail
            for batch in batched(rows, batch_size):
                run(lambda b: cursor.executemany(sql, b), batch)
                total += cursor.rowcount if skip_duplicates else len(batch)
    return total


def insert_returning(
    model: type[peewee.Model], values: dict[str, Any], fields: Sequence[str], *, database: peewee.Database | None = None
) -> tuple[Any, ...]:
    """Insert one row; return its ``fields`` as stored, converted as a ``SELECT`` of them would give them.

    One statement where the database has ``INSERT … RETURNING`` (PostgreSQL,
    SQLite 3.35+, MariaDB 10.5+), else the insert and a read by id: what a
    default, a trigger or the column's type (a time without microseconds on
    MariaDB) made of the values comes back either way.
    """
    database = database if database is not None else _current().database
    meta = model._meta
    if _returns_rows(database):
        # the statement's text is built once per model, columns and fields (peewee built it on every call:
        # most of the CPU of creating a contact over the API); the model's defaults for the columns not
        # given are added as ``Model.insert`` adds them
        key = (model, tuple(values), tuple(fields))
        kept = _INSERTS.get(key)
        if kept is None:
            from crm_core.statements import RowInsert

            defaults = tuple(f for f in meta.defaults if f.name not in values and f.column_name not in values)
            kept = _INSERTS[key] = (
                RowInsert(model, [*values, *(f.name for f in defaults)], returning=fields),
                tuple(meta.defaults[f] for f in defaults),
            )
        insert, default_values = kept
        row = [*values.values(), *(d() if callable(d) else d for d in default_values)]
        return tuple(insert.run_in(database, row))
    chosen = [meta.fields[name] for name in fields]
    pk = model.insert(**values).execute()
    found: Any = model.select(*chosen).where(meta.primary_key == pk).tuples().get()
    return tuple(found)


#: :func:`insert_returning`'s statements: (model, columns given, fields returned) -> (its RowInsert, the
#: defaults of the model's columns not given)
_INSERTS: dict[tuple[Any, ...], tuple[Any, tuple[Any, ...]]] = {}

#: whether each database takes ``INSERT … RETURNING`` (MySQL does not, MariaDB does since 10.5)
_RETURNING: weakref.WeakKeyDictionary[peewee.Database, bool] = weakref.WeakKeyDictionary()


def _returns_rows(database: peewee.Database) -> bool:
    kind = dialect(database)
    if kind == "postgresql":
        return True
    if kind == "sqlite":
        import sqlite3

        return sqlite3.sqlite_version_info >= (3, 35)
    if database not in _RETURNING:
        import re

        # PyMySQL keeps the server's greeting: "10.11.6-MariaDB-…" (or "5.5.5-10.11.6-MariaDB-…")
        greeting = str(getattr(typed_rows.connection(database), "server_version", ""))
        found = re.search(r"(\d+)\.(\d+)\.\d+-MariaDB", greeting)
        _RETURNING[database] = found is not None and (int(found[1]), int(found[2])) >= (10, 5)
    return _RETURNING[database]


#: characters read per chunk by psycopg2 from a COPY's text
_COPY_READ = 1 << 20
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_needs_escape = re.compile(r"[\\\t\n\r]").search
_FLOAT_WORDS = {math.inf: "Infinity", -math.inf: "-Infinity"}


class _NotCopyable(Exception):
    """A value COPY's text form does not carry the way the driver's adaptation would."""


def _copy_value(value: Any) -> str:
    """The COPY text of a value other than a str, an int or ``None`` (the cases :func:`copy_text` inlines)."""
    import datetime as dt
    import decimal

    cls = value.__class__
    if cls is bool:
        return "t" if value else "f"
    if cls is float:
        if math.isnan(value):
            return "NaN"
        return _FLOAT_WORDS.get(value) or repr(value)
    if cls is decimal.Decimal:
        return str(value)
    if cls is dt.datetime:
        if value.tzinfo is not None:
            # psycopg2 sends it as timestamptz, which a timestamp column converts in the session's zone;
            # COPY would drop the offset
            raise _NotCopyable
        return str(value.isoformat(" "))
    if cls is dt.date or (cls is dt.time and value.tzinfo is None):
        return str(value.isoformat())
    if cls is bytes or cls is bytearray or cls is memoryview:
        return "\\\\x" + bytes(value).hex()  # bytea's hex form, its backslash escaped for COPY
    if isinstance(value, str):  # a str subclass (an enum's value class…) is its text
        return str.__str__(value).translate(_COPY_ESCAPES)
    raise _NotCopyable


def copy_text(rows: Iterable[Sequence[Any]]) -> str | None:
    """``rows`` in PostgreSQL ``COPY``'s text format (a line per row, tabs between values), or ``None``.

    ``None`` means a value of a class that the text form would not carry as
    psycopg2's adaptation does (an aware datetime, a dict, a list, a UUID…):
    send those rows as ``INSERT … VALUES`` instead. Strings are escaped
    (backslash, tab, newline, carriage return), ``None`` is ``\\N``, booleans
    ``t``/``f``, bytes bytea's hex form.
    """
    escapes = _COPY_ESCAPES
    needs_escape = _needs_escape
    lines = []
    try:
        for row in rows:
            out = []
            for value in row:
                cls = value.__class__
                if cls is str:
                    out.append(value.translate(escapes) if needs_escape(value) else value)
                elif value is None:
                    out.append("\\N")
                elif cls is int:
                    out.append(int.__repr__(value))
                else:
                    out.append(_copy_value(value))
            lines.append("\t".join(out))
    except _NotCopyable:
        return None
    lines.append("")
    return "\n".join(lines)


def _field(model: type[peewee.Model], name: str) -> peewee.Field:
    meta = model._meta
    found = meta.fields.get(name) or meta.columns.get(name)
    if found is None:
        known = ", ".join(meta.sorted_field_names)
        raise ValueError(f"bulk_insert into {meta.table_name}: {name!r} is no field of {model.__name__} ({known})")
    return found  # type: ignore[no-any-return]


def _binary(field: peewee.BlobField) -> Callable[[Any], Any]:
    """A blob field's conversion, giving ``bytes``, which every driver takes.

    ``BlobField.db_value`` wraps bytes in the binary type of the database its
    model was first bound to (``memoryview`` for SQLite); PyMySQL would
    store such an object as its text (``<memory at …>``).
    """
    convert: Callable[[Any], Any] = field.db_value

    def to_bytes(value: Any) -> Any:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)  # the wrapper is that of the first database (psycopg2's Binary on MySQL: its text)
        if isinstance(value, str):
            return value.encode("raw_unicode_escape")  # as BlobField.db_value encodes text
        value = convert(value)
        return bytes(value) if isinstance(value, (memoryview, bytearray)) else value

    return to_bytes


def _converted(rows: Iterable[Sequence[Any]], converters: Sequence[Callable[[Any], Any]]) -> Iterator[Sequence[Any]]:
    width = len(converters)
    for row in rows:
        if len(row) != width:  # let bulk_insert name the row
            yield row
        else:
            yield tuple(convert(value) for convert, value in zip(converters, row))


_T = TypeVar("_T")


def batched(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """``items`` in lists of ``size`` (the last one shorter), consumed lazily.

    For ``IN (...)`` lists kept under a backend's parameter limit and for
    writes committed a page at a time.
    """
    if size < 1:
        raise ValueError(f"batched needs a size of at least 1, not {size}")
    it = iter(items)
    # islice fills each list in C: appending item by item cost more than some of the inserts it feeds
    while batch := list(itertools.islice(it, size)):
        yield batch


class UTCDateTimeField(peewee.DateTimeField):
    """An aware datetime, stored as naive UTC so that every backend agrees."""

    def db_value(self, value: Any) -> Any:
        import datetime as dt

        from crm_core.clock import naive_utc

        if isinstance(value, dt.datetime):
            value = naive_utc(value)
        # DateTimeField.db_value is not annotated in peewee
        convert: Callable[[Any], Any] = super().db_value
        return convert(value)

    def python_value(self, value: Any) -> Any:
        import datetime as dt

        # DateTimeField.python_value is not annotated in peewee
        convert: Callable[[Any], Any] = super().python_value
        value = convert(value)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value
