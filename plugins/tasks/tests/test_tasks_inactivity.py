"""Inactivity rules: one task per customer and inactivity period, from the warehouse or from events."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_core.errors import ConfigError, NotFoundError
from crm_hookspecs import hookimpl
from crm_hookspecs.events import ContactChanged, ContactCreated, ContactDeleted, ContactsMerged, SaleClosed
from crm_hookspecs.records import FieldChange

WIN_BACK = {
    "name": "win-back",
    "trigger": "inactivity",
    "days": 90,
    "action": "task",
    "task": {
        "kind": "call",
        "title": "Get back in touch with {contact.display_name} ({days} days since {last_purchase})",
        "assignee": "{contact.owner}",
        "due_in": "7d",
    },
}


def _emit(crm, *events):
    with crm.transaction():
        for event in events:
            crm.emit(event)


@pytest.mark.sqlite_only  # configuration only: no storage involved
def test_inactivity_rules_are_checked(tasks_app):
    with pytest.raises(ConfigError, match="trigger 'inactivity' needs days = N"):
        tasks_app(rules=[{**WIN_BACK, "days": 0}])
    with pytest.raises(ConfigError, match="takes no 'when' conditions"):
        tasks_app(rules=[{**WIN_BACK, "when": {"x": 1}}])
    with pytest.raises(ConfigError, match=r"\{record_id\} but the event has no field"):
        tasks_app(rules=[{**WIN_BACK, "task": {"title": "{record_id}"}}])
    with pytest.raises(ConfigError, match="'days' belongs to trigger 'inactivity'"):
        tasks_app(
            rules=[
                {
                    "name": "x",
                    "trigger": "event",
                    "event": "SaleClosed",
                    "days": 3,
                    "action": "task",
                    "task": {"title": "t"},
                }
            ]
        )


def test_without_the_warehouse_activity_comes_from_events(tasks_app, crm_clock, sent):
    cards = {
        1: {"display_name": "Acme", "owner": "ana"},
        2: {"display_name": "Beta", "owner": "luis"},
        3: {"display_name": "Gamma"},
        4: {"display_name": "Delta"},
    }
    crm = tasks_app(rules=[WIN_BACK], contacts=cards)
    api = crm.plugin("tasks")
    _emit(
        crm,
        ContactCreated(contact_id=1, data={"status": "customer"}),
        ContactCreated(contact_id=2, data={"status": "prospect"}),
        ContactCreated(contact_id=3, data={"status": "prospect"}),
        ContactCreated(contact_id=4, data={"status": "customer"}),
        SaleClosed(record_id=10, contact_id=1, won=True, closed_on=dt.date(2026, 1, 5)),
    )
    _emit(
        crm,
        ContactChanged(contact_id=2, changes={"status": FieldChange("prospect", "customer")}),
        SaleClosed(record_id=11, contact_id=3, won=True),
        ContactDeleted(contact_id=4),
    )
    crm_clock.advance(days=60)
    _emit(crm, SaleClosed(record_id=12, contact_id=2, won=True), SaleClosed(record_id=13, contact_id=1, won=False))
    assert api.scan_inactivity() == 0
    crm_clock.advance(days=31)  # 91 days after contact 1's last won sale; 31 after contact 2's
    assert api.scan_inactivity() == 1
    (task,) = api.list()
    assert (task.title, task.assignee, task.contact_id, task.origin, task.rule) == (
        "Get back in touch with Acme (91 days since 2026-01-05)",
        "ana",
        1,
        "inactivity",
        "win-back",
    )
    # one digest e-mail per assignee, not one per task
    assert sent(crm) == [("ana@example.com", "1 new task(s) for you from rule win-back")]
    # daily scans do not repeat it within the period
    for _ in range(5):
        crm_clock.advance(days=1)
        assert api.scan_inactivity() == 0
    # after a new purchase and another quiet spell, a new period, a new task
    _emit(crm, SaleClosed(record_id=14, contact_id=1, won=True))
    crm_clock.advance(days=91)
    assert api.scan_inactivity() == 2  # contact 1 again, and contact 2 now
    assert sorted(t.contact_id for t in api.list()) == [1, 1, 2]
    assert [f.outcome for f in api.firings(rule="win-back")] == ["created"] * 3


def test_merged_contacts_keep_the_newest_purchase(tasks_app, crm_clock):
    crm = tasks_app(rules=[WIN_BACK], contacts={1: {}, 2: {}})
    api = crm.plugin("tasks")
    _emit(
        crm,
        ContactCreated(contact_id=1, data={"status": "customer"}),
        ContactCreated(contact_id=2, data={"status": "customer"}),
    )
    crm_clock.advance(days=50)
    _emit(crm, SaleClosed(record_id=1, contact_id=2, won=True))
    crm_clock.advance(days=50)
    _emit(crm, ContactsMerged(survivor_id=1, merged_id=2, merge_id=1))
    assert api.scan_inactivity() == 0  # contact 1 inherits contact 2's purchase of 50 days ago
    crm_clock.advance(days=41)
    assert api.scan_inactivity() == 1


class FakeWarehouse:
    def __init__(self, last: dict[int, dt.date | None]) -> None:
        self.last = last
        self.asked: list[dt.date] = []

    def customers_without_won_sale_since(self, since: dt.date) -> dict[int, dt.date | None]:
        self.asked.append(since)
        return {cid: day for cid, day in self.last.items() if day is None or day < since}


class WarehousePlugin:
    def __init__(self, api: FakeWarehouse) -> None:
        self.api = api

    @hookimpl
    def crm_plugin_api(self, crm):
        return self.api


def test_with_the_warehouse_its_set_based_query_is_used(tasks_app, crm_clock):
    warehouse = FakeWarehouse({5: dt.date(2025, 9, 1), 6: None, 7: dt.date(2025, 12, 30)})
    crm = tasks_app(
        rules=[WIN_BACK],
        contacts={5: {"display_name": "Five", "owner": "luis"}, 6: {"display_name": "Six"}},
        extra_plugins=[("warehouse", WarehousePlugin(warehouse))],
    )
    api = crm.plugin("tasks")
    preview = api.scan_inactivity(dry_run=True)
    assert [(p["contact_id"], p["title"]) for p in preview] == [
        (5, "Get back in touch with Five (126 days since 2025-09-01)"),
        (6, "Get back in touch with Six ( days since never)"),  # an older warehouse cannot tell how long
    ]
    assert api.list() == []
    assert api.scan_inactivity() == 2
    assert warehouse.asked[-1] == dt.date(2025, 10, 7)  # 2026-01-05 minus 90 days
    assert sorted((t.contact_id, t.assignee) for t in api.list()) == [(5, "luis"), (6, None)]
    assert api.scan_inactivity() == 0
    assert api.scan_inactivity(dry_run=True) == []


def test_scan_names_an_unknown_rule(tasks_app):
    api = tasks_app(rules=[WIN_BACK]).plugin("tasks")
    with pytest.raises(NotFoundError, match="no rule 'nope'"):
        api.scan_inactivity(rule="nope")


SAMPLE_WIN_BACK = {
    **WIN_BACK,
    "days": 180,
    "task": {
        **WIN_BACK["task"],
        "title": "Get back in touch with {contact.display_name} (last purchase {last_purchase})",
    },
}


def test_a_customer_is_quiet_from_the_later_of_its_last_purchase_and_becoming_a_customer(tasks_app, crm_clock):
    cards = {1: {"display_name": "New"}, 2: {"display_name": "Back"}, 3: {"display_name": "Old"}}
    crm = tasks_app(rules=[SAMPLE_WIN_BACK], contacts=cards)
    api = crm.plugin("tasks")
    bought = crm.today()
    _emit(
        crm,
        ContactCreated(contact_id=2, data={"status": "customer"}),
        ContactCreated(contact_id=3, data={"status": "customer"}),
        SaleClosed(record_id=1, contact_id=2, won=True),
        SaleClosed(record_id=2, contact_id=3, won=True),
        ContactChanged(contact_id=2, changes={"status": FieldChange("customer", "lapsed")}),
    )
    crm_clock.advance(days=400)
    # a customer who arrives now, and one who comes back after a year away
    _emit(
        crm,
        ContactCreated(contact_id=1, data={"status": "customer"}),
        ContactChanged(contact_id=2, changes={"status": FieldChange("lapsed", "customer")}),
    )
    assert [p["contact_id"] for p in api.scan_inactivity(dry_run=True)] == [3]
    assert api.scan_inactivity() == 1
    assert [(t.contact_id, t.title) for t in api.list()] == [
        (3, f"Get back in touch with Old (last purchase {bought})")
    ]
    crm_clock.advance(days=181)
    assert api.scan_inactivity() == 2
    assert sorted((t.contact_id, t.title) for t in api.list())[:2] == [
        (1, "Get back in touch with New (last purchase never)"),
        (2, f"Get back in touch with Back (last purchase {bought})"),
    ]
    assert sorted(f.key for f in api.firings(rule="win-back")) == [
        "1:never",
        f"2:since-{bought + dt.timedelta(days=400)}",
        f"3:{bought}",
    ]
    assert api.scan_inactivity() == 0  # one task per quiet spell


def test_with_the_real_warehouse_a_customer_who_just_arrived_is_not_quiet(tasks_app, crm_clock):
    crm = tasks_app(rules=[SAMPLE_WIN_BACK], contacts="real", extra_plugins=["warehouse"])
    contacts, api = crm.plugin("contacts"), crm.plugin("tasks")
    fresh = contacts.create(first_name="Ada", last_name="New", status="customer")
    assert api.scan_inactivity(dry_run=True) == []
    assert api.scan_inactivity() == 0
    crm_clock.advance(days=181)
    (row,) = api.scan_inactivity(dry_run=True)
    assert (row["contact_id"], row["title"]) == (fresh.id, "Get back in touch with Ada New (last purchase never)")


class QuietWarehouse(FakeWarehouse):
    def customers_quiet_since(self, since: dt.date) -> dict[int, tuple[dt.date | None, dt.date]]:
        self.asked.append(since)
        return {
            cid: (day, joined)
            for cid, (day, joined) in self.last.items()
            if (day is None or day < since) and joined < since
        }


def test_with_the_warehouse_the_quiet_spell_starts_when_the_customer_came(tasks_app, crm_clock):
    warehouse = QuietWarehouse(
        {5: (dt.date(2024, 1, 1), dt.date(2025, 9, 1)), 6: (None, dt.date(2025, 1, 1)), 7: (None, dt.date(2026, 1, 1))}
    )
    crm = tasks_app(
        rules=[WIN_BACK],
        contacts={5: {"display_name": "Five"}, 6: {"display_name": "Six"}, 7: {}},
        extra_plugins=[("warehouse", WarehousePlugin(warehouse))],
    )
    preview = crm.plugin("tasks").scan_inactivity(dry_run=True)
    assert [(p["contact_id"], p["title"]) for p in preview] == [
        (5, "Get back in touch with Five (126 days since 2024-01-01)"),
        (6, "Get back in touch with Six (369 days since never)"),
    ]


# -- the statements of a scan -------------------------------------------------------------

NOTIFY_QUIET = {
    "name": "quiet-notice",
    "trigger": "inactivity",
    "days": 90,
    "action": "notify",
    "notify": {
        "to": ["{contact.owner}"],
        "subject": "{contact.display_name} is quiet",
        "text": "Since {last_purchase}",
    },
}


def _quiet(first: int, n: int) -> dict[int, tuple[dt.date | None, dt.date]]:
    """``n`` customers from id ``first``, quiet since 2025 (a third of them never bought)."""
    return {i: (dt.date(2025, 1, 1) if i % 3 else None, dt.date(2024, 1, 1)) for i in range(first, first + n)}


@pytest.mark.parametrize("rule", [WIN_BACK, NOTIFY_QUIET], ids=["task", "notify"])
def test_a_scan_runs_as_many_statements_for_150_customers_as_for_400(tasks_app, crm_clock, sent, rule):
    """Both sizes past bulk_insert's one-statement size (100 rows), so each table is written the same way."""
    from crm_core.testing import statements

    owners = ["ana", "luis", "marta", None]
    cards = {i: {"display_name": f"Customer {i}", "owner": owners[i % 4]} for i in range(1, 601)}
    warehouse = QuietWarehouse({})
    crm = tasks_app(rules=[rule], contacts=cards, extra_plugins=[("warehouse", WarehousePlugin(warehouse))])
    api = crm.plugin("tasks")
    counts = []
    # the first scan of an app also reads what it keeps afterwards (the staff): a warm-up of one customer
    for first, n in ((1, 1), (11, 150), (201, 400)):
        warehouse.last = _quiet(first, n)
        before = len(sent(crm))
        with statements(crm) as scan:
            assert api.scan_inactivity() == n
        crm_clock.advance(days=1)
        with statements(crm) as next_day:
            assert api.scan_inactivity() == 0  # nothing new: every key is in the firing log
        if first > 1:
            counts.append((len(scan), len(next_day)))
        messages = sent(crm)[before:]
        if rule is WIN_BACK:
            assert len([t for t in api.list(limit=1000) if t.contact_id >= first]) == n
            # one digest per assignee (the quarter without an owner gets none)
            assert sorted(to for to, _ in messages) == sorted(
                {f"{owners[i % 4]}@example.com" for i in range(first, first + n) if owners[i % 4]}
            )
        else:
            # one notice per quiet customer who has an owner
            assert len(messages) == len([i for i in range(first, first + n) if owners[i % 4]])
    assert counts[0] == counts[1], counts


