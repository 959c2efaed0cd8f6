"""Schema drift: does the migrated database match the models the code uses?

A plugin's tables are made by its migrations, which carry frozen copies of
its models (``playhouse.migrations``' design). When a model gains a field
and no migration adds the column, nothing fails until a query reads it, on
some backend, in production. :func:`schema_drift` compares, for the kernel
and every enabled plugin, each model with the migrated table:

* a table or a column the model has and the database lacks, or the reverse;
* a column whose kind differs (text, integer, decimal, float, boolean, date,
  time, datetime, binary) as the backend reports it;
* a column that accepts NULL in one and not in the other;
* an index the model declares (``index=True``, ``unique=True``,
  ``Meta.indexes``) that the database lacks, or that is unique in one and
  not in the other.

Lengths, defaults and index names are not compared (backends report them
too differently to be told apart from real drift), and an index the
database has beyond the model's is not reported (MySQL indexes every
foreign key by itself). ``crm doctor`` reports drift; the test kit's
:func:`crm_core.testing.assert_no_schema_drift` lets a plugin's tests fail
on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs
import peewee

from crm_core.schema import KERNEL
from crm_core.storage import dialect

if TYPE_CHECKING:
    from crm_core.context import AppContext

__all__ = ["Drift", "kernel_models", "schema_drift"]


@attrs.frozen
class Drift:
    """One difference: ``owner`` (``crm`` or a plugin), the table, and what differs in words."""

    owner: str
    table: str
    problem: str

    def __str__(self) -> str:
        return f"{self.owner}: {self.table}: {self.problem}"


#: the kind of a column, from the type name a backend reports or a field renders
_KINDS = (
    ("bool", "boolean"),
    ("tinyint(1)", "boolean"),
    ("timestamp", "datetime"),
    ("datetime", "datetime"),
    ("date", "date"),
    ("time", "time"),
    ("interval", "time"),
    ("int", "integer"),
    ("serial", "integer"),
    ("decimal", "decimal"),
    ("numeric", "decimal"),
    ("real", "float"),
    ("double", "float"),
    ("float", "float"),
    ("char", "text"),
    ("text", "text"),
    ("clob", "text"),
    ("json", "text"),
    ("uuid", "text"),
    ("blob", "binary"),
    ("bytea", "binary"),
    ("binary", "binary"),
)


def _kind(type_name: str) -> str:
    name = type_name.lower().strip()
    for marker, kind in _KINDS:
        if name.startswith(marker) or marker in name.split("(")[0]:
            return kind
    return name


def kernel_models() -> list[type[peewee.Model]]:
    """The kernel's own models (``crm_*`` tables)."""
    from crm_core import models
    from crm_core.auth import models as auth_models
    from crm_core.mail import models as mail_models
    from crm_core.worker import models as worker_models

    found: list[type[peewee.Model]] = []
    for module in (models, mail_models, worker_models, auth_models):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, peewee.Model) and value.__module__ == module.__name__:
                found.append(value)
    return found


def _owned(app: AppContext) -> list[tuple[str, list[type[peewee.Model]]]]:
    out: list[tuple[str, list[type[peewee.Model]]]] = [(KERNEL, kernel_models())]
    out += [(name, list(schema.models)) for name, schema in app.hooks.schemas()]
    return out


def schema_drift(app: AppContext) -> list[Drift]:
    """Every difference between the migrated database and the models of the kernel and the enabled plugins."""
    database = app.database
    with app.activate():
        tables = set(database.get_tables())
        drift: list[Drift] = []
        for owner, models in _owned(app):
            for model in models:
                drift += _compare(owner, model, database, tables)
    return drift


def _compare(owner: str, model: type[peewee.Model], database: peewee.Database, tables: set[str]) -> list[Drift]:
    table = model._meta.table_name
    if table not in tables:
        return [
            Drift(owner, table, "the model's table is missing: run 'crm migrate', or add a migration that creates it")
        ]
    out = [Drift(owner, table, problem) for problem in _columns(model, database) + _indexes(model, database)]
    return out


def _field_type(field: peewee.Field, database: peewee.Database) -> str:
    if isinstance(field, peewee.ForeignKeyField):
        return _field_type(field.rel_field, database)
    if field.field_type in ("AUTO", "BIGAUTO"):  # rendered by each backend's own DDL (SERIAL, AUTO_INCREMENT…)
        return "INTEGER"
    return str(database.field_types.get(field.field_type, field.field_type))


def _columns(model: type[peewee.Model], database: peewee.Database) -> list[str]:
    live = {c.name: c for c in database.get_columns(model._meta.table_name)}
    mysql = dialect(database) == "mysql"
    problems: list[str] = []
    fields = {f.column_name: f for f in model._meta.sorted_fields}
    for name, field in fields.items():
        column = live.get(name)
        if column is None:
            problems.append(f"column {name!r} of the model is missing: add a migration that adds it")
            continue
        want, have = _kind(_field_type(field, database)), _kind(column.data_type)
        if mysql and want == "boolean":  # MySQL reports BOOL columns as plain tinyint
            want = "integer"
        if want != have:
            problems.append(
                f"column {name!r} is {have} in the database but {want} in the model ({type(field).__name__})"
            )
        if not column.primary_key and bool(column.null) != bool(field.null):
            problems.append(
                f"column {name!r} {'accepts' if column.null else 'refuses'} NULL in the database "
                f"but the model says null={bool(field.null)}"
            )
    for name in sorted(set(live) - set(fields)):
        problems.append(
            f"column {name!r} is in the database but not in the model: add it to the model, or drop it in a migration"
        )
    return problems


def _declared_indexes(model: type[peewee.Model]) -> dict[tuple[str, ...], bool]:
    declared: dict[tuple[str, ...], bool] = {}
    for field in model._meta.sorted_fields:
        if field.primary_key:
            continue
        if field.unique or field.index:
            declared[(field.column_name,)] = bool(field.unique)
    for entry in model._meta.indexes or ():
        if isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], (tuple, list)):
            columns = tuple(model._meta.fields[c].column_name if c in model._meta.fields else c for c in entry[0])
            declared[columns] = bool(entry[1])
    return declared


def _indexes(model: type[peewee.Model], database: peewee.Database) -> list[str]:
    live: dict[tuple[str, ...], bool] = {}
    for index in database.get_indexes(model._meta.table_name):
        columns = tuple(index.columns)
        live[columns] = live.get(columns, False) or bool(index.unique)
    problems = []
    for columns, unique in _declared_indexes(model).items():
        shown = ", ".join(columns)
        if columns not in live:
            problems.append(
                f"the model's {'unique ' if unique else ''}index on ({shown}) is missing: add it in a migration"
            )
        elif live[columns] != unique:
            problems.append(
                f"the index on ({shown}) is {'unique' if live[columns] else 'not unique'} in the database "
                f"but {'unique' if unique else 'not unique'} in the model"
            )
    return problems


def describe(drift: Iterable[Drift]) -> str:
    """One line per difference, for messages."""
    return "\n".join(str(d) for d in drift)
