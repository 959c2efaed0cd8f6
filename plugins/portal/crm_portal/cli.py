"""``crm portal …``: the portal's commands. Imported only when one of them runs."""

from __future__ import annotations

import click

from crm_core import ids
from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render


@click.group("portal")
def portal() -> None:
    """The customer portal: serve its web forms, make unsubscribe links, show recorded consents."""


@portal.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port (0: any free port)."
)
@click.option(
    "--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Threads per worker process."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes sharing the port (Unix).",
)
@click.option("--url-prefix", default="", help="Serve under this path (/portal), as behind a proxy that forwards it.")
@pass_state
def serve(state: CLIState, host: str, port: int, threads: int, workers: int, url_prefix: str) -> None:
    """Serve the portal with waitress, a production WSGI server, until stopped (Ctrl-C or SIGTERM)."""
    from crm_portal.server import run

    run(state, host=host, port=port, threads=threads, workers=workers, url_prefix=url_prefix)


@portal.command("unsubscribe-link")
@click.argument("contact_id", type=ids.cli_type())
@click.option(
    "--list", "list_name", default=None, help="Unsubscribe from this mailing list only (default: from everything)."
)
@pass_state
def unsubscribe_link(state: CLIState, contact_id: int, list_name: str | None) -> None:
    """Print a contact's one-click unsubscribe link, to put in a message sent by hand."""
    click.echo(state.crm().plugin("portal").unsubscribe_url(contact_id, list_name))


@portal.command("consents")
@click.argument("contact_id", type=ids.cli_type(), required=False)
@click.option("--form", "form_name", default=None, help="Only consents given on this sign-up form.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="At most this many, newest first.")
@format_option()
@pass_state
def consents(state: CLIState, contact_id: int | None, form_name: str | None, limit: int, fmt: str) -> None:
    """List recorded consents: what each person agreed to, on which form, when (of one contact, or all)."""
    records = state.crm().plugin("portal").consents(contact_id, form=form_name, limit=limit)
    rows = [
        {
            "id": r.id,
            "contact_id": r.contact_id,
            "form": r.form,
            "lists": list(r.lists),
            "language": r.language,
            "given_at": r.given_at,
            "confirmed_at": r.confirmed_at,
            "ip": r.ip,
            "text": r.text,
        }
        for r in records
    ]
    click.echo(
        render(rows, ["id", "contact_id", "form", "lists", "language", "given_at", "confirmed_at", "ip", "text"], fmt)
    )
