"""Tasks through the Python API: creating, viewing, closing, checklists, call sheets."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_core.errors import NotFoundError, ValidationError

UTC = dt.UTC


def test_add_and_get_a_call_task_with_checklist_questions_and_links(tasks_app, crm_recorder):
    crm = tasks_app(contacts={7: {"display_name": "Eva Gil"}}, extra_plugins=[("rec", crm_recorder)])
    api = crm.plugin("tasks")
    task = api.add(
        "Call Eva",
        kind="call",
        assignee="ana",
        team="sales",
        due="2026-01-06 10:00",
        priority="high",
        contact_id=7,
        links=[("sale", 42), ("request", 9)],
        checklist=["Prepare offer", "Send summary"],
        questions=["Happy with delivery?", "Budget for next year?"],
        description="Follow up the offer",
        actor="luis",
    )
    assert (task.title, task.kind, task.assignee, task.team, task.priority, task.status) == (
        "Call Eva",
        "call",
        "ana",
        "sales",
        "high",
        "open",
    )
    assert task.due_at == dt.datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    assert task.contact_id == 7 and task.created_by == "luis" and task.origin == "manual"
    assert task.links == (("sale", 42), ("request", 9))
    assert [c.text for c in task.checklist] == ["Prepare offer", "Send summary"]
    assert [q.text for q in task.questions] == ["Happy with delivery?", "Budget for next year?"]
    created = [e for e in crm_recorder.events if e.type_name == "TaskCreated"]
    assert [(e.task_id, e.kind, e.assignee, e.contact_id, e.actor) for e in created] == [
        (task.id, "call", "ana", 7, "luis")
    ]


def test_a_task_is_read_in_two_statements_and_made_without_idle_savepoints(tasks_app):
    from crm_core.testing import statements

    crm = tasks_app()
    crm.deliver_events = "worker"  # count the task, not the handlers' delivery after it
    api = crm.plugin("tasks")
    api.add("Warm up", assignee="ana")
    with statements(crm) as sql:
        task = api.add("Call back", kind="call", assignee="ana", due="+1d", checklist=["a", "b"], questions=["Why?"])
    work = [s for s in sql if s.split()[0].upper() not in ("BEGIN", "COMMIT")]
    # the assignee with teams and roles (one query: checked, then e-mailed), the task (returned as stored by
    # INSERT … RETURNING), its checklist and questions (one INSERT each), the event, the notice's row and the
    # mail queue's row (each one INSERT that leaves out a key written before), and on PostgreSQL and MariaDB
    # the outbox lock: 8 at most on every backend (issue 19), no savepoint, no read-back
    assert len(work) <= 8, "\n".join(s[:80] for s in sql)
    assert not [s for s in sql if "SAVEPOINT" in s.upper()], sql
    with statements(crm) as sql:
        again = api.get(task.id)
    assert len(sql) == 2 and again == task  # the task, then its checklist, questions, links and reminders at once
    assert [c.text for c in again.checklist] == ["a", "b"] and [q.text for q in again.questions] == ["Why?"]
    assert [r.kind for r in again.reminders] == ["assigned"]


def test_what_add_returns_is_what_get_reads(tasks_app):
    # add() builds its answer from what it wrote (the task's row as INSERT … RETURNING gave it back),
    # so on every backend it must equal a read: times a backend stores without microseconds, a
    # time zone that is not UTC, links given twice, an assignee with or without a notice
    crm = tasks_app(contacts={7: {"display_name": "Eva Gil"}}, timezone="Europe/Madrid")
    api = crm.plugin("tasks")
    due = dt.datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    made = [
        api.add("Plain"),
        api.add(
            "Call Eva  ",
            kind="call",
            assignee="luis",
            team="support",
            due=due,
            priority="high",
            contact_id=7,
            links=[("sale", 42), ("request", 9), ("sale", 42)],
            checklist=[" Prepare offer ", "x" * 500],
            questions=["¿Contenta con la entrega?"],
            description="Follow up the offer  \n  and the invoice ",
            actor="ana",
        ),
        api.add("Tomorrow", assignee="ana", due="+1d"),
        api.add("A date", due=dt.date(2026, 5, 4), team="sales"),
    ]
    for task in made:
        assert api.get(task.id) == task
    assert made[1].links == (("sale", 42), ("request", 9)) and [r.kind for r in made[1].reminders] == ["assigned"]
    assert made[0].reminders == () and made[0].assignee is None


BAD_TASKS = [
    ({"assignee": "nobody"}, "unknown assignee 'nobody'"),
    ({"assignee": "old"}, "inactive"),
    ({"team": "marketing"}, "unknown team 'marketing'"),
    ({"kind": "lunch"}, "unknown kind 'lunch'"),
    ({"priority": "asap"}, "unknown priority 'asap'"),
    ({"due": "next tuesday-ish"}, "due time 'next tuesday-ish' is not understood"),
    ({"due": "+3 fortnights"}, "is not a duration"),
    ({"questions": ["Why?"]}, "questions belong to call tasks"),
    ({"checklist": ["ok", "  "]}, "empty checklist item"),
    ({"links": [("invoice", 3)]}, "unknown link kind 'invoice'"),
    ({"actor": "g" * 101}, "the one acting must be named by a text of 1 to 100 characters"),
]


def test_bad_input_is_refused_and_nothing_is_written(tasks_app):
    # one app for every case: a server backend's set-up is the slow part
    crm = tasks_app()
    api = crm.plugin("tasks")
    for kwargs, message in BAD_TASKS:
        with pytest.raises(ValidationError, match=message):
            api.add("Something", **kwargs)
    assert api.list(status=None) == []
    assert crm.mail.list(limit=10) == []


def test_an_empty_title_and_an_unknown_contact_are_refused(tasks_app):
    crm = tasks_app(contacts={1: {}})
    api = crm.plugin("tasks")
    with pytest.raises(ValidationError, match="needs a title"):
        api.add("   ")
    with pytest.raises(NotFoundError, match="no contact with id 99"):
        api.add("Call", contact_id=99)
    with pytest.raises(NotFoundError, match="no contact with id 98"):
        api.add("Call", links=[("contact", 98)])
    with pytest.raises(NotFoundError, match="no task #5"):
        api.get(5)


@pytest.mark.sqlite_only  # time arithmetic only
def test_due_parsing_uses_the_app_time_zone(tasks_app, crm_clock):
    crm = tasks_app(timezone="Europe/Madrid", default_due_time="18:30")
    api = crm.plugin("tasks")
    # 2026-01-05 09:00 UTC is 10:00 in Madrid (CET, UTC+1)
    assert api.parse_due("2026-01-07 10:00") == dt.datetime(2026, 1, 7, 9, 0, tzinfo=UTC)
    assert api.parse_due("2026-07-07 10:00") == dt.datetime(2026, 7, 7, 8, 0, tzinfo=UTC)  # CEST, UTC+2
    assert api.parse_due("2026-01-07") == dt.datetime(2026, 1, 7, 17, 30, tzinfo=UTC)
    assert api.parse_due("tomorrow") == dt.datetime(2026, 1, 6, 17, 30, tzinfo=UTC)
    assert api.parse_due("+2d") == dt.datetime(2026, 1, 7, 9, 0, tzinfo=UTC)
    assert api.parse_due("2026-01-07T10:00+00:00") == dt.datetime(2026, 1, 7, 10, 0, tzinfo=UTC)
    assert api.parse_due("2026-01-07", day_time="00:00") == dt.datetime(2026, 1, 6, 23, 0, tzinfo=UTC)


def test_todo_splits_overdue_today_and_this_week_in_the_app_time_zone(tasks_app, crm_clock):
    # Wednesday 2026-01-07 23:30 UTC is already Thursday 00:30 in Madrid
    crm_clock.set(dt.datetime(2026, 1, 7, 23, 30, tzinfo=UTC))
    crm = tasks_app(timezone="Europe/Madrid")
    api = crm.plugin("tasks")
    overdue = api.add("late", assignee="ana", due="2026-01-08 00:15")
    today = api.add("today", assignee="ana", due="2026-01-08 20:00")
    week = api.add("sunday", assignee="ana", due="2026-01-11 22:00")
    api.add("next week", assignee="ana", due="2026-01-12 09:00")
    api.add("no date", assignee="ana")
    api.add("someone else", assignee="luis", due="2026-01-08 20:00")
    done = api.add("done already", assignee="ana", due="2026-01-08 20:00")
    api.done(done.id)
    lists = api.todo("ana")
    assert {k: [t.id for t in v] for k, v in lists.items()} == {
        "overdue": [overdue.id],
        "today": [today.id],
        "this_week": [week.id],
    }
    with pytest.raises(ValidationError, match="unknown staff member 'zoe'"):
        api.todo("zoe")


def test_list_filters(tasks_app):
    crm = tasks_app(contacts={3: {}, 4: {}})
    api = crm.plugin("tasks")
    a = api.add("a", assignee="ana", team="sales", contact_id=3, due="2026-01-09")
    b = api.add("b", kind="call", team="support", links=[("contact", 3)], due="2026-01-06")
    c = api.add("c", assignee="luis", contact_id=4)
    api.cancel(c.id)
    assert [t.id for t in api.list()] == [b.id, a.id]
    assert [t.id for t in api.list(assignee="ana")] == [a.id]
    assert [t.id for t in api.list(unassigned=True)] == [b.id]
    assert [t.id for t in api.list(team="support")] == [b.id]
    assert [t.id for t in api.list(kind="call")] == [b.id]
    assert [t.id for t in api.list(contact_id=3)] == [b.id, a.id]
    assert [t.id for t in api.list(status="cancelled")] == [c.id]
    assert len(api.list(status=None)) == 3
    with pytest.raises(ValidationError, match="unknown status"):
        api.list(status="closed")


def test_done_records_who_and_when_and_emits_task_completed(tasks_app, crm_clock, crm_recorder):
    crm = tasks_app(extra_plugins=[("rec", crm_recorder)])
    api = crm.plugin("tasks")
    task = api.add("Send offer", kind="e-mail", assignee="ana")
    crm_clock.advance(hours=2)
    done = api.done(task.id, actor="ana")
    assert (done.status, done.closed_by, done.closed_at) == ("done", "ana", crm_clock.now())
    completed = [e for e in crm_recorder.events if e.type_name == "TaskCompleted"]
    assert [(e.task_id, e.kind, e.assignee, e.actor) for e in completed] == [(task.id, "e-mail", "ana", "ana")]
    with pytest.raises(ValidationError, match=r"task #\d+ is done .* by ana\); cannot complete a closed task"):
        api.done(task.id)
    with pytest.raises(ValidationError, match="cannot cancel a closed task"):
        api.cancel(task.id)


def test_cancel_keeps_the_reason(tasks_app):
    api = tasks_app().plugin("tasks")
    task = api.add("Visit", kind="meeting", description="At their office")
    cancelled = api.cancel(task.id, actor="luis", reason="customer moved it to March")
    assert cancelled.status == "cancelled" and cancelled.closed_by == "luis"
    assert cancelled.description == "At their office\n\nCancelled: customer moved it to March"


def test_checklist_items_are_ticked_one_by_one(tasks_app, crm_clock):
    api = tasks_app().plugin("tasks")
    task = api.add("Onboard", checklist=["Create account", "Send welcome pack", "Book training"])
    task = api.check(task.id, 2, actor="marta")
    assert [c.done for c in task.checklist] == [False, True, False]
    assert task.checklist[1].done_by == "marta" and task.checklist[1].done_at == crm_clock.now()
    task = api.check(task.id, "Create account")
    assert [c.done for c in task.checklist] == [True, True, False]
    with pytest.raises(ValidationError, match="already ticked by marta"):
        api.check(task.id, 2)
    task = api.check(task.id, 2, undo=True)
    assert [c.done for c in task.checklist] == [True, False, False]
    with pytest.raises(ValidationError, match="has no checklist item 4; its checklist items are numbered 1 to 3"):
        api.check(task.id, 4)
    with pytest.raises(ValidationError, match="has no checklist item 'Dance'"):
        api.check(task.id, "Dance")


def test_ticking_an_item_of_a_closed_task_is_refused(tasks_app):
    api = tasks_app().plugin("tasks")
    task = api.add("Onboard", checklist=["Create account"])
    api.done(task.id, actor="ana")
    with pytest.raises(ValidationError, match=r"task #\d+ is done .* cannot tick an item of a closed task"):
        api.check(task.id, 1)
    assert api.get(task.id).checklist[0].done is False
    plain = api.add("No list")
    with pytest.raises(ValidationError, match="has no checklist items"):
        api.check(plain.id, 1)


def test_call_answers_are_recorded(tasks_app):
    api = tasks_app().plugin("tasks")
    task = api.add("Call", kind="call", questions=["Happy?", "Recommend us?"])
    task = api.answer(task.id, 1, "Mostly, delivery was late", actor="luis")
    task = api.answer(task.id, "Recommend us?", "Yes")
    assert [(q.answer, q.answered_by) for q in task.questions] == [("Mostly, delivery was late", "luis"), ("Yes", None)]
    with pytest.raises(ValidationError, match="the answer is empty"):
        api.answer(task.id, 1, "  ")
    api.done(task.id)
    with pytest.raises(ValidationError, match="cannot record an answer on a closed task"):
        api.answer(task.id, 1, "too late")


def test_assign_checks_the_staff_list(tasks_app):
    api = tasks_app().plugin("tasks")
    task = api.add("Follow up", kind="follow-up")
    with pytest.raises(
        ValidationError,
        match=r"unknown assignee 'bob': no CRM user has that name \(users: ana, luis, marta, old\); "
        "add one with: crm users add bob",
    ):
        api.assign(task.id, "bob")
    with pytest.raises(ValidationError, match="name an assignee or a team"):
        api.assign(task.id)
    task = api.assign(task.id, "luis", team="support", actor="ana")
    assert (task.assignee, task.team) == ("luis", "support")
    with pytest.raises(NotFoundError):
        api.assign(999, "luis")


@pytest.mark.sqlite_only  # configuration only
def test_staff_and_teams(tasks_app):
    api = tasks_app().plugin("tasks")
    assert [m.name for m in api.staff()] == ["ana", "luis", "marta", "old"]
    assert api.teams() == {"sales": ["ana", "luis"], "support": ["luis", "marta"]}


def test_tasks_work_with_the_real_contacts_plugin(tasks_app):
    crm = tasks_app(contacts="real")
    api = crm.plugin("tasks")
    with pytest.raises(NotFoundError, match="no contact with id 12345"):
        api.add("Call", contact_id=12345)
    assert api.add("Call", kind="call").kind == "call"


def test_list_takes_status_all_as_the_cli_does(tasks_app):
    api = tasks_app().plugin("tasks")
    first, second, third = api.add("one"), api.add("two"), api.add("three")
    api.done(second.id)
    api.cancel(third.id)
    assert [t.id for t in api.list()] == [first.id]
    assert sorted(t.id for t in api.list(status="all")) == [first.id, second.id, third.id]
    assert api.list(status="all") == api.list(status=None)
    with pytest.raises(ValidationError, match="unknown status 'every'; use one of open, done, cancelled, or all"):
        api.list(status="every")


def test_ids_and_limits_past_what_the_database_holds(tasks_app):
    api = tasks_app().plugin("tasks")
    with pytest.raises(NotFoundError, match=f"no task #{10**23}"):
        api.get(10**23)
    with pytest.raises(ValidationError, match=f"contact {10**23} is not an id"):
        api.list(contact_id=10**23)
    with pytest.raises(ValidationError, match="limit 1000000000 must be a whole number from 1 to 100000"):
        api.list(limit=10**9)


def test_the_one_acting_is_recorded_as_given_by_tasks_and_contacts_alike(tasks_app, crm_recorder):
    # "zoe" is not on the staff list: contacts always took her, and now tasks does too
    crm = tasks_app(contacts="real", extra_plugins=[("recorder", crm_recorder)])
    contact = crm.plugin("contacts").create(first_name="Eva", actor="zoe")
    crm.plugin("contacts").update(contact.id, status="customer", actor="zoe")
    api = crm.plugin("tasks")
    task = api.add("Call Eva", kind="call", contact_id=contact.id, questions=["Happy?"], actor="zoe")
    api.answer(task.id, 1, "yes", actor="zoe")
    api.done(task.id, actor="zoe")
    done = api.get(task.id)
    assert (done.created_by, done.closed_by, done.questions[0].answered_by) == ("zoe", "zoe", "zoe")
    actors = {(e.type_name, e.actor) for e in crm_recorder.events}
    assert {
        ("ContactCreated", "zoe"),
        ("ContactChanged", "zoe"),
        ("TaskCreated", "zoe"),
        ("TaskCompleted", "zoe"),
    } <= actors
