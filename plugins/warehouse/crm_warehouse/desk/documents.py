"""Documents in the desk: uploading to a contact or to a deal, the contact card's panel, and downloading (checked).

One upload path for both places: the contact card's panel posts to
``/warehouse/contacts/<id>/documents``, a deal's page to
``/warehouse/sales/<id>/documents`` (the document is then the deal's and
its contact's). Everything goes through ``crm.plugin("warehouse").documents``
as the signed-in user: attaching needs ``warehouse.documents.create`` and a
contact (or deal) the user may read; reading, ``warehouse.documents.read``.
A download checks the stored file against its SHA-256 before sending it:
a file missing or altered on disk is refused with the reason, never sent.
"""

from __future__ import annotations

from typing import Any

import flask
from flask import g, request
from markupsafe import Markup

from crm_core.errors import CRMError, NotFoundError, PermissionDenied
from crm_core.i18n import gettext as _
from crm_warehouse.desk.common import api, back, helpers

__all__ = ["documents_panel", "download", "upload", "upload_to_sale"]

#: the documents a contact's panel and a deal's page list, newest first
LISTED = 20


def max_upload(crm: Any) -> int:
    """The largest body an upload may send: the warehouse's largest document, and room for the form around it."""
    return int(crm.settings("warehouse").max_document_bytes) + 64 * 1024


def _attach(target: dict[str, int], default: str) -> Any:
    """Attach the uploaded ``file`` (with its ``description``) to ``target`` (``contact_id=`` or ``sale_id=``)."""
    g.crm.authz.require("warehouse.documents.create")
    file = request.files.get("file")
    if file is None or not file.filename:
        flask.flash(_("Choose a file to upload."), "error")
        return back(default)
    try:
        document = api().documents.attach(
            file.stream,
            name=file.filename,
            content_type=file.mimetype or None,
            description=request.form.get("description", "").strip()[:500],
            **target,
        )
    except CRMError as exc:
        if isinstance(exc, (NotFoundError, PermissionDenied)):
            raise
        flask.flash(_("Not uploaded: %(reason)s", reason=str(exc)), "error")
        return back(default)
    flask.flash(_("Uploaded: %(name)s", name=document.name), "success")
    return back(default)


def upload(contact_id: int) -> Any:
    """Attach an uploaded file to the contact (multipart form: ``file``, ``description``); back to the card."""
    crm = g.crm
    if crm.has_plugin("contacts"):
        crm.plugin("contacts").card(contact_id)  # an unknown contact, or one out of scope: 404
        default = flask.url_for("contacts.card", contact_id=contact_id)
    else:
        default = flask.url_for("warehouse.timeline", contact_id=contact_id)
    return _attach({"contact_id": contact_id}, default)


def upload_to_sale(sale_id: int) -> Any:
    """Attach an uploaded file to the deal (and so to its contact); back to the deal's page."""
    api().sales.get(sale_id)  # an unknown deal, or one out of the user's scope: 404
    return _attach({"sale_id": sale_id}, flask.url_for("warehouse.sale", sale_id=sale_id))


upload.desk_max_body = max_upload  # type: ignore[attr-defined]
upload_to_sale.desk_max_body = max_upload  # type: ignore[attr-defined]


def download(document_id: int) -> Any:
    """The document's content, as an attachment under its name, once its SHA-256 is checked.

    A stored file missing or altered on disk is not sent: the page the user
    came from says why (``crm warehouse verify`` checks every file).
    """
    documents = api().documents
    document = documents.get(document_id)
    try:
        content = documents.verified(document.id)
    except CRMError as exc:
        if isinstance(exc, (NotFoundError, PermissionDenied)):
            raise
        flask.flash(_("Not downloaded: %(reason)s", reason=str(exc)), "error")
        default = (
            flask.url_for("warehouse.sale", sale_id=document.sale_id)
            if document.sale_id is not None
            else flask.url_for("warehouse.timeline", contact_id=document.contact_id)
        )
        return flask.redirect(_came_from() or default, 303)
    return flask.send_file(
        content,
        mimetype=document.content_type or "application/octet-stream",
        as_attachment=True,
        download_name=document.name,
        max_age=0,
    )


def _came_from() -> str | None:
    """The desk page the request came from (its ``Referer``), as a path, or ``None`` for anywhere else."""
    from urllib.parse import urlsplit

    came = urlsplit(request.referrer or "")
    here = urlsplit(request.host_url)
    if (came.scheme, came.netloc) != (here.scheme, here.netloc) or not came.path.startswith(request.script_root + "/"):
        return None
    return came.path + (f"?{came.query}" if came.query else "")


def documents_panel(crm: Any, contact_id: int) -> Markup:
    """The contact's documents, newest first, each a download; an upload form for who may attach."""
    documents = crm.plugin("warehouse").documents.list(contact_id=contact_id, limit=LISTED)
    html = flask.render_template(
        "warehouse/_documents_panel.html",
        documents=documents,
        action=flask.url_for("warehouse.upload", contact_id=contact_id),
        field_id=f"contact-{contact_id}",
        may_upload=crm.authz.can("warehouse.documents.create"),
        max_mb=crm.settings("warehouse").max_document_mb,
        empty=_("No documents yet: offers, contracts and presentations attached here are kept with the contact."),
        **helpers(),
    )
    return Markup(html)
