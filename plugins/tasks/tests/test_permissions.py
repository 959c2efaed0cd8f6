"""Who may do what with tasks: every public method of TasksAPI checks the acting user's permission.

The app's staff (conftest) became CRM users with the role ``sales`` through
the migration ``0002_staff_users``: ana and luis in team ``sales``, luis and
marta in team ``support``, old disabled. A task's owner is its assignee.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from crm_core.errors import PermissionDenied
from crm_hookspecs.events import RequestReceived
from crm_tasks.api import TasksAPI

RULE = {
    "name": "proposal",
    "trigger": "event",
    "event": "RequestReceived",
    "action": "task",
    "task": {"title": "Proposal for request {record_id}", "assignee": "{owner}"},
}
EVENT = RequestReceived(record_id=5, contact_id=None, kind="rfp", owner="ana")

Call = Callable[[TasksAPI, dict[str, int]], Any]

#: method -> (what it is, a call). "record": acts on task ``t["luis"]`` (an open task of luis) or
#: ``t["closed_luis"]``; "listing": reads many; "global": no record (people, rules, templates, jobs)
CALLS: dict[str, tuple[str, Call]] = {
    "staff": ("global", lambda api, t: api.staff()),
    "teams": ("global", lambda api, t: api.teams()),
    "add": ("global", lambda api, t: api.add("New task", assignee="luis")),
    "get": ("record", lambda api, t: api.get(t["luis"])),
    "list": ("listing", lambda api, t: api.list(status="all")),
    "count": ("listing", lambda api, t: api.count(status="all")),
    "linked_tasks": ("listing", lambda api, t: api.linked_tasks("contact", [1])),
    "todo": ("listing", lambda api, t: api.todo("luis")),
    "reminders": ("listing", lambda api, t: api.reminders("luis")),
    "done": ("record", lambda api, t: api.done(t["luis"])),
    "reopen": ("record", lambda api, t: api.reopen(t["closed_luis"])),
    "cancel": ("record", lambda api, t: api.cancel(t["luis"], reason="no longer needed")),
    "delete": ("record", lambda api, t: api.delete(t["luis"])),
    "assign": ("record", lambda api, t: api.assign(t["luis"], "marta")),
    "reschedule": ("record", lambda api, t: api.reschedule(t["luis"], "+2d")),
    "check": ("record", lambda api, t: api.check(t["luis"], 1)),
    "answer": ("record", lambda api, t: api.answer(t["luis"], 1, "Yes")),
    "rules": ("global", lambda api, t: api.rules()),
    "firings": ("global", lambda api, t: api.firings()),
    "test_rule": ("global", lambda api, t: api.test_rule("proposal", EVENT)),
    "preview": ("global", lambda api, t: api.preview()),
    "send_reminders": ("global", lambda api, t: api.send_reminders()),
    "run_pending": ("global", lambda api, t: api.run_pending()),
    "scan_inactivity": ("global", lambda api, t: api.scan_inactivity()),
    "add_recurring": ("global", lambda api, t: api.add_recurring("weekly", "Weekly", "FREQ=WEEKLY")),
    "recurring": ("global", lambda api, t: api.recurring()),
    "edit_recurring": ("global", lambda api, t: api.edit_recurring("seeded", title="Seeded, renamed")),
    "remove_recurring": ("global", lambda api, t: api.remove_recurring("seeded")),
    "run_recurring": ("global", lambda api, t: api.run_recurring()),
}

#: methods that check nothing, and why (they are still called below, by everyone)
UNCHECKED: dict[str, tuple[str, Call]] = {
    # parses a due time; reads no data
    "parse_due": ("pure", lambda api, t: api.parse_due("tomorrow")),
    # the event handler: events are facts already recorded, handled whoever runs the delivery
    "handle_events": ("handler", lambda api, t: api.handle_events([])),
}


def _public_methods() -> set[str]:
    return {name for name, member in inspect.getmembers(TasksAPI, inspect.isfunction) if not name.startswith("_")}


def test_every_public_method_is_in_the_table():
    missing = _public_methods() - set(CALLS) - set(UNCHECKED)
    assert not missing, f"add these TasksAPI methods to CALLS (with their permission check): {sorted(missing)}"
    assert not (set(CALLS) | set(UNCHECKED)) - _public_methods()


@pytest.fixture
def app(tasks_app):
    return tasks_app(rules=[RULE])


def _seed(app: Any) -> dict[str, int]:
    """As the system: one call task per person (a checklist item and a question each), luis's done one, a template."""
    api = app.plugin("tasks")
    ids = {}
    for name in ("ana", "luis", "marta"):
        ids[name] = api.add(
            f"Call for {name}", kind="call", assignee=name, due="+1h", checklist=["Prepare"], questions=["Happy?"]
        ).id
    ids["nobody"] = api.add("Unassigned work").id
    closed = api.add("Old work of luis", assignee="luis")
    api.done(closed.id)
    ids["closed_luis"] = closed.id
    api.add_recurring("seeded", "Seeded", "FREQ=WEEKLY", start="2026-01-05 09:00")
    return ids


