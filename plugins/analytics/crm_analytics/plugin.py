"""Entry module of the analytics plugin: hook implementations only, cheap to import.

``crm --help`` imports this module, so peewee queries, matplotlib and the
forecast are imported inside the hooks, when they run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crm_hookspecs import hookimpl
from crm_hookspecs.commands import CommandSpec


@hookimpl
def crm_schema() -> Any:
    from crm_analytics.models import MODELS
    from crm_hookspecs.records import PluginSchema

    return PluginSchema(migrations=Path(__file__).parent / "migrations", models=MODELS)


@hookimpl
def crm_config_section() -> type:
    from crm_analytics.settings import AnalyticsSettings

    return AnalyticsSettings


@hookimpl
def crm_plugin_api(crm: Any) -> Any:
    from crm_analytics.api import AnalyticsAPI

    return AnalyticsAPI(crm)


@hookimpl
def crm_cli_commands() -> list[CommandSpec]:
    return [
        CommandSpec(
            "reports", "crm_analytics.cli:reports", "Reports, charts, forecasts and scheduled reports by e-mail."
        )
    ]


@hookimpl
def crm_worker_jobs(crm: Any) -> list[Any]:
    from crm_analytics.schedules import worker_jobs

    return worker_jobs(crm)


@hookimpl
def crm_demo_data(crm: Any) -> list[str]:
    from crm_analytics.demo import load_demo

    return load_demo(crm)


@hookimpl
def crm_permissions() -> list[Any]:
    from crm_analytics.permissions import PERMISSIONS

    return list(PERMISSIONS)


@hookimpl
def crm_api_resources(crm: Any) -> list[Any]:
    from crm_analytics.rest import resources

    return resources(crm)


@hookimpl
def crm_desk_pages(crm: Any) -> Any:
    from crm_analytics.desk import pages  # the desk calls this; Flask is imported only by the pages' blueprint

    return pages()
