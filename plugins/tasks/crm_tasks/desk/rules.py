"""The rules and the recurring templates in the desk: what makes tasks on its own.

For users with ``tasks.rules.read`` (the plugin's permission to see the
rules; the built-in roles that read everything have it): the list of rules
with their trigger, action, state and last firing; each rule's page with
what it would create over the last 30 days (``TasksAPI.preview``, nothing
is written); the recurring templates with their recurrence in words and
next occurrences. Adding, changing, pausing and removing a template needs
``tasks.rules.manage``. The rules themselves live in the configuration
(``[[plugins.tasks.rules]]``) and in plugins' ``crm_task_rules``: the API
has no call to switch one on or off, so the page says where to.

A preview row is about a task for someone: a user whose ``tasks.read``
scope is their own (or their teams') sees the rows of the tasks they could
read, and how many others there are.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from typing import Any

import flask
from flask import g, request

from crm_core.errors import CRMError, NotFoundError, PermissionDenied
from crm_core.i18n import gettext as _
from crm_tasks.desk.create import _kind_label, _lines
from crm_tasks.desk.recurrence_text import describe_rrule
from crm_tasks.desk.views import _api, _priority_label, contact_names, people_in_scope, user_timezone
from crm_tasks.recurring import occurrences, parse_rrule
from crm_tasks.settings import KINDS, PRIORITIES

__all__ = ["recurring_edit", "recurring_list", "recurring_pause", "recurring_remove", "rule_list", "rule_page"]

#: how far back a rule's preview looks
PREVIEW_DAYS = 30
#: the firings read for the "last fired" column (one query, newest first)
FIRINGS_READ = 500
#: how many next occurrences a template shows
NEXT_SHOWN = 3
RECURRING_FIELDS = (
    "name",
    "title",
    "rrule",
    "kind",
    "assignee",
    "team",
    "priority",
    "description",
    "checklist",
    "lead",
    "start",
    "timezone",
)


def _trigger_label(trigger: str) -> str:
    return {"event": _("an event"), "change": _("a contact change"), "inactivity": _("inactivity")}.get(
        trigger, trigger
    )


# -- the rules ----------------------------------------------------------------------


def rule_list() -> Any:
    """Every rule: name, what fires it, what it does, where it is defined, on or off, when it last fired."""
    crm = g.crm
    api = _api()
    ruleset = api.rules()
    last: dict[str, Any] = {}
    for firing in api.firings(limit=FIRINGS_READ):
        last.setdefault(firing.rule, firing)
    return flask.render_template(
        "tasks/rules.html",
        rules=ruleset.rules,
        last=last,
        trigger_label=_trigger_label,
        may_manage=crm.authz.can("tasks.rules.manage"),
    )


def _visible(row: dict[str, Any], allowed: set[str] | None, teams: set[str]) -> bool:
    if allowed is None:
        return True
    people = [row.get("assignee"), *(row.get("to") or [])]
    return any(p in allowed for p in people if p) or (row.get("team") in teams and bool(teams))


def rule_page(name: str) -> Any:
    """One rule, its recent firings, and what it would create from the last 30 days' events (a dry run)."""
    crm = g.crm
    api = _api()
    rule = api.rules().by_name.get(name)
    if rule is None:
        raise NotFoundError(f"no rule {name!r}")
    since = crm.now() - dt.timedelta(days=PREVIEW_DAYS)
    rows = api.preview(rule=name, since=since)
    allowed = people_in_scope(api, "tasks.read")
    teams = set(g.user.teams) if crm.authz.scope("tasks.read") == "team" else set()
    shown = [row for row in rows if _visible(row, allowed, teams)]
    for row in shown:  # the preview gives ISO texts; the page shows them in the user's time zone and language
        row["due"] = dt.datetime.fromisoformat(row["due_at"]) if row.get("due_at") else None
    return flask.render_template(
        "tasks/rule.html",
        rule=rule,
        rows=shown,
        hidden=len(rows) - len(shown),
        days=PREVIEW_DAYS,
        names=contact_names(crm, (row.get("contact_id") for row in shown)),
        # the log names no assignee, so only who may read everyone's tasks sees it
        firings=api.firings(rule=name, limit=20) if allowed is None else None,
        trigger_label=_trigger_label,
    )


