"""Typed rows from peewee: the one place that tells mypy what shape peewee's rows have.

peewee 4.5 ships partial type hints: ``query.tuples()`` and ``query.dicts()``
are typed as the model select they were called on (so their rows look like
model instances), and ``Database.execute_sql`` and ``Model.table_exists``
are not annotated at all (nor are ``Database.cursor`` and
``Database.connection``). Kernel code reads such rows through these helpers
instead of casting at every call site; what they return at run time is
exactly what peewee returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    import peewee

__all__ = ["connection", "cursor", "dicts", "execute", "fetchall", "fetchone", "table_exists", "tuples"]


class _Cursor(Protocol):
    """The part of a DB-API cursor that kernel code uses."""

    rowcount: int
    #: one 7-item sequence per column (its name first); None after a statement that returns no rows
    description: Sequence[Sequence[Any]] | None

    def fetchone(self) -> tuple[Any, ...] | None: ...

    def fetchall(self) -> Sequence[tuple[Any, ...]]: ...


def tuples(query: peewee.BaseQuery) -> Iterable[tuple[Any, ...]]:
    """``query.tuples()``, typed as the rows it yields."""
    # peewee types .tuples() as returning the query itself (rows of model instances)
    return cast("Iterable[tuple[Any, ...]]", query.tuples())


def dicts(query: peewee.BaseQuery) -> Iterable[dict[str, Any]]:
    """``query.dicts()``, typed as the rows it yields."""
    # peewee types .dicts() as returning the query itself (rows of model instances)
    return cast("Iterable[dict[str, Any]]", query.dicts())


def execute(database: peewee.Database, sql: str, params: Sequence[Any] = ()) -> _Cursor:
    """``database.execute_sql(sql, params)``: the cursor, typed."""
    # execute_sql is not annotated in peewee: assigning it to a typed callable
    # states its signature once, here
    run: Callable[[str, Sequence[Any]], _Cursor] = database.execute_sql
    return run(sql, params)


def cursor(database: peewee.Database) -> Any:
    """``database.cursor()``: the driver's own cursor.

    Typed ``Any`` on purpose: callers use what only their driver has
    (psycopg2's ``copy_expert``, ``executemany``), and no common type
    states it.
    """
    # Database.cursor is not annotated in peewee
    open_cursor: Callable[[], Any] = database.cursor
    return open_cursor()


def connection(database: peewee.Database) -> Any:
    """``database.connection()``: the driver's connection (``Any``, for the same reason as :func:`cursor`)."""
    # Database.connection is not annotated in peewee
    current: Callable[[], Any] = database.connection
    return current()


def fetchall(database: peewee.Database, sql: str, params: Sequence[Any] = ()) -> Sequence[tuple[Any, ...]]:
    """Every row of a raw statement."""
    return execute(database, sql, params).fetchall()


def fetchone(database: peewee.Database, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    """The first row of a raw statement, ``None`` if there is none."""
    return execute(database, sql, params).fetchone()


def table_exists(model: type[peewee.Model]) -> bool:
    """Whether ``model``'s table exists in its database."""
    # Model.table_exists is not annotated in peewee
    exists: Callable[[], bool] = model.table_exists
    return exists()
