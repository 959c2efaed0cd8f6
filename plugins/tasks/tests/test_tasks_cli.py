"""``crm tasks …`` end to end through the CLI runner: output, exit codes, one-line errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

RULES = [
    {
        "name": "proposal",
        "trigger": "event",
        "event": "RequestReceived",
        "when": {"kind": "rfp"},
        "action": "task",
        "task": {"title": "Proposal for request {record_id}", "assignee": "{owner}", "team": "sales", "due_in": "3d"},
    },
    {
        "name": "unhappy",
        "trigger": "event",
        "event": "SurveyAnswered",
        "when": {"negative": True},
        "action": "task",
        "task": {
            "kind": "call",
            "title": "Call {contact.display_name}",
            "assignee": "{contact.owner}",
            "questions": ["What went wrong?"],
        },
    },
]


@pytest.fixture
def app(tasks_app):
    return tasks_app(rules=RULES, contacts={7: {"display_name": "Eva Gil", "owner": "marta"}})


def _ok(result):
    assert result.exit_code == 0, result.output
    return result.output


def test_add_list_show_check_answer_done(app, crm_cli):
    # the staff are sales users now (migration 0002): giving ana a task needs edit over her tasks
    app.authz.users.edit("luis", add_roles=["manager"])
    out = _ok(
        crm_cli.invoke(
            [
                "tasks",
                "add",
                "Call Eva",
                "--kind",
                "call",
                "--assignee",
                "ana",
                "--due",
                "2026-01-06 10:00",
                "--contact",
                "7",
                "--link",
                "sale:42",
                "--item",
                "Prepare",
                "--item",
                "Send",
                "--question",
                "Happy?",
                "--priority",
                "high",
                "--by",
                "luis",
            ],
            app=app,
        )
    )
    note, created = out.strip().splitlines()
    assert note.startswith("Note: --by is deprecated; use 'crm --as luis")
    assert created == "task #1 created for ana, due 2026-01-06 10:00"
    _ok(crm_cli.invoke(["tasks", "add", "Write report", "--team", "sales"], app=app))
    rows = list(csv.DictReader(io.StringIO(_ok(crm_cli.invoke(["tasks", "list", "--format", "csv"], app=app)))))
    assert [(r["id"], r["assignee"], r["title"], r["priority"]) for r in rows] == [
        ("1", "ana", "Call Eva", "high"),
        ("2", "", "Write report", "normal"),
    ]
    assert (
        _ok(crm_cli.invoke(["--as", "ana", "tasks", "check", "1", "1"], app=app)).strip()
        == "task #1: 1 of 2 item(s) ticked"
    )
    assert (
        _ok(crm_cli.invoke(["tasks", "answer", "1", "1", "Yes, very"], app=app)).strip()
        == "task #1: 1 of 1 question(s) answered"
    )
    shown = _ok(crm_cli.invoke(["tasks", "show", "1"], app=app))
    for text in ("#1 Call Eva", "sale:42", "Prepare", "ana", "Yes, very", "reminders sent", "assigned"):
        assert text in shown
    data = json.loads(_ok(crm_cli.invoke(["tasks", "show", "1", "--format", "json"], app=app)))
    assert data["checklist"][0]["done_by"] == "ana" and data["links"] == [["sale", 42]]
    assert _ok(crm_cli.invoke(["--as", "ana", "tasks", "done", "1"], app=app)).strip() == "task #1 done"
    done = json.loads(_ok(crm_cli.invoke(["tasks", "list", "--status", "done", "--format", "json"], app=app)))
    assert [t["id"] for t in done] == [1]


def test_assign_cancel_reschedule_todo_staff(app, crm_cli, crm_clock):
    _ok(crm_cli.invoke(["tasks", "add", "Visit", "--kind", "meeting", "--due", "2026-01-05 18:00"], app=app))
    assert (
        _ok(crm_cli.invoke(["tasks", "assign", "1", "luis", "--team", "support"], app=app)).strip()
        == "task #1 assigned to luis (team support)"
    )
    assert (
        _ok(crm_cli.invoke(["tasks", "reschedule", "1", "2026-01-04 10:00"], app=app)).strip()
        == "task #1 now due 2026-01-04 10:00"
    )
    todo = json.loads(_ok(crm_cli.invoke(["tasks", "todo", "luis", "--format", "json"], app=app)))
    assert [(t["when"], t["id"]) for t in todo] == [("overdue", 1)]
    overdue = json.loads(_ok(crm_cli.invoke(["tasks", "list", "--overdue", "--format", "json"], app=app)))
    assert [t["id"] for t in overdue] == [1]
    assert _ok(crm_cli.invoke(["tasks", "cancel", "1", "--reason", "moved"], app=app)).strip() == "task #1 cancelled"
    staff = json.loads(_ok(crm_cli.invoke(["tasks", "staff", "--format", "json"], app=app)))
    assert [m["name"] for m in staff] == ["ana", "luis", "marta", "old"]


BAD_COMMANDS = [
    (["tasks", "add", "X", "--assignee", "bob"], 2, "Error: unknown assignee 'bob': no CRM user has that name"),
    (["tasks", "add", "X", "--assignee", "bob"], 2, "add one with: crm users add bob"),
    (["tasks", "add", "X", "--due", "someday"], 2, "Error: due time 'someday' is not understood"),
    (["tasks", "add", "X", "--link", "sale"], 2, "is not KIND:ID"),
    (["tasks", "show", "99"], 5, "Error: no task #99"),
    (["tasks", "show", str(10**23)], 5, f"Error: no task #{10**23}"),
    (["tasks", "done", str(10**23)], 5, f"Error: no task #{10**23}"),
    (["tasks", "list", "--contact", str(10**23)], 2, f"Error: contact {10**23} is not an id"),
    (["tasks", "done", "99"], 5, "Error: no task #99"),
    (["tasks", "todo", "zoe"], 2, "Error: unknown staff member 'zoe'"),
    (["tasks", "recurring", "add", "w", "Weekly", "--rrule", "FREQ=SOMETIMES"], 2, "does not parse"),
    (["tasks", "rules", "test", "nope", "--event", "{file}"], 5, "Error: no rule 'nope'"),
]


def test_bad_input_gives_one_line_and_an_exit_code(app, crm_cli, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"type": "RequestReceived", "record_id": 1, "contact_id": None, "kind": "rfp"}))
    for args, code, message in BAD_COMMANDS:
        result = crm_cli.invoke([a.replace("{file}", str(event)) for a in args], app=app)
        assert result.exit_code == code, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert json.loads(_ok(crm_cli.invoke(["tasks", "list", "--status", "all", "--format", "json"], app=app))) == []


def test_ticking_an_item_of_a_closed_task_from_the_cli(app, crm_cli):
    _ok(crm_cli.invoke(["tasks", "add", "Onboard", "--item", "Account"], app=app))
    _ok(crm_cli.invoke(["tasks", "done", "1"], app=app))
    result = crm_cli.invoke(["tasks", "check", "1", "1"], app=app)
    assert result.exit_code == 2
    assert "cannot tick an item of a closed task" in result.output


def test_rules_list_test_preview_and_log(app, crm_cli, tmp_path):
    rows = json.loads(_ok(crm_cli.invoke(["tasks", "rules", "list", "--format", "json"], app=app)))
    assert [(r["name"], r["source"]) for r in rows] == [
        ("proposal", "plugins.tasks.rules"),
        ("unhappy", "plugins.tasks.rules"),
    ]
    assert rows[0]["trigger"] == "RequestReceived where kind eq 'rfp'"
    event = tmp_path / "survey.json"
    event.write_text(
        json.dumps(
            {
                "type": "SurveyAnswered",
                "survey_id": 1,
                "version": 1,
                "contact_id": 7,
                "response_id": 3,
                "negative": True,
            }
        )
    )
    out = json.loads(
        _ok(crm_cli.invoke(["tasks", "rules", "test", "unhappy", "--event", str(event), "--format", "json"], app=app))
    )
    assert [(r["title"], r["assignee"], r["state"]) for r in out] == [("Call Eva Gil", "marta", "would fire")]
    happy = tmp_path / "happy.json"
    happy.write_text(
        json.dumps(
            {"type": "SurveyAnswered", "payload": {"survey_id": 1, "version": 1, "contact_id": 7, "response_id": 3}}
        )
    )
    assert _ok(crm_cli.invoke(["tasks", "rules", "test", "unhappy", "--event", str(happy)], app=app)).strip() == (
        "rule unhappy does not fire for this event"
    )
    assert json.loads(_ok(crm_cli.invoke(["tasks", "list", "--format", "json"], app=app))) == []
    # now for real, then preview and log
    from crm_hookspecs.events import RequestReceived

    app.deliver_events = "worker"
    with app.transaction():
        app.emit(RequestReceived(record_id=5, contact_id=7, kind="rfp", owner="ana"))
    preview = json.loads(_ok(crm_cli.invoke(["tasks", "rules", "preview", "--format", "json"], app=app)))
    assert [(r["rule"], r["title"], r["state"]) for r in preview] == [
        ("proposal", "Proposal for request 5", "would fire")
    ]
    # a date means from the start of that day (the event came at 09:00)
    since = json.loads(
        _ok(crm_cli.invoke(["tasks", "rules", "preview", "--since", "2026-01-05", "--format", "json"], app=app))
    )
    assert len(since) == 1
    assert (
        json.loads(
            _ok(crm_cli.invoke(["tasks", "rules", "preview", "--since", "2026-01-06", "--format", "json"], app=app))
        )
        == []
    )
    app.events.deliver()
    log = json.loads(_ok(crm_cli.invoke(["tasks", "rules", "log", "--format", "json"], app=app)))
    assert [(r["rule"], r["event_type"], r["outcome"], r["task_id"]) for r in log] == [
        ("proposal", "RequestReceived", "created", 1)
    ]


BAD_EVENT_FILES = [
    ("not json", "is not JSON"),
    ('{"record_id": 1}', 'an event is an object with a "type"'),
    ('{"type": "Nope"}', "unknown event type 'Nope'"),
    ('{"type": "RequestReceived", "kind": "rfp"}', "needs the field(s) record_id, contact_id"),
    ('{"type": "RequestReceived", "record_id": "x", "contact_id": null, "kind": "rfp"}', "do not fit"),
]


def test_rules_test_refuses_a_bad_event_file(app, crm_cli, tmp_path):
    path = tmp_path / "event.json"
    for content, message in BAD_EVENT_FILES:
        path.write_text(content)
        result = crm_cli.invoke(["tasks", "rules", "test", "proposal", "--event", str(path)], app=app)
        assert result.exit_code == 2, (content, result.output)
        assert message in result.output, (content, result.output)
    result = crm_cli.invoke(["tasks", "rules", "test", "proposal", "--event", str(tmp_path / "missing.json")], app=app)
    assert result.exit_code == 2 and "cannot read" in result.output


def test_recurring_commands(app, crm_cli, crm_clock):
    out = _ok(
        crm_cli.invoke(
            [
                "tasks",
                "recurring",
                "add",
                "report",
                "Monthly report",
                "--rrule",
                "FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9",
                "--start",
                "2026-02-01 09:00",
                "--lead",
                "2d",
                "--assignee",
                "ana",
                "--item",
                "Collect figures",
            ],
            app=app,
        )
    )
    assert out.strip() == "recurring template 'report' added; next occurrence 2026-02-01 09:00 UTC"
    rows = json.loads(_ok(crm_cli.invoke(["tasks", "recurring", "list", "--format", "json"], app=app)))
    assert [(r["name"], r["lead"], r["next"]) for r in rows] == [("report", "2 days, 0:00:00", "2026-02-01 09:00 UTC")]
    crm_clock.advance(days=25)
    assert _ok(crm_cli.invoke(["tasks", "recurring", "run"], app=app)).strip() == "1 task(s) created"
    edit = ["tasks", "recurring", "edit", "report"]
    out = _ok(
        crm_cli.invoke([*edit, "--title", "Monthly figures", "--no-assignee", "--item", "A", "--item", "B"], app=app)
    )
    assert out.strip() == "recurring template 'report' changed; next occurrence 2026-03-01 09:00 UTC"
    (info,) = app.plugin("tasks").recurring()
    assert (info.title, info.assignee, info.checklist) == ("Monthly figures", None, ("A", "B"))
    assert _ok(crm_cli.invoke([*edit, "--pause"], app=app)).strip() == "recurring template 'report' changed; paused"
    assert crm_cli.invoke(edit, app=app).exit_code == 2  # nothing to change
    both = crm_cli.invoke([*edit, "--assignee", "ana", "--no-assignee"], app=app)
    assert both.exit_code == 2 and "not both" in both.output
    unknown = crm_cli.invoke(["tasks", "recurring", "edit", "nope", "--resume"], app=app)
    assert unknown.exit_code != 0 and "no recurring template 'nope'" in unknown.output
    assert (
        _ok(crm_cli.invoke(["tasks", "recurring", "remove", "report"], app=app)).strip()
        == "recurring template 'report' removed"
    )


def test_remind_and_scan(app, crm_cli, crm_clock):
    _ok(crm_cli.invoke(["tasks", "add", "Soon", "--assignee", "ana", "--due", "+2h"], app=app))
    assert _ok(crm_cli.invoke(["tasks", "remind"], app=app)).strip() == "1 due-soon and 0 overdue reminder(s) queued"
    assert _ok(crm_cli.invoke(["tasks", "scan"], app=app)).strip() == "0 inactivity firing(s)"
    assert _ok(crm_cli.invoke(["tasks", "scan", "--dry-run"], app=app)).strip() == "(none)"


def test_demo_data(app):
    lines = dict(app.hooks.demo_data(app))["tasks"]
    assert lines[0].startswith("5 tasks")
    api = app.plugin("tasks")
    assert len(api.list()) == 4 + len([t for t in api.list() if t.origin == "recurring"])
    assert [t.name for t in api.recurring()] == ["weekly-newsletter"]
