"""The contacts pages of the desk (imported only when the desk builds its app: this module imports Flask).

Every page calls ``crm.plugin("contacts")`` as the signed-in user (the desk
runs each request as the user), so a seller sees, counts, finds and changes
only the contacts of their scope. A contact out of the user's scope is
answered like an unknown one: 404.
"""

from __future__ import annotations

import re
from typing import Any

import flask
from flask import abort, g, redirect, request, url_for
from markupsafe import Markup

from crm_contacts.book import SORTS
from crm_contacts.normalize import KINDS, STATUSES
from crm_core.errors import NotFoundError, PermissionDenied, ValidationError
from crm_core.i18n import N_, translated
from crm_core.i18n import gettext as _

__all__ = ["blueprint", "recent_widget"]

#: contacts per page of the list
PAGE = 50
#: the list's filters (GET parameters), in the order their chips are shown, with their labels
FILTERS = {
    "status": N_("Status"),
    "owner": N_("Owner"),
    "region": N_("Region"),
    "country": N_("Country"),
    "tag": N_("Tag"),
    "list": N_("Mailing list"),
}
#: the custom-field filter's GET parameters: the field's name and the value it must have
CUSTOM = ("field", "value")
STATUS_LABELS = {"prospect": N_("Prospect"), "customer": N_("Customer"), "former": N_("Former customer")}
STATUS_TONES = {"prospect": "accent", "customer": "success", "former": "neutral"}
KIND_LABELS = {"person": N_("Person"), "organization": N_("Organization")}
#: the list's columns: (key, heading, sort key or None)
COLUMNS = (
    ("name", N_("Name"), "name"),
    ("organization", N_("Organization"), None),
    ("email", N_("E-mail"), None),
    ("phone", N_("Phone"), None),
    ("status", N_("Status"), "status"),
    ("owner", N_("Owner"), "owner"),
    ("region", N_("Region"), "region"),
)
#: the form's fields, as the API names them (e-mail and phone are the primary ones)
FORM_FIELDS = (
    "kind",
    "first_name",
    "last_name",
    "display_name",
    "title",
    "organization_id",
    "email",
    "phone",
    "status",
    "owner",
    "region",
    "country",
    "tags",
    "notes",
)
_FIELD_ERROR = re.compile(r"^contact field '([a-z_]+)': (.*)$", re.S)
_ORGANIZATION_ERROR = re.compile(r"^(?:organization_id \S+: |contact \d+ cannot be its own organization)")
#: the API's field names that a form field shows the error of
_FORM_NAME = {"emails": "email", "phones": "phone"}


def _api() -> Any:
    return g.crm.plugin("contacts")


def _read(contact_id: int) -> Any:
    """The contact, or 404 when there is none or it is out of the user's scope (the same answer for both)."""
    try:
        return _api().get(contact_id)
    except (NotFoundError, PermissionDenied):
        abort(404)


def _can(permission: str) -> bool:
    return bool(g.crm.authz.can(permission))


# -- the list ------------------------------------------------------------------


def _query(source: Any = None) -> dict[str, str]:
    """The list's GET parameters that are set (or ``source``'s: a form): q, the filters, sort, page and deleted."""
    source = request.args if source is None else source
    out = {}
    for name in ("q", *FILTERS, *CUSTOM, "sort", "page", "deleted"):
        value = str(source.get(name, "")).strip()
        if value:
            out[name] = value[:300]
    return out


def _link(current: dict[str, str], **changes: Any) -> str:
    """The list's address with ``changes`` (``None`` drops a parameter); any change but the page's goes to page 1."""
    values: dict[str, Any] = dict(current)
    if "page" not in changes:
        values.pop("page", None)
    for name, value in changes.items():
        if value is None:
            values.pop(name, None)
        else:
            values[name] = str(value)
    return url_for("contacts.index", **values)


def _export_link(current: dict[str, str], kind: str) -> str:
    """The export's address with the list's search and filters (not its page)."""
    values: dict[str, Any] = {k: v for k, v in current.items() if k != "page"}
    return url_for("contacts.export", format=kind, **values)


