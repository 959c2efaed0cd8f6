"""``crm campaigns send|schedule|cancel|sends|recur|recurring|stop|run``: sending campaigns to lists and segments."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from crm_campaigns.cli.common import SEND_COLUMNS, api, local, parse_time, send_row
from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render

if TYPE_CHECKING:
    from crm_campaigns.records import SendInfo

__all__ = ["COMMANDS"]


def _skipped(s: SendInfo) -> str:
    parts = [
        f"{s.do_not_contact} do-not-contact",
        f"{s.unsubscribed_before} unsubscribed from the list",
        f"{s.no_address} without an address",
        f"{s.duplicates} sharing an address already mailed",
    ]
    if s.invalid:
        parts.append(f"{s.invalid} with an address the mail queue refused")
    return "left out: " + ", ".join(parts)


@click.command("send")
@click.argument("campaign")
@click.option("--to", "source", required=True, help="The mailing list or segment to send to.")
@click.option("--dry-run", is_flag=True, help="Say how many it would reach and leave out; send nothing.")
@pass_state
def send(state: CLIState, campaign: str, source: str, dry_run: bool) -> None:
    """Send a campaign to a mailing list or segment now (each address once; unsubscribed and do-not-contact left out)."""
    campaigns = api(state)
    if dry_run:
        name = campaigns.get(campaign).name
        reach = campaigns.audience(source)
        click.echo(f"would send campaign {name!r} to {reach.included} contact(s) of {reach.source!r}")
        click.echo(
            f"left out: {reach.do_not_contact} do-not-contact, {reach.unsubscribed} unsubscribed from the list, "
            f"{reach.no_address} without an address (contacts sharing an address get one mail)"
        )
        return
    info = campaigns.send(campaign, source)
    click.echo(
        f"send {info.id}: campaign {info.campaign_name!r} queued to {info.counts.queued} address(es) of {source!r}"
    )
    click.echo(_skipped(info))
    if info.last_error:
        click.echo(f"problems: {info.last_error}")
    click.echo("the messages are queued; `crm worker` (or `crm mail deliver`) sends them")


@click.command("schedule")
@click.argument("campaign")
@click.option("--to", "source", required=True, help="The mailing list or segment to send to.")
@click.option("--at", "at", required=True, metavar="WHEN", help="When: '2026-12-01 09:00', in the app's time zone.")
@pass_state
def schedule(state: CLIState, campaign: str, source: str, at: str) -> None:
    """Send a campaign to a list or segment at a set time (the worker sends it then)."""
    when = parse_time(at, state.crm(), "--at")
    info = api(state).send(campaign, source, at=when)
    click.echo(
        f"send {info.id}: campaign {info.campaign_name!r} to {source!r} scheduled for {local(state, info.scheduled_for)}; "
        f"cancel it with 'crm campaigns cancel {info.id}'"
    )


@click.command("cancel")
@click.argument("send_id", type=int)
@pass_state
def cancel(state: CLIState, send_id: int) -> None:
    """Cancel a scheduled send before it goes out."""
    info = api(state).cancel(send_id)
    click.echo(f"send {info.id} of campaign {info.campaign_name!r} to {info.source!r} cancelled")


@click.command("sends")
@click.argument("campaign", required=False)
@click.option("--status", default=None, type=click.Choice(["scheduled", "sending", "sent", "cancelled"]))
@format_option()
@pass_state
def sends(state: CLIState, campaign: str | None, status: str | None, fmt: str) -> None:
    """The sends (of one campaign), the latest first, with what became of their mail."""
    rows = [send_row(state, s) for s in api(state).sends(campaign, status=status)]
    click.echo(render(rows, SEND_COLUMNS, fmt))


@click.command("recur")
@click.argument("campaign")
@click.option("--to", "source", required=True, help="The mailing list or segment to send to.")
@click.option("--rrule", required=True, help="RFC 5545 rule, e.g. 'FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9;BYMINUTE=0'.")
@click.option("--start", default=None, metavar="WHEN", help="The first possible occurrence [default: now].")
@pass_state
def recur(state: CLIState, campaign: str, source: str, rrule: str, start: str | None) -> None:
    """Send a campaign to a list on a recurrence (a monthly newsletter); the worker sends each occurrence."""
    info = api(state).recur(campaign, source, rrule, parse_time(start, state.crm(), "--start"))
    click.echo(
        f"recurring newsletter {info.id}: {info.campaign_name!r} to {source!r} ({info.rule}); "
        f"next {local(state, info.next_at) or 'never'}"
    )


@click.command("recurring")
@click.argument("campaign", required=False)
@format_option()
@pass_state
def recurring(state: CLIState, campaign: str | None, fmt: str) -> None:
    """The recurring newsletters and their next occurrence."""
    rows = [
        {
            "id": r.id,
            "campaign": r.campaign_name,
            "to": r.source,
            "rule": r.rule,
            "active": r.active,
            "next": local(state, r.next_at),
        }
        for r in api(state).recurring(campaign)
    ]
    click.echo(render(rows, ["id", "campaign", "to", "rule", "active", "next"], fmt))


@click.command("stop")
@click.argument("recurring_id", type=int)
@pass_state
def stop(state: CLIState, recurring_id: int) -> None:
    """Stop a recurring newsletter (its sends so far stay)."""
    info = api(state).stop_recurring(recurring_id)
    click.echo(f"recurring newsletter {info.id} ({info.campaign_name!r} to {info.source!r}) stopped")


@click.command("run")
@pass_state
def run(state: CLIState) -> None:
    """Run the due sends and newsletter occurrences now (what the worker's campaigns.sends job does)."""
    done = api(state).run_due()
    click.echo(f"{len(done)} send(s) queued" + (f": {', '.join(map(str, done))}" if done else ""))


COMMANDS = [send, schedule, cancel, sends, recur, recurring, stop, run]
