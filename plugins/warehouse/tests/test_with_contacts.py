"""The warehouse with the contacts plugin: real contact events, as-of, merges, erasure, demo."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from crm_core.errors import NotFoundError

CONTACTS = {"contacts": {"default_region": "ES"}}


@pytest.fixture
def both(crm_factory):
    return crm_factory(plugins=["contacts", "warehouse"], settings=CONTACTS)


def test_contacts_show_as_of_reads_the_warehouse(both, crm_cli, crm_clock):
    contacts = both.plugin("contacts")
    ana = contacts.create(
        first_name="Ana", last_name="García", email="ana@example.es", status="prospect", region="Norte", actor="maria"
    )
    crm_clock.advance(days=10)
    contacts.update(ana.id, status="customer", emails=["ana@new.es"], actor="luis")
    first_day = (crm_clock.now() - dt.timedelta(days=10)).date().isoformat()
    result = crm_cli.invoke(["contacts", "show", str(ana.id), "--as-of", first_day, "--format", "json"], app=both)
    assert result.exit_code == 0, result.output
    assert "prospect" in result.output and "ana@example.es" in result.output and "ana@new.es" not in result.output
    now = both.plugin("warehouse").contact_as_of(ana.id, crm_clock.now())
    assert now["status"] == "customer"
    trail = both.plugin("warehouse").audit(contact_id=ana.id, field="status")
    assert [(a.old, a.new, a.actor, a.channel) for a in trail] == [("prospect", "customer", "luis", "staff")]
    statuses = [e.summary for e in both.plugin("warehouse").timeline(ana.id, kinds=["contact"])]
    assert statuses[-1] == "created (person): Ana García"


def test_sales_take_the_contacts_owner_region_and_organization(both):
    contacts = both.plugin("contacts")
    acme = contacts.create(kind="organization", display_name="Acme SL", region="Sur")
    bea = contacts.create(first_name="Bea", email="bea@acme.es", organization_id=acme.id, owner="tom", region="Sur")
    sale = both.plugin("warehouse").sales.add("rfq", bea.id, amount=100)
    assert (sale.organization_id, sale.owner, sale.region) == (acme.id, "tom", "Sur")
    with pytest.raises(NotFoundError):
        both.plugin("warehouse").sales.add("rfq", 999)


def test_merge_and_unmerge_through_the_contacts_plugin(both):
    contacts = both.plugin("contacts")
    warehouse = both.plugin("warehouse")
    ana = contacts.create(first_name="Ana", email="ana@example.es")
    dup = contacts.create(first_name="Ana", email="ana.g@example.es")
    sale = warehouse.sales.add("quote", dup.id, amount=50)
    merge_id = contacts.merge(ana.id, dup.id)
    assert [s.id for s in warehouse.sales.list(contact_id=ana.id)] == [sale.id]
    assert any(e.type == "ContactsMerged" for e in warehouse.timeline(ana.id))
    assert warehouse.contact_as_of(dup.id, both.now())["deleted"] is True
    contacts.unmerge(dup.id)
    assert [s.id for s in warehouse.sales.list(contact_id=dup.id)] == [sale.id]
    assert merge_id


def test_erase_through_the_contacts_plugin(both):
    contacts = both.plugin("contacts")
    warehouse = both.plugin("warehouse")
    ana = contacts.create(first_name="Ana", last_name="García", email="ana@example.es")
    sale = warehouse.sales.add("sale", ana.id, title="Ana's boiler", amount="1500.00")
    warehouse.actions.log("note", contact_id=ana.id, body="Ana prefers mornings")
    counts = contacts.erase(ana.id)
    assert counts["warehouse"] >= 3
    assert warehouse.sales.get(sale.id).amount == 1500
    assert warehouse.sales.get(sale.id).title == "[erased]"
    stored = json.dumps([e.payload for e in warehouse.timeline(ana.id)])
    assert "García" not in stored and "ana@example.es" not in stored


def test_crm_demo_data_spreads_sales_and_notes_over_two_years(both, monkeypatch):
    """The warehouse's crm_demo_data on top of a few contacts (the contacts demo itself has 3,000)."""
    import crm_warehouse.demo
    import crm_warehouse.plugin

    contacts = both.plugin("contacts")
    for i in range(12):
        contacts.create(
            first_name=f"Person{i}",
            email=f"p{i}@example.es",
            status="customer" if i % 3 == 0 else "prospect",
            owner="maria",
        )
    monkeypatch.setattr(crm_warehouse.demo, "RECORDS", 30)
    monkeypatch.setattr(crm_warehouse.demo, "NOTES", 10)
    lines = crm_warehouse.plugin.crm_demo_data(both)
    assert lines[0].startswith("30 sales records over 2 years")
    warehouse = both.plugin("warehouse")
    records = warehouse.sales.list(limit=1000)
    assert len(records) == 30
    assert {r.outcome for r in records} == {"won", "lost", "open"}
    assert both.clock.now() - min(r.created_at for r in records) > dt.timedelta(days=700)
    assert all(r.closed_on is None or r.closed_on <= both.today() for r in records)
    assert len(warehouse.actions.list(limit=1000)) >= 10
    assert warehouse.documents.verify()[1] == []
    # every event reached the store, dated when it happened
    timeline = warehouse.timeline(records[-1].contact_id, kinds=["request", "sale"], limit=1000)
    assert timeline and min(e.occurred_at for e in timeline) < both.clock.now() - dt.timedelta(days=600)


def test_the_warehouse_demo_needs_contacts(crm_factory):
    import crm_warehouse.plugin

    app = crm_factory(plugins=["contacts", "warehouse"], settings=CONTACTS)
    assert crm_warehouse.plugin.crm_demo_data(app) == [
        "no contacts found: the warehouse's demo attaches its sales to the contacts plugin's demo contacts"
    ]