def search_filters(current: dict[str, str]) -> dict[str, Any]:
    """The API's filters (``search``, ``export_csv``, segments) for the list's GET parameters, ``q`` as ``query``.

    Raises :class:`ValidationError` when only one of the custom field's name and value is given.
    """
    filters: dict[str, Any] = {name: current[name] for name in FILTERS if name in current}
    if "field" in current or "value" in current:
        if not ("field" in current and "value" in current):
            raise ValidationError(_("Custom field: give both the field's name and the value it must have."))
        filters["custom"] = {current["field"]: current["value"]}
    if current.get("q"):
        filters["query"] = current["q"]
    return filters


def _filtered_link(endpoint: str, current: dict[str, str]) -> str:
    """``endpoint``'s address with the list's search and filters (not its page, sort or deleted)."""
    values: dict[str, Any] = {k: v for k, v in current.items() if k not in ("page", "sort", "deleted")}
    return url_for(endpoint, **values)


#: how far the list counts its matches before it says "10,000+"
COUNT_UP_TO = 10_000
#: how far a search by name, e-mail or phone counts its matches before it says "1,000+"
SEARCH_COUNT_UP_TO = 1_000


def _listing() -> dict[str, Any]:
    """What the list and its partial show: the page of contacts, the counts, the chips, the links."""
    from crm_contacts.desk.mailing import segment_links

    current = _query()
    sort = current.get("sort", "name")
    if sort.removeprefix("-") not in SORTS:
        sort = "name"
    try:
        number = max(1, min(int(current.get("page", "1")), 10_000))
    except ValueError:
        number = 1
    filters = {name: current[name] for name in FILTERS if name in current}
    error = None
    found = None
    try:
        found = _api().search(
            limit=PAGE,
            offset=(number - 1) * PAGE,
            include_deleted=current.get("deleted") == "1",
            sort=sort,
            # "10,000+" on a large book rather than a COUNT of every row; a search ("garcía" among a million)
            # counts up to 1,000: what a person reads of it, and a tenth of the joins
            count=SEARCH_COUNT_UP_TO if current.get("q") else COUNT_UP_TO,
            **search_filters(current),
        )
    except ValidationError as exc:
        error = str(exc)
    chips = [
        {"label": _(FILTERS[name]), "value": value, "remove": _link(current, **{name: None})}
        for name, value in filters.items()
    ]
    if "field" in current or "value" in current:
        chips.append(
            {
                "label": current.get("field", _("Custom field")),
                "value": current.get("value", ""),
                "remove": _link(current, field=None, value=None),
            }
        )
    if current.get("q"):
        chips.insert(0, {"label": _("Search"), "value": current["q"], "remove": _link(current, q=None)})
    if current.get("deleted") == "1":
        chips.append({"label": _("Deleted"), "value": _("shown"), "remove": _link(current, deleted=None)})
    columns = []
    for key, heading, sort_key in COLUMNS:
        link = None
        direction = None
        if sort_key:
            if sort.removeprefix("-") == sort_key:
                direction = "descending" if sort.startswith("-") else "ascending"
            link = _link(current, sort=f"-{sort_key}" if sort == sort_key else sort_key)
        columns.append({"key": key, "heading": _(heading), "link": link, "direction": direction})
    pages: dict[str, Any] = {}
    if found is not None:
        if number > 1:
            pages["previous"] = _link(current, page=number - 1)
        if found.has_more:
            pages["next"] = _link(current, page=number + 1)
    return {
        "found": found,
        "current": current,
        "filters": filters,
        "chips": chips,
        "columns": columns,
        "pages": pages,
        "error": error,
        "first": (found.offset + 1) if found and found.cards else 0,
        "last": (found.offset + len(found.cards)) if found else 0,
        "clear": url_for("contacts.index"),
        "statuses": [("", _("Any status"))] + [(s, _(STATUS_LABELS[s])) for s in STATUSES],
        "status_labels": {s: _(label) for s, label in STATUS_LABELS.items()},
        "status_tones": STATUS_TONES,
        "can_create": _can("contacts.create"),
        "can_import": _can("contacts.import"),
        "can_merge": _can("contacts.merge"),
        "can_review": _can("contacts.updates.review"),
        "can_export": _can("contacts.export"),
        "export_csv": _export_link(current, "csv"),
        "export_vcard": _export_link(current, "vcard"),
        "custom": {name: current.get(name, "") for name in CUSTOM},
        "segments": segment_links(),
        "can_lists": _can("contacts.lists.read"),
        "can_edit_lists": _can("contacts.lists.edit"),
        "add_these": _filtered_link("contacts.add_these", current),
        "save_segment": _filtered_link("contacts.save_segment", current),
    }


