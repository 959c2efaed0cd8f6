"""``crm warehouse log|actions``: notes, calls, meetings and e-mails."""

from __future__ import annotations

from typing import TextIO

import click

from crm_core.cli.helpers import acting_user_option, actor_name, plugin_api, to_json
from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render
from crm_warehouse.actions import ACTION_KINDS
from crm_warehouse.cli.common import parse_instant

__all__ = ["COMMANDS"]


@click.command("log")
@click.argument("kind", type=click.Choice(ACTION_KINDS))
@click.argument("text", required=False)
@click.option("--contact", "contact_id", type=int, default=None, help="The contact it is about.")
@click.option("--sale", "sale_id", type=int, default=None, help="The sales record it is about.")
@click.option("--subject", default="", help="A one-line subject.")
@click.option(
    "--file",
    "text_file",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="Read the text from a file ('-' for standard input).",
)
@click.option(
    "--at",
    "occurred",
    default=None,
    metavar="WHEN",
    help="When it took place (ISO datetime with time zone) [default: now].",
)
@acting_user_option
@pass_state
def log(state: CLIState, kind: str, text: str | None, contact_id: int | None, sale_id: int | None, subject: str,
        text_file: TextIO | None, occurred: str | None) -> None:  # fmt: skip
    """Log a note, call, meeting or e-mail against a contact or a sale."""
    import datetime as dt

    from crm_core.errors import ValidationError

    if text is not None and text_file is not None:
        raise click.UsageError("give the text as an argument or with --file, not both")
    body = text_file.read() if text_file is not None else (text or "")
    when = parse_instant(occurred, "--at")
    if when is not None and not isinstance(when, dt.datetime):
        raise ValidationError(f"--at {occurred!r}: give a date and time with a time zone, e.g. 2026-01-31T15:00+01:00")
    action = plugin_api(state, "warehouse").actions.log(
        kind,
        contact_id=contact_id,
        sale_id=sale_id,
        subject=subject,
        body=body,
        author=actor_name(state),
        occurred_at=when,
        channel="staff",
    )
    about = f"contact {action.contact_id}" if action.contact_id is not None else ""
    if action.sale_id is not None:
        about += (", " if about else "") + f"sales record {action.sale_id}"
    click.echo(f"{kind} {action.id} logged for {about}")


@click.command("actions")
@click.option("--contact", "contact_id", type=int, default=None, help="Only this contact's.")
@click.option("--sale", "sale_id", type=int, default=None, help="Only this sales record's.")
@click.option("--kind", type=click.Choice(ACTION_KINDS), default=None, help="Only this kind.")
@click.option("--author", default=None, help="Only this staff member's.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@format_option()
@pass_state
def actions(
    state: CLIState,
    contact_id: int | None,
    sale_id: int | None,
    kind: str | None,
    author: str | None,
    limit: int,
    fmt: str,
) -> None:
    """Notes, calls, meetings and e-mails, the most recent first."""
    found = plugin_api(state, "warehouse").actions.list(
        contact_id=contact_id, sale_id=sale_id, kind=kind, author=author, limit=limit
    )
    rows = [to_json(a) for a in found]
    columns = ["id", "kind", "occurred_at", "author", "contact_id", "sale_id", "subject"]
    click.echo(render(rows, columns if fmt == "table" else columns + ["body", "logged_at"], fmt))


#: the commands of this topic, in the order ``--help`` lists them
COMMANDS = [log, actions]
