"""Charts: what is drawn, read back from the matplotlib artists.

A missing value is a gap (no bar, a break in the line), never a 0; the
periods run in time order, every period of the report's range on the axis;
every series has its own colour; the highest bar or stack has room above it.
"""

from __future__ import annotations

import math

import pytest
from matplotlib.colors import to_hex

from crm_analytics.charts import MAX_SERIES, figure
from crm_analytics.result import ChartSpec, Report

PERIODS = ("2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2")


def nps_report(kind: str = "line") -> Report:
    # rows grouped by region, south first: south has nothing before 2026, north no NPS in 2026-Q1
    rows = (
        {"period": "2026-Q1", "region": "south", "nps": 20.0},
        {"period": "2026-Q2", "region": "south", "nps": -10.0},
        {"period": "2025-Q4", "region": "north", "nps": 50.0},
        {"period": "2026-Q1", "region": "north", "nps": None},
        {"period": "2026-Q2", "region": "north", "nps": 30.0},
    )
    return Report(
        name="surveys",
        title="NPS",
        columns=("period", "region", "nps"),
        rows=rows,
        period="quarter",
        periods=PERIODS,
        chart=ChartSpec(x="period", y=("nps",), group=("region",), kind=kind),
    )


def ydata(line) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in line.get_ydata()]


def ticks(ax) -> list[str]:
    return [t.get_text() for t in ax.get_xticklabels()]


def bars(ax, label: str) -> list[tuple[float, float, float]]:
    """(x centre, bottom, height) of each bar of one series."""
    (container,) = [c for c in ax.containers if c.get_label() == label]
    return [(round(p.get_x() + p.get_width() / 2, 3), p.get_y(), p.get_height()) for p in container.patches]


def test_a_line_chart_breaks_where_a_value_is_missing_and_runs_in_time_order():
    ax = figure(nps_report("line")).axes[0]
    assert ticks(ax) == list(PERIODS)  # 2025-Q3 has no rows and is still on the axis; 2025 before 2026
    lines = {line.get_label(): line for line in ax.lines if not line.get_label().startswith("_")}
    assert ydata(lines["north"]) == [None, 50.0, None, 30.0]
    assert ydata(lines["south"]) == [None, None, 20.0, -10.0]
    assert list(lines["north"].get_xdata()) == [0, 1, 2, 3]


def test_a_bar_chart_draws_no_bar_for_a_missing_value():
    ax = figure(nps_report("bar")).axes[0]
    north, south = bars(ax, "north"), bars(ax, "south")
    assert [(round(x), h) for x, _, h in north] == [(1, 50.0), (3, 30.0)]
    assert [(round(x), h) for x, _, h in south] == [(2, 20.0), (3, -10.0)]
    low, high = ax.get_ylim()
    assert high > 50.0 and low < -10.0


def test_stacked_bars_stack_what_is_there_and_leave_room_above():
    rows = (
        {"period": "2025-Q4", "region": "north", "won": 3, "lost": 1},
        {"period": "2026-Q1", "region": "north", "won": None, "lost": 2},
        {"period": "2025-Q4", "region": "south", "won": 4, "lost": None},
    )
    report = Report(
        name="closed-share",
        title="Won",
        columns=("period", "region", "won", "lost"),
        rows=rows,
        periods=("2025-Q4", "2026-Q1"),
        chart=ChartSpec(x="period", y=("won", "lost"), group=("region",), kind="stacked"),
    )
    ax = figure(report).axes[0]
    drawn = {label: bars(ax, label) for label in ("north · won", "north · lost", "south · won")}
    assert drawn["north · won"] == [(0.0, 0.0, 3.0)]
    assert drawn["north · lost"] == [(0.0, 3.0, 1.0), (1.0, 0.0, 2.0)]  # nothing won in 2026-Q1: lost stands on 0
    assert drawn["south · won"] == [(0.0, 4.0, 4.0)]
    assert not [
        c for c in ax.containers if c.get_label() == "south · lost"
    ]  # a series with no value at all is not drawn
    tallest = 8.0
    assert ax.get_ylim()[1] > tallest * 1.05  # the top stack does not touch the frame


def test_twelve_series_have_twelve_colours():
    rows = tuple({"period": "2025-Q1", "region": f"r{i:02d}", "amount": 10 + i} for i in range(MAX_SERIES))
    report = Report(
        name="sales",
        title="Sales",
        columns=("period", "region", "amount"),
        rows=rows,
        chart=ChartSpec(x="period", y=("amount",), group=("region",), kind="bar"),
    )
    ax = figure(report).axes[0]
    looks = {(to_hex(c.patches[0].get_facecolor()), c.patches[0].get_hatch()) for c in ax.containers}
    assert len(ax.containers) == MAX_SERIES and len(looks) == MAX_SERIES
    assert len({colour for colour, _ in looks}) == MAX_SERIES
    lines = figure(report, kind="line").axes[0].lines
    assert len({to_hex(line.get_color()) for line in lines if not line.get_label().startswith("_")}) == MAX_SERIES


def test_without_the_report_periods_period_labels_are_sorted_in_time():
    rows = (
        {"period": "2026-01", "owner": "b", "n": 1},
        {"period": "2025-12", "owner": "a", "n": 2},
        {"period": "2026-02", "owner": "a", "n": 3},
    )
    report = Report(
        name="custom",
        title="T",
        columns=("period", "owner", "n"),
        rows=rows,
        chart=ChartSpec(x="period", y=("n",), group=("owner",), kind="line"),
    )
    ax = figure(report).axes[0]
    assert ticks(ax) == ["2025-12", "2026-01", "2026-02"]
    lines = {line.get_label(): ydata(line) for line in ax.lines if not line.get_label().startswith("_")}
    assert lines == {"b": [None, 1.0, None], "a": [2.0, None, 3.0]}
    # labels that are not periods keep the report's order
    rows = ({"stage": "won", "n": 1}, {"stage": "lead", "n": 2})
    report = Report(name="p", title="T", columns=("stage", "n"), rows=rows, chart=ChartSpec(x="stage", y=("n",)))
    assert ticks(figure(report).axes[0]) == ["won", "lead"]


