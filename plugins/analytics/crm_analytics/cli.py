"""``crm reports``: list and run reports, one command per standard report, custom reports, schedules.

Imported only when a ``crm reports`` command runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import click

from crm_analytics.periods import GRAINS
from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, note, render

__all__ = ["reports"]


def _range_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--to", "end", metavar="DATE", help="Last day (YYYY-MM-DD, included) [default: today].")(fn)
    fn = click.option(
        "--from", "start", metavar="DATE", help="First day (YYYY-MM-DD) [default: two years of quarters back]."
    )(fn)
    return fn


def _period_option(default: str | None = None) -> Callable[..., Any]:
    return click.option(
        "--period",
        type=click.Choice(GRAINS),
        default=default,
        help="Group by week, month, quarter, year, or all (one row).",
    )


def _chart_options(fn: Callable[..., Any]) -> Callable[..., Any]:
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


def _show(
    report: Any,
    fmt: str,
    chart_path: str | None = None,
    chart_kind: str | None = None,
    measures: Any = (),
    state: CLIState | None = None,
) -> None:
    if report.empty:
        if fmt == "table":
            click.echo(report.empty_message)
        else:  # the data stays machine-readable; the message goes to standard error
            click.echo(render([], list(report.columns), fmt))
            note(report.empty_message)
        return
    click.echo(report.render(fmt))
    notes = list(report.notes)
    if fmt == "table":
        for text in notes:
            click.echo(f"note: {text}")
    else:
        for text in notes:
            note(f"note: {text}")
    if chart_path:
        from crm_analytics.charts import draw

        draw(report, chart_path, kind=chart_kind, measures=list(measures) or None)
        click.echo(f"chart written to {chart_path}", err=fmt != "table")


def _api(state: CLIState) -> Any:
    return state.crm().plugin("analytics")


@click.group()
def reports() -> None:
    """Reports: standard ones, custom ones (TOML), charts, the forecast, scheduled reports."""


@reports.command("list")
@format_option()
@pass_state
def list_reports(state: CLIState, fmt: str) -> None:
    """Every report: the standard ones, saved ones, and those plugins contribute."""
    click.echo(render(_api(state).list(), ["name", "kind", "title"], fmt))


@reports.command("run")
@click.argument("name")
@_range_options
@_period_option()
@_chart_options
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
    api = _api(state)
    if name.endswith(".toml"):
        report = api.run_file(name, start, end, period=period)
    else:
        report = api.run(name, start, end, period=period)
    _show(report, fmt, chart_path, chart_kind, measures)


@reports.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
@pass_state
def check(state: CLIState, path: str) -> None:
    """Validate a report file: every view, field, aggregate and value."""
    definition = _api(state).check(path)
    click.echo(
        f"report {definition.name!r} is valid: {len(definition.columns)} column(s) ({', '.join(definition.columns)}) from view {definition.view}"
    )


@reports.command("add")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace a saved report of the same name.")
@click.option("--by", "actor", metavar="STAFF", help="Who saves it.")
@pass_state
def add(state: CLIState, path: str, replace: bool, actor: str | None) -> None:
    """Validate a report file and save it, to run by name (crm reports run NAME)."""
    definition = _api(state).save(path, actor=actor, replace=replace)
    click.echo(f"report {definition.name!r} saved; run it with 'crm reports run {definition.name}'")


@reports.command("remove")
@click.argument("name")
@pass_state
def remove(state: CLIState, name: str) -> None:
    """Remove a saved report."""
    _api(state).remove(name)
    click.echo(f"report {name!r} removed")


@reports.command("show")
@click.argument("name")
@pass_state
def show(state: CLIState, name: str) -> None:
    """A report's definition (custom reports) or description (standard ones)."""
    from crm_analytics.reports import STANDARD
    from crm_core.errors import NotFoundError

    api = _api(state)
    if name in STANDARD:
        click.echo(f"{name}: standard report: {STANDARD[name][2]} (see 'crm reports {name} --help')")
        return
    definitions = api.definitions()
    if name not in definitions:
        raise NotFoundError(f"there is no report {name!r:.80}; 'crm reports list' shows the reports")
    d = definitions[name]
    click.echo(f"# {d.title} ({d.origin}); columns: {', '.join(d.columns)}")
    if d.source:
        click.echo(d.source.rstrip())


def _standard(
    name: str, help_text: str, extra: list[Callable[..., Any]], period_default: str | None = "quarter"
) -> None:
    def command(
        state: CLIState, /, fmt: str, chart_path: str | None, chart_kind: str | None, measures: Any, **options: Any
    ) -> None:
        options = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items() if v not in (None, ())}
        report = _api(state).run(name, **options)
        _show(report, fmt, chart_path, chart_kind, measures, state)

    command.__name__ = name.replace("-", "_")
    command.__doc__ = help_text
    cmd = pass_state(command)
    cmd = format_option()(cmd)
    cmd = _chart_options(cmd)
    for option in reversed(extra):
        cmd = option(cmd)
    if period_default is not None:
        cmd = _period_option(period_default)(cmd)
    if name != "forecast":
        cmd = _range_options(cmd)
    reports.command(name)(cmd)


