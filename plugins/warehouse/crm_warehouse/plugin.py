"""Entry module of the warehouse plugin: hook implementations only.

``crm --help`` imports this module, so everything heavy (peewee models,
cattrs, the currency table) is imported inside the hooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crm_hookspecs import hookimpl
from crm_hookspecs.commands import CommandSpec


@hookimpl
def crm_schema() -> Any:
    from crm_hookspecs.records import PluginSchema
    from crm_warehouse.models import MODELS

    return PluginSchema(migrations=Path(__file__).parent / "migrations", models=MODELS)


@hookimpl
def crm_config_section() -> type:
    from crm_warehouse.settings import WarehouseSettings

    return WarehouseSettings


@hookimpl
def crm_plugin_api(crm: Any) -> Any:
    from crm_warehouse.api import WarehouseAPI

    return WarehouseAPI(crm)


@hookimpl
def crm_cli_commands() -> list[CommandSpec]:
    return [
        CommandSpec(
            "sales",
            "crm_warehouse.cli:sales",
            "Requests, quotes and sales: add, list, move through the pipeline, close.",
        ),
        CommandSpec(
            "warehouse",
            "crm_warehouse.cli:warehouse",
            "Stored events, timelines, audit, notes, documents, reporting tables.",
        ),
    ]


@hookimpl
def crm_handle_events(crm: Any, events: Sequence[Any]) -> None:
    """Store every event once; feed the newly stored ones to the reporting tables."""
    from crm_warehouse.projections import project
    from crm_warehouse.store import append

    stored = append(crm, events)
    if stored:
        project(crm, stored)


@hookimpl
def crm_demo_data(crm: Any) -> list[str]:
    from crm_warehouse.demo import load_demo

    return load_demo(crm)


@hookimpl
def crm_export_personal_data(crm: Any, contact_id: int) -> dict[str, Any] | None:
    from crm_warehouse.personal import export

    return export(crm, contact_id)


@hookimpl
def crm_erase_personal_data(crm: Any, contact_id: int) -> int:
    from crm_warehouse.personal import erase

    return erase(crm, contact_id)


@hookimpl
def crm_contacts_merged(crm: Any, survivor_id: int, merged_id: int) -> dict[str, list[int]]:
    from crm_warehouse.personal import merged

    return merged(crm, survivor_id, merged_id)


@hookimpl
def crm_contacts_unmerged(crm: Any, survivor_id: int, merged_id: int, moved: dict[str, list[int]]) -> None:
    from crm_warehouse.personal import unmerged

    unmerged(crm, survivor_id, merged_id, moved)


@hookimpl
def crm_permissions() -> list[Any]:
    from crm_warehouse.permissions import PERMISSIONS

    return list(PERMISSIONS)


@hookimpl
def crm_desk_pages(crm: Any) -> Any:
    from crm_warehouse.desk import pages  # the desk calls this; Flask is imported only by the pages' blueprint

    return pages()


@hookimpl
def crm_api_resources(crm: Any) -> list[Any]:
    from crm_warehouse.rest import resources

    return resources(crm)
