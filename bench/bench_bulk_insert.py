"""The kernel's bulk insert (``crm_core.storage.bulk_insert``) against plain drivers.

SQLite: 1,000,000 nine-column rows (ints, text, a date, a float: a typical
contact import) into a fresh database file, by

* ``bulk_insert`` (the kernel's path, on a database made by
  ``crm_core.storage.connect``: WAL, synchronous=normal, IMMEDIATE
  transactions),
* plain ``sqlite3`` ``executemany`` of the same rows into the same schema,
  with the same pragmas, in one transaction: the baseline,
* peewee's ``Model.insert_many`` in batches of 1,000 rows (within SQLite's
  variable limit), on a tenth of the rows (it is slow), scaled to rows/s,

run in alternation, median of the repeats. Target (issue 2): bulk_insert
reaches at least 0.6x the rows/s of sqlite3 executemany.

It also checks that every statement bulk_insert sends stays within the
database's limits (bound variables on SQLite; values per statement on
PostgreSQL; statement bytes against max_allowed_packet on MySQL).

When ``CRM_TEST_POSTGRES_URL`` / ``CRM_TEST_MYSQL_URL`` are set, the same
is timed on those servers (fewer rows) against the driver's own
``executemany``: the table ``bench_contact`` is created in that database and
dropped afterwards.

    python -m bench.bench_bulk_insert [--quick] [--rows N] [--repeat N]
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench._timing import Figure, median, parse_args, print_table, section, timed

TARGET_RATIO = 0.6
TABLE = "bench_contact"
COLUMNS = ("account_id", "first_name", "last_name", "email", "city", "country", "birth_date", "score", "visits")
PRAGMAS = {"journal_mode": "wal", "synchronous": "normal", "foreign_keys": 1}
SQLITE_DDL = f"""CREATE TABLE {TABLE} (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL,
    city TEXT,
    country TEXT,
    birth_date DATE,
    score REAL,
    visits INTEGER NOT NULL
)"""
SERVER_DDL = {
    "postgresql": f"""CREATE TABLE {TABLE} (
        id BIGSERIAL PRIMARY KEY, account_id INTEGER NOT NULL, first_name VARCHAR(100) NOT NULL,
        last_name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL, city VARCHAR(100), country VARCHAR(2),
        birth_date DATE, score DOUBLE PRECISION, visits INTEGER NOT NULL)""",
    "mysql": f"""CREATE TABLE {TABLE} (
        id BIGINT AUTO_INCREMENT PRIMARY KEY, account_id INTEGER NOT NULL, first_name VARCHAR(100) NOT NULL,
        last_name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL, city VARCHAR(100), country VARCHAR(2),
        birth_date DATE, score DOUBLE, visits INTEGER NOT NULL) CHARACTER SET utf8mb4""",
}
#: the PostgreSQL wire protocol's cap on bind parameters in one statement
POSTGRES_PARAM_LIMIT = 65_535

FIRST = ("Ana", "Luis", "Marta", "Jordi", "Lucía", "Pablo", "Noa", "Hugo", "Sara", "Iker", "Elena", "Mario")
LAST = ("García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Ruiz", "Díaz", "Moreno", "Álvarez", "Romero")
CITIES = ("Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Zaragoza", "Málaga", "Lisboa", "Porto", "Lyon")
COUNTRIES = ("ES", "PT", "FR", "DE", "IT", "GB", "NL")


def make_rows(n: int) -> list[tuple[Any, ...]]:
    """``n`` distinct rows: the values a contact import hands to bulk_insert."""
    epoch = dt.date(1950, 1, 1)
    dates = [(epoch + dt.timedelta(days=d)).isoformat() for d in range(0, 20_000, 7)]
    return [
        (
            i % 20_000 + 1,
            FIRST[i % len(FIRST)],
            LAST[(i // len(FIRST)) % len(LAST)],
            f"person{i}@example.com",
            CITIES[i % len(CITIES)],
            COUNTRIES[i % len(COUNTRIES)],
            dates[i % len(dates)],
            (i % 1000) / 10,
            i % 97,
        )
        for i in range(n)
    ]


# -- SQLite ------------------------------------------------------------------


def _sqlite3_executemany(path: Path, rows: Sequence[tuple[Any, ...]]) -> float:
    con = sqlite3.connect(path, isolation_level=None)
    try:
        for key, value in PRAGMAS.items():
            con.execute(f"PRAGMA {key} = {value}")
        con.execute(SQLITE_DDL)
        sql = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

        def run() -> None:
            con.execute("BEGIN IMMEDIATE")
            con.executemany(sql, rows)
            con.execute("COMMIT")

        seconds, _ = timed(run)
        _check_count(con.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0], len(rows), "sqlite3 executemany")
        return seconds
    finally:
        con.close()


def _kernel_bulk_insert(url: str, rows: Sequence[tuple[Any, ...]], ddl: str, drop: bool = False) -> float:
    from crm_core.storage import bulk_insert, connect

    database = connect(url)
    database.connect()
    try:
        if drop:
            database.execute_sql(f"DROP TABLE IF EXISTS {TABLE}")
        database.execute_sql(ddl)
        seconds, count = timed(lambda: bulk_insert(TABLE, COLUMNS, rows, database=database))
        _check_count(count, len(rows), "bulk_insert (returned)")
        _check_count(database.execute_sql(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0], len(rows), "bulk_insert")
        if drop:
            database.execute_sql(f"DROP TABLE {TABLE}")
        return seconds
    finally:
        database.close()


def _peewee_insert_many(path: Path, rows: Sequence[tuple[Any, ...]]) -> tuple[float, int]:
    import peewee

    database = peewee.SqliteDatabase(str(path), pragmas=PRAGMAS)

    class Contact(peewee.Model):
        account_id = peewee.IntegerField()
        first_name = peewee.TextField()
        last_name = peewee.TextField()
        email = peewee.TextField()
        city = peewee.TextField(null=True)
        country = peewee.TextField(null=True)
        birth_date = peewee.DateField(null=True)
        score = peewee.FloatField(null=True)
        visits = peewee.IntegerField()

        class Meta:
            table_name = TABLE

    database.bind([Contact])
    database.connect()
    try:
        database.execute_sql(SQLITE_DDL)
        limit = database.connection().getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        # 1,000 rows a statement was its fastest here (larger pages are slower), within the variable limit
        per_batch = max(1, min(1000, limit // len(COLUMNS)))
        fields = [getattr(Contact, c) for c in COLUMNS]

        def run() -> None:
            with database.atomic():
                for batch in peewee.chunked(rows, per_batch):
                    Contact.insert_many(batch, fields=fields).execute()

        seconds, _ = timed(run)
        _check_count(Contact.select().count(), len(rows), "peewee insert_many")
        return seconds, per_batch
    finally:
        database.close()


def _check_count(got: int, want: int, what: str) -> None:
    if got != want:
        raise SystemExit(f"{what}: {got} rows stored, {want} expected")


class _RecordingCursor:
    """Wraps a DB-API cursor and records what bulk_insert sends through it."""

    def __init__(self, cursor: Any, log: dict[str, Any]) -> None:
        self._cursor = cursor
        self._log = log
        try:  # PyMySQL's executemany calls self.execute for each multi-row statement
            real_execute = cursor.execute

            def execute(query: Any, *args: Any) -> Any:
                self._note(query)
                return real_execute(query, *args)

            cursor.execute = execute
        except AttributeError:  # C cursors (sqlite3, psycopg2) are wrapped below instead
            pass

    def _note(self, query: Any) -> None:
        log = self._log
        if query[:6].upper() not in ("INSERT", b"INSERT"):
            return  # BEGIN, SAVEPOINT ...
        log["statements"] += 1
        log["max_bytes"] = max(log["max_bytes"], len(query))
        log["max_rows"] = max(log["max_rows"], log.pop("pending_rows", 0))

    def mogrify(self, *args: Any) -> Any:  # psycopg2's execute_values: one call per row of a page
        self._log["pending_rows"] = self._log.get("pending_rows", 0) + 1
        return self._cursor.mogrify(*args)

    def execute(self, query: Any, *args: Any) -> Any:
        self._note(query)
        return self._cursor.execute(query, *args)

    def executemany(self, query: str, rows: Any) -> Any:
        log = self._log
        log["max_placeholders"] = max(log["max_placeholders"], query.count("?"), query.count("%s"))
        log["executemany"] += 1
        return self._cursor.executemany(query, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def _statement_check(url: str, ddl: str, rows: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
    """Run bulk_insert once with its cursor recorded; return what it sent and the server's limit."""
    from crm_core.storage import bulk_insert, connect, dialect

    database = connect(url)
    database.connect()
    log: dict[str, Any] = dict(statements=0, executemany=0, max_bytes=0, max_rows=0, max_placeholders=0)
    real_cursor = database.cursor
    database.cursor = lambda *a, **k: _RecordingCursor(real_cursor(*a, **k), log)  # type: ignore[method-assign]
    try:
        database.execute_sql(f"DROP TABLE IF EXISTS {TABLE}")
        database.execute_sql(ddl)
        bulk_insert(TABLE, COLUMNS, rows, database=database)
        database.cursor = real_cursor  # type: ignore[method-assign]
        kind = dialect(database)
        if kind == "sqlite":
            log["limit"] = database.connection().getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        elif kind == "mysql":
            log["limit"] = int(database.execute_sql("SELECT @@max_allowed_packet").fetchone()[0])
        else:
            log["limit"] = POSTGRES_PARAM_LIMIT
        database.execute_sql(f"DROP TABLE {TABLE}")
        log["kind"] = kind
        return log
    finally:
        database.cursor = real_cursor  # type: ignore[method-assign]
        database.close()


