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

__all__ = ["Statement"]

_Converter = Callable[[Any], Any] | None


class Statement:
    """A query built by ``build(*values)`` whose SQL text is kept per dialect and shape."""

    def __init__(self, name: str, build: Callable[..., peewee.Query], *, pad_lists: bool = False) -> None:
        self.name = name
        self._build = build
        self._pad = pad_lists
        self._compiled: dict[tuple[Any, ...], tuple[str, tuple[_Converter, ...], str]] = {}
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
        if not any(converters):
            return [tuple(row) for row in cursor.fetchall()]
        return [
            tuple(
                value if convert is None or value is None else convert(value) for convert, value in zip(converters, row)
            )
            for row in cursor.fetchall()
        ]

    def _compile(
        self, database: peewee.Database, values: tuple[Any, ...], params: list[Any]
    ) -> tuple[str, tuple[_Converter, ...], str]:
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
        return sql, tuple(_converter(node) for node in getattr(query, "_returning", ())), name


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


def _converter(node: Any) -> _Converter:
    if isinstance(node, peewee.Alias):
        node = node.node
    if isinstance(node, peewee.Field):
        return node.python_value
    return None