def index() -> Any:
    """The contacts list: search, filters as chips, sortable columns, paging and counts."""
    values = _listing()
    return flask.render_template("contacts/list.html", **values)


def results() -> Any:
    """The list's table, counts and pager alone: what search-as-you-type (htmx) swaps in."""
    return flask.render_template("contacts/_results.html", **_listing())


def export() -> Any:
    """The list's current filters exported (``format=csv`` or ``vcard``) as a download, in the ``contacts.export`` scope."""
    import io

    if not _can("contacts.export"):
        raise PermissionDenied("contacts.export: exporting contacts needs this permission")
    current = _query()
    kind = request.args.get("format", "csv")
    back = _link(current)
    if kind not in ("csv", "vcard"):
        flask.flash(_("Choose the export's format: CSV or vCard."), "error")
        return redirect(back, 303)
    out = io.StringIO()
    try:
        filters = search_filters(current)
        if kind == "csv":
            count = _api().export_csv(out, filters, include_deleted=current.get("deleted") == "1")
        else:
            count = _api().export_vcard(out, filters, include_deleted=current.get("deleted") == "1")
    except ValidationError as exc:
        flask.flash(_("Nothing was exported: %(problem)s", problem=str(exc)), "error")
        return redirect(back, 303)
    name, mimetype = ("contacts.csv", "text/csv") if kind == "csv" else ("contacts.vcf", "text/vcard")
    answer = flask.Response(out.getvalue(), mimetype=f"{mimetype}; charset=utf-8")
    answer.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    answer.headers["X-Contacts-Exported"] = str(count)
    return answer


# -- the card ------------------------------------------------------------------


def card(contact_id: int) -> Any:
    """A contact with everything kept about it, its organization and people, lists and the panels of other plugins."""
    from crm_contacts.desk.merges import merges_of

    contact = _read(contact_id)
    api = _api()
    can_merge = _can("contacts.merge")
    organization = None
    people: list[Any] = []
    if contact.kind == "organization":
        people = api.search(organization_id=contact.id, limit=20).cards
    elif contact.organization_id is not None:
        try:
            organization = api.card(contact.organization_id)
        except (NotFoundError, PermissionDenied):
            organization = None
        if organization is not None:
            people = [p for p in api.search(organization_id=organization.id, limit=21).cards if p.id != contact.id]
    return flask.render_template(
        "contacts/card.html",
        contact=contact,
        organization=organization,
        people=people,
        lists=api.lists_of(contact.id),
        status_label=_(STATUS_LABELS.get(contact.status, contact.status)),
        status_tone=STATUS_TONES.get(contact.status, "neutral"),
        statuses=[(s, _(STATUS_LABELS[s])) for s in STATUSES],
        can_edit=_can("contacts.edit"),
        can_delete=_can("contacts.delete"),
        can_export=_can("contacts.export"),
        can_erase=_can("contacts.erase"),
        can_merge=can_merge,
        can_lists=_can("contacts.lists.read"),
        can_edit_lists=_can("contacts.lists.edit"),
        merged_here=merges_of(contact) if can_merge else [],
    )


# -- forms ---------------------------------------------------------------------


def _form_values(contact: Any = None) -> dict[str, str]:
    """The form's values: the contact's (to edit), else a new contact's defaults."""
    if contact is None:
        return {name: "" for name in FORM_FIELDS} | {"kind": "person", "status": "prospect"}
    return {
        "kind": contact.kind,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "display_name": contact.display_name,
        "title": contact.title or "",
        "organization_id": "" if contact.organization_id is None else str(contact.organization_id),
        "email": contact.email or "",
        "phone": contact.phone or "",
        "status": contact.status,
        "owner": contact.owner or "",
        "region": contact.region or "",
        "country": contact.country or "",
        "tags": ", ".join(contact.tags),
        "notes": contact.notes or "",
    }


def _posted() -> dict[str, str]:
    return {name: request.form.get(name, "").strip() for name in FORM_FIELDS}


