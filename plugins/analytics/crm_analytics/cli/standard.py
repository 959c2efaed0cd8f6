"""``crm reports closed-share|sales|pipeline|surveys|customers|staff|forecast``: the standard reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from crm_analytics.cli.common import analytics, chart_options, period_option, range_options, show
from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render

__all__ = ["COMMANDS"]


def _standard(
    name: str, help_text: str, extra: list[Callable[..., Any]], period_default: str | None = "quarter"
) -> click.Command:
    """The command of standard report ``name``: its options, the range, the period, charts and formats."""

    def command(
        state: CLIState, /, fmt: str, chart_path: str | None, chart_kind: str | None, measures: Any, **options: Any
    ) -> None:
        options = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items() if v not in (None, ())}
        report = analytics(state).run(name, **options)
        show(state, report, fmt, chart_path, chart_kind, measures)

    command.__name__ = name.replace("-", "_")
    command.__doc__ = help_text
    cmd = pass_state(command)
    cmd = format_option()(cmd)
    cmd = chart_options(cmd)
    for option in reversed(extra):
        cmd = option(cmd)
    if period_default is not None:
        cmd = period_option(period_default)(cmd)
    cmd = range_options(cmd)
    return click.command(name)(cmd)


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


@click.command("forecast")
@click.option("--quarters", type=int, help="Quarters to forecast [default: plugins.analytics.forecast.quarters].")
@click.option(
    "--holdout",
    type=int,
    help="Past quarters held out to measure the error [default: plugins.analytics.forecast.holdout].",
)
@_currency
@click.option("--history", "show_history", is_flag=True, help="Show the quarterly history the forecast used instead.")
@chart_options
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
    report = analytics(state).forecast(quarters=quarters, holdout=holdout, currency=currency)
    if show_history:
        columns, rows = report.extra["history"]
        click.echo(render(list(rows), list(columns), fmt) if rows else "no data: no sales won before this quarter")
        return
    show(state, report, fmt, chart_path, chart_kind, measures)


COMMANDS = [
    _standard(
        "closed-share",
        "Share of sales won per quarter, by count and amount, with the lost and the open ones.",
        [_by(["region", "owner", "product_line", "kind"]), _kind, _currency, _region, _owner],
    ),
    _standard(
        "sales",
        "Sales won per period, by region (--by owner, product_line, kind).",
        [_by(["region", "owner", "product_line", "kind"], ("region",)), _kind, _currency, _region, _owner],
    ),
    _standard(
        "pipeline",
        "Open value per stage now; conversion and days in stage of the records created in the range.",
        [_currency],
        period_default=None,
    ),
    _standard(
        "surveys",
        "NPS, CSAT and response rates per quarter and region.",
        [
            click.option(
                "--by-region/--no-region", "by_region", default=True, help="One row per region [default: yes]."
            ),
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
    ),
    _standard(
        "customers",
        "Contacts per status at each period's end by region (--by country); customers gained and lost.",
        [_by(["region", "country"], ("region",))],
    ),
    _standard(
        "staff",
        "Calls, meetings, notes, e-mails and tasks completed per staff member.",
        [
            click.option(
                "--member", "member", multiple=True, metavar="STAFF", help="Only this staff member (repeatable)."
            )
        ],
    ),
    forecast,
]
