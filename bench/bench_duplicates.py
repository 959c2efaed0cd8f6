"""Contacts: duplicate detection over 10,000, 100,000 and 1,000,000 people on SQLite (issue 12, finding 8).

    python -m bench.bench_duplicates                  # 10k, 100k, 1M people
    python -m bench.bench_duplicates --quick          # 10k, 100k: a smoke run, not a measurement
    python -m bench.bench_duplicates --sizes 10000,50000

1. For each size a fresh SQLite database is filled with bulk inserts by
   ``plugins/contacts/tests/duplicates_book.py``: a Spanish-looking book
   (skewed name and city pools, a fifth of the people in organizations,
   most with an e-mail and a mobile), about 2% of it planted duplicates (a
   typo in the name, the name in capitals, the same e-mail or the same
   mobile written with another name).
2. ``scan_duplicates`` runs in a fresh Python process (so that its peak
   resident memory is its own): wall time, peak RSS, pairs found, names
   compared, and how many of the planted duplicates it found.
3. Baselines in the same run: the old finder (``tests/duplicates_reference.py``,
   quadratic; only at the smallest size, alternated with the new one, median
   of 3) and a plain ``sqlite3`` read of the rows the scan needs (people with
   their primary address, e-mails, phones): the floor no finder goes under.
4. A growth table: time and names compared per person at each size, and
   the names the old finder would have compared (every two people of a
   block). Linear cost keeps time per person flat as the book grows 10x;
   names compared per person rise while the blocks fill up to
   ``BLOCK_LIMIT`` and then stay under ``2 * (BLOCK_LIMIT + 3 * WINDOW)``
   (two blocks per person), where the old finder's grow with the book.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from bench._timing import Figure, median, parse_args, print_table, section

ROOT = Path(__file__).resolve().parents[1]
HELPERS = ROOT / "plugins" / "contacts" / "tests"
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
TARGET_SECONDS = 60.0
TARGET_MB = 500.0


def _helper(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_duplicates_{name}", HELPERS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_app(folder: Path) -> Any:
    from crm_core.app import CRM

    return CRM(
        database=f"sqlite:///{folder / 'crm.db'}", plugins=["contacts"], settings={"contacts": {"default_region": "ES"}}
    )


def fill(folder: Path, people: int) -> tuple[float, Any]:
    app = make_app(folder)
    app.migrate()
    start = time.perf_counter()
    with app.activate():
        book = _helper("duplicates_book").fill_book(app.database, people)
    seconds = time.perf_counter() - start
    (folder / "planted.json").write_text(json.dumps([[a, b] for a, b, _ in book.planted]))
    app.database.close()
    return seconds, book


def child(folder: Path) -> None:
    """Run in a fresh process: one scan, and its figures as JSON on the last line."""
    app = make_app(folder)
    start = time.perf_counter()
    scan = app.plugin("contacts").scan_duplicates(limit=None)
    seconds = time.perf_counter() - start
    planted = {tuple(p) for p in json.loads((folder / "planted.json").read_text())}
    found = {(p.first_id, p.second_id) for p in scan.pairs}
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "pairs": scan.total,
                "people": scan.people,
                "comparisons": scan.comparisons,
                "candidates": scan.candidates,
                "blocks": scan.blocks,
                "planted": len(planted),
                "planted_found": len(planted & found),
            }
        )
    )


def scan_in_child(folder: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_duplicates", "--child", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the scan failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def plain_read(folder: Path) -> float:
    """The rows the scan needs, read with plain sqlite3: people with their primary address, e-mails, phones."""
    db = sqlite3.connect(folder / "crm.db")
    start = time.perf_counter()
    for sql in (
        "SELECT c.id, c.name_key, c.organization_id, a.city, a.street, a.postal_code FROM contacts_contact c "
        "LEFT JOIN contacts_address a ON a.contact_id = c.id AND a.is_primary WHERE c.deleted_at IS NULL AND c.kind = 'person'",
        "SELECT contact_id, address FROM contacts_email",
        "SELECT contact_id, number FROM contacts_phone",
    ):
        for _ in db.execute(sql):
            pass
    seconds = time.perf_counter() - start
    db.close()
    return seconds


def exhaustive_pairs(folder: Path) -> int:
    """The pairs of names the old finder compared: every two people of a block (organization or city, first two letters)."""
    db = sqlite3.connect(folder / "crm.db")
    sizes: collections.Counter[tuple[str, Any, str]] = collections.Counter()
    sql = (
        "SELECT c.name_key, c.organization_id, a.city FROM contacts_contact c LEFT JOIN contacts_address a "
        "ON a.contact_id = c.id AND a.is_primary WHERE c.deleted_at IS NULL AND c.kind = 'person' AND c.name_key != ''"
    )
    for key, org, city in db.execute(sql):
        if org:
            sizes["organization", org, key[:2]] += 1
        if city:
            sizes["city", city.lower(), key[:2]] += 1
    db.close()
    return sum(n * (n - 1) // 2 for n in sizes.values())


def old_finder(folder: Path) -> float:
    app = make_app(folder)
    start = time.perf_counter()
    _helper("duplicates_reference").ReferenceFinder(app).find_duplicates()
    seconds = time.perf_counter() - start
    app.database.close()
    return seconds


def main(argv: list[str] | None = None) -> None:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--child":
        child(Path(argv[1]))
        return

    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--sizes", help="comma-separated book sizes in people (default 10000,100000,1000000; --quick: 10000,100000)"
        )

    from crm_contacts.duplicates import BLOCK_LIMIT, WINDOW

    args = parse_args(argv, "Duplicate detection: time, peak memory and growth from 10k to 1M people", add)
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else (QUICK_SIZES if args.quick else SIZES)
    results: dict[int, dict[str, Any]] = {}
    figures: list[Figure] = []
    for n, people in enumerate(sizes):
        folder = Path(tempfile.mkdtemp(prefix=f"crm-bench-dup-{people}-"))
        try:
            section(f"{people:,} people")
            seconds, book = fill(folder, people)
            print(
                f"book written in {seconds:.1f} s ({book.organizations:,} organizations, {len(book.planted):,} planted duplicates)",
                flush=True,
            )
            repeats = 3 if n == 0 and not args.quick else 1
            times, reads, olds = [], [], []
            for _ in range(repeats):
                result = scan_in_child(folder)
                times.append(result["seconds"])
                reads.append(plain_read(folder))
                if n == 0:
                    olds.append(old_finder(folder))
            result["seconds"], result["read"], result["exhaustive"] = (
                median(times),
                median(reads),
                exhaustive_pairs(folder),
            )
            results[people] = result
            print(
                f"scan {result['seconds']:.2f} s (plain read of the rows {result['read']:.2f} s), peak {result['peak_mb']:.0f} MB, "
                f"{result['pairs']:,} pairs, {result['comparisons']:,} names compared, "
                f"planted duplicates found {result['planted_found']:,} of {result['planted']:,}",
                flush=True,
            )
            if olds:
                figures.append(
                    Figure(
                        f"scan, {people:,} people",
                        result["seconds"],
                        "s",
                        n=str(repeats),
                        baseline=median(olds),
                        baseline_name="old finder",
                    )
                )
                print(f"old finder {median(olds):.2f} s", flush=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    section("growth")
    first = sizes[0]
    header = (
        "people",
        "scan",
        "plain read",
        "µs/person",
        "x per person vs first",
        "compared/person",
        "old finder's",
        "peak MB",
        "pairs",
        "planted found",
    )
    rows = [header]
    for people, r in results.items():
        per = r["seconds"] / people * 1e6
        base = results[first]["seconds"] / first * 1e6
        rows.append(
            (
                f"{people:,}",
                f"{r['seconds']:.2f} s",
                f"{r['read']:.2f} s",
                f"{per:.1f}",
                f"{per / base:.2f}x",
                f"{r['comparisons'] / r['people']:.1f}",
                f"{r['exhaustive'] / r['people']:.1f}",
                f"{r['peak_mb']:.0f}",
                f"{r['pairs']:,}",
                f"{r['planted_found']:,}/{r['planted']:,}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for i, row in enumerate(rows):
        print("  " + "  ".join(cell.rjust(w) for cell, w in zip(row, widths)))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))

    last = sizes[-1]
    r = results[last]
    figures += [
        Figure(
            f"scan, {last:,} people",
            r["seconds"],
            "s",
            baseline=r["read"],
            baseline_name="plain read of the rows",
            target_value=TARGET_SECONDS if last >= 1_000_000 else None,
        ),
        Figure(f"peak memory, {last:,} people", r["peak_mb"], "MB", target_value=TARGET_MB),
        Figure(
            f"time per person, {last:,} people",
            r["seconds"] / last * 1e6,
            "µs",
            baseline=results[first]["seconds"] / first * 1e6,
            baseline_name=f"at {first:,}",
            target_ratio=2.0,
        ),
        # per person, blocking compares a bounded number of names (it rises while blocks fill up to
        # BLOCK_LIMIT, then stays); the old finder compared every two people of a block
        Figure(
            f"names compared per person, {last:,}",
            r["comparisons"] / r["people"],
            "",
            baseline=r["exhaustive"] / r["people"],
            baseline_name="old finder",
            target_value=2 * (BLOCK_LIMIT + 3 * WINDOW),
        ),
    ]
    print_table("Contacts: duplicate detection (issue 12)", figures)


if __name__ == "__main__":
    main()
