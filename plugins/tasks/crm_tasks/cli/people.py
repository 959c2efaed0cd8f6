"""``crm tasks staff|remind|scan``: the people tasks go to, and the worker's jobs run by hand."""

from __future__ import annotations

import click

from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render
from crm_tasks.cli.common import api

__all__ = ["COMMANDS"]


@click.command("staff")
@format_option()
@pass_state
def staff(state: CLIState, fmt: str) -> None:
    """The people tasks can be given to (the CRM users), and their teams."""
    rows = [
        {"name": m.name, "full_name": m.full_name, "email": m.email, "teams": list(m.teams), "active": m.active}
        for m in api(state).staff()
    ]
    click.echo(render(rows, ["name", "full_name", "email", "teams", "active"], fmt))


@click.command("remind")
@pass_state
def remind(state: CLIState) -> None:
    """Send the due-soon and overdue reminders now (the worker does it every 5 minutes)."""
    counts = api(state).send_reminders()
    click.echo(f"{counts['due']} due-soon and {counts['overdue']} overdue reminder(s) queued")


@click.command("scan")
@click.option("--rule", default=None, help="Only this inactivity rule.")
@click.option("--dry-run", is_flag=True, help="Show what would be created, create nothing.")
@format_option()
@pass_state
def scan(state: CLIState, rule: str | None, dry_run: bool, fmt: str) -> None:
    """Run the inactivity rules now (the worker does it daily)."""
    result = api(state).scan_inactivity(rule=rule, dry_run=dry_run)
    if isinstance(result, list):
        click.echo(render(result, ["rule", "contact_id", "title", "assignee", "due_at", "detail"], fmt))
    else:
        click.echo(f"{result} inactivity firing(s)")


COMMANDS = [staff, remind, scan]
