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
    """Plain indexes whose columns begin another index of the table (what 0007 drops); a partial index (0008, on
    PostgreSQL) holds only some rows, so it serves no query of every row in its place."""
    every = [tuple(i.columns) for i in database.get_indexes(table) if " WHERE " not in (i.sql or "").upper()]
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
        applied = [m.name for m in runner.status() if m.applied]
        assert "0007_redundant_indexes" in applied
        runner.down("0007_redundant_indexes")
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


def test_the_list_has_its_own_partial_index_on_postgresql(contacts_app, crm_backend):
    """A page of the list in name order, as the prepared statement's generic plan reads it (0008): from the
    partial index, without sorting every contact."""
    import pytest

    if crm_backend != "postgresql":
        pytest.skip("SQLite and MariaDB read the page from (deleted_at, name_key, id)")
    app = contacts_app()
    contacts = app.plugin("contacts")
    for n in range(30):
        contacts.create(first_name=f"Ana{n}", last_name="García")
    with app.activate():
        database = app.database
        database.execute_sql("ANALYZE contacts_contact")
        names = {i.name for i in database.get_indexes("contacts_contact")}
        assert "contacts_contact_listed" in names
        # the generic plan (unknown limit and offset), and no sequential scan: a table this small would be
        # read whole and sorted whatever its indexes, while the point is which index gives the order
        database.execute_sql("SET plan_cache_mode = force_generic_plan")
        database.execute_sql("SET enable_seqscan = off")
        try:
            database.execute_sql(
                'PREPARE list_page AS SELECT "id" FROM "contacts_contact" WHERE "deleted_at" IS NULL '
                'ORDER BY "name_key", "id" LIMIT $1 OFFSET $2'
            )
            plan = " ".join(r[0] for r in database.execute_sql("EXPLAIN EXECUTE list_page(51, 0)").fetchall())
            database.execute_sql("DEALLOCATE list_page")
        finally:
            database.execute_sql("RESET plan_cache_mode")
            database.execute_sql("RESET enable_seqscan")
    assert "contacts_contact_listed" in plan and "Sort" not in plan, plan
