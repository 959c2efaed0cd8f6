"""The warehouse's blueprint: the routes of its desk pages, mounted by the desk at ``/warehouse``.

The views live in :mod:`~crm_warehouse.desk.board` (the pipeline),
:mod:`~crm_warehouse.desk.sales` (the sales records),
:mod:`~crm_warehouse.desk.history` (a contact's timeline, past fields and
notes) and :mod:`~crm_warehouse.desk.documents` (uploads to a contact or a
deal, downloads).
"""

from __future__ import annotations

import flask

from crm_warehouse.desk.common import helpers

__all__ = ["blueprint"]


def blueprint() -> flask.Blueprint:
    """The warehouse's pages."""
    from crm_warehouse.desk import board, documents, history, picker, sales

    page = flask.Blueprint("warehouse", __name__)
    page.add_url_rule("/pipeline", "board", board.board_page)
    page.add_url_rule("/sales/", "sales", sales.sales_list)
    page.add_url_rule("/sales/new", "new_sale", sales.new_sale, methods=["GET", "POST"])
    page.add_url_rule("/sales/new/contacts", "contact_matches", picker.matches)
    page.add_url_rule("/sales/<int:sale_id>", "sale", sales.sale_page)
    page.add_url_rule("/sales/<int:sale_id>/edit", "edit_sale", sales.edit_sale, methods=["GET", "POST"])
    page.add_url_rule("/sales/<int:sale_id>/stage", "move", board.move, methods=["POST"])
    page.add_url_rule("/sales/<int:sale_id>/close", "close", sales.close_sale, methods=["GET", "POST"])
    page.add_url_rule("/contacts/<int:contact_id>/timeline", "timeline", history.timeline_page)
    page.add_url_rule("/contacts/<int:contact_id>/as-of", "as_of", history.as_of_page)
    page.add_url_rule("/contacts/<int:contact_id>/log", "log", history.log, methods=["GET", "POST"])
    page.add_url_rule("/sales/<int:sale_id>/documents", "upload_to_sale", documents.upload_to_sale, methods=["POST"])
    page.add_url_rule("/contacts/<int:contact_id>/documents", "upload", documents.upload, methods=["POST"])
    page.add_url_rule("/documents/<int:document_id>", "download", documents.download)
    page.context_processor(helpers)
    return page
