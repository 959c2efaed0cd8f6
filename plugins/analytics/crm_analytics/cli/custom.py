"""``crm reports list|run|check|add|show|remove``: every report by name, and custom reports (TOML files)."""

from __future__ import annotations

from typing import Any

import click

from crm_analytics.cli.common import analytics, chart_options, period_option, range_options, show
from crm_core.cli.helpers import acting_user_option, actor_name
from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render

__all__ = ["COMMANDS"]


@click.command("list")
@format_option()
@pass_state
def list_reports(state: CLIState, fmt: str) -> None:
    """Every report: the standard ones, saved ones, and those plugins contribute."""
    click.echo(render(analytics(state).list(), ["name", "kind", "title"], fmt))


@click.command("run")
@click.argument("name")
@range_options
@period_option()
@chart_options
@format_option()
@pass_state
def run(
    state: CLIState,
    name: str,
    start: str | None,
    end: str | None,
    period: str | None,
    chart_path: str | None,
    chart_kind: str | None,
    measures: Any,
    fmt: str,
) -> None:
    """Run a report by name, or a report file (NAME ending in .toml) without saving it."""
    api = analytics(state)
    if name.endswith(".toml"):
        report = api.run_file(name, start, end, period=period)
    else:
        report = api.run(name, start, end, period=period)
    show(state, report, fmt, chart_path, chart_kind, measures)


@click.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
@pass_state
def check(state: CLIState, path: str) -> None:
    """Validate a report file: every view, field, aggregate and value."""
    definition = analytics(state).check(path)
    click.echo(
        f"report {definition.name!r} is valid: {len(definition.columns)} column(s) ({', '.join(definition.columns)}) from view {definition.view}"
    )


@click.command("add")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace a saved report of the same name.")
@acting_user_option
@pass_state
def add(state: CLIState, path: str, replace: bool) -> None:
    """Validate a report file and save it, to run by name (crm reports run NAME)."""
    definition = analytics(state).save(path, actor=actor_name(state), replace=replace)
    click.echo(f"report {definition.name!r} saved; run it with 'crm reports run {definition.name}'")


@click.command("remove")
@click.argument("name")
@pass_state
def remove(state: CLIState, name: str) -> None:
    """Remove a saved report."""
    analytics(state).remove(name)
    click.echo(f"report {name!r} removed")


@click.command("show")
@click.argument("name")
@pass_state
def show_report(state: CLIState, name: str) -> None:
    """A report's definition (custom reports) or description (standard ones)."""
    from crm_analytics.reports import STANDARD
    from crm_core.errors import NotFoundError

    api = analytics(state)
    definitions = api.definitions()
    if name in STANDARD:
        click.echo(f"{name}: standard report: {STANDARD[name][2]} (see 'crm reports {name} --help')")
        return
    if name not in definitions:
        raise NotFoundError(f"there is no report {name!r:.80}; 'crm reports list' shows the reports")
    d = definitions[name]
    click.echo(f"# {d.title} ({d.origin}); columns: {', '.join(d.columns)}")
    if d.source:
        click.echo(d.source.rstrip())


COMMANDS = [list_reports, run, check, add, remove, show_report]
