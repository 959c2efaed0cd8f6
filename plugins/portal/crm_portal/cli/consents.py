"""``crm portal consents``: what each person agreed to on the sign-up forms."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from crm_core import ids
from crm_core.cli.helpers import plugin_api
from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render

if TYPE_CHECKING:
    from crm_portal.api import PortalAPI

__all__ = ["COLUMNS", "consents"]

COLUMNS = ["id", "contact_id", "form", "lists", "language", "given_at", "confirmed_at", "ip", "text"]


@click.command("consents")
@click.argument("contact_id", type=ids.cli_type(), required=False)
@click.option("--form", "form_name", default=None, help="Only consents given on this sign-up form.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="At most this many, newest first.")
@format_option()
@pass_state
def consents(state: CLIState, contact_id: int | None, form_name: str | None, limit: int, fmt: str) -> None:
    """List recorded consents: what each person agreed to, on which form, when (of one contact, or all)."""
    portal: PortalAPI = plugin_api(state, "portal")
    records = portal.consents(contact_id, form=form_name, limit=limit)
    rows = [{column: getattr(r, column) for column in COLUMNS} for r in records]
    for row in rows:
        row["lists"] = list(row["lists"])
    click.echo(render(rows, COLUMNS, fmt))
