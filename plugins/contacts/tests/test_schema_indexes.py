"""The contacts tables keep no index that another index of the same table begins with (migration 0007)."""

from __future__ import annotations

from crm_core import schema

REDUNDANT = {
    "contacts_contact": ("deleted_at",),
    "contacts_tag": ("contact_id",),
    "contacts_word": ("contact_id",),
    "contacts_custom": ("contact_id",),
}


def _plain_indexes(database, table):
    return {tuple(i.columns) for i in database.get_indexes(table) if not i.unique and i.name.lower() != "primary"}


def _prefixes_of_longer(database, table):
    """Plain indexes whose columns begin another index of the table (what 0007 drops)."""
    every = [tuple(i.columns) for i in database.get_indexes(table)]
    return {
        cols for cols in _plain_indexes(database, table) if any(o != cols and o[: len(cols)] == cols for o in every)
    }


def test_no_contacts_index_is_the_start_of_another_and_down_brings_them_back(contacts_app):
    app = contacts_app()
    database = app.database
    with app.activate():
        for table in REDUNDANT:
            assert not _prefixes_of_longer(database, table), table
        owner, directory = next((o, d) for o, d in schema._sources(app) if o == "contacts")
        runner = schema._runner(app, owner, directory)
        assert [m for m in runner.status() if m.applied][-1].name == "0007_redundant_indexes"
        runner.down()
        for table, columns in REDUNDANT.items():
            assert columns in _plain_indexes(database, table), table
    app.migrate()
    with app.activate():
        for table, columns in REDUNDANT.items():
            assert columns not in _plain_indexes(database, table), table


def test_the_longer_indexes_serve_what_the_dropped_ones_did_on_sqlite(contacts_app, crm_backend):
    import pytest

    if crm_backend != "sqlite":
        pytest.skip("query plans are SQLite's here; the servers pick a leading-column index the same way")
    app = contacts_app()
    queries = {
        "SELECT word FROM contacts_word WHERE contact_id = 1": "contactword_contact_id_word",
        "SELECT tag FROM contacts_tag WHERE contact_id = 1": "contacts_tag_contact_id_tag",
        'SELECT "key" FROM contacts_custom WHERE contact_id = 1': "contacts_custom_contact_id_key",
        "SELECT id FROM contacts_contact WHERE deleted_at IS NOT NULL": "contacts_contact_deleted_at_name_key_id",
    }
    with app.activate():
        for sql, index in queries.items():
            plan = " ".join(str(r[-1]) for r in app.database.execute_sql(f"EXPLAIN QUERY PLAN {sql}").fetchall())
            assert index in plan, (sql, plan)
