"""``crm warehouse attach|documents|document|verify``: documents attached to contacts and sales."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from crm_core.cli.helpers import acting_user_option, actor_name, plugin_api, to_json
from crm_core.cli.main import CLIError, CLIState, pass_state
from crm_core.output import format_option, render
from crm_warehouse.cli.common import render_record

__all__ = ["COMMANDS"]


@click.command("attach")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--contact", "contact_id", type=int, default=None, help="The contact it is attached to.")
@click.option("--sale", "sale_id", type=int, default=None, help="The sales record it is attached to.")
@click.option("--name", default=None, help="Name to show [default: the file's name].")
@click.option("--type", "content_type", default=None, help="MIME type [default: guessed from the name].")
@click.option("--description", default="", help="What the document is.")
@acting_user_option
@pass_state
def attach(state: CLIState, path: Path, contact_id: int | None, sale_id: int | None, name: str | None,
           content_type: str | None, description: str) -> None:  # fmt: skip
    """Attach a file to a contact or a sale (stored once by content)."""
    doc = plugin_api(state, "warehouse").documents.attach(
        path,
        contact_id=contact_id,
        sale_id=sale_id,
        name=name,
        content_type=content_type,
        uploaded_by=actor_name(state),
        description=description,
        channel="staff",
    )
    note = " (content already stored: kept once)" if doc.deduplicated else ""
    click.echo(f"document {doc.id} attached: {doc.name}, {doc.size:,} bytes, sha256 {doc.sha256[:12]}…{note}")


@click.command("documents")
@click.option("--contact", "contact_id", type=int, default=None, help="Only this contact's.")
@click.option("--sale", "sale_id", type=int, default=None, help="Only this sales record's.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@format_option()
@pass_state
def documents(state: CLIState, contact_id: int | None, sale_id: int | None, limit: int, fmt: str) -> None:
    """Attached documents, newest first."""
    found = plugin_api(state, "warehouse").documents.list(contact_id=contact_id, sale_id=sale_id, limit=limit)
    rows = [to_json(d) for d in found]
    columns = ["id", "name", "content_type", "size", "contact_id", "sale_id", "uploaded_by", "uploaded_at"]
    click.echo(render(rows, columns if fmt == "table" else columns + ["sha256", "description"], fmt))


@click.command("document")
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
    store = plugin_api(state, "warehouse").documents
    if output is None:
        click.echo(render_record(to_json(store.get(document_id)), fmt))
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


@click.command("verify")
@format_option()
@pass_state
def verify(state: CLIState, fmt: str) -> None:
    """Re-hash every stored document file; report missing and altered ones (exit 1 if any)."""
    checked, problems = plugin_api(state, "warehouse").documents.verify()
    if problems:
        rows = [to_json(p) for p in problems]
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


#: the commands of this topic, in the order ``--help`` lists them
COMMANDS = [attach, documents, document, verify]
