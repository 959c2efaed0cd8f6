"""Any report as a PNG or SVG chart: bar, line or stacked bar (matplotlib, Agg backend).

matplotlib is imported here, when a chart is drawn, never by the entry module.
The report's :class:`~crm_analytics.result.ChartSpec` says what to draw by
default: the ``x`` column along the axis, the ``y`` measures, and the
``group`` columns (region, currency…) that split them into series.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Sequence

from crm_core.errors import ValidationError

from crm_analytics.result import ChartSpec, Report

__all__ = ["KINDS", "MAX_SERIES", "draw"]

KINDS = ("bar", "line", "stacked")
MAX_SERIES = 12


def _series(report: Report, spec: ChartSpec, measures: Sequence[str]) -> tuple[list[str], dict[str, list[float]]]:
    xs: list[str] = []
    data: dict[str, dict[str, float]] = {}
    for row in report.rows:
        x = "" if row.get(spec.x) is None else str(row.get(spec.x))
        if x not in xs:
            xs.append(x)
        group = " ".join("(none)" if row.get(g) is None else str(row.get(g)) for g in spec.group if g != spec.x)
        for m in measures:
            value = row.get(m)
            if value is None:
                continue
            name = " · ".join(p for p in (group, m if len(measures) > 1 or not group else "") if p) or m
            data.setdefault(name, {})
            data[name][x] = data[name].get(x, 0.0) + float(value)
    return xs, {name: [values.get(x, 0.0) for x in xs] for name, values in data.items()}


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
    spec = report.chart
    if spec is None:
        raise ValidationError(f"report {report.name!r} has no column to draw along an axis (give it a period or a dimension)")
    if report.empty:
        raise ValidationError(f"report {report.name!r} has nothing to draw: {report.empty_message}")
    kind = kind or spec.kind
    if kind not in KINDS:
        raise ValidationError(f"chart kind {kind!r} is not one of {', '.join(KINDS)}")
    if fmt is None:
        suffix = Path(path).suffix.lower().lstrip(".") if path is not None else "png"
        fmt = suffix or "png"
    if fmt not in ("png", "svg"):
        raise ValidationError(f"a chart is written as PNG or SVG, not {fmt!r}: name the file .png or .svg")
    if isinstance(measures, str):
        measures = [measures]
    chosen = list(measures) if measures else list(spec.y)
    numeric = [c for c in report.columns if c not in (spec.x, *spec.group) and any(isinstance(r.get(c), (int, float)) or hasattr(r.get(c), "as_tuple") for r in report.rows)]
    unknown = [m for m in chosen if m not in report.columns]
    if unknown:
        raise ValidationError(f"report {report.name!r} has no column {unknown[0]!r} to draw; its number columns are: {', '.join(numeric)}")
    not_numbers = [m for m in chosen if m not in numeric]
    if not_numbers:
        raise ValidationError(f"column {not_numbers[0]!r} of report {report.name!r} holds no numbers; draw one of: {', '.join(numeric)}")
    xs, series = _series(report, spec, chosen)
    if not series:
        raise ValidationError(f"report {report.name!r} has no values in {', '.join(chosen)} to draw")
    note = ""
    if len(series) > MAX_SERIES:
        ranked = sorted(series, key=lambda s: -sum(abs(v) for v in series[s]))
        note = f"the {MAX_SERIES} largest of {len(series)} series"
        series = {name: series[name] for name in ranked[:MAX_SERIES]}

    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    width = 2.0 + min(16.0, max(7.0, 0.55 * len(xs) * (1 if kind != "bar" else max(1, len(series) / 2))))
    fig = Figure(figsize=(width, 4.8), dpi=110)
    ax = fig.add_subplot()
    positions = list(range(len(xs)))
    if kind == "line":
        for name, values in series.items():
            ax.plot(positions, values, marker="o", label=name)
    elif kind == "stacked":
        bottoms = [0.0] * len(xs)
        for name, values in series.items():
            ax.bar(positions, values, bottom=bottoms, label=name, width=0.7)
            bottoms = [b + v for b, v in zip(bottoms, values)]
    else:
        width_each = 0.8 / len(series)
        for i, (name, values) in enumerate(series.items()):
            ax.bar([p - 0.4 + width_each * (i + 0.5) for p in positions], values, width=width_each, label=name)
    ax.set_xticks(positions)
    ax.set_xticklabels(xs, rotation=45 if len(xs) > 8 else 0, ha="right" if len(xs) > 8 else "center")
    ax.set_xlabel(spec.x)
    ax.set_ylabel(", ".join(chosen) if len(chosen) <= 2 else "value")
    title = report.title + (f" ({report.describe_range()})" if report.describe_range() else "")
    ax.set_title(title + (f"\n{note}" if note else ""), fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.margins(y=0.08)
    if len(series) > 1 or spec.group:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    data = buffer.getvalue()
    if path is not None:
        try:
            Path(path).write_bytes(data)
        except OSError as exc:
            raise ValidationError(f"cannot write the chart to {str(path)!r}: {exc.strerror or exc}") from None
    return data