# -- recurring templates -------------------------------------------------------------


def _next_occurrences(info: Any) -> list[dt.datetime]:
    """The template's next occurrences (from the API's next one), in the template's time zone."""
    if info.next_occurrence is None:
        return []
    tz = zoneinfo.ZoneInfo(info.timezone)
    rule = parse_rrule(info.rrule, info.dtstart, tz)
    later = occurrences(rule, info.next_occurrence.astimezone(dt.UTC))
    return [info.next_occurrence, *(w.astimezone(tz) for w in itertools.islice(later, NEXT_SHOWN - 1))]


def _recurring_page(form: dict[str, str], errors: dict[str, str], status: int = 200) -> Any:
    crm = g.crm
    api = _api()
    may_manage = crm.authz.can("tasks.rules.manage")
    templates = api.recurring()
    staff = api.staff() if may_manage else []
    body = flask.render_template(
        "tasks/recurring.html",
        templates=[(t, describe_rrule(t.rrule), _next_occurrences(t)) for t in templates],
        may_manage=may_manage,
        form=form,
        errors=errors,
        kinds=[(kind, _kind_label(kind)) for kind in KINDS],
        priorities=[(p, _priority_label(p)) for p in PRIORITIES],
        assignees=[("", _("Nobody (the team)"))] + [(m.name, m.full_name or m.name) for m in staff if m.active],
        teams=[("", _("No team"))] + [(name, name) for name in sorted(api.teams())] if may_manage else [],
    )
    return body, status


def _default_form() -> dict[str, str]:
    tz = user_timezone(g.crm)
    return {
        "kind": "to-do",
        "priority": "normal",
        "lead": "0m",
        "rrule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0",
        "timezone": getattr(tz, "key", "") or g.crm.config.core.timezone,
        "assignee": "",
        "team": "",
    }


def recurring_list() -> Any:
    """GET: the templates with their recurrence and next occurrences (and, to managers, a form); POST: add one."""
    crm = g.crm
    if request.method == "GET":
        return _recurring_page(_default_form(), {})
    crm.authz.require("tasks.rules.manage")
    form = {name: request.form.get(name, "") for name in RECURRING_FIELDS}
    errors: dict[str, str] = {}
    if not form["name"].strip():
        errors["name"] = _("Give the template a name, such as “weekly-report”.")
    if not form["title"].strip():
        errors["title"] = _("Give the tasks a title, such as “Send the weekly report”.")
    if not form["rrule"].strip():
        errors["rrule"] = _("Write how often, such as FREQ=WEEKLY;BYDAY=MO;BYHOUR=9.")
    if errors:
        return _recurring_page(form, errors, 400)
    try:
        info = _api().add_recurring(
            form["name"].strip(),
            form["title"],
            form["rrule"],
            kind=form["kind"],
            assignee=form["assignee"].strip() or None,
            team=form["team"].strip() or None,
            priority=form["priority"],
            description=form["description"].strip(),
            checklist=_lines(form["checklist"]),
            lead=form["lead"].strip() or "0m",
            start=form["start"].strip() or None,
            timezone=form["timezone"].strip() or None,
        )
    except PermissionDenied:
        raise
    except CRMError as exc:
        return _recurring_page(form, {_recurring_field(str(exc)): str(exc)}, 400)
    flask.flash(_("Recurring template added: %(name)s", name=info.name), "success")
    return flask.redirect(flask.url_for("tasks.recurring"), 303)


def _recurring_field(message: str) -> str:
    """The form field a refusal from the plugin is about (the rule when it names none)."""
    for word, field in (
        ("named", "name"),
        ("a name", "name"),
        ("title", "title"),
        ("kind", "kind"),
        ("priority", "priority"),
        ("assignee", "assignee"),
        ("team", "team"),
        ("lead time", "lead"),
        ("time zone", "timezone"),
        ("start", "start"),
    ):
        if word in message:
            return field
    return "rrule"


