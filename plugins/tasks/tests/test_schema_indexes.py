"""Every new task and firing goes into no index that no query needs (migration 0004)."""

from __future__ import annotations

import pytest

from crm_core import schema

UNUSED = {"tasks_task": ("status",), "tasks_firing": ("fired_at",)}


def _plain_indexes(database, table):
    return {tuple(i.columns) for i in database.get_indexes(table) if not i.unique and i.name.lower() != "primary"}


def test_the_unused_indexes_are_gone_and_down_brings_them_back(tasks_app):
    app = tasks_app()
    database = app.database
    with app.activate():
        for table, columns in UNUSED.items():
            assert columns not in _plain_indexes(database, table), table
        assert ("status", "assignee", "due_at") in _plain_indexes(database, "tasks_task")
        owner, directory = next((o, d) for o, d in schema._sources(app) if o == "tasks")
        runner = schema._runner(app, owner, directory)
        assert [m for m in runner.status() if m.applied][-1].name == "0004_fewer_indexes"
        runner.down()
        for table, columns in UNUSED.items():
            assert columns in _plain_indexes(database, table), table
    app.migrate()
    with app.activate():
        for table, columns in UNUSED.items():
            assert columns not in _plain_indexes(database, table), table


def test_the_status_queries_use_the_longer_index_on_sqlite(tasks_app, crm_backend):
    if crm_backend != "sqlite":
        pytest.skip("query plans are SQLite's here; the servers pick a leading-column index the same way")
    app = tasks_app()
    queries = [
        "SELECT id FROM tasks_task WHERE status = 'open'",
        "SELECT id FROM tasks_task WHERE status = 'open' AND assignee = 'ana' ORDER BY due_at",
    ]
    with app.activate():
        for sql in queries:
            plan = " ".join(str(r[-1]) for r in app.database.execute_sql(f"EXPLAIN QUERY PLAN {sql}").fetchall())
            assert "task_status_assignee_due_at" in plan, (sql, plan)
