"""The analytics plugin's pages in the staff web app (``crm-desk``): reports, charts, custom reports, the forecast, schedules.

Imported only when the desk calls ``crm_desk_pages`` (see
:func:`crm_analytics.plugin.crm_desk_pages`); Flask is imported by the
views, which the desk loads through :func:`pages`' blueprint, so an embedder
who uses analytics without the desk never imports it. Every page runs as
the signed-in user and reaches the data through ``crm.plugin("analytics")``,
whose permission checks and scopes apply: a seller's reports count their
own records only.
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
    from crm_analytics.desk.views import blueprint

    return blueprint()


def pages() -> DeskPages:
    """What the analytics plugin adds to the desk: its pages under ``/reports`` and the "Reports" entry."""
    return DeskPages(
        blueprint=_blueprint,
        url_prefix="/reports",
        templates=TEMPLATES,
        translations=TRANSLATIONS,
        nav=[DeskNavEntry(N_("Reports"), "reports.index", permission="analytics.reports.run", order=40)],
    )
