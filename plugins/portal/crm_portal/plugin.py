"""Entry module of the portal plugin: hook implementations only.

``crm --help`` imports this module, so it imports nothing heavy at the top:
Flask, Jinja2, Babel and the models are imported by the hooks and commands
that use them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_hookspecs import hookimpl
from crm_hookspecs.commands import CommandSpec

if TYPE_CHECKING:
    from crm_hookspecs.records import PluginSchema
    from crm_portal.api import PortalAPI


@hookimpl
def crm_schema() -> PluginSchema:
    from crm_hookspecs.records import PluginSchema
    from crm_portal.models import MODELS

    return PluginSchema(migrations=Path(__file__).parent / "migrations", models=MODELS)


@hookimpl
def crm_config_section() -> type:
    from crm_portal.settings import PortalSettings

    return PortalSettings


@hookimpl
def crm_startup(crm: Any) -> None:
    from crm_portal.startup import check_settings

    check_settings(crm)


@hookimpl
def crm_plugin_api(crm: Any) -> Any:
    from crm_portal.api import PortalAPI

    return PortalAPI(crm)


@hookimpl
def crm_cli_commands() -> list[CommandSpec]:
    return [
        CommandSpec(
            "portal", "crm_portal.cli:portal", "Customer portal: serve the web forms, unsubscribe links, consents."
        )
    ]


@hookimpl
def crm_worker_jobs(crm: Any) -> list[Any]:
    from crm_portal.jobs import worker_jobs

    return worker_jobs(crm)


@hookimpl
def crm_demo_data(crm: Any) -> list[str]:
    from crm_portal.demo import load_demo

    return load_demo(crm)


@hookimpl
def crm_export_personal_data(crm: Any, contact_id: int) -> dict[str, Any] | None:
    from crm_portal import personal

    return personal.export(crm, contact_id)


@hookimpl
def crm_personal_values(crm: Any, contact_id: int) -> list[str]:
    from crm_portal import personal

    return personal.values(crm, contact_id)


@hookimpl
def crm_unsubscribe_urls(crm: Any, contact_ids: list[int], mailing_list: str | None) -> list[str]:
    # the portal serves the unsubscribe page: every bulk message links to it, whoever sends it
    portal: PortalAPI = crm.plugin("portal")
    return portal.unsubscribe_urls(contact_ids, mailing_list)


@hookimpl
def crm_erase_personal_data(crm: Any, contact_id: int) -> int | None:
    from crm_portal import personal

    return personal.erase(crm, contact_id)


@hookimpl
def crm_contacts_merged(crm: Any, survivor_id: int, merged_id: int) -> dict[str, list[int]]:
    from crm_portal import personal

    return personal.merged(crm, survivor_id, merged_id)


@hookimpl
def crm_contacts_unmerged(crm: Any, survivor_id: int, merged_id: int, moved: dict[str, list[int]]) -> None:
    from crm_portal import personal

    personal.unmerged(crm, survivor_id, merged_id, moved)


@hookimpl
def crm_permissions() -> list[Any]:
    from crm_portal.permissions import PERMISSIONS

    return list(PERMISSIONS)
