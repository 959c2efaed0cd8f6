"""``crm api serve`` and ``crm api openapi``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from crm_core.cli.main import CLIState, pass_state
from crm_core.serving import serve_options


@click.command("serve")
@serve_options(default_port=8100)
@pass_state
def serve(state: CLIState, host: str, port: int, threads: int, workers: int, url_prefix: str) -> None:
    """Serve the API with waitress, a production WSGI server, until stopped (Ctrl-C or SIGTERM)."""
    from crm_api.wsgi import served_app
    from crm_core.serving import run

    if state.crm().settings("api").deliver_events == "worker":
        click.echo("Events are delivered by 'crm worker': run it beside the API", err=True)
    run(
        state,
        served_app,
        name="the API",
        host=host,
        port=port,
        threads=threads,
        workers=workers,
        url_prefix=url_prefix,
        path="/api/v1/docs",
    )


@click.command("openapi")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write it to this file.")
@pass_state
def openapi(state: CLIState, output: Path | None) -> None:
    """Print the OpenAPI 3.1 document of the resources the enabled plugins serve."""
    from crm_api import __version__
    from crm_api.openapi import build_document
    from crm_api.web import PREFIX, collect_resources

    crm = state.crm()
    resources = [resource for _, resource in collect_resources(crm)]
    text = json.dumps(build_document(resources, title="CRM API", version=__version__, server=PREFIX), indent=2)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"Wrote the OpenAPI document ({len(resources)} resource(s)) to {output}", err=True)
