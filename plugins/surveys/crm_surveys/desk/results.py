"""A survey's results page in the desk: NPS, CSAT and the answers' distributions by period and by region, as charts and tables.

The figures come from ``crm.plugin("surveys").results`` (as the signed-in
user: over the contacts they may read). The page shows them as tables, and,
where the analytics plugin is installed and the user may run reports, as
charts it draws (``ChartsAPI.draw_chart``, contract 1.4): one way of drawing
charts in the project. A chart is an image of an SVG served by
:func:`chart`, in the user's language, with the table beside it holding the
same figures (its text alternative says so).

Periods run in time order from the first with answers or invitations to the
last, every one in between included: an empty period is a gap in the
charts and a row of dashes in the tables, never a zero.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import attrs
import flask
from flask import abort, g, request

from crm_core.errors import NotFoundError, ValidationError
from crm_core.i18n import N_
from crm_core.i18n import gettext as _

__all__ = ["Breakdown", "chart", "results"]

#: the periods the page breaks results down by, with their labels
PERIODS = {"quarter": N_("Quarter"), "month": N_("Month"), "year": N_("Year")}
#: the kinds of question whose answers are counted (text answers are listed instead)
COUNTED = ("nps", "csat", "rating", "single_choice", "multiple_choice", "yes_no")
#: how the NPS answers are grouped when compared between periods or regions
NPS_GROUPS = (
    (N_("Detractors (0–6)"), range(0, 7)),
    (N_("Passives (7–8)"), range(7, 9)),
    (N_("Promoters (9–10)"), range(9, 11)),
)
NO_REGION = "(none)"
_PERIOD = {
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
    "month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
    "year": re.compile(r"^(\d{4})$"),
}
#: the most periods filled in between the first and the last (a stray answer dated far away is not 500 empty rows)
MAX_PERIODS = 120


def _api() -> Any:
    return g.crm.plugin("surveys")


def _figure(value: float | None, suffix: str = "") -> str:
    from babel.numbers import format_decimal

    from crm_core.i18n import current_language

    return "–" if value is None else format_decimal(value, format="#,##0.#", locale=current_language()) + suffix


# -- periods in order ---------------------------------------------------------------------------


def _index(label: str, grain: str) -> int | None:
    """A period's position on a time line (months since year 0, quarters since…), ``None`` for another label."""
    found = _PERIOD[grain].match(label)
    if found is None:
        return None
    year = int(found.group(1))
    if grain == "year":
        return year
    return year * (4 if grain == "quarter" else 12) + int(found.group(2)) - 1


def _label_of(index: int, grain: str) -> str:
    if grain == "year":
        return str(index)
    per_year = 4 if grain == "quarter" else 12
    year, part = divmod(index, per_year)
    return f"{year}-Q{part + 1}" if grain == "quarter" else f"{year}-{part + 1:02d}"


def fill_periods(labels: Sequence[str], grain: str) -> list[str]:
    """Every period from the first of ``labels`` to the last, in time order (at most :data:`MAX_PERIODS`, the newest)."""
    indexes = sorted({i for i in (_index(label, grain) for label in labels) if i is not None})
    if not indexes:
        return []
    first = max(indexes[0], indexes[-1] - MAX_PERIODS + 1)
    return [_label_of(i, grain) for i in range(first, indexes[-1] + 1)]


# -- one breakdown: the segments along an axis ------------------------------------------------------


@attrs.frozen
class Breakdown:
    """The results along one axis: ``labels`` in the order shown, and the segment of each (``None``: no data)."""

    dimension: str
    labels: tuple[str, ...]
    segments: dict[str, Any]
    overall: Any

    @property
    def is_time(self) -> bool:
        return self.dimension in PERIODS

    def shown(self, label: str) -> str:
        return _("(no region)") if label == NO_REGION else label

    def segment(self, label: str) -> Any:
        return self.segments.get(label)


