"""The reporting tables: kept current as events arrive, identical after a rebuild."""

from __future__ import annotations

import datetime as dt

from crm_hookspecs.events import (
    ContactChanged,
    ContactCreated,
    ContactDeleted,
    ContactRestored,
    ContactsMerged,
    ContactsUnmerged,
    SurveyAnswered,
)
from crm_hookspecs.records import FieldChange
from crm_warehouse.models import (
    ContactChangeRow,
    ContactStatusRow,
    SalesFactRow,
    SurveyAnswerFactRow,
    SurveyResponseRow,
)

UTC = dt.UTC


def status_rows(app, contact_id=None):
    with app.activate():
        query = ContactStatusRow.select().order_by(ContactStatusRow.contact_id, ContactStatusRow.valid_from)
        if contact_id is not None:
            query = query.where(ContactStatusRow.contact_id == contact_id)
        return [(r.contact_id, r.status, r.region, r.country, r.deleted, r.valid_from, r.valid_to) for r in query]


def test_contact_status_history_has_one_interval_per_state(warehouse_app, emit, crm_clock):
    app = warehouse_app()
    t0 = crm_clock.now()
    emit(
        app,
        ContactCreated(
            contact_id=1, data={"status": "prospect", "region": "north", "country": "ES", "email": "a@x.es"}
        ),
    )
    t1 = crm_clock.advance(days=30)
    emit(app, ContactChanged(contact_id=1, changes={"status": FieldChange("prospect", "customer")}))
    crm_clock.advance(days=1)
    emit(
        app, ContactChanged(contact_id=1, changes={"email": FieldChange("a@x.es", "b@x.es")})
    )  # not followed: no new interval
    t3 = crm_clock.advance(days=30)
    emit(
        app,
        ContactChanged(contact_id=1, changes={"region": FieldChange("north", "south")}),
        ContactDeleted(contact_id=1),
    )
    t4 = crm_clock.advance(days=2)
    emit(app, ContactRestored(contact_id=1))
    assert status_rows(app) == [
        (1, "prospect", "north", "ES", False, t0, t1),
        (1, "customer", "north", "ES", False, t1, t3),
        # the region change and the deletion came at the same instant: no zero-length interval between them
        (1, "customer", "south", "ES", True, t3, t4),
        (1, "customer", "south", "ES", False, t4, None),
    ]


def test_merges_mark_the_merged_contact_deleted_until_undone(warehouse_app, emit, crm_clock):
    app = warehouse_app()
    t0 = crm_clock.now()
    emit(
        app,
        ContactCreated(contact_id=1, data={"status": "customer"}),
        ContactCreated(contact_id=2, data={"status": "prospect"}),
    )
    t1 = crm_clock.advance(days=1)
    emit(app, ContactsMerged(survivor_id=1, merged_id=2, merge_id=3))
    t2 = crm_clock.advance(days=1)
    emit(app, ContactsUnmerged(survivor_id=1, merged_id=2, merge_id=3))
    assert status_rows(app, 1) == [(1, "customer", None, None, False, t0, None)]  # the survivor goes on
    assert [(r[1], r[4], r[5], r[6]) for r in status_rows(app, 2)] == [
        ("prospect", False, t0, t1), ("prospect", True, t1, t2), ("prospect", False, t2, None),
    ]  # fmt: skip
    with app.activate():
        actions = [(c.contact_id, c.action) for c in ContactChangeRow.select().order_by(ContactChangeRow.id)]
    assert actions == [(1, "merged"), (2, "merged"), (1, "unmerged"), (2, "unmerged")]


def snapshot(app):
    """Every event-fed reporting table, without surrogate keys, in a stable order."""
    with app.activate():
        changes = sorted(
            (
                c.event,
                c.contact_id,
                c.occurred_at,
                c.actor,
                c.channel,
                c.action,
                c.field or "",
                c.old_value or "",
                c.new_value or "",
            )
            for c in ContactChangeRow.select()
        )
        responses = sorted(
            (r.response_id, r.survey_id, r.version, r.contact_id, r.negative, r.region, r.answered_at, r.scores)
            for r in SurveyResponseRow.select()
        )
        answers = sorted((a.response_id, a.question, a.score, a.answered_on) for a in SurveyAnswerFactRow.select())
        facts = sorted(
            (
                f.sale_id,
                f.contact_id,
                f.amount,
                f.currency,
                f.stage,
                f.outcome,
                f.won,
                f.created_on,
                f.closed_on,
                f.closed_quarter,
            )
            for f in SalesFactRow.select()
        )
    return {"status": status_rows(app), "changes": changes, "responses": responses, "answers": answers, "facts": facts}


def test_rebuild_gives_the_tables_the_events_built(warehouse_app, emit, crm_clock, summary_rows):
    app = warehouse_app()
    emit(app, ContactCreated(contact_id=2, data={"status": "prospect", "region": "north"}, actor="maria"))
    emit(app, ContactCreated(contact_id=1, data={"status": "prospect", "country": "FR"}))
    crm_clock.advance(days=3)
    emit(
        app,
        ContactChanged(
            contact_id=1, changes={"status": FieldChange("prospect", "customer")}, actor="luis", channel="staff"
        ),
    )
    emit(app, SurveyAnswered(survey_id=1, version=1, contact_id=1, response_id=1, scores={"nps": 10}))
    crm_clock.advance(days=3)
    emit(app, ContactsMerged(survivor_id=1, merged_id=2, merge_id=1))
    emit(app, SurveyAnswered(survey_id=1, version=1, contact_id=1, response_id=1, scores={"nps": 3}, negative=True))
    emit(app, SurveyAnswered(survey_id=1, version=1, contact_id=2, response_id=2, scores={"csat": 5}))
    sales = app.plugin("warehouse").sales
    record = sales.add("rfq", 1, amount=100)
    sales.close(record.id, won=True)
    sales.add("quote", 2, amount=5)
    before = snapshot(app)
    summed = summary_rows(app)
    assert len(before["status"]) == 4 and len(before["answers"]) == 2 and len(before["facts"]) == 2
    counts = app.plugin("warehouse").rebuild(from_outbox=False)
    tables = ("contact_status", "contact_changes", "survey_responses", "survey_answers", "sales")
    assert {t: counts[t] for t in tables} == {
        "contact_status": 4, "contact_changes": 3, "survey_responses": 2, "survey_answers": 2, "sales": 2,
    }  # fmt: skip
    # the summary tables are added up again too, and the ones kept current as the events came are the same
    assert {t: counts[t] for t in summed} == {t: len(rows) for t, rows in summed.items()}
    assert counts["warehouse_summary_state"] == 1
    assert snapshot(app) == before and summary_rows(app) == summed


def test_the_sales_facts_follow_a_pipeline_change_after_a_rebuild(warehouse_app, crm_factory):
    app = warehouse_app()
    record = app.plugin("warehouse").sales.add("rfq", 1, amount=100, stage="proposal")
    with app.activate():
        assert SalesFactRow.get_by_id(record.id).probability == 0.5
    url = app.config.core.database
    app.close()
    import crm_warehouse.plugin as warehouse_plugin

    probabilities = {"new": 0.1, "qualified": 0.25, "proposal": 0.4, "negotiation": 0.75}
    changed = crm_factory(
        plugins=[("warehouse", warehouse_plugin)],
        database=url,
        settings={"warehouse": {"pipeline": {"probabilities": probabilities}}},
    )
    changed.plugin("warehouse").rebuild(from_outbox=False)
    with changed.activate():
        assert SalesFactRow.get_by_id(record.id).probability == 0.4
