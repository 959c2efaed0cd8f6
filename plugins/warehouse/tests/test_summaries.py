"""The summary tables: kept current on every write, equal to a rebuild from the reporting tables.

Each scenario changes the reporting tables through the warehouse (the
sales book, events delivered to the projections, merges) and then compares
the summary tables, key by key, with what a rebuild adds up from scratch
(inside a transaction rolled back). A difference names the table and the
keys, so a wrong contribution or a missed write shows as such.

Runs on every configured backend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from crm_hookspecs.events import (
    ContactChanged,
    ContactCreated,
    ContactDeleted,
    ContactRestored,
    ContactsMerged,
    StaffActionLogged,
    StageChanged,
    SurveyAnswered,
    SurveySent,
    TaskCompleted,
)
from crm_hookspecs.records import FieldChange

UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def current(summary_rows: Callable[[Any], dict[str, dict[str, tuple[Any, ...]]]]) -> Callable[[Any], None]:
    """``current(app)``: the summary tables equal what a rebuild adds up (rolled back), table by table."""
    from crm_warehouse.summaries.rebuild import rebuild

    def check(app: Any) -> None:
        kept = summary_rows(app)
        with app.activate(), app.database.atomic() as transaction:
            rebuild(app)
            rebuilt = summary_rows(app)
            transaction.rollback()
        for table, rows in rebuilt.items():
            missing = {k: v for k, v in rows.items() if kept[table].get(k) != v}
            extra = {k: v for k, v in kept[table].items() if k not in rows}
            assert not missing and not extra, f"{table}: should be {missing}, should not be {extra}"

    return check


def emit_at(app: Any, clock: Any, when: dt.datetime, *events: Any) -> None:
    clock.set(when)
    with app.transaction():
        for event in events:
            app.emit(event)


def test_a_fresh_database_has_complete_summaries_and_the_first_write_names_the_time_zone(warehouse_app, crm_clock):
    app = warehouse_app(timezone="Europe/Madrid")
    api = app.plugin("warehouse")
    assert api.summaries()["complete"] is True and api.summaries()["timezone"] is None
    emit_at(app, crm_clock, at(2025, 3, 1, 9), ContactCreated(contact_id=1, data={"status": "prospect"}))
    assert api.summaries()["timezone"] == "Europe/Madrid"
    assert api.summaries()["tables"]["warehouse_status_summary"] == 8  # 4 groupings, a day and a month


def test_sales_records_added_moved_changed_closed_reopened_and_backdated(warehouse_app, crm_clock, current):
    app = warehouse_app(timezone="Europe/Madrid")
    sales = app.plugin("warehouse").sales
    crm_clock.set(at(2025, 1, 10, 9))
    one = sales.add("sale", 1, amount="1000", currency="EUR", owner="ana", region="north", product_line="boilers")
    two = sales.add("quote", 2, amount="500.25", currency="GBP", owner="luis", region="south")
    three = sales.add("rfq", 3, amount="12.345", currency="KWD", owner=None, region=None)  # three decimals
    current(app)
    crm_clock.set(at(2025, 2, 3, 23, 30))  # 00:30 on 4 February in Madrid
    sales.move(one.id, "qualified")
    sales.update(two.id, currency="EUR", amount="750", region="north", owner="ana", kind="sale")
    sales.close(three.id, won=False, lost_reason="price")
    current(app)
    # closed on a day before the record was created: it leaves the pipeline on its creation day
    crm_clock.set(at(2025, 3, 31, 22, 30))
    sales.close(one.id, won=True, closed_on="2025-01-05")
    sales.close(two.id, won=True, amount="800")
    current(app)
    crm_clock.set(at(2025, 4, 2, 9))
    sales.move(two.id, "proposal", reopen=True)  # reopened: its closed date is gone
    sales.update(one.id, product_line=None, region="east")
    current(app)
    with app.activate():
        counts = app.plugin("warehouse").rebuild_summaries()
    assert counts["warehouse_open_sales_summary"] == 1  # two, open again, in proposal
    current(app)


def test_contacts_history_survey_and_staff_events_in_and_out_of_order(warehouse_app, crm_clock, emit, current):
    app = warehouse_app(timezone="Europe/Madrid")
    emit_at(app, crm_clock, at(2025, 1, 2, 10),
            ContactCreated(contact_id=1, data={"status": "customer", "region": "north", "country": "ES"}),
            ContactCreated(contact_id=2, data={"status": "prospect", "region": "south", "country": "FR"}),
            SurveySent(survey_id=7, version=1, contact_id=1, occurred_at=at(2025, 1, 2, 10)))  # fmt: skip
    emit_at(app, crm_clock, at(2025, 1, 20, 12),
            ContactChanged(contact_id=2, changes={"status": FieldChange("prospect", "customer")}),
            SurveySent(survey_id=7, version=1, contact_id=2),
            SurveyAnswered(survey_id=7, version=1, contact_id=2, response_id=1, region="south",
                           scores={"nps": 9, "csat": 4}),
            StaffActionLogged(action_id=1, contact_id=1, kind="call", actor="ana"),
            TaskCompleted(task_id=1, kind="todo", assignee="luis", actor=None),
            StageChanged(record_id=1, contact_id=1, old_stage=None, new_stage="new"))  # fmt: skip
    current(app)
    # the same response answered again later replaces the first; an older retry does not
    emit_at(app, crm_clock, at(2025, 3, 1, 9),
            SurveyAnswered(survey_id=7, version=1, contact_id=2, response_id=1, region="south", scores={"nps": 3}),
            ContactChanged(contact_id=1, changes={"region": FieldChange("north", "west")}),
            ContactDeleted(contact_id=2))  # fmt: skip
    emit_at(app, crm_clock, at(2025, 3, 2, 9),
            SurveyAnswered(survey_id=7, version=1, contact_id=2, response_id=1, region="south", scores={"nps": 10},
                           occurred_at=at(2025, 2, 1, 9)),
            ContactRestored(contact_id=2),
            ContactChanged(contact_id=1, changes={"status": FieldChange("customer", "former")}))  # fmt: skip
    current(app)
    # late events: a change that happened before the last one known, an invitation stored after its answer
    emit_at(app, crm_clock, at(2025, 4, 1, 9),
            ContactChanged(contact_id=1, changes={"region": FieldChange("west", "east")},
                           occurred_at=at(2025, 1, 1, 9)),
            SurveyAnswered(survey_id=8, version=1, contact_id=1, response_id=2, region="west", scores={"csat": 5}),
            SurveySent(survey_id=8, version=1, contact_id=1, occurred_at=at(2025, 3, 25, 9)),
            StageChanged(record_id=1, contact_id=1, old_stage="new", new_stage="qualified",
                         occurred_at=at(2025, 1, 10, 9)))  # fmt: skip
    current(app)


def test_merges_move_the_answers_of_invitations_and_back(warehouse_app, crm_clock, current):
    from crm_warehouse.personal import merged, unmerged

    app = warehouse_app(timezone="UTC")
    emit_at(app, crm_clock, at(2025, 5, 1, 9),
            ContactCreated(contact_id=1, data={"status": "customer", "region": "north"}),
            ContactCreated(contact_id=2, data={"status": "customer", "region": "south"}),
            SurveySent(survey_id=1, version=1, contact_id=2),
            SurveySent(survey_id=1, version=1, contact_id=1))  # fmt: skip
    emit_at(app, crm_clock, at(2025, 5, 3, 9),
            SurveyAnswered(survey_id=1, version=1, contact_id=2, response_id=5, scores={"nps": 8}))  # fmt: skip
    current(app)
    moved = merged(app, 1, 2)  # the merged contact's response is the survivor's now
    emit_at(app, crm_clock, at(2025, 5, 4, 9), ContactsMerged(survivor_id=1, merged_id=2, merge_id=1))
    current(app)
    unmerged(app, 1, 2, moved)
    current(app)


def test_a_pipeline_change_rebuilds_the_facts_and_their_summaries(warehouse_app, crm_factory, crm_clock, current):
    app = warehouse_app()
    crm_clock.set(at(2025, 6, 1, 9))
    app.plugin("warehouse").sales.add("rfq", 1, amount=100, stage="proposal")
    app.plugin("warehouse").sales.rebuild_facts()
    current(app)


def test_rows_written_around_the_warehouse_are_drift_that_check_finds_and_rebuild_fixes(warehouse_app, crm_clock):
    from crm_core.storage import bulk_insert

    app = warehouse_app()
    api = app.plugin("warehouse")
    crm_clock.set(at(2025, 6, 1, 9))
    api.sales.add("sale", 1, amount=10)
    assert not [d for d in api.check_summaries() if d.drifted]
    with app.activate():
        bulk_insert(
            "warehouse_sales_fact",
            ["sale_id", "kind", "contact_id", "amount", "currency", "stage", "probability", "outcome",
             "created_on", "created_quarter", "updated_at"],
            [(99, "sale", 1, 5, "EUR", "new", 0.1, "open", "2025-06-01", "2025-Q2", "2025-06-01 09:00:00")],
        )  # fmt: skip
    drifted = {d.table: d for d in api.check_summaries() if d.drifted}
    assert set(drifted) == {"warehouse_sales_summary", "warehouse_open_sales_summary"}
    assert drifted["warehouse_open_sales_summary"].different == 1
    api.rebuild_summaries()
    assert not [d for d in api.check_summaries() if d.drifted]


def test_the_summaries_command(warehouse_app, crm_cli, crm_clock):
    app = warehouse_app()
    crm_clock.set(at(2025, 6, 1, 9))
    app.plugin("warehouse").sales.add("sale", 1, amount=10)
    shown = crm_cli.invoke(["warehouse", "summaries", "--format", "csv"], app=app)
    assert shown.exit_code == 0, shown.output
    assert "warehouse_sales_summary,8,True" in shown.output  # 4 groupings of "created", a day and a month
    rebuilt = crm_cli.invoke(["warehouse", "summaries", "--rebuild"], app=app)
    assert rebuilt.exit_code == 0 and "warehouse_sales_summary: 8 row(s)" in rebuilt.output
    checked = crm_cli.invoke(["warehouse", "summaries", "--check", "--format", "csv"], app=app)
    assert checked.exit_code == 0 and "warehouse_sales_summary,8,0,0,0" in checked.output
    with app.activate():
        app.database.execute_sql("DELETE FROM warehouse_open_sales_summary")
    drifted = crm_cli.invoke(["warehouse", "summaries", "--check"], app=app)
    assert drifted.exit_code == 1 and "crm warehouse summaries --rebuild" in drifted.output
    both = crm_cli.invoke(["warehouse", "summaries", "--check", "--rebuild"], app=app)
    assert both.exit_code == 2 and "give one of them" in both.output


def test_a_database_migrated_with_data_starts_with_incomplete_summaries(warehouse_app):
    import importlib.util
    from pathlib import Path

    import crm_warehouse

    path = Path(crm_warehouse.__file__).parent / "migrations" / "0004_summaries.py"
    spec = importlib.util.spec_from_file_location("summaries_migration", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    app = warehouse_app()
    with app.activate():
        app.database.execute_sql(
            "INSERT INTO warehouse_contact_status (contact_id, status, deleted, valid_from, event_id) "
            f"VALUES (1, 'customer', {app.database.param}, '2025-01-01 00:00:00', 'e')",
            (False,),
        )
        migration.down(None, app.database)
        migration.up(None, app.database)
    assert app.plugin("warehouse").summaries()["complete"] is False


def test_the_migrations_match_the_models_and_go_down_and_up_again(warehouse_app):
    from pathlib import Path

    from playhouse.migrations import Runner

    import crm_warehouse
    from crm_core.testing import assert_no_schema_drift

    tables = {
        "warehouse_sales_summary", "warehouse_open_sales_summary", "warehouse_stage_change",
        "warehouse_pipeline_summary", "warehouse_status_summary", "warehouse_activity_summary",
        "warehouse_survey_summary", "warehouse_summary_state",
    }  # fmt: skip
    app = warehouse_app()
    assert_no_schema_drift(app)
    assert tables <= set(app.database.get_tables())
    folder = Path(crm_warehouse.__file__).parent / "migrations"
    with app.activate():
        Runner(app.database, str(folder), table_name="warehouse_schema_migration").down(target="0004_summaries")
    assert not tables & set(app.database.get_tables())
    assert [s.name for s in app.migrate() if s.owner == "warehouse"] == [
        "0004_summaries",
        "0005_sales_fact_owner_index",
        "0006_sales_fact_contact_index",
        "0007_contact_status_covering_index",
    ]
    assert_no_schema_drift(app)
    assert app.plugin("warehouse").summaries()["complete"] is True
