"""``crm portal unsubscribe-link``: a contact's unsubscribe link, for a message sent by hand."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from crm_core import ids
from crm_core.cli.helpers import plugin_api
from crm_core.cli.main import CLIState, pass_state

if TYPE_CHECKING:
    from crm_portal.api import PortalAPI

__all__ = ["unsubscribe_link"]


@click.command("unsubscribe-link")
@click.argument("contact_id", type=ids.cli_type())
@click.option(
    "--list", "list_name", default=None, help="Unsubscribe from this mailing list only (default: from everything)."
)
@pass_state
def unsubscribe_link(state: CLIState, contact_id: int, list_name: str | None) -> None:
    """Print a contact's one-click unsubscribe link, to put in a message sent by hand."""
    portal: PortalAPI = plugin_api(state, "portal")
    click.echo(portal.unsubscribe_url(contact_id, list_name))
