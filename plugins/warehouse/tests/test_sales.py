"""Sales records: the pipeline, its events, the sales facts, and every bad input."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

import crm_warehouse.plugin as warehouse_plugin
from crm_core.errors import ConfigError, NotFoundError, ValidationError
from crm_warehouse.models import SalesFactRow, StageMoveRow


def test_a_request_moves_through_the_pipeline_and_emits_events(warehouse_app, crm_recorder, crm_clock):
    app = warehouse_app(("recorder", crm_recorder))
    sales = app.plugin("warehouse").sales
    record = sales.add(
        "rfq", 42, title="Boiler", amount="1200.50", currency="eur", owner="maria", region="north", actor="maria"
    )
    assert (record.kind, record.stage, record.amount, record.currency, record.outcome) == (
        "rfq",
        "new",
        decimal.Decimal("1200.50"),
        "EUR",
        "open",
    )
    assert record.probability == 0.1
    crm_clock.advance(days=3)
    record = sales.move(record.id, "qualified", actor="maria")
    crm_clock.advance(days=10)
    record = sales.close(record.id, won=True, actor="luis")
    assert (record.stage, record.outcome, record.closed_on) == ("won", "won", crm_clock.now().date())
    assert crm_recorder.types() == ["RequestReceived", "StageChanged", "StageChanged", "StageChanged", "SaleClosed"]
    received, entered, moved, closing, closed = crm_recorder.events
    assert (received.record_id, received.contact_id, received.kind, received.owner, received.region) == (
        record.id,
        42,
        "rfq",
        "maria",
        "north",
    )
    assert (entered.old_stage, entered.new_stage) == (None, "new")
    assert (moved.old_stage, moved.new_stage, moved.actor) == ("new", "qualified", "maria")
    assert (closing.old_stage, closing.new_stage) == ("qualified", "won")
    assert (closed.won, closed.amount, closed.currency, closed.closed_on, closed.actor) == (
        True,
        decimal.Decimal("1200.50"),
        "EUR",
        record.closed_on,
        "luis",
    )
    assert [(m.old_stage, m.new_stage) for m in sales.moves(record.id)] == [
        (None, "new"),
        ("new", "qualified"),
        ("qualified", "won"),
    ]


def test_quotes_and_sales_emit_no_request_event(warehouse_app, crm_recorder):
    app = warehouse_app(("recorder", crm_recorder))
    app.plugin("warehouse").sales.add("quote", 1, amount=500)
    assert crm_recorder.types() == ["StageChanged"]


def test_losing_keeps_the_reason_and_the_fact_row_follows_every_change(warehouse_app, crm_clock):
    app = warehouse_app()
    sales = app.plugin("warehouse").sales
    record = sales.add("rfp", 5, amount="99.99", currency="USD", region="south", owner="tom", product_line="solar",
                       expected_close_on="2026-02-28")  # fmt: skip
    with app.activate():
        fact = SalesFactRow.get_by_id(record.id)
        assert (fact.outcome, fact.won, fact.stage, fact.probability, fact.created_quarter, fact.closed_on) == (
            "open",
            None,
            "new",
            0.1,
            "2026-Q1",
            None,
        )
        assert fact.expected_close_on == dt.date(2026, 2, 28)
    sales.update(record.id, amount="150", region="east")
    crm_clock.set(dt.datetime(2026, 4, 2, 10, tzinfo=dt.UTC))
    sales.close(record.id, won=False, lost_reason="price too high")
    with app.activate():
        fact = SalesFactRow.get_by_id(record.id)
        assert (fact.outcome, fact.won, fact.stage, fact.probability) == ("lost", False, "lost", 0.0)
        assert (fact.amount, fact.region, fact.product_line, fact.owner) == (
            decimal.Decimal("150"),
            "east",
            "solar",
            "tom",
        )
        assert (fact.closed_on, fact.closed_quarter, fact.lost_reason) == (
            dt.date(2026, 4, 2),
            "2026-Q2",
            "price too high",
        )
        assert SalesFactRow.select().count() == 1


def test_list_filters(warehouse_app):
    app = warehouse_app()
    sales = app.plugin("warehouse").sales
    a = sales.add("rfq", 1, owner="maria", region="north")
    b = sales.add("sale", 2, owner="tom", region="south", amount=10)
    sales.close(b.id, won=True)
    c = sales.add("quote", 1, owner="maria", region="south")
    assert [r.id for r in sales.list()] == [c.id, b.id, a.id]
    assert [r.id for r in sales.list(contact_id=1)] == [c.id, a.id]
    assert [r.id for r in sales.list(outcome="won")] == [b.id]
    assert [r.id for r in sales.list(outcome="open", owner="maria", region="south")] == [c.id]
    assert [r.id for r in sales.list(kind="rfq", stage="new")] == [a.id]
    assert [r.id for r in sales.list(limit=1)] == [c.id]


def test_a_closed_record_reopens_only_when_asked(warehouse_app):
    app = warehouse_app()
    sales = app.plugin("warehouse").sales
    record = sales.add("quote", 1)
    sales.move(record.id, "lost")  # the lost stage closes, as close() does
    with pytest.raises(ValidationError, match="is closed .*reopen"):
        sales.move(record.id, "proposal")
    with pytest.raises(ValidationError, match="already closed"):
        sales.close(record.id, won=True)
    record = sales.move(record.id, "proposal", reopen=True)
    assert (record.stage, record.closed_on, record.lost_reason, record.outcome) == ("proposal", None, None, "open")
    with app.activate():
        assert SalesFactRow.get_by_id(record.id).outcome == "open"


def test_a_custom_pipeline_from_the_settings(warehouse_app):
    settings = {"pipeline": {"stages": ["lead", "offer", "signed", "dropped"], "won_stage": "signed", "lost_stage": "dropped",
                             "probabilities": {"lead": 0.2, "offer": 0.6}}}  # fmt: skip
    app = warehouse_app(settings=settings)
    sales = app.plugin("warehouse").sales
    record = sales.add("rfq", 1)
    assert (record.stage, record.probability) == ("lead", 0.2)
    assert sales.move(record.id, "offer").probability == 0.6
    assert sales.close(record.id, won=True).stage == "signed"
    with pytest.raises(
        ValidationError, match=r"stage 'new' is not in the pipeline; the stages are: lead, offer, signed, dropped"
    ):
        sales.add("rfq", 1, stage="new")


# -- bad input -----------------------------------------------------------------------


BAD_SALES = [
    ({"amount": "-5"}, r"amount -5 is negative"),
    ({"amount": "abc"}, r"amount 'abc' is not a number"),
    ({"amount": "NaN"}, r"not a finite number"),
    ({"amount": "1e20"}, r"too large"),
    ({"amount": "10.005", "currency": "EUR"}, r"more decimal places than EUR allows \(2\)"),
    ({"amount": "10.5", "currency": "JPY"}, r"more decimal places than JPY allows \(0\)"),
    ({"currency": "EURO"}, r"'EURO' is not an ISO 4217 currency code"),
    ({"currency": "ZZZ"}, r"'ZZZ' is not an ISO 4217 currency code"),
    ({"currency": "XAU"}, r"XAU \(Gold\) is not a money currency"),
    (
        {"stage": "maybe"},
        r"stage 'maybe' is not in the pipeline; the stages are: new, qualified, proposal, negotiation, won, lost",
    ),
    ({"stage": "won"}, r"stage 'won' closes a record"),
    ({"expected_close_on": "31/01/2026"}, r"expected close date '31/01/2026' is not a date; give it as 2026-03-31"),
    ({"title": "x" * 301}, r"title is 301 characters long; the limit is 300"),
]


def test_bad_input_is_refused_and_nothing_is_written(warehouse_app, crm_recorder):
    # one app for every case: the server backends make each app cost a second
    app = warehouse_app(("recorder", crm_recorder))
    sales = app.plugin("warehouse").sales
    for kwargs, message in BAD_SALES:
        with pytest.raises(ValidationError, match=message):
            sales.add("rfq", 1, **kwargs)
    assert sales.list() == []
    assert crm_recorder.events == []


def test_bad_kinds_ids_and_unknown_records(warehouse_app):
    app = warehouse_app()
    sales = app.plugin("warehouse").sales
    with pytest.raises(ValidationError, match=r"kind 'order' is not one of rfp, rfq, appointment, quote, sale"):
        sales.add("order", 1)
    with pytest.raises(ValidationError, match=r"contact -3 is not an id"):
        sales.add("rfq", -3)
    with pytest.raises(NotFoundError, match=r"sales record 99 does not exist"):
        sales.get(99)
    # past what a BIGINT holds: named, not an OverflowError from the driver
    with pytest.raises(
        ValidationError,
        match=r"sales record 100000000000000000000000 is not an id \(a whole number from 1 to 9223372036854775807\)",
    ):
        sales.get(10**23)
    with pytest.raises(ValidationError, match=r"contact 100000000000000000000000 is not an id"):
        sales.list(contact_id=10**23)
    with pytest.raises(ValidationError, match=r"contact 100000000000000000000000 is not an id"):
        app.plugin("warehouse").timeline(10**23)
    with pytest.raises(ValidationError, match=r"contact 100000000000000000000000 is not an id"):
        app.plugin("warehouse").audit(contact_id=10**23)
    with pytest.raises(NotFoundError):
        sales.move(99, "qualified")
    record = sales.add("rfq", 1, amount=10)
    with pytest.raises(ValidationError, match=r"amount -1 is negative"):
        sales.update(record.id, amount=-1)
    with pytest.raises(ValidationError, match=r"'XYZ' is not an ISO 4217"):
        sales.update(record.id, currency="XYZ")
    with pytest.raises(ValidationError, match=r"cannot change 'stage' with update"):
        sales.update(record.id, stage="won")
    with pytest.raises(ValidationError, match=r"a lost reason is only for records closed as lost"):
        sales.close(record.id, won=True, lost_reason="x")
    with pytest.raises(ValidationError, match=r"closed date 2999-01-01 is in the future"):
        sales.close(record.id, won=True, closed_on="2999-01-01")
    assert sales.get(record.id).amount == decimal.Decimal("10.00")
    with app.activate():
        assert StageMoveRow.select().count() == 1


def test_a_lost_reason_can_be_required(warehouse_app):
    app = warehouse_app(settings={"require_lost_reason": True})
    sales = app.plugin("warehouse").sales
    record = sales.add("rfq", 1)
    with pytest.raises(ValidationError, match="closing as lost needs a reason"):
        sales.close(record.id, won=False)
    assert sales.close(record.id, won=False, lost_reason="no budget").lost_reason == "no budget"


@pytest.mark.sqlite_only  # refused while the settings are read, before any database work
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"pipeline": {"stages": ["new", "won", "lost"], "probabilities": {}}},
            r"no win probability for the open stage 'new'",
        ),
        (
            {"pipeline": {"stages": ["new", "done", "lost"], "probabilities": {"new": 0.5}}},
            r"won_stage 'won' is not one of the stages",
        ),
        (
            {"pipeline": {"probabilities": {"new": 1.5, "qualified": 0.2, "proposal": 0.5, "negotiation": 0.7}}},
            r"probabilities.new = 1.5 is not between 0 and 1",
        ),
        ({"pipeline": {"stages": ["new", "new", "won", "lost"]}}, r"stage 'new' is listed twice"),
        ({"pipeline": {"probabilities": {"nope": 0.5, "new": 0.1}}}, r"'nope', which is not one of the stages"),
        ({"default_currency": "EURO"}, r"plugins.warehouse.default_currency"),
        ({"max_document_mb": 0}, r"positive number of megabytes"),
        ({"documents": "x"}, r"unknown key"),
    ],
)
def test_bad_settings_are_config_errors_naming_the_key(crm_factory, settings, message):
    with pytest.raises(ConfigError, match=message):
        crm_factory(plugins=[("warehouse", warehouse_plugin)], settings={"warehouse": settings}, migrate=False)


def test_update_emits_sale_updated_with_the_fields_that_changed(warehouse_app, crm_recorder):
    app = warehouse_app(("recorder", crm_recorder))
    sales = app.plugin("warehouse").sales
    record = sales.add("rfq", 4, amount="1200.50", owner="maria", expected_close_on="2026-03-31")
    crm_recorder.events.clear()
    sales.update(record.id, amount="1300", owner="maria", kind="quote", expected_close_on="2026-04-30", actor="luis")
    [event] = crm_recorder.events
    assert (event.type_name, event.record_id, event.contact_id, event.actor) == ("SaleUpdated", record.id, 4, "luis")
    assert {k: (c.old, c.new) for k, c in event.changes.items()} == {
        "amount": ("1200.50", "1300.00"),
        "kind": ("rfq", "quote"),
        "expected_close_on": ("2026-03-31", "2026-04-30"),
    }
    sales.update(record.id, owner="maria", amount="1300.00")  # nothing really changes: no event
    assert len(crm_recorder.events) == 1
    [entry] = app.plugin("warehouse").timeline(4, limit=1)
    assert entry.type == "SaleUpdated" and "amount '1200.50' -> '1300.00'" in entry.summary
