"""``crm warehouse …``: stored events, timelines, the audit, staff actions, documents, rebuilds."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import click

from crm_core.cli.main import CLIError, CLIState, pass_state
from crm_core.output import format_option, render
from crm_warehouse.actions import ACTION_KINDS
from crm_warehouse.catalog import KINDS
from crm_warehouse.cli.common import by_option, default_actor, parse_date, parse_instant, plain, warehouse_api

__all__ = ["warehouse"]


@click.group()
def warehouse() -> None:
    """Stored events, timelines, audit, notes, documents, reporting tables."""


# -- events --------------------------------------------------------------------------


@warehouse.command("status")
@format_option()
@pass_state
def status(state: CLIState, fmt: str) -> None:
    """Stored events per type: how many, first and last, and whether the type is known."""
    rows = warehouse_api(state).status()
    click.echo(render(rows, ["type", "kind", "events", "first", "last", "known"], fmt))


@warehouse.command("events")
@click.option("--type", "type_name", default=None, help="Only events of this type.")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only events of this kind.")
@click.option("--unknown", is_flag=True, help="Only events of types no installed plugin defines.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100_000))
@format_option()
@pass_state
def events(state: CLIState, type_name: str | None, kind: str | None, unknown: bool, limit: int, fmt: str) -> None:
    """The newest stored events (unknown types are shown as such, never dropped)."""
    stored = warehouse_api(state).events(type_name=type_name, kind=kind, unknown=unknown, limit=limit)
    rows = [
        {
            "event_id": s.event_id,
            "type": s.type if s.known else f"{s.type} (unknown)",
            "kind": s.kind,
            "occurred_at": s.occurred_at,
            "actor": s.actor,
            "channel": s.channel,
            "payload": s.payload,
        }
        for s in stored
    ]
    click.echo(render(rows, ["event_id", "type", "kind", "occurred_at", "actor", "channel", "payload"], fmt))


# -- history -------------------------------------------------------------------------


@warehouse.command("timeline")
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
    entries = warehouse_api(state).timeline(contact_id, kinds=list(kinds) or None, limit=limit, before=when)
    rows = [plain(e) for e in entries]
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


@warehouse.command("audit")
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
    entries = warehouse_api(state).audit(
        contact_id=contact_id,
        field=field,
        actor=actor,
        channel=channel,
        since=parse_date(since, "--since"),
        until=parse_date(until, "--until"),
        limit=limit,
    )
    rows = [plain(e) for e in entries]
    click.echo(render(rows, ["occurred_at", "contact_id", "actor", "channel", "action", "field", "old", "new"], fmt))


# -- staff actions -------------------------------------------------------------------


@warehouse.command("log")
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
@by_option
@pass_state
def log(state: CLIState, kind: str, text: str | None, contact_id: int | None, sale_id: int | None, subject: str,
        text_file: TextIO | None, occurred: str | None, actor: str | None) -> None:  # fmt: skip
    """Log a note, call, meeting or e-mail against a contact or a sale."""
    import datetime as dt

    from crm_core.errors import ValidationError

    if text is not None and text_file is not None:
        raise click.UsageError("give the text as an argument or with --file, not both")
    body = text_file.read() if text_file is not None else (text or "")
    when = parse_instant(occurred, "--at")
    if when is not None and not isinstance(when, dt.datetime):
        raise ValidationError(f"--at {occurred!r}: give a date and time with a time zone, e.g. 2026-01-31T15:00+01:00")
    action = warehouse_api(state).actions.log(
        kind,
        contact_id=contact_id,
        sale_id=sale_id,
        subject=subject,
        body=body,
        author=actor or default_actor(),
        occurred_at=when,
        channel="staff",
    )
    about = f"contact {action.contact_id}" if action.contact_id is not None else ""
    if action.sale_id is not None:
        about += (", " if about else "") + f"sales record {action.sale_id}"
    click.echo(f"{kind} {action.id} logged for {about}")


@warehouse.command("actions")
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
    found = warehouse_api(state).actions.list(
        contact_id=contact_id, sale_id=sale_id, kind=kind, author=author, limit=limit
    )
    rows = [plain(a) for a in found]
    columns = ["id", "kind", "occurred_at", "author", "contact_id", "sale_id", "subject"]
    click.echo(render(rows, columns if fmt == "table" else columns + ["body", "logged_at"], fmt))


# -- documents -----------------------------------------------------------------------


@warehouse.command("attach")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--contact", "contact_id", type=int, default=None, help="The contact it is attached to.")
@click.option("--sale", "sale_id", type=int, default=None, help="The sales record it is attached to.")
@click.option("--name", default=None, help="Name to show [default: the file's name].")
@click.option("--type", "content_type", default=None, help="MIME type [default: guessed from the name].")
@click.option("--description", default="", help="What the document is.")
@by_option
@pass_state
def attach(state: CLIState, path: Path, contact_id: int | None, sale_id: int | None, name: str | None,
           content_type: str | None, description: str, actor: str | None) -> None:  # fmt: skip
    """Attach a file to a contact or a sale (stored once by content)."""
    doc = warehouse_api(state).documents.attach(
        path,
        contact_id=contact_id,
        sale_id=sale_id,
        name=name,
        content_type=content_type,
        uploaded_by=actor or default_actor(),
        description=description,
        channel="staff",
    )
    note = " (content already stored: kept once)" if doc.deduplicated else ""
    click.echo(f"document {doc.id} attached: {doc.name}, {doc.size:,} bytes, sha256 {doc.sha256[:12]}…{note}")


@warehouse.command("documents")
@click.option("--contact", "contact_id", type=int, default=None, help="Only this contact's.")
@click.option("--sale", "sale_id", type=int, default=None, help="Only this sales record's.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@format_option()
@pass_state
def documents(state: CLIState, contact_id: int | None, sale_id: int | None, limit: int, fmt: str) -> None:
    """Attached documents, newest first."""
    found = warehouse_api(state).documents.list(contact_id=contact_id, sale_id=sale_id, limit=limit)
    rows = [plain(d) for d in found]
    columns = ["id", "name", "content_type", "size", "contact_id", "sale_id", "uploaded_by", "uploaded_at"]
    click.echo(render(rows, columns if fmt == "table" else columns + ["sha256", "description"], fmt))


@warehouse.command("document")
@click.argument("document_id", type=int)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the content here ('-' for standard output) instead of showing the details.",
)
@format_option()
@pass_state
def document(state: CLIState, document_id: int, output: Path | None, fmt: str) -> None:
    """Show a document's details, or write its content out (checked against its SHA-256)."""
    from crm_warehouse.cli.common import render_record

    store = warehouse_api(state).documents
    if output is None:
        click.echo(render_record(plain(store.get(document_id)), fmt))
        return
    data = store.read_bytes(document_id)
    if str(output) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise CLIError(f"cannot write {output}: {exc.strerror or exc}", 2) from None
    click.echo(f"wrote {output} ({len(data):,} bytes)")


