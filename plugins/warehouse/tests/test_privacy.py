"""GDPR export and erasure, contact merges: the hooks the contacts plugin calls.

Called here through the kernel's hook facade (``crm.hooks``), exactly as the
contacts plugin's erase, export, merge and unmerge commands call them.
"""

from __future__ import annotations

import decimal
import io
import json

from crm_hookspecs.events import ContactChanged, ContactCreated, SurveyAnswered, TaskCreated
from crm_hookspecs.records import FieldChange
from crm_warehouse.models import ContactChangeRow, EventRow, SalesFactRow, SurveyAnswerFactRow


def populate(app, emit):
    emit(
        app,
        ContactCreated(
            contact_id=1, data={"first_name": "Ana", "email": "ana@x.es", "status": "customer", "region": "north"}
        ),
        ContactChanged(
            contact_id=1,
            changes={"email": FieldChange("ana@x.es", "ana@y.es"), "status": FieldChange("customer", "former")},
        ),
        TaskCreated(task_id=1, kind="call", title="Call Ana García", contact_id=1),
        ContactCreated(contact_id=2, data={"first_name": "Bea"}),
        SurveyAnswered(survey_id=1, version=1, contact_id=2, response_id=5, scores={"nps": 8}),
    )
    api = app.plugin("warehouse")
    sale = api.sales.add("sale", 1, title="Ana's boiler", amount="900.00", description="For her flat in Bilbao")
    api.sales.update(sale.id, description="For her flat in Bilbao, 3rd floor")
    api.sales.close(sale.id, won=False, lost_reason="Ana moved abroad")
    api.actions.log("call", contact_id=1, subject="Ana's new number", body="+34 600 000 000", author="maria")
    private = api.documents.attach(io.BytesIO(b"Ana's passport scan"), contact_id=1, name="passport.png")
    shared = api.documents.attach(io.BytesIO(b"brochure"), sale_id=sale.id, name="brochure.pdf")
    return sale, private, shared


def test_crm_export_personal_data_gathers_everything_held(warehouse_app, emit):
    app = warehouse_app()
    sale, private, shared = populate(app, emit)
    exported = app.hooks.export_personal_data(app, 1)["warehouse"]
    json.dumps(exported)  # JSON-ready
    assert [s["title"] for s in exported["sales"]] == ["Ana's boiler"]
    assert exported["sales"][0]["amount"] == "900.00"
    assert [a["subject"] for a in exported["staff_actions"]] == ["Ana's new number"]
    assert sorted(d["name"] for d in exported["documents"]) == ["brochure.pdf", "passport.png"]
    types = [e["type"] for e in exported["events"]]
    assert types[:3] == ["ContactCreated", "ContactChanged", "TaskCreated"] and "SaleClosed" in types
    assert app.hooks.export_personal_data(app, 2)["warehouse"]["survey_responses"][0]["scores"] == {"nps": 8}
    assert "warehouse" not in app.hooks.export_personal_data(app, 99)  # holds nothing: None


def test_crm_erase_personal_data_keeps_amounts_and_removes_what_identifies(warehouse_app, emit):
    app = warehouse_app()
    sale, private, shared = populate(app, emit)
    api = app.plugin("warehouse")
    store = api.documents
    private_file = store.path_of(private.sha256)
    with app.transaction():
        count = app.hooks.erase_personal_data(app, 1)["warehouse"]
    assert count >= 8
    as_of = api.contact_as_of(1, app.now())
    assert (as_of["first_name"], as_of["email"], as_of["status"], as_of["region"]) == (
        "[erased]",
        "[erased]",
        "former",
        "north",
    )
    summaries = " ".join(e.summary for e in api.timeline(1))
    assert "Ana" not in summaries and "ana@" not in summaries
    record = api.sales.get(sale.id)
    assert (record.title, record.description, record.lost_reason, record.amount, record.outcome) == (
        "[erased]", "[erased]", "[erased]", decimal.Decimal("900.00"), "lost",
    )  # fmt: skip
    [call] = api.actions.list(contact_id=1)
    assert (call.subject, call.body, call.author, call.kind) == ("[erased]", "[erased]", "maria", "call")
    assert [d.name for d in store.list(contact_id=1)] == ["brochure.pdf"]  # the sale's document stays
    assert not private_file.exists() and store.path_of(shared.sha256).exists()
    assert store.verify() == (1, [])
    trail = {(a.field, a.old, a.new) for a in api.audit(contact_id=1) if a.field}
    assert trail == {("email", "[erased]", "[erased]"), ("status", "customer", "former")}
    with app.activate():
        assert SalesFactRow.get_by_id(sale.id).amount == decimal.Decimal("900.00")
        payloads = "".join(p for (p,) in EventRow.select(EventRow.payload).tuples() if '"contact_id":1' in p)
        assert "Ana" not in payloads and "Bilbao" not in payloads
    [updated] = api.events(type_name="SaleUpdated")
    assert updated.payload["changes"]["description"] == {"old": "[erased]", "new": "[erased]"}
    # the other contact is untouched
    assert api.contact_as_of(2, app.now())["first_name"] == "Bea"


