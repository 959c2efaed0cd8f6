"""The tasks pages of the staff web app (crm-desk): my to-do, the home widget, a task, the contact panel, the team view."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crm_core.testing import statements

pytest.importorskip("crm_desk")

from crm_desk.testing import DeskClient, check_catalogs  # noqa: E402

PASSWORD = "Correct-horse-42!"
UTC = dt.UTC
# the test clock starts on Monday 2026-01-05 at 09:00 UTC (10:00 in Madrid)
NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(crm_factory: Callable[..., Any]) -> Any:
    """Desk, contacts and tasks; ana and bea sell (own scope, team north), marta manages, all in Madrid time."""
    crm = crm_factory(
        plugins=["desk", "contacts", "tasks"],
        settings={"desk": {"base_url": "https://crm.example.com"}},
        core={"secret": "tasks-desk-secret-0123456789-0123456789"},
        mail={"sender": "CRM <crm@example.com>"},
    )
    crm.authz.teams.add("north")
    users = crm.authz.users
    for name, role in (("ana", "sales"), ("bea", "sales"), ("marta", "manager")):
        users.add(
            name,
            display_name=name.title(),
            email=f"{name}@example.com",
            roles=[role],
            teams=["north"],
            timezone="Europe/Madrid",
            password=PASSWORD,
        )
    return crm


def desk_as(crm: Any, name: str) -> DeskClient:
    desk = DeskClient(crm)
    assert desk.sign_in(name, PASSWORD).status_code == 302
    return desk


def add(crm: Any, title: str, assignee: str = "ana", due: dt.datetime | None = None, **kwargs: Any) -> Any:
    return crm.plugin("tasks").add(title, assignee=assignee, due=due, **kwargs)


def group(html: str, name: str) -> str:
    """The text of one group's card on the to-do page ('' when the group is not shown)."""
    found = re.search(rf'id="group-{name}">(.*?)</section>', html, re.S)
    return found.group(1) if found else ""


def test_the_nav_entry_and_a_seller_sees_only_their_tasks(app: Any) -> None:
    add(app, "Call Eva back", due=NOW + dt.timedelta(hours=2))
    add(app, "Bea's own follow-up", assignee="bea", due=NOW + dt.timedelta(hours=2))
    desk = desk_as(app, "ana")
    home = desk.get("/").get_data(as_text=True)
    assert 'href="/tasks/"' in home and ">Tasks<" in home
    page = desk.get("/tasks/")
    assert page.status_code == 200
    assert "Call Eva back" in desk.text and "Bea&#39;s own follow-up" not in desk.text
    assert "Team tasks" not in desk.text  # a seller's scope is their own tasks
    bea_task = app.plugin("tasks").list(assignee="bea")[0]
    assert desk.get(f"/tasks/{bea_task.id}").status_code == 404  # out of scope: answered as unknown, as contacts
    assert desk.get("/tasks/team").status_code == 403


def test_groups_overdue_today_this_week_later_in_the_users_time_zone(app: Any, crm_clock: Any) -> None:
    crm_clock.set(NOW)
    add(app, "Overdue one", due=NOW - dt.timedelta(hours=1))
    add(app, "Later today", due=dt.datetime(2026, 1, 5, 15, 0, tzinfo=UTC))
    # 23:30 UTC is 00:30 on Tuesday in Madrid: not today for ana
    add(app, "Just after midnight in Madrid", due=dt.datetime(2026, 1, 5, 23, 30, tzinfo=UTC))
    add(app, "Thursday", due=dt.datetime(2026, 1, 8, 10, 0, tzinfo=UTC))
    add(app, "Next week", due=dt.datetime(2026, 1, 12, 10, 0, tzinfo=UTC))
    add(app, "Some day", priority="high")
    desk = desk_as(app, "ana")
    html = desk.get("/tasks/").get_data(as_text=True)
    assert "Overdue one" in group(html, "overdue") and "Later today" not in group(html, "overdue")
    assert "Later today" in group(html, "today")
    assert "Just after midnight in Madrid" not in group(html, "today")
    assert "Just after midnight in Madrid" in group(html, "this_week") and "Thursday" in group(html, "this_week")
    assert "Next week" in group(html, "later") and "Some day" in group(html, "later")
    assert "badge-warning" in group(html, "later")  # the high priority
    crm_clock.set(dt.datetime(2026, 1, 5, 23, 10, tzinfo=UTC))  # 00:10 on Tuesday in Madrid
    desk = desk_as(app, "ana")  # the idle session ended meanwhile
    html = desk.get("/tasks/").get_data(as_text=True)
    assert "Later today" in group(html, "overdue")
    assert "Just after midnight in Madrid" in group(html, "today")


