"""The tasks plugin's answer to the desk's search box (``crm_desk_search``): tasks by the words of their title.

Searches through :class:`~crm_tasks.api.TasksAPI` as the signed-in user, so
the user's scope applies (a salesperson finds their own tasks only); a user
who may not read tasks finds none. Open tasks come first, then done and
cancelled ones. Imports neither Flask nor the desk: each result names the
task page's endpoint.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from crm_core.i18n import N_, current_language
from crm_core.i18n import gettext as _
from crm_hookspecs.records import DeskSearchResult

__all__ = ["KIND", "search"]

#: the heading the desk groups these results under (translated by the plugin's desk catalog)
KIND = N_("Tasks")

_STATUS = {"open": N_("open"), "done": N_("done"), "cancelled": N_("cancelled")}


def _when(crm: Any, due: dt.datetime | None) -> str:
    if due is None:
        return _("no due date")
    from babel.dates import format_date

    user = crm.current_user
    tz: dt.tzinfo = crm.tz
    if user is not None and user.timezone:
        import zoneinfo

        try:
            tz = zoneinfo.ZoneInfo(user.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass  # a zone no longer known: the app's, as the pages do
    return _("due %(date)s", date=format_date(due.astimezone(tz).date(), "medium", locale=current_language()))


def search(crm: Any, query: str, limit: int) -> list[DeskSearchResult]:
    """Up to ``limit`` tasks whose title holds every word of ``query``: open ones first, soonest due first."""
    if not crm.authz.can("tasks.read"):
        return []
    api = crm.plugin("tasks")
    found = api.list(text=query, status="open", limit=limit)
    if len(found) < limit:
        closed = api.list(text=query, status="all", limit=limit)
        found += [task for task in closed if task.status != "open"][: limit - len(found)]
    return [
        DeskSearchResult(
            kind=KIND,
            title=task.title,
            subtitle=" · ".join(
                part
                for part in (_(_STATUS.get(task.status, task.status)), _when(crm, task.due_at), task.assignee)
                if part
            ),
            endpoint="tasks.task",
            args={"task_id": task.id},
        )
        for task in found
    ]
