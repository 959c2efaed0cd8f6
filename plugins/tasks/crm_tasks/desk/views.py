"""The tasks pages (a Flask blueprint), the home widget and the contact-card panel.

Imported only by the desk (through :mod:`crm_tasks.desk`). Each view reads
and writes through ``flask.g.crm.plugin("tasks")`` as the signed-in user,
so the plugin's permissions and scopes decide what a user sees and may do.
A form that fails comes back with its error beside the field (``400``);
the inline (htmx) forms get the fragment they replace, with the error in it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from typing import Any

import flask
from flask import g, request
from markupsafe import Markup
from werkzeug.exceptions import BadRequest

from crm_core.errors import CRMError, NotFoundError, PermissionDenied
from crm_core.i18n import gettext as _
from crm_tasks.desk.grouping import GROUPS, group_tasks

__all__ = ["blueprint", "contact_panel", "my_day_widget", "people_in_scope"]

#: the most open tasks the to-do page lists (the rest are counted, and reached through the CLI or API)
TODO_LIMIT = 500
#: the most tasks a widget or panel lists
SHORT_LIMIT = 20
PRIORITY_TONES = {"low": "neutral", "normal": "neutral", "high": "warning", "urgent": "danger"}


def blueprint() -> flask.Blueprint:
    """The tasks pages, mounted by the desk at ``/tasks``."""
    page = flask.Blueprint("tasks", __name__)
    from crm_tasks.desk import create, rules

    page.add_url_rule("/", "todo", todo)
    page.add_url_rule("/new", "new", create.new_task, methods=["GET", "POST"])
    page.add_url_rule("/rules", "rules", rules.rule_list)
    page.add_url_rule("/rules/<name>", "rule", rules.rule_page)
    page.add_url_rule("/recurring", "recurring", rules.recurring_list, methods=["GET", "POST"])
    page.add_url_rule("/recurring/<name>", "recurring_edit", rules.recurring_edit, methods=["GET", "POST"])
    page.add_url_rule("/recurring/<name>/pause", "recurring_pause", rules.recurring_pause, methods=["POST"])
    page.add_url_rule("/recurring/<name>/remove", "recurring_remove", rules.recurring_remove, methods=["POST"])
    page.add_url_rule("/team", "team", team)
    page.add_url_rule("/<int:task_id>", "task", task_page)
    page.add_url_rule("/<int:task_id>/done", "done", done, methods=["POST"])
    page.add_url_rule("/<int:task_id>/reopen", "reopen", reopen, methods=["POST"])
    page.add_url_rule("/<int:task_id>/check/<int:position>", "check", check, methods=["POST"])
    page.add_url_rule("/<int:task_id>/answer/<int:position>", "answer", answer, methods=["POST"])
    page.add_url_rule("/<int:task_id>/assign", "assign", assign, methods=["POST"])
    page.add_url_rule("/<int:task_id>/due", "reschedule", reschedule, methods=["POST"])
    page.add_url_rule("/<int:task_id>/cancel", "cancel", cancel, methods=["POST"])
    page.context_processor(_helpers)
    return page


# -- helpers ----------------------------------------------------------------------


def _api() -> Any:
    return g.crm.plugin("tasks")


def _helpers() -> dict[str, Any]:
    return {
        "priority_tone": lambda p: PRIORITY_TONES.get(p, "neutral"),
        "priority_label": _priority_label,
        "group_label": _group_label,
        "reminder_label": _reminder_label,
        "here": lambda: request.script_root + request.path,
    }


def _priority_label(priority: str) -> str:
    return {"low": _("low"), "normal": _("normal"), "high": _("high"), "urgent": _("urgent")}.get(priority, priority)


def _group_label(group: str) -> str:
    return {"overdue": _("Overdue"), "today": _("Today"), "this_week": _("This week"), "later": _("Later")}[group]


def user_timezone(crm: Any) -> dt.tzinfo:
    """The signed-in user's time zone (their preference), else the app's."""
    user = g.get("user")
    name = getattr(user, "timezone", None)
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    tz: dt.tzinfo = crm.tz
    return tz


def contact_names(crm: Any, ids: Iterable[int | None]) -> dict[int, str]:
    """Contact id → name for the contacts the user may see, in one call to the contacts plugin."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    try:
        contacts = crm.plugin("contacts")
    except CRMError:  # no contacts plugin: the tasks show the contact's number
        return {}
    return {card.id: card.display_name for card in contacts.cards(wanted)}


