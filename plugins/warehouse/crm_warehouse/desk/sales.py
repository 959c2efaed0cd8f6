"""The sales records' pages: the list, a record, new and edit forms, closing as won or lost, and the contact's deals panel.

Requests for proposal and quotation, appointments, quotes and sales are
one kind of record (``crm.plugin("warehouse").sales``) moving through the
pipeline's stages. Every page calls the API as the signed-in user: a seller
sees and changes only their own records (their ``warehouse.sales.*``
scope), another seller's record is a 404. A refused value comes back beside
its field (``400``) with everything typed kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import flask
from flask import g, request
from markupsafe import Markup
from werkzeug.exceptions import BadRequest

from crm_core.errors import CRMError, NotFoundError, PermissionDenied
from crm_core.i18n import gettext as _
from crm_warehouse.desk.common import (
    KIND_LABELS,
    api,
    back,
    contact_names,
    helpers,
    kind_label,
    owner_names,
    stage_label,
)
from crm_warehouse.desk.picker import Pick, pick, picked

__all__ = ["close_sale", "deals_panel", "edit_sale", "new_sale", "sale_page", "sales_list"]

#: records per page of the list
PAGE = 50
#: the most records the contact panel lists
PANEL_LIMIT = 10
FIELDS = ("kind", "contact_id", "title", "amount", "currency", "owner", "expected_close_on", "stage", "description")
#: words of the plugin's refusals, and the field each is about (the title when none matches)
_FIELD_WORDS = (
    ("currency", "currency"),
    ("amount", "amount"),
    ("expected close", "expected_close_on"),
    ("contact", "contact_query"),
    ("owner", "owner"),
    ("stage", "stage"),
    ("kind", "kind"),
    ("description", "description"),
)


def _field_of(message: str) -> str:
    for word, field in _FIELD_WORDS:
        if message.startswith(word) or f" {word}" in message[:40]:
            return field
    return "title"


# -- the list ---------------------------------------------------------------------------


def _arg(name: str, allowed: Any = None) -> str | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if allowed is not None and value not in allowed:
        raise BadRequest(f"?{name}={value!r} is not one of {', '.join(allowed)}")
    return value


def sales_list() -> Any:
    """Sales records in the user's scope, newest first, filtered by kind, stage, outcome, owner and contact; paged by a cursor."""
    crm = g.crm
    sales = api().sales
    pipeline = sales.pipeline
    filters = {
        "kind": _arg("kind", KIND_LABELS),
        "stage": _arg("stage", pipeline.stages),
        "outcome": _arg("outcome", ("open", "won", "lost")),
        "owner": _arg("owner"),
    }
    contact = request.args.get("contact_id", "").strip()
    if contact and not contact.isdigit():
        raise BadRequest(f"?contact_id={contact!r} is not a contact number")
    filters["contact_id"] = contact or None
    cursor = request.args.get("before", "").strip()
    if cursor and not cursor.isdigit():
        raise BadRequest(f"?before={cursor!r} is not a record number; follow the “Older” link")
    query = {k: v for k, v in filters.items() if k != "contact_id"}
    records = sales.list(
        limit=PAGE + 1, before_id=int(cursor) if cursor else None, contact_id=int(contact) if contact else None, **query
    )
    more = len(records) > PAGE
    records = records[:PAGE]
    return flask.render_template(
        "warehouse/sales.html",
        records=records,
        filters={k: v or "" for k, v in filters.items()},
        kinds=[("", _("Every kind"))] + [(k, kind_label(k)) for k in KIND_LABELS],
        stages=[("", _("Every stage"))] + [(s, stage_label(s)) for s in pipeline.stages],
        outcomes=[("", _("Open, won and lost")), ("open", _("Open")), ("won", _("Won")), ("lost", _("Lost"))],
        contacts=contact_names(crm, (r.contact_id for r in records)),
        next_cursor=records[-1].id if more else None,
        may_create=crm.authz.can("warehouse.sales.create"),
    )


# -- one record -----------------------------------------------------------------------------


def sale_page(sale_id: int) -> Any:
    """A record: its details, its way through the pipeline, its notes and documents (with an upload form); move, close, edit."""
    return _sale_page(sale_id)


