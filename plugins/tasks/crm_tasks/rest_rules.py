"""More of the tasks plugin over HTTP: the to-do, the rules and their firing log, recurring templates.

What ``crm tasks todo|rules|recurring`` do, so that an integration does from ``curl`` what the CLI does.
Every handler calls ``crm.plugin("tasks")``, which checks the permissions and keeps to the tasks the caller
may read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from crm_core.errors import NotFoundError, ValidationError
from crm_hookspecs.records import ApiOperation, ApiPage, ApiParam, ApiRequest, ApiResource
from crm_tasks.records import FiringInfo, TaskInfo
from crm_tasks.settings import PRIORITIES

__all__ = ["resources"]

_PRIORITY = tuple(PRIORITIES)  # low, normal, high, urgent


@attrs.frozen
class TaskRule:
    """A rule that creates tasks or sends notices: what fires it and what it does, in words and as configured."""

    name: str
    #: where it is defined: the configuration, or the plugin that contributes it
    source: str
    #: ``event``, ``change`` (a contact field changes) or ``inactivity``
    trigger: str
    #: ``task`` or ``notify``
    action: str
    enabled: bool
    #: the trigger in words ("SaleCreated where kind 'rfp'")
    when: str
    #: the action in words
    does: str


@attrs.frozen
class RecurringTemplate:
    """A recurring task template: an RFC 5545 rule in a time zone, and when it next creates a task."""

    id: int
    name: str
    title: str
    kind: str
    assignee: str | None
    team: str | None
    rrule: str
    timezone: str
    start: dt.datetime
    #: how long before each occurrence its task is created
    lead_minutes: int
    active: bool
    next_occurrence: dt.datetime | None
    priority: str = "normal"
    description: str = ""
    checklist: list[str] = attrs.field(factory=list)


@attrs.frozen
class RecurringInput:
    """A new recurring template. ``lead`` is how long before each occurrence the task is made (``2d``, ``90m``)."""

    name: str = attrs.field(metadata={"schema": {"minLength": 1, "maxLength": 100, "pattern": r"\S"}})
    title: str = attrs.field(metadata={"schema": {"minLength": 1, "maxLength": 200, "pattern": r"\S"}})
    rrule: str = attrs.field(metadata={"schema": {"minLength": 1, "maxLength": 500}})
    kind: str = "to-do"
    assignee: str | None = None
    team: str | None = None
    priority: str = attrs.field(default="normal", metadata={"schema": {"enum": list(_PRIORITY)}})
    description: str = ""
    checklist: list[str] = attrs.field(factory=list)
    lead: str = "0m"
    start: str | None = None
    timezone: str | None = None


@attrs.frozen
class RecurringChange:
    """What to change on a recurring template: only the fields sent. ``assignee`` or ``team`` null clears it;
    ``active`` false pauses the template, true resumes it from now; a new ``rrule`` makes no occurrence already past;
    ``checklist`` replaces the list."""

    title: str | None = attrs.field(
        default=None, metadata={"schema": {"minLength": 1, "maxLength": 300, "pattern": r"\S"}}
    )
    rrule: str | None = attrs.field(default=None, metadata={"schema": {"minLength": 1, "maxLength": 500}})
    kind: str | None = None
    assignee: str | None = None
    team: str | None = None
    priority: str | None = attrs.field(default=None, metadata={"schema": {"enum": [*_PRIORITY, None]}})
    description: str | None = None
    checklist: list[str] | None = None
    lead: str | None = None
    active: bool | None = None


def _tasks(crm: Any) -> Any:
    return crm.plugin("tasks")


@attrs.frozen
class Todo:
    """Open tasks of one assignee: overdue, due today, due later this week (the app's time zone)."""

    overdue: list[TaskInfo]
    today: list[TaskInfo]
    this_week: list[TaskInfo]


def _todo(crm: Any, request: ApiRequest) -> Todo:
    groups = _tasks(crm).todo(request.query.get("assignee"))
    return Todo(
        overdue=list(groups.get("overdue", [])),
        today=list(groups.get("today", [])),
        this_week=list(groups.get("this_week", [])),
    )


def _rule(rule: Any) -> TaskRule:
    return TaskRule(
        name=rule.name,
        source=rule.source,
        trigger=rule.trigger,
        action=rule.action,
        enabled=bool(rule.settings.enabled),
        when=rule.describe_trigger(),
        does=rule.describe_action(),
    )


def _rules(crm: Any, request: ApiRequest) -> ApiPage:
    found = [_rule(r) for r in _tasks(crm).rules().rules]
    return ApiPage(items=found, next=None, total=len(found))


def _firings(crm: Any, request: ApiRequest) -> ApiPage:
    name = request.path["name"]
    if name not in _tasks(crm).rules().by_name:
        raise NotFoundError(f"no task rule {name!r}; GET /task-rules lists them")
    found = _tasks(crm).firings(rule=name, limit=request.limit)
    return ApiPage(items=list(found), next=None)


def _template(info: Any) -> RecurringTemplate:
    return RecurringTemplate(
        id=info.id,
        name=info.name,
        title=info.title,
        kind=info.kind,
        assignee=info.assignee,
        team=info.team,
        rrule=info.rrule,
        timezone=info.timezone,
        start=info.dtstart,
        lead_minutes=int(info.lead.total_seconds() // 60),
        active=bool(info.active),
        next_occurrence=info.next_occurrence,
        priority=info.priority,
        description=info.description,
        checklist=list(info.checklist),
    )


def _recurring(crm: Any, request: ApiRequest) -> ApiPage:
    found = [_template(t) for t in _tasks(crm).recurring()]
    return ApiPage(items=found, next=None, total=len(found))


def _add_recurring(crm: Any, request: ApiRequest) -> RecurringTemplate:
    body = dict(request.body)
    checklist = body.get("checklist") or []
    if not isinstance(checklist, list) or not all(isinstance(item, str) for item in checklist):
        raise ValidationError("checklist must be a list of texts")
    options = {
        key: body[key]
        for key in ("kind", "assignee", "team", "priority", "description", "lead", "start", "timezone")
        if body.get(key) is not None
    }
    made = _tasks(crm).add_recurring(body["name"], body["title"], body["rrule"], checklist=checklist, **options)
    return _template(made)


def _template_named(crm: Any, request: ApiRequest) -> RecurringTemplate:
    for info in _tasks(crm).recurring():
        if info.name == request.path["name"]:
            return _template(info)
    raise NotFoundError(f"no recurring template {request.path['name']!r}; GET /recurring-tasks lists them")


def _edit_recurring(crm: Any, request: ApiRequest) -> RecurringTemplate:
    body = dict(request.body)
    changes = {key: body[key] for key in ("assignee", "team") if key in body}
    for key in ("title", "rrule", "kind", "priority", "description", "checklist", "lead", "active"):
        if body.get(key) is not None:
            changes[key] = body[key]
    if "checklist" in changes and not (
        isinstance(changes["checklist"], list) and all(isinstance(item, str) for item in changes["checklist"])
    ):
        raise ValidationError("checklist must be a list of texts")
    if not changes:
        raise ValidationError("nothing to change: send at least one field of the template")
    return _template(_tasks(crm).edit_recurring(request.path["name"], **changes))


def _remove_recurring(crm: Any, request: ApiRequest) -> None:
    _tasks(crm).remove_recurring(request.path["name"])


def resources(crm: Any) -> list[ApiResource]:
    return [
        ApiResource(
            "task-rules",
            "A user's to-do, the rules that create tasks and their firing log, and recurring task templates.",
            [
                ApiOperation(
                    "GET",
                    "/tasks/todo",
                    _todo,
                    "tasks.todo",
                    summary="An assignee's open tasks: overdue, due today, due later this week",
                    description="Without `assignee`, the caller's. Only the tasks the caller may read.",
                    returns=Todo,
                    filters=[ApiParam("assignee", "A user name (default: the caller).")],
                    permission="tasks.read",
                ),
                ApiOperation(
                    "GET",
                    "/task-rules",
                    _rules,
                    "tasks.rules",
                    summary="The rules, from the configuration and from plugins",
                    returns=TaskRule,
                    paginated=True,
                    permission="tasks.rules.read",
                ),
                ApiOperation(
                    "GET",
                    "/task-rules/{name}/firings",
                    _firings,
                    "tasks.rules.firings",
                    summary="When a rule fired and what came of it, newest first",
                    returns=FiringInfo,
                    paginated=True,
                    permission="tasks.rules.read",
                ),
                ApiOperation(
                    "GET",
                    "/recurring-tasks",
                    _recurring,
                    "tasks.recurring",
                    summary="The recurring task templates and their next occurrence",
                    returns=RecurringTemplate,
                    paginated=True,
                    permission="tasks.rules.read",
                ),
                ApiOperation(
                    "POST",
                    "/recurring-tasks",
                    _add_recurring,
                    "tasks.add_recurring",
                    summary="Add a recurring task template",
                    returns=RecurringTemplate,
                    body=RecurringInput,
                    status=201,
                    permission="tasks.rules.manage",
                ),
                ApiOperation(
                    "GET",
                    "/recurring-tasks/{name}",
                    _template_named,
                    "tasks.recurring_template",
                    summary="One recurring template",
                    returns=RecurringTemplate,
                    permission="tasks.rules.read",
                ),
                ApiOperation(
                    "PATCH",
                    "/recurring-tasks/{name}",
                    _edit_recurring,
                    "tasks.edit_recurring",
                    summary="Change, pause or resume a recurring template (the tasks it made stay)",
                    returns=RecurringTemplate,
                    body=RecurringChange,
                    etag_from="tasks.recurring_template",
                    permission="tasks.rules.manage",
                ),
                ApiOperation(
                    "DELETE",
                    "/recurring-tasks/{name}",
                    _remove_recurring,
                    "tasks.remove_recurring",
                    summary="Remove a recurring template (the tasks it made stay)",
                    permission="tasks.rules.manage",
                ),
            ],
        )
    ]