def _changes(posted: dict[str, str], contact: Any = None) -> dict[str, Any]:
    """The API's fields from the form. Empty optional fields are cleared on edit and left out on create."""
    fields: dict[str, Any] = {}
    for name in ("kind", "first_name", "last_name", "display_name", "title", "status", "region", "country", "notes"):
        fields[name] = posted[name] or None
    fields["owner"] = posted["owner"] or None
    organization = posted["organization_id"]
    if organization:
        fields["organization_id"] = int(organization) if organization.isdigit() else organization
    else:
        fields["organization_id"] = None
    fields["tags"] = [t.strip() for t in posted["tags"].split(",") if t.strip()]
    if contact is None:
        out = {k: v for k, v in fields.items() if v not in (None, [])}
        out.setdefault("kind", "person")
        if posted["email"]:
            out["email"] = posted["email"]
        if posted["phone"]:
            out["phone"] = posted["phone"]
        return out
    if fields["display_name"] is None:
        fields.pop("display_name")  # rebuilt from the names
    if fields["owner"] is None:
        fields.pop("owner")  # a contact keeps an owner
    if posted["email"] != (contact.email or ""):
        others = [{"address": e.address, "kind": e.kind} for e in contact.emails if not e.primary]
        fields["emails"] = (
            [{"address": posted["email"], "kind": "work", "primary": True}] if posted["email"] else []
        ) + others
    if posted["phone"] != (contact.phone or ""):
        others = [{"number": p.number, "kind": p.kind} for p in contact.phones if not p.primary]
        fields["phones"] = (
            [{"number": posted["phone"], "kind": "work", "primary": True}] if posted["phone"] else []
        ) + others
    changed = {}
    for name, value in fields.items():
        before = getattr(contact, name, None)
        if name == "tags":
            before = list(before or ())
        if value != before and not (value is None and before in ("", None)):
            changed[name] = value
    return changed


def field_errors(exc: ValidationError) -> tuple[dict[str, str], str | None]:
    """The API's message placed beside the form field it names; ``(errors, None)``, or ``({}, message)`` for the top."""
    message = str(exc)
    if exc.field is not None and exc.reason is not None:  # the reason in the user's language, where known
        name = _FORM_NAME.get(exc.field, exc.field)
        if name in FORM_FIELDS:
            return {name: translated(exc.reason)}, None
    match = _FIELD_ERROR.match(message)
    if match:
        name = _FORM_NAME.get(match.group(1), match.group(1))
        if name in FORM_FIELDS:
            return {name: match.group(2)}, None
    if _ORGANIZATION_ERROR.match(message):
        return {"organization_id": message}, None
    return {}, message


def _form(template_values: dict[str, Any], status: int = 200) -> Any:
    values = {
        "kinds": [(k, _(KIND_LABELS[k])) for k in KINDS],
        "statuses": [(s, _(STATUS_LABELS[s])) for s in STATUSES],
        "errors": {},
        "problem": None,
        **template_values,
    }
    contact = values["contact"]
    values["heading"] = _("Edit %(name)s", name=contact.display_name) if contact else _("Add a contact")
    return flask.render_template("contacts/form.html", **values), status


def new() -> Any:
    """Add a contact: the API's validation, its message beside the field, and nothing typed lost."""
    g.crm.authz.require("contacts.create")  # no form for a user who may not send it
    if request.method == "GET":
        return _form({"values": _form_values(), "contact": None})
    posted = _posted()
    try:
        created = _api().create(**_changes(posted))
    except ValidationError as exc:
        errors, problem = field_errors(exc)
        return _form({"values": posted, "contact": None, "errors": errors, "problem": problem}, 422)
    flask.flash(_("%(name)s was added.", name=created.display_name), "success")
    return redirect(url_for("contacts.card", contact_id=created.id), 303)


def edit(contact_id: int) -> Any:
    """Change a contact's details (``contacts.edit`` on it)."""
    contact = _read(contact_id)
    g.crm.authz.require("contacts.edit")  # no form for a user who may not send it (the scope is the API's)
    if request.method == "GET":
        return _form({"values": _form_values(contact), "contact": contact})
    posted = _posted()
    try:
        changes = _changes(posted, contact)
        if changes:
            _api().update(contact.id, **changes)
    except ValidationError as exc:
        errors, problem = field_errors(exc)
        return _form({"values": posted, "contact": contact, "errors": errors, "problem": problem}, 422)
    flask.flash(_("Saved.") if changes else _("Nothing changed."), "success")
    return redirect(url_for("contacts.card", contact_id=contact.id), 303)