def _sale_page(sale_id: int, *, status: int = 200) -> Any:
    crm = g.crm
    warehouse = api()
    sale = warehouse.sales.get(sale_id)
    pipeline = warehouse.sales.pipeline
    notes = warehouse.actions.list(sale_id=sale.id, limit=20) if crm.authz.can("warehouse.actions.read") else []
    documents = warehouse.documents.list(sale_id=sale.id, limit=20) if crm.authz.can("warehouse.documents.read") else []
    # the notes and documents listed are the newest 20 (a deal rarely has more; the contact's timeline has them all)
    body = flask.render_template(
        "warehouse/sale.html",
        sale=sale,
        moves=warehouse.sales.moves(sale.id),
        notes=notes,
        documents=documents,
        contact_name=contact_names(crm, [sale.contact_id]).get(sale.contact_id),
        owners=owner_names(crm, [sale.owner]),
        may_edit=crm.authz.can("warehouse.sales.edit", record_owner=sale.owner),
        may_read_documents=crm.authz.can("warehouse.documents.read"),
        may_upload=crm.authz.can("warehouse.documents.create"),
        max_mb=crm.settings("warehouse").max_document_mb,
        closed=pipeline.is_closed(sale.stage),
        open_stages=[(s, stage_label(s)) for s in pipeline.open_stages],
        won_stage=pipeline.won_stage,
        lost_stage=pipeline.lost_stage,
    )
    return body, status


# -- new and edit ----------------------------------------------------------------------------


def _render_form(
    form: dict[str, str], errors: dict[str, str], *, sale: Any = None, picker: Pick | None = None, status: int = 200
) -> Any:
    pipeline = api().sales.pipeline
    if picker is not None and "contact_query" in errors:
        picker = attrs.evolve(picker, error=errors["contact_query"])
    body = flask.render_template(
        "warehouse/sale_form.html",
        form=form,
        errors=errors,
        sale=sale,
        kinds=[(k, kind_label(k)) for k in KIND_LABELS],
        stages=[(s, stage_label(s)) for s in pipeline.open_stages],
        picker=picker,
    )
    return body, status


def _check(form: dict[str, str], *, new: bool) -> dict[str, str]:
    """The refusals the page can tell before asking the plugin, in the user's language."""
    errors: dict[str, str] = {}
    if form["kind"] not in KIND_LABELS:
        errors["kind"] = _("Choose a kind from the menu.")
    if new:
        contact = form["contact_id"].strip()
        if not contact:
            errors["contact_query"] = _("Write the contact's number: a deal is always someone's.")
        elif not contact.isdigit() or int(contact) < 1:
            errors["contact_query"] = _("Write the contact's number, such as 42.")
    if form["expected_close_on"].strip():
        try:
            dt.date.fromisoformat(form["expected_close_on"].strip())
        except ValueError:
            errors["expected_close_on"] = _("Write the date as 2026-03-31, or leave it empty.")
    return errors


def new_sale() -> Any:
    """GET: the form (``?contact_id=`` chooses the contact, ``?kind=`` the kind); POST: record it, or show what to fix.

    The contact is picked by name (:mod:`~crm_warehouse.desk.picker`); without the contacts plugin, by number.
    """
    crm = g.crm
    crm.authz.require("warehouse.sales.create")
    sales = api().sales
    by_name = crm.has_plugin("contacts")
    if request.method == "GET":
        kind = request.args.get("kind", "sale")
        form = dict.fromkeys(FIELDS, "")
        form.update(kind=kind if kind in KIND_LABELS else "sale", owner=g.user.name)
        form["currency"] = sales.settings.default_currency
        form["stage"] = sales.pipeline.first_stage
        contact = request.args.get("contact_id", "").strip()
        if contact.isdigit():
            form["contact_id"] = contact
        picker = (picked(int(contact)) if contact.isdigit() else Pick()) if by_name else None
        return _render_form(form, {}, picker=picker)
    form = {name: request.form.get(name, "") for name in FIELDS}
    picker = pick(request.form) if by_name else None
    if picker is not None:
        form["contact_id"] = "" if picker.chosen is None else str(picker.chosen)
    errors = _check(form, new=picker is None)
    if picker is not None and picker.error:
        errors["contact_query"] = picker.error
    if errors:
        return _render_form(form, errors, picker=picker, status=400)
    unknown = _(
        "There is no contact %(id)s that you may see; check the number on the contact's card.", id=form["contact_id"]
    )
    try:
        sale = sales.add(
            form["kind"],
            int(form["contact_id"]),
            title=form["title"].strip(),
            amount=form["amount"].strip() or "0",
            currency=form["currency"].strip() or None,
            owner=form["owner"].strip() or None,
            stage=form["stage"].strip() or None,
            expected_close_on=form["expected_close_on"].strip() or None,
            description=form["description"].strip(),
        )
    except NotFoundError:
        return _render_form(form, {"contact_query": unknown}, picker=picker, status=400)
    except PermissionDenied as exc:
        if not crm.authz.can("warehouse.sales.create"):
            raise
        if exc.permission == "contacts.read":
            return _render_form(form, {"contact_query": unknown}, picker=picker, status=400)
        return _render_form(form, {"owner": str(exc)}, picker=picker, status=400)
    except CRMError as exc:
        return _render_form(form, {_field_of(str(exc)): str(exc)}, picker=picker, status=400)
    flask.flash(_("Deal recorded: %(title)s", title=sale.title or f"#{sale.id}"), "success")
    return flask.redirect(flask.url_for("warehouse.sale", sale_id=sale.id), 303)


