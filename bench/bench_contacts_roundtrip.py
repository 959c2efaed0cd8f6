"""Contacts: lossless round trips at 100,000 contacts (issue 12, finding 3).

    python -m bench.bench_contacts_roundtrip            # 100,000 contacts
    python -m bench.bench_contacts_roundtrip --quick    # 5,000: a smoke run

1. A CSV in the export layout is generated (seeded): 2% organizations, the
   rest people, half of them members of one; up to three e-mails (one in 50
   an Exchange address), phones (international, national in the address's
   country, one in 20 unreadable and kept unverified, some with extensions)
   and addresses each, notes with line breaks, tags, custom fields, status
   and its date, owner, region, language, do-not-contact, name parts, job
   title, department, birthday, web page. It is imported into book A: the
   baseline import.
2. For CSV, vCard 3.0 and vCard 4.0: A is exported, imported into an empty
   book B (matching on external id and e-mail, as the round-trip tests do),
   and every field of every contact of B is compared with A's. A difference
   is an error (exit code 1), with the first contacts that differ.
3. Printed: rows/s of each export against plain ``sqlite3`` reading the six
   tables it needs and ``csv.writer``, and of each re-import against the
   baseline import of step 1.

The property-based tests (plugins/contacts/tests/test_roundtrip.py) check
the same on many small generated books; this checks it at size, where
batches, pages and slot counts come into play.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._timing import Figure, parse_args, print_table, section
from crm_contacts.transfer import EXPORT_COLUMNS

ROWS = 100_000
QUICK_ROWS = 5_000
HELPERS = Path(__file__).resolve().parents[1] / "plugins" / "contacts" / "tests" / "roundtrip.py"
# the export's own leading columns (less the id and the creation time, which an import into an
# empty book does not take), then repeated slots and custom fields as a real export writes them
HEADER = [
    *(c for c in EXPORT_COLUMNS if c not in ("id", "created_at")),
    *[c for n in (1, 2, 3) for c in (f"email_{n}", f"email_{n}.type")],
    *[c for n in (1, 2, 3) for c in (f"phone_{n}", f"phone_{n}.type")],
    *[
        f"address_{n}.{p}"
        for n in (1, 2)
        for p in ("type", "street", "extra", "city", "postal_code", "region", "country")
    ],
    "custom.industry",
    "custom.size",
    "custom.source; note",
]
FIRST = ["Ana", "María", "Lucía", "Javier", "José", "Álvaro", "Sofía", "Íñigo", "Zoë", "Jean-Luc", "O'Brien", "=Eve"]
LAST = ["García", "Martínez", "López", "Núñez", "Smith, Jr", "Müller", "Dupont", "Nakamura", "+Plus", "Pérez"]
PLACES = [  # city, postal code, country, a national phone there
    ("Madrid", "28013", "ES", "91 123 45 67"),
    ("Austin", "78701", "US", "(512) 200-0002"),
    ("Paris", "75001", "FR", "01 42 68 53 00"),
    ("London", "SW1A 1AA", "GB", "020 7946 0958"),
    ("Berlin", "10115", "DE", "030 1234567"),
]
KINDS = {
    "email": ["work", "home", "other"],
    "phone": ["mobile", "work", "home", "fax", "other"],
    "address": ["work", "home", "other"],
}


def _contact(rng: random.Random, i: int, organizations: list[str]) -> list[str]:
    is_org = i < len(organizations)
    city, postal, country, national = PLACES[i % len(PLACES)]
    name = organizations[i] if is_org else f"{FIRST[i % len(FIRST)]} {LAST[(i // 7) % len(LAST)]}"
    emails = []
    for n in range(rng.choice((0, 1, 1, 2, 3))):
        if rng.random() < 0.02:
            emails += [
                f"/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=u{i}x{n}",
                "work",
            ]
        else:
            emails += [f"p{i}.{n}@correo{i % 97}.example.es", rng.choice(KINDS["email"])]
    phones = []
    for n in range(rng.choice((0, 1, 1, 2, 3))):
        roll = rng.random()
        number = (
            "call reception"
            if roll < 0.05
            else national
            if roll < 0.4
            else f"+34 6{i % 100:02d} {n}{i % 100:02d} {i % 997:03d}" + (f" ext. {i % 90 + 10}" if roll > 0.9 else "")
        )
        phones += [number, rng.choice(KINDS["phone"])]
    addresses = []
    for n in range(rng.choice((0, 1, 1, 2))):
        addresses += [
            rng.choice(KINDS["address"]),
            f"Calle {i}; portal {n}",
            "2º B" if n else "",
            city,
            postal,
            "",
            country,
        ]
    row = [
        f"rt-{i}",
        "organization" if is_org else "person",
        name,
        "" if is_org else rng.choice(["", "", "Dr.", "Sra."]),
        "" if is_org else FIRST[i % len(FIRST)],
        "" if is_org else rng.choice(["", "", "Luz"]),
        "" if is_org else LAST[(i // 7) % len(LAST)],
        "" if is_org else rng.choice(["", "", "", "Jr."]),
        rng.choice(["", "", "Nano"]),
        "" if is_org or rng.random() < 0.5 else organizations[rng.randrange(len(organizations))],
        rng.choice(["", "CFO", "Jefa de ventas"]),
        rng.choice(["", "Finance", "I+D"]),
        rng.choice(["", "", "1980-05-17", "--02-29"]),
        rng.choice(["", "https://example.com/a?b=c;d"]),
        rng.choice(["prospect", "customer", "former"]),
        f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10}T0{i % 10}:30:00+00:00",
        rng.choice(["", "maria", "luis"]),
        rng.choice(["", "Norte", "Sur"]),
        country,
        rng.choice(["", "es", "en-GB"]),
        "yes" if rng.random() < 0.1 else "",
        rng.choice(["", "vip", "vip,newsletter", "feria 2025"]),
        rng.choice(["", "one line", 'first line\nsecond; line, with "quotes"\nthird']),
    ]
    row += (
        emails + [""] * (6 - len(emails)) + phones + [""] * (6 - len(phones)) + addresses + [""] * (14 - len(addresses))
    )
    row += [rng.choice(["", "retail", "=formula"]), rng.choice(["", "big"]), rng.choice(["", "fair, 2024"])]
    return row


def write_book(path: Path, rows: int) -> None:
    rng = random.Random(12)
    organizations = [f"Organización {i} S.L." for i in range(max(1, rows // 50))]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow(_contact(rng, i, organizations))


def _helpers() -> Any:
    name = "crm_contacts_roundtrip_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HELPERS)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    return sys.modules[name]


def make_app(path: Path) -> Any:
    from crm_core.app import CRM

    app = CRM(database=f"sqlite:///{path}", plugins=["contacts"], settings={"contacts": {"default_region": "ES"}})
    app.migrate()
    return app


def plain_export(path: Path) -> int:
    """The reading part of an export done by hand: every table it needs, fetchall, csv.writer."""
    connection = sqlite3.connect(str(path))
    try:
        out = io.StringIO()
        writer = csv.writer(out)
        rows = connection.execute("SELECT * FROM contacts_contact ORDER BY id").fetchall()
        writer.writerows(rows)
        for table in ("contacts_email", "contacts_phone", "contacts_address", "contacts_tag", "contacts_custom"):
            connection.execute(f"SELECT * FROM {table} ORDER BY contact_id").fetchall()
        return len(rows)
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(
        argv,
        "Contacts: lossless round trips (CSV, vCard 3.0, vCard 4.0)",
        lambda p: p.add_argument("--rows", type=int, help=f"contacts [default: {ROWS:,}; --quick: {QUICK_ROWS:,}]"),
    )
    rows = args.rows or (QUICK_ROWS if args.quick else ROWS)
    helpers = _helpers()
    folder = Path(tempfile.mkdtemp(prefix="bench_roundtrip_"))
    figures = []
    failures = []
    try:
        section(f"generating and importing {rows:,} contacts (the baseline import)")
        source_csv = folder / "source.csv"
        write_book(source_csv, rows)
        source = make_app(folder / "a.db")
        start = time.perf_counter()
        report = source.plugin("contacts").import_csv(source_csv, match_on=("external_id", "email"))
        baseline_import = rows / (time.perf_counter() - start)
        assert report.failed == 0 and report.created == rows, (report.summary(), report.errors[:5])
        print(report.summary())
        expected = helpers.comparable(source.plugin("contacts"))
        for how in ("csv", "3.0", "4.0"):
            section(f"{'CSV' if how == 'csv' else 'vCard ' + how}: export, import into an empty book, compare")
            start = time.perf_counter()
            text = helpers.export(source.plugin("contacts"), how)
            exported = time.perf_counter() - start
            start = time.perf_counter()
            plain_export(folder / "a.db")
            plain = time.perf_counter() - start
            target = make_app(folder / f"b{how}.db")
            try:
                start = time.perf_counter()
                again = helpers.reimport(target.plugin("contacts"), how, text, folder / f"export.{how}")
                imported = time.perf_counter() - start
                got = helpers.comparable(target.plugin("contacts"))
            finally:
                target.close()
            same = got == expected and again.failed == 0
            print(f"{again.summary()}; every field equal: {'yes' if same else 'NO'}")
            if not same:
                differing = [(a, b) for a, b in zip(expected, got) if a != b][:3]
                failures.append(f"{how}: {again.failed} failed rows {again.errors[:3]}; first differences: {differing}")
            label = "CSV" if how == "csv" else f"vCard {how}"
            figures.append(
                Figure(
                    f"export {label}",
                    rows / exported,
                    "rows/s",
                    n=f"{rows:,}",
                    baseline=rows / plain,
                    baseline_name="sqlite3 fetchall of 6 tables + csv.writer",
                    higher_is_better=True,
                )
            )
            figures.append(
                Figure(
                    f"re-import {label}",
                    rows / imported,
                    "rows/s",
                    n=f"{rows:,}",
                    baseline=baseline_import,
                    baseline_name="the first import (CSV)",
                    higher_is_better=True,
                )
            )
        source.close()
        print_table(f"Contacts round trips, {rows:,} contacts", figures)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if failures:
        raise SystemExit("round trips lost data:\n" + "\n".join(failures))


if __name__ == "__main__":
    main(sys.argv[1:])
