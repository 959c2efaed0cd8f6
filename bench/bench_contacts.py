"""Contacts: import, export and search of 1,000,000 contacts on SQLite (issue 4).

    python -m bench.bench_contacts            # 1,000,000 contacts
    python -m bench.bench_contacts --quick    # 50,000: a smoke run, not a measurement
    python -m bench.bench_contacts --database postgresql://…/throwaway   # 200,000 on a server (its tables are dropped)

1. A CSV of N people is generated (names with accents, an e-mail on one of
   200 domains, a Spanish mobile written internationally for 80% of rows
   and nationally for the rest, an address, tags; 0.5% of rows repeat an
   earlier row's e-mail, so matching folds them).
2. It is imported end to end with ``import_csv`` as ``crm contacts import``
   runs it (validation in one process per core, matching on id, external
   id, e-mail and phone, events in the outbox): rows/s, each phase's time,
   peak memory (``ru_maxrss`` of this process and of the validation
   workers). The baseline: plain ``sqlite3`` ``executemany`` of the same
   rows' nine columns into a table with no other index, in one
   transaction, timed before and after the import (median; the file is
   read in chunks that are not timed). Target: at least 0.07x its rows/s.
3. The database write part (the import's INSERT statements) against plain
   ``sqlite3`` ``executemany`` of the same rows into the same schema (every
   table the import's write phase fills: contacts, e-mails, phones,
   addresses, tags, custom fields and the name words of name search), batch
   by batch with a commit each, in the same run; the commits are timed
   apart on both sides (the import's also carries its outbox's pages) and
   printed with the ratio they give.
4. ``export_csv`` of every contact against plain ``sqlite3`` ``fetchall``
   of the same join plus ``csv.writer``, alternated, median of 3.
5. ``search(email=…)`` and ``search(phone=…)`` for 200 random contacts each:
   the median time, and the query plan (which index SQLite uses).
6. Validation per row (``validate_rows`` in this process, warm caches) and
   ``to_payload`` per ``ContactCreated``, in microseconds.

With ``--database URL`` (PostgreSQL or MariaDB, a throw-away database: its
tables are dropped) it measures the import alone on that server against
the server's own bulk path, alternated (``bench/_contacts_server.py``).
"""

from __future__ import annotations

import csv
import os
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._timing import Figure, parse_args, print_table, section

ROWS = 1_000_000
QUICK_ROWS = 50_000
#: contacts imported on a server (--database)
SERVER_ROWS = 200_000
SEARCHES = 200
HEADER = [
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "city",
    "postal_code",
    "address_country",
    "country",
    "region",
    "status",
    "owner",
    "tags",
]
FIRST = [
    "Ana",
    "María",
    "Lucía",
    "Javier",
    "José",
    "Álvaro",
    "Sofía",
    "Íñigo",
    "Nuria",
    "Jordi",
    "Pablo",
    "Carmen",
    "Hugo",
    "Léa",
    "Zoé",
]
LAST = [
    "García",
    "Martínez",
    "López",
    "Sánchez",
    "Pérez",
    "Gómez",
    "Fernández",
    "Ruiz",
    "Núñez",
    "Iglesias",
    "Vidal",
    "Moreno",
]
CITIES = [
    ("Madrid", "28001", "Centro"),
    ("Barcelona", "08001", "Noreste"),
    ("Sevilla", "41001", "Sur"),
    ("Bilbao", "48001", "Norte"),
    ("Valencia", "46001", "Levante"),
]
STREETS = ["Calle Mayor", "Gran Vía", "Paseo de Gracia", "Calle Real", "Avenida de la Constitución"]
DOMAINS = [f"correo{i}.example.es" for i in range(200)]
STATUSES = ["prospect", "customer", "former"]
OWNERS = ["maria", "luis", "sophie", "tom"]
TAGS = ["", "", "vip", "newsletter", "vip,newsletter", "trade-fair"]
#: the export's join, written by hand as a plain sqlite3 user would
EXPORT_SQL = """
SELECT c.id, c.external_id, c.kind, c.display_name, c.first_name, c.last_name, o.display_name, e.address, p.number,
       a.street, a.extra, a.city, a.postal_code, a.region, a.country, c.country, c.region, c.status, c.owner,
       c.language, c.do_not_contact, c.created_at
FROM contacts_contact c
LEFT JOIN contacts_email e ON e.contact_id = c.id AND e.is_primary
LEFT JOIN contacts_phone p ON p.contact_id = c.id AND p.is_primary
LEFT JOIN contacts_address a ON a.contact_id = c.id AND a.is_primary
LEFT JOIN contacts_contact o ON o.id = c.organization_id
WHERE c.deleted_at IS NULL
ORDER BY c.id
"""
#: the import's tables and columns, for the executemany baseline
TABLES = {
    "contacts_contact": None,  # every column
    "contacts_email": ("contact_id", "address", "kind", "is_primary", "verified"),
    "contacts_phone": ("contact_id", "number", "extension", "kind", "is_primary", "verified"),
    "contacts_address": (
        "contact_id",
        "kind",
        "street",
        "extra",
        "city",
        "postal_code",
        "region",
        "country",
        "is_primary",
    ),
    "contacts_tag": ("contact_id", "tag"),
    # the name words the import writes with each contact (name search's index): the same rows on both sides
    "contacts_word": ("contact_id", "word"),
    "contacts_custom": ("contact_id", "key", "value"),
}


