"""A contact's history in the desk: the timeline panel and page, the contact as it was, the composer (documents: :mod:`.documents`).

The contact card (the contacts plugin's page) shows the panels; the pages
live under ``/warehouse/contacts/<id>/``. Everything is read and written
through ``crm.plugin("warehouse")`` as the signed-in user, so a contact out
of the user's ``contacts.read`` scope is a 404, like an unknown one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import flask
from flask import g, request
from markupsafe import Markup
from werkzeug.exceptions import BadRequest

from crm_core.errors import CRMError, NotFoundError, PermissionDenied
from crm_core.i18n import N_
from crm_core.i18n import gettext as _
from crm_warehouse.desk.common import api, back, helpers, user_timezone
from crm_warehouse.desk.summaries import describe, field_label, value_text

__all__ = ["as_of_page", "history_panel", "log", "timeline_page"]

#: entries per page of the timeline page, and in the card's panel
PAGE = 50
PANEL_ENTRIES = 10
#: the kinds of entry, as the filter names them (the warehouse's timeline kinds)
KIND_LABELS = {
    "contact": N_("Changes"),
    "consent": N_("Consent"),
    "request": N_("Requests"),
    "sale": N_("Sales"),
    "note": N_("Notes, calls and meetings"),
    "document": N_("Documents"),
    "survey": N_("Surveys"),
    "task": N_("Tasks"),
    "mail": N_("Mail"),
    "other": N_("Other"),
}
#: what each event type means, in the user's language (the warehouse's one-line summary follows it)
TYPE_LABELS = {
    "ContactCreated": N_("Contact created"),
    "ContactChanged": N_("Contact changed"),
    "ContactDeleted": N_("Contact deleted"),
    "ContactRestored": N_("Contact restored"),
    "ContactsMerged": N_("Contacts merged"),
    "ContactsUnmerged": N_("Merge undone"),
    "ContactErased": N_("Personal data erased"),
    "ContactUnsubscribed": N_("Unsubscribed"),
    "ConsentGiven": N_("Consent given"),
    "RequestReceived": N_("Request received"),
    "StageChanged": N_("Deal moved"),
    "SaleClosed": N_("Deal closed"),
    "SaleUpdated": N_("Deal changed"),
    "StaffActionLogged": N_("Note logged"),
    "DocumentAttached": N_("Document attached"),
    "SurveySent": N_("Survey sent"),
    "SurveyAnswered": N_("Survey answered"),
    "TaskCreated": N_("Task created"),
    "TaskCompleted": N_("Task completed"),
    "MailBounced": N_("Mail bounced"),
}
ACTION_LABELS = {"call": N_("Call"), "meeting": N_("Meeting note"), "email": N_("E-mail"), "note": N_("Note")}
ACTIONS_READ = "warehouse.actions.read"
LOG_FIELDS = ("kind", "subject", "body", "occurred_at", "next")


#: the characters of a logged action's text the timeline shows after its subject
EXCERPT = 140


def _type_label(entry: Any) -> str:
    """An entry's heading: what happened (a logged action says its kind: “Call”, “Meeting note”…)."""
    if entry.type == "StaffActionLogged":
        kind = ACTION_LABELS.get(str(entry.payload.get("kind")))
        if kind is not None:
            return _(kind)
    label = TYPE_LABELS.get(entry.type)
    return _(label) if label else str(entry.type)


def _describer(crm: Any, entries: list[Any]) -> Any:
    """``describe`` for these entries: a logged action says its subject and the start of its text.

    The actions are read in one query, through the warehouse's API as the
    user (one out of their scope, or gone, keeps the event's own sentence;
    so does every entry for a user who may not read staff actions).
    """
    ids = {e.payload.get("action_id") for e in entries if e.type == "StaffActionLogged"}
    ids = {i for i in ids if isinstance(i, int) and not isinstance(i, bool) and i > 0}
    actions = crm.plugin("warehouse").actions.many(ids) if ids and crm.authz.can(ACTIONS_READ) else {}

    def describe_entry(entry: Any) -> str:
        action = actions.get(entry.payload.get("action_id")) if entry.type == "StaffActionLogged" else None
        if action is None:
            return describe(entry)
        text = " ".join(action.body.split())
        if len(text) > EXCERPT:
            text = text[: EXCERPT - 1].rstrip() + "…"
        if action.subject and text:
            return f"{action.subject} — {text}"
        return action.subject or text or describe(entry)

    return describe_entry


def _kinds(values: list[str]) -> list[str] | None:
    bad = [k for k in values if k not in KIND_LABELS]
    if bad:
        raise BadRequest(f"?kind={bad[0]!r} is not one of {', '.join(KIND_LABELS)}")
    return values or None


def _cursor() -> tuple[dt.datetime | None, str | None]:
    text, event = request.args.get("before", "").strip(), request.args.get("event", "").strip() or None
    if not text:
        return None, None
    try:
        before = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"?before={text!r} is not a time; follow the “Older” link") from None
    if before.tzinfo is None:
        raise BadRequest(f"?before={text!r} has no time zone; follow the “Older” link")
    return before, event


def _next_cursor(entries: list[Any], limit: int) -> dict[str, str] | None:
    if len(entries) < limit:
        return None
    last = entries[-1]
    return {"before": last.occurred_at.isoformat(), "event": last.event_id}


def _contact_name(crm: Any, contact_id: int) -> str:
    if crm.has_plugin("contacts"):
        return str(crm.plugin("contacts").card(contact_id).display_name)  # NotFoundError, PermissionDenied: 404
    return _("Contact #%(id)s", id=contact_id)


