"""The warehouse's pages in the staff web app (``crm-desk``): the pipeline board, the sales records, and the contact card's history.

Imported only when the desk calls ``crm_desk_pages`` (see
:func:`crm_warehouse.plugin.crm_desk_pages`); Flask is imported inside the
functions here and in the view modules, so an embedder who uses the
warehouse without the desk never imports it. Every page runs as the
signed-in user and reaches the data through ``crm.plugin("warehouse")``,
whose permission checks and scopes apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crm_core.i18n import N_
from crm_hookspecs.records import DeskAction, DeskNavEntry, DeskPages, DeskPanel, DeskWidget

__all__ = ["TEMPLATES", "TRANSLATIONS", "pages"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def _blueprint() -> Any:
    from crm_warehouse.desk.views import blueprint

    return blueprint()


def _closing(crm: Any) -> Any:
    from crm_warehouse.desk.board import closing_widget

    return closing_widget(crm)


def _history(crm: Any, contact_id: int) -> Any:
    from crm_warehouse.desk.history import history_panel

    return history_panel(crm, contact_id)


def _deals(crm: Any, contact_id: int) -> Any:
    from crm_warehouse.desk.sales import deals_panel

    return deals_panel(crm, contact_id)


def _documents(crm: Any, contact_id: int) -> Any:
    from crm_warehouse.desk.documents import documents_panel

    return documents_panel(crm, contact_id)


def pages() -> DeskPages:
    """What the warehouse adds to the desk: the pipeline and sales pages, a home widget, three contact panels, an action."""
    return DeskPages(
        blueprint=_blueprint,
        url_prefix="/warehouse",
        templates=TEMPLATES,
        translations=TRANSLATIONS,
        nav=[
            DeskNavEntry(N_("Pipeline"), "warehouse.board", permission="warehouse.sales.read", order=30),
            DeskNavEntry(N_("Sales"), "warehouse.sales", permission="warehouse.sales.read", order=31),
        ],
        widgets=[
            DeskWidget("closing", N_("Deals closing this month"), _closing, permission="warehouse.sales.read", order=20)
        ],
        panels=[
            DeskPanel("history", N_("Timeline"), _history, permission="warehouse.history.read", order=10),
            DeskPanel("deals", N_("Deals"), _deals, permission="warehouse.sales.read", order=30),
            DeskPanel("documents", N_("Documents"), _documents, permission="warehouse.documents.read", order=40),
        ],
        actions=[
            DeskAction(
                "new_deal",
                N_("New deal"),
                "warehouse.new_sale",
                on="contact",
                permission="warehouse.sales.create",
                order=30,
            )
        ],
    )
