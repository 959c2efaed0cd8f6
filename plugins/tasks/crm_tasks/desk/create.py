"""The "New task" page: a form for every field of a task, with each refusal beside its field.

Reached from the to-do page and, as a contact-card action, with the contact
filled in (``/tasks/new?contact_id=7``). The task is made with
``crm.plugin("tasks").add`` as the signed-in user, so their permissions
decide: a ``sales`` user may give tasks only to themselves, and a refusal
comes back beside the assignee menu with everything typed kept.
"""

from __future__ import annotations

from typing import Any

import flask
from flask import g, request

from crm_core.errors import CRMError, NotFoundError, PermissionDenied
from crm_core.i18n import gettext as _
from crm_tasks.desk.views import _api, _parse_due, _priority_label, contact_names, people_in_scope
from crm_tasks.settings import KINDS, PRIORITIES

__all__ = ["new_task"]

#: the form's fields, as the page keeps them when it is sent back
FIELDS = ("title", "kind", "assignee", "team", "due", "priority", "description", "contact_id", "checklist", "questions")
TITLE_MAX = 300
ITEM_MAX = 500


def _kind_label(kind: str) -> str:
    return {
        "to-do": _("to-do"),
        "call": _("call"),
        "e-mail": _("e-mail"),
        "meeting": _("meeting"),
        "follow-up": _("follow-up"),
    }.get(kind, kind)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _render(form: dict[str, str], errors: dict[str, str], status: int = 200) -> Any:
    crm = g.crm
    api = _api()
    user = g.user
    allowed = people_in_scope(api, "tasks.edit")
    assignees = [(user.name, _("Me (%(name)s)", name=user.name))]
    for member in api.staff():
        if member.active and member.name != user.name and (allowed is None or member.name in allowed):
            assignees.append((member.name, member.full_name or member.name))
    teams = [("", _("No team"))] + [(name, name) for name in sorted(api.teams())]
    contact_id = form.get("contact_id", "").strip()
    contact_name = None
    if contact_id.isdigit():
        contact_name = contact_names(crm, [int(contact_id)]).get(int(contact_id))
    body = flask.render_template(
        "tasks/new.html",
        form=form,
        errors=errors,
        kinds=[(kind, _kind_label(kind)) for kind in KINDS],
        priorities=[(p, _priority_label(p)) for p in PRIORITIES],
        assignees=assignees,
        teams=teams,
        contact_name=contact_name,
    )
    return body, status


def new_task() -> Any:
    """GET: the empty form (``?contact_id=`` fills the contact in); POST: make the task, or show what to fix."""
    crm = g.crm
    crm.authz.require("tasks.create")
    if request.method == "GET":
        form = {"kind": "to-do", "priority": "normal", "assignee": g.user.name, "team": ""}
        contact = request.args.get("contact_id", "").strip()
        if contact.isdigit():
            form["contact_id"] = contact
        return _render(form, {})
    form = {name: request.form.get(name, "") for name in FIELDS}
    errors = _check(form)
    if errors:
        return _render(form, errors, 400)
    api = _api()
    try:
        due = _parse_due(api, form["due"].strip()) if form["due"].strip() else None
    except CRMError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        hint = _("Write the due time as 2026-03-02 10:00, 2026-03-02, today, tomorrow, +2d or +4h.")
        return _render(form, {"due": f"{hint} ({exc})"}, 400)
    contact = form["contact_id"].strip()
    assignee = form["assignee"].strip() or None
    try:
        task = api.add(
            form["title"],
            kind=form["kind"],
            assignee=assignee,
            team=form["team"].strip() or None,
            due=due,
            priority=form["priority"],
            description=form["description"].strip(),
            contact_id=int(contact) if contact else None,
            checklist=_lines(form["checklist"]),
            questions=_lines(form["questions"]) if form["kind"] == "call" else [],
        )
    except PermissionDenied as exc:
        if not crm.authz.can("tasks.create"):
            raise
        message = _("You may not give tasks to %(name)s: their tasks are outside what you may edit.", name=assignee)
        return _render(form, {"assignee": message if assignee else str(exc)}, 400)
    except NotFoundError:
        message = _("There is no contact %(id)s that you may see; check the number on the contact's card.", id=contact)
        return _render(form, {"contact_id": message}, 400)
    except CRMError as exc:
        return _render(form, {_field_of(str(exc)): str(exc)}, 400)
    flask.flash(_("Task created: %(title)s", title=task.title), "success")
    return flask.redirect(flask.url_for("tasks.task", task_id=task.id), 303)


def _check(form: dict[str, str]) -> dict[str, str]:
    """The refusals the page can tell before asking the plugin, in the user's language."""
    errors: dict[str, str] = {}
    title = form["title"].strip()
    if not title:
        errors["title"] = _("Give the task a title, such as “Call Eva back”.")
    elif len(title) > TITLE_MAX:
        errors["title"] = _(
            "The title is %(n)s characters long; keep it to %(max)s and put the rest in the description.",
            n=len(title),
            max=TITLE_MAX,
        )
    if form["kind"] not in KINDS:
        errors["kind"] = _("Choose a kind from the menu.")
    if form["priority"] not in PRIORITIES:
        errors["priority"] = _("Choose a priority from the menu.")
    contact = form["contact_id"].strip()
    if contact and (not contact.isdigit() or int(contact) < 1):
        errors["contact_id"] = _("Write the contact's number (as on their card), or leave it empty.")
    for name in ("checklist", "questions"):
        if any(len(line) > ITEM_MAX for line in _lines(form[name])):
            errors[name] = _("Keep each line to %(max)s characters.", max=ITEM_MAX)
    if _lines(form["questions"]) and form["kind"] != "call":
        errors["questions"] = _("Call questions belong to call tasks: choose the kind “call”, or remove them.")
    return errors


def _field_of(message: str) -> str:
    """The field a refusal from the plugin is about (the title when it names none)."""
    for word, field in (("assignee", "assignee"), ("team", "team"), ("contact", "contact_id"), ("due", "due")):
        if word in message:
            return field
    return "title"
