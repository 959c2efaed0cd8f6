"""``crm reports schedules|send``: the scheduled reports of ``[[plugins.analytics.schedules]]``."""

from __future__ import annotations

import datetime as dt

import click

from crm_analytics.cli.common import analytics
from crm_core.cli.main import CLIState, pass_state
from crm_core.errors import ValidationError
from crm_core.output import format_option, render

__all__ = ["COMMANDS"]


@click.command("schedules")
@format_option()
@pass_state
def schedules(state: CLIState, fmt: str) -> None:
    """The scheduled reports of [[plugins.analytics.schedules]], with their last and next sending."""
    rows = analytics(state).schedules()
    if not rows and fmt == "table":
        click.echo("no scheduled reports; add [[plugins.analytics.schedules]] to the configuration")
        return
    columns = ["name", "report", "rule", "range", "to", "run_as", "last_sent_for", "last_rows", "next"]
    click.echo(render(rows, columns, fmt))


@click.command("send")
@click.argument("schedule")
@click.option(
    "--at", "when", metavar="WHEN", help="Send as for this occurrence (ISO datetime with a time zone) [default: now]."
)
@pass_state
def send(state: CLIState, schedule: str, when: str | None) -> None:
    """Send a scheduled report now (as the worker would); once per occurrence."""
    occurrence = None
    if when:
        try:
            occurrence = dt.datetime.fromisoformat(when)
        except ValueError:
            raise ValidationError(f"--at {when!r} is not an ISO datetime; write e.g. 2026-01-02T08:00+01:00") from None
        if occurrence.tzinfo is None:
            raise ValidationError(f"--at {when!r} needs a time zone, e.g. 2026-01-02T08:00+01:00")
    result = analytics(state).send(schedule, occurrence)
    click.echo(
        f"{result['report']} {result['from']} to {result['to']}: {result['rows']} row(s), {result['status']} ({result['key']})"
    )


COMMANDS = [schedules, send]
