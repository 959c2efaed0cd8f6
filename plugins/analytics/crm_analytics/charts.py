"""Any report, or any plugin's figures, as a PNG or SVG chart: bar, line or stacked bar (matplotlib, Agg backend).

matplotlib is imported here, when a chart is drawn, never by the entry module.
Drawing has two steps: :func:`chart_of` turns a report into the contract's
:class:`~crm_hookspecs.records.Chart` (labels in order, a value or a gap per
label and series, the words), and :func:`figure_of` draws a ``Chart``,
whoever made it: a report's, or another plugin's through
``ChartsAPI.draw_chart`` (the surveys' results). The report's
:class:`~crm_analytics.result.ChartSpec` says what to draw by default: the
``x`` column along the axis, the ``y`` measures, and the ``group`` columns
(region, currency…) that split them into series.
"""

from __future__ import annotations

import functools
import io
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_analytics.result import ChartSpec, Report
from crm_core.errors import ValidationError
from crm_core.i18n import N_
from crm_hookspecs.records import Chart, ChartSeries

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["KINDS", "MAX_SERIES", "Charts", "chart_of", "draw", "figure", "figure_of", "render"]

KINDS = ("bar", "line", "stacked")
MAX_SERIES = 12
#: the labels of periods (2026, 2026-03, 2026-Q1, 2026-W05, FY2027-Q1) and of days: sorted as text, they are in time order
_TIME_LABEL = re.compile(r"^(FY)?\d{4}(-(Q[1-4]|W\d{2}|\d{2}(-\d{2})?))?$")
#: room above the highest bar or point (and below the lowest negative one), as a share of the span
HEADROOM = 0.08


