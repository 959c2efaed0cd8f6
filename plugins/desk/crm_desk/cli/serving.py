"""``crm desk serve``: the staff web app, served by waitress (the kernel's ``crm_core.serving``)."""

from __future__ import annotations

import click

from crm_core.cli.main import CLIState, pass_state
from crm_core.serving import serve_options

__all__ = ["serve"]


@click.command("serve")
@serve_options(default_port=8200)
@pass_state
def serve(state: CLIState, host: str, port: int, threads: int, workers: int, url_prefix: str) -> None:
    """Serve the desk with waitress, a production WSGI server, until stopped (Ctrl-C or SIGTERM)."""
    from crm_core.serving import run
    from crm_desk import create_app

    run(
        state,
        create_app,
        name="the desk",
        host=host,
        port=port,
        threads=threads,
        workers=workers,
        url_prefix=url_prefix,
    )
