"""The warehouse's commands: ``crm sales …`` and ``crm warehouse …``.

The two groups named by the plugin's ``crm_cli_commands``, assembled from
the topic modules' commands. Imported only when one of them runs.
"""

from __future__ import annotations

import click

from crm_warehouse.cli import actions, documents, events, history
from crm_warehouse.cli import sales as sales_commands

__all__ = ["sales", "warehouse"]


@click.group()
def sales() -> None:
    """Requests, quotes and sales: add, list, move through the pipeline, close."""


@click.group()
def warehouse() -> None:
    """Stored events, timelines, audit, notes, documents, reporting tables."""


for _command in sales_commands.COMMANDS:
    sales.add_command(_command)
for _topic in (events, history, actions, documents):
    for _command in _topic.COMMANDS:
        warehouse.add_command(_command)