def breakdown(survey_id: int, dimension: str, *, texts: int = 0) -> tuple[Breakdown, Any]:
    """The survey's results broken down by ``dimension`` (a period or ``region``), and the results themselves."""
    found = _api().results(survey_id, by=[dimension], texts=texts)
    segments = {s.labels[dimension]: s for s in found.segments}
    if dimension in PERIODS:
        labels = fill_periods(list(segments), dimension)
    else:
        labels = sorted((k for k in segments if k != NO_REGION), key=str.casefold)
        labels += [NO_REGION] if NO_REGION in segments else []
    return Breakdown(dimension, tuple(labels), segments, found.overall), found


def _question(segment: Any, key: str) -> Any:
    if segment is None:
        return None
    return next((q for q in segment.questions if q.key == key), None)


def _score(question: Any) -> float | None:
    if question is None:
        return None
    return question.nps if question.kind == "nps" else question.csat


def _answer_label(question: Any, answer: str) -> str:
    if question.kind == "yes_no":
        return _("Yes") if answer == "yes" else _("No")
    return answer


def _groups(question: Any) -> list[tuple[str, list[str]]]:
    """The answers compared between segments: NPS in its three groups, every other answer on its own."""
    if question.kind == "nps":
        return [(_(label), [str(v) for v in values]) for label, values in NPS_GROUPS]
    return [(_answer_label(question, answer), [answer]) for answer in question.distribution]


def _shares(question: Any, groups: list[tuple[str, list[str]]]) -> list[tuple[int, float | None]]:
    """Each group's count and share (percent of the question's answers) in one segment; ``None`` with no answers."""
    if question is None or not question.answered:
        return [(0, None) for _group in groups]
    out = []
    for _label, answers in groups:
        count = sum(question.distribution.get(a, 0) for a in answers)
        out.append((count, round(100.0 * count / question.answered, 1)))
    return out


# -- tables --------------------------------------------------------------------------------------


def score_rows(view: Breakdown, scored: Sequence[Any]) -> list[dict[str, Any]]:
    """Per segment: invited, answered, response rate and the NPS or CSAT of each scored question ("–": none)."""
    rows = []
    for label in view.labels:
        segment = view.segment(label)
        rows.append(
            {
                "label": view.shown(label),
                "invited": segment.invited if segment is not None else 0,
                "responses": segment.responses if segment is not None else 0,
                "rate": _figure(segment.response_rate if segment is not None else None, " %"),
                "scores": [
                    _figure(_score(_question(segment, q.key)), " %" if q.kind == "csat" else "") for q in scored
                ],
            }
        )
    return rows


def distribution_table(view: Breakdown, question: Any) -> dict[str, Any]:
    """A question's answers per segment: a column per answer (or NPS group), each cell its share and count."""
    groups = _groups(question)
    rows = []
    for label in view.labels:
        found = _question(view.segment(label), question.key)
        shares = _shares(found, groups)
        rows.append(
            {
                "label": view.shown(label),
                "answered": found.answered if found is not None else 0,
                "cells": [
                    _figure(share, " %") + (f" ({count})" if share is not None else "") for count, share in shares
                ],
            }
        )
    return {"heads": [label for label, _answers in groups], "rows": rows}


def pivot(view: Breakdown, cross: Any, question: Any, periods: Sequence[str]) -> dict[str, Any]:
    """One scored question by region (rows) and period (columns), from the results broken down by both."""
    cells: dict[tuple[str, str], float | None] = {}
    period_dim = next(d for d in cross.by if d in PERIODS)
    for segment in cross.segments:
        cells[(segment.labels["region"], segment.labels[period_dim])] = _score(_question(segment, question.key))
    suffix = " %" if question.kind == "csat" else ""
    rows = [
        {"label": view.shown(region), "cells": [_figure(cells.get((region, p)), suffix) for p in periods]}
        for region in view.labels
    ]
    return {"question": question, "periods": list(periods), "rows": rows}


# -- charts ---------------------------------------------------------------------------------------


def _title_score(question: Any, view: Breakdown) -> str:
    what = "NPS" if question.kind == "nps" else "CSAT"
    if view.is_time:
        return _("%(what)s per %(period)s: %(question)s", what=what, period=_(PERIODS[view.dimension]).lower(),
                 question=question.text)  # fmt: skip
    return _("%(what)s per region: %(question)s", what=what, question=question.text)


