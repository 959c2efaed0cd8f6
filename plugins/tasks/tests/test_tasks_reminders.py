"""Reminders through the mail queue, each sent once; the worker's jobs; two workers at once."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap

from crm_hookspecs.events import RequestReceived

UTC = dt.UTC


def test_the_assignee_is_emailed_when_a_task_is_given_to_him(tasks_app, sent):
    crm = tasks_app()
    api = crm.plugin("tasks")
    task = api.add("Call Eva", kind="call", assignee="ana", due="2026-01-06 10:00")
    api.add("Nobody's", kind="to-do")
    assert sent(crm) == [("ana@example.com", f"Task #{task.id} for you: Call Eva")]
    api.assign(task.id, "ana")  # already hers: no new e-mail
    api.assign(task.id, "luis")
    assert sent(crm)[-1] == ("luis@example.com", f"Task #{task.id} for you: Call Eva")
    assert len(sent(crm)) == 2
    text = crm.mail.get(min(m.id for m in crm.mail.list(limit=10))).text
    assert "Due: 2026-01-06 10:00 UTC" in text and f"crm tasks show {task.id}" in text
    assert [r.kind for r in api.get(task.id).reminders] == ["assigned", "assigned"]


def test_assignment_e_mails_can_be_turned_off(tasks_app, sent):
    crm = tasks_app(reminders={"on_assign": False})
    crm.plugin("tasks").add("Call Eva", assignee="ana")
    assert sent(crm) == []


def test_due_soon_and_overdue_reminders_are_sent_once(tasks_app, crm_clock, sent):
    crm = tasks_app(reminders={"on_assign": False, "before_due_hours": 24, "overdue": True})
    api = crm.plugin("tasks")
    task = api.add("Send offer", assignee="luis", due="+30h")
    closed = api.add("Closed", assignee="luis", due="+2h")
    api.done(closed.id)
    assert api.send_reminders() == {"due": 0, "overdue": 0}
    crm_clock.advance(hours=7)
    assert api.send_reminders() == {"due": 1, "overdue": 0}
    assert api.send_reminders() == {"due": 0, "overdue": 0}
    assert sent(crm) == [("luis@example.com", f"Reminder: task #{task.id} is due 2026-01-06 15:00 UTC: Send offer")]
    crm_clock.advance(hours=24)
    assert api.send_reminders() == {"due": 0, "overdue": 1}
    assert api.send_reminders() == {"due": 0, "overdue": 0}
    assert sent(crm)[-1] == ("luis@example.com", f"Overdue: task #{task.id} was due 2026-01-06 15:00 UTC: Send offer")
    # a new due time re-arms both
    api.reschedule(task.id, "+10h")
    crm_clock.advance(hours=1)
    assert api.send_reminders() == {"due": 1, "overdue": 0}
    crm_clock.advance(hours=10)
    assert api.send_reminders() == {"due": 0, "overdue": 1}
    api.done(task.id)
    crm_clock.advance(days=5)
    assert api.send_reminders() == {"due": 0, "overdue": 0}
    assert [r.kind for r in api.get(task.id).reminders] == ["due", "overdue", "due", "overdue"]


def test_reminders_can_be_turned_off(tasks_app, crm_clock, sent):
    crm = tasks_app(reminders={"on_assign": False, "before_due_hours": 0, "overdue": False})
    api = crm.plugin("tasks")
    api.add("Send offer", assignee="luis", due="+1h")
    crm_clock.advance(hours=2)
    assert api.send_reminders() == {"due": 0, "overdue": 0}
    assert sent(crm) == []


def test_worker_jobs_are_contributed_by_crm_worker_jobs(tasks_app):
    crm = tasks_app()
    jobs = {name: spec for owner, spec in crm.hooks.worker_jobs(crm) if owner == "tasks" for name in [spec.name]}
    assert set(jobs) == {"tasks.reminders", "tasks.pending", "tasks.recurring", "tasks.inactivity"}
    assert jobs["tasks.inactivity"].rrule.startswith("FREQ=DAILY")
    assert jobs["tasks.reminders"].interval == dt.timedelta(minutes=5)
    # each job runs as run(crm, scheduled_at)
    assert jobs["tasks.reminders"].run(crm, crm.clock.now()) == {"due": 0, "overdue": 0}
    assert jobs["tasks.recurring"].run(crm, crm.clock.now()) == 0


# -- two workers, two processes ---------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import datetime as dt, json, sys
    from crm_core import CRM
    from crm_core.clock import FakeClock
    from crm_core.config import Config, CoreSettings, structure_section

    url, settings, when = sys.argv[1], json.loads(sys.argv[2]), dt.datetime.fromisoformat(sys.argv[3])
    from conftest_plugin import contacts_pair
    core = structure_section({"database": url, "mail": {"transport": "memory"}}, CoreSettings, "worker", "crm")
    config = Config(core=core, enabled=(), plugin_tables={"tasks": settings}, enabled_source="worker")
    crm = CRM(config=config, plugins=[contacts_pair(), "tasks"], clock=FakeClock(when), strict=True)
    api = crm.plugin("tasks")
    done = {"reminders": 0, "recurring": 0, "pending": 0}
    for _ in range(4):
        r = api.send_reminders()
        done["reminders"] += r["due"] + r["overdue"]
        done["recurring"] += api.run_recurring()
        done["pending"] += api.run_pending()
    print(json.dumps(done))
    crm.close()
    """
)