def people_in_scope(api: Any, permission: str) -> set[str] | None:
    """The users whose tasks the signed-in user's scope for ``permission`` covers; ``None``: everyone's.

    ``own``: the user; ``team``: the user and the members of their teams
    (read once, whatever the rows shown); no grant: nobody.
    """
    crm = g.crm
    scope = crm.authz.scope(permission)
    if scope == "all":
        return None
    names = {g.user.name}
    if scope == "team":
        teams = api.teams()
        for team_name in g.user.teams:
            names.update(teams.get(team_name, []))
    return names if scope else set()


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _back(default: str) -> Any:
    """Redirect to ``next`` when it is a path inside the desk, else to ``default``."""
    target = request.form.get("next", "")
    inside = request.script_root + "/"
    if not target.startswith(inside) or target.startswith("//") or "\\" in target:
        target = default
    return flask.redirect(target, 303)


def _form_int(name: str) -> int | None:
    text = request.form.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise BadRequest(f"{name} must be a number")
    return int(text)


# -- my to-do -----------------------------------------------------------------------


def todo() -> Any:
    """My to-do: the user's open tasks, grouped overdue / today / this week / later in their time zone."""
    crm = g.crm
    api = _api()
    tasks = api.list(assignee=g.user.name, status="open", limit=TODO_LIMIT)
    total = len(tasks) if len(tasks) < TODO_LIMIT else api.count(assignee=g.user.name, status="open")
    groups = group_tasks(tasks, crm.now(), user_timezone(crm))
    return flask.render_template(
        "tasks/todo.html",
        groups=[(name, groups[name]) for name in GROUPS],
        names=contact_names(crm, (t.contact_id for t in tasks)),
        shown=len(tasks),
        total=total,
        may_see_team=crm.authz.scope("tasks.read") in ("team", "all"),
        may_create=crm.authz.can("tasks.create"),
        may_see_rules=crm.authz.can("tasks.rules.read"),
    )


def team() -> Any:
    """The open tasks of the user's teams (for a user whose tasks.read scope is the team's or everyone's)."""
    crm = g.crm
    if crm.authz.scope("tasks.read") not in ("team", "all"):
        raise PermissionDenied(
            _("The team view is for users who may read their teams' tasks (a manager or support role)."), "tasks.read"
        )
    api = _api()
    teams = sorted(g.user.teams)
    chosen = request.args.get("team") or (teams[0] if teams else "")
    if chosen and chosen not in teams:
        flask.abort(404)
    tasks = api.list(team=chosen, status="open", limit=TODO_LIMIT) if chosen else []
    members = api.teams().get(chosen, []) if chosen else []
    member_tasks: list[Any] = []
    if members:
        member_tasks = [t for t in _member_tasks(api, members) if t.team != chosen]
    everything = sorted(
        {t.id: t for t in [*tasks, *member_tasks]}.values(),
        key=lambda t: (t.due_at is None, t.due_at or dt.datetime.max.replace(tzinfo=dt.UTC), t.id),
    )
    groups = group_tasks(everything, crm.now(), user_timezone(crm))
    return flask.render_template(
        "tasks/team.html",
        teams=teams,
        team_options=[(name, name) for name in teams],
        chosen=chosen,
        groups=[(name, groups[name]) for name in GROUPS],
        names=contact_names(crm, (t.contact_id for t in everything)),
        shown=len(everything),
    )


def _member_tasks(api: Any, members: list[str]) -> list[Any]:
    # one query per member of the team (a team is a handful of people, never the rows shown)
    out: list[Any] = []
    for name in members:
        out += api.list(assignee=name, status="open", limit=TODO_LIMIT)
    return out


# -- one task ---------------------------------------------------------------------------


def _task_page(task_id: int, *, status: int = 200, errors: dict[str, str] | None = None, form: Any = None) -> Any:
    crm = g.crm
    api = _api()
    task = api.get(task_id)
    may_edit = crm.authz.can("tasks.edit", record_owner=task.assignee)
    staff = api.staff() if may_edit and task.status == "open" else []
    names = contact_names(crm, [task.contact_id, *(ref for kind, ref in task.links if kind == "contact")])
    body = flask.render_template(
        "tasks/task.html",
        task=task,
        contact_name=names.get(task.contact_id) if task.contact_id else None,
        may_edit=may_edit,
        assignees=[(m.name, m.full_name or m.name) for m in staff if m.active],
        errors=errors or {},
        form=form or {},
        due_local=_local_input(task.due_at, user_timezone(crm)),
        planned=planned_reminders(api, task, crm.now()),
        reminder_label=_reminder_label,
    )
    return body, status


