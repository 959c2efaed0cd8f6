"""What differs between SQLite, PostgreSQL and MariaDB, in one place.

Reports read other plugins' tables through peewee ``Table`` objects, by the
names and columns those plugins document (never through their models), and
build every query with peewee's query builder: values are bound parameters,
identifiers come from this plugin's own catalog.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import TYPE_CHECKING, Any

import peewee

from crm_core.errors import CRMError
from crm_core.storage import dialect

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["Tables", "add_days", "fetch", "json_int", "json_text", "money", "param", "seconds_between"]


class Tables:
    """The tables a report reads, bound to one app's database."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self.database = crm.database
        self.kind = dialect(crm.database)
        # the plugins that keep the data name their reporting tables (the contract's WarehouseAPI and
        # ContactsAPI: sales, survey_answers, survey_responses, contact_status, contact_changes, events; contacts)
        self.names: dict[str, str] = {}
        for plugin in ("warehouse", "contacts"):
            self.names.update(crm.plugin(plugin).reporting_tables())

    def __getitem__(self, role: str) -> peewee.Table:
        return peewee.Table(self.names[role]).bind(self.database)

    def param(self, value: Any) -> Any:
        return param(self.kind, value)


def param(kind: str, value: Any) -> Any:
    """``value`` as the database compares it with a stored column.

    SQLite stores dates and datetimes as ISO text: compare with text in the
    same shape. The server drivers adapt ``date`` and ``datetime`` themselves.
    """
    if kind == "sqlite":
        if isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, dt.date):
            return value.isoformat()
    return value


def json_text(kind: str, column: Any, key: str) -> peewee.ColumnBase:
    """The text of ``key`` in a JSON object stored in a text column."""
    if kind == "sqlite":
        return peewee.fn.json_extract(column, f"$.{key}")
    if kind == "postgresql":
        return peewee.NodeList((peewee.NodeList((column, peewee.SQL("::json"))), peewee.SQL("->>"), key), glue=" ")
    return peewee.fn.JSON_UNQUOTE(peewee.fn.JSON_EXTRACT(column, f"$.{key}"))


def json_int(kind: str, column: Any, key: str) -> peewee.ColumnBase:
    """The integer of ``key`` in a JSON object stored in a text column."""
    if kind == "sqlite":
        return peewee.fn.json_extract(column, f"$.{key}")
    if kind == "postgresql":
        return peewee.Cast(json_text(kind, column, key), "BIGINT")
    return peewee.Cast(json_text(kind, column, key), "SIGNED")


def seconds_between(kind: str, start: Any, end: Any) -> peewee.ColumnBase:
    """``end - start`` in seconds (datetime columns)."""
    if kind == "sqlite":
        return (peewee.fn.julianday(end) - peewee.fn.julianday(start)) * 86400.0
    if kind == "postgresql":
        return peewee.fn.EXTRACT(
            peewee.NodeList((peewee.SQL("EPOCH FROM"), peewee.NodeList((end, peewee.SQL("-"), start), parens=True)))
        )
    return peewee.fn.TIMESTAMPDIFF(peewee.SQL("SECOND"), start, end)


def add_days(kind: str, column: Any, days: int) -> peewee.ColumnBase:
    """A datetime column plus a whole number of days."""
    days = int(days)
    if kind == "sqlite":
        return peewee.fn.datetime(column, f"+{days} days")
    if kind == "postgresql":
        return peewee.NodeList((column, peewee.SQL(f"+ INTERVAL '{days} days'")))
    return peewee.fn.DATE_ADD(column, peewee.SQL(f"INTERVAL {days} DAY"))


def falsy(kind: str, column: peewee.ColumnBase) -> peewee.ColumnBase:
    """A boolean column is false (SQLite and MariaDB store 0/1)."""
    return column == (False if kind == "postgresql" else 0)


def fetch(query: peewee.Query, tables: Tables) -> list[tuple[Any, ...]]:
    """Run a query, turning a missing table into an error that says which plugin to migrate."""
    try:
        return list(query.tuples().execute(tables.database))
    except (peewee.OperationalError, peewee.ProgrammingError) as exc:
        text = str(exc).lower()
        if "no such table" in text or "does not exist" in text or "doesn't exist" in text:
            raise CRMError(
                f"a table this report reads is missing ({str(exc).strip().splitlines()[0]}); run 'crm migrate'"
            ) from None
        raise


def money(value: Any) -> decimal.Decimal:
    """A summed amount, as a decimal with two places (0 for no rows)."""
    if value is None:
        return decimal.Decimal("0.00")
    amount = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
    return amount.quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_EVEN)


def number(value: Any) -> float | int | None:
    """A count or average from the database as a Python number."""
    if value is None:
        return None
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    found: float | int = value  # the drivers give counts as int and averages as float
    return found


def pct(part: float | decimal.Decimal, whole: float | decimal.Decimal) -> float | None:
    """``part`` in percent of ``whole``, one decimal (None when ``whole`` is 0)."""
    if not whole:
        return None
    return round(100.0 * float(part) / float(whole), 1)
