"""The book's scans in id order (export, ``iter_ids``, the duplicates' pages) read each page by rowid on SQLite.

SQLite keeps no statistics here: it planned ``deleted_at IS NULL … ORDER BY
id LIMIT n`` on the ``(deleted_at, name_key, id)`` index and sorted every
live contact on every page, so a 1,000,000-contact export took 279 s where
reading the rows takes 18 s. The plans are read with ``EXPLAIN QUERY PLAN``:
no page may sort.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from crm_core.storage import dialect
from crm_core.testing import statements


def _sorting_pages(app: Any, run: Any) -> tuple[int, list[str]]:
    with statements(app) as sql:
        run()
    pages = [s for s in sql if '"contacts_contact"' in s and "ORDER BY" in s and "LIMIT" in s]
    sorting = []
    for text in pages:
        plan = app.database.execute_sql("EXPLAIN QUERY PLAN " + text, [0] * text.count("?")).fetchall()
        if any("TEMP B-TREE FOR ORDER BY" in str(row) for row in plan):
            sorting.append(text)
    return len(pages), sorting


def test_scans_in_id_order_read_pages_by_rowid_not_by_sorting_the_book(contacts_app: Any) -> None:
    app = contacts_app()
    if dialect(app.database) != "sqlite":
        pytest.skip("the servers plan from statistics")
    contacts = app.plugin("contacts")
    org = contacts.create(kind="organization", display_name="Acme")
    for n in range(5):
        contacts.create(first_name=f"Eva{n}", last_name="Luna", emails=[f"eva{n}@example.com"], organization_id=org.id)
    for run in (
        lambda: contacts.export_csv(io.StringIO()),
        lambda: list(contacts.iter_ids()),
        lambda: contacts.scan_duplicates(),
    ):
        pages, sorting = _sorting_pages(app, run)
        assert pages > 0, "the scan ran no page query: the test would check nothing"
        assert sorting == [], sorting