def edit_sale(sale_id: int) -> Any:
    """GET: the record's details in a form; POST: change them (the stage moves on the record's page)."""
    crm = g.crm
    sales = api().sales
    sale = sales.get(sale_id)
    crm.authz.require("warehouse.sales.edit", record_owner=sale.owner)
    if request.method == "GET":
        form = {
            "kind": sale.kind,
            "contact_id": str(sale.contact_id),
            "title": sale.title,
            "amount": str(sale.amount),
            "currency": sale.currency,
            "owner": sale.owner or "",
            "expected_close_on": sale.expected_close_on.isoformat() if sale.expected_close_on else "",
            "stage": sale.stage,
            "description": sale.description,
        }
        return _render_form(form, {}, sale=sale)
    form = {name: request.form.get(name, "") for name in FIELDS}
    form["contact_id"], form["stage"] = str(sale.contact_id), sale.stage
    errors = _check(form, new=False)
    if errors:
        return _render_form(form, errors, sale=sale, status=400)
    try:
        sales.update(
            sale_id,
            kind=form["kind"],
            title=form["title"].strip(),
            amount=form["amount"].strip() or "0",
            currency=form["currency"].strip() or sale.currency,
            owner=form["owner"].strip() or None,
            expected_close_on=form["expected_close_on"].strip() or None,
            description=form["description"].strip(),
        )
    except CRMError as exc:
        if isinstance(exc, NotFoundError):
            raise
        return _render_form(form, {_field_of(str(exc)): str(exc)}, sale=sale, status=400)
    flask.flash(_("Changes saved."), "success")
    return flask.redirect(flask.url_for("warehouse.sale", sale_id=sale_id), 303)


# -- closing -----------------------------------------------------------------------------------


def close_sale(sale_id: int) -> Any:
    """GET: the form to close as won or lost (a reason for lost); POST: close it, or show what to fix."""
    crm = g.crm
    sales = api().sales
    sale = sales.get(sale_id)
    crm.authz.require("warehouse.sales.edit", record_owner=sale.owner)
    source = request.form if request.method == "POST" else request.args
    outcome = source.get("outcome", "won")
    form = {"outcome": outcome, "lost_reason": source.get("lost_reason", ""), "next": source.get("next", "")}
    if request.method == "GET":
        return _render_close(sale, form, {})
    errors: dict[str, str] = {}
    if outcome not in ("won", "lost"):
        errors["outcome"] = _("Choose won or lost.")
    reason = form["lost_reason"].strip()
    if outcome == "lost" and not reason and sales.settings.require_lost_reason:
        errors["lost_reason"] = _("Say why the deal was lost: the pipeline's settings ask for a reason.")
    if outcome == "won" and reason:
        errors["lost_reason"] = _("A reason is for a lost deal; leave it empty, or choose lost.")
    if errors:
        return _render_close(sale, form, errors, status=400)
    try:
        sale = sales.close(sale_id, won=outcome == "won", lost_reason=reason or None)
    except CRMError as exc:
        if isinstance(exc, (NotFoundError, PermissionDenied)):
            raise
        return _render_close(sale, form, {"outcome": str(exc)}, status=400)
    message = _("Won: %(title)s") if outcome == "won" else _("Lost: %(title)s")
    flask.flash(message % {"title": sale.title or f"#{sale.id}"}, "success")
    return back(flask.url_for("warehouse.sale", sale_id=sale_id))


def _render_close(sale: Any, form: dict[str, str], errors: dict[str, str], *, status: int = 200) -> Any:
    body = flask.render_template(
        "warehouse/close.html",
        sale=sale,
        form=form,
        errors=errors,
        outcomes=[("won", _("Won")), ("lost", _("Lost"))],
    )
    return body, status


# -- the contact card's panel ----------------------------------------------------------------------


def deals_panel(crm: Any, contact_id: int) -> Markup:
    """The contact's sales records that the user may read, newest first, and a link to record a new one."""
    sales = crm.plugin("warehouse").sales.list(contact_id=contact_id, limit=PANEL_LIMIT)
    html = flask.render_template(
        "warehouse/_deals_panel.html",
        sales=sales,
        contact_id=contact_id,
        more=len(sales) >= PANEL_LIMIT,
        may_create=crm.authz.can("warehouse.sales.create"),
        **helpers(),
    )
    return Markup(html)
