"""The contacts import on PostgreSQL or MariaDB, against the server's own bulk path (``bench_contacts --database``).

Each repeat, in alternation:

1. every table of the database is dropped, a fresh app migrates it, and the
   generated CSV is imported end to end with ``import_csv``, as
   ``crm contacts import`` runs it (validation in one process per core);
2. the baseline: the same rows' nine columns (:data:`NINE`) written into a
   plain table with no index but its key, the server's fastest way from
   Python: ``COPY … FROM STDIN`` (psycopg2's ``copy_expert``, the text
   built from the tuples) on PostgreSQL, a batched multi-row ``INSERT``
   (PyMySQL's ``executemany``, which writes one statement per
   ``max_allowed_packet``) of ``import_batch_size`` rows a commit on MariaDB.

The medians give the import's rows/s against the baseline's (target: at
least 0.05x), and the import's database writes (its ``write`` phase) for
reference. On PostgreSQL each repeat also measures the *floor* of any
import's writes: the very rows the import stored (contacts, e-mails, phones,
addresses, tags, name words, outbox events), read back with ``COPY … TO``,
the tables emptied, and the rows written again by ``COPY … FROM`` into the
same tables, indexes, keys and all, in one transaction. No import that
stores those rows can write them faster.
"""

from __future__ import annotations

import csv
import io
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

from bench._timing import Figure, section

#: the baseline's columns, taken from the generated file
NINE = ("external_id", "first_name", "last_name", "email", "phone", "street", "city", "postal_code", "region")
TABLE = "bench_nine"
DDL = {
    "postgresql": f"CREATE TABLE {TABLE} (id BIGSERIAL PRIMARY KEY, "
    + ", ".join(f"{c} VARCHAR(300)" for c in NINE)
    + ")",
    "mysql": f"CREATE TABLE {TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
    + ", ".join(f"{c} VARCHAR(300)" for c in NINE)
    + ") CHARACTER SET utf8mb4",
}
#: rows read from the file per timed chunk of the baseline (the reading is not timed)
CHUNK = 50_000
TARGET_RATIO = 0.05


def backend_of(url: str) -> str:
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    if scheme in ("mysql", "mariadb"):
        return "mysql"
    raise SystemExit(f"--database {url!r}: give a postgresql:// or mysql:// URL (a throw-away database)")


