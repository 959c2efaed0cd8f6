"""Rules: validation at load, the three example rules, change triggers, idempotency, the log, the hook."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from crm_core.errors import ConfigError
from crm_hookspecs.events import (
    ContactChanged,
    RequestReceived,
    SaleClosed,
    StageChanged,
    SurveyAnswered,
)
from crm_hookspecs.records import FieldChange

UTC = dt.UTC

UNHAPPY = {
    "name": "unhappy-customer",
    "trigger": "event",
    "event": "SurveyAnswered",
    "when": {"negative": True},
    "action": "task",
    "task": {
        "kind": "call",
        "title": "Call {contact.display_name}: unhappy with survey {survey_id}",
        "assignee": "{contact.owner}",
        "team": "support",
        "due_in": "1d",
        "priority": "high",
        "questions": ["What went wrong?", "What would make it right?"],
    },
}
PROPOSAL = {
    "name": "proposal",
    "trigger": "event",
    "event": "RequestReceived",
    "when": {"kind": "rfp"},
    "action": "task",
    "task": {
        "kind": "to-do",
        "title": "Write the proposal for request {record_id}",
        "assignee": "{owner}",
        "team": "sales",
        "due_in": "3d",
    },
}
ONBOARDING = {
    "name": "onboarding",
    "trigger": "event",
    "event": "SaleClosed",
    "when": {"won": True, "amount": {"gte": 1000}},
    "action": "task",
    "task": {
        "title": "Onboard {contact.display_name} ({amount} {currency})",
        "assignee": "{owner}",
        "checklist": ["Create account", "Send welcome pack", "Book training"],
    },
}


def _survey(contact_id=7, negative=True, **kw):
    return SurveyAnswered(survey_id=3, version=1, contact_id=contact_id, response_id=11, negative=negative, **kw)


def _emit(crm, *events):
    with crm.transaction():
        for event in events:
            crm.emit(event)


# -- validation at load -------------------------------------------------------------------


@pytest.mark.sqlite_only  # configuration only: no storage involved
@pytest.mark.parametrize(
    "change, message",
    [
        ({"trigger": "sometimes"}, "unknown trigger 'sometimes'; use one of event, change, inactivity"),
        ({"action": "dance"}, "unknown action 'dance'; use one of task, notify"),
        ({"event": "SurveyFilled"}, "unknown event type 'SurveyFilled'"),
        ({"event": None}, "trigger 'event' needs event ="),
        (
            {"task": {**UNHAPPY["task"], "title": "Call about {order_number}"}},
            r"the template uses \{order_number\} but the event has no field 'order_number'",
        ),
        ({"task": {**UNHAPPY["task"], "title": "Call {contact.nickname}"}}, "a contact card has no field 'nickname'"),
        ({"task": {**UNHAPPY["task"], "title": "Call {"}}, "is not a valid template"),
        ({"task": {**UNHAPPY["task"], "assignee": "bob"}}, "task.assignee 'bob' is not a staff member"),
        ({"task": {**UNHAPPY["task"], "team": "legal"}}, "task.team 'legal' is not a team"),
        ({"task": {**UNHAPPY["task"], "kind": "lunch"}}, "kind must be one of"),
        ({"task": {**UNHAPPY["task"], "due_in": "soon"}}, "'soon' is not a duration"),
        ({"task": None}, "action 'task' needs a \\[task\\] table"),
        ({"when": {"score": 3}}, "condition on 'score': the event has no field 'score'"),
        ({"when": {"negative": {"about": True}}}, "unknown operator 'about'"),
        ({"when": {"region": {"in": "ES"}}}, "'in' needs a list"),
        ({"field": "status"}, "'field' belongs to trigger 'change'"),
        ({"only_if_open": True, "delay": "2d"}, "only_if_open needs an event with a record_id"),
        ({"colour": "red"}, "unknown key"),
    ],
)
def test_a_bad_rule_is_a_config_error_naming_the_rule(tasks_app, change, message):
    rule = {**UNHAPPY, **change}
    rule = {k: v for k, v in rule.items() if v is not None}
    with pytest.raises(ConfigError, match=message) as info:
        tasks_app(rules=[rule])
    assert "plugins.tasks" in str(info.value)


@pytest.mark.sqlite_only  # configuration only: no storage involved
def test_a_template_naming_a_field_the_event_lacks_is_found_at_load(tasks_app):
    rule = {**PROPOSAL, "task": {**PROPOSAL["task"], "title": "Proposal for survey {survey_id}"}}
    with pytest.raises(ConfigError, match=r"rule 'proposal'.*\{survey_id\} but the event has no field 'survey_id'"):
        tasks_app(rules=[rule])


@pytest.mark.sqlite_only  # configuration only: no storage involved
def test_notify_rules_are_checked_too(tasks_app):
    base = {"name": "n", "trigger": "event", "event": "RequestReceived", "action": "notify"}
    with pytest.raises(ConfigError, match="needs a \\[notify\\] table"):
        tasks_app(rules=[base])
    with pytest.raises(ConfigError, match="'legal' is not a team"):
        tasks_app(rules=[{**base, "notify": {"to": ["team:legal"], "subject": "s", "text": "t"}}])
    with pytest.raises(ConfigError, match="'bob' is not a staff member"):
        tasks_app(rules=[{**base, "notify": {"to": ["bob"], "subject": "s", "text": "t"}}])
    with pytest.raises(ConfigError, match=r"\{survey_id\} but the event has no field"):
        tasks_app(rules=[{**base, "notify": {"to": ["ana"], "subject": "{survey_id}", "text": "t"}}])


@pytest.mark.sqlite_only  # configuration only: no storage involved
def test_rule_names_are_unique(tasks_app):
    with pytest.raises(ConfigError, match="rule name 'proposal' is used twice"):
        tasks_app(rules=[PROPOSAL, PROPOSAL])


# -- the three example rules ---------------------------------------------------------------


def test_negative_survey_creates_a_follow_up_call_for_the_owner_with_questions(tasks_app, crm_clock, sent):
    crm = tasks_app(rules=[UNHAPPY], contacts={7: {"display_name": "Eva Gil", "owner": "marta"}})
    api = crm.plugin("tasks")
    _emit(crm, _survey(), _survey(contact_id=8, negative=False))
    (task,) = api.list()
    task = api.get(task.id)
    assert (task.title, task.kind, task.assignee, task.team, task.priority) == (
        "Call Eva Gil: unhappy with survey 3",
        "call",
        "marta",
        "support",
        "high",
    )
    assert task.due_at == crm_clock.now() + dt.timedelta(days=1)
    assert task.contact_id == 7 and task.origin == "rule" and task.rule == "unhappy-customer"
    assert [q.text for q in task.questions] == ["What went wrong?", "What would make it right?"]
    assert sent(crm) == [("marta@example.com", f"Task #{task.id} for you: Call Eva Gil: unhappy with survey 3")]


def test_rfp_creates_a_proposal_task_linked_to_the_request(tasks_app):
    crm = tasks_app(rules=[PROPOSAL])
    api = crm.plugin("tasks")
    _emit(
        crm,
        RequestReceived(record_id=31, contact_id=5, kind="rfp", owner="ana"),
        RequestReceived(record_id=32, contact_id=5, kind="appointment", owner="ana"),
    )
    (task,) = api.list()
    task = api.get(task.id)
    assert (task.title, task.assignee, task.team, task.contact_id) == (
        "Write the proposal for request 31",
        "ana",
        "sales",
        5,
    )
    assert task.links == (("request", 31),)


def test_sale_won_creates_an_onboarding_checklist(tasks_app):
    crm = tasks_app(rules=[ONBOARDING], contacts={5: {"display_name": "Acme"}})
    api = crm.plugin("tasks")
    _emit(
        crm,
        SaleClosed(record_id=40, contact_id=5, won=True, amount=decimal.Decimal("2500.00"), owner="luis"),
        SaleClosed(record_id=41, contact_id=5, won=False, amount=decimal.Decimal("9000"), owner="luis"),
        SaleClosed(record_id=42, contact_id=5, won=True, amount=decimal.Decimal("10"), owner="luis"),
    )
    (task,) = api.list()
    task = api.get(task.id)
    assert task.title == "Onboard Acme (2500.00 EUR)" and task.assignee == "luis"
    assert [c.text for c in task.checklist] == ["Create account", "Send welcome pack", "Book training"]
    assert task.links == (("sale", 40),)


def test_an_unknown_owner_leaves_the_task_unassigned_and_says_so(tasks_app):
    crm = tasks_app(rules=[PROPOSAL])
    api = crm.plugin("tasks")
    _emit(crm, RequestReceived(record_id=1, contact_id=None, kind="rfp", owner="someone-who-left"))
    (task,) = api.list()
    assert task.assignee is None and task.team == "sales"
    (firing,) = api.firings()
    assert firing.outcome == "created" and "'someone-who-left' is not a staff member" in firing.detail


# -- data changes --------------------------------------------------------------------------


def test_change_triggers_status_to_customer_and_owner_changed(tasks_app):
    rules = [
        {
            "name": "welcome",
            "trigger": "change",
            "field": "status",
            "new": "customer",
            "action": "task",
            "task": {
                "title": "Welcome call for {contact.display_name} (was {old})",
                "kind": "call",
                "assignee": "{contact.owner}",
            },
        },
        {
            "name": "handover",
            "trigger": "change",
            "field": "owner",
            "action": "notify",
            "notify": {
                "to": ["{new}", "{old}"],
                "subject": "Contact {contact_id} moves from {old} to {new}",
                "text": "Hand over.",
            },
        },
    ]
    crm = tasks_app(rules=rules, contacts={5: {"display_name": "Eva", "owner": "ana"}})
    api = crm.plugin("tasks")
    _emit(
        crm,
        ContactChanged(contact_id=5, changes={"status": FieldChange("prospect", "customer")}),
        ContactChanged(contact_id=5, changes={"status": FieldChange("customer", "former")}),
        ContactChanged(contact_id=5, changes={"city": FieldChange("Lugo", "Vigo")}),
        ContactChanged(contact_id=5, changes={"owner": FieldChange("ana", "luis")}),
    )
    (task,) = api.list()
    assert (task.title, task.assignee) == ("Welcome call for Eva (was prospect)", "ana")
    subjects = sorted(m.subject + " -> " + m.to[0] for m in crm.mail.list(limit=100) if "moves" in m.subject)
    assert subjects == [
        "Contact 5 moves from ana to luis -> ana@example.com",
        "Contact 5 moves from ana to luis -> luis@example.com",
    ]


# -- idempotency, the log -------------------------------------------------------------------


def test_an_event_seen_twice_creates_one_task(tasks_app, sent):
    crm = tasks_app(rules=[UNHAPPY], contacts={7: {"owner": "marta"}})
    api = crm.plugin("tasks")
    event = _survey()
    _emit(crm, event)
    # the same event delivered again (at-least-once delivery), alone and in a batch
    assert api.handle_events([event]) == 0
    assert api.handle_events([event, event]) == 0
    assert len(api.list()) == 1
    assert len(sent(crm)) == 1
    # in one batch, twice, for the first time
    again = _survey(contact_id=7)
    assert api.handle_events([again, again]) == 1
    assert len(api.list()) == 2


def test_each_firing_is_logged_with_rule_and_event(tasks_app):
    crm = tasks_app(rules=[UNHAPPY, PROPOSAL], contacts={7: {"owner": "marta"}})
    api = crm.plugin("tasks")
    survey, request = _survey(), RequestReceived(record_id=31, contact_id=7, kind="rfp", owner="ana")
    _emit(crm, survey, request)
    log = {f.rule: f for f in api.firings()}
    assert set(log) == {"unhappy-customer", "proposal"}
    assert (log["unhappy-customer"].key, log["unhappy-customer"].event_type, log["unhappy-customer"].outcome) == (
        survey.event_id,
        "SurveyAnswered",
        "created",
    )
    assert log["proposal"].key == request.event_id and log["proposal"].task_id is not None
    assert [f.rule for f in api.firings(rule="proposal")] == ["proposal"]


def test_a_template_that_cannot_render_is_logged_as_failed_not_lost(tasks_app):
    rule = {**UNHAPPY, "task": {**UNHAPPY["task"], "title": "Score {scores[nps]:d}"}}
    crm = tasks_app(rules=[rule], contacts={7: {"owner": "marta"}})
    api = crm.plugin("tasks")
    _emit(crm, _survey(scores={"nps": 2.5}))
    (firing,) = api.firings()
    assert firing.outcome == "failed" and "ValueError" in firing.detail
    assert api.list() == []
    # the event was handled (logged): no retry loop in the kernel
    assert crm.events.failed() == []


# -- delayed notification: the "request still open" rule ----------------------------------


STILL_OPEN = {
    "name": "request-still-open",
    "trigger": "event",
    "event": "RequestReceived",
    "when": {"kind": {"in": ["rfp", "appointment"]}},
    "action": "notify",
    "delay": "3d",
    "only_if_open": True,
    "notify": {
        "to": ["team:sales"],
        "subject": "Request {record_id} ({kind}) is still open",
        "text": "Received {today}.",
    },
}


def test_the_sales_team_is_emailed_n_days_after_a_request_still_open(tasks_app, crm_clock, sent):
    crm = tasks_app(rules=[STILL_OPEN, PROPOSAL])
    api = crm.plugin("tasks")
    _emit(
        crm,
        RequestReceived(record_id=1, contact_id=None, kind="rfp", owner="ana"),  # stays open
        RequestReceived(record_id=2, contact_id=None, kind="appointment"),  # closed by a sale
        RequestReceived(record_id=3, contact_id=None, kind="rfq"),  # not an rfp nor an appointment
        RequestReceived(record_id=4, contact_id=None, kind="appointment"),  # moved to a closing stage
        RequestReceived(record_id=5, contact_id=None, kind="rfp", owner="ana"),  # its proposal task is done
    )
    assert [f.outcome for f in api.firings(rule="request-still-open")] == ["scheduled"] * 4
    _emit(
        crm,
        SaleClosed(record_id=2, contact_id=None, won=True),
        StageChanged(record_id=4, contact_id=None, old_stage="new", new_stage="lost"),
    )
    proposal_5 = next(t for t in api.list() if t.title.endswith("request 5"))
    api.done(proposal_5.id)
    before = len(sent(crm))
    crm_clock.advance(days=2, hours=23)
    assert api.run_pending() == 0
    crm_clock.advance(hours=1)
    assert api.run_pending() == 2  # 1 notified, 5 cancelled now (2 and 4 were cancelled when they closed)
    assert api.run_pending() == 0
    new = sent(crm)[before:]
    assert sorted(new) == [
        ("ana@example.com", "Request 1 (rfp) is still open"),
        ("luis@example.com", "Request 1 (rfp) is still open"),
    ]
    outcomes = {f.key: f.outcome for f in api.firings(rule="request-still-open")}
    assert sorted(outcomes.values()) == ["cancelled", "cancelled", "cancelled", "notified"]
    details = sorted(f.detail for f in api.firings(rule="request-still-open") if f.outcome == "cancelled")
    assert details == [
        "a task for record 5 is done",
        "record 2 closed before the delay was over",
        "record 4 closed before the delay was over",
    ]


# -- rules from a plugin: the crm_task_rules hook -------------------------------------------


def test_plugins_contribute_rules_through_crm_task_rules(tasks_app, crm_plugin):
    def crm_task_rules(crm):
        return [{**PROPOSAL, "name": "from-plugin"}]

    crm = tasks_app(extra_plugins=[crm_plugin("acme", crm_task_rules=crm_task_rules)])
    api = crm.plugin("tasks")
    rule = api.rules().by_name["from-plugin"]
    assert rule.source == "plugin 'acme' (crm_task_rules)"
    _emit(crm, RequestReceived(record_id=8, contact_id=None, kind="rfp", owner="luis"))
    (task,) = api.list()
    assert task.rule == "from-plugin" and task.assignee == "luis"


@pytest.mark.sqlite_only  # rule compilation only: no storage involved
@pytest.mark.parametrize(
    "rules, message",
    [
        ([{**PROPOSAL, "trigger": "never"}], r"plugin 'acme' \(crm_task_rules\).*unknown trigger 'never'"),
        ([{**PROPOSAL, "action": "pray"}], "unknown action 'pray'"),
        ([{**PROPOSAL, "task": {"title": "{nope}"}}], r"plugin 'acme'.*\{nope\} but the event has no field"),
        ([PROPOSAL], "rule 'proposal' is already defined by plugins.tasks.rules"),
        (["not a table"], "must be a dict"),
        ({"name": "x"}, "return a list of rule dicts, not dict"),
    ],
)
def test_bad_rules_from_a_plugin_name_the_plugin_when_the_app_starts(tasks_app, crm_plugin, rules, message):
    with pytest.raises(ConfigError, match=message):
        tasks_app(rules=[PROPOSAL], extra_plugins=[crm_plugin("acme", crm_task_rules=lambda crm: rules)])


@pytest.mark.sqlite_only  # rule loading only: no storage involved
def test_a_crm_task_rules_hook_that_raises_is_named(tasks_app, crm_plugin):
    from crm_core.errors import PluginError

    def crm_task_rules(crm):
        raise KeyError("oops")

    with pytest.raises(PluginError, match=r"plugin 'acme' \(crm_task_rules\) failed: KeyError: 'oops'"):
        tasks_app(extra_plugins=[crm_plugin("acme", crm_task_rules=crm_task_rules)])


@pytest.mark.sqlite_only  # configuration only: no storage involved
def test_tasks_works_without_surveys_and_warehouse(tasks_app):
    crm = tasks_app(rules=[UNHAPPY, PROPOSAL, ONBOARDING])
    assert not crm.has_plugin("surveys") and not crm.has_plugin("warehouse")
    assert len(crm.plugin("tasks").rules().rules) == 3


# -- test and preview (nothing created) ------------------------------------------------------


def test_test_rule_shows_what_would_be_created_without_creating(tasks_app):
    crm = tasks_app(rules=[UNHAPPY], contacts={7: {"display_name": "Eva", "owner": "marta"}})
    api = crm.plugin("tasks")
    (row,) = api.test_rule("unhappy-customer", _survey())
    assert (row["title"], row["assignee"], row["kind"], row["state"]) == (
        "Call Eva: unhappy with survey 3",
        "marta",
        "call",
        "would fire",
    )
    assert row["questions"] == ["What went wrong?", "What would make it right?"]
    assert api.test_rule("unhappy-customer", _survey(negative=False)) == []
    assert api.list(status=None) == [] and api.firings() == []


def test_preview_runs_the_rules_over_recent_events_dry(tasks_app, crm_clock):
    crm = tasks_app(rules=[PROPOSAL])
    api = crm.plugin("tasks")
    crm.deliver_events = "worker"  # events recorded but not yet handled
    _emit(crm, RequestReceived(record_id=1, contact_id=None, kind="rfp", owner="ana"))
    rows = api.preview()
    assert [(r["rule"], r["title"], r["state"]) for r in rows] == [
        ("proposal", "Write the proposal for request 1", "would fire")
    ]
    assert api.list() == []
    crm.events.deliver()
    assert [r["state"] for r in api.preview()] == ["already fired"]
    crm_clock.advance(days=8)
    assert api.preview() == []  # older than the default 7 days


def test_the_sample_configuration_s_rules_load(tmp_path):
    from pathlib import Path

    from crm_core.app import CRM
    from crm_core.config import load_config

    sample = Path(__file__).resolve().parents[3] / "sample_config" / "crm.toml"
    config = load_config(sample, environ={})
    with CRM(config=config, database=f"sqlite:///{tmp_path / 'sample.db'}", plugins=["tasks"], strict=True) as crm:
        names = [r.name for r in crm.plugin("tasks").rules().rules]
    assert {"unhappy-customer", "proposal", "onboarding", "request-still-open", "win-back"} <= set(names)
