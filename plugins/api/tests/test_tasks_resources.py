"""The tasks plugin's resources over HTTP, under each token's scope."""

from __future__ import annotations

import pytest


@pytest.fixture
def desk(crm_factory, crm_user):
    from crm_api import create_app

    crm = crm_factory(plugins=["contacts", "tasks", "api"])
    crm_user(crm, name="ana", roles=["sales"])
    crm_user(crm, name="luis", roles=["sales"])
    crm_user(crm, name="boss", roles=["manager"])
    tasks = crm.plugin("tasks")
    ids = {
        who: tasks.add(f"Call for {who}", kind="call", assignee=who, questions=["Happy?"]).id for who in ("ana", "luis")
    }
    tokens = {name: crm.authz.tokens.create(name, "desk").text for name in ("ana", "luis", "boss")}
    client = create_app(crm).test_client()

    def call(method, path, user="ana", headers=None, **kwargs):
        return client.open(
            path, method=method, headers={"Authorization": f"Bearer {tokens[user]}", **(headers or {})}, **kwargs
        )

    return call, ids


def test_a_seller_sees_and_changes_only_own_tasks(desk):
    call, ids = desk
    mine = call("GET", "/api/v1/tasks?count=true")
    assert mine.status_code == 200, mine.json
    assert [t["id"] for t in mine.json["data"]] == [ids["ana"]] and mine.json["total"] == 1
    assert call("GET", "/api/v1/tasks?count=true", user="boss").json["total"] == 2
    assert call("GET", f"/api/v1/tasks/{ids['luis']}").status_code == 404
    made = call(
        "POST",
        "/api/v1/tasks",
        json={"title": "Send the quote", "due": "2026-02-01T09:00:00Z", "checklist": ["Prices", "PDF"]},
    )
    assert made.status_code == 201, made.json
    assert made.json["assignee"] == "ana" and made.json["created_by"] == "ana"
    ticked = call("POST", f"/api/v1/tasks/{made.json['id']}/checklist", json={"item": "1"})
    assert ticked.status_code == 200 and ticked.json["checklist"][0]["done_by"] == "ana"
    answered = call("POST", f"/api/v1/tasks/{ids['ana']}/answers", json={"question": "1", "answer": "Very"})
    assert answered.json["questions"][0]["answer"] == "Very"
    tag = call("GET", f"/api/v1/tasks/{ids['ana']}").headers["ETag"]
    done = call("PATCH", f"/api/v1/tasks/{ids['ana']}", json={"status": "done"}, headers={"If-Match": tag})
    assert done.status_code == 200 and done.json["status"] == "done" and done.json["closed_by"] == "ana"
    stale = call(
        "PATCH", f"/api/v1/tasks/{made.json['id']}", json={"due": "+1d"}, headers={"If-Match": made.headers["ETag"]}
    )
    assert stale.status_code == 412  # its checklist was ticked since it was made
    fresh = call("GET", f"/api/v1/tasks/{made.json['id']}").headers["ETag"]
    handed = call("PATCH", f"/api/v1/tasks/{made.json['id']}", json={"assignee": "luis"}, headers={"If-Match": fresh})
    assert handed.status_code == 404  # luis's tasks are out of ana's scope
    denied = call("DELETE", f"/api/v1/tasks/{made.json['id']}", headers={"If-Match": fresh})
    assert denied.status_code == 403 and "tasks.delete" in denied.json["detail"]


def test_paging_tasks(desk):
    call, ids = desk
    for i in range(5):
        call("POST", "/api/v1/tasks", user="boss", json={"title": f"Task {i}", "assignee": "boss"})
    page = call("GET", "/api/v1/tasks?limit=2&status=all", user="boss")
    seen = [t["id"] for t in page.json["data"]]
    while page.json["next"]:
        page = call("GET", page.json["next"], user="boss")
        seen += [t["id"] for t in page.json["data"]]
    assert len(seen) == len(set(seen)) == 7


