"""What a change adds to and takes from the summary tables, and the one statement that applies it.

A change is described as contributions: each source row (a sales fact, a
contact's interval, an event…) *contributes* whole numbers to some keys of
some summary tables. :class:`Deltas` adds up the contributions of the rows
before a change (with sign -1) and after it (+1), so what is left is the
difference; :func:`apply` writes it with one upsert per table
(``INSERT … ON CONFLICT (summary_key) DO UPDATE SET n = n + excluded.n``,
``ON DUPLICATE KEY UPDATE`` on MariaDB), in key order so that concurrent
writers lock rows in the same order, and deletes the keys that came back to
0. The same arithmetic serves a write of one record and a rebuild of them all.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.storage import batched, dialect
from crm_warehouse.summaries.models import (
    ActivitySummaryRow,
    OpenSalesSummaryRow,
    PipelineSummaryRow,
    SalesSummaryRow,
    StatusSummaryRow,
    SurveySummaryRow,
)

if TYPE_CHECKING:
    import peewee

__all__ = ["ACTIVITY", "Deltas", "OPEN_SALES", "PIPELINE", "SALES", "SPECS", "STATUS", "SURVEYS", "Spec", "apply"]

DAY, MONTH = "day", "month"


@attrs.frozen
class Spec:
    """A summary table: its key columns (besides ``dims``, ``span`` and ``day``) and its measures."""

    model: Any
    #: the key columns, in this order in every key tuple (after ``dims`` and ``span``, ``day`` when present)
    columns: tuple[str, ...]
    measures: tuple[str, ...]
    #: keyed by ``span`` and ``day`` (one row per day and one per month)
    timed: bool = True
    #: the columns that ``dims`` may leave out (added up), and each combination kept
    rolled: tuple[str, ...] = ()
    rollups: tuple[tuple[str, ...], ...] = ()
    #: the primary key's columns: how the table is stored
    clustered: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        name: str = self.model._meta.table_name
        return name

    @property
    def key_columns(self) -> tuple[str, ...]:
        head = ("dims",) if self.rollups else ()
        return (*head, *(("span", "day") if self.timed else ()), *self.columns)


SALES = Spec(
    SalesSummaryRow,
    ("measure", "kind", "currency", "outcome", "region", "owner", "product_line"),
    ("records", "amount_e4"),
    rolled=("region", "owner", "product_line"),
    rollups=((), ("region",), ("owner",), ("product_line",)),
    clustered=("dims", "measure", "span", "day", "summary_key"),
)
OPEN_SALES = Spec(
    OpenSalesSummaryRow, ("stage", "currency", "owner", "probability"), ("records", "amount_e4"), timed=False
)
PIPELINE = Spec(
    PipelineSummaryRow,
    ("measure", "currency", "stages"),
    ("records", "stay_us"),
    clustered=("span", "day", "summary_key"),
)
STATUS = Spec(
    StatusSummaryRow,
    ("status", "region", "country"),
    ("starts", "ends", "gained", "lost"),
    rolled=("region", "country"),
    rollups=((), ("region",), ("country",), ("region", "country")),
    clustered=("dims", "span", "day", "summary_key"),
)
ACTIVITY = Spec(ActivitySummaryRow, ("type", "action", "staff"), ("records",), clustered=("span", "day", "summary_key"))
SURVEYS = Spec(
    SurveySummaryRow,
    ("measure", "survey_id", "region", "question", "score", "delay_days"),
    ("records",),
    clustered=("measure", "span", "day", "summary_key"),
)
SPECS = (SALES, OPEN_SALES, PIPELINE, STATUS, ACTIVITY, SURVEYS)


def summary_key(values: tuple[Any, ...]) -> str:
    """The hash of a whole key, NULLs included (``None`` and ``""`` differ): the unique column upserts name.

    The key's ``repr`` (texts quoted, numbers, dates, ``None``) is unambiguous;
    every writer gives each column the same Python type (a date is a
    ``datetime.date``, a score a float).
    """
    return hashlib.blake2b(repr(values).encode("utf-8"), digest_size=16).hexdigest()


class Deltas:
    """Contributions added up per table and key; what remains is what a change does to the summaries.

    They are added up per day and full key first; :meth:`rows` then adds
    each up into its month and into every ``dims`` the table keeps, so a
    million contributions to a few thousand days cost a few thousand
    roll-ups, not a million.
    """

    def __init__(self) -> None:
        #: per table: ``(day, *values)`` -> measures
        self.by_spec: dict[Spec, dict[tuple[Any, ...], list[int]]] = {}

    def add(self, spec: Spec, day: dt.date | None, values: Sequence[Any], measures: Sequence[int], sign: int) -> None:
        """Add ``sign`` times ``measures`` to the key ``values`` (``spec.columns`` order) on ``day`` and its month."""
        if spec.timed and day is None:
            raise ValueError(f"{spec.table} is summed per day: a contribution needs its day")
        table = self.by_spec.get(spec)
        if table is None:
            table = self.by_spec[spec] = {}
        key = (day, *values)
        found = table.get(key)
        if found is None:
            table[key] = [sign * m for m in measures]
        else:
            for i, m in enumerate(measures):
                found[i] += sign * m

    def keys(self, spec: Spec) -> dict[tuple[Any, ...], list[int]]:
        """The table's keys as its rows have them (``dims``, ``span``, ``day``, columns) and their measures."""
        out: dict[tuple[Any, ...], list[int]] = {}
        masks = _masks(spec)
        for (day, *values), measures in self.by_spec.get(spec, {}).items():
            spans = ((DAY, day), (MONTH, day.replace(day=1))) if day is not None else ((),)
            for head, keep in masks:
                kept = tuple(values) if keep is None else tuple([v if k else None for v, k in zip(values, keep)])
                for span in spans:
                    key = head + span + kept
                    found = out.get(key)
                    if found is None:
                        out[key] = list(measures)
                    else:
                        for i, m in enumerate(measures):
                            found[i] += m
        return out

    def __bool__(self) -> bool:
        return any(any(any(m) for m in table.values()) for table in self.by_spec.values())

    def rows(self, spec: Spec, *, clustered: bool = False) -> list[tuple[Any, ...]]:
        """The table's changed keys as rows (``summary_key``, key columns, measures).

        In ``summary_key`` order (concurrent upserts lock rows in one order),
        or, ``clustered``, in the table's primary key order (a rebuild's
        inserts then append to its B-tree).
        """
        out = [(summary_key(key), *key, *m) for key, m in self.keys(spec).items() if any(m)]
        if clustered and spec.clustered:
            at = [0 if c == "summary_key" else 1 + spec.key_columns.index(c) for c in spec.clustered]
            out.sort(key=lambda row: tuple(row[i] for i in at))
        else:
            out.sort(key=lambda row: row[0])
        return out


