"""The tasks plugin's resources in the HTTP API (``crm_api_resources``): tasks, checklists, questions, rules.

Every handler calls ``crm.plugin("tasks")``, which checks the permissions
and limits listings to the tasks the caller may read, in SQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from crm_core.errors import ValidationError
from crm_hookspecs.records import ApiOperation, ApiPage, ApiParam, ApiRequest, ApiResource

__all__ = ["resources"]

_MAX_ID = 2**63 - 1
_STATUS = ("open", "done", "cancelled", "all")
_PRIORITY = ("low", "normal", "high")


@attrs.frozen
class TaskInput:
    """A new task. ``due`` is a time (RFC 3339), a date, or words the CLI understands (``+3d``, ``friday 10:00``).

    Without an assignee the task is the caller's.
    """

    title: str = attrs.field(metadata={"schema": {"minLength": 1, "maxLength": 200, "pattern": r"\S"}})
    kind: str = "to-do"
    assignee: str | None = None
    team: str | None = None
    due: str | None = None
    priority: str = attrs.field(default="normal", metadata={"schema": {"enum": list(_PRIORITY)}})
    description: str = ""
    contact_id: int | None = attrs.field(default=None, metadata={"schema": {"minimum": 1, "maximum": _MAX_ID}})
    checklist: list[str] = attrs.field(factory=list)
    questions: list[str] = attrs.field(factory=list)


@attrs.frozen
class TaskChange:
    """What to change on an open task: its assignee or team, its due time, or its status (``done``, ``open``, ``cancelled``)."""

    assignee: str | None = None
    team: str | None = None
    due: str | None = None
    status: str | None = attrs.field(default=None, metadata={"schema": {"enum": ["open", "done", "cancelled"]}})
    reason: str = ""


@attrs.frozen
class CheckInput:
    """Tick (or with ``undo`` untick) a checklist item, by position (1…) or exact text."""

    item: str = attrs.field(metadata={"schema": {"minLength": 1}})
    undo: bool = False


@attrs.frozen
class AnswerInput:
    """The answer to a call question, by position (1…) or exact text."""

    question: str = attrs.field(metadata={"schema": {"minLength": 1}})
    answer: str = attrs.field(metadata={"schema": {"minLength": 1, "pattern": r"\S"}})


def _tasks(crm: Any) -> Any:
    return crm.plugin("tasks")


def _time(name: str, text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{name} {text!r} is not a time; write it as 2026-11-01T00:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _list(crm: Any, request: ApiRequest) -> ApiPage:
    query = request.query
    filters: dict[str, Any] = {
        "assignee": query.get("assignee"),
        "team": query.get("team"),
        "status": query.get("status", "open"),
        "contact_id": int(query["contact_id"]) if "contact_id" in query else None,
        "kind": query.get("kind"),
        "due_before": _time("due_before", query.get("due_before")),
        "due_after": _time("due_after", query.get("due_after")),
        "unassigned": query.get("unassigned", "false").lower() in ("true", "1", "yes"),
        "rule": query.get("rule"),
    }
    offset = request.cursor or 0
    items = _tasks(crm).list(limit=request.limit, offset=offset, **filters)
    total = _tasks(crm).count(**filters) if request.count else None
    return ApiPage(items=items, next=offset + len(items) if len(items) == request.limit else None, total=total)


def _texts(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{name} must be a list of texts")
    return value


def _create(crm: Any, request: ApiRequest) -> Any:
    body = dict(request.body)
    if not isinstance(body.get("title"), str):
        raise ValidationError("title is required: what is to be done")
    return _tasks(crm).add(
        body["title"],
        kind=body.get("kind", "to-do"),
        assignee=body.get("assignee"),
        team=body.get("team"),
        due=body.get("due"),
        priority=body.get("priority", "normal"),
        description=body.get("description", ""),
        contact_id=body.get("contact_id"),
        checklist=_texts(body, "checklist"),
        questions=_texts(body, "questions"),
    )


def _change(crm: Any, request: ApiRequest) -> Any:
    body = dict(request.body)
    tasks, task_id = _tasks(crm), request.path["id"]
    task = tasks.get(task_id)
    if "assignee" in body or "team" in body:
        task = tasks.assign(task_id, body.get("assignee", task.assignee), team=body.get("team"))
    if "due" in body:
        task = tasks.reschedule(task_id, body["due"])
    status = body.get("status")
    if status == "done" and task.status != "done":
        task = tasks.done(task_id)
    elif status == "cancelled" and task.status != "cancelled":
        task = tasks.cancel(task_id, reason=body.get("reason", ""))
    elif status == "open" and task.status != "open":
        task = tasks.reopen(task_id)
    return task


def _check(crm: Any, request: ApiRequest) -> Any:
    body = request.body
    item = body.get("item")
    item = int(item) if isinstance(item, str) and item.isdigit() else item
    return _tasks(crm).check(request.path["id"], item, undo=bool(body.get("undo")))


def _answer(crm: Any, request: ApiRequest) -> Any:
    body = request.body
    question = body.get("question")
    question = int(question) if isinstance(question, str) and question.isdigit() else question
    if not isinstance(body.get("answer"), str):
        raise ValidationError("answer must be a text")
    return _tasks(crm).answer(request.path["id"], question, body["answer"])


def _preview(crm: Any, request: ApiRequest) -> dict[str, Any]:
    rows = _tasks(crm).preview(rule=request.query.get("rule"), since=_time("since", request.query.get("since")))
    return {"would_create": rows}


def resources(crm: Any) -> list[ApiResource]:
    from crm_tasks import rest_rules
    from crm_tasks.records import TaskInfo

    filters = [
        ApiParam("assignee", "Assigned to this user."),
        ApiParam("team", "Of this team."),
        ApiParam("status", "open (the default), done, cancelled or all.", enum=_STATUS),
        ApiParam("contact_id", "About this contact.", "integer", minimum=1, maximum=_MAX_ID),
        ApiParam("kind", "call, e-mail, follow-up, meeting, to-do…"),
        ApiParam("due_before", "Due before this time.", format="date-time"),
        ApiParam("due_after", "Due after this time.", format="date-time"),
        ApiParam("unassigned", "Only tasks nobody is assigned.", "boolean"),
        ApiParam("rule", "Made by this rule."),
    ]
    return [
        ApiResource(
            "tasks",
            "Tasks: follow-ups, to-dos, calls with their questions, checklists; and what the rules would create.",
            [
                ApiOperation(
                    "GET",
                    "/tasks",
                    _list,
                    "tasks.list",
                    summary="Tasks, soonest due first",
                    returns=TaskInfo,
                    paginated=True,
                    filters=filters,
                    permission="tasks.read",
                ),
                ApiOperation(
                    "POST",
                    "/tasks",
                    _create,
                    "tasks.create",
                    summary="Add a task",
                    returns=TaskInfo,
                    body=TaskInput,
                    status=201,
                    location="tasks.get",
                    permission="tasks.create",
                ),
                ApiOperation(
                    "GET",
                    "/tasks/{id:int}",
                    lambda crm, r: _tasks(crm).get(r.path["id"]),
                    "tasks.get",
                    summary="A task with its checklist, questions, links and reminders",
                    returns=TaskInfo,
                    permission="tasks.read",
                ),
                ApiOperation(
                    "PATCH",
                    "/tasks/{id:int}",
                    _change,
                    "tasks.update",
                    summary="Reassign, reschedule, complete, cancel or reopen a task",
                    returns=TaskInfo,
                    body=TaskChange,
                    etag_from="tasks.get",
                    permission="tasks.edit",
                ),
                ApiOperation(
                    "DELETE",
                    "/tasks/{id:int}",
                    lambda crm, r: _tasks(crm).delete(r.path["id"]),
                    "tasks.delete",
                    summary="Delete a task for good",
                    etag_from="tasks.get",
                    permission="tasks.delete",
                ),
                ApiOperation(
                    "POST",
                    "/tasks/{id:int}/checklist",
                    _check,
                    "tasks.check",
                    summary="Tick or untick a checklist item",
                    returns=TaskInfo,
                    body=CheckInput,
                    permission="tasks.edit",
                ),
                ApiOperation(
                    "POST",
                    "/tasks/{id:int}/answers",
                    _answer,
                    "tasks.answer",
                    summary="Answer a call question",
                    returns=TaskInfo,
                    body=AnswerInput,
                    permission="tasks.edit",
                ),
                ApiOperation(
                    "GET",
                    "/task-rules/preview",
                    _preview,
                    "tasks.rules.preview",
                    summary="What the rules would create now, without creating it",
                    filters=[
                        ApiParam("rule", "Only this rule."),
                        ApiParam("since", "Events since this time.", format="date-time"),
                    ],
                    permission="tasks.rules.read",
                ),
            ],
        ),
        *rest_rules.resources(crm),
    ]