@pytest.mark.parametrize("method", sorted(CALLS))
def test_a_user_without_roles_may_do_nothing(app, crm_as_user, method):
    ids = _seed(app)
    _, call = CALLS[method]
    with crm_as_user(app, roles=[]), pytest.raises(PermissionDenied):
        call(app.plugin("tasks"), ids)


@pytest.mark.parametrize("method", sorted(m for m, (kind, _) in CALLS.items() if kind == "record"))
def test_a_sales_user_may_not_touch_another_users_task(app, method):
    ids = _seed(app)
    _, call = CALLS[method]
    # sales holds tasks.read and tasks.edit over their own tasks only, and no tasks.delete at all
    expected = "none of their roles" if method == "delete" else "tasks.task record .*owned by 'luis'"
    with app.as_user("ana"), pytest.raises(PermissionDenied, match=expected):
        call(app.plugin("tasks"), ids)
    assert app.plugin("tasks").get(ids["luis"]).status == "open"  # nothing changed


def test_a_sales_user_sees_exactly_their_own_tasks(app):
    ids = _seed(app)
    api = app.plugin("tasks")
    with app.as_user("ana"):
        assert [t.id for t in api.list(status="all")] == [ids["ana"]]
        assert api.count(status="all") == 1
        assert api.count(status="done") == 0
        assert [t.id for t in api.list(limit=5)] == [ids["ana"]]
        assert [t.id for t in api.todo()["today"]] == [ids["ana"]]  # her own list by default
        assert api.todo("luis") == {"overdue": [], "today": [], "this_week": []}  # luis's, as far as she may see
        assert api.get(ids["ana"]).assignee == "ana"
    assert api.count(status="all") == 5  # the system sees everything


def test_a_sales_user_sees_only_the_reminders_of_tasks_she_may_read(app):
    ids = _seed(app)
    api = app.plugin("tasks")
    api.send_reminders()  # as the system: every call task is due within the hour
    with app.as_user("ana"):
        mine = api.reminders()
        assert {r.task_id for r in mine} == {ids["ana"]} and {r.kind for r in mine} >= {"due"}
        assert all(r.task_title == "Call for ana" and r.task_status == "open" for r in mine)
        assert api.reminders("luis") == []  # luis's reminders are about tasks outside her scope
    # the system reads them: the "due soon" of his call, the "assigned to you" of his task since done
    assert {r.task_id for r in api.reminders("luis")} == {ids["luis"], ids["closed_luis"]}


def test_a_sales_user_works_on_their_own_tasks_and_is_recorded(app):
    ids = _seed(app)
    api = app.plugin("tasks")
    with app.as_user("ana"):
        mine = api.add("Write the offer")  # no assignee: hers
        assert (mine.assignee, mine.created_by) == ("ana", "ana")
        assert api.check(ids["ana"], 1).checklist[0].done_by == "ana"
        assert api.answer(ids["ana"], 1, "Very").questions[0].answered_by == "ana"
        assert api.reschedule(ids["ana"], "+2d").status == "open"
        done = api.done(ids["ana"])
        assert (done.status, done.closed_by) == ("done", "ana")
        assert api.reopen(ids["ana"]).status == "open"
        # giving work to someone outside her scope, or taking it out of it, is refused
        with pytest.raises(PermissionDenied, match="owned by 'luis'"):
            api.add("For luis", assignee="luis")
        with pytest.raises(PermissionDenied, match="owned by 'luis'"):
            api.assign(mine.id, "luis")
        # deleting for good is for managers (tasks.delete); cancelling her own task is everyday work
        with pytest.raises(PermissionDenied, match="tasks.delete"):
            api.delete(mine.id)
        assert api.cancel(mine.id, reason="not needed").status == "cancelled"
    assert api.count(assignee="ana", status="all") == 2
    assert api.count(assignee="luis", status="all") == 2


