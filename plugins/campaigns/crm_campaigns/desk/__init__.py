"""The campaigns plugin's pages in the staff web app (``crm-desk``): the campaigns, a campaign with its sends, the form.

Imported only when the desk calls ``crm_desk_pages`` (see
:func:`crm_campaigns.plugin.crm_desk_pages`); Flask is imported inside the
functions here and in :mod:`crm_campaigns.desk.views`, so an embedder who
uses the plugin without the desk never imports it. Every page runs as the
signed-in user and reaches the data through ``crm.plugin("campaigns")``,
whose permission checks apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crm_core.i18n import N_
from crm_hookspecs.records import DeskNavEntry, DeskPages

__all__ = ["TEMPLATES", "TRANSLATIONS", "pages"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def _blueprint() -> Any:
    from crm_campaigns.desk.views import blueprint

    return blueprint()


def pages() -> DeskPages:
    """What the campaigns plugin adds to the desk: its pages under ``/campaigns`` and a nav entry."""
    return DeskPages(
        blueprint=_blueprint,
        url_prefix="/campaigns",
        templates=TEMPLATES,
        translations=TRANSLATIONS,
        nav=[DeskNavEntry(N_("Campaigns"), "campaigns.index", permission="campaigns.read", order=40)],
    )