def test_the_todo_rules_and_recurring_templates_over_http(desk, crm_clock):
    call, ids = desk
    mine = call("GET", "/api/v1/tasks/todo")
    assert mine.status_code == 200 and set(mine.json) == {"overdue", "today", "this_week"}
    listed = [t["id"] for group in mine.json.values() for t in group]
    assert ids["luis"] not in listed
    # another seller's to-do holds nothing this seller may read
    theirs = call("GET", "/api/v1/tasks/todo?assignee=luis").json
    assert ids["luis"] not in [t["id"] for group in theirs.values() for t in group]
    assert call("GET", "/api/v1/task-rules/nothing/firings", user="boss").status_code == 404
    made = call(
        "POST",
        "/api/v1/recurring-tasks",
        user="boss",
        json={"name": "weekly-call", "title": "Weekly call", "rrule": "FREQ=WEEKLY;BYDAY=MO", "lead": "1d"},
    )
    assert made.status_code == 201, made.json
    assert made.json["lead_minutes"] == 1440 and made.json["next_occurrence"] is not None
    bad = call(
        "POST", "/api/v1/recurring-tasks", user="boss", json={"name": "x", "title": "X", "rrule": "FREQ=SOMETIMES"}
    )
    assert bad.status_code == 422 and "FREQ" in bad.json["detail"]
    assert [t["name"] for t in call("GET", "/api/v1/recurring-tasks").json["data"]] == ["weekly-call"]
    assert call("GET", "/api/v1/recurring-tasks/weekly-call").json["rrule"] == "FREQ=WEEKLY;BYDAY=MO"
    tag = call("GET", "/api/v1/recurring-tasks/weekly-call", user="boss").headers["ETag"]
    change = {"title": "Weekly call with the team", "priority": "urgent", "checklist": ["Agenda"], "active": False}
    assert call("PATCH", "/api/v1/recurring-tasks/weekly-call", user="boss", json=change).status_code == 428
    assert (
        call("PATCH", "/api/v1/recurring-tasks/weekly-call", json=change, headers={"If-Match": tag}).status_code == 403
    )  # sales do not manage rules
    changed = call("PATCH", "/api/v1/recurring-tasks/weekly-call", user="boss", json=change, headers={"If-Match": tag})
    assert changed.status_code == 200, changed.json
    assert (changed.json["title"], changed.json["priority"], changed.json["checklist"], changed.json["active"]) == (
        "Weekly call with the team",
        "urgent",
        ["Agenda"],
        False,
    )
    assert changed.json["next_occurrence"] is None  # paused
    again = call(
        "PATCH", "/api/v1/recurring-tasks/weekly-call", user="boss", json={"active": True}, headers={"If-Match": tag}
    )
    assert again.status_code == 412  # the tag read before the change is stale
    bad = call(
        "PATCH",
        "/api/v1/recurring-tasks/weekly-call",
        user="boss",
        json={"rrule": "FREQ=SOMETIMES"},
        headers={"If-Match": changed.headers["ETag"]},
    )
    assert bad.status_code == 422 and "FREQ" in bad.json["detail"]
    assert call("DELETE", "/api/v1/recurring-tasks/weekly-call").status_code == 403  # sales do not manage rules
    assert call("DELETE", "/api/v1/recurring-tasks/weekly-call", user="boss").status_code == 204
    assert call("GET", "/api/v1/recurring-tasks/weekly-call").status_code == 404


def test_the_rules_are_listed_in_words(crm_factory, crm_user):
    from crm_api import create_app

    rule = {
        "name": "welcome-customer",
        "trigger": "change",
        "field": "status",
        "new": "customer",
        "action": "task",
        "task": {"title": "Welcome {contact.display_name}", "due_in": "1d"},
    }
    crm = crm_factory(plugins=["contacts", "tasks", "api"], settings={"tasks": {"rules": [rule]}})
    crm_user(crm, name="boss", roles=["manager"])
    token = crm.authz.tokens.create("boss", "rules").text
    client = create_app(crm).test_client()
    listed = client.get("/api/v1/task-rules", headers={"Authorization": f"Bearer {token}"}).json["data"]
    assert [(r["name"], r["trigger"], r["action"], r["enabled"]) for r in listed] == [
        ("welcome-customer", "change", "task", True)
    ]
    assert "status" in listed[0]["when"] and "customer" in listed[0]["when"] and listed[0]["does"]
    crm.plugin("contacts").create(first_name="Nueva", last_name="Cliente", status="prospect")
    contact = crm.plugin("contacts").search("Nueva").cards[0]
    crm.plugin("contacts").update(contact.id, status="customer")
    fired = client.get("/api/v1/task-rules/welcome-customer/firings", headers={"Authorization": f"Bearer {token}"})
    assert fired.status_code == 200 and [f["contact_id"] for f in fired.json["data"]] == [contact.id]


def test_a_seller_sees_when_rules_fired_but_not_about_whom(crm_factory, crm_user):
    from crm_api import create_app

    rule = {
        "name": "welcome-customer",
        "trigger": "change",
        "field": "status",
        "new": "customer",
        "action": "task",
        "task": {"title": "Welcome {contact.display_name}", "due_in": "1d"},
    }
    crm = crm_factory(plugins=["contacts", "tasks", "api"], settings={"tasks": {"rules": [rule]}})
    crm_user(crm, name="ana", roles=["sales"])
    contact = crm.plugin("contacts").create(first_name="Otra", last_name="Cliente", status="prospect", owner=None)
    crm.plugin("contacts").update(contact.id, status="customer")
    token = crm.authz.tokens.create("ana", "rules").text
    fired = (
        create_app(crm)
        .test_client()
        .get("/api/v1/task-rules/welcome-customer/firings", headers={"Authorization": f"Bearer {token}"})
    )
    assert fired.status_code == 200 and len(fired.json["data"]) == 1
    assert fired.json["data"][0]["contact_id"] is None and fired.json["data"][0]["task_id"] is None
