"""Who may do what with the warehouse: every public method of ``WarehouseAPI`` (and of its ``sales``,
``actions`` and ``documents``) checks a permission, records are scoped by their owner, per-contact data by
the ``contacts.read`` scope, and listings keep to the scope in SQL.

The office: ana and bea sell in team north, carl sells in team south, sam supports team north, nobody has
no role. Each seller owns one customer and its sales, a note and a document about it.
"""

from __future__ import annotations

import datetime as dt
import inspect
import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from crm_core.errors import PermissionDenied
from crm_warehouse.actions import StaffLog
from crm_warehouse.api import Warehouse, WarehouseAPI
from crm_warehouse.documents import DocumentStore
from crm_warehouse.sales import SalesBook

SELLERS = ("ana", "bea", "carl")


@pytest.fixture
def office(crm_factory, crm_user, crm_clock):
    crm = crm_factory(plugins=["contacts", "warehouse"], settings={"contacts": {"default_region": "ES"}})
    crm_user(crm, name="ana", roles=["sales"], teams=["north"])
    crm_user(crm, name="bea", roles=["sales"], teams=["north"])
    crm_user(crm, name="carl", roles=["sales"], teams=["south"])
    crm_user(crm, name="sam", roles=["support"], teams=["north"])
    crm_user(crm, name="nobody", roles=[])
    contacts, warehouse = crm.plugin("contacts"), crm.plugin("warehouse")
    ids: dict[str, Any] = {"contact": {}, "sale": {}, "won": {}, "action": {}, "document": {}}
    for seller in SELLERS:  # as the system
        contact = contacts.create(first_name=seller.title(), last_name="Customer", status="customer", owner=seller)
        ids["contact"][seller] = contact.id
        ids["sale"][seller] = warehouse.sales.add("quote", contact.id, amount="100", owner=seller).id
        won = warehouse.sales.add("sale", contact.id, amount="40", owner=seller, stage="proposal")
        ids["won"][seller] = warehouse.sales.close(won.id, won=True).id
        ids["action"][seller] = warehouse.actions.log("call", contact_id=contact.id, body=f"{seller}'s call").id
        doc = warehouse.documents.attach(io.BytesIO(f"{seller} offer".encode()), contact_id=contact.id, name="o.txt")
        ids["document"][seller] = doc.id
        contacts.update(contact.id, region=f"{seller}-land")
    crm_clock.advance(days=1)
    return crm, ids


def _sha(crm, ids):
    return crm.plugin("warehouse").documents.get(ids["document"]["carl"]).sha256