def _reminder_label(kind: str) -> str:
    labels = {"assigned": _("assigned to you"), "due": _("due soon"), "overdue": _("overdue"), "rule": _("from a rule")}
    return labels.get(kind, kind)


def planned_reminders(api: Any, task: Any, now: dt.datetime) -> list[tuple[str, dt.datetime]]:
    """The reminders the worker's ``tasks.reminders`` job will send for an open task: (kind, from when).

    "due soon" ``before_due_hours`` before the due time, "overdue" at it,
    unless one was sent for the current due time already (a reminder sent
    before the window opened was for an earlier due time).
    """
    if task.status != "open" or task.due_at is None or not task.assignee:
        return []
    settings = api.settings.reminders
    out: list[tuple[str, dt.datetime]] = []
    sent = [(r.kind, r.sent_at) for r in task.reminders]
    if settings.before_due_hours > 0 and task.due_at > now:
        opens = task.due_at - dt.timedelta(hours=settings.before_due_hours)
        if not any(kind == "due" and when >= opens for kind, when in sent):
            out.append(("due", max(opens, now)))
    if settings.overdue and not any(kind == "overdue" and when >= task.due_at for kind, when in sent):
        out.append(("overdue", max(task.due_at, now)))
    return out


def _local_input(when: dt.datetime | None, tz: dt.tzinfo) -> str:
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M") if when else ""


def task_page(task_id: int) -> Any:
    """A task: description, checklist, call questions, and (to who may edit it) reassign, due time, done, cancel."""
    return _task_page(task_id)


def done(task_id: int) -> Any:
    """Mark a task done; htmx gets the to-do row saying so (with Reopen), a form the page it came from."""
    task = _api().done(task_id)
    if _is_htmx():
        return flask.render_template("tasks/_done_row.html", task=task)
    flask.flash(_("Done: %(title)s", title=task.title), "success")
    return _back(flask.url_for("tasks.todo"))


def reopen(task_id: int) -> Any:
    """Open a done task again (the Undo of "done")."""
    task = _api().reopen(task_id)
    if _is_htmx():
        crm = g.crm
        return flask.render_template(
            "tasks/_row.html",
            task=task,
            names=contact_names(crm, [task.contact_id]),
        )
    flask.flash(_("Reopened: %(title)s", title=task.title), "success")
    return _back(flask.url_for("tasks.task", task_id=task_id))


def check(task_id: int, position: int) -> Any:
    """Tick (or, with ``undo``, untick) checklist item ``position``."""
    undo = request.form.get("undo") == "1"
    task = _api().check(task_id, position, undo=undo)
    if _is_htmx():
        item = next(i for i in task.checklist if i.position == position)
        return flask.render_template("tasks/_check_item.html", task=task, item=item, may_edit=True)
    return _back(flask.url_for("tasks.task", task_id=task_id))


def answer(task_id: int, position: int) -> Any:
    """Record the answer to call question ``position``; an empty answer is refused beside the field."""
    text = request.form.get("answer", "").strip()
    if not text:
        error = _("Write the answer before saving it.")
        if _is_htmx():
            task = _api().get(task_id)
            question = _question(task, position)
            return flask.render_template(
                "tasks/_question.html", task=task, question=question, may_edit=True, error=error
            )
        return _task_page(task_id, status=400, errors={f"answer{position}": error})
    task = _api().answer(task_id, position, text)
    if _is_htmx():
        return flask.render_template(
            "tasks/_question.html", task=task, question=_question(task, position), may_edit=True, saved=True
        )
    flask.flash(_("Answer saved."), "success")
    return _back(flask.url_for("tasks.task", task_id=task_id))


def _question(task: Any, position: int) -> Any:
    for question in task.questions:
        if question.position == position:
            return question
    raise NotFoundError(f"task #{task.id} has no question {position}")


