"""``crm campaigns …``: imported only when a campaigns command runs.

The group is assembled here from the topic modules' commands: ``writing``
(list, show, create, edit, preview, test) and ``sending`` (send, schedule,
cancel, sends, recur, recurring, stop, run).
"""

from __future__ import annotations

import click

from crm_campaigns.cli import sending, writing

__all__ = ["campaigns"]


@click.group()
def campaigns() -> None:
    """E-mail campaigns: write, preview, test, send to a list now, later or every month."""


for command in [*writing.COMMANDS, *sending.COMMANDS]:
    campaigns.add_command(command)
