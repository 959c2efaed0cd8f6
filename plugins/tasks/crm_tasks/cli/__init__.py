"""``crm tasks …``: imported only when a tasks command runs.

The group is assembled here from the topic modules' commands: ``items``
(one task and lists of them), ``people`` (who gets tasks, the worker's jobs
by hand), ``rules`` and ``recurring``.
"""

from __future__ import annotations

import click

from crm_tasks.cli import items, people
from crm_tasks.cli.recurring import recurring
from crm_tasks.cli.rules import rules

__all__ = ["tasks"]


@click.group()
def tasks() -> None:
    """Tasks, to-do lists, reminders, recurring templates and rules."""


for command in [*items.COMMANDS, *people.COMMANDS, rules, recurring]:
    tasks.add_command(command)
