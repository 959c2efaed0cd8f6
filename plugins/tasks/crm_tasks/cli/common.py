"""What the tasks commands share: the API, times in the app's zone, a task as a table row."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from crm_core.cli.helpers import plugin_api

if TYPE_CHECKING:
    from crm_core.cli.main import CLIState
    from crm_tasks.api import TasksAPI

__all__ = ["KINDS", "PRIORITIES", "TASK_COLUMNS", "api", "local", "task_row"]

TASK_COLUMNS = ["id", "due", "priority", "kind", "status", "assignee", "team", "contact_id", "title"]
KINDS = ["to-do", "call", "e-mail", "meeting", "follow-up"]
PRIORITIES = ["low", "normal", "high", "urgent"]


def api(state: CLIState) -> TasksAPI:
    """The tasks plugin's API of the command's app."""
    from crm_tasks.api import TasksAPI

    tasks: TasksAPI = plugin_api(state, "tasks", TasksAPI)
    return tasks


def local(state: CLIState, value: dt.datetime | None) -> str:
    """``value`` in the app's time zone, to the minute ('' for none)."""
    if value is None:
        return ""
    return value.astimezone(state.crm().tz).strftime("%Y-%m-%d %H:%M")


def task_row(state: CLIState, task: Any) -> dict[str, Any]:
    """A task as a row of ``TASK_COLUMNS``."""
    return {
        "id": task.id,
        "due": local(state, task.due_at),
        "priority": task.priority,
        "kind": task.kind,
        "status": task.status,
        "assignee": task.assignee,
        "team": task.team,
        "contact_id": task.contact_id,
        "title": task.title,
    }