def _title_answers(question: Any, view: Breakdown | None) -> str:
    if view is None:
        return _("Answers: %(question)s", question=question.text)
    if view.is_time:
        return _("Answers per %(period)s: %(question)s", period=_(PERIODS[view.dimension]).lower(),
                 question=question.text)  # fmt: skip
    return _("Answers per region: %(question)s", question=question.text)


def _axis(view: Breakdown) -> str:
    return _(PERIODS[view.dimension]) if view.is_time else _("Region")


def score_chart(view: Breakdown, question: Any) -> Any:
    """A scored question's NPS (−100 to 100) or CSAT (0 to 100 %) per segment: a line in time, bars by region."""
    from crm_hookspecs.records import Chart, ChartSeries

    what = "NPS" if question.kind == "nps" else _("CSAT (%)")
    values = [_score(_question(view.segment(label), question.key)) for label in view.labels]
    return Chart(
        title=_title_score(question, view),
        labels=[view.shown(label) for label in view.labels],
        series=[ChartSeries(what, values)],
        kind="line" if view.is_time else "bar",
        x_label=_axis(view),
        y_label=what,
        y_min=-100 if question.kind == "nps" else 0,
        y_max=100,
    )


def answers_chart(view: Breakdown | None, question: Any) -> Any:
    """A question's answers: overall, their counts; per segment, each answer's share (stacked to 100 % but for a
    multiple choice, whose shares add up to more)."""
    from crm_hookspecs.records import Chart, ChartSeries

    if view is None:
        labels = [_answer_label(question, a) for a in question.distribution]
        return Chart(
            title=_title_answers(question, None),
            labels=labels,
            series=[ChartSeries(_("Answers"), list(question.distribution.values()))],
            kind="bar",
            x_label=_("Answer"),
            y_label=_("Answers"),
        )
    groups = _groups(question)
    per_segment = [_shares(_question(view.segment(label), question.key), groups) for label in view.labels]
    series = [ChartSeries(name, [shares[n][1] for shares in per_segment]) for n, (name, _answers) in enumerate(groups)]
    stacked = question.kind != "multiple_choice"
    return Chart(
        title=_title_answers(question, view),
        labels=[view.shown(label) for label in view.labels],
        series=series,
        kind="stacked" if stacked else "bar",
        x_label=_axis(view),
        y_label=_("Share of the answers (%)"),
        y_min=0,
    )


def may_draw() -> bool:
    """Whether charts can be drawn for this user: the analytics plugin is installed and they may run reports."""
    crm = g.crm
    return bool(crm.has_plugin("analytics") and crm.authz.can("analytics.reports.run"))


# -- the views ---------------------------------------------------------------------------------------


def _survey(survey_id: int) -> Any:
    try:
        return _api().get(survey_id)
    except NotFoundError:
        abort(404)


def _grain() -> str:
    period = request.args.get("period", "quarter")
    return period if period in PERIODS else "quarter"


def _overall_rows(overall: Any) -> list[dict[str, Any]]:
    """Each question of the whole survey with its headline figure (NPS, CSAT or mean) and its distribution."""
    rows = []
    for q in overall.questions:
        if q.kind == "nps":
            headline = _("NPS %(value)s", value=_figure(q.nps))
            detail = _("%(promoters)s promoters, %(passives)s passives, %(detractors)s detractors",
                       promoters=q.promoters or 0, passives=q.passives or 0, detractors=q.detractors or 0)  # fmt: skip
        elif q.kind == "csat":
            headline = _("CSAT %(value)s", value=_figure(q.csat, " %"))
            detail = _("%(count)s satisfied (4 or 5)", count=q.satisfied or 0)
        elif q.mean is not None:
            headline, detail = _("Mean %(value)s", value=_figure(q.mean)), ""
        else:
            headline, detail = "", ""
        total = q.answered or 0
        distribution = [
            {
                "answer": _answer_label(q, answer),
                "count": count,
                "percent": _figure(100.0 * count / total if total else None, " %"),
            }
            for answer, count in q.distribution.items()
        ]
        rows.append({"question": q, "headline": headline, "detail": detail, "distribution": distribution})
    return rows