def _ascii(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isalnum() and c.isascii()).lower()


def email_of(i: int) -> str:
    rng = random.Random(i)
    first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
    return f"{_ascii(first)}.{_ascii(last)}{i}@{DOMAINS[rng.randrange(len(DOMAINS))]}"


def phone_of(i: int) -> str:
    """A valid Spanish mobile, unique per row, international for 80% of rows."""
    digits = str(600_000_000 + i)
    if i % 5:
        return f"+34 {digits[:3]} {digits[3:6]} {digits[6:]}"
    return f"{digits[:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}"


def write_csv(path: Path, rows: int) -> int:
    """The import file; returns how many distinct contacts it holds."""
    rng = random.Random(4)
    repeats = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            email = email_of(i)
            if i > 1000 and i % 200 == 7:
                email = email_of(i - 1001)  # the same person again, from another source
                repeats += 1
            city, postal, region = CITIES[i % len(CITIES)]
            writer.writerow(
                [
                    f"bench-{i}",
                    FIRST[i % len(FIRST)],
                    LAST[(i // len(FIRST)) % len(LAST)],
                    email,
                    phone_of(i),
                    f"{STREETS[i % len(STREETS)]} {rng.randint(1, 200)}",
                    city,
                    postal,
                    "ES",
                    "ES",
                    region,
                    STATUSES[i % 3],
                    OWNERS[i % 4],
                    TAGS[i % len(TAGS)],
                ]
            )
    return rows - repeats


def make_app(folder: Path) -> Any:
    from crm_core.app import CRM

    app = CRM(
        database=f"sqlite:///{folder / 'crm.db'}", plugins=["contacts"], settings={"contacts": {"default_region": "ES"}}
    )
    app.migrate()
    return app


def _cpu() -> tuple[float]:
    """User + system CPU seconds of this process."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return (me.ru_utime + me.ru_stime,)


def peak_mb() -> tuple[float, float]:
    """Peak resident memory of this process and of its (finished) children, in MB."""
    return (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    )


# -- 2 and 3: import, and the write baseline ------------------------------------


def bench_import(app: Any, path: Path, expected: int) -> tuple[Figure, Figure, dict[str, float]]:
    """The import end to end; the caller fills in the baseline of its rate (measured around it)."""
    contacts = app.plugin("contacts")
    size = path.stat().st_size
    jobs = (os.cpu_count() or 1) if size > 10 * 1024 * 1024 else 1
    cpu_self = _cpu()[0]
    start = time.perf_counter()
    report = contacts.import_csv(path, jobs=jobs, actor="bench")
    seconds = time.perf_counter() - start
    main_cpu = _cpu()[0] - cpu_self
    rows = report.rows
    if report.failed or report.created != expected:
        raise SystemExit(
            f"import went wrong: {report.summary()} (expected {expected} contacts); first errors: {report.errors[:3]}"
        )
    own, children = peak_mb()
    print(f"{report.summary()}")
    print(f"{rows:,} rows in {seconds:.1f} s with {jobs} validation process(es); file {size / 1e6:.0f} MB")
    print(
        "phases (s): "
        + ", ".join(f"{k} {v:.1f}" for k, v in report.timings.items())
        + "  (validate = waiting for the workers when jobs > 1)"
    )
    print(
        f"peak memory: {own:.0f} MB in this process"
        + (f", {children:.0f} MB in the largest finished child" if children else "")
    )
    # a shared machine stretches wall time; CPU time says what the import
    # costs. The validation workers' share is validate_rows' CPU per row
    # (printed below) when jobs > 1.
    print(
        f"CPU of this process: {main_cpu:.1f} s, {main_cpu / rows * 1e6:.0f} µs per row"
        + (f" (validation runs in {jobs} other processes)" if jobs > 1 else " (validation included)")
        + f"; alone on an idle machine this process would allow about {rows / main_cpu:,.0f} rows/s"
    )
    outbox = (
        app.database.execute_sql("SELECT COUNT(*) FROM crm_event").fetchone()[0]
        if "crm_event" in app.database.get_tables()
        else None
    )
    if outbox is not None:
        print(f"events written to the outbox: {outbox:,}")
    rate = Figure(
        "import end to end",
        rows / seconds,
        "rows/s",
        n=f"{rows:,}",
        baseline_name="sqlite3 executemany, 9 columns",
        higher_is_better=True,
        target_ratio=0.07,
    )
    memory = Figure("import peak memory (this process)", own, "MB", n=f"{rows:,}", target_value=300)
    return rate, memory, report.timings


def bench_nine_columns(path: Path, folder: Path) -> float:
    """Seconds of plain ``sqlite3`` ``executemany`` of the file's rows' nine columns, in one transaction.

    The reference the issue's import target is a ratio of: the rows read in
    chunks (not timed) and written into a table with no index but its key.
    """
    from bench._contacts_server import NINE, nine_columns

    target_path = folder / "nine.db"
    target = sqlite3.connect(str(target_path), isolation_level=None)
    for pragma in ("journal_mode = wal", "synchronous = normal"):
        target.execute(f"PRAGMA {pragma}")
    target.execute(f"CREATE TABLE nine (id INTEGER PRIMARY KEY, {', '.join(f'{c} TEXT' for c in NINE)})")
    insert = f"INSERT INTO nine ({', '.join(NINE)}) VALUES ({', '.join('?' * len(NINE))})"
    target.execute("BEGIN IMMEDIATE")
    seconds = 0.0
    for chunk in nine_columns(path):
        start = time.perf_counter()
        target.executemany(insert, chunk)
        seconds += time.perf_counter() - start
    start = time.perf_counter()
    target.execute("COMMIT")
    seconds += time.perf_counter() - start
    target.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(target_path) + suffix).unlink(missing_ok=True)
    return seconds


def bench_write_baseline(app: Any, folder: Path, batch: int) -> tuple[float, float]:
    """``(statements, commits)``: seconds for plain sqlite3 executemany of the imported rows into a copy of the schema, a batch per commit."""
    source = sqlite3.connect(str(folder / "crm.db"))
    target_path = folder / "baseline.db"
    target = sqlite3.connect(str(target_path), isolation_level=None)
    for pragma in ("journal_mode = wal", "synchronous = normal", "foreign_keys = 1"):
        target.execute(f"PRAGMA {pragma}")
    schema = source.execute(
        f"SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name IN ({','.join('?' * len(TABLES))}) ORDER BY type DESC",
        list(TABLES),
    ).fetchall()
    for (sql,) in schema:
        target.execute(sql)
    statements = {}
    for table, columns in TABLES.items():
        if columns is None:
            columns = tuple(r[1] for r in source.execute(f"PRAGMA table_info({table})"))
            where = "id BETWEEN ? AND ?"
        else:
            where = "contact_id BETWEEN ? AND ?"
        cols = ", ".join(columns)
        statements[table] = (
            f"SELECT {cols} FROM {table} WHERE {where} ORDER BY id",
            f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))})",
        )
    low, high = source.execute("SELECT MIN(id), MAX(id) FROM contacts_contact").fetchone()
    total = commits = 0.0
    for first in range(low, high + 1, batch):
        rows = {
            t: source.execute(select, (first, first + batch - 1)).fetchall() for t, (select, _) in statements.items()
        }
        target.execute("BEGIN IMMEDIATE")
        start = time.perf_counter()
        for table, (_, insert) in statements.items():
            target.executemany(insert, rows[table])
        total += time.perf_counter() - start
        start = time.perf_counter()
        target.execute("COMMIT")
        commits += time.perf_counter() - start
    source.close()
    target.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(target_path) + suffix).unlink(missing_ok=True)
    return total, commits


# -- 4: export ----------------------------------------------------------------------


def export_ours(app: Any, path: Path) -> int:
    with path.open("w", encoding="utf-8", newline="") as out:
        return app.plugin("contacts").export_csv(out)


def export_plain(folder: Path, path: Path) -> int:
    connection = sqlite3.connect(str(folder / "crm.db"))
    rows = connection.execute(EXPORT_SQL).fetchall()
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "id",
                "external_id",
                "kind",
                "display_name",
                "first_name",
                "last_name",
                "organization",
                "email",
                "phone",
                "street",
                "extra",
                "city",
                "postal_code",
                "address_region",
                "address_country",
                "country",
                "region",
                "status",
                "owner",
                "language",
                "do_not_contact",
                "created_at",
            ]
        )
        writer.writerows(rows)
    connection.close()
    return len(rows)


def bench_export(app: Any, folder: Path, contacts: int, repeat: int) -> Figure:
    ours, plain = [], []
    path = folder / "export.csv"
    for _ in range(repeat):
        start = time.perf_counter()
        count = export_ours(app, path)
        ours.append(time.perf_counter() - start)
        assert count == contacts, (count, contacts)
        start = time.perf_counter()
        count = export_plain(folder, path)
        plain.append(time.perf_counter() - start)
        assert count == contacts, (count, contacts)
        print(f"export: export_csv {ours[-1]:.2f} s, sqlite3 fetchall + csv.writer {plain[-1]:.2f} s")
    path.unlink(missing_ok=True)
    return Figure(
        "export_csv",
        contacts / statistics.median(ours),
        "rows/s",
        n=f"{contacts:,}",
        baseline=contacts / statistics.median(plain),
        baseline_name="sqlite3 fetchall+csv",
        higher_is_better=True,
        target_ratio=0.5,
    )


# -- 5: search ----------------------------------------------------------------------


def bench_search(app: Any, rows: int) -> list[Figure]:
    contacts = app.plugin("contacts")
    rng = random.Random(11)
    picks = [rng.randrange(rows) for _ in range(SEARCHES)]
    picks = [i for i in picks if not (i > 1000 and i % 200 == 7)]  # rows folded into another contact
    figures = []
    for what, value_of in (("email", email_of), ("phone", phone_of)):
        times = []
        for i in picks:
            value = value_of(i)
            start = time.perf_counter()
            page = contacts.search(**{what: value})
            times.append((time.perf_counter() - start) * 1000)
            if page.total != 1:
                raise SystemExit(f"search {what}={value!r} found {page.total} contacts, expected 1")
        figures.append(
            Figure(f"search by {what}", statistics.median(times), "ms", n=f"{len(picks)} of {rows:,}", target_value=5.0)
        )
    table = {
        "email": ("contacts_email", "address", email_of(picks[0])),
        "phone": ("contacts_phone", "number", "+34" + phone_of(picks[0]).replace(" ", "")[-9:]),
    }
    for what, (name, column, value) in table.items():
        plan = app.database.execute_sql(
            f"EXPLAIN QUERY PLAN SELECT contact_id FROM {name} WHERE {column} = ?", (value,)
        ).fetchall()
        print(f"query plan, search by {what}: " + "; ".join(str(r[-1]) for r in plan))
    return figures


# -- 6: per-row costs -----------------------------------------------------------------


def bench_per_row(path: Path) -> None:
    from crm_contacts.csvread import open_csv
    from crm_contacts.mapping import detect
    from crm_contacts.rows import validate_rows
    from crm_hookspecs.events import ContactCreated, to_payload

    source = open_csv(str(path))
    resolved = detect(source.header, None)
    sample = []
    for item in source.rows():
        sample.append(item)
        if len(sample) >= 20_000:
            break
    source.close()
    width = len(source.header)
    validate_rows(sample[:2000], resolved.targets, width, "ES")  # warm the caches, as a long import does
    start, cpu = time.perf_counter(), time.process_time()
    checked = validate_rows(sample, resolved.targets, width, "ES")
    per_row = (time.perf_counter() - start) / len(sample) * 1e6
    per_row_cpu = (time.process_time() - cpu) / len(sample) * 1e6
    events = [
        ContactCreated(
            contact_id=i,
            kind="person",
            data={k: v for k, v in row.fields.items() if v},
            actor="bench",
            channel="import",
        )
        for i, row in enumerate(checked, 1)
    ]
    start, cpu = time.perf_counter(), time.process_time()
    for event in events:
        to_payload(event)
    per_event = (time.perf_counter() - start) / len(events) * 1e6
    per_event_cpu = (time.process_time() - cpu) / len(events) * 1e6
    print(
        f"validation: {per_row:.1f} µs per row, {per_row_cpu:.1f} µs of CPU (validate_rows, warm caches, one process)"
    )
    print(
        f"event serialisation: {per_event:.1f} µs, {per_event_cpu:.1f} µs of CPU per ContactCreated (crm_hookspecs.events.to_payload)"
    )


def _options(parser: Any) -> None:
    parser.add_argument(
        "--rows",
        type=int,
        help=f"contacts to import [default: {ROWS:,}, on a server {SERVER_ROWS:,}; --quick: {QUICK_ROWS:,}]",
    )
    parser.add_argument(
        "--database", help="a throw-away PostgreSQL or MariaDB URL (its tables are dropped): the import on that server"
    )
    parser.add_argument("--repeat", type=int, help="imports on a server, alternated with the baseline [default: 3]")
    parser.add_argument(
        "--only",
        choices=["import"],
        help="SQLite: only the import and its database writes against their baselines (no export, search or per-row costs)",
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv, "Contacts: import, export and search of 1,000,000 contacts on SQLite", _options)
    rows = args.rows or (QUICK_ROWS if args.quick else SERVER_ROWS if args.database else ROWS)
    folder = Path(tempfile.mkdtemp(prefix="bench_contacts_"))
    try:
        section(f"generating {rows:,} rows")
        path = folder / "contacts.csv"
        start = time.perf_counter()
        contacts = write_csv(path, rows)
        print(
            f"{path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - start:.1f} s ({contacts:,} distinct contacts)"
        )
        if args.database:
            from bench import _contacts_server

            backend = _contacts_server.backend_of(args.database)
            repeat = args.repeat or (1 if args.quick else 3)
            figures = _contacts_server.run(args.database, path, rows, contacts, repeat)
            print_table(f"Contacts import on {backend}, {rows:,} rows", figures)
            return
        if args.only is None:
            section("per-row costs")
            bench_per_row(path)
        section("baseline: sqlite3 executemany of the rows' nine columns")
        nine = [bench_nine_columns(path, folder)]
        print(f"  before the import: {nine[-1]:.2f} s ({rows / nine[-1]:,.0f} rows/s)")
        app = make_app(folder)
        try:
            section("import")
            rate, memory, timings = bench_import(app, path, contacts)
            nine.append(bench_nine_columns(path, folder))
            print(f"baseline after the import: {nine[-1]:.2f} s ({rows / nine[-1]:,.0f} rows/s)")
            rate.baseline = rows / statistics.median(nine)
            path.unlink()
            section("database writes against sqlite3 executemany")
            baseline, commits = bench_write_baseline(app, folder, app.settings("contacts").import_batch_size)
            print(
                f"INSERT statements: the import's {timings['write']:.1f} s, executemany of the same rows {baseline:.1f} s; "
                f"commits: the import's {timings['commit']:.1f} s (its outbox pages included), the baseline's {commits:.1f} s; "
                f"with commits: {(baseline + commits) / (timings['write'] + timings['commit']):.2f}x"
            )
            write = Figure(
                "import database writes",
                contacts / timings["write"],
                "rows/s",
                n=f"{contacts:,}",
                baseline=contacts / baseline,
                baseline_name="sqlite3 executemany",
                higher_is_better=True,
                target_ratio=0.6,
            )
            others: list[Figure] = []
            if args.only is None:
                section("export")
                others.append(bench_export(app, folder, contacts, 1 if args.quick else 3))
                section("search")
                others += bench_search(app, rows)
        finally:
            app.close()
        print_table(f"Contacts on SQLite, {rows:,} rows", [rate, memory, write, *others])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
