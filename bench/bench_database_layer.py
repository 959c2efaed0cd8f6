"""The kernel's database layer: what error translation and reconnects cost per statement.

Every query of the project goes through ``crm_core.database`` (errors turned
into CRMErrors, dropped connections replaced; issue 13). This measures a
model read by primary key outside a transaction, the same read inside one,
and a one-row update in its own transaction, through the kernel's database
class and, as the baseline, through peewee's own class on the same file
(or server), in alternation. Target: the kernel's class keeps >= 0.8x the
baseline's operations per second on each.

With ``CRM_TEST_POSTGRES_URL`` / ``CRM_TEST_MYSQL_URL`` set, the same on
those servers (the table ``bench_layer`` is created and dropped there).

    python -m bench.bench_database_layer [--quick]
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import peewee

from bench._timing import Figure, median, parse_args, print_table, section

TARGET = 0.8


def _plain_twin(database: Any) -> peewee.Database:
    """peewee's own class for the same database and parameters (no kernel layer)."""
    for base in type(database).__mro__:
        if base.__module__ == "peewee" and base is not peewee.Database:
            kwargs = dict(database.connect_params)
            if isinstance(database, peewee.SqliteDatabase):
                kwargs.update(pragmas=database._pragmas, lock_type="IMMEDIATE")
            return base(database.database, **kwargs)
    raise TypeError(type(database).__name__)


def _operations(database: peewee.Database, rows: int) -> dict[str, Callable[[int], None]]:
    class Row(peewee.Model):
        value = peewee.IntegerField()

        class Meta:
            table_name = "bench_layer"

    Row._meta.set_database(database)

    def read(n: int) -> None:
        for i in range(n):
            Row.get_by_id(i % rows + 1)

    def read_in_transaction(n: int) -> None:
        with database.atomic():
            for i in range(n):
                Row.get_by_id(i % rows + 1)

    def update_transactions(n: int) -> None:
        for i in range(n):
            with database.atomic():
                Row.update(value=Row.value + 1).where(Row.id == i % rows + 1).execute()

    return {
        "read by id, no transaction": read,
        "read by id, in a transaction": read_in_transaction,
        "one-row update transaction": update_transactions,
    }


def _run(url: str, label: str, n: int, repeat: int) -> list[Figure]:
    from crm_core.storage import connect

    kernel = connect(url)
    plain = _plain_twin(kernel)
    rows = 1000
    kernel.execute_sql("DROP TABLE IF EXISTS bench_layer")
    kernel.execute_sql("CREATE TABLE bench_layer (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
    with kernel.atomic():
        for start in range(0, rows, 500):
            values = ", ".join(f"({i + 1}, 0)" for i in range(start, min(rows, start + 500)))
            kernel.execute_sql(f"INSERT INTO bench_layer (id, value) VALUES {values}")
    ops = {"kernel": _operations(kernel, rows), "peewee": _operations(plain, rows)}
    times: dict[tuple[str, str], list[float]] = {}
    try:
        for r in range(repeat):
            for name in ops["kernel"]:
                count = n if "update" not in name else max(1, n // 10)
                for who in ("peewee", "kernel") if r % 2 else ("kernel", "peewee"):
                    start = time.perf_counter()
                    ops[who][name](count)
                    times.setdefault((who, name), []).append(count / (time.perf_counter() - start))
    finally:
        kernel.execute_sql("DROP TABLE IF EXISTS bench_layer")
        kernel.close()
        plain.close()
    return [
        Figure(
            f"{label}: {name}",
            median(times[("kernel", name)]),
            "ops/s",
            str(n if "update" not in name else max(1, n // 10)),
            baseline=median(times[("peewee", name)]),
            baseline_name="peewee's own class",
            higher_is_better=True,
            target_ratio=TARGET,
        )
        for name in ops["kernel"]
    ]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv, __doc__.splitlines()[0])
    n = 2_000 if args.quick else 20_000
    repeat = 3 if args.quick else 7
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as folder:
        section(f"SQLite: {n} operations per figure, {repeat} runs in alternation")
        figures += _run(f"sqlite:///{Path(folder) / 'bench.db'}", "SQLite", n, repeat)
    for label, var in (("PostgreSQL", "CRM_TEST_POSTGRES_URL"), ("MariaDB", "CRM_TEST_MYSQL_URL")):
        url = os.environ.get(var)
        if url:
            section(f"{label}: {n // 4} operations per figure, {repeat} runs in alternation")
            figures += _run(url, label, n // 4, repeat)
    print_table("Database layer: the kernel's class against peewee's own", figures)


if __name__ == "__main__":
    main()
