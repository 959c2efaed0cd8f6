"""``crm webhooks …``: subscriptions, their deliveries, sending again."""

from __future__ import annotations

import datetime as dt

import click

from crm_core.cli.helpers import echo_json, plugin_api
from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, note, render

__all__ = ["webhooks"]


def _hooks(state: CLIState):  # type: ignore[no-untyped-def]
    return plugin_api(state, "api").webhooks


@click.group("webhooks")
def webhooks() -> None:
    """Webhook subscriptions: where the CRM posts its events, and how each delivery went."""


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    metavar="TYPE",
    help="A dotted event type (contact.created); repeat. Default: every type.",
)
@click.option("--description", default="", help="What receives them ('the shop').")
@pass_state
def add(state: CLIState, url: str, events: tuple[str, ...], description: str) -> None:
    """Subscribe URL to events; print the signing secret once."""
    made = _hooks(state).subscribe(url, events or ("*",), description=description)
    click.echo(made.secret)
    kinds = ", ".join(made.subscription.event_types) or "every event type"
    note(
        f"Webhook {made.subscription.id} posts {kinds} to {url}; verify its signature with the secret above "
        "(printed once, not shown again)"
    )


@webhooks.command("list")
@format_option()
@pass_state
def list_(state: CLIState, fmt: str) -> None:
    """List subscriptions: URL, event types, state, last success."""
    rows = [
        {
            "id": s.id,
            "url": s.url,
            "events": ", ".join(s.event_types) or "*",
            "state": "active" if s.active else f"disabled ({s.disabled_reason})",
            "last_success_at": s.last_success_at,
            "description": s.description,
        }
        for s in _hooks(state).subscriptions()
    ]
    click.echo(render(rows, ["id", "url", "events", "state", "last_success_at", "description"], fmt))


@webhooks.command("remove")
@click.argument("subscription_id", type=int)
@pass_state
def remove(state: CLIState, subscription_id: int) -> None:
    """Remove a subscription and its deliveries."""
    _hooks(state).unsubscribe(subscription_id)
    note(f"Removed webhook {subscription_id}")


@webhooks.command("enable")
@click.argument("subscription_id", type=int)
@pass_state
def enable(state: CLIState, subscription_id: int) -> None:
    """Enable a subscription again (after it was disabled for failing); its failed deliveries stay failed."""
    _hooks(state).change(subscription_id, active=True)
    note(
        f"Webhook {subscription_id} is active; 'crm webhooks replay --subscription {subscription_id}' sends failed ones again"
    )


@webhooks.command("disable")
@click.argument("subscription_id", type=int)
@pass_state
def disable(state: CLIState, subscription_id: int) -> None:
    """Stop posting to a subscription (deliveries keep being queued, and go out once it is enabled)."""
    _hooks(state).change(subscription_id, active=False)
    note(f"Webhook {subscription_id} is disabled")


@webhooks.command("deliveries")
@click.argument("subscription_id", type=int, required=False)
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]), default=None, help="Only these.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000), help="At most this many.")
@click.option("--attempts", "delivery_id", type=int, default=None, help="Show every attempt of this delivery instead.")
@format_option()
@pass_state
def deliveries(
    state: CLIState, subscription_id: int | None, status: str | None, limit: int, delivery_id: int | None, fmt: str
) -> None:
    """List deliveries (of one subscription): event, state, attempts, last answer."""
    hooks = _hooks(state)
    if delivery_id is not None:
        attempts = hooks.attempts(delivery_id)
        if fmt == "json":
            echo_json(attempts)
        else:
            click.echo(render(attempts, ["at", "status", "error", "milliseconds"], fmt))
        return
    rows = [
        {
            "id": d.id,
            "subscription": d.subscription_id,
            "event_id": d.event_id,
            "type": d.type,
            "status": d.status,
            "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at,
            "last": d.last_error or d.last_status,
        }
        for d in hooks.deliveries(subscription_id, status=status, limit=limit)
    ]
    columns = ["id", "subscription", "event_id", "type", "status", "attempts", "next_attempt_at", "last"]
    click.echo(render(rows, columns, fmt))


@webhooks.command("replay")
@click.argument("delivery_ids", type=int, nargs=-1)
@click.option("--subscription", "subscription_id", type=int, default=None, help="Every delivery of this subscription…")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="…made since this date.",
)
@pass_state
def replay(
    state: CLIState, delivery_ids: tuple[int, ...], subscription_id: int | None, since: dt.datetime | None
) -> None:
    """Send deliveries again: the ones named, or a subscription's (since a date); the worker sends them."""
    when = since.replace(tzinfo=dt.UTC) if since is not None else None
    count = _hooks(state).replay(delivery_ids, subscription_id=subscription_id, since=when)
    note(f"{count} delivery(ies) will be sent again by the worker")


@webhooks.command("send")
@pass_state
def send(state: CLIState) -> None:
    """Send the deliveries that are due now (what the worker's api.webhooks job does)."""
    counts = _hooks(state).send_due()
    note(f"Delivered {counts['delivered']}, to retry {counts['retrying']}, failed {counts['failed']}")