def nine_columns(path: Path) -> Iterator[list[tuple[str, ...]]]:
    """The file's rows as nine-column tuples, :data:`CHUNK` at a time."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        picks = [header.index(c) for c in NINE]
        chunk: list[tuple[str, ...]] = []
        for row in reader:
            chunk.append(tuple(row[i] for i in picks))
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def baseline(url: str, backend: str, path: Path, batch: int) -> float:
    """Seconds to write the file's nine columns the server's bulk way (only the writes timed)."""
    from crm_core.storage import connect

    database = connect(url)
    database.connect()
    connection = database.connection()
    try:
        cursor = connection.cursor()
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cursor.execute(DDL[backend])
        connection.commit()
        seconds = 0.0
        copy = f"COPY {TABLE} ({', '.join(NINE)}) FROM STDIN"
        insert = f"INSERT INTO {TABLE} ({', '.join(NINE)}) VALUES ({', '.join(['%s'] * len(NINE))})"
        for chunk in nine_columns(path):
            start = time.perf_counter()
            if backend == "postgresql":
                # no value of the file holds a tab, a newline or a backslash: the text is the cells joined
                text = "".join("\t".join(row) + "\n" for row in chunk)
                cursor.copy_expert(copy, io.StringIO(text), size=1 << 20)
                connection.commit()
            else:
                for first in range(0, len(chunk), batch):
                    cursor.executemany(insert, chunk[first : first + batch])
                    connection.commit()
            seconds += time.perf_counter() - start
        cursor.execute(f"SELECT COUNT(*) FROM {TABLE}")
        stored = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {TABLE}")
        connection.commit()
    finally:
        database.close()
    return seconds if stored else float("nan")


def _floor(app: object) -> float:
    """Seconds to ``COPY`` the rows an import stored back into the same tables (PostgreSQL; see the module)."""
    connection = app.database.connection()  # type: ignore[attr-defined]
    cursor = connection.cursor()
    cursor.execute("SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema()")
    stored: dict[str, str] = {}
    for (table,) in cursor.fetchall():
        if table.endswith("_schema_migration") or table in ("crm_plugin", "crm_lock", "contacts_identity"):
            continue
        text = io.StringIO()
        cursor.copy_expert(f'COPY "{table}" TO STDOUT', text)
        if text.tell():
            stored[table] = text.getvalue()
    # the contacts first: the other tables' rows point at them
    order = sorted(stored, key=lambda table: table != "contacts_contact")
    cursor.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in order) + " CASCADE")  # empty tables pointing at them too
    connection.commit()
    start = time.perf_counter()
    for table in order:
        cursor.copy_expert(f'COPY "{table}" FROM STDIN', io.StringIO(stored[table]))
    connection.commit()
    return time.perf_counter() - start


def import_once(url: str, path: Path, expected: int) -> tuple[float, float, dict[str, float]]:
    """``(seconds, CPU seconds of this process, phase timings)`` of one import into freshly migrated tables;
    on PostgreSQL the timings hold ``floor`` too (:func:`_floor`)."""
    import resource

    from crm_core.app import CRM
    from crm_core.testing import drop_all_tables

    drop_all_tables(url)
    app = CRM(database=url, plugins=["contacts"], settings={"contacts": {"default_region": "ES"}})
    try:
        app.migrate()
        jobs = (os.cpu_count() or 1) if path.stat().st_size > 10 * 1024 * 1024 else 1
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime
        start = time.perf_counter()
        report = app.plugin("contacts").import_csv(path, jobs=jobs, actor="bench")
        seconds = time.perf_counter() - start
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime - cpu
        if report.failed or report.created != expected:
            raise SystemExit(f"import went wrong: {report.summary()} (expected {expected} contacts)")
        events = app.database.execute_sql("SELECT COUNT(*) FROM crm_event").fetchone()[0]
        if events != expected:
            raise SystemExit(f"the import wrote {events} events for {expected} contacts")
        timings = dict(report.timings)
        if backend_of(url) == "postgresql":
            timings["floor"] = _floor(app)
        return seconds, cpu, timings
    finally:
        app.close()
        drop_all_tables(url)


def run(url: str, path: Path, rows: int, expected: int, repeat: int) -> list[Figure]:
    from crm_contacts.settings import ContactsSettings

    backend = backend_of(url)
    batch = ContactsSettings().import_batch_size
    name = {"postgresql": "COPY", "mysql": "multi-row INSERT"}[backend]
    section(
        f"import of {rows:,} rows on {backend} against {name} of their nine columns ({repeat} repeat(s), alternated)"
    )
    ours: list[float] = []
    cpus: list[float] = []
    writes: list[float] = []
    floors: list[float] = []
    theirs: list[float] = []
    for i in range(repeat):
        seconds, cpu, timings = import_once(url, path, expected)
        ours.append(seconds)
        cpus.append(cpu)
        writes.append(timings["write"])
        if "floor" in timings:
            floors.append(timings.pop("floor"))
        theirs.append(baseline(url, backend, path, batch))
        print(
            f"  repeat {i + 1}: import {seconds:.1f} s ({rows / seconds:,.0f} rows/s; CPU of this process {cpu:.1f} s; "
            "phases "
            + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
            + f"), {name} {theirs[-1]:.2f} s ({rows / theirs[-1]:,.0f} rows/s)"
            + (f"; the stored rows COPY'd again into the same tables {floors[-1]:.1f} s" if floors else ""),
            flush=True,
        )
    base = rows / statistics.median(theirs)

    def rate(title: str, value: float, count: int, **target: float) -> Figure:
        return Figure(
            title,
            value,
            "rows/s",
            n=f"{count:,}",
            baseline=base,
            baseline_name=f"{name}, 9 columns",
            higher_is_better=True,
            **target,
        )

    figures = [
        rate("import end to end", rows / statistics.median(ours), rows, target_ratio=TARGET_RATIO),
        rate("import database writes (every table)", expected / statistics.median(writes), expected),
        Figure("import, CPU of the importing process", statistics.median(cpus) / rows * 1e6, "us/row", n=f"{rows:,}"),
    ]
    if floors:  # measured on PostgreSQL only
        figures.insert(
            0, rate("floor: the stored rows COPY'd into the same tables", rows / statistics.median(floors), rows)
        )
    return figures
