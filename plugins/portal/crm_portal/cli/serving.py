"""``crm portal serve``: the portal's web forms, served by waitress."""

from __future__ import annotations

import click

from crm_core.cli.main import CLIState, pass_state

__all__ = ["serve"]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port (0: any free port)."
)
@click.option(
    "--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Threads per worker process."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes sharing the port (Unix).",
)
@click.option("--url-prefix", default="", help="Serve under this path (/portal), as behind a proxy that forwards it.")
@pass_state
def serve(state: CLIState, host: str, port: int, threads: int, workers: int, url_prefix: str) -> None:
    """Serve the portal with waitress, a production WSGI server, until stopped (Ctrl-C or SIGTERM)."""
    from crm_portal.server import run

    run(state, host=host, port=port, threads=threads, workers=workers, url_prefix=url_prefix)
