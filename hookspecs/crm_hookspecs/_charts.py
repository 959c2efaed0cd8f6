"""Charts one plugin asks another to draw (:class:`~crm_hookspecs.apis.ChartsAPI`, contract 1.4.0); re-exported by :mod:`crm_hookspecs.records`.

A :class:`Chart` holds the figures and the words of the page that shows it:
the plugin that has the data (the surveys' results) fills it in the user's
language, and the plugin that draws (analytics) turns it into an image, so
there is one way of drawing charts in the project.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

__all__ = ["CHART_KINDS", "Chart", "ChartSeries"]

#: how a chart draws its series: bars side by side, lines, or bars stacked on each other
CHART_KINDS = ("bar", "line", "stacked")


def _to_values(values: Any) -> tuple[float | None, ...]:
    out: list[float | None] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        if isinstance(value, (bool, str)):
            raise ValueError(f"a chart value must be a number or None (a gap), not {value!r}")
        number = float(value)
        if math.isinf(number):
            raise ValueError(f"a chart value must be a finite number, not {value!r}")
        out.append(None if math.isnan(number) else number)
    return tuple(out)


def _to_labels(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def _to_series(values: Any) -> tuple[ChartSeries, ...]:
    return tuple(values)


@attrs.frozen
class ChartSeries:
    """One series of a :class:`Chart`: its ``name`` (the legend's text) and one value per label of the chart.

    A value is a number, or ``None`` where the series has none: drawn as a
    gap (no bar, a break in the line), never as a zero. ``NaN`` is taken
    for ``None``.
    """

    name: str
    values: tuple[float | None, ...] = attrs.field(converter=_to_values)


@attrs.frozen
class Chart:
    """A chart to draw, in the words of the page that shows it (``ChartsAPI.draw_chart``).

    ``labels`` are the positions along the horizontal axis, in the order
    drawn: periods in time order, every period of the range included (an
    empty one is a gap, not skipped). Each of ``series`` has one value per
    label. ``kind`` is ``bar`` (side by side), ``line`` or ``stacked``.
    ``x_label`` and ``y_label`` name the axes; ``y_min`` and ``y_max`` fix
    the vertical range (``-100`` to ``100`` for an NPS, ``0`` to ``100`` for
    shares; drawn with a sliver of room, so a value on an end is seen),
    otherwise it fits the values with room above the highest.
    ``note`` is a second line under the title. The legend shows when there
    are several series, or one named otherwise than the vertical axis.
    A chart made wrong (a series of another length, an unknown kind) is a
    ``ValueError`` naming what to fix.
    """

    title: str
    labels: tuple[str, ...] = attrs.field(converter=_to_labels)
    series: tuple[ChartSeries, ...] = attrs.field(converter=_to_series)
    kind: str = "bar"
    x_label: str = ""
    y_label: str = ""
    y_min: float | None = None
    y_max: float | None = None
    note: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.labels:
            raise ValueError(f"chart {self.title!r} has no labels: give the positions along its horizontal axis")
        if not self.series:
            raise ValueError(f"chart {self.title!r} has no series to draw")
        if self.kind not in CHART_KINDS:
            raise ValueError(f"chart {self.title!r}: kind {self.kind!r} is not one of {', '.join(CHART_KINDS)}")
        for series in self.series:
            if not isinstance(series, ChartSeries):
                raise ValueError(f"chart {self.title!r}: a series must be a ChartSeries, not {type(series).__name__}")
            if len(series.values) != len(self.labels):
                raise ValueError(
                    f"chart {self.title!r}: series {series.name!r} has {len(series.values)} values for "
                    f"{len(self.labels)} labels; give one value per label (None for a gap)"
                )
        if self.y_min is not None and self.y_max is not None and not self.y_min < self.y_max:
            raise ValueError(f"chart {self.title!r}: y_min {self.y_min} must be below y_max {self.y_max}")
