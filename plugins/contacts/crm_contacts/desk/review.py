"""The self-service review queue: what customers sent through their update links (imported by the views: Flask).

Through ``crm.plugin("contacts")`` as the signed-in user: the queue needs
``contacts.updates.review`` and holds only the changes of contacts the user
may read; approving also needs ``contacts.edit`` on the contact. A change
of a contact out of the user's scope is a 404.
"""

from __future__ import annotations

from typing import Any

import flask
from flask import abort, g, redirect, request, url_for

from crm_core.errors import NotFoundError, PermissionDenied, ValidationError
from crm_core.i18n import N_
from crm_core.i18n import gettext as _

__all__ = ["approve", "decide", "queue", "reject"]

REVIEW = "contacts.updates.review"
#: the labels of the fields a customer may change
FIELD_LABELS = {
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "display_name": N_("Name shown"),
    "title": N_("Job title"),
    "emails": N_("E-mails"),
    "phones": N_("Phones"),
    "addresses": N_("Addresses"),
    "language": N_("Language"),
    "birthday": N_("Birthday"),
    "website": N_("Website"),
    "do_not_contact": N_("Do not contact"),
}


def _api() -> Any:
    return g.crm.plugin("contacts")


def _require_review() -> None:
    if not g.crm.authz.can(REVIEW):
        raise PermissionDenied(f"{REVIEW}: reviewing the changes customers sent needs this permission")


def shown(value: Any) -> str:
    """A field's value as one line: e-mails, phones and addresses listed, nothing as an empty string."""
    if value in (None, "", [], {}):
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict):
                if "address" in item:
                    parts.append(str(item["address"]))
                elif "number" in item:
                    parts.append(str(item["number"]))
                else:
                    keys = ("street", "extra", "postal_code", "city", "region", "country")
                    parts.append(" ".join(str(item[k]) for k in keys if item.get(k)))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(value)


def _page(errors: dict[int, str] | None = None, notes: dict[int, str] | None = None, problem: str | None = None) -> Any:
    changes = _api().pending_updates()
    rows = [
        {
            "change": change,
            "diff": [
                (_(FIELD_LABELS[name]) if name in FIELD_LABELS else name, shown(diff.old), shown(diff.new))
                for name, diff in change.changes.items()
            ],
        }
        for change in changes
    ]
    return flask.render_template(
        "contacts/review.html", rows=rows, errors=errors or {}, notes=notes or {}, problem=problem
    )


def queue() -> Any:
    """The pending changes, oldest first, each with its diff (old → new per field) and approve / reject."""
    _require_review()
    return _page()


def decide(pending_id: int, verdict: str) -> Any:
    """Approve or reject one change (POST); a rejection needs a reason, which the customer's record keeps."""
    _require_review()
    api = _api()
    try:
        change = api.pending_update(pending_id)
    except (NotFoundError, PermissionDenied):
        abort(404)
    note = request.form.get("note", "").strip()
    if change.status != "pending":
        flask.flash(_("This change was already reviewed."), "error")
        return redirect(url_for("contacts.review"), 303)
    if len(note) > 500:
        return _page({change.id: _("Write at most 500 characters.")}, {change.id: note}), 422
    if verdict == "reject" and not note:
        return _page({change.id: _("Say why the change is rejected.")}, {change.id: note}), 422
    try:
        if verdict == "approve":
            api.approve_update(change.id, note=note)
        else:
            api.reject_update(change.id, note=note)
    except PermissionDenied:
        abort(404)  # approving needs contacts.edit on the contact: out of the user's scope
    except ValidationError as exc:
        return _page({}, {change.id: note}, problem=str(exc)), 422
    if verdict == "approve":
        flask.flash(_("The change to %(name)s was applied.", name=change.display_name), "success")
    else:
        flask.flash(_("The change to %(name)s was rejected.", name=change.display_name), "success")
    return redirect(url_for("contacts.review"), 303)


def approve(pending_id: int) -> Any:
    return decide(pending_id, "approve")


def reject(pending_id: int) -> Any:
    return decide(pending_id, "reject")
