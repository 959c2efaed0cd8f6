"""The API plugin's hook implementations (its entry module: kept cheap to import)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crm_hookspecs import hookimpl
from crm_hookspecs.records import CommandSpec, PluginSchema


@hookimpl
def crm_schema() -> PluginSchema:
    from crm_api.models import IdempotentRequest

    return PluginSchema(migrations=Path(__file__).parent / "migrations", models=(IdempotentRequest,))


@hookimpl
def crm_config_section() -> type:
    from crm_api.settings import ApiSettings

    return ApiSettings


@hookimpl
def crm_cli_commands() -> list[CommandSpec]:
    return [CommandSpec("api", "crm_api.cli:api", "Serve the HTTP API; print its OpenAPI document.")]


@hookimpl
def crm_api_resources(crm: Any) -> list[Any]:
    from crm_api.events_feed import resources

    return resources(crm)


@hookimpl
def crm_permissions() -> list[Any]:
    from crm_hookspecs.records import PermissionSpec

    return [
        PermissionSpec(
            "api.events.feed",
            "Read the whole event log through the API (every change to every record: for ETL and BI integrations).",
        )
    ]
