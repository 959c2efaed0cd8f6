"""``crm tasks recurring add|list|remove|run``."""

from __future__ import annotations

import click

from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render
from crm_tasks.cli.common import KINDS, PRIORITIES, api

__all__ = ["recurring"]


@click.group("recurring")
def recurring() -> None:
    """Recurring task templates (RFC 5545 rules)."""


@recurring.command("add")
@click.argument("name")
@click.argument("title")
@click.option("--rrule", required=True, help="RFC 5545 rule, e.g. 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0'.")
@click.option("--start", default=None, metavar="WHEN", help="First occurrence, wall time in the zone [default: now].")
@click.option("--timezone", default=None, help="IANA time zone of the rule [default: the app's].")
@click.option(
    "--lead", default="0m", show_default=True, help="Create each task this long before it is due ('2d', '4h')."
)
@click.option("--kind", default="to-do", show_default=True, type=click.Choice(KINDS))
@click.option("--assignee", default=None, metavar="USER")
@click.option("--team", default=None)
@click.option("--priority", default="normal", show_default=True, type=click.Choice(PRIORITIES))
@click.option("--item", "items", multiple=True, metavar="TEXT", help="A checklist item of each task (repeatable).")
@pass_state
def recurring_add(
    state: CLIState,
    name: str,
    title: str,
    rrule: str,
    start: str | None,
    timezone: str | None,
    lead: str,
    kind: str,
    assignee: str | None,
    team: str | None,
    priority: str,
    items: tuple[str, ...],
) -> None:
    """Add a template that creates a task for each occurrence of a rule."""
    info = api(state).add_recurring(
        name,
        title,
        rrule,
        start=start,
        timezone=timezone,
        lead=lead,
        kind=kind,
        assignee=assignee,
        team=team,
        priority=priority,
        checklist=items,
    )
    nxt = info.next_occurrence.strftime("%Y-%m-%d %H:%M %Z") if info.next_occurrence else "none"
    click.echo(f"recurring template {info.name!r} added; next occurrence {nxt}")


@recurring.command("list")
@format_option()
@pass_state
def recurring_list(state: CLIState, fmt: str) -> None:
    """The recurring templates and their next occurrence."""
    rows = [
        {
            "name": t.name,
            "title": t.title,
            "rrule": t.rrule,
            "timezone": t.timezone,
            "lead": str(t.lead),
            "assignee": t.assignee,
            "active": t.active,
            "next": t.next_occurrence.strftime("%Y-%m-%d %H:%M %Z") if t.next_occurrence else "",
        }
        for t in api(state).recurring()
    ]
    click.echo(render(rows, ["name", "title", "rrule", "timezone", "lead", "assignee", "active", "next"], fmt))


@recurring.command("remove")
@click.argument("name")
@pass_state
def recurring_remove(state: CLIState, name: str) -> None:
    """Delete a template (the tasks it created stay)."""
    api(state).remove_recurring(name)
    click.echo(f"recurring template {name!r} removed")


@recurring.command("run")
@pass_state
def recurring_run(state: CLIState) -> None:
    """Create the occurrences that are due now (the worker does it every 15 minutes)."""
    click.echo(f"{api(state).run_recurring()} task(s) created")
