"""Entry module of the campaigns plugin: hook implementations only.

``crm --help`` imports this module, so it imports nothing heavy at the top:
each hook imports what it needs when it runs. The plugin's event types are
registered by ``crm_startup``, which every app that enables the plugin runs
while it is built, before it reads an event: importing the contract's event
module is the largest part of the plugin's start-up cost, and ``crm --help``
needs no event type.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_hookspecs import hookimpl
from crm_hookspecs.commands import CommandSpec

if TYPE_CHECKING:
    from crm_hookspecs.records import PluginSchema


@hookimpl
def crm_schema() -> PluginSchema:
    from crm_campaigns.models import Campaign, Recipient, Recurring, Send
    from crm_hookspecs.records import PluginSchema

    return PluginSchema(migrations=Path(__file__).parent / "migrations", models=(Campaign, Recurring, Send, Recipient))


@hookimpl
def crm_startup(crm: Any) -> None:
    from crm_campaigns import events  # noqa: F401  (registers the event types)


@hookimpl
def crm_config_section() -> type:
    from crm_campaigns.settings import CampaignSettings

    return CampaignSettings


@hookimpl
def crm_plugin_api(crm: Any) -> Any:
    from crm_campaigns.api import CampaignsAPI

    return CampaignsAPI(crm)


@hookimpl
def crm_cli_commands() -> list[CommandSpec]:
    return [
        CommandSpec(
            "campaigns",
            "crm_campaigns.cli:campaigns",
            "E-mail campaigns: write, preview, test, send to a list now, later or every month.",
        )
    ]


@hookimpl
def crm_worker_jobs(crm: Any) -> list[Any]:
    from crm_campaigns.jobs import worker_jobs

    return worker_jobs(crm)


@hookimpl
def crm_handle_events(crm: Any, events: Sequence[Any]) -> None:
    crm.plugin("campaigns").handle_events(events)


@hookimpl
def crm_demo_data(crm: Any) -> list[str]:
    from crm_campaigns.demo import load_demo

    return load_demo(crm)


@hookimpl
def crm_export_personal_data(crm: Any, contact_id: int) -> dict[str, Any] | None:
    from crm_campaigns import personal

    return personal.export(crm, contact_id)


@hookimpl
def crm_personal_values(crm: Any, contact_id: int) -> list[str]:
    from crm_campaigns import personal

    return personal.personal_values(crm, contact_id)


@hookimpl
def crm_erase_personal_data(crm: Any, contact_id: int) -> int:
    from crm_campaigns import personal

    return personal.erase(crm, contact_id)


@hookimpl
def crm_contacts_merged(crm: Any, survivor_id: int, merged_id: int) -> dict[str, list[int]]:
    from crm_campaigns import personal

    return personal.merged(crm, survivor_id, merged_id)


@hookimpl
def crm_contacts_unmerged(crm: Any, survivor_id: int, merged_id: int, moved: dict[str, list[int]]) -> None:
    from crm_campaigns import personal

    personal.unmerged(crm, survivor_id, merged_id, moved)


@hookimpl
def crm_permissions() -> list[Any]:
    from crm_campaigns.permissions import PERMISSIONS

    return list(PERMISSIONS)


@hookimpl
def crm_api_resources(crm: Any) -> list[Any]:
    from crm_campaigns.rest import resources

    return resources(crm)


@hookimpl
def crm_desk_pages(crm: Any) -> Any:
    from crm_campaigns.desk import pages  # the desk calls this; Flask is imported only by the pages' blueprint

    return pages()
