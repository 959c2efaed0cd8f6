"""The tasks plugin's contact references: merges, unmerges, GDPR export and erasure."""

from __future__ import annotations

import json


def test_crm_contacts_merged_and_crm_contacts_unmerged_move_the_references(tasks_app):
    crm = tasks_app(contacts={1: {}, 2: {}, 3: {}})
    api = crm.plugin("tasks")
    a = api.add("about 2", contact_id=2)
    b = api.add("linked to 2", contact_id=3, links=[("contact", 2)])
    c = api.add("about 1", contact_id=1)
    with crm.transaction():
        moved = crm.hooks.contacts_merged(crm, survivor_id=1, merged_id=2)
    assert set(moved["tasks"]) == {"tasks_task", "tasks_link"}
    assert sorted(t.id for t in api.list(contact_id=1)) == [a.id, b.id, c.id]
    assert api.list(contact_id=2) == []
    with crm.transaction():
        crm.hooks.contacts_unmerged(crm, survivor_id=1, merged_id=2, moved=moved)
    assert sorted(t.id for t in api.list(contact_id=2)) == [a.id, b.id]
    assert [t.id for t in api.list(contact_id=1)] == [c.id]
    assert api.get(b.id).contact_id == 3


def test_crm_export_personal_data_gives_every_task_about_the_contact(tasks_app):
    crm = tasks_app(contacts={7: {}})
    api = crm.plugin("tasks")
    task = api.add("Call Eva", kind="call", contact_id=7, questions=["Happy?"])
    api.answer(task.id, 1, "No, the parcel was late")
    api.add("Someone else")
    data = crm.hooks.export_personal_data(crm, 7)["tasks"]
    json.dumps(data)  # JSON-ready
    assert [t["title"] for t in data["tasks"]] == ["Call Eva"]
    assert data["tasks"][0]["questions"][0]["answer"] == "No, the parcel was late"
    assert "tasks" not in crm.hooks.export_personal_data(crm, 8)


def test_crm_erase_personal_data_anonymises_titles_and_answers(tasks_app):
    crm = tasks_app(contacts={7: {}})
    api = crm.plugin("tasks")
    task = api.add(
        "Call Eva Gil",
        kind="call",
        contact_id=7,
        questions=["Happy?"],
        description="Eva's mobile 600 000 000",
        assignee="ana",
    )
    api.answer(task.id, 1, "No")
    other = api.add("Call Bob")
    with crm.transaction():
        counts = crm.hooks.erase_personal_data(crm, 7)
    assert counts["tasks"] >= 2
    erased = api.get(task.id)
    assert erased.title == "(task about an erased contact)" and erased.description == ""
    assert erased.questions[0].answer is None and erased.questions[0].text == "Happy?"
    assert [r.subject for r in erased.reminders] == ["(task about an erased contact)"]
    assert api.get(other.id).title == "Call Bob"


def test_crm_erase_personal_data_empties_carried_out_actions_and_rule_notices_about_him(tasks_app, crm_clock):
    from crm_hookspecs.events import ContactChanged
    from crm_hookspecs.records import FieldChange
    from crm_tasks.models import Pending, Reminder

    notify = {"to": ["ana"], "subject": "{contact.display_name} changed", "text": "Now {changes}"}
    rules = [
        {"name": "now", "trigger": "event", "event": "ContactChanged", "action": "notify", "notify": notify},
        {
            "name": "later",
            "trigger": "event",
            "event": "ContactChanged",
            "action": "notify",
            "delay": "1d",
            "notify": notify,
        },
    ]
    crm = tasks_app(rules=rules, contacts={7: {"display_name": "Eva Gil"}, 8: {"display_name": "Bob Ray"}})
    with crm.transaction():
        crm.emit(ContactChanged(contact_id=7, changes={"email": FieldChange("eva@old.example", "eva@new.example")}))
        crm.emit(ContactChanged(contact_id=8, changes={"email": FieldChange("bob@old.example", "bob@new.example")}))
    crm_clock.advance(days=1, minutes=1)
    crm.plugin("tasks").run_pending()
    with crm.activate():
        assert sorted(r.subject for r in Reminder.select()) == ["Bob Ray changed"] * 2 + ["Eva Gil changed"] * 2
    with crm.transaction():
        crm.hooks.erase_personal_data(crm, 7)
    with crm.activate():
        subjects = sorted(r.subject for r in Reminder.select())
        payloads = {p.contact_id: p.payload for p in Pending.select()}
    assert subjects == ["(notice about an erased contact)"] * 2 + ["Bob Ray changed"] * 2
    assert payloads[7] == "{}" and "bob@new.example" in payloads[8]


def test_the_old_module_name_still_works():
    """``crm_tasks.privacy`` is a deprecated re-export of ``crm_tasks.personal`` until contract 2.0."""
    from crm_tasks import personal, privacy

    assert "Deprecated" in (privacy.__doc__ or "")
    for name in ("export", "erase", "merged", "unmerged"):
        assert getattr(privacy, name) is getattr(personal, name)
