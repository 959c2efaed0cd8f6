"""``crm surveys …``: the surveys plugin's commands. Imported only when one of them runs.

The group is assembled here from the topic modules: :mod:`.building`
(new, import, list, show), :mod:`.sending` (send, remind, letters, link,
schedule) and :mod:`.answers` (answer, enter-paper, responses, results).
"""

from __future__ import annotations

import click

from crm_surveys.cli import answers, building, sending
from crm_surveys.cli.building import STARTER

__all__ = ["STARTER", "surveys"]


@click.group()
def surveys() -> None:
    """Surveys: import, send by e-mail or post, answers, results, schedules."""


for _command in (*building.COMMANDS, *sending.COMMANDS, *answers.COMMANDS):
    surveys.add_command(_command)
