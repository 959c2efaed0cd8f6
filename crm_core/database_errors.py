"""The database errors the kernel raises: each a CRMError and the peewee exception it replaces.

:mod:`crm_core.database` raises these in place of peewee's and the drivers'
exceptions. One class per peewee class it stands in for: the name stays
peewee's (so a message such as "OperationalError: duplicate column name"
reads as before), the family is the kernel's (``crm_core.errors``): code
that catches ``peewee.IntegrityError`` keeps working, and ``except
CRMError`` catches them all. This module also reads what a driver's error
means (its SQLSTATE or MySQL error number).
"""

from __future__ import annotations

import peewee

from crm_core.errors import (
    ConnectionLostError,
    ConstraintError,
    CRMError,
    DatabaseUnavailableError,
    QueryError,
)

__all__ = [
    "BY_PEEWEE",
    "ConnectionLost",
    "DataError",
    "DatabaseError",
    "DatabaseUnavailable",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "MY_DISK_FULL",
    "MY_GONE_AWAY",
    "MY_NO_TABLE",
    "MY_READ_ONLY",
    "NotSupportedError",
    "OperationalError",
    "PG_DISK_FULL",
    "PG_NO_TABLE",
    "PG_READ_ONLY",
    "ProgrammingError",
    "codes",
    "driver_exception",
    "first_line",
    "is_database_error",
    "peewee_class",
]

# One class per peewee class it stands in for: the name stays peewee's (so a
# message such as "OperationalError: duplicate column name" reads as before),
# the family is the kernel's.


class _FromDriver(Exception):
    """What every class below carries (annotations only: :mod:`crm_core.database` sets them)."""

    #: the driver's exception, as on peewee's own exceptions
    orig: BaseException
    #: the first line of the driver's message
    reason: str


class IntegrityError(ConstraintError, peewee.IntegrityError, _FromDriver):
    """A change broke a constraint (duplicate key, missing reference, NULL)."""


class OperationalError(QueryError, peewee.OperationalError, _FromDriver):
    """The database refused a statement for a reason outside the statement (read-only, full, locked…)."""


class ProgrammingError(QueryError, peewee.ProgrammingError, _FromDriver):
    """The database refused a statement itself (a missing table or column, bad SQL)."""


class DataError(QueryError, peewee.DataError, _FromDriver):
    """A value does not fit its column."""


class InternalError(QueryError, peewee.InternalError, _FromDriver):
    """The database reported an internal error."""


class NotSupportedError(QueryError, peewee.NotSupportedError, _FromDriver):
    """The database does not support what was asked."""


class DatabaseError(QueryError, peewee.DatabaseError, _FromDriver):
    """Any other database error."""


class InterfaceError(QueryError, peewee.InterfaceError, _FromDriver):
    """The driver refused the call (not a lost connection: that is :class:`ConnectionLost`)."""


class ConnectionLost(ConnectionLostError, peewee.OperationalError, _FromDriver):
    """The connection broke while a transaction or statement ran (see ``ConnectionLostError``)."""


class DatabaseUnavailable(DatabaseUnavailableError, peewee.OperationalError, _FromDriver):
    """The database cannot be opened or reached."""


BY_PEEWEE: dict[type[peewee.PeeweeException], type[_FromDriver]] = {
    peewee.IntegrityError: IntegrityError,
    peewee.OperationalError: OperationalError,
    peewee.ProgrammingError: ProgrammingError,
    peewee.DataError: DataError,
    peewee.InternalError: InternalError,
    peewee.NotSupportedError: NotSupportedError,
    peewee.DatabaseError: DatabaseError,
    peewee.InterfaceError: InterfaceError,
}
# peewee's own DB-API class name -> peewee class map, which its stubs leave out
_BY_DBAPI_NAME: dict[str, type[peewee.PeeweeException]] = peewee.EXCEPTIONS  # type: ignore[attr-defined]
DRIVERS = {"sqlite3", "psycopg2", "psycopg", "pymysql", "MySQLdb", "mysql"}

# What the reason of a failure means, by driver code and by message.
PG_READ_ONLY = {"25006"}  # read_only_sql_transaction (a standby, default_transaction_read_only)
PG_DISK_FULL = {"53100"}
PG_NO_TABLE = {"42P01"}
MY_READ_ONLY = {1290, 1792, 1836}  # --read-only, READ ONLY transaction, read-only mode
MY_DISK_FULL = {1021, 1114}
MY_NO_TABLE = {1146}
MY_GONE_AWAY = 2006  # raised when the query could not be sent: it never ran


def first_line(exc: BaseException) -> str:
    args = exc.args
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):  # MySQL's (number, message)
        return f"{args[1].strip().splitlines()[0] if args[1].strip() else type(exc).__name__} ({args[0]})"
    text = str(exc).strip()
    if not text and exc.args:
        text = " ".join(str(a) for a in exc.args)
    return text.splitlines()[0].strip() if text else type(exc).__name__


def driver_exception(exc: BaseException) -> BaseException:
    orig = getattr(exc, "orig", None)
    return orig if isinstance(orig, BaseException) else exc


def peewee_class(exc: BaseException) -> type[peewee.PeeweeException] | None:
    """The peewee class for a peewee or DB-API driver exception, else None."""
    if isinstance(exc, peewee.PeeweeException):
        for cls in type(exc).__mro__:
            if cls in BY_PEEWEE:
                return cls
        return None
    if type(exc).__module__.partition(".")[0] not in DRIVERS:
        return None
    for cls in type(exc).__mro__:  # the DB-API class names, as peewee's own wrapper maps them
        mapped = _BY_DBAPI_NAME.get(cls.__name__)
        if mapped is not None:
            return mapped
    return None


def is_database_error(exc: BaseException) -> bool:
    """True for a peewee or driver database error that the kernel translates."""
    return not isinstance(exc, CRMError) and peewee_class(exc) is not None


def codes(exc: BaseException) -> tuple[str | None, int | None]:
    """PostgreSQL's SQLSTATE and MySQL's error number, where the driver gives them."""
    driver = driver_exception(exc)
    pgcode = getattr(driver, "pgcode", None) or getattr(driver, "sqlstate", None)
    args = getattr(driver, "args", ())
    mycode = args[0] if args and isinstance(args[0], int) else None
    return pgcode, mycode
