"""Hot queries whose SQL text is built once: :class:`Statement`.

peewee builds a query's SQL text from its expression tree on every call;
for a query of a few joins that costs more than SQLite takes to run it,
and on the paths every request takes (an API token's check, reading a
contact) it was more than half of the request's time. A
:class:`Statement` builds its query with peewee the first time for each
dialect and *shape* (how many values each list argument holds, and the
values' types), keeps the SQL text and, on later calls, binds the new values to that text::

    from crm_core.statements import Statement

    EMAILS = Statement(
        "contacts.emails",
        lambda ids: ContactEmail.select(ContactEmail.contact, ContactEmail.address)
        .where(ContactEmail.contact.in_(ids))
        .order_by(ContactEmail.id),
    )

    with crm.activate():
        for contact_id, address in EMAILS.rows(ids):
            ...

A list argument of every length is a shape of its own; with
``pad_lists=True`` (for lists used only in ``IN``, where a repeated
value changes nothing) each list is padded with its last value to the
next power of two, so that 900 ids make 11 shapes, not 900.

The builder takes the values as arguments and must use each exactly once,
in order, as a bound parameter (a scalar, or a list for ``IN``), with no
conversion by a field: the first build of each shape checks that the
parameters peewee produced are the arguments in order, and raises
:class:`~crm_core.errors.StorageError` naming the statement otherwise,
so a builder that would bind stale or transformed values never runs.
Rows come back as tuples converted by the selected fields, as peewee's
``.tuples()`` would give them.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

import peewee

from crm_core.errors import StorageError
from crm_core.storage import current_app

__all__ = ["RowInsert", "Statement"]

_Converter = Callable[[Any], Any] | None


class Statement:
    """A query built by ``build(*values)`` whose SQL text is kept per dialect and shape."""

    def __init__(self, name: str, build: Callable[..., peewee.Query], *, pad_lists: bool = False) -> None:
        self.name = name
        self._build = build
        self._pad = pad_lists
        self._compiled: dict[tuple[Any, ...], tuple[str, tuple[tuple[int, Callable[[Any], Any], Any], ...], str]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Statement {self.name!r}: {len(self._compiled)} shape(s) compiled>"

    def rows(self, *values: Any) -> list[tuple[Any, ...]]:
        """The rows of the query for ``values`` in the active app's database, converted by the selected fields."""
        database = current_app().database
        if self._pad:
            values = tuple(_padded(v) if isinstance(v, list | tuple) and v else v for v in values)
        params = _flatten(values)
        # the shape, and each value's type: a value of another type is checked again (a field may convert it)
        key = (
            type(database),
            tuple(len(v) if isinstance(v, list | tuple) else None for v in values),
            tuple(map(type, params)),
        )
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compile(database, values, params)
            with self._lock:
                self._compiled[key] = compiled
        sql, converters, name = compiled
        cursor = database.execute_read(name, sql, params)
        rows: list[Any] = cursor.fetchall()
        if not converters:
            return [tuple(row) for row in rows]
        out = []
        for row in rows:
            converted = list(row)
            for i, convert, same in converters:
                value = converted[i]
                if value is not None and type(value) is not same:
                    converted[i] = convert(value)
            out.append(tuple(converted))
        return out

    def _compile(
        self, database: peewee.Database, values: tuple[Any, ...], params: list[Any]
    ) -> tuple[str, tuple[tuple[int, Callable[[Any], Any], Any], ...], str]:
        query = self._build(*values)
        context: Any = database.get_sql_context()
        sql, built = context.sql(query).query()
        if list(built) != params:
            raise StorageError(
                f"statement {self.name!r}: its query binds {list(built)!r:.200} for the values {params!r:.200}; "
                "a Statement's builder must bind each value once, in order, unconverted"
            )
        # the name a server that prepares statements knows it by: the same text, the same name, in every process
        name = "crm_" + hashlib.sha1(sql.encode()).hexdigest()[:20]
        converters = []
        for i, node in enumerate(getattr(query, "_returning", ())):
            convert, same = _converter(node)
            if convert is not None:
                converters.append((i, convert, same))
        return sql, tuple(converters), name


