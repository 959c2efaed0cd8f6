"""``crm warehouse timeline|audit``: a contact's history and the audit of changes."""

from __future__ import annotations

import click

from crm_core.cli.helpers import plugin_api, to_json
from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render
from crm_warehouse.catalog import KINDS
from crm_warehouse.cli.common import parse_date, parse_instant

__all__ = ["COMMANDS"]


@click.command("timeline")
@click.argument("contact_id", type=int)
@click.option("--kind", "kinds", multiple=True, type=click.Choice(KINDS), help="Only these kinds (repeat the option).")
@click.option(
    "--before", default=None, metavar="WHEN", help="Page back: only what happened before this date or datetime."
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@format_option()
@pass_state
def timeline(
    state: CLIState, contact_id: int, kinds: tuple[str, ...], before: str | None, limit: int, fmt: str
) -> None:
    """Everything that happened to or around a contact, newest first."""
    import datetime as dt

    when = parse_instant(before, "--before")
    if isinstance(when, dt.date) and not isinstance(when, dt.datetime):
        app = state.crm()
        when = dt.datetime.combine(when, dt.time(0), tzinfo=app.tz)
    entries = plugin_api(state, "warehouse").timeline(contact_id, kinds=list(kinds) or None, limit=limit, before=when)
    rows = [to_json(e) for e in entries]
    if fmt == "table":
        for row, entry in zip(rows, entries):
            row["type"] = entry.type if entry.known else f"{entry.type} (unknown)"
        click.echo(render(rows, ["occurred_at", "kind", "type", "actor", "channel", "summary"], fmt))
    else:
        click.echo(
            render(
                rows,
                ["occurred_at", "kind", "type", "actor", "channel", "summary", "known", "event_id", "payload"],
                fmt,
            )
        )


@click.command("audit")
@click.option("--contact", "contact_id", type=int, default=None, help="Only this contact's changes.")
@click.option("--field", default=None, help="Only changes of this field (e.g. email).")
@click.option("--actor", default=None, help="Only changes made by this staff member.")
@click.option(
    "--channel", default=None, help="Only changes that came in this way (staff, import, self-service, api, system)."
)
@click.option("--since", default=None, metavar="DATE", help="From this date (YYYY-MM-DD) on.")
@click.option("--until", default=None, metavar="DATE", help="Up to the end of this date.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@format_option()
@pass_state
def audit(state: CLIState, contact_id: int | None, field: str | None, actor: str | None, channel: str | None,
          since: str | None, until: str | None, limit: int, fmt: str) -> None:  # fmt: skip
    """Who changed which contact field, from what, to what, when, and through which channel."""
    entries = plugin_api(state, "warehouse").audit(
        contact_id=contact_id,
        field=field,
        actor=actor,
        channel=channel,
        since=parse_date(since, "--since"),
        until=parse_date(until, "--until"),
        limit=limit,
    )
    rows = [to_json(e) for e in entries]
    click.echo(render(rows, ["occurred_at", "contact_id", "actor", "channel", "action", "field", "old", "new"], fmt))


#: the commands of this topic, in the order ``--help`` lists them
COMMANDS = [timeline, audit]