PLUGIN = textwrap.dedent(
    """
    from crm_hookspecs import hookimpl

    class _Contacts:
        def cards(self, ids):
            return []

    class _Plugin:
        @hookimpl
        def crm_plugin_api(self, crm):
            return _Contacts()

    def contacts_pair():
        return ("contacts", _Plugin())
    """
)


def test_two_workers_never_create_a_task_or_send_a_reminder_twice(
    tasks_app, tasks_staff, crm_clock, crm_db_url, tmp_path
):
    rules = [
        {
            "name": "still-open",
            "trigger": "event",
            "event": "RequestReceived",
            "action": "notify",
            "delay": "1d",
            "notify": {"to": ["team:sales"], "subject": "Request {record_id} waits", "text": "."},
        }
    ]
    settings = {"staff": tasks_staff, "rules": rules, "reminders": {"on_assign": False, "before_due_hours": 24}}
    crm = tasks_app(rules=rules, reminders=settings["reminders"])
    api = crm.plugin("tasks")
    for i in range(20):
        api.add(f"due soon {i}", assignee="ana", due=f"+{30 + i}h")
        api.add(f"overdue {i}", assignee="luis", due=f"+{i + 1}h")
    for i in range(3):
        api.add_recurring(f"daily-{i}", f"Daily {i}", "FREQ=DAILY;BYHOUR=9", start="2026-01-06 09:00")
    with crm.transaction():
        for i in range(10):
            crm.emit(RequestReceived(record_id=i, contact_id=None, kind="rfp"))
    (tmp_path / "worker.py").write_text(WORKER, encoding="utf-8")
    (tmp_path / "conftest_plugin.py").write_text(PLUGIN, encoding="utf-8")
    later = (crm_clock.now() + dt.timedelta(days=2, hours=1)).isoformat()
    args = [sys.executable, str(tmp_path / "worker.py"), crm_db_url, json.dumps(settings), later]
    procs = [
        subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    # 20 due-soon and 20 overdue reminders, 3 templates x 2 days, 10 requests: once each, between both
    assert sum(r["reminders"] for r in results) == 40
    assert sum(r["recurring"] for r in results) == 6
    assert sum(r["pending"] for r in results) == 10
    with crm.activate():
        messages = crm.mail.list(limit=1000)
        keys = [m.key for m in messages]
        assert len(keys) == len(set(keys)) == 40 + 10 * 2  # each request e-mails ana and luis
        recurring = [t for t in api.list(status=None) if t.origin == "recurring"]
        assert len(recurring) == 6
        assert len({(t.title, t.due_at) for t in recurring}) == 6


def test_the_kernel_worker_runs_the_tasks_jobs(tasks_app, crm_clock, sent):
    import pytest

    runner = pytest.importorskip("crm_core.worker.runner")
    crm = tasks_app(reminders={"on_assign": False, "before_due_hours": 24})
    api = crm.plugin("tasks")
    task = api.add("Send offer", assignee="luis", due="+3h")
    api.add_recurring("daily", "Check the inbox", "FREQ=DAILY;BYHOUR=10", start="2026-01-05 10:00")
    worker = runner.Worker(crm)
    names = {o.job for o in worker.run_pending()}
    assert {"tasks.reminders", "tasks.pending", "tasks.recurring"} <= names
    assert sent(crm) == [("luis@example.com", f"Reminder: task #{task.id} is due 2026-01-05 12:00 UTC: Send offer")]
    crm_clock.advance(hours=1, minutes=5)
    worker.run_pending()
    assert [t.title for t in api.list(status=None) if t.origin == "recurring"] == ["Check the inbox"]
    crm_clock.advance(days=1)
    worker.run_pending()
    assert len(sent(crm)) == 2  # and the overdue notice, once
    assert len([t for t in api.list(status=None) if t.origin == "recurring"]) == 2