#: every public method, called on carl's records (the sales user ana may not reach them)
CALLS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    # the contract
    "contact_as_of": lambda api, ids: api.contact_as_of(ids["contact"]["carl"], dt.date(2030, 1, 1)),
    "timeline": lambda api, ids: api.timeline(ids["contact"]["carl"]),
    "customers_without_won_sale_since": lambda api, ids: api.customers_without_won_sale_since(dt.date(2030, 1, 1)),
    "customers_quiet_since": lambda api, ids: api.customers_quiet_since(dt.date(2030, 1, 1)),
    "reporting_tables": lambda api, ids: api.reporting_tables(),
    # history and the store
    "audit": lambda api, ids: api.audit(contact_id=ids["contact"]["carl"]),
    "events": lambda api, ids: api.events(),
    "event": lambda api, ids: api.event(api.crm.events.read(0, limit=1)[0].event.event_id),
    "status": lambda api, ids: api.status(),
    "table_sizes": lambda api, ids: api.table_sizes(),
    "rebuild": lambda api, ids: api.rebuild(from_outbox=False),
    "summaries": lambda api, ids: api.summaries(),
    "rebuild_summaries": lambda api, ids: api.rebuild_summaries(),
    "check_summaries": lambda api, ids: api.check_summaries(),
    # sales
    "sales.get": lambda api, ids: api.sales.get(ids["sale"]["carl"]),
    "sales.list": lambda api, ids: api.sales.list(owner="carl"),
    "sales.count": lambda api, ids: api.sales.count(owner="carl"),
    "sales.moves": lambda api, ids: api.sales.moves(ids["sale"]["carl"]),
    "sales.forecast": lambda api, ids: api.sales.forecast(owner="carl"),
    "sales.export": lambda api, ids: list(api.sales.export(owner="carl")),
    "sales.add": lambda api, ids: api.sales.add("rfq", ids["contact"]["carl"]),
    "sales.update": lambda api, ids: api.sales.update(ids["sale"]["carl"], title="Changed"),
    "sales.move": lambda api, ids: api.sales.move(ids["sale"]["carl"], "qualified"),
    "sales.close": lambda api, ids: api.sales.close(ids["sale"]["carl"], won=True),
    "sales.rebuild_facts": lambda api, ids: api.sales.rebuild_facts(),
    # staff actions
    "actions.log": lambda api, ids: api.actions.log("note", contact_id=ids["contact"]["carl"], body="hi"),
    "actions.get": lambda api, ids: api.actions.get(ids["action"]["carl"]),
    "actions.list": lambda api, ids: api.actions.list(contact_id=ids["contact"]["carl"]),
    "actions.many": lambda api, ids: api.actions.many([ids["action"]["carl"]]),
    # documents
    "documents.attach": lambda api, ids: api.documents.attach(
        io.BytesIO(b"x"), contact_id=ids["contact"]["carl"], name="x.txt"
    ),
    "documents.get": lambda api, ids: api.documents.get(ids["document"]["carl"]),
    "documents.open": lambda api, ids: api.documents.open(ids["document"]["carl"]).close(),
    "documents.read_bytes": lambda api, ids: api.documents.read_bytes(ids["document"]["carl"]),
    "documents.verified": lambda api, ids: api.documents.verified(ids["document"]["carl"]).close(),
    "documents.list": lambda api, ids: api.documents.list(contact_id=ids["contact"]["carl"]),
    "documents.path_of": lambda api, ids: api.documents.path_of("0" * 64),
    "documents.verify": lambda api, ids: api.documents.verify(),
}
#: names only, no rows: the reports that read the tables keep to the user's scope
OPEN = {"reporting_tables"}
#: what the sales role does not hold at all (warehouse.admin, warehouse.events.inspect)
NOT_FOR_SELLERS = {
    "events", "event", "status", "table_sizes", "rebuild", "sales.rebuild_facts", "documents.verify", "summaries",
    "rebuild_summaries", "check_summaries",
}  # fmt: skip
#: calls that reach carl's records (or contact) and are refused to ana, who holds the permission
OUT_OF_SCOPE = {
    "contact_as_of", "timeline", "audit", "sales.get", "sales.moves", "sales.add", "sales.update", "sales.move",
    "sales.close", "actions.log", "actions.get", "documents.attach", "documents.get", "documents.open",
    "documents.read_bytes", "documents.verified",
}  # fmt: skip
#: no record involved: only the permission is checked
PLAIN = {"documents.path_of"}
#: listings, counts and reports: for ana, carl's rows are simply not there
LISTINGS = {
    "customers_without_won_sale_since", "customers_quiet_since", "sales.list", "sales.count",
    "sales.forecast", "sales.export", "actions.list", "actions.many", "documents.list",
}  # fmt: skip


def _public_methods() -> set[str]:
    names = set()
    for prefix, cls in (
        ("", WarehouseAPI),
        ("sales.", SalesBook),
        ("actions.", StaffLog),
        ("documents.", DocumentStore),
    ):
        for name, _member in inspect.getmembers(cls, inspect.isfunction):
            if not name.startswith("_"):
                names.add(prefix + name)
    return names


def test_every_public_method_is_in_the_table_of_calls():
    assert _public_methods() == set(CALLS)
    assert OPEN | NOT_FOR_SELLERS | OUT_OF_SCOPE | PLAIN | LISTINGS == set(CALLS)


