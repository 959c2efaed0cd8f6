"""The desk's report pages over 1,000,000 sales: server time of each standard report's page.

Fills the reporting tables as ``bench_analytics`` does (1,000,000 sales
facts, 1,000,000 contacts' status intervals, stage moves, staff actions,
survey invitations and answers; ``--quick``: 100,000) on SQLite (a
temporary folder) or on ``--database`` (PostgreSQL or MariaDB; its tables
are dropped before and after), adds up the warehouse's summary tables of
what it wrote (``rebuild_summaries()``, timed: the fill goes around the
warehouse, which keeps them current on its own writes), gathers the
planner's statistics (``ANALYZE``), signs in an admin (who sees every record) through the
sign-in form, and times in process (the Flask app through its test client:
the server's time, no network, no browser), in alternation, ``--requests``
requests of each standard report's page (``/reports/view/<name>``) over
two years of quarters (2024-01-01 to 2025-12-31, the data's span) with its
default groupings, and the change-password page as the baseline (the same
layout, session and permission checks, no report). Each answer must be 200
and show the report's table.

Target (issue 18): median server time under 200 ms for each page.

    python -m bench.bench_desk_reports [--quick] [--database URL] [--requests 15]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._timing import Figure, median, parse_args, print_table, section

TARGET_MS = 200.0
PASSWORD = "Correct-horse-42!"
REPORTS = ("closed-share", "sales", "pipeline", "surveys", "customers", "staff")
RANGE = "from=2024-01-01&to=2025-12-31"


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sales", type=int, help="sales facts (and contacts) written (default 1,000,000; --quick: 100,000)"
    )
    parser.add_argument(
        "--database", help="a throw-away PostgreSQL or MariaDB URL (its tables are dropped); default: SQLite"
    )
    parser.add_argument("--requests", type=int, help="requests per page (default 15; --quick: 5)")


def build(database: str, n: int) -> tuple[Any, float, float]:
    from bench.bench_analytics import TZ, _fill, _summarise
    from crm_core.app import CRM

    app = CRM(
        database=database,
        plugins=["desk", "contacts", "warehouse", "analytics"],
        timezone=TZ,
        settings={"desk": {"base_url": "http://localhost:8200"}},
    )
    app.migrate()
    app.deliver_events = "worker"  # nothing handles them here
    start = time.perf_counter()
    with app.activate():
        _fill(app, n, n)  # ends with ANALYZE
        seconds = time.perf_counter() - start
        summed = _summarise(app)
    app.authz.users.add("boss", display_name="Boss", roles=["admin"], password=PASSWORD)
    return app, seconds, summed


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv, "The desk's report pages over 1,000,000 sales (issue 18).", _add_options)
    n = args.sales or (100_000 if args.quick else 1_000_000)
    requests = args.requests or (5 if args.quick else 15)
    with tempfile.TemporaryDirectory(prefix="bench-desk-reports-") as folder:
        database = args.database or f"sqlite:///{Path(folder) / 'crm.db'}"
        backend = database.split(":", 1)[0]
        if not database.startswith("sqlite"):
            from crm_core.testing import drop_all_tables

            drop_all_tables(database)
        try:
            run(database, backend, n, requests)
        finally:
            if not database.startswith("sqlite"):
                from crm_core.testing import drop_all_tables

                drop_all_tables(database)


def run(database: str, backend: str, n: int, requests: int) -> None:
    from crm_desk.testing import DeskClient

    section(f"desk: report pages over {n:,} sales on {backend}")
    app, seconds, summed = build(database, n)
    print(f"reporting tables written in {seconds:.1f} s; summary tables added up in {summed:.1f} s", flush=True)
    try:
        desk = DeskClient(app)
        assert desk.sign_in("boss", PASSWORD).status_code == 302, "the benchmark's admin could not sign in"
        pages = {"password page (baseline)": "/account/password"}
        pages.update({name: f"/reports/view/{name}?{RANGE}" for name in REPORTS})
        times: dict[str, list[float]] = {name: [] for name in pages}
        for url in pages.values():  # warm up: templates compiled, pages of the tables read once
            assert desk.get(url).status_code == 200, f"{url}: {desk.page.status_code}"
        for _ in range(requests):
            for name, url in pages.items():
                start = time.perf_counter()
                answer = desk.get(url)
                times[name].append((time.perf_counter() - start) * 1000)
                assert answer.status_code == 200, f"{url}: {answer.status_code}"
                if name in REPORTS:
                    assert '<table class="table">' in desk.text, f"{url}: no table on the page"
        base = median(times["password page (baseline)"])
        figures = [Figure("password page (baseline)", base, "ms", n=f"{requests}")]
        for name in REPORTS:
            figures.append(
                Figure(
                    name,
                    median(times[name]),
                    "ms",
                    n=f"{requests} × {n:,}",
                    baseline=base,
                    baseline_name="password page",
                    target_value=TARGET_MS,
                )
            )
        for name in pages:
            ordered = sorted(times[name])
            print(f"{name}: min {ordered[0]:.1f} ms, max {ordered[-1]:.1f} ms")
        print_table(f"server time per report page, {backend} (target: median < {TARGET_MS:g} ms)", figures)
    finally:
        app.close()


if __name__ == "__main__":
    main()
