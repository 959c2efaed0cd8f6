"""``crm tasks recurring add|edit|list|remove|run``."""

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


@recurring.command("edit")
@click.argument("name")
@click.option("--title", default=None)
@click.option("--rrule", default=None, help="A new RFC 5545 rule; occurrences already past are not made.")
@click.option("--lead", default=None, help="Create each task this long before it is due ('2d', '4h').")
@click.option("--kind", default=None, type=click.Choice(KINDS))
@click.option("--assignee", default=None, metavar="USER")
@click.option("--no-assignee", is_flag=True, help="Nobody: the tasks go to the team.")
@click.option("--team", default=None)
@click.option("--no-team", is_flag=True, help="No team.")
@click.option("--priority", default=None, type=click.Choice(PRIORITIES))
@click.option("--description", default=None)
@click.option("--item", "items", multiple=True, metavar="TEXT", help="The checklist, replaced (repeatable).")
@click.option("--no-items", is_flag=True, help="No checklist.")
@click.option("--pause/--resume", "paused", default=None, help="Stop making tasks, or start again from now.")
@pass_state
def recurring_edit(
    state: CLIState,
    name: str,
    title: str | None,
    rrule: str | None,
    lead: str | None,
    kind: str | None,
    assignee: str | None,
    no_assignee: bool,
    team: str | None,
    no_team: bool,
    priority: str | None,
    description: str | None,
    items: tuple[str, ...],
    no_items: bool,
    paused: bool | None,
) -> None:
    """Change a template: only what is given; the tasks it made stay as they are."""
    for given, cleared, option in (
        (assignee, no_assignee, "assignee"),
        (team, no_team, "team"),
        (items, no_items, "item"),
    ):
        if given and cleared:
            raise click.UsageError(f"give --{option} or --no-{option.replace('item', 'items')}, not both")
    changes: dict[str, object] = {
        key: value
        for key, value in (
            ("title", title),
            ("rrule", rrule),
            ("lead", lead),
            ("kind", kind),
            ("priority", priority),
            ("description", description),
        )
        if value is not None
    }
    if assignee is not None or no_assignee:
        changes["assignee"] = assignee
    if team is not None or no_team:
        changes["team"] = team
    if items or no_items:
        changes["checklist"] = list(items)
    if paused is not None:
        changes["active"] = not paused
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    info = api(state).edit_recurring(name, **changes)
    state_text = f"next occurrence {info.next_occurrence:%Y-%m-%d %H:%M %Z}" if info.next_occurrence else "paused"
    if info.active and info.next_occurrence is None:
        state_text = "no more occurrences"
    click.echo(f"recurring template {info.name!r} changed; {state_text}")


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
