"""The contacts plugin's pages in the staff web app (``crm-desk``): the list, the card, the forms.

This module imports neither Flask nor the desk: :func:`pages` gives the
``DeskPages`` record, and the desk calls its ``blueprint`` (in
:mod:`crm_contacts.desk.views`, which imports Flask) only when it builds its
app. An embedder who installs contacts without the desk never imports Flask.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crm_core.i18n import N_
from crm_hookspecs.records import DeskNavEntry, DeskPages, DeskWidget

__all__ = ["pages"]

HERE = Path(__file__).resolve().parent


def _blueprint() -> Any:
    from crm_contacts.desk.views import blueprint

    return blueprint()


def _recent_widget(crm: Any) -> Any:
    from crm_contacts.desk.views import recent_widget

    return recent_widget(crm)


def pages(crm: Any) -> DeskPages:
    """What the contacts plugin adds to the desk: its pages under ``/contacts``, a nav entry and a home widget."""
    return DeskPages(
        blueprint=_blueprint,
        templates=HERE / "templates",
        translations=HERE / "translations",
        nav=[
            DeskNavEntry(N_("Contacts"), "contacts.index", permission="contacts.read", order=10),
            DeskNavEntry(N_("Duplicates"), "contacts.duplicates", permission="contacts.merge", order=11),
            DeskNavEntry(N_("Mailing lists"), "contacts.lists", permission="contacts.lists.read", order=13),
            DeskNavEntry(N_("Customer changes"), "contacts.review", permission="contacts.updates.review", order=12),
        ],
        widgets=[
            DeskWidget("recent", N_("Recently changed customers"), _recent_widget, permission="contacts.read", order=50)
        ],
    )
