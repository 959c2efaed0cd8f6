"""The API plugin's hook implementations (its entry module: kept cheap to import)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_hookspecs import hookimpl
from crm_hookspecs.commands import CommandSpec

if TYPE_CHECKING:
    from crm_hookspecs.records import JobSpec, PluginSchema


@hookimpl
def crm_schema() -> PluginSchema:
    from crm_api import models
    from crm_hookspecs.records import PluginSchema

    return PluginSchema(
        migrations=Path(__file__).parent / "migrations",
        models=(
            models.IdempotentRequest,
            models.WebhookSubscription,
            models.WebhookDelivery,
            models.WebhookAttempt,
        ),
    )


@hookimpl
def crm_config_section() -> type:
    from crm_api.settings import ApiSettings

    return ApiSettings


@hookimpl
def crm_cli_commands() -> list[CommandSpec]:
    return [
        CommandSpec("api", "crm_api.cli:api", "Serve the HTTP API; print its OpenAPI document."),
        CommandSpec("webhooks", "crm_api.cli.webhooks:webhooks", "Webhook subscriptions and their deliveries."),
    ]


@hookimpl
def crm_plugin_api(crm: Any) -> Any:
    from crm_api.api import ApiAPI

    return ApiAPI(crm)


@hookimpl
def crm_handle_events(crm: Any, events: Sequence[Any]) -> None:
    crm.plugin("api").webhooks.queue(events)


@hookimpl
def crm_worker_jobs(crm: Any) -> list[JobSpec]:
    from crm_hookspecs.records import JobSpec

    def send(crm: Any, scheduled_at: Any = None) -> Any:
        return crm.plugin("api").webhooks.send_due()

    return [JobSpec("api.webhooks", send, interval=dt.timedelta(seconds=5))]


@hookimpl
def crm_api_resources(crm: Any) -> list[Any]:
    from crm_api import events_feed, webhook_resources

    return events_feed.resources(crm) + webhook_resources.resources(crm)


@hookimpl
def crm_demo_data(crm: Any) -> list[str]:
    from crm_api.demo import load_demo

    return load_demo(crm)


@hookimpl
def crm_permissions() -> list[Any]:
    from crm_hookspecs.records import PermissionSpec

    return [
        PermissionSpec(
            "api.events.feed",
            "Read the whole event log through the API (every change to every record: for ETL and BI integrations).",
        ),
        PermissionSpec(
            "api.webhooks.manage",
            "Make, change and remove webhook subscriptions (each receives every event of its types) and replay deliveries.",
        ),
    ]