def test_an_erasure_rolled_back_keeps_the_files(warehouse_app, emit):
    app = warehouse_app()
    _, private, _ = populate(app, emit)
    store = app.plugin("warehouse").documents
    try:
        with app.transaction():
            app.hooks.erase_personal_data(app, 1)
            raise RuntimeError("another plugin failed to erase")
    except RuntimeError:
        pass
    assert store.path_of(private.sha256).exists()
    assert [d.name for d in store.list(contact_id=1)] == ["brochure.pdf", "passport.png"]


def test_crm_contacts_merged_moves_references_and_crm_contacts_unmerged_puts_them_back(warehouse_app, emit):
    app = warehouse_app()
    emit(
        app,
        ContactCreated(contact_id=1, data={"first_name": "Ana"}),
        ContactCreated(contact_id=2, data={"first_name": "Ann"}),
    )
    emit(app, SurveyAnswered(survey_id=1, version=1, contact_id=2, response_id=5, scores={"nps": 8}))
    api = app.plugin("warehouse")
    kept = api.sales.add("rfq", 1)
    moved_sale = api.sales.add("quote", 2, amount=10)
    note = api.actions.log("note", contact_id=2, body="duplicate of Ana?")
    doc = api.documents.attach(io.BytesIO(b"x"), contact_id=2, name="x.txt")
    survivor_before = [e.event_id for e in api.timeline(1)]
    with app.transaction():
        moved = app.hooks.contacts_merged(app, 1, 2)["warehouse"]
    assert moved["warehouse_sale"] == [moved_sale.id]
    assert moved["warehouse_staff_action"] == [note.id]
    assert moved["warehouse_document"] == [doc.id]
    assert moved["warehouse_survey_response"] == [5]
    assert len(moved["warehouse_event_contact"]) == len(api.timeline(2))
    assert sorted(r.id for r in api.sales.list(contact_id=1)) == [kept.id, moved_sale.id]
    assert [a.id for a in api.actions.list(contact_id=1)] == [note.id]
    with app.activate():
        assert SalesFactRow.get_by_id(moved_sale.id).contact_id == 1
        assert SurveyAnswerFactRow.get().contact_id == 1
    # the survivor's timeline shows the merged contact's history; its own fields stay its own
    assert {e.payload.get("contact_id") for e in api.timeline(1, kinds=["contact"])} == {1, 2}
    assert api.contact_as_of(1, app.now())["first_name"] == "Ana"
    json.dumps(moved)  # the contacts plugin keeps it as JSON
    with app.transaction():
        app.hooks.contacts_unmerged(app, 1, 2, {"warehouse": json.loads(json.dumps(moved))})
    assert [r.id for r in api.sales.list(contact_id=2)] == [moved_sale.id]
    assert [a.id for a in api.actions.list(contact_id=2)] == [note.id]
    assert [d.id for d in api.documents.list(contact_id=2)] == [doc.id]
    assert [e.event_id for e in api.timeline(1)] == survivor_before
    with app.activate():
        assert SalesFactRow.get_by_id(moved_sale.id).contact_id == 2
        assert ContactChangeRow.select().count() == 0  # merges are audited from their events, not from the hook
