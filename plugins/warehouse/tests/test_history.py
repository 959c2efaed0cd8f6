"""History: timelines, a contact's fields on a past date, the audit trail."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_core.errors import NotFoundError, ValidationError
from crm_hookspecs.apis import WarehouseAPI
from crm_hookspecs.events import (
    ConsentGiven,
    ContactChanged,
    ContactCreated,
    ContactDeleted,
    ContactRestored,
    ContactsMerged,
    StaffActionLogged,
    SurveyAnswered,
    TaskCreated,
)
from crm_hookspecs.records import FieldChange

UTC = dt.UTC


def change(**fields: tuple) -> dict:
    return {k: FieldChange(old, new) for k, (old, new) in fields.items()}


def test_the_api_object_implements_the_contract(warehouse_app):
    api = warehouse_app().plugin("warehouse")
    assert isinstance(api, WarehouseAPI)
    assert api.reporting_tables()["sales"] == "warehouse_sales_fact"


def test_timeline_newest_first_filtered_by_kind_and_paged(warehouse_app, emit, crm_clock):
    app = warehouse_app()
    emit(app, ContactCreated(contact_id=1, data={"first_name": "Ana"}))
    for i in range(3):
        crm_clock.advance(hours=1)
        emit(app, StaffActionLogged(action_id=i, contact_id=1, kind="call", author="maria"))
    crm_clock.advance(hours=1)
    emit(
        app,
        TaskCreated(task_id=1, kind="call-back", title="Call Ana", contact_id=1),
        StaffActionLogged(action_id=9, contact_id=2, kind="note"),
    )
    api = app.plugin("warehouse")
    entries = api.timeline(1)
    assert [e.type for e in entries] == [
        "TaskCreated",
        "StaffActionLogged",
        "StaffActionLogged",
        "StaffActionLogged",
        "ContactCreated",
    ]
    assert [e.occurred_at for e in entries] == sorted((e.occurred_at for e in entries), reverse=True)
    assert entries[-1].summary == "created (person): Ana"
    assert entries[0].summary == "task call-back created: Call Ana"
    assert [e.kind for e in api.timeline(1, kinds=["note", "task"])] == ["task", "note", "note", "note"]
    first_page = api.timeline(1, limit=2)
    second_page = api.timeline(1, limit=2, before=first_page[-1].occurred_at)
    assert [e.payload.get("action_id") for e in first_page + second_page] == [None, 2, 1, 0]
    assert api.timeline(3) == []
    with pytest.raises(
        ValidationError, match=r"unknown timeline kind 'calls'; the kinds are: contact, consent, request"
    ):
        api.timeline(1, kinds=["calls"])
    with pytest.raises(ValidationError, match=r"limit 0 must be a whole number"):
        api.timeline(1, limit=0)


def test_a_timeline_cursor_of_time_and_event_skips_nothing_at_the_same_instant(warehouse_app, emit):
    app = warehouse_app()
    emit(app, *(StaffActionLogged(action_id=i, contact_id=1, kind="call") for i in range(5)))  # the clock stands still
    api = app.plugin("warehouse")
    seen, last = [], None
    while True:
        page = api.timeline(
            1, limit=2, before=last.occurred_at if last else None, before_event=last.event_id if last else None
        )
        if not page:
            break
        seen += [e.payload["action_id"] for e in page]
        last = page[-1]
    assert sorted(seen) == [0, 1, 2, 3, 4] and len(seen) == 5
    with pytest.raises(ValidationError, match="before_event needs before"):
        api.timeline(1, before_event=last.event_id)
    with pytest.raises(ValidationError, match="is not a stored event"):
        api.timeline(1, before=last.occurred_at, before_event="nope")


def test_consents_have_a_timeline_kind_and_older_ones_are_moved_to_it(warehouse_app, emit):
    import importlib

    app = warehouse_app()
    emit(app, ConsentGiven(contact_id=1, source="signup:newsletter", text="Send me the news", lists=["news"]))
    api = app.plugin("warehouse")
    [entry] = api.timeline(1, kinds=["consent"])
    assert entry.summary == "consent given through signup:newsletter to the lists news: 'Send me the news'"
    migration = importlib.import_module("crm_warehouse.migrations.0003_consent_kind")
    with app.activate():
        migration.down(None, app.database)  # as stored before the catalog named the kind
        assert api.timeline(1, kinds=["consent"]) == [] and len(api.timeline(1, kinds=["other"])) == 1
        migration.up(None, app.database)
    assert [e.type for e in api.timeline(1, kinds=["consent"])] == ["ConsentGiven"]


def test_contact_as_of_rebuilds_the_fields_on_a_past_date(warehouse_app, emit, crm_clock):
    crm_clock.set(dt.datetime(2026, 1, 10, 12, tzinfo=UTC))
    app = warehouse_app(timezone="Europe/Madrid")
    emit(
        app,
        ContactCreated(
            contact_id=5, data={"first_name": "Ana", "email": "ana@old.es", "status": "prospect", "tags": ["vip"]}
        ),
    )
    crm_clock.set(dt.datetime(2026, 1, 20, 9, tzinfo=UTC))
    emit(
        app,
        ContactChanged(
            contact_id=5, changes=change(email=("ana@old.es", "ana@new.es"), status=("prospect", "customer"))
        ),
    )
    # 23:30 UTC on the 31st is already February 1st in Madrid
    crm_clock.set(dt.datetime(2026, 1, 31, 23, 30, tzinfo=UTC))
    emit(app, ContactChanged(contact_id=5, changes=change(phone=(None, "+34600000000"))))
    crm_clock.set(dt.datetime(2026, 2, 10, 9, tzinfo=UTC))
    emit(app, ContactDeleted(contact_id=5))
    api = app.plugin("warehouse")
    assert api.contact_as_of(5, dt.date(2026, 1, 15)) == {
        "id": 5, "kind": "person", "first_name": "Ana", "email": "ana@old.es", "status": "prospect", "tags": ["vip"], "deleted": False,
    }  # fmt: skip
    on_31st = api.contact_as_of(5, dt.date(2026, 1, 31))
    assert (on_31st["email"], on_31st["status"], "phone" in on_31st) == ("ana@new.es", "customer", False)
    assert api.contact_as_of(5, dt.datetime(2026, 1, 31, 23, 30, tzinfo=UTC))["phone"] == "+34600000000"
    assert api.contact_as_of(5, dt.date(2026, 2, 10))["deleted"] is True
    with pytest.raises(
        NotFoundError, match=r"contact 5 did not exist yet on 2026-01-09: it was created on 2026-01-10 13:00"
    ):
        api.contact_as_of(5, dt.date(2026, 1, 9))
    with pytest.raises(NotFoundError, match=r"holds no creation of contact 6"):
        api.contact_as_of(6, dt.date(2026, 1, 9))
    with pytest.raises(ValidationError, match=r"has no time zone"):
        api.contact_as_of(5, dt.datetime(2026, 1, 9))
    with pytest.raises(ValidationError, match=r"is not a date"):
        api.contact_as_of(5, "yesterday")


def test_as_of_follows_deletions_merges_and_ignores_the_other_contacts_events(warehouse_app, emit, crm_clock):
    app = warehouse_app()
    emit(
        app,
        ContactCreated(contact_id=1, data={"first_name": "Ana"}),
        ContactCreated(contact_id=2, data={"first_name": "Ann"}),
    )
    crm_clock.advance(days=1)
    emit(app, ContactsMerged(survivor_id=1, merged_id=2, merge_id=1))
    crm_clock.advance(days=1)
    emit(app, ContactDeleted(contact_id=1))
    crm_clock.advance(days=1)
    emit(app, ContactRestored(contact_id=1))
    api = app.plugin("warehouse")
    today = crm_clock.now()
    assert api.contact_as_of(1, today) == {"id": 1, "kind": "person", "first_name": "Ana", "deleted": False}
    assert api.contact_as_of(1, today - dt.timedelta(days=1))["deleted"] is True
    assert api.contact_as_of(2, today) == {
        "id": 2,
        "kind": "person",
        "first_name": "Ann",
        "deleted": True,
        "merged_into": 1,
    }


def test_the_audit_trail_says_who_changed_what_when_and_how(warehouse_app, emit, crm_clock):
    app = warehouse_app()
    emit(app, ContactCreated(contact_id=1, data={"email": "a@x.es"}, actor="maria", channel="import"))
    crm_clock.advance(days=2)
    emit(app, ContactChanged(contact_id=1, changes=change(email=("a@x.es", "b@x.es")), actor="luis", channel="staff"))
    crm_clock.advance(days=2)
    emit(
        app,
        ContactChanged(
            contact_id=1, changes=change(email=("b@x.es", "c@x.es"), city=("Madrid", "Bilbao")), channel="self-service"
        ),
    )
    emit(app, ContactChanged(contact_id=2, changes=change(email=(None, "z@x.es")), actor="luis"))
    api = app.plugin("warehouse")
    trail = api.audit(contact_id=1)
    assert [(a.action, a.field, a.old, a.new, a.actor, a.channel) for a in trail] == [
        ("changed", "email", "b@x.es", "c@x.es", None, "self-service"),
        ("changed", "city", "Madrid", "Bilbao", None, "self-service"),
        ("changed", "email", "a@x.es", "b@x.es", "luis", "staff"),
    ]  # a creation is not a change: it is on the timeline
    assert trail[0].occurred_at == crm_clock.now()
    assert [a.contact_id for a in api.audit(field="email", actor="luis")] == [2, 1]
    assert [a.field for a in api.audit(channel="self-service")] == ["email", "city"]
    start = (crm_clock.now() - dt.timedelta(days=3)).date()
    assert len(api.audit(since=start)) == 4
    assert api.audit(until=start) == []
    assert len(api.audit(limit=1)) == 1


def test_customers_without_a_won_sale_since(warehouse_app, emit, crm_clock):
    app = warehouse_app()
    emit(
        app,
        ContactCreated(contact_id=1, data={"status": "customer"}),
        ContactCreated(contact_id=2, data={"status": "customer"}),
        ContactCreated(contact_id=3, data={"status": "customer"}),
        ContactCreated(contact_id=4, data={"status": "prospect"}),
        ContactCreated(contact_id=5, data={"status": "customer"}),
    )
    emit(app, ContactDeleted(contact_id=5))
    sales = app.plugin("warehouse").sales
    old = sales.add("sale", 1, amount=10)
    sales.close(old.id, won=True, closed_on=dt.date(2025, 6, 1))
    recent = sales.add("sale", 2, amount=10)
    sales.close(recent.id, won=True)
    lost = sales.add("sale", 3, amount=10)
    sales.close(lost.id, won=False)
    api = app.plugin("warehouse")
    assert api.customers_without_won_sale_since(dt.date(2025, 12, 1)) == {1: dt.date(2025, 6, 1), 3: None}
    assert api.customers_without_won_sale_since(dt.date(2025, 1, 1)) == {3: None}
    with pytest.raises(ValidationError, match="since must be a date"):
        api.customers_without_won_sale_since("2025-01-01")


def test_customers_are_quiet_from_their_last_purchase_or_becoming_customers(warehouse_app, emit, crm_clock):
    app = warehouse_app(timezone="Europe/Madrid")
    emit(
        app,
        *(ContactCreated(contact_id=i, data={"status": "customer", "region": "north"}) for i in (1, 2, 3)),
        ContactCreated(contact_id=4, data={"status": "prospect"}),
    )
    joined = app.today()
    sales = app.plugin("warehouse").sales
    old = sales.add("sale", 1, amount=10)
    sales.close(old.id, won=True, closed_on=joined - dt.timedelta(days=400))
    crm_clock.advance(days=10)
    # 2 leaves and comes back; a move of region does not start a new spell; 4 becomes a customer
    emit(
        app,
        ContactChanged(contact_id=2, changes=change(status=("customer", "former"))),
        ContactChanged(contact_id=3, changes=change(region=("north", "south"))),
    )
    crm_clock.advance(days=10)
    emit(
        app,
        ContactChanged(contact_id=2, changes=change(status=("former", "customer"))),
        ContactChanged(contact_id=4, changes=change(status=("prospect", "customer"))),
    )
    back = app.today()
    api = app.plugin("warehouse")
    assert api.customers_quiet_since(joined) == {}  # all of them were customers from that day on
    assert api.customers_quiet_since(joined + dt.timedelta(days=1)) == {
        1: (joined - dt.timedelta(days=400), joined),
        3: (None, joined),
    }
    assert api.customers_quiet_since(back + dt.timedelta(days=1)) == {
        1: (joined - dt.timedelta(days=400), joined),
        2: (None, back),
        3: (None, joined),
        4: (None, back),
    }
    with pytest.raises(ValidationError, match="since must be a date"):
        api.customers_quiet_since("2025-01-01")


def test_survey_answers_are_stored_for_reports(warehouse_app, emit, crm_clock):
    from crm_warehouse.models import SurveyAnswerFactRow, SurveyResponseRow

    app = warehouse_app()
    answered_at = crm_clock.now()
    first = SurveyAnswered(
        survey_id=1,
        version=2,
        contact_id=7,
        response_id=10,
        scores={"nps": 6, "csat": 4},
        negative=True,
        region="north",
    )
    emit(app, first)
    with app.activate():
        response = SurveyResponseRow.get_by_id(10)
        assert (response.survey_id, response.version, response.contact_id, response.negative, response.region) == (
            1,
            2,
            7,
            True,
            "north",
        )
        assert (response.answered_on, response.answered_quarter) == (crm_clock.now().date(), "2026-Q1")
        facts = {(f.question, f.score, f.negative) for f in SurveyAnswerFactRow.select()}
        assert facts == {("nps", 6.0, True), ("csat", 4.0, True)}
    # the response is answered again: the newer answer replaces it...
    crm_clock.advance(hours=1)
    emit(app, SurveyAnswered(survey_id=1, version=2, contact_id=7, response_id=10, scores={"nps": 9}, region="north"))
    # ...and an older answer delivered late does not
    emit(
        app,
        SurveyAnswered(
            survey_id=1, version=2, contact_id=7, response_id=10, scores={"nps": 1}, occurred_at=answered_at
        ),
    )
    with app.activate():
        assert [(f.question, f.score, f.negative) for f in SurveyAnswerFactRow.select()] == [("nps", 9.0, False)]
        assert SurveyResponseRow.get_by_id(10).negative is False
