"""``crm surveys send|remind|letters|link|schedule``: sending surveys by e-mail, by post, on a schedule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render
from crm_surveys.cli.common import surveys_api

__all__ = ["COMMANDS"]


def _out_of_scope(count: int) -> str:
    return f", {count} of contacts you may not read (someone who may can send to them)" if count else ""


def _send_lines(report: Any) -> list[str]:
    verb = "would send" if report.dry_run else "sent"
    lines = [
        f"{verb} survey {report.survey_key!r} version {report.version} to {report.sent} contact(s) of "
        f"{report.source!r} (round {report.round!r})",
        f"skipped: {report.already_invited} already invited in this round, {report.do_not_contact} do-not-contact, "
        f"{report.unsubscribed} unsubscribed, {report.no_address} without an address"
        + (f", {report.invalid} with an address the mail queue refused" if report.invalid else "")
        + _out_of_scope(report.out_of_scope),
    ]
    lines += [f"  {p}" for p in report.problems]
    return lines


@click.command("send")
@click.argument("survey")
@click.option("--to", "source", required=True, help="The mailing list or segment to send to.")
@click.option(
    "--round",
    "round_",
    default="manual",
    show_default=True,
    help="Send again to people already invited by naming a new round.",
)
@click.option("--dry-run", is_flag=True, help="Count who would get it; send nothing.")
@pass_state
def send(state: CLIState, survey: str, source: str, round_: str, dry_run: bool) -> None:
    """E-mail the survey to a mailing list or segment, each with a personal link."""
    report = surveys_api(state).send(survey, source, round=round_, dry_run=dry_run)
    for line in _send_lines(report):
        click.echo(line)
    if not dry_run and report.sent:
        click.echo("the messages are queued; `crm worker` (or `crm mail deliver`) sends them")


@click.command("remind")
@click.argument("survey", required=False)
@click.option(
    "--after-days",
    type=int,
    default=None,
    help="Remind those invited at least this many days ago (default: the survey's or the setting's).",
)
@click.option("--dry-run", is_flag=True, help="Count the reminders; send nothing.")
@pass_state
def remind(state: CLIState, survey: str | None, after_days: int | None, dry_run: bool) -> None:
    """Send the one reminder to those who have not answered after N days (all surveys by default)."""
    reports = surveys_api(state).remind(survey, after_days=after_days, dry_run=dry_run)
    verb = "would remind" if dry_run else "reminded"
    for r in reports:
        if r.after_days == 0:
            click.echo(f"{r.survey_key}: reminders are off (after_days = 0)")
            continue
        extra = f" ({r.skipped} no longer reachable by e-mail)" if r.skipped else ""
        click.echo(f"{r.survey_key}: {verb} {r.sent} contact(s) invited {r.after_days}+ day(s) ago{extra}")
    if not reports:
        click.echo("there are no surveys")


@click.command("letters")
@click.argument("survey")
@click.option("--to", "source", required=True, help="The mailing list or segment whose postal addresses get a letter.")
@click.option(
    "--out",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder for the PDF files.",
)
@click.option("--round", "round_", default="manual", show_default=True, help="The sending round (as for send).")
@click.option(
    "--combined", is_flag=True, help="Write one PDF with every letter, for printing, instead of one per recipient."
)
@pass_state
def letters(state: CLIState, survey: str, source: str, directory: Path, round_: str, combined: bool) -> None:
    """Print the survey as PDF letters for window envelopes, with a code to enter the answers."""
    report = surveys_api(state).letters(survey, source, directory, round=round_, combined=combined)
    click.echo(
        f"wrote {report.letters} letter(s) to {report.directory} ({report.new} new, {report.reprinted} reprinted)"
    )
    click.echo(
        f"skipped: {report.already_invited} already invited by e-mail in this round, {report.do_not_contact} do-not-contact, "
        f"{report.unsubscribed} unsubscribed, {report.no_address} without a postal address"
        + _out_of_scope(report.out_of_scope)
    )


@click.command("link")
@click.argument("survey")
@click.option("--contact", "contact_id", type=int, required=True, help="The contact's id.")
@click.option(
    "--days", type=int, default=None, help="How long the link works [default: plugins.surveys.token_ttl_days]."
)
@pass_state
def link(state: CLIState, survey: str, contact_id: int, days: int | None) -> None:
    """Print a fresh personal answer link for a contact (to send him by hand)."""
    api = surveys_api(state)
    click.echo(api.link(api.token(survey, contact_id, days=days)))


@click.group("schedule")
def schedule() -> None:
    """Send a survey to a list on a recurrence, run by `crm worker`."""


def _parse_start(value: str | None, app: Any) -> dt.datetime | None:
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date and time such as 2026-04-01T09:00", param_hint="--start"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=app.tz)


@schedule.command("add")
@click.argument("survey")
@click.option("--to", "source", required=True, help="The mailing list or segment to send to.")
@click.option(
    "--rule", required=True, help='An RFC 5545 recurrence rule, e.g. "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1;BYHOUR=9".'
)
@click.option("--start", default=None, help="The first possible occurrence, in the app's time zone [default: now].")
@pass_state
def schedule_add(state: CLIState, survey: str, source: str, rule: str, start: str | None) -> None:
    """Schedule a survey: each occurrence sends it to the list once, in a round of its own."""
    info = surveys_api(state).schedule(survey, source, rule, start=_parse_start(start, state.crm()))
    click.echo(
        f"schedule {info.id}: survey {info.survey_key!r} to {info.source!r}, {info.rule}; next at {info.next_at:%Y-%m-%d %H:%M %Z}"
        if info.next_at
        else f"schedule {info.id} added; the rule has no further occurrence"
    )


@schedule.command("list")
@click.argument("survey", required=False)
@format_option()
@pass_state
def schedule_list(state: CLIState, survey: str | None, fmt: str) -> None:
    """List the schedules with their next occurrence."""
    import attrs

    rows = [attrs.asdict(s) for s in surveys_api(state).schedules(survey)]
    click.echo(render(rows, ["id", "survey_key", "source", "rule", "active", "last_occurrence", "next_at"], fmt))


@schedule.command("stop")
@click.argument("schedule_id", type=int)
@pass_state
def schedule_stop(state: CLIState, schedule_id: int) -> None:
    """Stop a schedule (its rounds and answers stay)."""
    surveys_api(state).unschedule(schedule_id)
    click.echo(f"schedule {schedule_id} stopped")


COMMANDS = (send, remind, letters, link, schedule)
