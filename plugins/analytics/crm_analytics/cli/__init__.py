"""``crm reports``: list and run reports, one command per standard report, custom reports, schedules.

Imported only when a ``crm reports`` command runs. The group is assembled
here from the topic modules' commands (no command registers itself).
"""

from __future__ import annotations

import click

from crm_analytics.cli import custom, schedules, standard

__all__ = ["reports"]


@click.group()
def reports() -> None:
    """Reports: standard ones, custom ones (TOML), charts, the forecast, scheduled reports."""


for _command in (*custom.COMMANDS, *standard.COMMANDS, *schedules.COMMANDS):
    reports.add_command(_command)
