"""Entry module of the tasks plugin: hook implementations only, cheap to import.

``crm --help`` imports this module, so everything heavier than the contract
is imported inside the hook functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_hookspecs import hookimpl
from crm_hookspecs.commands import CommandSpec

if TYPE_CHECKING:
    from crm_hookspecs.records import JobSpec, PluginSchema


@hookimpl
def crm_schema() -> PluginSchema:
    from crm_hookspecs.records import PluginSchema
    from crm_tasks import models

    return PluginSchema(
        migrations=Path(__file__).parent / "migrations",
        models=(
            models.Task,
            models.TaskLink,
            models.ChecklistItem,
            models.Question,
            models.Reminder,
            models.Firing,
            models.Pending,
            models.Recurring,
            models.Activity,
        ),
    )


@hookimpl
def crm_config_section() -> type:
    from crm_tasks.settings import TasksSettings

    return TasksSettings


@hookimpl
def crm_plugin_api(crm: Any) -> Any:
    from crm_tasks.api import TasksAPI

    return TasksAPI(crm)


@hookimpl
def crm_startup(crm: Any) -> None:
    # compile the rules (the configuration's and the plugins') now: a bad one
    # stops the app with its message, as a bad setting does, instead of
    # failing later on every event the worker delivers
    crm.plugin("tasks").rules()
    if crm.settings("tasks").staff:
        from crm_tasks.staff import DEPRECATION

        crm.log.warning("%s", DEPRECATION, extra={"crm_plugin": "tasks"})
        # and among the plugin's warnings, which 'crm doctor' lists
        record = crm.plugins.get("tasks")
        if record is not None and DEPRECATION not in record.warnings:
            record.warnings = (*record.warnings, DEPRECATION)


@hookimpl
def crm_cli_commands() -> list[CommandSpec]:
    return [
        CommandSpec("tasks", "crm_tasks.cli:tasks", "Tasks, to-do lists, reminders, recurring templates and rules.")
    ]


@hookimpl
def crm_handle_events(crm: Any, events: Sequence[Any]) -> None:
    crm.plugin("tasks").handle_events(events)


def _job(method: str) -> Callable[..., Any]:
    def run(crm: Any, scheduled_at: dt.datetime | None = None) -> Any:
        return getattr(crm.plugin("tasks"), method)()

    run.__name__ = method
    return run


@hookimpl
def crm_worker_jobs(crm: Any) -> list[JobSpec]:
    from crm_hookspecs.records import JobSpec

    return [
        JobSpec("tasks.reminders", _job("send_reminders"), interval=dt.timedelta(minutes=5)),
        JobSpec("tasks.pending", _job("run_pending"), interval=dt.timedelta(minutes=5)),
        JobSpec("tasks.recurring", _job("run_recurring"), interval=dt.timedelta(minutes=15)),
        JobSpec("tasks.inactivity", _job("scan_inactivity"), rrule="FREQ=DAILY;BYHOUR=6;BYMINUTE=0;BYSECOND=0"),
    ]


@hookimpl
def crm_demo_data(crm: Any) -> list[str]:
    from crm_tasks.demo import load

    return load(crm)


@hookimpl
def crm_export_personal_data(crm: Any, contact_id: int) -> dict[str, Any] | None:
    from crm_tasks.personal import export

    return export(crm, contact_id)


@hookimpl
def crm_erase_personal_data(crm: Any, contact_id: int) -> int:
    from crm_tasks.personal import erase

    return erase(crm, contact_id)


@hookimpl
def crm_contacts_merged(crm: Any, survivor_id: int, merged_id: int) -> dict[str, list[int]]:
    from crm_tasks.personal import merged

    return merged(crm, survivor_id, merged_id)


@hookimpl
def crm_contacts_unmerged(crm: Any, survivor_id: int, merged_id: int, moved: dict[str, list[int]]) -> None:
    from crm_tasks.personal import unmerged

    unmerged(crm, survivor_id, merged_id, moved)


@hookimpl
def crm_permissions() -> list[Any]:
    from crm_tasks.permissions import PERMISSIONS

    return list(PERMISSIONS)


@hookimpl
def crm_api_resources(crm: Any) -> list[Any]:
    from crm_tasks.rest import resources

    return resources(crm)


@hookimpl
def crm_desk_pages(crm: Any) -> Any:
    from crm_tasks.desk import pages  # the desk calls this; Flask is imported only by the pages' blueprint

    return pages()


@hookimpl
def crm_desk_search(crm: Any, query: str, limit: int) -> Any:
    from crm_tasks.desk import search  # no Flask: results name the task page's endpoint

    return search.search(crm, query, limit)
