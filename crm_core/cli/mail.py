"""``crm mail``: inspect and manage the outgoing mail queue."""

from __future__ import annotations

from typing import Any

import click

from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render

_STATUSES = ("queued", "sending", "sent", "failed", "cancelled")
_LIST_COLUMNS = ["id", "key", "to", "subject", "status", "attempts", "next_attempt_at", "sent_at", "last_error"]


@click.group()
@pass_state
def mail(state: CLIState) -> None:
    """Inspect, retry and deliver outgoing mail."""
    from crm_core.worker.runner import require_tables

    require_tables(state.crm())


def _row(message: Any) -> dict[str, Any]:
    return {
        "id": message.id,
        "key": message.key,
        "to": ", ".join(message.to),
        "subject": message.subject,
        "status": message.status,
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at,
        "sent_at": message.sent_at,
        "last_error": (message.last_error or "").splitlines()[0] if message.last_error else "",
    }


@mail.command("queue")
@click.option(
    "--status",
    "statuses",
    type=click.Choice(_STATUSES + ("all",)),
    multiple=True,
    help="Only messages in this status (repeatable; 'all' for every one) [default: queued, sending, failed].",
)
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 100_000), help="At most this many, newest first."
)
@format_option()
@pass_state
def mail_queue(state: CLIState, statuses: tuple[str, ...], limit: int, fmt: str) -> None:
    """List queued, failed (and, with --status, sent) messages, newest first."""
    crm = state.crm()
    wanted: list[str] | None
    if "all" in statuses:
        wanted = None
    else:
        wanted = list(statuses) or ["queued", "sending", "failed"]
    rows = [_row(m) for m in crm.mail.list(wanted, limit=limit)]
    click.echo(render(rows, _LIST_COLUMNS, fmt))
    if fmt == "table":
        counts = crm.mail.counts()
        click.echo("\n" + ", ".join(f"{n} {s}" for s, n in counts.items()))


@mail.command("show")
@click.argument("ref")
@click.option("--raw", is_flag=True, help="Print the message exactly as the transport receives it (RFC 5322).")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)
@pass_state
def mail_show(state: CLIState, ref: str, raw: bool, fmt: str) -> None:
    """Show one message (by id or key): its state, headers, body and attachments."""
    message = state.crm().mail.get(ref)
    if raw:
        click.echo(message.as_bytes().decode("ascii", "replace").replace("\r\n", "\n"), nl=False)
        return
    info = {
        "id": message.id,
        "key": message.key,
        "message_id": message.message_id,
        "status": message.status,
        "attempts": message.attempts,
        "queued_at": message.queued_at,
        "next_attempt_at": message.next_attempt_at,
        "sent_at": message.sent_at,
        "transport": message.transport,
        "last_error": message.last_error,
        "from": message.sender,
        "to": list(message.to),
        "remaining": list(message.remaining) if message.remaining else None,
        "reply_to": message.reply_to,
        "subject": message.subject,
        "headers": {name: value for name, value in message.headers},
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "bytes": len(a.content)}
            for a in message.attachments
        ],
        "text": message.text,
        "html": message.html,
    }
    if fmt == "json":
        click.echo(render([info], list(info), "json")[1:-1].strip())
        return
    for name in (
        "id",
        "key",
        "message_id",
        "status",
        "attempts",
        "queued_at",
        "next_attempt_at",
        "sent_at",
        "transport",
    ):
        if info[name] is not None:
            click.echo(f"{name}: {info[name].isoformat() if hasattr(info[name], 'isoformat') else info[name]}")
    if message.last_error:
        click.echo(f"last_error: {message.last_error}")
    click.echo(f"From: {message.sender}")
    click.echo(f"To: {', '.join(message.to)}")
    if message.remaining:
        click.echo(f"still to deliver to: {', '.join(message.remaining)}")
    if message.reply_to:
        click.echo(f"Reply-To: {message.reply_to}")
    click.echo(f"Subject: {message.subject}")
    for name, value in message.headers:
        click.echo(f"{name}: {value}")
    for a in message.attachments:
        click.echo(f"attachment: {a.filename} ({a.content_type}, {len(a.content)} bytes)")
    click.echo("")
    click.echo(message.text or "")
    if message.html is not None:
        click.echo(f"\n(and an HTML body of {len(message.html)} characters; --raw shows it)")


@mail.command("retry")
@click.argument("refs", nargs=-1)
@click.option("--waiting", is_flag=True, help="Also make messages waiting for their back-off due now.")
@click.option("--deliver", "deliver_now", is_flag=True, help="Deliver them now instead of leaving them to the worker.")
@pass_state
def mail_retry(state: CLIState, refs: tuple[str, ...], waiting: bool, deliver_now: bool) -> None:
    """Queue failed messages again (all of them, or those named by id or key)."""
    crm = state.crm()
    count = crm.mail.retry(refs, waiting=waiting)
    click.echo(f"{count} message(s) queued again")
    if deliver_now and count:
        report = crm.mail.deliver()
        click.echo(str(report))


@mail.command("deliver")
@click.option("--limit", default=None, type=click.IntRange(1, None), help="Send at most this many.")
@pass_state
def mail_deliver(state: CLIState, limit: int | None) -> None:
    """Send the messages that are due now (the worker does this every few seconds)."""
    report = state.crm().mail.deliver(limit=limit)
    click.echo(str(report))
    if report.error and not report.sent:
        raise click.exceptions.Exit(1)
