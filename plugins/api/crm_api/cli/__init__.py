"""``crm api …``: the HTTP API's commands. Imported only when one of them runs."""

from __future__ import annotations

import click

from crm_api.cli.serving import openapi, serve

__all__ = ["api"]


@click.group("api")
def api() -> None:
    """The HTTP API: serve it, print its OpenAPI document."""


api.add_command(serve)
api.add_command(openapi)
