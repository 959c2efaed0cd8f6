"""What differs between SQLite, PostgreSQL and MariaDB, in one place.

Reports read other plugins' tables through peewee ``Table`` objects, by the
names and columns those plugins document (never through their models), and
build every query with peewee's query builder: values are bound parameters,
identifiers come from this plugin's own catalog.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import peewee

from crm_core.errors import CRMError, PermissionDenied
from crm_core.storage import dialect

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = [
    "SOURCES",
    "ScopedTable",
    "Source",
    "Tables",
    "add_days",
    "fetch",
    "json_int",
    "json_text",
    "money",
    "param",
    "seconds_between",
]


@attrs.frozen
class Source:
    """A reporting table as reports read it: what it holds, what it needs, how its rows are scoped."""

    #: what the table holds, for the messages
    what: str
    #: the permissions a report reading it needs (one not declared, of a plugin not installed, is skipped)
    needs: tuple[str, ...]
    #: the permission whose scope keeps its rows
    scoped_by: str
    #: ``owner``: the row's owner column; ``contact``: its contact's owner; ``event``: the contacts an event
    #: concerns; ``whole``: a summary with no owner to keep rows by, read only with scope ``all`` for each of
    #: ``needs`` (see :meth:`Tables.scoped`)
    keep: str


_CONTACTS = "contacts.read"
_HISTORY = "warehouse.history.read"
#: every reporting table a report may read, by role
SOURCES: dict[str, Source] = {
    "sales": Source("sales records", ("warehouse.sales.read",), "warehouse.sales.read", "owner"),
    "contacts": Source("contacts", (_CONTACTS,), _CONTACTS, "owner"),
    "contact_status": Source("contacts' status history", (_CONTACTS,), _CONTACTS, "contact"),
    "contact_changes": Source("the audit trail of changes to contacts", (_HISTORY, _CONTACTS), _CONTACTS, "contact"),
    "events": Source("the event store", (_HISTORY, _CONTACTS), _CONTACTS, "event"),
    "event_contacts": Source("the contacts the stored events concern", (_HISTORY, _CONTACTS), _CONTACTS, "contact"),
    "survey_answers": Source("survey answers", ("surveys.answers.read", _CONTACTS), _CONTACTS, "contact"),
    "survey_responses": Source("survey responses", ("surveys.answers.read", _CONTACTS), _CONTACTS, "contact"),
    # the warehouse's summary tables (crm_analytics.summaries): the permissions of the tables they add up
    "sales_summary": Source("sales records, added up", ("warehouse.sales.read",), "warehouse.sales.read", "owner"),
    "open_sales_summary": Source(
        "the open pipeline, added up", ("warehouse.sales.read",), "warehouse.sales.read", "owner"
    ),
    "pipeline_summary": Source(
        "the pipeline's moves, added up", ("warehouse.sales.read", _HISTORY, _CONTACTS), _CONTACTS, "whole"
    ),
    "status_summary": Source("contacts' status history, added up", (_CONTACTS,), _CONTACTS, "whole"),
    "activity_summary": Source("staff activity, added up", (_HISTORY, _CONTACTS), _CONTACTS, "whole"),
    "survey_summary": Source(
        "survey invitations and answers, added up", ("surveys.answers.read", _HISTORY, _CONTACTS), _CONTACTS, "whole"
    ),
}


class ScopedTable(peewee.Table):
    """A reporting table as the acting user may read it: ``(SELECT * FROM t WHERE <scope>) AS alias``.

    Reports select from it exactly as from the table (``T.c.amount``,
    ``T.alias("o")``), so no query can reach a row outside the scope: the
    standard reports and every custom report read through it.
    """

    def __init__(self, name: str, keep: Callable[[peewee.Table], Any], alias: str | None = None) -> None:
        super().__init__(name, alias=alias)
        self._keep = keep
        self._named = alias
        self._bound: peewee.Database | peewee.DatabaseProxy | None = None

    def bind(self, database: peewee.Database | peewee.DatabaseProxy | None = None) -> ScopedTable:
        self._bound = database
        super().bind(database)
        return self

    def alias(self, name: str) -> ScopedTable:  # type: ignore[override]  # peewee's returns the same type
        return ScopedTable(self.__name__, self._keep, alias=name).bind(self._bound)

    def clone(self) -> ScopedTable:
        return ScopedTable(self.__name__, self._keep, alias=self._named).bind(self._bound)

    def __sql__(self, ctx: Any) -> Any:
        if ctx.scope != peewee.SCOPE_SOURCE:
            return super().__sql__(ctx)
        if self._named:
            ctx.alias_manager[self] = self._named
        inner = peewee.Table(self.__name__)
        with ctx.scope_normal(subquery=True):
            ctx.sql(inner.select(peewee.SQL("*")).where(self._keep(inner)))
        return self.apply_alias(ctx)


class Tables:
    """The tables a report reads, bound to one app's database, limited to the acting user's scope.

    For the system (no user acting) and for a user whose scope is ``all``,
    a role is the plain table; for a user of scope ``own`` or ``team`` it is
    a :class:`ScopedTable`. A user without a permission a table needs is
    refused (``PermissionDenied`` naming it) before any SQL runs.
    """

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self.database = crm.database
        self.kind = dialect(crm.database)
        # the plugins that keep the data name their reporting tables (the contract's WarehouseAPI and
        # ContactsAPI: sales, survey_answers, survey_responses, contact_status, contact_changes, events,
        # event_contacts; contacts)
        self.names: dict[str, str] = {}
        for plugin in ("warehouse", "contacts"):
            self.names.update(crm.plugin(plugin).reporting_tables())

    def __getitem__(self, role: str) -> peewee.Table:
        keep = self._scope(role)
        if keep is None:
            return peewee.Table(self.names[role]).bind(self.database)
        if SOURCES[role].keep == "whole":
            raise CRMError(f"{self.names[role]} has no owner to keep rows by: read it only where scoped() is false")
        return ScopedTable(self.names[role], keep).bind(self.database)

    def scoped(self, role: str) -> bool:
        """Whether the acting user reads only part of ``role`` (scope ``own`` or ``team``); refuses a missing permission.

        For a summary kept ``whole``: whether any of its permissions has a
        scope other than ``all`` (then a report reads the tables it adds up).
        """
        return self._scope(role) is not None

    def has(self, role: str) -> bool:
        """Whether the installed plugins name a table for ``role`` (a summary of an older warehouse may not)."""
        return role in self.names

    def _scope(self, role: str) -> Callable[[peewee.Table], Any] | None:
        """What keeps the acting user's rows of ``role`` (``None``: every row); refuses a missing permission."""
        authz = self.crm.authz
        source = SOURCES[role]
        permission = source.scoped_by
        declared = [name for name in source.needs if name in authz.declared.permissions]
        for name in declared:  # a plugin that is not installed (surveys) declares nothing to check
            try:
                authz.require(name)
            except PermissionDenied as exc:
                raise PermissionDenied(f"{exc}; reports on {source.what} ({self.names[role]}) need it", name) from None
        if source.keep == "whole":
            if all(authz.scope(name) == "all" for name in declared):
                return None
            return lambda t: False
        if authz.scope(permission) == "all":
            return None
        if source.keep == "owner":
            return lambda t: authz.where(permission, t.c.owner, owner_is="name")
        contacts = self.names["contacts"]

        def readable_contacts() -> peewee.Select:
            C = peewee.Table(contacts)
            return C.select(C.c.id).where(authz.where(permission, C.c.owner, owner_is="name"))

        if source.keep == "contact":
            return lambda t: t.c.contact_id.in_(readable_contacts())
        links = self.names["event_contacts"]

        def concerned(t: peewee.Table) -> Any:
            L = peewee.Table(links)
            return t.c.id.in_(L.select(L.c.event_id).where(L.c.contact_id.in_(readable_contacts())))

        return concerned

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