def test_a_support_user_sees_their_teams_tasks(app, crm_user):
    ids = _seed(app)
    crm_user(app, name="sue", roles=["support"], teams=["support"])
    api = app.plugin("tasks")
    with app.as_user("sue"):
        assert sorted(t.id for t in api.list(status="all")) == sorted([ids["luis"], ids["marta"], ids["closed_luis"]])
        assert api.count() == 2  # the open ones
        assert api.get(ids["marta"]).assignee == "marta"
        assert api.check(ids["luis"], 1).checklist[0].done_by == "sue"
        assert api.assign(ids["marta"], "luis").assignee == "luis"  # within the team
        with pytest.raises(PermissionDenied, match="owned by 'ana'"):
            api.get(ids["ana"])
        with pytest.raises(PermissionDenied, match="owned by 'ana'"):
            api.assign(ids["luis"], "ana")


def test_a_manager_may_do_everything(app):
    ids = _seed(app)
    app.authz.users.edit("marta", add_roles=["manager"])
    api = app.plugin("tasks")
    with app.as_user("marta"):
        assert api.count(status="all") == 5
        assert api.cancel(ids["ana"], reason="done elsewhere").closed_by == "marta"
        api.delete(ids["nobody"])
    assert api.count(status="all") == 4


@pytest.mark.parametrize("method", sorted({**CALLS, **UNCHECKED}))
def test_the_system_still_does_everything(app, method):
    ids = _seed(app)
    _, call = {**CALLS, **UNCHECKED}[method]
    call(app.plugin("tasks"), ids)  # no user acting: nothing is refused


@pytest.mark.parametrize("method", sorted(UNCHECKED))
def test_the_unchecked_methods_need_no_permission(app, crm_as_user, method):
    ids = _seed(app)
    _, call = UNCHECKED[method]
    with crm_as_user(app, roles=[]):
        call(app.plugin("tasks"), ids)


def test_the_worker_jobs_run_as_the_system(app, crm_clock):
    """Rules fire, templates recur and reminders go while no user acts (the worker)."""
    _seed(app)
    api = app.plugin("tasks")
    app.emit(RequestReceived(record_id=5, contact_id=None, kind="rfp", owner="Ana"))
    app.events.deliver()
    proposal = api.list(rule="proposal")
    assert [(t.title, t.assignee) for t in proposal] == [("Proposal for request 5", "ana")]  # the user's spelling
    assert api.send_reminders()["due"] >= 1
    crm_clock.advance(days=8)
    assert api.run_recurring() >= 1


@pytest.mark.parametrize(
    "who, args, message",
    [
        ("ana", ["tasks", "show", "{luis}"], "Error: user 'ana' may not tasks.read this tasks.task record"),
        ("ana", ["tasks", "done", "{luis}"], "Error: user 'ana' may not tasks.edit this tasks.task record"),
        ("ana", ["tasks", "delete", "{ana}", "--yes"], "Error: user 'ana' may not tasks.delete"),
        ("ana", ["tasks", "add", "For luis", "--assignee", "luis"], "owned by 'luis'"),
        ("nobody", ["tasks", "list"], "Error: user 'nobody' may not tasks.read"),
        ("nobody", ["tasks", "recurring", "add", "w", "W", "--rrule", "FREQ=DAILY"], "may not tasks.rules.manage"),
    ],
)
def test_the_cli_refuses_in_one_line_with_exit_code_6(app, crm_cli, crm_user, who, args, message):
    ids = _seed(app)
    crm_user(app, name="nobody")
    result = crm_cli.invoke(["--as", who, *[a.format(**ids) for a in args]], app=app)
    assert result.exit_code == 6, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert "Traceback" not in result.output


def test_without_the_permission_a_missing_task_is_not_told_apart(app, crm_as_user):
    from crm_core.errors import NotFoundError

    with crm_as_user(app, roles=[]), pytest.raises(PermissionDenied):
        app.plugin("tasks").get(999)
    with app.as_user("ana"), pytest.raises(NotFoundError, match="no task #999"):
        app.plugin("tasks").get(999)
