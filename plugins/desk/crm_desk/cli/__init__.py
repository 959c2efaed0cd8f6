"""``crm desk …``: the desk's commands, assembled here; imported only when one of them runs."""

from __future__ import annotations

import click

from crm_desk.cli.serving import serve

__all__ = ["desk", "serve"]


@click.group("desk")
def desk() -> None:
    """The staff web app: serve it."""


desk.add_command(serve)