@functools.cache
def _masks(spec: Spec) -> tuple[tuple[tuple[str, ...], tuple[bool, ...] | None], ...]:
    """Each ``dims`` of the table (as the key's head) and which columns it keeps (``None``: no ``dims``)."""
    if not spec.rollups:
        return (((), None),)
    return tuple(
        ((",".join(kept),), tuple(c not in spec.rolled or c in kept for c in spec.columns)) for kept in spec.rollups
    )


def apply(database: peewee.Database, deltas: Deltas) -> None:
    """Add ``deltas`` to the summary tables: one upsert per table, then the keys back at 0 deleted."""
    for spec in SPECS:
        rows = deltas.rows(spec)
        if rows:
            _upsert_add(database, spec, rows)
            if any(row[-i] < 0 for row in rows for i in range(1, len(spec.measures) + 1)):
                _delete_zeros(database, spec, [row[0] for row in rows])


def insert(database: peewee.Database, spec: Spec, rows: Iterable[Sequence[Any]]) -> int:
    """Insert new keys (a rebuild, into an empty table): ``rows`` as :meth:`Deltas.rows` gives them."""
    from crm_core.storage import bulk_insert

    columns = ("summary_key", *spec.key_columns, *spec.measures)
    return bulk_insert(spec.table, columns, _stored(database, spec, rows), database=database)


def _stored(database: peewee.Database, spec: Spec, rows: Iterable[Sequence[Any]]) -> Iterable[Sequence[Any]]:
    """Days as SQLite stores them (ISO text); the server drivers adapt dates themselves."""
    if dialect(database) != "sqlite" or not spec.timed:
        return rows
    i = 1 + spec.key_columns.index("day")
    return ((*row[:i], row[i].isoformat(), *row[i + 1 :]) for row in rows)


def _quote(database: peewee.Database, name: str) -> str:
    return f"{database.quote[0]}{name}{database.quote[1]}"


def _upsert_add(database: peewee.Database, spec: Spec, rows: list[tuple[Any, ...]]) -> None:
    kind = dialect(database)
    q = lambda name: _quote(database, name)  # noqa: E731
    table = q(spec.table)
    columns = ("summary_key", *spec.key_columns, *spec.measures)
    head = f"INSERT INTO {table} ({', '.join(q(c) for c in columns)}) VALUES "
    if kind == "mysql":
        tail = " ON DUPLICATE KEY UPDATE " + ", ".join(f"{q(m)} = {q(m)} + VALUES({q(m)})" for m in spec.measures)
    else:
        sets = ", ".join(f"{q(m)} = {table}.{q(m)} + excluded.{q(m)}" for m in spec.measures)
        tail = f" ON CONFLICT ({q('summary_key')}) DO UPDATE SET {sets}"
    one = "(" + ", ".join([database.param] * len(columns)) + ")"
    # up to 999 values a statement: SQLite's oldest limit, and small enough for any server
    for chunk in batched(_stored(database, spec, rows), max(1, 999 // len(columns))):
        params = [value for row in chunk for value in row]
        database.execute_sql(head + ", ".join([one] * len(chunk)) + tail, params)


def _delete_zeros(database: peewee.Database, spec: Spec, keys: list[str]) -> None:
    q = lambda name: _quote(database, name)  # noqa: E731
    zero = " AND ".join(f"{q(m)} = 0" for m in spec.measures)
    for chunk in batched(keys, 500):
        marks = ", ".join([database.param] * len(chunk))
        database.execute_sql(f"DELETE FROM {q(spec.table)} WHERE {q('summary_key')} IN ({marks}) AND {zero}", chunk)