def assign(task_id: int) -> Any:
    """Give the task to another user; one outside the user's scope is refused beside the menu."""
    name = request.form.get("assignee", "").strip()
    if not name:
        return _task_page(task_id, status=400, errors={"assignee": _("Choose whom to give the task to.")})
    try:
        task = _api().assign(task_id, name)
    except PermissionDenied:
        _api().get(task_id)  # the task itself out of reach is a 403 page, not a field error
        message = _("You may not give tasks to %(name)s: their tasks are outside what you may edit.", name=name)
        return _task_page(task_id, status=400, errors={"assignee": message}, form={"assignee": name})
    except CRMError as exc:
        if isinstance(exc, NotFoundError):
            raise
        return _task_page(task_id, status=400, errors={"assignee": str(exc)}, form={"assignee": name})
    flask.flash(_("Task given to %(name)s.", name=task.assignee), "success")
    return flask.redirect(flask.url_for("tasks.task", task_id=task_id), 303)


def reschedule(task_id: int) -> Any:
    """Move the due time: ``2026-03-02 10:00`` (in the user's time zone), ``2026-03-02``, ``tomorrow``, ``+2d``; empty: none."""
    text = request.form.get("due", "").strip()
    api = _api()
    try:
        due = _parse_due(api, text) if text else None
        api.reschedule(task_id, due)
    except CRMError as exc:
        if isinstance(exc, (NotFoundError, PermissionDenied)):
            raise
        error = _("Write the due time as 2026-03-02 10:00, 2026-03-02, today, tomorrow, +2d or +4h.")
        return _task_page(task_id, status=400, errors={"due": f"{error} ({exc})"}, form={"due": text})
    flask.flash(_("Due time changed."), "success")
    return flask.redirect(flask.url_for("tasks.task", task_id=task_id), 303)


def _parse_due(api: Any, text: str) -> dt.datetime:
    """A due time typed by the user: a date and time is in their time zone, the rest as the plugin reads it."""
    for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"):
        try:
            local = dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
        return local.replace(tzinfo=user_timezone(g.crm))
    parsed: dt.datetime = api.parse_due(text)
    return parsed


def cancel(task_id: int) -> Any:
    """Cancel an open task, with an optional reason (added to its description)."""
    reason = request.form.get("reason", "").strip()[:500]
    task = _api().cancel(task_id, reason=reason)
    flask.flash(_("Cancelled: %(title)s", title=task.title), "success")
    return flask.redirect(flask.url_for("tasks.task", task_id=task_id), 303)


# -- the home widget and the contact panel -------------------------------------------------


def my_day_widget(crm: Any) -> Markup:
    """The signed-in user's overdue tasks, today's and the rest of this week's, for the desk's home page."""
    user = crm.current_user
    tz = user_timezone(crm)
    now = crm.now()
    local = now.astimezone(tz)
    # the week ends on Sunday night, in the user's time zone (as the to-do page groups it)
    week_end = dt.datetime.combine(local.date() + dt.timedelta(days=7 - local.weekday()), dt.time(), tzinfo=tz)
    api = crm.plugin("tasks")
    tasks = api.list(assignee=user.name, status="open", due_before=week_end, limit=SHORT_LIMIT)
    groups = group_tasks(tasks, now, tz)
    # the reminders e-mailed to the user this week (newest first) about open tasks not listed above, once per task:
    # a task given to them that is due later, a rule's notice
    shown = {t.id for t in tasks}
    reminders = []
    for reminder in api.reminders(limit=SHORT_LIMIT):
        if reminder.task_id is not None:
            if reminder.task_status != "open" or reminder.task_id in shown:
                continue
            shown.add(reminder.task_id)
        reminders.append(reminder)
    html = flask.render_template(
        "tasks/_my_day.html",
        overdue=groups["overdue"],
        today=groups["today"],
        this_week=groups["this_week"],
        reminders=reminders,
        names=contact_names(crm, (t.contact_id for t in tasks)),
        more=len(tasks) >= SHORT_LIMIT,
        **_helpers(),
    )
    return Markup(html)


def contact_panel(crm: Any, contact_id: int) -> Markup:
    """The open tasks about one contact that the user may read, soonest first."""
    api = crm.plugin("tasks")
    tasks = api.list(contact_id=contact_id, status="open", limit=SHORT_LIMIT)
    html = flask.render_template("tasks/_contact_panel.html", tasks=tasks, more=len(tasks) >= SHORT_LIMIT, **_helpers())
    return Markup(html)