def test_real_reports_leave_gaps_for_regions_without_closed_sales_or_answers(data_set):
    analytics = data_set.plugin("analytics")
    share = analytics.closed_share("2025-01-01", "2025-06-30", by=["region"], period="month")
    ax = figure(share, kind="line", measures=["won_share"]).axes[0]
    assert ticks(ax) == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
    lines = {line.get_label(): ydata(line) for line in ax.lines if not line.get_label().startswith("_")}
    # north closed nothing in January, March and May: no share there, not 0 %
    assert lines["north EUR"] == [None, 100.0, None, 100.0, None, 0.0]
    assert lines["south EUR"] == [None, None, 0.0, None, None, None]
    surveys = analytics.surveys("2025-01-01", "2025-06-30", period="month")
    ax = figure(surveys, measures=["nps"]).axes[0]
    lines = {line.get_label(): ydata(line) for line in ax.lines if not line.get_label().startswith("_")}
    assert lines == {"north": [None, None, 100.0, None, 0.0, None], "south": [None, None, None, -100.0, None, None]}


@pytest.mark.parametrize("kind", ["bar", "line", "stacked"])
def test_every_kind_is_written_as_png_and_svg(kind, tmp_path):
    from crm_analytics.charts import draw

    assert draw(nps_report(), tmp_path / "c.png", kind=kind).startswith(b"\x89PNG")
    assert b"<svg" in draw(nps_report(), tmp_path / "c.svg", kind=kind)[:500]


# -- charts other plugins make (ChartsAPI.draw_chart) -------------------------------------------


def test_a_chart_another_plugin_made_is_drawn_with_its_words_gaps_and_range():
    from crm_analytics.charts import figure_of
    from crm_hookspecs.records import Chart, ChartSeries

    chart = Chart(
        "NPS por trimestre",
        ["2025-Q4", "2026-Q1", "2026-Q2"],
        [ChartSeries("NPS", [40, None, -12.5])],
        kind="line",
        x_label="Trimestre",
        y_label="NPS",
        y_min=-100,
        y_max=100,
    )
    ax = figure_of(chart).axes[0]
    assert ticks(ax) == ["2025-Q4", "2026-Q1", "2026-Q2"]
    [line] = [line for line in ax.lines if not line.get_label().startswith("_")]
    assert ydata(line) == [40.0, None, -12.5]  # the quarter without answers is a gap
    low, high = ax.get_ylim()
    assert -105 < low < -100 and 100 < high < 105  # the fixed range, with a sliver of room at the ends
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("NPS por trimestre", "Trimestre", "NPS")
    assert ax.get_legend() is None  # one series, named as its axis


def test_a_chart_with_nothing_to_draw_or_too_many_series_is_refused_naming_the_fix():
    from crm_analytics.charts import render
    from crm_core.errors import ValidationError
    from crm_hookspecs.records import Chart, ChartSeries

    empty = Chart("Empty", ["a", "b"], [ChartSeries("n", [None, None])])
    with pytest.raises(ValidationError, match="chart 'Empty' has no value to draw"):
        render(empty)
    crowded = Chart("Crowded", ["a"], [ChartSeries(f"s{i}", [i]) for i in range(MAX_SERIES + 1)])
    with pytest.raises(ValidationError, match="13 series; at most 12 can be told apart"):
        render(crowded)
    with pytest.raises(ValidationError, match="PNG or SVG, not 'gif'"):
        render(Chart("One", ["a"], [ChartSeries("n", [1])]), "gif")


def test_the_contract_refuses_a_chart_made_wrong():
    from crm_hookspecs.records import Chart, ChartSeries

    with pytest.raises(ValueError, match="series 'n' has 1 values for 2 labels"):
        Chart("T", ["a", "b"], [ChartSeries("n", [1])])
    with pytest.raises(ValueError, match="kind 'pie' is not one of bar, line, stacked"):
        Chart("T", ["a"], [ChartSeries("n", [1])], kind="pie")
    with pytest.raises(ValueError, match="a number or None"):
        ChartSeries("n", ["7"])
    assert ChartSeries("n", [float("nan"), 2]).values == (None, 2.0)


def test_a_report_chart_speaks_the_pages_language():
    from crm_analytics.charts import chart_of

    words = {"period": "Periodo", "nps": "NPS"}
    chart = chart_of(nps_report(), title="NPS por región", label=lambda c: words.get(c, c))
    assert (chart.title, chart.x_label, chart.y_label) == ("NPS por región", "Periodo", "NPS")
    assert [s.name for s in chart.series] == ["south", "north"]
    assert chart.labels == PERIODS and chart.series[1].values == (None, 50.0, None, 30.0)


def test_a_chart_drawn_again_comes_from_the_cache():
    from crm_analytics.charts import _rendered, render
    from crm_hookspecs.records import Chart, ChartSeries

    def chart() -> Chart:
        return Chart("Cached", ["a", "b"], [ChartSeries("n", [1, 2])])

    first = render(chart())
    hits = _rendered.cache_info().hits
    assert render(chart()) == first and _rendered.cache_info().hits == hits + 1  # equal figures, one drawing
    assert render(Chart("Cached", ["a", "b"], [ChartSeries("n", [1, 3])])) != first
