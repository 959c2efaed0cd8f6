"""The tasks about other plugins' records (``TasksAPI.linked_tasks``, contract 1.4), and the follow-up of an answer.

A rule on ``SurveyAnswered`` links the task it makes to the response, so
the surveys plugin's answers page can show a negative answer's follow-up;
the migration 0003 links the tasks made before that.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from crm_core.errors import PermissionDenied, ValidationError
from crm_hookspecs.apis import TasksAPI
from crm_hookspecs.events import RequestReceived, SurveyAnswered
from crm_hookspecs.records import TaskSummary

MIGRATION = Path(__file__).parents[1] / "crm_tasks" / "migrations" / "0003_survey_response_links.py"
UNHAPPY = {
    "name": "unhappy-customer",
    "trigger": "event",
    "event": "SurveyAnswered",
    "when": {"negative": True},
    "action": "task",
    "task": {"kind": "call", "title": "Call {contact.display_name} about answer {response_id}",
             "assignee": "{contact.owner}"},
}  # fmt: skip
PROPOSAL = {
    "name": "proposal",
    "trigger": "event",
    "event": "RequestReceived",
    "action": "task",
    "task": {"title": "Proposal for request {record_id}", "assignee": "{owner}"},
}
CONTACTS = {7: {"display_name": "Eva Gil", "owner": "marta"}, 8: {"display_name": "Leo Sanz", "owner": "ana"}}


def answered(contact_id: int, response_id: int, negative: bool = True) -> SurveyAnswered:
    return SurveyAnswered(survey_id=3, version=1, contact_id=contact_id, response_id=response_id, negative=negative)


def emit(crm: Any, *events: Any) -> None:
    with crm.transaction():
        for event in events:
            crm.emit(event)


def test_a_follow_up_is_linked_to_the_answer_that_made_it_and_found_by_it(tasks_app):
    crm = tasks_app(rules=[UNHAPPY, PROPOSAL], contacts=CONTACTS)
    tasks = crm.plugin("tasks", TasksAPI)
    emit(crm, answered(7, 101), answered(8, 102), answered(8, 103, negative=False))
    emit(crm, RequestReceived(record_id=31, contact_id=7, kind="rfp", owner="ana"))
    found = tasks.linked_tasks("survey_response", [101, 102, 103, 999])
    assert sorted(found) == [101, 102]  # a positive answer made no task; an unknown id has none
    [eva] = found[101]
    assert isinstance(eva, TaskSummary)
    assert (eva.title, eva.kind, eva.status, eva.assignee, eva.rule) == (
        "Call Eva Gil about answer 101",
        "call",
        "open",
        "marta",
        "unhappy-customer",
    )
    assert crm.plugin("tasks").get(eva.id).links == (("survey_response", 101),)
    assert [t.title for t in tasks.linked_tasks("request", [31])[31]] == ["Proposal for request 31"]
    # a contact's tasks: the follow-up (its main contact) and the proposal, newest first
    assert [t.title for t in tasks.linked_tasks("contact", [7])[7]] == [
        "Proposal for request 31",
        "Call Eva Gil about answer 101",
    ]
    assert tasks.linked_tasks("survey_response", []) == {}


def test_only_the_tasks_in_the_users_scope_are_told(tasks_app):
    crm = tasks_app(rules=[UNHAPPY], contacts=CONTACTS)
    emit(crm, answered(7, 101), answered(8, 102))
    tasks = crm.plugin("tasks")
    with crm.as_user("ana"):  # a seller reads the tasks given to her: Leo's follow-up, not Eva's (marta's)
        assert list(tasks.linked_tasks("survey_response", [101, 102])) == [102]
    crm.authz.roles.add("clerk", permissions=["contacts.read"])
    crm.authz.users.add("nobody", roles=["clerk"])
    with crm.as_user("nobody"), pytest.raises(PermissionDenied, match="tasks.read"):
        tasks.linked_tasks("survey_response", [101])


@pytest.mark.parametrize(
    "kind, ids, message",
    [
        ("answer", [1], "unknown link kind 'answer'; use one of contact, sale, request, survey_response"),
        ("sale", "12", "ref_ids must be a list of sale ids"),
        ("sale", [0], "sale"),
        ("sale", ["x"], "sale"),
    ],
)
def test_a_wrong_kind_or_id_is_refused_by_name(tasks_app, kind, ids, message):
    with pytest.raises(ValidationError, match=message):
        tasks_app().plugin("tasks").linked_tasks(kind, ids)


def test_a_task_can_be_linked_to_a_response_by_hand(tasks_app):
    task = tasks_app().plugin("tasks").add("Ask about the answer", links=[("survey_response", 55)])
    assert task.links == (("survey_response", 55),)


def _migration() -> Any:
    spec = importlib.util.spec_from_file_location("tasks_0003_survey_response_links", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_links_the_follow_ups_made_before_once(tasks_app):
    from crm_tasks.models import TaskLink

    crm = tasks_app(rules=[UNHAPPY], contacts=CONTACTS)
    emit(crm, answered(7, 101), answered(8, 102))
    tasks = crm.plugin("tasks")
    made = tasks.linked_tasks("survey_response", [101, 102])
    with crm.activate():  # as a release before this one left them: linked to the contact only
        TaskLink.delete().where(TaskLink.kind == "survey_response").execute()
    assert tasks.linked_tasks("survey_response", [101, 102]) == {}
    migration = _migration()
    for _ in range(2):  # again: nothing more
        with crm.activate():
            migration.up(None, crm.database)
        assert tasks.linked_tasks("survey_response", [101, 102]) == made
    with crm.activate():
        assert TaskLink.select().where(TaskLink.kind == "survey_response").count() == 2
        migration.down(None, crm.database)
    assert tasks.linked_tasks("survey_response", [101, 102]) == {}