def timeline_page(contact_id: int) -> Any:
    """Everything that happened to the contact, newest first: filter by kind, page with “Older”."""
    crm = g.crm
    kinds = _kinds(request.args.getlist("kind"))
    before, event = _cursor()
    entries = api().timeline(contact_id, kinds=kinds, limit=PAGE, before=before, before_event=event)
    return flask.render_template(
        "warehouse/timeline.html",
        contact_id=contact_id,
        contact_name=_contact_name(crm, contact_id),
        entries=entries,
        chosen=kinds or [],
        kind_options=[(k, _(label)) for k, label in KIND_LABELS.items()],
        type_label=_type_label,
        describe=_describer(crm, entries),
        next_cursor=_next_cursor(entries, PAGE),
        first_page=before is None,
    )


def as_of_page(contact_id: int) -> Any:
    """The contact's fields as they were at the end of a chosen day (the warehouse's as-of view)."""
    crm = g.crm
    name = _contact_name(crm, contact_id)
    text = request.args.get("date", "").strip()
    fields: dict[str, Any] | None = None
    error = None
    status = 200
    if text:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            error, status = _("Write the day as 2026-03-31."), 400
        else:
            if day > crm.now().astimezone(user_timezone(crm)).date():
                error, status = _("Choose a day that has passed: the future is not written yet."), 400
            else:
                try:
                    fields = api().contact_as_of(contact_id, day)
                except NotFoundError as exc:
                    if "did not exist" not in str(exc) and "holds no creation" not in str(exc):
                        raise
                    error, status = str(exc), 400
    body = flask.render_template(
        "warehouse/as_of.html",
        contact_id=contact_id,
        contact_name=name,
        day=text,
        error=error,
        fields=sorted((field_label(k).capitalize(), _past(k, v)) for k, v in fields.items() if k != "id")
        if fields is not None
        else None,
        when=dt.date.fromisoformat(text) if fields is not None else None,
    )
    return body, status


def _past(field: str, value: Any) -> Any:
    """A past field's value in words (a status by its name, a list on one line), whole; empty and yes or no are
    left to the page, which marks them."""
    if value is None or value == "" or value == [] or isinstance(value, bool):
        return None if value == [] else value
    return value_text(field, value, whole=True)


# -- the composer --------------------------------------------------------------------------


def _render_log(contact_id: int, form: dict[str, str], errors: dict[str, str], status: int = 200) -> Any:
    body = flask.render_template(
        "warehouse/log.html",
        contact_id=contact_id,
        contact_name=_contact_name(g.crm, contact_id),
        form=form,
        errors=errors,
        kinds=[(k, _(label)) for k, label in ACTION_LABELS.items()],
    )
    return body, status


def log(contact_id: int) -> Any:
    """GET: the composer alone; POST: log a call, a meeting note, an e-mail or a note about the contact."""
    crm = g.crm
    crm.authz.require("warehouse.actions.create")
    if request.method == "GET":
        kind = request.args.get("kind", "call")
        form = dict.fromkeys(LOG_FIELDS, "")
        form["kind"] = kind if kind in ACTION_LABELS else "call"
        _contact_name(crm, contact_id)
        return _render_log(contact_id, form, {})
    form = {name: request.form.get(name, "") for name in LOG_FIELDS}
    errors: dict[str, str] = {}
    if form["kind"] not in ACTION_LABELS:
        errors["kind"] = _("Choose what to log from the menu.")
    if not form["subject"].strip() and not form["body"].strip():
        errors["subject"] = _("Write a subject or some text: what was said, what was agreed.")
    when = None
    if form["occurred_at"].strip():
        try:
            local = dt.datetime.fromisoformat(form["occurred_at"].strip())
        except ValueError:
            errors["occurred_at"] = _("Write when it happened as 2026-03-02 10:00, or leave it empty for now.")
        else:
            when = local.replace(tzinfo=user_timezone(crm)) if local.tzinfo is None else local
            if when > crm.now() + dt.timedelta(minutes=5):
                errors["occurred_at"] = _("That is in the future: log it once it has happened.")
    if errors:
        return _render_log(contact_id, form, errors, 400)
    try:
        api().actions.log(
            form["kind"],
            contact_id=contact_id,
            subject=form["subject"].strip(),
            body=form["body"].strip(),
            occurred_at=when,
        )
    except CRMError as exc:
        if isinstance(exc, (NotFoundError, PermissionDenied)):
            raise
        return _render_log(contact_id, form, {"subject": str(exc)}, 400)
    label = ACTION_LABELS[form["kind"]]
    flask.flash(_("Logged: %(what)s", what=_(label)), "success")
    return back(flask.url_for("warehouse.timeline", contact_id=contact_id))


# -- the contact card's panels ----------------------------------------------------------------


def history_panel(crm: Any, contact_id: int) -> Markup:
    """The newest entries of the contact's timeline, the composer, the kind filter and the as-of form."""
    warehouse = crm.plugin("warehouse")
    entries = warehouse.timeline(contact_id, limit=PANEL_ENTRIES)
    html = flask.render_template(
        "warehouse/_history_panel.html",
        contact_id=contact_id,
        entries=entries,
        type_label=_type_label,
        describe=_describer(crm, entries),
        kind_options=[(k, _(label)) for k, label in KIND_LABELS.items()],
        action_kinds=[(k, _(label)) for k, label in ACTION_LABELS.items()],
        may_log=crm.authz.can("warehouse.actions.create"),
        more=len(entries) >= PANEL_ENTRIES,
        **helpers(),
    )
    return Markup(html)
