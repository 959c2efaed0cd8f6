"""A contact's personal data from its card: the export as JSON and the erasure (imported by the views: Flask).

Through ``crm.plugin("contacts")`` as the signed-in user: the export needs
``contacts.export`` on the contact and gathers what every enabled plugin
holds (``export_personal_data``, as ``crm contacts export-personal-data``);
the erasure needs ``contacts.erase`` on it and asks for the contact's name
to be typed first (``erase``, as ``crm contacts erase``). A contact out of
the user's scope is a 404.
"""

from __future__ import annotations

import json
from typing import Any

import flask
from flask import abort, g, redirect, request, url_for

from crm_core.cli.helpers import to_json
from crm_core.errors import NotFoundError, PermissionDenied, ValidationError
from crm_core.i18n import gettext as _

__all__ = ["erase", "personal_data"]


def _read(contact_id: int) -> Any:
    try:
        return g.crm.plugin("contacts").get(contact_id)
    except (NotFoundError, PermissionDenied):
        abort(404)


def _require(permission: str, what: str) -> None:
    if not g.crm.authz.can(permission):
        raise PermissionDenied(f"{permission}: {what} needs this permission")


def personal_data(contact_id: int) -> Any:
    """Everything every enabled plugin holds about the contact, as a JSON download (GDPR article 15)."""
    _require("contacts.export", "exporting a contact's personal data")
    contact = _read(contact_id)
    data = g.crm.plugin("contacts").export_personal_data(contact.id)
    text = json.dumps(to_json(data), indent=2, ensure_ascii=False, default=str) + "\n"
    answer = flask.Response(text, mimetype="application/json; charset=utf-8")
    answer.headers["Content-Disposition"] = f'attachment; filename="contact-{contact.id}-personal-data.json"'
    return answer


def erase(contact_id: int) -> Any:
    """GET: what an erasure does and a field for the contact's name; POST: the erasure, once the name matches."""
    _require("contacts.erase", "erasing a contact")
    contact = _read(contact_id)
    if contact.erased_at is not None:
        flask.flash(_("%(name)s was erased already.", name=contact.display_name), "error")
        return redirect(url_for("contacts.card", contact_id=contact.id), 303)
    if request.method == "GET":
        return flask.render_template("contacts/erase.html", contact=contact, typed="", error=None)
    typed = request.form.get("name", "").strip()
    if " ".join(typed.split()) != " ".join(contact.display_name.split()):
        error = _("Type the contact's name exactly as shown: %(name)s", name=contact.display_name)
        return flask.render_template("contacts/erase.html", contact=contact, typed=typed, error=error), 422
    try:
        g.crm.plugin("contacts").erase(contact.id)
    except ValidationError as exc:
        return flask.render_template("contacts/erase.html", contact=contact, typed=typed, error=str(exc)), 422
    flask.flash(_("The personal data of contact %(id)s was erased everywhere.", id=contact.id), "success")
    return redirect(url_for("contacts.card", contact_id=contact.id), 303)
