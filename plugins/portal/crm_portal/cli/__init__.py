"""``crm portal …``: the portal's commands, assembled here; imported only when one of them runs."""

from __future__ import annotations

import click

from crm_portal.cli.consents import consents
from crm_portal.cli.links import unsubscribe_link
from crm_portal.cli.serving import serve

__all__ = ["consents", "portal", "serve", "unsubscribe_link"]


@click.group("portal")
def portal() -> None:
    """The customer portal: serve its web forms, make unsubscribe links, show recorded consents."""


portal.add_command(serve)
portal.add_command(unsubscribe_link)
portal.add_command(consents)