def test_the_old_class_name_is_the_same_class():
    import crm_warehouse.personal
    import crm_warehouse.privacy

    assert Warehouse is WarehouseAPI
    assert crm_warehouse.privacy.merge is crm_warehouse.personal.merged
    assert crm_warehouse.privacy.export is crm_warehouse.personal.export


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_user_without_roles_is_refused_everything(office, name):
    crm, ids = office
    api = crm.plugin("warehouse")
    with crm.as_user("nobody"):
        if name in OPEN:
            assert CALLS[name](api, ids)["sales"] == "warehouse_sales_fact"
            return
        with pytest.raises(PermissionDenied, match="'nobody' may not"):
            CALLS[name](api, ids)


@pytest.mark.parametrize("name", sorted(NOT_FOR_SELLERS | OUT_OF_SCOPE))
def test_a_seller_is_refused_other_sellers_records_and_the_admin_work(office, name):
    crm, ids = office
    api = crm.plugin("warehouse")
    before = api.sales.get(ids["sale"]["carl"])
    with crm.as_user("ana"), pytest.raises(PermissionDenied) as denied:
        CALLS[name](api, ids)
    assert "'ana' may not" in str(denied.value)
    assert api.sales.get(ids["sale"]["carl"]) == before  # nothing changed


def test_a_seller_lists_and_counts_exactly_their_own(office):
    crm, ids = office
    api = crm.plugin("warehouse")
    mine = {ids["contact"]["ana"]}
    with crm.as_user("ana"):
        assert [s.id for s in api.sales.list()] == [ids["won"]["ana"], ids["sale"]["ana"]]
        assert api.sales.count() == 2 and api.sales.count(outcome="won") == 1
        assert api.sales.list(owner="carl") == [] and api.sales.count(owner="carl") == 0
        # the scope is in SQL: the first page is ana's newest, not a page of others' filtered out
        assert [s.id for s in api.sales.list(limit=1)] == [ids["won"]["ana"]]
        assert [s.id for s in api.sales.export(page=1)] == [ids["sale"]["ana"], ids["won"]["ana"]]
        assert CALLS["sales.export"](api, ids) == []
        forecast = {r["stage"]: (r["records"], str(r["amount"])) for r in api.sales.forecast()}
        assert forecast["new"] == (1, "100.00") and sum(r["records"] for r in api.sales.forecast()) == 1
        assert [a.id for a in api.actions.list()] == [ids["action"]["ana"]]
        assert [a.id for a in api.actions.list(limit=1)] == [ids["action"]["ana"]]
        assert [d.id for d in api.documents.list()] == [ids["document"]["ana"]]
        assert {a.contact_id for a in api.audit()} == mine
        assert set(api.customers_without_won_sale_since(dt.date(2030, 1, 1))) == mine
        assert set(api.customers_quiet_since(dt.date(2030, 1, 1))) == mine
        # carl's rows exist: the listings above left them out
        assert CALLS["actions.list"](api, ids) == [] and CALLS["documents.list"](api, ids) == []
        assert CALLS["actions.many"](api, ids) == {}
        assert set(api.actions.many([ids["action"]["ana"], ids["action"]["carl"]])) == {ids["action"]["ana"]}
        # one contact's audit is that contact's record: out of scope is refused, as its timeline is
        with pytest.raises(PermissionDenied):
            api.audit(contact_id=ids["contact"]["carl"])
        # and ana reaches her own records one by one
        assert api.sales.get(ids["sale"]["ana"]).owner == "ana"
        assert api.timeline(ids["contact"]["ana"]) and api.contact_as_of(ids["contact"]["ana"], dt.date(2030, 1, 1))
        assert api.documents.read_bytes(ids["document"]["ana"]) == b"ana offer"
        assert api.actions.get(ids["action"]["ana"]).body == "ana's call"
    assert api.sales.count() == 6  # the system sees all


