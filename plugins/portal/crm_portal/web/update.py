"""The self-service update flow: form → preview of the changes → confirmation → done.

The link's token (``/contacts/update?token=…``) names the contact and the
fields; every step asks the contacts plugin to check it again, so a token
that expires or is used meanwhile is refused at the step where it happens.
The preview hands the exact changes it showed to the confirmation step,
signed and bound to the token, so what is applied is what was shown.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import flask
from flask import g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from crm_core.errors import ConfigError, ValidationError
from crm_hookspecs.apis import ContactsSelfService
from crm_portal.i18n import N_
from crm_portal.i18n import gettext as _
from crm_portal.web import contact_form
from crm_portal.web.app import set_language
from crm_portal.web.render import error_page, link_refused, page
from crm_portal.web.security import rate_limit

__all__ = ["register"]

log = logging.getLogger("crm.portal")

#: how long a preview may wait for its confirmation
PREVIEW_MAX_AGE = 3600


def register(blueprint: flask.Blueprint) -> None:
    blueprint.add_url_rule("/contacts/update", "update", update_view, methods=["GET", "POST"])


def _serializer() -> URLSafeTimedSerializer:
    from crm_portal.links import derive_key

    return URLSafeTimedSerializer(derive_key(g.site.key, "update-preview"), salt="crm-portal-update")


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


def update_view() -> Any:
    token = request.args.get("token", "")
    contacts = g.crm.plugin("contacts", ContactsSelfService)
    try:
        form = contacts.inspect_update_token(token)
    except ValidationError as exc:
        return link_refused(exc, "update")
    except ConfigError as exc:  # no secret to check links with: the operator's to fix, not the customer's
        log.error("portal: the update form cannot check links: %s", exc)
        return error_page(
            503, _("Not available right now"), _("This page is not available at the moment. Please try again later.")
        )
    language = form.current.get("language") if "language" in form.fields else g.site.contact_language(form.contact_id)
    set_language(language)
    if request.method == "GET":
        return _form_page(form, contact_form.initial_values(form.fields, form.current))
    rate_limit("update")
    action = request.form.get("action", "preview")
    if action in ("confirm", "edit"):
        changes = _previewed(token)
        if changes is None:
            return error_page(
                400,
                _("This confirmation has expired"),
                _(
                    "The changes you previewed could not be read back (the page was changed or left open too long). Please fill in the form again."
                ),
                back=flask.url_for("portal.update", token=token),
            )
        if action == "edit":
            return _form_page(form, {**contact_form.initial_values(form.fields, form.current), **changes})
        return _submit(token, form, changes)
    return _preview(token, form)


def _offered_languages(form: Any) -> dict[str, str]:
    from crm_portal.i18n import language_names

    offered = dict(language_names(g.site.settings.languages))
    current = form.current.get("language")
    if current and current not in offered:
        offered[current] = language_names([current]).get(current, current)
    return offered


def _form_page(
    form: Any,
    values: dict[str, Any],
    problems: dict[str, Any] | None = None,
    status: int = 200,
    notice: str | None = None,
) -> Any:
    messages = {key: _(text, **params) for key, (text, params) in (problems or {}).items()}
    labels = {
        key: _(contact_form.LABELS.get(key.split("-", 1)[0], ""))
        for key in messages
        if key.split("-", 1)[0] in contact_form.LABELS
    }
    return page(
        "portal/update/form.html",
        status=status,
        form=form,
        fields=form.fields,
        values=values,
        problems=messages,
        notice=notice,
        languages=_offered_languages(form),
        labels=labels,
        f=contact_form,
    )


def _preview(token: str, form: Any) -> Any:
    contacts = g.crm.plugin("contacts", ContactsSelfService)
    outside = contact_form.out_of_scope(request.form, form.fields)
    if outside:
        return error_page(403, _("This is not allowed"), _("This link does not let you change that."))
    values, changes, problems = contact_form.parse(
        form.fields, request.form, tuple(_offered_languages(form)), form.current
    )
    if problems:
        return _form_page(form, values, problems, status=400)
    if not changes:
        return _form_page(form, values, notice=_("You have not changed anything yet."))
    try:
        preview = contacts.preview_update(token, changes)
    except ValidationError as exc:
        if getattr(exc, "code", None) == "invalid":
            return _form_page(form, values, _invalid(exc), status=400)
        return link_refused(exc, "update")
    if not preview.changes:
        return _form_page(form, values, notice=_("You have not changed anything yet."))
    payload = _serializer().dumps({"t": _token_id(token), "c": changes})
    names = _offered_languages(form)
    rows = [
        {
            "label": _(contact_form.LABELS.get(field, field)),
            "old": contact_form.describe(field, change.old, names),
            "new": contact_form.describe(field, change.new, names),
        }
        for field, change in sorted(preview.changes.items(), key=lambda item: _order(item[0]))
    ]
    return page("portal/update/preview.html", form=form, rows=rows, payload=payload, mode=preview.mode)


def _order(field: str) -> int:
    """The form's order for the preview's rows (a derived name after the names it follows)."""
    order = ("first_name", "last_name", "display_name", *contact_form.ALL_FIELDS)
    return order.index(field) if field in order else len(order)


def _invalid(exc: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    field = getattr(exc, "field", "") or ""
    return {field: (N_("Please check this: %(reason)s"), {"reason": getattr(exc, "reason", str(exc))})}


def _previewed(token: str) -> dict[str, Any] | None:
    try:
        data = _serializer().loads(request.form.get("payload", ""), max_age=PREVIEW_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("t") != _token_id(token) or not isinstance(data.get("c"), dict):
        return None
    content: dict[str, Any] = data["c"]
    return content


def _submit(token: str, form: Any, changes: dict[str, Any]) -> Any:
    contacts = g.crm.plugin("contacts", ContactsSelfService)
    try:
        result = contacts.submit_update(token, changes)
    except ValidationError as exc:
        if getattr(exc, "code", None) == "invalid":
            return _form_page(
                form, {**contact_form.initial_values(form.fields, form.current), **changes}, _invalid(exc), status=400
            )
        return link_refused(exc, "update")
    return page("portal/update/done.html", result=result, form=form)
