"""What the ``crm reports`` commands share: range, period and chart options, and showing a report."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from crm_analytics.periods import GRAINS
from crm_core.cli.helpers import plugin_api
from crm_core.output import note

if TYPE_CHECKING:
    from crm_analytics.api import AnalyticsAPI
    from crm_analytics.result import Report
    from crm_core.cli.main import CLIState

__all__ = ["analytics", "chart_options", "period_option", "range_options", "show"]


def analytics(state: CLIState) -> AnalyticsAPI:
    """The analytics plugin's API for a command."""
    from crm_analytics.api import AnalyticsAPI

    return plugin_api(state, "analytics", AnalyticsAPI)


def range_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--to", "end", metavar="DATE", help="Last day (YYYY-MM-DD, included) [default: today].")(fn)
    fn = click.option(
        "--from", "start", metavar="DATE", help="First day (YYYY-MM-DD) [default: two years of quarters back]."
    )(fn)
    return fn


def period_option(default: str | None = None) -> Callable[..., Any]:
    return click.option(
        "--period",
        type=click.Choice(GRAINS),
        default=default,
        help="Group by week, month, quarter, year, or all (one row).",
    )


def chart_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--measure",
        "measures",
        multiple=True,
        metavar="COLUMN",
        help="Column to draw (repeat for several) [default: the report's].",
    )(fn)
    fn = click.option(
        "--chart-kind", type=click.Choice(["bar", "line", "stacked"]), help="Chart kind [default: the report's]."
    )(fn)
    fn = click.option(
        "--chart",
        "chart_path",
        type=click.Path(dir_okay=False),
        help="Also draw the report as a chart: a .png or .svg file.",
    )(fn)
    return fn


def show(
    state: CLIState,
    report: Report,
    fmt: str,
    chart_path: str | None = None,
    chart_kind: str | None = None,
    measures: Any = (),
) -> None:
    """Print ``report`` as a table, or export it as CSV/JSON; draw its chart when asked (both need export)."""
    api = analytics(state)
    if report.empty:
        if fmt == "table":
            click.echo(report.empty_message)
        else:  # the data stays machine-readable; the message goes to standard error
            click.echo(api.export(report, fmt))
            note(report.empty_message)
        return
    click.echo(report.render("table") if fmt == "table" else api.export(report, fmt))
    for text in report.notes:
        if fmt == "table":
            click.echo(f"note: {text}")
        else:
            note(f"note: {text}")
    if chart_path:
        api.chart(report, chart_path, kind=chart_kind, measures=list(measures) or None)
        click.echo(f"chart written to {chart_path}", err=fmt != "table")