def _by(
    choices: list[str], default: tuple[str, ...] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--by",
        "by",
        multiple=True,
        type=click.Choice(choices),
        default=default,
        help="Group by this column too (repeat for several).",
    )


_currency = click.option("--currency", metavar="CODE", help="Only this currency (ISO 4217).")
_kind = click.option(
    "--kind",
    "kind",
    multiple=True,
    type=click.Choice(["rfp", "rfq", "appointment", "quote", "sale"]),
    help="Only records of this kind (repeatable).",
)
_region = click.option("--region", "region", multiple=True, metavar="NAME", help="Only this region (repeatable).")
_owner = click.option("--owner", "owner", multiple=True, metavar="STAFF", help="Only this owner (repeatable).")

_standard(
    "closed-share",
    "Share of sales won per quarter, by count and amount, with the lost and the open ones.",
    [_by(["region", "owner", "product_line", "kind"]), _kind, _currency, _region, _owner],
)
_standard(
    "sales",
    "Sales won per period, by region (--by owner, product_line, kind).",
    [_by(["region", "owner", "product_line", "kind"], ("region",)), _kind, _currency, _region, _owner],
)
_standard(
    "pipeline",
    "Open value per stage now; conversion and days in stage of the records created in the range.",
    [_currency],
    period_default=None,
)
_standard(
    "surveys",
    "NPS, CSAT and response rates per quarter and region.",
    [
        click.option("--by-region/--no-region", "by_region", default=True, help="One row per region [default: yes]."),
        click.option("--survey", type=int, metavar="ID", help="Only this survey."),
        click.option(
            "--nps-question",
            "nps_question",
            multiple=True,
            metavar="KEY",
            help="The NPS question's key (repeatable) [default: from the settings].",
        ),
        click.option(
            "--csat-question",
            "csat_question",
            multiple=True,
            metavar="KEY",
            help="The CSAT question's key (repeatable).",
        ),
    ],
)
_standard(
    "customers",
    "Contacts per status at each period's end by region (--by country); customers gained and lost.",
    [_by(["region", "country"], ("region",))],
)
_standard(
    "staff",
    "Calls, meetings, notes, e-mails and tasks completed per staff member.",
    [click.option("--member", "member", multiple=True, metavar="STAFF", help="Only this staff member (repeatable).")],
)


@reports.command("forecast")
@click.option("--quarters", type=int, help="Quarters to forecast [default: plugins.analytics.forecast.quarters].")
@click.option(
    "--holdout",
    type=int,
    help="Past quarters held out to measure the error [default: plugins.analytics.forecast.holdout].",
)
@_currency
@click.option("--history", "show_history", is_flag=True, help="Show the quarterly history the forecast used instead.")
@_chart_options
@format_option()
@pass_state
def forecast(
    state: CLIState,
    quarters: int | None,
    holdout: int | None,
    currency: str | None,
    show_history: bool,
    chart_path: str | None,
    chart_kind: str | None,
    measures: Any,
    fmt: str,
) -> None:
    """Sales forecast for the next quarters: weighted open pipeline and the history's trend (Holt-Winters)."""
    report = _api(state).forecast(quarters=quarters, holdout=holdout, currency=currency)
    if show_history:
        columns, rows = report.extra["history"]
        click.echo(render(list(rows), list(columns), fmt) if rows else "no data: no sales won before this quarter")
        return
    _show(report, fmt, chart_path, chart_kind, measures, state)


@reports.command("schedules")
@format_option()
@pass_state
def schedules(state: CLIState, fmt: str) -> None:
    """The scheduled reports of [[plugins.analytics.schedules]], with their last and next sending."""
    rows = _api(state).schedules()
    if not rows and fmt == "table":
        click.echo("no scheduled reports; add [[plugins.analytics.schedules]] to the configuration")
        return
    click.echo(render(rows, ["name", "report", "rule", "range", "to", "last_sent_for", "last_rows", "next"], fmt))


@reports.command("send")
@click.argument("schedule")
@click.option(
    "--at", "when", metavar="WHEN", help="Send as for this occurrence (ISO datetime with a time zone) [default: now]."
)
@pass_state
def send(state: CLIState, schedule: str, when: str | None) -> None:
    """Send a scheduled report now (as the worker would); once per occurrence."""
    from crm_core.errors import ValidationError

    occurrence = None
    if when:
        try:
            occurrence = dt.datetime.fromisoformat(when)
        except ValueError:
            raise ValidationError(f"--at {when!r} is not an ISO datetime; write e.g. 2026-01-02T08:00+01:00") from None
        if occurrence.tzinfo is None:
            raise ValidationError(f"--at {when!r} needs a time zone, e.g. 2026-01-02T08:00+01:00")
    result = _api(state).send(schedule, occurrence)
    click.echo(
        f"{result['report']} {result['from']} to {result['to']}: {result['rows']} row(s), {result['status']} ({result['key']})"
    )
