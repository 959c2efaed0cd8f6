"""Entry module of the surveys plugin: hook implementations only.

``crm --help`` imports this module, so it imports nothing heavy at the top:
each hook imports what it needs when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_hookspecs import hookimpl
from crm_hookspecs.commands import CommandSpec

if TYPE_CHECKING:
    from crm_hookspecs.records import PluginSchema


@hookimpl
def crm_schema() -> PluginSchema:
    from crm_hookspecs.records import PluginSchema
    from crm_surveys.models import Answer, Invitation, Response, Round, Schedule, Survey, SurveyVersion

    return PluginSchema(
        migrations=Path(__file__).parent / "migrations",
        models=(Survey, SurveyVersion, Schedule, Round, Invitation, Response, Answer),
    )


@hookimpl
def crm_config_section() -> type:
    from crm_surveys.settings import SurveySettings

    return SurveySettings


@hookimpl
def crm_plugin_api(crm: Any) -> Any:
    from crm_surveys.api import SurveysAPI

    return SurveysAPI(crm)


@hookimpl
def crm_cli_commands() -> list[CommandSpec]:
    return [
        CommandSpec(
            "surveys",
            "crm_surveys.cli:surveys",
            "Surveys: import, send by e-mail or post, answers, results, schedules.",
        )
    ]


@hookimpl
def crm_worker_jobs(crm: Any) -> list[Any]:
    from crm_surveys.jobs import worker_jobs

    return worker_jobs(crm)


@hookimpl
def crm_demo_data(crm: Any) -> list[str]:
    from crm_surveys.demo import load_demo

    return load_demo(crm)


@hookimpl
def crm_export_personal_data(crm: Any, contact_id: int) -> dict[str, Any] | None:
    from crm_surveys import personal

    return personal.export(crm, contact_id)


@hookimpl
def crm_erase_personal_data(crm: Any, contact_id: int) -> int | None:
    from crm_surveys import personal

    return personal.erase(crm, contact_id)


@hookimpl
def crm_contacts_merged(crm: Any, survivor_id: int, merged_id: int) -> dict[str, list[int]]:
    from crm_surveys import personal

    return personal.merged(crm, survivor_id, merged_id)


@hookimpl
def crm_contacts_unmerged(crm: Any, survivor_id: int, merged_id: int, moved: dict[str, list[int]]) -> None:
    from crm_surveys import personal

    personal.unmerged(crm, survivor_id, merged_id, moved)


@hookimpl
def crm_permissions() -> list[Any]:
    from crm_surveys.permissions import PERMISSIONS

    return list(PERMISSIONS)


@hookimpl
def crm_api_resources(crm: Any) -> list[Any]:
    from crm_surveys.rest import resources

    return resources(crm)


@hookimpl
def crm_desk_pages(crm: Any) -> Any:
    from crm_surveys import desk  # no Flask here: the desk calls desk's blueprint when it builds its app

    return desk.pages(crm)