def _number(value: Any) -> float | None:
    """A drawable value, or None when it is missing (None, NaN)."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _same(column: str, value: str) -> str:
    return value


def _series(
    report: Report,
    spec: ChartSpec,
    measures: Sequence[str],
    label: Callable[[str], str] = str,
    value_of: Callable[[str, str], str] = _same,
) -> tuple[list[str], dict[str, list[float]]]:
    """The x labels (periods in time order) and each series' values along them, NaN where it has none.

    A missing value is a gap, never a 0: a region without answers in a quarter
    has no NPS there, not an NPS of 0.
    """
    xs: list[str] = []
    data: dict[str, dict[str, float]] = {}
    for row in report.rows:
        x = "" if row.get(spec.x) is None else str(row.get(spec.x))
        if x not in xs:
            xs.append(x)
        group = " ".join(
            "(none)" if row.get(g) is None else value_of(g, str(row.get(g))) for g in spec.group if g != spec.x
        )
        for m in measures:
            value = _number(row.get(m))
            if value is None:
                continue
            name = " · ".join(p for p in (group, label(m) if len(measures) > 1 or not group else "") if p) or label(m)
            data.setdefault(name, {})
            data[name][x] = data[name].get(x, 0.0) + value
    if report.periods and all(x in report.periods for x in xs):
        # every period of the range, in time order: an empty one is a gap on the axis, not skipped
        xs = list(report.periods)
    elif xs and all(_TIME_LABEL.match(x) for x in xs):
        # rows come grouped (by region, by currency…): a group that starts late must not put 2026 before 2025
        xs.sort()
    return xs, {name: [values.get(x, math.nan) for x in xs] for name, values in data.items()}


def _colours(n: int) -> list[tuple[tuple[float, ...], bool]]:
    """A distinct colour per series, and whether to mark it (dashed line, hatched bar).

    matplotlib's default cycle has ten colours, so series 11 and 12 would
    repeat 1 and 2: they take the light partners of those colours from
    ``tab20`` and are also dashed or hatched, so they differ in more than shade.
    """
    import matplotlib

    tab20 = matplotlib.colormaps["tab20"].colors  # type: ignore[attr-defined]  # tab20 is a ListedColormap
    return [(tuple(tab20[2 * (i % 10) + (i // 10) % 2]), i >= 10) for i in range(n)]


def _check(report: Report, kind: str | None) -> tuple[ChartSpec, str]:
    spec = report.chart
    if spec is None:
        raise ValidationError(
            f"report {report.name!r} has no column to draw along an axis (give it a period or a dimension)"
        )
    if report.empty:
        raise ValidationError(f"report {report.name!r} has nothing to draw: {report.empty_message}")
    kind = kind or spec.kind
    if kind not in KINDS:
        raise ValidationError(f"chart kind {kind!r} is not one of {', '.join(KINDS)}")
    return spec, kind


def _measures(report: Report, spec: ChartSpec, measures: Sequence[str] | str | None) -> list[str]:
    if isinstance(measures, str):
        measures = [measures]
    chosen = list(measures) if measures else list(spec.y)
    numeric = [
        c
        for c in report.columns
        if c not in (spec.x, *spec.group)
        and any(isinstance(r.get(c), (int, float)) or hasattr(r.get(c), "as_tuple") for r in report.rows)
    ]
    unknown = [m for m in chosen if m not in report.columns]
    if unknown:
        raise ValidationError(
            f"report {report.name!r} has no column {unknown[0]!r} to draw; its number columns are: {', '.join(numeric)}"
        )
    not_numbers = [m for m in chosen if m not in numeric]
    if not_numbers:
        raise ValidationError(
            f"column {not_numbers[0]!r} of report {report.name!r} holds no numbers; draw one of: {', '.join(numeric)}"
        )
    return chosen


def _english(text: str, **values: Any) -> str:
    return text % values if values else text


def chart_of(
    report: Report,
    *,
    kind: str | None = None,
    measures: Sequence[str] | str | None = None,
    title: str | None = None,
    label: Callable[[str], str] = str,
    say: Callable[..., str] = _english,
    value_of: Callable[[str, str], str] = _same,
) -> Chart:
    """The :class:`~crm_hookspecs.records.Chart` of ``report``: what :func:`figure` draws.

    The x labels are the report's periods in time order (every one of its
    range), a missing value is ``None`` (a gap), and past :data:`MAX_SERIES`
    series the largest are kept, said in the note. The words are English;
    a page gives its own: ``title``, ``label`` (a column's name as its
    heading reads), ``say`` (gettext, for the chart's few sentences) and
    ``value_of`` (a code a column holds, as the page names it: a stage).
    """
    spec, kind = _check(report, kind)
    chosen = _measures(report, spec, measures)
    xs, series = _series(report, spec, chosen, label, value_of)
    if not series:
        raise ValidationError(f"report {report.name!r} has no values in {', '.join(chosen)} to draw")
    note = ""
    if len(series) > MAX_SERIES:
        ranked = sorted(series, key=lambda s: -sum(abs(v) for v in series[s] if not math.isnan(v)))
        note = say(N_("the %(shown)s largest of %(total)s series"), shown=MAX_SERIES, total=len(series))
        series = {name: series[name] for name in ranked[:MAX_SERIES]}
    if title is None:
        title = report.title + (f" ({report.describe_range()})" if report.describe_range() else "")
    return Chart(
        title=title,
        labels=[value_of(spec.x, x) for x in xs],
        series=tuple(ChartSeries(name, values) for name, values in series.items()),
        kind=kind,
        x_label=label(spec.x),
        y_label=", ".join(label(c) for c in chosen) if len(chosen) <= 2 else say(N_("value")),
        note=note,
    )


def figure(report: Report, *, kind: str | None = None, measures: Sequence[str] | str | None = None) -> Figure:
    """The matplotlib ``Figure`` of ``report``, drawn but not saved (what :func:`draw` writes)."""
    return figure_of(chart_of(report, kind=kind, measures=measures))


def figure_of(chart: Chart) -> Figure:
    """The matplotlib ``Figure`` of ``chart``, drawn but not saved.

    Missing values are gaps (no bar, a break in the line), every series has
    its own colour (and past ten, a dashed line or hatched bar too), there is
    room above the highest bar or stack, and a series without any value is
    not drawn. More than :data:`MAX_SERIES` series, or none with a value, is
    a ``ValidationError``.
    """
    if len(chart.series) > MAX_SERIES:
        raise ValidationError(
            f"chart {chart.title!r} has {len(chart.series)} series; at most {MAX_SERIES} can be told apart: "
            "group the smaller ones, or draw several charts"
        )
    series = {s.name: [math.nan if v is None else v for v in s.values] for s in chart.series if any(
        v is not None for v in s.values)}  # fmt: skip
    if not series:
        raise ValidationError(f"chart {chart.title!r} has no value to draw")
    kind = chart.kind
    xs = list(chart.labels)

    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    width = 2.0 + min(16.0, max(7.0, 0.55 * len(xs) * (1 if kind != "bar" else max(1, len(series) / 2))))
    fig = Figure(figsize=(width, 4.8), dpi=110)
    ax = fig.add_subplot()
    positions = list(range(len(xs)))
    styles = _colours(len(series))
    low = high = 0.0  # the extent of what is drawn, for the y limits
    if kind == "line":
        for (name, values), (colour, marked) in zip(series.items(), styles):
            ax.plot(positions, values, marker="o", label=name, color=colour, linestyle="--" if marked else "-")
            drawn = [v for v in values if not math.isnan(v)]
            low, high = min([low, *drawn]), max([high, *drawn])
    elif kind == "stacked":
        # positive values stack up from 0, negative ones down from it; a gap adds nothing
        ups, downs = [0.0] * len(xs), [0.0] * len(xs)
        for (name, values), (colour, marked) in zip(series.items(), styles):
            at = [i for i, v in enumerate(values) if not math.isnan(v)]
            bottoms = [ups[i] if values[i] >= 0 else downs[i] for i in at]
            ax.bar(
                at,
                [values[i] for i in at],
                bottom=bottoms,
                label=name,
                width=0.7,
                color=colour,
                hatch="//" if marked else None,
            )
            for i in at:
                if values[i] >= 0:
                    ups[i] += values[i]
                else:
                    downs[i] += values[i]
        low, high = min([0.0, *downs]), max([0.0, *ups])
    else:
        width_each = 0.8 / len(series)
        for n, ((name, values), (colour, marked)) in enumerate(zip(series.items(), styles)):
            at = [i for i, v in enumerate(values) if not math.isnan(v)]
            ax.bar(
                [i - 0.4 + width_each * (n + 0.5) for i in at],
                [values[i] for i in at],
                width=width_each,
                label=name,
                color=colour,
                hatch="//" if marked else None,
            )
            drawn = [values[i] for i in at]
            low, high = min([low, *drawn]), max([high, *drawn])
    span = (high - low) or 1.0
    # set, not left to autoscaling: a bar's sticky edges (its bottom, the top of the stack below) cancel the margin
    bottom = low - (HEADROOM * span if low < 0 else 0.0) if chart.y_min is None else chart.y_min
    top = high + (HEADROOM * span if high > 0 or low == 0 else 0.0) if chart.y_max is None else chart.y_max
    # a fixed end gets a sliver of room, so a point on it (an NPS of -100) is not drawn on the frame
    edge = 0.02 * (top - bottom)
    ax.set_ylim(bottom - (edge if chart.y_min is not None and chart.y_min < 0 else 0.0),
                top + (edge if chart.y_max is not None else 0.0))  # fmt: skip
    if all(v.is_integer() for values in series.values() for v in values if not math.isnan(v)):
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no tick at 2.5 answers
    ax.set_xlim(-0.6, len(xs) - 0.4)
    ax.set_xticks(positions)
    slanted = len(xs) > 8 and any(len(x) > 3 for x in xs)  # ten answers 0 to 10 fit upright; ten quarters do not
    ax.set_xticklabels(xs, rotation=45 if slanted else 0, ha="right" if slanted else "center")
    ax.set_xlabel(chart.x_label)
    ax.set_ylabel(chart.y_label)
    ax.set_title(chart.title + (f"\n{chart.note}" if chart.note else ""), fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    ax.axhline(0, color="black", linewidth=0.6)
    if len(series) > 1 or any(name != chart.y_label for name in series):
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    return fig


def render(chart: Chart, fmt: str = "svg") -> bytes:
    """``chart`` as PNG or SVG bytes (the SVG without a date, so the same chart gives the same bytes).

    The newest :data:`CACHED` images are kept, by chart: a page reloaded, or
    seen by another user with the same figures, is not drawn again (drawing
    takes 0.1 to 0.4 s; a chart is a frozen record, so equal figures and
    words are one key).
    """
    if fmt not in ("png", "svg"):
        raise ValidationError(f"a chart is drawn as PNG or SVG, not {fmt!r}: ask for fmt='png' or 'svg'")
    return _rendered(chart, fmt)


#: how many drawn charts :func:`render` keeps (an SVG is some 30 to 100 kB)
CACHED = 64


@functools.lru_cache(maxsize=CACHED)
def _rendered(chart: Chart, fmt: str) -> bytes:
    fig = figure_of(chart)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()


def draw(
    report: Report,
    path: str | Path | None = None,
    *,
    kind: str | None = None,
    fmt: str | None = None,
    measures: Sequence[str] | str | None = None,
) -> bytes:
    """Draw ``report``; return the PNG or SVG bytes and write them to ``path`` when given.

    ``fmt`` defaults to the extension of ``path`` (``.png`` or ``.svg``),
    else PNG. ``measures`` replaces the default ``y`` columns.
    """
    _check(report, kind)
    if fmt is None:
        suffix = Path(path).suffix.lower().lstrip(".") if path is not None else "png"
        fmt = suffix or "png"
    if fmt not in ("png", "svg"):
        raise ValidationError(f"a chart is written as PNG or SVG, not {fmt!r}: name the file .png or .svg")
    data = render(chart_of(report, kind=kind, measures=measures), fmt)
    if path is not None:
        try:
            Path(path).write_bytes(data)
        except OSError as exc:
            raise ValidationError(f"cannot write the chart to {str(path)!r}: {exc.strerror or exc}") from None
    return data


class Charts:
    """Charts of reports (a service of :class:`~crm_analytics.api.AnalyticsAPI`); matplotlib loads on first use."""

    def draw(
        self,
        report: Report,
        path: str | Path | None = None,
        *,
        kind: str | None = None,
        fmt: str | None = None,
        measures: Sequence[str] | str | None = None,
    ) -> bytes:
        """Draw ``report`` as a PNG or SVG chart (see :func:`draw`)."""
        return draw(report, path, kind=kind, fmt=fmt, measures=measures)

    def render(self, chart: Chart, fmt: str = "svg") -> bytes:
        """Draw another plugin's ``chart`` as PNG or SVG (see :func:`render`)."""
        return render(chart, fmt)
