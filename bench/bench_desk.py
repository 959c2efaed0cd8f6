"""The desk's contacts pages among many contacts: server time of the list, search results and the card.

Builds a CRM with the desk, contacts and tasks on SQLite (a temporary
folder) or on ``--database`` (PostgreSQL or MariaDB; its tables are dropped
before and after), and writes ``--contacts`` people (default 1,000,000;
``--quick`` 20,000) with their organizations, e-mails, phones and
addresses through bulk inserts (the contacts tests' generated book,
``plugins/contacts/tests/duplicates_book.py``). Then signs in an admin
(who sees every contact) through the sign-in form and times, in process
(the Flask app called through its test client: the server's time, with no
network and no browser), in alternation, ``--requests`` requests of each:

- the contacts list (``/contacts/``, the first page in name order);
- search results as the search box asks for them (``/contacts/results?q=``)
  by a surname, by a full name and by an e-mail, rotating over people;
- a contact's card (``/contacts/<id>``), rotating over people;
- the baseline: the change-password page (``/account/password``: the same layout,
  session and permission checks, a small form, no contacts).

Each answer must be 200 (and the search must find its person). Target
(issue 17): median server time under 100 ms for each page. The ratio to
the baseline says how much the page itself costs.

    python -m bench.bench_desk [--quick] [--contacts N] [--database URL] [--requests 60]
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from bench._timing import Figure, median, parse_args, print_table, section

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 100.0
PASSWORD = "Correct-horse-42!"


def _book_helper() -> ModuleType:
    path = ROOT / "plugins" / "contacts" / "tests" / "duplicates_book.py"
    spec = importlib.util.spec_from_file_location("bench_desk_book", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--contacts", type=int, help="people in the book (default 1,000,000; --quick: 20,000)")
    parser.add_argument(
        "--database", help="a throw-away PostgreSQL or MariaDB URL (its tables are dropped); default: SQLite"
    )
    parser.add_argument("--requests", type=int, help="requests per page (default 60; --quick: 20)")


def build(database: str, people: int) -> tuple[Any, float]:
    from crm_core.app import CRM

    app = CRM(
        database=database,
        plugins=["desk", "contacts", "tasks"],
        settings={"contacts": {"default_region": "ES"}, "desk": {"base_url": "http://localhost:8200"}},
    )
    app.migrate()
    app.deliver_events = "worker"  # nothing handles them here
    start = time.perf_counter()
    with app.activate():
        _book_helper().fill_book(app.database, people, duplicates=0.0)
        # the planner's statistics, as autovacuum (or SQLite's ANALYZE in a deployment's upkeep) would gather them
        # after a load this size; without them PostgreSQL guesses the word and e-mail lookups wrong
        app.database.execute_sql("ANALYZE")
    seconds = time.perf_counter() - start
    app.authz.users.add("boss", display_name="Boss", roles=["admin"], password=PASSWORD)
    return app, seconds


def samples(app: Any, count: int) -> list[dict[str, Any]]:
    """``count`` people spread over the book: id, a surname, the full name, an e-mail."""
    rng = random.Random(7)
    with app.activate():
        low, high = app.database.execute_sql(
            "SELECT MIN(id), MAX(id) FROM contacts_contact WHERE kind = 'person'"
        ).fetchone()
    contacts = app.plugin("contacts")
    found: list[dict[str, Any]] = []
    while len(found) < count:
        record = contacts.get(rng.randint(low, high))
        if not record.emails or not record.last_name:
            continue
        found.append(
            {
                "id": record.id,
                "surname": record.last_name.split()[0],
                "name": record.display_name,
                "email": record.emails[0].address,
            }
        )
    return found


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv, "The desk's contacts pages among many contacts (issue 17).", _add_options)
    people = args.contacts or (20_000 if args.quick else 1_000_000)
    requests = args.requests or (20 if args.quick else 60)
    with tempfile.TemporaryDirectory(prefix="bench-desk-") as folder:
        database = args.database or f"sqlite:///{Path(folder) / 'crm.db'}"
        backend = database.split(":", 1)[0]
        if not database.startswith("sqlite"):
            from crm_core.testing import drop_all_tables

            drop_all_tables(database)
        try:
            run(database, backend, people, requests)
        finally:
            if not database.startswith("sqlite"):
                from crm_core.testing import drop_all_tables

                drop_all_tables(database)


def run(database: str, backend: str, people: int, requests: int) -> None:
    from urllib.parse import quote

    from crm_desk.testing import DeskClient

    section(f"desk: contacts pages among {people:,} people on {backend}")
    app, seconds = build(database, people)
    print(f"book written in {seconds:.1f} s ({people / seconds:,.0f} people/s)", flush=True)
    try:
        desk = DeskClient(app)
        assert desk.sign_in("boss", PASSWORD).status_code == 302, "the benchmark's admin could not sign in"
        people_sample = samples(app, requests)
        pages: dict[str, Any] = {
            "password page (baseline)": lambda i: ("/account/password", None),
            "contacts list": lambda i: ("/contacts/", None),
            "search: surname": lambda i: (f"/contacts/results?q={quote(people_sample[i]['surname'])}", None),
            "search: full name": lambda i: (
                f"/contacts/results?q={quote(people_sample[i]['name'])}",
                people_sample[i]["name"],
            ),
            "search: e-mail": lambda i: (
                f"/contacts/results?q={quote(people_sample[i]['email'])}",
                people_sample[i]["email"],
            ),
            "contact card": lambda i: (f"/contacts/{people_sample[i]['id']}", people_sample[i]["name"]),
        }
        times: dict[str, list[float]] = {name: [] for name in pages}
        for page in pages.values():  # warm up: templates compiled, caches filled
            for i in range(3):
                desk.get(page(i)[0])
        for i in range(requests):
            for name, page in pages.items():
                url, expect = page(i)
                start = time.perf_counter()
                answer = desk.get(url)
                times[name].append((time.perf_counter() - start) * 1000)
                assert answer.status_code == 200, f"{url}: {answer.status_code}"
                if expect is not None:
                    assert expect in desk.text, f"{url}: {expect!r} is not on the page"
        base = median(times["password page (baseline)"])
        figures = [Figure("password page (baseline)", base, "ms", n=f"{requests}")]
        for name in pages:
            if name == "password page (baseline)":
                continue
            figures.append(
                Figure(
                    name,
                    median(times[name]),
                    "ms",
                    n=f"{requests} × {people:,}",
                    baseline=base,
                    baseline_name="password page",
                    target_value=TARGET_MS,
                )
            )
        for name in pages:
            ordered = sorted(times[name])
            print(
                f"{name}: min {ordered[0]:.1f} ms, p90 {ordered[int(len(ordered) * 0.9) - 1]:.1f} ms, max {ordered[-1]:.1f} ms"
            )
        print_table(f"server time per page, {backend} (target: median < {TARGET_MS:g} ms)", figures)
    finally:
        app.close()


if __name__ == "__main__":
    main()