@warehouse.command("verify")
@format_option()
@pass_state
def verify(state: CLIState, fmt: str) -> None:
    """Re-hash every stored document file; report missing and altered ones (exit 1 if any)."""
    checked, problems = warehouse_api(state).documents.verify()
    if problems:
        rows = [plain(p) for p in problems]
        click.echo(render(rows, ["sha256", "problem", "documents", "path"], fmt))
        if fmt == "table":
            click.echo(
                f"{len(problems)} of {checked} stored file(s) missing or altered; attach the original again to repair it"
            )
        raise click.exceptions.Exit(1)
    if fmt == "table":
        click.echo(f"all {checked} stored file(s) are present and intact")
    else:
        click.echo(render([], ["sha256", "problem", "documents", "path"], fmt))


# -- maintenance ---------------------------------------------------------------------


@warehouse.command("rebuild")
@click.option("--no-outbox", is_flag=True, help="Do not first copy the kernel outbox's events that the store lacks.")
@pass_state
def rebuild(state: CLIState, no_outbox: bool) -> None:
    """Rebuild the reporting tables from the event store (and the sales records)."""
    counts = warehouse_api(state).rebuild(from_outbox=not no_outbox)
    if "events_added" in counts:
        click.echo(f"events copied from the outbox: {counts.pop('events_added')}")
    for table, n in counts.items():
        click.echo(f"{table}: {n} row(s)")


@warehouse.command("tables")
@format_option()
@pass_state
def tables(state: CLIState, fmt: str) -> None:
    """The reporting tables other plugins and reports may query, with their row counts."""
    app = state.crm()
    api = app.plugin("warehouse")
    rows = []
    with app.activate():
        for role, table in api.reporting_tables().items():
            quoted = app.database.quote[0] + table + app.database.quote[1]
            count = app.database.execute_sql(f"SELECT COUNT(*) FROM {quoted}").fetchone()[0]
            rows.append({"role": role, "table": table, "rows": count})
    click.echo(render(rows, ["role", "table", "rows"], fmt))