class RowInsert:
    """One row into a model's table, its ``INSERT`` text built once per dialect; :meth:`run` returns its id.

    For a row written on every request (a contact made through the API):
    peewee's ``Model.create`` builds the statement from the model on every
    call, which for a table of thirty columns cost more than the database
    took to insert the row. Values go through their fields' ``db_value``, as
    ``Model.create`` does it (an aware time becomes naive UTC, a boolean the
    backend's form); columns left out take their database default, so give
    every column whose model default matters::

        INSERT_VISIT = RowInsert(Visit, ("card", "seen_at", "channel"))
        visit_id = INSERT_VISIT.run(card_id, crm.clock.now(), "web")

    With ``returning`` (field names), :meth:`run` returns those fields of the
    row as stored, converted as a ``SELECT`` of them would give them, on a
    database that has ``INSERT … RETURNING`` (:func:`crm_core.storage.insert_returning`
    decides, and reads the row back elsewhere).
    """

    def __init__(self, model: type[peewee.Model], columns: Sequence[str], *, returning: Sequence[str] = ()) -> None:
        self._model = model
        self._fields = [self._field(name) for name in columns]
        self._convert = tuple(field.db_value for field in self._fields)
        self._returning = [self._field(name) for name in returning]
        converters = []
        for i, field in enumerate(self._returning):
            convert, same = _converter(field)
            if convert is not None:
                converters.append((i, convert, same))
        self._converters = tuple(converters)
        self._sql: dict[type, tuple[str, bool]] = {}

    def _field(self, name: str) -> Any:
        meta = self._model._meta
        field = meta.fields.get(name) or meta.columns.get(name)
        if field is None:
            known = ", ".join(meta.sorted_field_names)
            raise ValueError(
                f"RowInsert into {meta.table_name}: {name!r} is no field of {self._model.__name__} ({known})"
            )
        return field

    def __repr__(self) -> str:
        return f"<RowInsert {self._model._meta.table_name}: {len(self._fields)} column(s)>"

    def run(self, *values: Any) -> Any:
        """Insert one row of ``values`` (one per column, in order) in the active app's database; its id (with
        ``returning``: the tuple of those fields)."""
        return self.run_in(current_app().database, values)

    def run_in(self, database: Any, values: Sequence[Any]) -> Any:
        """:meth:`run` in ``database``."""
        if len(values) != len(self._fields):
            raise ValueError(
                f"RowInsert into {self._model._meta.table_name}: {len(values)} value(s) for {len(self._fields)} columns"
            )
        compiled = self._sql.get(type(database))
        if compiled is None:
            compiled = self._sql[type(database)] = self._compile(database)
        sql, returning = compiled
        cursor = database.execute_sql(sql, [convert(value) for convert, value in zip(self._convert, values)])
        if self._returning:
            row = list(cursor.fetchone())
            for i, convert, same in self._converters:
                value = row[i]
                if value is not None and type(value) is not same:
                    row[i] = convert(value)
            return tuple(row)
        if returning:
            found = cursor.fetchone()
            return found[0] if found else None
        return cursor.lastrowid

    def _compile(self, database: peewee.Database) -> tuple[str, bool]:
        meta = self._model._meta

        def quote(name: str) -> str:
            return name.join(database.quote)

        mark = database.param
        sql = (
            f"INSERT INTO {quote(meta.table_name)} ({', '.join(quote(f.column_name) for f in self._fields)}) "
            f"VALUES ({', '.join([mark] * len(self._fields))})"
        )
        if self._returning:
            return sql + f" RETURNING {', '.join(quote(f.column_name) for f in self._returning)}", True
        key: Any = meta.primary_key  # a field, or False for a model without one
        returning = bool(getattr(database, "returning_clause", False)) and isinstance(key, peewee.Field)
        if returning:
            sql += f" RETURNING {quote(key.column_name)}"
        return sql, returning


def _padded(values: Sequence[Any]) -> list[Any]:
    """``values`` repeated at the end up to the next power of two: few shapes, the same ``IN`` set."""
    size = 1 << (len(values) - 1).bit_length()
    return [*values, *([values[-1]] * (size - len(values)))]


def _flatten(values: Sequence[Any]) -> list[Any]:
    params: list[Any] = []
    for value in values:
        if isinstance(value, list | tuple):
            params.extend(value)
        else:
            params.append(value)
    return params


#: peewee's fields whose conversion gives a value of this type back unchanged: a column the driver already
#: returns as that type (every driver does, for text and whole numbers) needs no call per value
_KEPT_AS = {
    peewee.CharField: str,
    peewee.FixedCharField: str,
    peewee.TextField: str,
    peewee.IntegerField: int,
    peewee.BigIntegerField: int,
    peewee.SmallIntegerField: int,
    peewee.AutoField: int,
    peewee.BigAutoField: int,
}


def _converter(node: Any) -> tuple[_Converter, type | None]:
    """The selected column's conversion, and the type of value it leaves as it is (``None``: none)."""
    if isinstance(node, peewee.Alias):
        node = node.node
    if not isinstance(node, peewee.Field):
        return None, None
    target = node
    while isinstance(target, peewee.ForeignKeyField):  # an id, converted as the field it points at
        target = target.rel_field
    return node.python_value, _KEPT_AS.get(type(target))
