"""Entry module of the tasks plugin: hook implementations only, cheap to import.

``crm --help`` imports this module, so everything heavier than the contract
is imported inside the hook functions.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from crm_hookspecs import hookimpl
from crm_hookspecs.records import CommandSpec, JobSpec, PluginSchema


@hookimpl
def crm_schema():
    from crm_tasks import models

    return PluginSchema(
        migrations=Path(__file__).parent / "migrations",
        models=(
            models.Task, models.TaskLink, models.ChecklistItem, models.Question, models.Reminder,
            models.Firing, models.Pending, models.Recurring, models.Activity,
        ),
    )


@hookimpl
def crm_config_section():
    from crm_tasks.settings import TasksSettings

    return TasksSettings


@hookimpl
def crm_plugin_api(crm):
    from crm_tasks.api import TasksAPI

    return TasksAPI(crm)


@hookimpl
def crm_startup(crm):
    # compile the rules (the configuration's and the plugins') now: a bad one
    # stops the app with its message, as a bad setting does, instead of
    # failing later on every event the worker delivers
    crm.plugin("tasks").rules()


@hookimpl
def crm_cli_commands():
    return [CommandSpec("tasks", "crm_tasks.cli:tasks", "Tasks, to-do lists, reminders, recurring templates and rules.")]


@hookimpl
def crm_handle_events(crm, events):
    crm.plugin("tasks").handle_events(events)


def _job(method: str):
    def run(crm, scheduled_at=None):
        return getattr(crm.plugin("tasks"), method)()

    run.__name__ = method
    return run


@hookimpl
def crm_worker_jobs(crm):
    return [
        JobSpec("tasks.reminders", _job("send_reminders"), interval=dt.timedelta(minutes=5)),
        JobSpec("tasks.pending", _job("run_pending"), interval=dt.timedelta(minutes=5)),
        JobSpec("tasks.recurring", _job("run_recurring"), interval=dt.timedelta(minutes=15)),
        JobSpec("tasks.inactivity", _job("scan_inactivity"), rrule="FREQ=DAILY;BYHOUR=6;BYMINUTE=0;BYSECOND=0"),
    ]


@hookimpl
def crm_demo_data(crm):
    from crm_tasks.demo import load

    return load(crm)


@hookimpl
def crm_export_personal_data(crm, contact_id):
    from crm_tasks.privacy import export

    return export(crm, contact_id)


@hookimpl
def crm_erase_personal_data(crm, contact_id):
    from crm_tasks.privacy import erase

    return erase(crm, contact_id)


@hookimpl
def crm_contacts_merged(crm, survivor_id, merged_id):
    from crm_tasks.privacy import merged

    return merged(crm, survivor_id, merged_id)


@hookimpl
def crm_contacts_unmerged(crm, survivor_id, merged_id, moved):
    from crm_tasks.privacy import unmerged

    unmerged(crm, survivor_id, merged_id, moved)
