"""Mailing lists and segments in the desk (imported by the views: Flask).

Through ``crm.plugin("contacts")`` as the signed-in user, with the API's
permissions: ``contacts.lists.read`` to see lists, segments and their
members (of the contacts the user may read), ``contacts.lists.edit`` to
create lists and segments and to add and remove members (each contact in
the user's scope: one out of it is a 404, as everywhere), and
``contacts.lists.send`` for the distribution list and label downloads (the
rows in the user's ``contacts.export`` scope). Lists and segments are named
in addresses by their id.
"""

from __future__ import annotations

import io
from typing import Any

import flask
from flask import abort, g, redirect, request, url_for

from crm_contacts.desk.views import (
    COUNT_UP_TO,
    FILTERS,
    PAGE,
    STATUS_LABELS,
    STATUS_TONES,
    _link,
    _query,
    _read,
    search_filters,
)
from crm_contacts.mailings import PdfUnavailable
from crm_core.errors import NotFoundError, PermissionDenied, ValidationError
from crm_core.i18n import N_
from crm_core.i18n import gettext as _

__all__ = [
    "add_from_card",
    "add_these",
    "download",
    "list_page",
    "lists_index",
    "new_list",
    "remove_member",
    "save_segment",
    "segment_links",
    "segment_page",
]

READ, EDIT, SEND = "contacts.lists.read", "contacts.lists.edit", "contacts.lists.send"
STATES = {
    "subscribed": (N_("Subscribed"), "success"),
    "unsubscribed": (N_("Unsubscribed"), "warning"),
    "do-not-contact": (N_("Do not contact"), "danger"),
    "deleted": (N_("Deleted"), "neutral"),
}
#: a segment's filters that the contacts list shows as GET parameters (a segment with others opens its own page)
_AS_PARAMETERS = {"query": "q", "status": "status", "owner": "owner", "region": "region", "country": "country"}


def _api() -> Any:
    return g.crm.plugin("contacts")


def _can(permission: str) -> bool:
    return bool(g.crm.authz.can(permission))


def _require(permission: str, what: str) -> None:
    if not _can(permission):
        raise PermissionDenied(f"{permission}: {what} needs this permission")


def _page_number() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        return 1


def _the_list(list_id: int) -> Any:
    """The list (with its counts, of the contacts the user may read), or 404."""
    found = next((info for info in _api().lists() if info.id == list_id), None)
    if found is None:
        abort(404)
    return found


def _the_segment(segment_id: int) -> Any:
    found = next((info for info in _api().segments() if info.id == segment_id), None)
    if found is None:
        abort(404)
    return found


def describe(filters: dict[str, Any]) -> list[tuple[str, str]]:
    """A segment's filters as (label, value) pairs, in the user's language where the list has a label."""
    labels = {**FILTERS, "query": N_("Search")}
    out: list[tuple[str, str]] = []
    for key, value in filters.items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if isinstance(value, dict):
            out.extend((str(k), str(v)) for k, v in value.items())
            continue
        out.append((_(labels[key]) if key in labels else key, str(value)))
    return out


def segment_address(segment: Any) -> str:
    """Where a segment's quick link goes: the contacts list with its filters, else the segment's page."""
    values: dict[str, Any] = {}
    for key, value in segment.filters.items():
        if key in _AS_PARAMETERS:
            values[_AS_PARAMETERS[key]] = str(value)
        elif key == "tag" and isinstance(value, list) and len(value) == 1:
            values["tag"] = value[0]
        elif key == "list":
            values["list"] = str(value)
        elif key == "custom" and isinstance(value, dict) and len(value) == 1:
            ((values["field"], values["value"]),) = value.items()
        else:
            return url_for("contacts.segment", segment_id=segment.id)
    return url_for("contacts.index", **values)


def segment_links() -> list[tuple[str, str]]:
    """The segments as (name, address) for the quick links above the contacts list; none without the permission."""
    if not _can(READ):
        return []
    return [(s.name, segment_address(s)) for s in _api().segments()]


