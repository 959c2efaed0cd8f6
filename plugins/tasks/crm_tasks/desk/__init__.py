"""The tasks plugin's pages in the staff web app (``crm-desk``): my to-do, a task, a new task, the team's tasks, the rules, recurring tasks.

Imported only when the desk calls ``crm_desk_pages`` (see
:func:`crm_tasks.plugin.crm_desk_pages`); Flask is imported inside the
functions here and in :mod:`crm_tasks.desk.views`, so an embedder who uses the
tasks plugin without the desk never imports it. Every page runs as the
signed-in user and reaches the data through ``crm.plugin("tasks")``, whose
permission checks and scopes apply.
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
    from crm_tasks.desk.views import blueprint

    return blueprint()


def _my_day(crm: Any) -> Any:
    from crm_tasks.desk.views import my_day_widget

    return my_day_widget(crm)


def _contact_tasks(crm: Any, contact_id: int) -> Any:
    from crm_tasks.desk.views import contact_panel

    return contact_panel(crm, contact_id)


def pages() -> DeskPages:
    """What the tasks plugin adds to the desk: its pages under ``/tasks``, a nav entry, a home widget, a contact panel and action."""
    return DeskPages(
        blueprint=_blueprint,
        url_prefix="/tasks",
        templates=TEMPLATES,
        translations=TRANSLATIONS,
        nav=[DeskNavEntry(N_("Tasks"), "tasks.todo", permission="tasks.read", order=20)],
        widgets=[DeskWidget("my_day", N_("My day"), _my_day, permission="tasks.read", order=10)],
        panels=[DeskPanel("tasks", N_("Open tasks"), _contact_tasks, permission="tasks.read", order=20)],
        actions=[
            DeskAction("new_task", N_("New task"), "tasks.new", on="contact", permission="tasks.create", order=20)
        ],
    )
