"""The surveys plugin's pages in the staff web app (``crm-desk``): the surveys, a survey, sending, paper answers.

This module imports neither Flask nor the desk: :func:`pages` gives the
``DeskPages`` record, and the desk calls its ``blueprint`` (in
:mod:`crm_surveys.desk.views`, which imports Flask) only when it builds its app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crm_core.i18n import N_
from crm_hookspecs.records import DeskNavEntry, DeskPages

__all__ = ["pages"]

HERE = Path(__file__).resolve().parent


def _blueprint() -> Any:
    from crm_surveys.desk.views import blueprint

    return blueprint()


def pages(crm: Any) -> DeskPages:
    """What the surveys plugin adds to the desk: its pages under ``/surveys`` and a nav entry."""
    return DeskPages(
        blueprint=_blueprint,
        templates=HERE / "templates",
        translations=HERE / "translations",
        nav=[DeskNavEntry(N_("Surveys"), "surveys.index", permission="surveys.read", order=30)],
    )