def test_a_seller_works_their_own_records_and_is_recorded_as_the_actor(office):
    crm, ids = office
    api = crm.plugin("warehouse")
    with crm.as_user("ana"):
        sale = api.sales.add("rfq", ids["contact"]["ana"], owner=None)
        assert (sale.owner, sale.created_by) == ("ana", "ana")  # no owner given: the acting user
        api.sales.update(sale.id, title="Boiler")
        api.sales.move(sale.id, "qualified")
        closed = api.sales.close(sale.id, won=False, lost_reason="price")
        assert closed.outcome == "lost"
        assert [m.actor for m in api.sales.moves(sale.id)] == ["ana", "ana", "ana"]
        note = api.actions.log("note", sale_id=sale.id, body="Too dear")
        doc = api.documents.attach(io.BytesIO(b"quote"), sale_id=sale.id, name="q.txt")
        assert (note.author, doc.uploaded_by) == ("ana", "ana")
        # giving a sale away takes it out of her reach
        api.sales.update(ids["sale"]["ana"], owner="bea")
        with pytest.raises(PermissionDenied, match="owned by 'bea'"):
            api.sales.get(ids["sale"]["ana"])
    entries = api.timeline(ids["contact"]["ana"], kinds=["request", "sale", "note", "document"])
    assert entries and {e.actor for e in entries if e.occurred_at >= sale.created_at} == {"ana"}


def test_the_support_team_sees_its_teams_records(office):
    crm, ids = office
    api = crm.plugin("warehouse")
    north = {ids["contact"]["ana"], ids["contact"]["bea"]}
    with crm.as_user("sam"):
        assert {s.owner for s in api.sales.list()} == {"ana", "bea"} and api.sales.count() == 4
        with pytest.raises(PermissionDenied, match="warehouse.sales.export"):
            api.sales.export()  # support reads but does not export; refused at the call, before any row
        assert {a.contact_id for a in api.actions.list()} == north
        assert {d.contact_id for d in api.documents.list()} == north
        assert {a.contact_id for a in api.audit()} == north
        assert api.sales.get(ids["sale"]["bea"]).owner == "bea"
        assert api.timeline(ids["contact"]["bea"])
        api.sales.move(ids["sale"]["bea"], "qualified")  # support edits too (sales.edit, team scope)
        for name in ("sales.get", "timeline", "actions.get", "documents.get"):
            with pytest.raises(PermissionDenied):
                CALLS[name](api, ids)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_system_still_does_everything(office, name):
    crm, ids = office
    api = crm.plugin("warehouse")
    CALLS[name](api, ids)  # no user acting: no check refuses it


def test_the_system_sees_every_row(office):
    crm, ids = office
    api = crm.plugin("warehouse")
    assert (
        api.sales.count() == 6
        and len(list(api.sales.export(page=4))) == 6
        and len(api.actions.list()) == 3
        and len(api.documents.list()) == 3
    )
    assert set(api.customers_without_won_sale_since(dt.date(2030, 1, 1))) == set(ids["contact"].values())


def test_the_cli_refuses_in_one_line_with_exit_code_6(office, crm_cli):
    crm, ids = office
    for user, args in (
        ("nobody", ["sales", "list"]),
        ("ana", ["sales", "show", str(ids["sale"]["carl"])]),
        ("ana", ["warehouse", "timeline", str(ids["contact"]["carl"])]),
        ("ana", ["warehouse", "rebuild"]),
    ):
        result = crm_cli.invoke(["--as", user, *args], app=crm)
        assert result.exit_code == 6, (args, result.output)
        assert result.output.startswith(f"Error: user {user!r} may not"), result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    for command in ("list", "export"):
        result = crm_cli.invoke(["--as", "ana", "sales", command, "--format", "json"], app=crm)
        assert result.exit_code == 0, result.output
        assert {r["owner"] for r in json.loads(result.output)} == {"ana"}