def change_status(contact_id: int) -> Any:
    """Set a contact's status from the card (POST)."""
    contact = _read(contact_id)
    status = request.form.get("status", "")
    if status not in STATUSES:
        flask.flash(_("Choose a status: prospect, customer or former customer."), "error")
    elif status != contact.status:
        _api().update(contact.id, status=status)
        flask.flash(_("Status changed to %(status)s.", status=_(STATUS_LABELS[status])), "success")
    return redirect(url_for("contacts.card", contact_id=contact.id), 303)


def delete(contact_id: int) -> Any:
    """GET: the confirmation; POST: the soft delete (restore brings the contact back)."""
    contact = _read(contact_id)
    if request.method == "GET":
        return flask.render_template("contacts/delete.html", contact=contact)
    _api().delete(contact.id)
    flask.flash(_("%(name)s was deleted; restore it from its card.", name=contact.display_name), "success")
    return redirect(url_for("contacts.card", contact_id=contact.id), 303)


def restore(contact_id: int) -> Any:
    """Undo a soft delete (POST)."""
    contact = _read(contact_id)
    _api().restore(contact.id)
    flask.flash(_("%(name)s was restored.", name=contact.display_name), "success")
    return redirect(url_for("contacts.card", contact_id=contact.id), 303)


# -- the home widget -------------------------------------------------------------


def recent_widget(crm: Any) -> Any:
    """The five customers of the user's scope changed last, with when."""
    found = crm.plugin("contacts").search(status="customer", sort="-updated", limit=5)
    records = crm.plugin("contacts").records([c.id for c in found.cards]) if found.cards else {}
    rows = [(c, records.get(c.id)) for c in found.cards]
    return Markup(flask.render_template("contacts/_recent.html", rows=rows))


def blueprint() -> flask.Blueprint:
    """The contacts pages, mounted by the desk at ``/contacts``."""
    from crm_contacts.desk import imports, mailing, merges, privacy, review

    page = flask.Blueprint("contacts", __name__)
    page.add_url_rule("/", "index", index)
    page.add_url_rule("/results", "results", results)
    page.add_url_rule("/new", "new", new, methods=["GET", "POST"])
    page.add_url_rule("/<int:contact_id>", "card", card)
    page.add_url_rule("/<int:contact_id>/edit", "edit", edit, methods=["GET", "POST"])
    page.add_url_rule("/<int:contact_id>/status", "status", change_status, methods=["POST"])
    page.add_url_rule("/<int:contact_id>/delete", "delete", delete, methods=["GET", "POST"])
    page.add_url_rule("/<int:contact_id>/restore", "restore", restore, methods=["POST"])
    page.add_url_rule("/duplicates", "duplicates", merges.duplicates)
    page.add_url_rule("/merge", "merge", merges.merge, methods=["GET", "POST"])
    page.add_url_rule("/<int:contact_id>/unmerge", "unmerge", merges.unmerge, methods=["GET", "POST"])
    page.add_url_rule("/export", "export", export)
    page.add_url_rule("/<int:contact_id>/personal-data", "personal_data", privacy.personal_data)
    page.add_url_rule("/<int:contact_id>/erase", "erase", privacy.erase, methods=["GET", "POST"])
    page.add_url_rule("/review", "review", review.queue)
    page.add_url_rule("/lists/", "lists", mailing.lists_index)
    page.add_url_rule("/lists/new", "new_list", mailing.new_list, methods=["POST"])
    page.add_url_rule("/lists/<int:list_id>", "mailing_list", mailing.list_page)
    page.add_url_rule("/lists/<int:list_id>/remove", "remove_member", mailing.remove_member, methods=["POST"])
    page.add_url_rule("/lists/<int:list_id>/download", "list_download", mailing.list_download)
    page.add_url_rule("/segments/<int:segment_id>", "segment", mailing.segment_page)
    page.add_url_rule("/segments/<int:segment_id>/download", "segment_download", mailing.segment_download)
    page.add_url_rule("/segments/new", "save_segment", mailing.save_segment, methods=["GET", "POST"])
    page.add_url_rule("/add-to-list", "add_these", mailing.add_these, methods=["GET", "POST"])
    page.add_url_rule("/<int:contact_id>/lists", "add_to_list", mailing.add_from_card, methods=["GET", "POST"])
    page.add_url_rule("/review/<int:pending_id>/approve", "review_approve", review.approve, methods=["POST"])
    page.add_url_rule("/review/<int:pending_id>/reject", "review_reject", review.reject, methods=["POST"])
    imports.register(page)
    return page