def recurring_remove(name: str) -> Any:
    """Delete a template (``tasks.rules.manage``); the tasks it made stay."""
    _api().remove_recurring(name)
    flask.flash(_("Recurring template removed: %(name)s. The tasks it made stay.", name=name), "success")
    return flask.redirect(flask.url_for("tasks.recurring"), 303)


#: the fields of a template's edit form (its name, time zone and first occurrence stay)
EDIT_FIELDS = ("title", "rrule", "kind", "assignee", "team", "priority", "description", "checklist", "lead")


def _template(name: str) -> Any:
    for info in _api().recurring():
        if info.name == name:
            return info
    flask.abort(404)


def _edit_page(info: Any, form: dict[str, str], errors: dict[str, str], status: int = 200) -> Any:
    api = _api()
    staff = api.staff()
    body = flask.render_template(
        "tasks/recurring_edit.html",
        template=info,
        words=describe_rrule(info.rrule),
        upcoming=_next_occurrences(info),
        form=form,
        errors=errors,
        kinds=[(kind, _kind_label(kind)) for kind in KINDS],
        priorities=[(p, _priority_label(p)) for p in PRIORITIES],
        assignees=[("", _("Nobody (the team)"))] + [(m.name, m.full_name or m.name) for m in staff if m.active],
        teams=[("", _("No team"))] + [(name, name) for name in sorted(api.teams())],
    )
    return body, status


def recurring_edit(name: str) -> Any:
    """GET: a template's form, filled in; POST: save what changed (``tasks.rules.manage``)."""
    g.crm.authz.require("tasks.rules.manage")
    info = _template(name)
    if request.method == "GET":
        form = {
            "title": info.title,
            "rrule": info.rrule,
            "kind": info.kind,
            "assignee": info.assignee or "",
            "team": info.team or "",
            "priority": info.priority,
            "description": info.description,
            "checklist": "\n".join(info.checklist),
            "lead": _lead_text(info.lead),
        }
        return _edit_page(info, form, {})
    form = {field: request.form.get(field, "") for field in EDIT_FIELDS}
    errors: dict[str, str] = {}
    if not form["title"].strip():
        errors["title"] = _("Give the tasks a title, such as “Send the weekly report”.")
    if not form["rrule"].strip():
        errors["rrule"] = _("Write how often, such as FREQ=WEEKLY;BYDAY=MO;BYHOUR=9.")
    if errors:
        return _edit_page(info, form, errors, 400)
    try:
        changed = _api().edit_recurring(
            name,
            title=form["title"],
            rrule=form["rrule"],
            kind=form["kind"],
            assignee=form["assignee"].strip() or None,
            team=form["team"].strip() or None,
            priority=form["priority"],
            description=form["description"].strip(),
            checklist=_lines(form["checklist"]),
            lead=form["lead"].strip() or "0m",
        )
    except PermissionDenied:
        raise
    except CRMError as exc:
        return _edit_page(info, form, {_recurring_field(str(exc)): str(exc)}, 400)
    flask.flash(_("Recurring template saved: %(name)s", name=changed.name), "success")
    return flask.redirect(flask.url_for("tasks.recurring"), 303)


def recurring_pause(name: str) -> Any:
    """Pause a template, or resume it from now (``tasks.rules.manage``; POST ``active`` 0 or 1)."""
    resume = request.form.get("active") == "1"
    _api().edit_recurring(name, active=resume)
    if resume:
        flask.flash(_("Resumed: %(name)s makes its tasks again from now.", name=name), "success")
    else:
        flask.flash(_("Paused: %(name)s makes no tasks until it is resumed.", name=name), "success")
    return flask.redirect(flask.url_for("tasks.recurring"), 303)


def _lead_text(lead: dt.timedelta) -> str:
    """A lead time as the form takes it: 2d, 4h or 90m."""
    minutes = int(lead.total_seconds() // 60)
    if minutes and minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"