# -- the lists and segments ---------------------------------------------------------


def _index(values: dict[str, str] | None = None, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    api = _api()
    segments = [(s, describe(s.filters)) for s in api.segments()]
    return flask.render_template(
        "contacts/lists.html",
        lists=api.lists(),
        segments=segments,
        values=values or {"name": "", "description": ""},
        errors=errors or {},
        can_edit=_can(EDIT),
    ), status


def lists_index() -> Any:
    """Every mailing list with its member and unsubscribed counts, every segment with its filters, and "New list"."""
    _require(READ, "seeing mailing lists")
    return _index()


def new_list() -> Any:
    """Create a static list (POST); the API's message beside the name, what was typed kept."""
    _require(EDIT, "creating mailing lists")
    values = {"name": request.form.get("name", "").strip(), "description": request.form.get("description", "").strip()}
    if len(values["description"]) > 500:
        return _index(values, {"description": _("Write at most 500 characters.")}, 422)
    try:
        created = _api().create_list(values["name"], values["description"])
    except ValidationError as exc:
        return _index(values, {"name": str(exc)}, 422)
    flask.flash(_("The list %(name)s was created.", name=created.name), "success")
    return redirect(url_for("contacts.mailing_list", list_id=created.id), 303)


def list_page(list_id: int) -> Any:
    """A list's members of the user's scope, 50 a page, with their state, and what a mailing would reach."""
    _require(READ, "seeing mailing lists")
    info = _the_list(list_id)
    api = _api()
    number = _page_number()
    members = api.list_members(info.name, limit=PAGE + 1, offset=(number - 1) * PAGE)
    pages = {}
    if number > 1:
        pages["previous"] = url_for("contacts.mailing_list", list_id=list_id, page=number - 1)
    if len(members) > PAGE:
        pages["next"] = url_for("contacts.mailing_list", list_id=list_id, page=number + 1)
    return flask.render_template(
        "contacts/mailing_list.html",
        info=info,
        members=members[:PAGE],
        first=(number - 1) * PAGE + 1,
        pages=pages,
        states={k: (_(label), tone) for k, (label, tone) in STATES.items()},
        reach=api.audience_report(f"list:{info.name}"),
        can_edit=_can(EDIT),
        downloads=_downloads("contacts.list_download", list_id=list_id),
    )


def remove_member(list_id: int) -> Any:
    """Take one contact off a list (POST; no unsubscribe is recorded). A contact out of scope is 404."""
    _require(EDIT, "changing mailing lists")
    info = _the_list(list_id)
    raw = request.form.get("contact_id", "")
    if not raw.isdigit():
        abort(404)
    contact = _read(int(raw))
    if _api().remove_from_list(info.name, [contact.id]):
        flask.flash(_("%(name)s was taken off %(list)s.", name=contact.display_name, list=info.name), "success")
    else:
        flask.flash(_("%(name)s was not on %(list)s.", name=contact.display_name, list=info.name), "error")
    return redirect(url_for("contacts.mailing_list", list_id=list_id), 303)


def segment_page(segment_id: int) -> Any:
    """A segment's filters and its current members (the filters applied through ``search``), 50 a page."""
    _require(READ, "seeing segments")
    segment = _the_segment(segment_id)
    number = _page_number()
    found = None
    error = None
    try:
        found = _api().search(limit=PAGE, offset=(number - 1) * PAGE, count=COUNT_UP_TO, **segment.filters)
    except (ValidationError, NotFoundError) as exc:
        error = str(exc)
    pages = {}
    if found is not None:
        if number > 1:
            pages["previous"] = url_for("contacts.segment", segment_id=segment_id, page=number - 1)
        if found.has_more:
            pages["next"] = url_for("contacts.segment", segment_id=segment_id, page=number + 1)
    return flask.render_template(
        "contacts/segment.html",
        segment=segment,
        described=describe(segment.filters),
        found=found,
        error=error,
        pages=pages,
        first=(number - 1) * PAGE + 1,
        status_labels={s: _(label) for s, label in STATUS_LABELS.items()},
        status_tones=STATUS_TONES,
        downloads=_downloads("contacts.segment_download", segment_id=segment_id),
    )


# -- downloads -------------------------------------------------------------------

#: what= a download's kind -> (file name, MIME type)
DOWNLOADS = {
    "csv": ("distribution.csv", "text/csv"),
    "addresses": ("addresses.txt", "text/plain"),
    "labels-csv": ("labels.csv", "text/csv"),
    "labels-pdf": ("labels.pdf", "application/pdf"),
}


def _downloads(endpoint: str, **source: Any) -> dict[str, str]:
    """The download links (what -> address) for a holder of ``contacts.lists.send``; none for anyone else."""
    if not _can(SEND):
        return {}
    return {what: url_for(endpoint, what=what, **source) for what in DOWNLOADS}


def download(kind: str, source_id: int) -> Any:
    """A list's or segment's distribution list (``what=csv`` or ``addresses``) or labels (``labels-csv``, ``labels-pdf``).

    Needs ``contacts.lists.send``; the rows are the audience of the user's
    ``contacts.export`` scope, less do-not-contact, unsubscribed and
    address-less contacts (counted in the ``X-Contacts-*`` headers).
    """
    _require(SEND, "downloading distribution lists and labels")
    if kind == "list":
        name = _the_list(source_id).name
        back = url_for("contacts.mailing_list", list_id=source_id)
    else:
        name = _the_segment(source_id).name
        back = url_for("contacts.segment", segment_id=source_id)
    what = request.args.get("what", "csv")
    if what not in DOWNLOADS:
        flask.flash(
            _("Choose what to download: a distribution list (CSV or addresses) or labels (CSV or PDF)."), "error"
        )
        return redirect(back, 303)
    api = _api()
    source = f"{kind}:{name}"
    try:
        if what == "labels-pdf":
            binary = io.BytesIO()
            counts = api.labels_pdf(source, binary)
            body: str | bytes = binary.getvalue()
        else:
            out = io.StringIO()
            if what == "labels-csv":
                counts = api.labels_csv(source, out)
            else:
                counts = api.distribution_list(source, out, what)
            body = out.getvalue()
    except PdfUnavailable:
        flask.flash(
            _(
                "PDF labels need the reportlab library, which is not installed here: ask your administrator to install it "
                "(pip install 'crm-contacts[pdf]'), or download the labels as CSV for a mail merge."
            ),
            "error",
        )
        return redirect(back, 303)
    except ValidationError as exc:
        flask.flash(_("Nothing was downloaded: %(problem)s", problem=str(exc)), "error")
        return redirect(back, 303)
    file_name, mimetype = DOWNLOADS[what]
    answer = flask.Response(body, mimetype=mimetype if what == "labels-pdf" else f"{mimetype}; charset=utf-8")
    answer.headers["Content-Disposition"] = f'attachment; filename="{file_name}"'
    answer.headers["X-Contacts-Written"] = str(counts.written)
    answer.headers["X-Contacts-Left-Out"] = (
        f"do-not-contact={counts.do_not_contact}; unsubscribed={counts.unsubscribed}; no-address={counts.no_address}"
    )
    return answer


def list_download(list_id: int) -> Any:
    return download("list", list_id)


def segment_download(segment_id: int) -> Any:
    return download("segment", segment_id)


# -- adding members ----------------------------------------------------------------


def _list_named(name: str) -> Any:
    return next((info for info in _api().lists() if info.name == name), None)


def add_these() -> Any:
    """The contacts list's current search and filters added to a list: GET shows how many and asks; POST adds."""
    _require(EDIT, "adding contacts to mailing lists")
    source = request.args if request.method == "GET" else request.form
    current = {k: v for k, v in _query(source).items() if k not in ("page", "sort", "deleted")}
    back = _link(current)
    api = _api()
    try:
        filters = search_filters(current)
        count = api.search(limit=1, count=True, **filters).total
    except ValidationError as exc:
        flask.flash(_("Nothing was added: %(problem)s", problem=str(exc)), "error")
        return redirect(back, 303)
    lists = api.lists()
    error = None
    chosen = request.form.get("to_list", "")
    if request.method == "POST":
        info = _list_named(chosen)
        if info is None:
            error = _("Choose one of the lists.")
        else:
            added = 0
            for ids in api.iter_ids(filters):
                added += api.add_to_list(info.name, ids)
            already = max(0, count - added)
            message = _("%(added)s contacts added to %(list)s; %(already)s were on it already.")
            flask.flash(message % {"added": added, "list": info.name, "already": already}, "success")
            return redirect(url_for("contacts.mailing_list", list_id=info.id), 303)
    return flask.render_template(
        "contacts/add_to_list.html",
        count=count,
        current=current,
        lists=[(info.name, info.name) for info in lists],
        chosen=chosen,
        error=error,
        back=back,
        create=url_for("contacts.lists"),
    ), (422 if error else 200)


def add_from_card(contact_id: int) -> Any:
    """Add one contact to a list from its card: GET lists the lists it is not on; POST adds it."""
    _require(EDIT, "adding contacts to mailing lists")
    contact = _read(contact_id)
    api = _api()
    on = {name for name, _unsubscribed in api.lists_of(contact.id)}
    choices = [(info.name, info.name) for info in api.lists() if info.name not in on]
    error = None
    chosen = request.form.get("to_list", "")
    if request.method == "POST":
        if chosen not in {name for name, _label in choices}:
            error = _("Choose one of the lists.")
        else:
            try:
                api.add_to_list(chosen, [contact.id])
            except (ValidationError, NotFoundError) as exc:
                error = str(exc)
            else:
                flask.flash(_("%(name)s was added to %(list)s.", name=contact.display_name, list=chosen), "success")
                return redirect(url_for("contacts.card", contact_id=contact.id), 303)
    return flask.render_template(
        "contacts/add_to_list.html",
        contact=contact,
        lists=choices,
        chosen=chosen,
        error=error,
        back=url_for("contacts.card", contact_id=contact.id),
        create=url_for("contacts.lists"),
    ), (422 if error else 200)


# -- saving a segment --------------------------------------------------------------


def save_segment() -> Any:
    """Save the contacts list's current search and filters as a segment: GET shows them and asks a name; POST saves."""
    _require(EDIT, "saving segments")
    source = request.args if request.method == "GET" else request.form
    current = {k: v for k, v in _query(source).items() if k not in ("page", "sort", "deleted")}
    back = _link(current)
    try:
        filters = search_filters(current)
    except ValidationError as exc:
        flask.flash(_("Nothing was saved: %(problem)s", problem=str(exc)), "error")
        return redirect(back, 303)
    values = {"name": request.form.get("name", "").strip(), "description": request.form.get("description", "").strip()}
    errors: dict[str, str] = {}
    problem = None
    if request.method == "POST":
        if len(values["description"]) > 500:
            errors["description"] = _("Write at most 500 characters.")
        else:
            try:
                created = _api().create_segment(values["name"], filters, values["description"])
            except (ValidationError, NotFoundError) as exc:
                message = str(exc)
                if "name" in message.split(":", 1)[0] or "named" in message or "characters" in message:
                    errors["name"] = message
                else:
                    problem = message
            else:
                flask.flash(_("The segment %(name)s was saved.", name=created.name), "success")
                return redirect(segment_address(created), 303)
    return flask.render_template(
        "contacts/save_segment.html",
        current=current,
        described=describe(filters),
        values=values,
        errors=errors,
        problem=problem,
        back=back,
    ), (422 if errors or problem else 200)