def test_a_rules_first_scan_skips_the_look_up_of_its_keys_yet_fires_each_key_once(tasks_app, crm_clock, crm_db_url):
    """Nothing to drop before a rule ever fired; what another worker fires meanwhile is dropped in the transaction."""
    warehouse = QuietWarehouse({})
    warehouse.last = _quiet(1, 3)
    crm = tasks_app(rules=[WIN_BACK], contacts={}, extra_plugins=[("warehouse", WarehousePlugin(warehouse))])
    api = crm.plugin("tasks")
    engine = api._engine
    assert not engine.has_fired("win-back")
    looked_up: list[list[tuple[str, str]]] = []
    real_keys, real_plan = engine.fired_keys, engine.plan

    def fired_keys(pairs):
        pairs = list(pairs)
        looked_up.append(pairs)
        return real_keys(pairs)

    meanwhile: list[str] = []

    def plan(matches, now):  # runs after the scan read the log, before the page's transaction
        db = crm.database
        for key in meanwhile:  # "another worker" fires these
            db.execute_sql(
                f"INSERT INTO tasks_firing (rule, {'key'.join(db.quote)}, contact_id, fired_at, outcome, detail) "
                f"VALUES ('win-back', {db.param}, 2, '2026-01-05 00:00:00', 'created', '')",
                (key,),
            )
        meanwhile.clear()
        return real_plan(matches, now)

    engine.fired_keys, engine.plan = fired_keys, plan
    sqlite = crm_db_url.startswith("sqlite")
    meanwhile.append("2:2025-01-01")
    assert api.scan_inactivity() == 2
    # the key another worker fired is dropped in the transaction, which reads the log (on SQLite because
    # its largest id moved); nothing was looked up before it
    assert len(looked_up) == 1
    assert sorted(t.contact_id for t in api.list()) == [1, 3]
    assert engine.has_fired("win-back")
    # a new rule's scan alone: on SQLite nobody fired anything meanwhile, so no key is looked up at all
    crm_clock.advance(days=1)
    other = tasks_app(
        rules=[{**WIN_BACK, "name": "win-back-2"}],
        contacts={},
        extra_plugins=[("warehouse", WarehousePlugin(warehouse))],
    )
    other_engine = other.plugin("tasks")._engine
    seen: list[int] = []
    real_other = other_engine.fired_keys
    other_engine.fired_keys = lambda pairs: seen.append(1) or real_other(pairs)
    assert other.plugin("tasks").scan_inactivity() == 3
    assert len(seen) == (0 if sqlite else 1)
    # once the rule has fired, a scan drops the fired keys before it renders anything
    warehouse.last = _quiet(1, 4)
    looked_up.clear()
    assert api.scan_inactivity() == 1
    assert len(looked_up) == (1 if sqlite else 2)  # before the transaction (and inside it on the servers)