def test_mark_done_with_csrf_and_refused_without(app: Any) -> None:
    task = add(app, "Send the offer", due=NOW + dt.timedelta(hours=1))
    desk = desk_as(app, "ana")
    desk.get("/tasks/")
    assert desk.post(f"/tasks/{task.id}/done", csrf=False).status_code == 403
    assert app.plugin("tasks").get(task.id).status == "open"
    answer = desk.post(f"/tasks/{task.id}/done", {"next": "/tasks/"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/tasks/"
    assert app.plugin("tasks").get(task.id).status == "done"
    assert "Done: Send the offer" in desk.get("/tasks/").get_data(as_text=True)
    assert "Send the offer" not in group(desk.text, "today")


def test_mark_done_inline_with_htmx_then_undo(app: Any) -> None:
    task = add(app, "Inline task", due=NOW + dt.timedelta(hours=1))
    desk = desk_as(app, "ana")
    desk.get("/tasks/")
    token = desk.csrf()
    row = desk.client.post(f"/tasks/{task.id}/done", headers={"HX-Request": "true", "X-CSRF-Token": token})
    html = row.get_data(as_text=True)
    assert row.status_code == 200 and html.lstrip().startswith(f'<tr id="task-{task.id}"')
    assert "<html" not in html and "Undo" in html
    assert app.plugin("tasks").get(task.id).status == "done"
    back = desk.client.post(f"/tasks/{task.id}/reopen", headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert "Mark done" in back.get_data(as_text=True)
    assert app.plugin("tasks").get(task.id).status == "open"


def test_ticking_a_checklist_item(app: Any) -> None:
    task = add(app, "Visit", checklist=["Bring the catalogue", "Take photos"])
    desk = desk_as(app, "ana")
    desk.get(f"/tasks/{task.id}")
    assert "Bring the catalogue" in desk.text and 'id="check-1"' in desk.text
    assert desk.post(f"/tasks/{task.id}/check/1", csrf=False).status_code == 403
    assert desk.post(f"/tasks/{task.id}/check/1").status_code == 303
    assert app.plugin("tasks").get(task.id).checklist[0].done
    token = desk.csrf()
    untick = desk.client.post(
        f"/tasks/{task.id}/check/1", data={"undo": "1"}, headers={"HX-Request": "true", "X-CSRF-Token": token}
    )
    assert untick.get_data(as_text=True).lstrip().startswith('<li id="check-1">')
    assert not app.plugin("tasks").get(task.id).checklist[0].done


def test_answering_a_call_question(app: Any) -> None:
    task = add(app, "Call Eva", kind="call", questions=["Is she happy with the service?", "Budget?"])
    desk = desk_as(app, "ana")
    desk.get(f"/tasks/{task.id}")
    assert "Is she happy with the service?" in desk.text
    empty = desk.post(f"/tasks/{task.id}/answer/1", {"answer": "  "})
    assert empty.status_code == 400 and "Write the answer before saving it." in desk.text
    assert 'aria-describedby="f-answer1-note"' in desk.text
    assert desk.post(f"/tasks/{task.id}/answer/1", {"answer": "Very"}).status_code == 303
    assert app.plugin("tasks").get(task.id).questions[0].answer == "Very"
    token = desk.csrf()
    inline = desk.client.post(
        f"/tasks/{task.id}/answer/2", data={"answer": "10k"}, headers={"HX-Request": "true", "X-CSRF-Token": token}
    )
    html = inline.get_data(as_text=True)
    assert html.lstrip().startswith('<li id="question-2">') and "Answer saved." in html
    assert app.plugin("tasks").get(task.id).questions[1].answer == "10k"


def test_reassigning_outside_ones_scope_is_refused_beside_the_field(app: Any) -> None:
    task = add(app, "Hand over")
    desk = desk_as(app, "ana")
    desk.get(f"/tasks/{task.id}")
    refused = desk.post(f"/tasks/{task.id}/assign", {"assignee": "bea"})
    assert refused.status_code == 400
    assert "You may not give tasks to bea" in desk.text and 'id="f-assignee-note"' in desk.text
    assert app.plugin("tasks").get(task.id).assignee == "ana"
    manager = desk_as(app, "marta")
    manager.get(f"/tasks/{task.id}")
    assert manager.post(f"/tasks/{task.id}/assign", {"assignee": "bea"}).status_code == 303
    assert app.plugin("tasks").get(task.id).assignee == "bea"


def test_changing_the_due_time_in_the_users_zone_and_a_bad_one(app: Any) -> None:
    task = add(app, "Move me")
    desk = desk_as(app, "ana")
    desk.get(f"/tasks/{task.id}")
    assert desk.post(f"/tasks/{task.id}/due", {"due": "next blue moon"}).status_code == 400
    assert 'id="f-due-note"' in desk.text and "next blue moon" in desk.text
    assert desk.post(f"/tasks/{task.id}/due", {"due": "2026-01-07 10:00"}).status_code == 303
    assert app.plugin("tasks").get(task.id).due_at == dt.datetime(2026, 1, 7, 9, 0, tzinfo=UTC)  # 10:00 in Madrid


def test_cancel_with_a_reason(app: Any) -> None:
    task = add(app, "Not needed")
    desk = desk_as(app, "ana")
    desk.get(f"/tasks/{task.id}")
    assert desk.post(f"/tasks/{task.id}/cancel", {"reason": "the customer left"}).status_code == 303
    info = app.plugin("tasks").get(task.id)
    assert info.status == "cancelled" and "the customer left" in info.description


def test_my_day_widget_on_home(app: Any) -> None:
    contact = app.plugin("contacts").create(first_name="Eva", last_name="Luna", owner="ana")
    add(app, "Overdue call", due=NOW - dt.timedelta(days=1), contact_id=contact.id)
    add(app, "Today's visit", due=NOW + dt.timedelta(hours=3))
    add(app, "Friday's report", due=NOW + dt.timedelta(days=4))
    add(app, "Next Monday's call", due=NOW + dt.timedelta(days=7))
    desk = desk_as(app, "ana")
    html = desk.get("/").get_data(as_text=True)
    widget = re.search(r'id="widget-my_day">(.*?)</section>', html, re.S)
    assert widget is not None
    assert "Overdue call" in widget.group(1) and "Eva Luna" in widget.group(1)
    assert "Today&#39;s visit" in widget.group(1) and "Friday&#39;s report" in widget.group(1)
    listed, reminders = widget.group(1).split("<h3>Reminders</h3>", 1)
    assert "This week" in listed and "Next Monday" not in listed
    # the tasks listed are not repeated as reminders; next Monday's, given to her, is (its "assigned to you")
    assert "Overdue call" not in reminders and "Next Monday&#39;s call" in reminders


def test_my_day_shows_this_weeks_reminders_of_open_tasks(app: Any) -> None:
    api = app.plugin("tasks")
    soon = add(app, "Call Eva back", due=NOW + dt.timedelta(hours=2))
    later = add(app, "Quarterly review", due=NOW + dt.timedelta(days=20))
    finished = add(app, "Already handled", due=NOW + dt.timedelta(days=30))
    add(app, "Bea's call", assignee="bea", due=NOW + dt.timedelta(days=20))
    api.send_reminders()  # the worker's job: "due soon" for the call
    api.done(finished.id)
    desk = desk_as(app, "ana")
    html = desk.get("/").get_data(as_text=True)
    widget = re.search(r'id="widget-my_day">(.*?)</section>', html, re.S)
    assert widget is not None
    listed, reminders = widget.group(1).split("<h3>Reminders</h3>", 1)
    assert "Call Eva back" in listed and "Call Eva back" not in reminders  # listed under Today already
    # given to her by someone else, due in three weeks: the "assigned to you" notice is the reminder
    assert f'href="/tasks/{later.id}"' in reminders and "assigned to you" in reminders
    assert reminders.count(f'href="/tasks/{later.id}"') == 1
    assert "Already handled" not in reminders  # its task is done: nothing to be reminded of
    assert "Bea" not in reminders  # sent to someone else
    assert soon.id != later.id
    desk.post("/language", {"language": "es"})
    assert "Recordatorios" in desk.get("/").get_data(as_text=True)


def test_the_contact_panel_lists_the_contacts_open_tasks(app: Any) -> None:
    contact = app.plugin("contacts").create(first_name="Eva", owner="ana")
    add(app, "About Eva", contact_id=contact.id)
    add(app, "Someone else's", contact_id=None)
    desk = desk_as(app, "ana")
    flask_app = desk.app
    with flask_app.test_request_context("/"):
        import flask

        flask.g.crm = app  # as the desk sets it for a request (its context processors read it)
        flask.g.user = app.authz.users.get("ana")
        with app.as_user(flask.g.user):
            html = str(flask.render_template_string('{% import "desk/macros.html" as ui %}{{ ui.contact_panels(7) }}'))
            own = str(
                flask.render_template_string(
                    '{% import "desk/macros.html" as ui %}{{ ui.contact_panels(cid) }}', cid=contact.id
                )
            )
    assert "No open tasks about this contact." in html
    assert "About Eva" in own and "Someone else" not in own


def test_a_manager_sees_the_team_view(app: Any) -> None:
    add(app, "Ana's task", due=NOW + dt.timedelta(hours=1))
    add(app, "Bea's task", assignee="bea", due=NOW + dt.timedelta(days=20))
    desk = desk_as(app, "marta")
    desk.get("/tasks/")
    assert "Team tasks" in desk.text
    html = desk.get("/tasks/team").get_data(as_text=True)
    assert "Ana&#39;s task" in group(html, "today") and "Bea&#39;s task" in group(html, "later")
    assert desk.get("/tasks/team?team=south").status_code == 404


def test_spanish_pages(app: Any) -> None:
    add(app, "Llamar", due=NOW - dt.timedelta(hours=1))
    desk = desk_as(app, "ana")
    desk.get("/")
    desk.post("/language", {"language": "es", "next": "/tasks/"})
    html = desk.get("/tasks/").get_data(as_text=True)
    assert "Mis tareas" in html and "Vencidas" in html and ">Tareas<" in html


def test_the_to_do_pages_statements_do_not_grow_with_its_tasks(app: Any) -> None:
    contacts = app.plugin("contacts")

    def count() -> int:
        with statements(app) as sql:
            assert desk.get("/tasks/").status_code == 200
        return len(sql)

    desk = desk_as(app, "ana")
    for n in range(2):
        add(
            app,
            f"Task {n}",
            due=NOW + dt.timedelta(days=n),
            contact_id=contacts.create(first_name=f"C{n}", owner="ana").id,
        )
    few = count()
    for n in range(2, 30):
        add(
            app,
            f"Task {n}",
            due=NOW + dt.timedelta(days=n),
            contact_id=contacts.create(first_name=f"C{n}", owner="ana").id,
        )
    many = count()
    assert "Task 29" in desk.text and "C29" in desk.text
    assert many == few, f"{few} statements for 2 tasks, {many} for 30"


# -- a new task -----------------------------------------------------------------------------


def test_new_task_from_the_to_do_page_in_the_users_time_zone(app: Any) -> None:
    contact = app.plugin("contacts").create(first_name="Eva", last_name="Luna", owner="ana")
    desk = desk_as(app, "ana")
    desk.get("/tasks/")
    assert 'href="/tasks/new"' in desk.text
    form = desk.get("/tasks/new")
    assert form.status_code == 200 and 'name="title"' in desk.text
    answer = desk.post(
        "/tasks/new",
        {
            "title": "Call Eva about the offer",
            "kind": "call",
            "assignee": "ana",
            "team": "north",
            "due": "2026-01-07 10:00",
            "priority": "high",
            "description": "She asked for a discount.",
            "contact_id": str(contact.id),
            "checklist": "Check the price list\n\nPrepare the offer\n",
            "questions": "Budget?\nWhen do they decide?",
        },
    )
    assert answer.status_code == 303
    task = app.plugin("tasks").list(assignee="ana")[0]
    assert answer.headers["Location"] == f"/tasks/{task.id}"
    info = app.plugin("tasks").get(task.id)
    assert (info.title, info.kind, info.team, info.priority) == ("Call Eva about the offer", "call", "north", "high")
    assert info.due_at == dt.datetime(2026, 1, 7, 9, 0, tzinfo=UTC)  # 10:00 in Madrid
    assert info.contact_id == contact.id and info.description == "She asked for a discount."
    assert [i.text for i in info.checklist] == ["Check the price list", "Prepare the offer"]
    assert [q.text for q in info.questions] == ["Budget?", "When do they decide?"]
    assert "Task created: Call Eva about the offer" in desk.get(f"/tasks/{task.id}").get_data(as_text=True)


def test_new_task_is_a_contact_card_action_that_fills_in_the_contact(app: Any) -> None:
    contact = app.plugin("contacts").create(first_name="Eva", last_name="Luna", owner="ana")
    desk = desk_as(app, "ana")
    card = desk.get(f"/contacts/{contact.id}")
    assert card.status_code == 200
    assert f'href="/tasks/new?contact_id={contact.id}"' in desk.text and ">New task<" in desk.text
    desk.get(f"/tasks/new?contact_id={contact.id}")
    assert f'name="contact_id" type="text" value="{contact.id}"' in desk.text and "Contact: Eva Luna" in desk.text


def test_new_task_bad_input_stands_beside_the_field_and_keeps_what_was_typed(app: Any) -> None:
    desk = desk_as(app, "ana")
    desk.get("/tasks/new")
    typed = {
        "title": "  ",
        "kind": "to-do",
        "assignee": "ana",
        "team": "",
        "due": "next blue moon",
        "priority": "normal",
        "description": "Keep this text",
        "contact_id": "abc",
        "checklist": "First item",
        "questions": "A question?",
    }
    assert desk.post("/tasks/new", typed).status_code == 400
    html = desk.text
    assert 'id="f-title-note"' in html and "Give the task a title" in html
    assert 'id="f-contact_id-note"' in html and 'id="f-questions-note"' in html
    assert "Keep this text" in html and "First item" in html and "A question?" in html and 'value="abc"' in html
    assert app.plugin("tasks").count(status="all") == 0
    typed.update(title="Has a title", contact_id="", questions="")
    assert desk.post("/tasks/new", typed).status_code == 400
    assert 'id="f-due-note"' in desk.text and "next blue moon" in desk.text and 'value="Has a title"' in desk.text
    typed.update(due="", contact_id="99999")
    assert desk.post("/tasks/new", typed).status_code == 400
    assert 'id="f-contact_id-note"' in desk.text and "There is no contact 99999" in desk.text
    assert app.plugin("tasks").count(status="all") == 0


def test_a_seller_may_not_give_a_new_task_to_a_colleague(app: Any) -> None:
    desk = desk_as(app, "ana")
    desk.get("/tasks/new")
    assert '<option value="bea"' not in desk.text  # the menu offers whom she may give tasks to
    fields = {"title": "For Bea", "kind": "to-do", "assignee": "bea", "priority": "normal"}
    assert desk.post("/tasks/new", fields).status_code == 400
    assert 'id="f-assignee-note"' in desk.text and "You may not give tasks to bea" in desk.text
    assert app.plugin("tasks").count(status="all") == 0
    manager = desk_as(app, "marta")
    manager.get("/tasks/new")
    assert '<option value="bea"' in manager.text
    assert manager.post("/tasks/new", fields).status_code == 303
    assert app.plugin("tasks").list(assignee="bea")[0].title == "For Bea"


def test_new_task_needs_csrf_and_the_create_permission(app: Any) -> None:
    app.authz.users.add("rita", roles=["read-only"], timezone="Europe/Madrid", password=PASSWORD)
    desk = desk_as(app, "ana")
    desk.get("/tasks/new")
    assert desk.post("/tasks/new", {"title": "No token", "kind": "to-do"}, csrf=False).status_code == 403
    assert app.plugin("tasks").count(status="all") == 0
    reader = desk_as(app, "rita")
    assert reader.get("/tasks/new").status_code == 403
    reader.get("/tasks/")
    assert 'href="/tasks/new"' not in reader.text
    assert reader.post("/tasks/new", {"title": "Not allowed", "kind": "to-do"}).status_code == 403
    assert app.plugin("tasks").count(status="all") == 0


# -- rules and recurring tasks ----------------------------------------------------------------

WELCOME = {
    "name": "welcome-customer",
    "trigger": "change",
    "field": "status",
    "new": "customer",
    "action": "task",
    "task": {"title": "Welcome {contact.display_name}", "assignee": "{contact.owner}", "due_in": "1d"},
}


def _rule(n: int) -> dict[str, Any]:
    return {**WELCOME, "name": f"rule-{n}", "new": "former", "enabled": n % 2 == 0}


def rules_app(crm_factory: Callable[..., Any], rules: list[dict[str, Any]]) -> Any:
    crm = crm_factory(
        plugins=["desk", "contacts", "tasks"],
        settings={"desk": {"base_url": "https://crm.example.com"}, "tasks": {"rules": rules}},
        core={"secret": "tasks-desk-secret-0123456789-0123456789"},
        mail={"sender": "CRM <crm@example.com>"},
    )
    if any(team["name"] == "north" for team in crm.authz.teams.list()):
        return crm  # a second app on the same database: the people are there
    crm.authz.teams.add("north")
    crm.authz.roles.add("no-rules", permissions=["tasks.read", "tasks.create", "tasks.edit"])
    for name, role in (("ana", "sales"), ("bea", "sales"), ("marta", "manager"), ("nico", "no-rules")):
        crm.authz.users.add(
            name,
            roles=[role],
            teams=["north"],
            timezone="Europe/Madrid",
            email=f"{name}@example.com",
            password=PASSWORD,
        )
    return crm


def test_the_rules_list_and_a_rules_preview_in_the_sellers_scope(crm_factory: Callable[..., Any]) -> None:
    app = rules_app(crm_factory, [WELCOME, _rule(1)])
    contacts = app.plugin("contacts")
    for first, owner in (("Eva", "ana"), ("Bruno", "bea")):
        contact = contacts.create(first_name=first, last_name="Luna", owner=owner)
        contacts.update(contact.id, status="customer")
    desk = desk_as(app, "ana")
    desk.get("/tasks/")
    assert 'href="/tasks/rules"' in desk.text
    assert desk.get("/tasks/rules").status_code == 200
    assert "welcome-customer" in desk.text and "contact status changes to &#39;customer&#39;" in desk.text
    assert "rule-1" in desk.text and ">off<" in desk.text and "enabled = false" in desk.text
    made = app.plugin("tasks").count(status="all")
    desk.get("/tasks/rules/welcome-customer")
    preview = re.search(r'id="preview">(.*?)</section>', desk.text, re.S)
    assert preview is not None
    assert "Welcome Eva Luna" in preview.group(1) and "Bruno" not in preview.group(1)
    assert "1 more are about tasks outside what you may see." in preview.group(1)
    assert "already fired" in preview.group(1)  # the events were handled as they were emitted
    assert app.plugin("tasks").count(status="all") == made  # a dry run
    manager = desk_as(app, "marta")
    manager.get("/tasks/rules/welcome-customer")
    assert "Welcome Eva Luna" in manager.text and "Welcome Bruno Luna" in manager.text
    assert manager.get("/tasks/rules/no-such-rule").status_code == 404


def test_the_rules_need_the_rules_permission(crm_factory: Callable[..., Any]) -> None:
    app = rules_app(crm_factory, [WELCOME])
    desk = desk_as(app, "nico")
    desk.get("/tasks/")
    assert 'href="/tasks/rules"' not in desk.text
    assert desk.get("/tasks/rules").status_code == 403
    assert desk.get("/tasks/rules/welcome-customer").status_code == 403
    assert desk.get("/tasks/recurring").status_code == 403


def test_the_rules_lists_statements_do_not_grow_with_its_rules(crm_factory: Callable[..., Any]) -> None:
    def count(rules: list[dict[str, Any]]) -> int:
        app = rules_app(crm_factory, rules)
        desk = desk_as(app, "marta")
        assert desk.get("/tasks/rules").status_code == 200  # the rules are compiled once, on the first call
        with statements(app) as sql:
            assert desk.get("/tasks/rules").status_code == 200
        assert rules[-1]["name"] in desk.text
        return len(sql)

    few = count([WELCOME])
    many = count([WELCOME, *(_rule(n) for n in range(1, 20))])
    assert many == few, f"{few} statements for 1 rule, {many} for 20"


def test_recurring_tasks_listed_in_words_with_their_next_occurrences(app: Any, crm_clock: Any) -> None:
    crm_clock.set(NOW)
    app.plugin("tasks").add_recurring(
        "weekly-report",
        "Send the weekly report",
        "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=0",
        assignee="ana",
        timezone="Europe/Madrid",
        start="2026-01-05 09:00",
    )
    desk = desk_as(app, "ana")
    desk.get("/tasks/recurring")
    row = re.search(r'id="template-\d+">(.*?)</tr>', desk.text, re.S)
    assert row is not None
    assert "Every week on Monday and Thursday at 09:00" in row.group(1)
    assert "Jan 8, 2026, 9:00" in row.group(1) and "Jan 12, 2026" in row.group(1) and "Jan 15, 2026" in row.group(1)
    assert 'id="add"' not in desk.text and "Remove" not in row.group(1)  # a seller reads, a manager manages
    assert desk.post("/tasks/recurring/weekly-report/remove").status_code == 403
    desk.post("/language", {"language": "es", "next": "/tasks/recurring"})
    assert "Cada semana el lunes y jueves a las 09:00" in desk.get("/tasks/recurring").get_data(as_text=True)


def test_a_manager_adds_and_removes_a_recurring_task(app: Any) -> None:
    desk = desk_as(app, "marta")
    desk.get("/tasks/recurring")
    fields = {
        "name": "monthly-check",
        "title": "Check the accounts",
        "rrule": "FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=8",
        "start": "2026-02-01 08:00",
        "timezone": "Europe/Madrid",
        "lead": "1d",
        "kind": "to-do",
        "assignee": "bea",
        "team": "north",
        "priority": "high",
        "description": "",
        "checklist": "Open the ledger\nCompare",
    }
    assert desk.post("/tasks/recurring", fields, csrf=False).status_code == 403
    assert desk.post("/tasks/recurring", fields).status_code == 303
    (info,) = app.plugin("tasks").recurring()
    assert (info.name, info.assignee, info.team, info.lead) == ("monthly-check", "bea", "north", dt.timedelta(days=1))
    assert "Every month on day 1 at 08:00" in desk.get("/tasks/recurring").get_data(as_text=True)
    assert desk.post("/tasks/recurring/monthly-check/remove", csrf=False).status_code == 403
    assert desk.post("/tasks/recurring/monthly-check/remove").status_code == 303
    assert app.plugin("tasks").recurring() == []


def test_a_manager_changes_pauses_and_resumes_a_recurring_task(app: Any) -> None:
    api = app.plugin("tasks")
    api.add_recurring("weekly-report", "Weekly report", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9", assignee="ana", lead="2h")
    seller = desk_as(app, "ana")
    assert seller.get("/tasks/recurring/weekly-report").status_code == 403
    assert seller.post("/tasks/recurring/weekly-report/pause", {"active": "0"}).status_code == 403
    desk = desk_as(app, "marta")
    assert desk.get("/tasks/recurring/nope").status_code == 404
    page = desk.get("/tasks/recurring/weekly-report").get_data(as_text=True)
    assert 'value="Weekly report"' in page and 'value="2h"' in page and "Every week on Monday at 09:00" in page
    form = {
        "title": "Send the weekly report",
        "rrule": "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16",
        "lead": "1d",
        "kind": "to-do",
        "assignee": "bea",
        "team": "north",
        "priority": "high",
        "description": "For the board",
        "checklist": "Sales\nPipeline\n",
    }
    assert desk.post("/tasks/recurring/weekly-report", form, csrf=False).status_code == 403
    assert desk.post("/tasks/recurring/weekly-report", {**form, "rrule": "BYDAY=FR"}).status_code == 400
    assert "FREQ" in desk.text and 'value="Send the weekly report"' in desk.text  # beside the rule; typed text kept
    assert api.recurring()[0].title == "Weekly report"
    assert desk.post("/tasks/recurring/weekly-report", form).status_code == 303
    (info,) = api.recurring()
    assert (info.title, info.rrule, info.assignee, info.team, info.priority, info.checklist, info.lead) == (
        "Send the weekly report",
        "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16",
        "bea",
        "north",
        "high",
        ("Sales", "Pipeline"),
        dt.timedelta(days=1),
    )
    assert desk.post("/tasks/recurring/weekly-report/pause", {"active": "0"}).status_code == 303
    listing = desk.get("/tasks/recurring").get_data(as_text=True)
    row = re.search(r'id="template-\d+">(.*?)</tr>', listing, re.S)
    assert row is not None and "paused" in row.group(1) and "Resume" in row.group(1) and "Pause" not in row.group(1)
    assert not api.recurring()[0].active
    assert desk.post("/tasks/recurring/weekly-report/pause", {"active": "1"}).status_code == 303
    assert api.recurring()[0].active and "Pause" in desk.get("/tasks/recurring").get_data(as_text=True)


def test_a_bad_recurring_task_is_refused_beside_the_field_keeping_what_was_typed(app: Any) -> None:
    desk = desk_as(app, "marta")
    desk.get("/tasks/recurring")
    fields = {
        "name": "",
        "title": "Weekly call",
        "rrule": "BYDAY=MO",
        "kind": "call",
        "priority": "normal",
        "lead": "0m",
        "timezone": "Europe/Madrid",
        "checklist": "Keep me",
    }
    assert desk.post("/tasks/recurring", fields).status_code == 400
    assert 'id="f-name-note"' in desk.text and 'value="Weekly call"' in desk.text and "Keep me" in desk.text
    fields["name"] = "weekly-call"
    assert desk.post("/tasks/recurring", fields).status_code == 400
    assert 'id="f-rrule-note"' in desk.text and "has no FREQ" in desk.text and 'value="BYDAY=MO"' in desk.text
    fields.update(rrule="FREQ=WEEKLY", lead="soon")
    assert desk.post("/tasks/recurring", fields).status_code == 400
    assert 'id="f-lead-note"' in desk.text and 'value="soon"' in desk.text
    fields.update(lead="0m", timezone="Mars/Olympus")
    assert desk.post("/tasks/recurring", fields).status_code == 400
    assert 'id="f-timezone-note"' in desk.text
    assert app.plugin("tasks").recurring() == []


def test_a_tasks_reminders_sent_and_planned(app: Any, crm_clock: Any) -> None:
    crm_clock.set(NOW)
    task = add(app, "Remind me", due=NOW + dt.timedelta(hours=48))
    desk = desk_as(app, "ana")
    desk.get(f"/tasks/{task.id}")
    card = re.search(r'id="reminders">(.*?)</section>', desk.text, re.S)
    assert card is not None
    # created with an assignee: "assigned to you" was sent; due soon 24 hours before (10:00 in Madrid), overdue at the due time
    assert "sent</span> assigned to you: to ana" in card.group(1)
    assert "planned</span> due soon: from Jan 6, 2026, 10:00" in card.group(1)
    assert "planned</span> overdue: from Jan 7, 2026, 10:00" in card.group(1)
    crm_clock.set(NOW + dt.timedelta(hours=30))
    app.plugin("tasks").send_reminders()
    desk = desk_as(app, "ana")
    desk.get(f"/tasks/{task.id}")
    card = re.search(r'id="reminders">(.*?)</section>', desk.text, re.S)
    assert card is not None
    assert "sent</span> due soon" in card.group(1) and "planned</span> due soon" not in card.group(1)
    assert "planned</span> overdue" in card.group(1)


PLUGIN = Path(__file__).resolve().parents[1]


def test_every_desk_page_string_is_in_the_spanish_catalog_and_compiled() -> None:
    check_catalogs(PLUGIN, PLUGIN / "crm_tasks" / "desk" / "translations")


def test_the_search_box_finds_tasks_by_the_words_of_their_title(app: Any) -> None:
    api = app.plugin("tasks")
    call = add(app, "Call Eva about the renewal", due=NOW + dt.timedelta(days=1))
    done = add(app, "Renewal offer for Eva")
    api.done(done.id)
    add(app, "Bea's renewal call", assignee="bea")
    add(app, "Unrelated visit")
    desk = desk_as(app, "ana")
    desk.get("/search/results?q=renewal")
    html = desk.text
    assert "Tasks" in html
    assert f'href="/tasks/{call.id}"' in html and f'href="/tasks/{done.id}"' in html
    assert html.index(f'href="/tasks/{call.id}"') < html.index(f'href="/tasks/{done.id}"')  # open ones first
    assert "Bea" not in html and "Unrelated" not in html  # out of her scope; not matching
    desk.get("/search/results?q=EVA%20renew")  # every word, in any order and case
    assert f'href="/tasks/{call.id}"' in desk.text and "Jan 6, 2026" in desk.text
    desk.get("/search/results?q=100%25")  # LIKE's wildcards are themselves
    assert "/tasks/" not in desk.text
    desk.get("/")
    desk.post("/language", {"language": "es"})
    desk.get("/search/results?q=renewal")
    assert "Tareas" in desk.text and "abierta" in desk.text


def test_tasks_text_filter_in_the_api(app: Any) -> None:
    api = app.plugin("tasks")
    add(app, "Quarterly REVIEW with Acme")
    add(app, "Review 50% discount")
    assert [t.title for t in api.list(text="review acme")] == ["Quarterly REVIEW with Acme"]
    assert api.count(text="review") == 2
    assert [t.title for t in api.list(text="50%")] == ["Review 50% discount"]
    assert api.count(text="5_%") == 0
    with app.as_user("bea"):
        assert api.list(text="review") == []  # ana's tasks are outside her scope


def test_the_tasks_pages_speak_with_their_own_catalog_first(app: Any) -> None:
    """Two catalogs may say one English text differently: on the tasks' pages the tasks' catalog wins."""
    api = app.plugin("tasks")
    task = add(app, "Finished call")
    api.done(task.id)
    api.add_recurring("weekly", "Weekly report", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9")
    desk = desk_as(app, "marta")
    desk.get("/")
    desk.post("/language", {"language": "es"})
    page = desk.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert ">hecha<" in page  # the desk's catalog says "hecho"
    listing = desk.get("/tasks/recurring").get_data(as_text=True)
    assert '<th scope="col">Próximas</th>' in listing  # the contacts' catalog says "Siguiente"