def results(survey_id: int) -> Any:
    """The results page: the figures per period (``period``: quarter, month or year) and per region, as charts and
    tables, the scores by region and period together, every answer's distribution, and the newest free text."""
    info = _survey(survey_id)
    g.crm.authz.require("surveys.results.run")
    grain = _grain()
    by_period, found = breakdown(info.id, grain, texts=20)
    by_region, _found = breakdown(info.id, "region")
    cross = _api().results(info.id, by=["region", grain], texts=0)
    overall = found.overall
    scored = [q for q in overall.questions if q.kind in ("nps", "csat")]
    counted = [
        q for q in overall.questions if q.kind in COUNTED and q.answered
    ]  # one nobody answered: nothing to compare
    views = []
    for view in (by_period, by_region):
        views.append(
            {
                "view": view,
                "id": "by-period" if view.is_time else "by-region",
                "heading": _("By %(period)s", period=_(PERIODS[grain]).lower()) if view.is_time else _("By region"),
                "axis": _axis(view),
                "scores": score_rows(view, scored),
                "distributions": [(q, distribution_table(view, q)) for q in counted],
            }
        )
    return flask.render_template(
        "surveys/results.html",
        info=info,
        can_responses=g.crm.authz.can("surveys.answers.read"),
        found=found,
        grain=grain,
        periods=[(k, _(label)) for k, label in PERIODS.items()],
        overall=_overall_rows(overall),
        rate=_figure(overall.response_rate, " %"),
        scored=scored,
        views=views,
        pivots=[pivot(by_region, cross, q, by_period.labels) for q in scored] if by_region.labels else [],
        texts=[q for q in overall.questions if q.kind == "text"],
        charts=may_draw(),
        analytics=g.crm.has_plugin("analytics"),
    )


#: the charts of the page: what (score or answers) along which axis (every answer, the period, the region)
CHART_ROUTE = (
    "/<int:survey_id>/results/chart/<any(score,answers):what>/<any(all,period,region):axis>/<key>.<any(svg,png):fmt>"
)
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: the chart's own policy: matplotlib's SVG styles itself with a <style> element; nothing in it may run
_SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def chart(survey_id: int, what: str, axis: str, key: str, fmt: str) -> Any:
    """One chart of the results page as SVG or PNG, drawn by the analytics plugin in the user's language.

    ``404`` for an unknown survey or question, or a chart the question has
    none of (a score of a choice, anything of a free-text question), and
    when the analytics plugin is not installed; ``403`` without
    ``surveys.results.run`` or ``analytics.reports.run``.
    """
    info = _survey(survey_id)
    g.crm.authz.require("surveys.results.run")
    if not g.crm.has_plugin("analytics") or not _KEY.match(key):
        abort(404)
    g.crm.authz.require("analytics.reports.run")
    if axis == "all":
        if what == "score":
            abort(404)
        view = None
        overall = _api().results(info.id, texts=0).overall
    else:
        view, found = breakdown(info.id, _grain() if axis == "period" else "region")
        overall = found.overall
    question = next((q for q in overall.questions if q.key == key), None)
    if question is None or question.kind not in COUNTED or (what == "score" and question.kind not in ("nps", "csat")):
        abort(404)
    if (view is None and not question.answered) or (view is not None and not view.labels):
        abort(404)  # nothing to draw: the page offers no chart there either
    if what == "score":
        assert view is not None  # a score is drawn along periods or regions only (refused above)
        made = score_chart(view, question)
    else:
        made = answers_chart(view, question)
    try:
        data = g.crm.plugin("analytics").draw_chart(made, fmt)
    except ValidationError as exc:  # nothing to draw: said in words, as the table says it
        return flask.make_response((str(exc), 404, {"Content-Type": "text/plain; charset=utf-8"}))
    response = flask.make_response(data)
    response.headers["Content-Type"] = "image/svg+xml" if fmt == "svg" else "image/png"
    if fmt == "svg":
        response.headers["Content-Security-Policy"] = _SVG_POLICY
    response.headers["Content-Disposition"] = f'inline; filename="{info.key}-{what}-{axis}-{key}.{fmt}"'
    return response