def _print_check(log: dict[str, Any]) -> bool:
    kind, limit = log["kind"], log["limit"]
    if kind == "sqlite":
        used = log["max_placeholders"]
        ok = used <= limit
        print(
            f"  sqlite: {log['executemany']} executemany batches; at most {used} bound variables per statement "
            f"(SQLITE_LIMIT_VARIABLE_NUMBER = {limit:,}): {'ok' if ok else 'OVER THE LIMIT'}"
        )
    elif kind == "postgresql":
        used = log["max_rows"] * len(COLUMNS)
        ok = used <= limit
        print(
            f"  postgresql: {log['statements']} multi-row statements of at most {log['max_rows']} rows "
            f"= {used:,} values, inlined by execute_values (0 bind parameters; cap {limit:,}): {'ok' if ok else 'OVER'}"
        )
    else:
        used = log["max_bytes"]
        ok = used <= limit
        print(
            f"  mysql: {log['statements']} multi-row statements, the largest {used:,} bytes "
            f"(max_allowed_packet = {limit:,}): {'ok' if ok else 'OVER THE LIMIT'}"
        )
    return ok


def _rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else float("inf")


def bench_sqlite(n: int, repeat: int, tmp: Path) -> list[Figure]:
    section(f"SQLite: {n:,} rows x {len(COLUMNS)} columns")
    print(f"columns: {', '.join(COLUMNS)}; pragmas: {PRAGMAS}; one transaction per run")
    print("generating rows ...", flush=True)
    rows = make_rows(n)
    peewee_n = max(1, n // 10)
    peewee_rows = rows[:peewee_n]

    print("checking the statements bulk_insert sends:")
    ok = _print_check(_statement_check(f"sqlite:///{tmp / 'check.db'}", SQLITE_DDL, rows[: min(n, 20_000)]))

    kernel_t: list[float] = []
    base_t: list[float] = []
    peewee_t: list[float] = []
    per_batch = 0

    def run_sqlite3(i: int) -> None:
        base_t.append(_sqlite3_executemany(tmp / f"run{i}-sqlite3.db", rows))

    def run_kernel(i: int) -> None:
        kernel_t.append(_kernel_bulk_insert(f"sqlite:///{tmp / f'run{i}-kernel.db'}", rows, SQLITE_DDL))

    def run_peewee(i: int) -> None:
        nonlocal per_batch
        seconds, per_batch = _peewee_insert_many(tmp / f"run{i}-peewee.db", peewee_rows)
        peewee_t.append(seconds)

    methods = [run_sqlite3, run_kernel, run_peewee]
    for i in range(repeat):
        for f in tmp.glob("run*"):
            f.unlink()
        # alternate, and rotate who goes first, so that all three see the same noise
        for method in methods[i % 3 :] + methods[: i % 3]:
            method(i)
        print(
            f"  run {i + 1}/{repeat}: sqlite3 {base_t[-1]:.2f} s, bulk_insert {kernel_t[-1]:.2f} s, "
            f"peewee insert_many ({peewee_n:,} rows) {peewee_t[-1]:.2f} s",
            flush=True,
        )
    base = _rate(n, median(base_t))
    figures = [
        Figure(
            "bulk_insert (crm_core.storage)",
            _rate(n, median(kernel_t)),
            "rows/s",
            n=f"{n:,} x{repeat}",
            baseline=base,
            baseline_name="sqlite3 executemany",
            higher_is_better=True,
            target_ratio=TARGET_RATIO,
        ),
        Figure(
            f"peewee insert_many ({per_batch:,} rows/statement)",
            _rate(peewee_n, median(peewee_t)),
            "rows/s",
            n=f"{peewee_n:,} x{repeat}",
            baseline=base,
            baseline_name="sqlite3 executemany",
            higher_is_better=True,
        ),
        Figure("sqlite3 executemany (baseline)", base, "rows/s", n=f"{n:,} x{repeat}"),
    ]
    print_table(
        f"SQLite bulk insert, median rows/s (median times: bulk_insert {median(kernel_t):.2f} s, "
        f"sqlite3 {median(base_t):.2f} s, peewee {median(peewee_t):.2f} s for {peewee_n:,})",
        figures,
    )
    if not ok:
        raise SystemExit("bulk_insert sent a statement over the database's limit")
    return figures


# -- PostgreSQL and MySQL ----------------------------------------------------


def _naive_executemany(url: str, kind: str, rows: Sequence[tuple[Any, ...]]) -> float:
    """The driver's own executemany of a one-row INSERT, in one transaction."""
    from crm_core.storage import connect

    database = connect(url)
    database.connect()
    try:
        database.execute_sql(f"DROP TABLE IF EXISTS {TABLE}")
        database.execute_sql(SERVER_DDL[kind])
        sql = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"

        def run() -> None:
            with database.atomic():
                database.cursor().executemany(sql, rows)

        seconds, _ = timed(run)
        _check_count(
            database.execute_sql(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0], len(rows), f"{kind} executemany"
        )
        database.execute_sql(f"DROP TABLE {TABLE}")
        return seconds
    finally:
        database.close()


def bench_server(kind: str, url: str, n: int, repeat: int) -> list[Figure]:
    from crm_core.storage import describe_url

    # PostgreSQL's executemany is one round trip per row: time it on fewer rows
    naive_n = max(1, n // 10) if kind == "postgresql" else n
    section(f"{kind}: {n:,} rows ({describe_url(url)})")
    rows = make_rows(n)
    print("checking the statements bulk_insert sends:")
    ok = _print_check(_statement_check(url, SERVER_DDL[kind], rows[: min(n, 20_000)]))
    kernel_t: list[float] = []
    naive_t: list[float] = []
    for i in range(repeat):
        naive_t.append(_naive_executemany(url, kind, rows[:naive_n]))
        kernel_t.append(_kernel_bulk_insert(url, rows, SERVER_DDL[kind], drop=True))
        print(
            f"  run {i + 1}/{repeat}: executemany ({naive_n:,} rows) {naive_t[-1]:.2f} s, bulk_insert {kernel_t[-1]:.2f} s",
            flush=True,
        )
    naive = _rate(naive_n, median(naive_t))
    driver = "psycopg2" if kind == "postgresql" else "PyMySQL"
    figures = [
        Figure(
            "bulk_insert (crm_core.storage)",
            _rate(n, median(kernel_t)),
            "rows/s",
            n=f"{n:,} x{repeat}",
            baseline=naive,
            baseline_name=f"{driver} executemany",
            higher_is_better=True,
        ),
        Figure(f"{driver} executemany (baseline)", naive, "rows/s", n=f"{naive_n:,} x{repeat}"),
    ]
    print_table(f"{kind} bulk insert, median rows/s", figures)
    if not ok:
        raise SystemExit(f"bulk_insert sent a statement over {kind}'s limit")
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(
        argv,
        "crm_core.storage.bulk_insert against sqlite3 executemany and peewee insert_many",
        add=lambda p: (
            p.add_argument("--rows", type=int, default=None, help="SQLite rows (default 1,000,000; quick 100,000)"),
            p.add_argument("--repeat", type=int, default=None, help="runs of each method (default 3)"),
            p.add_argument(
                "--server-rows", type=int, default=None, help="rows on PostgreSQL/MySQL (default 100,000; quick 10,000)"
            ),
        ),
    )
    n = args.rows or (100_000 if args.quick else 1_000_000)
    server_n = args.server_rows or (10_000 if args.quick else 100_000)
    repeat = args.repeat or 3
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        bench_sqlite(n, repeat, Path(tmp))
    servers: list[tuple[str, Callable[[], str | None]]] = [
        ("postgresql", lambda: os.environ.get("CRM_TEST_POSTGRES_URL")),
        ("mysql", lambda: os.environ.get("CRM_TEST_MYSQL_URL")),
    ]
    for kind, get_url in servers:
        url = get_url()
        if url:
            bench_server(kind, url, server_n, repeat)
        else:
            var = "CRM_TEST_POSTGRES_URL" if kind == "postgresql" else "CRM_TEST_MYSQL_URL"
            print(f"\n({kind} skipped: set {var} to a throw-away database to time it)")


if __name__ == "__main__":
    main()
