"""Survey results over time, from the warehouse: NPS, CSAT and response rates per period and region.

* **NPS**: answers to the NPS questions (``plugins.analytics.surveys.nps_questions``),
  promoters (9-10) minus detractors (0-6) in percent of those answers;
* **CSAT**: answers to the CSAT questions, the share of 4 and 5, in percent;
* answers and responses fall in the period of ``answered_at`` in the app's
  time zone, and in the region the contact had when answering;
* **response rate**: of the invitations sent in the period (``SurveySent``
  events, in the region the contact had then), the share answered by that
  contact for that survey within ``response_window_days`` of the invitation.

For readers whose scope is ``all``, the counts come from the warehouse's
survey summary (answers by question and score, responses, invitations by the
whole days to their first response, per day and month:
:mod:`crm_analytics.summaries`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import peewee

from crm_analytics.periods import bucket
from crm_analytics.reports.common import check_texts, nothing, settings, window
from crm_analytics.result import ChartSpec, Note, Report
from crm_analytics.sql import add_days, fetch, json_int, pct
from crm_analytics.summaries import Summaries, in_range
from crm_core.errors import ValidationError
from crm_core.i18n import N_
from crm_core.ids import is_id

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["surveys"]


def surveys(
    crm: CRM,
    start: Any = None,
    end: Any = None,
    *,
    period: str = "quarter",
    by_region: bool = True,
    survey: int | None = None,
    nps_question: Sequence[str] | str | None = None,
    csat_question: Sequence[str] | str | None = None,
) -> Report:
    """Per period (and region): invitations, response rate, responses, NPS and CSAT."""
    win = window(crm, start, end, period)
    conf = settings(crm).surveys
    nps_keys = check_texts(nps_question, "NPS question") or tuple(conf.nps_questions)
    csat_keys = check_texts(csat_question, "CSAT question") or tuple(conf.csat_questions)
    both = set(nps_keys) & set(csat_keys)
    if both:
        raise ValidationError(f"question {sorted(both)[0]!r} is named as both an NPS and a CSAT question; name it once")
    if survey is not None and not is_id(survey):
        raise ValidationError(f"survey {survey!r} must be a survey id (a positive whole number)")
    tables = win.tables
    kind = tables.kind
    A, R, E, S = tables["survey_answers"], tables["survey_responses"], tables["events"], tables["contact_status"]
    bounds = win.utc_bounds()

    def region(col: peewee.ColumnBase) -> list[peewee.ColumnBase]:
        return [col] if by_region else []

    nps = A.c.question.in_(list(nps_keys))
    csat = A.c.question.in_(list(csat_keys))

    def one(cond: peewee.ColumnBase) -> peewee.Function:
        return peewee.fn.SUM(peewee.Case(None, [(cond, 1)], 0))

    answers_q = (
        A.select(
            bucket(A.c.answered_at, bounds).alias("p"), *region(A.c.region),
            one(nps), one(nps & (A.c.score >= 9)), one(nps & (A.c.score <= 6)),
            one(csat), one(csat & (A.c.score >= 4)),
        )
        .where(A.c.question.in_([*nps_keys, *csat_keys]), A.c.answered_at >= bounds[0], A.c.answered_at < bounds[-1],
               *([A.c.survey_id == survey] if survey else []))
        .group_by(peewee.SQL("1"), *region(A.c.region))
    )  # fmt: skip
    responses_q = (
        R.select(bucket(R.c.answered_at, bounds).alias("p"), *region(R.c.region), peewee.fn.COUNT(peewee.SQL("*")))
        .where(
            R.c.answered_at >= bounds[0], R.c.answered_at < bounds[-1], *([R.c.survey_id == survey] if survey else [])
        )
        .group_by(peewee.SQL("1"), *region(R.c.region))
    )
    contact = json_int(kind, E.c.payload, "contact_id")
    survey_id = json_int(kind, E.c.payload, "survey_id")
    R2 = tables["survey_responses"].alias("r")
    answered = peewee.fn.EXISTS(
        R2.select(peewee.SQL("1")).where(
            R2.c.contact_id == contact,
            R2.c.survey_id == survey_id,
            R2.c.answered_at >= E.c.occurred_at,
            R2.c.answered_at < add_days(kind, E.c.occurred_at, conf.response_window_days),
        )
    )
    sent_from = [E.c.type == "SurveySent", E.c.occurred_at >= bounds[0], E.c.occurred_at < bounds[-1]]
    if survey:
        sent_from.append(survey_id == survey)
    invited_q = E.select(
        bucket(E.c.occurred_at, bounds).alias("p"), *region(S.c.region), peewee.fn.COUNT(peewee.SQL("*")),
        peewee.fn.SUM(peewee.Case(None, [(answered, 1)], 0)),
    )  # fmt: skip
    if by_region:
        invited_q = invited_q.join(
            S,
            peewee.JOIN.LEFT_OUTER,
            on=(
                (S.c.contact_id == contact)
                & (S.c.valid_from <= E.c.occurred_at)
                & ((S.c.valid_to.is_null()) | (S.c.valid_to > E.c.occurred_at))
            ),
        )
    invited_q = invited_q.where(*sent_from).group_by(peewee.SQL("1"), *region(S.c.region))

    summaries = Summaries(crm, tables)
    if summaries.usable("survey_summary", local_days=True):
        window_days = conf.response_window_days
        answer_rows, response_rows, invited_rows = _from_summary(
            tables, win, by_region, survey, nps_keys, csat_keys, window_days
        )
    else:
        answer_rows, response_rows = fetch(answers_q, tables), fetch(responses_q, tables)
        invited_rows = fetch(invited_q, tables)
    cells: dict[tuple[int, Any], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for p, *rest in answer_rows:
        key = (int(p), rest[0] if by_region else None)
        n_nps, promoters, detractors, n_csat, satisfied = (int(v or 0) for v in rest[-5:])
        cell = cells[key]
        cell["nps_answers"] += n_nps
        cell["promoters"] += promoters
        cell["detractors"] += detractors
        cell["csat_answers"] += n_csat
        cell["satisfied"] += satisfied
    for p, *rest in response_rows:
        cells[(int(p), rest[0] if by_region else None)]["responses"] += int(rest[-1])
    for p, *rest in invited_rows:
        cell = cells[(int(p), rest[0] if by_region else None)]
        cell["invited"] += int(rest[-2])
        cell["answered"] += int(rest[-1] or 0)
    rows = []
    for (p, reg), cell in sorted(cells.items(), key=lambda kv: (kv[0][0], "" if kv[0][1] is None else str(kv[0][1]))):
        row: dict[str, Any] = {"period": win.label(p)}
        if by_region:
            row["region"] = reg
        row.update(
            invited=cell["invited"], answered=cell["answered"], response_rate=pct(cell["answered"], cell["invited"]),
            responses=cell["responses"], nps_answers=cell["nps_answers"],
            nps=pct(cell["promoters"] - cell["detractors"], cell["nps_answers"]),
            csat_answers=cell["csat_answers"], csat=pct(cell["satisfied"], cell["csat_answers"]),
        )  # fmt: skip
        rows.append(row)
    dims = ("region",) if by_region else ()
    return Report(
        name="surveys",
        title="Survey results by region" if by_region else "Survey results",
        columns=("period", *dims, "invited", "answered", "response_rate", "responses", "nps_answers", "nps", "csat_answers", "csat"),
        rows=tuple(rows),
        start=win.start,
        end=win.end,
        period=win.grain,
        periods=win.labels(),
        notes=(*win.notes(), *summaries.notes, Note(N_("NPS questions: %(nps)s; CSAT questions: %(csat)s; an invitation counts as "
                                     "answered within %(days)s days"), nps=tuple(nps_keys), csat=tuple(csat_keys),
                                  days=conf.response_window_days)),
        empty_message=nothing(N_("no survey invitations or answers"), win),
        chart=ChartSpec(x="period", y=("nps", "csat"), group=dims, kind="line"),
    )  # fmt: skip


def _from_summary(
    tables: Any,
    win: Any,
    by_region: bool,
    survey: int | None,
    nps_keys: Sequence[str],
    csat_keys: Sequence[str],
    window_days: int,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The three raw queries' rows, from the survey summary: answers, responses, invitations (and answered)."""
    T = tables["survey_summary"]
    days = [p.start for p in win.periods] + [win.stop]
    period = bucket(T.c.day, win.date_bounds())
    region = [T.c.region] if by_region else []
    common = [in_range(T, days, tables), *([T.c.survey_id == survey] if survey else [])]
    total = peewee.fn.SUM(T.c.records)

    def rows(
        measure: str, *columns: Any, where: Sequence[Any] = (), extra: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        query = (
            T.select(period, *region, *columns, total, *extra)
            .where(T.c.measure == measure, *common, *where)
            .group_by(peewee.SQL("1"), *region, *columns)
        )
        return fetch(query, tables)

    def scored(condition: Any) -> Any:
        return peewee.fn.SUM(peewee.Case(None, [(condition, T.c.records)], 0))

    answers: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * 5)
    # per question, the counts the measures need, not each score: far fewer groups to sort
    counts = (scored(T.c.score >= 9), scored(T.c.score <= 6), scored(T.c.score >= 4))
    for p, *rest in rows("answer", T.c.question, where=[T.c.question.in_([*nps_keys, *csat_keys])], extra=counts):
        *head, question, count, promoters, detractors, satisfied = rest
        cell = answers[(p, *head)]
        if question in nps_keys:
            cell[0] += int(count)
            cell[1] += int(promoters)
            cell[2] += int(detractors)
        else:
            cell[3] += int(count)
            cell[4] += int(satisfied)
    invited: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for p, *rest in rows("invitation_region" if by_region else "invitation", T.c.delay_days):
        *head, delay, count = rest
        cell = invited[(p, *head)]
        cell[0] += int(count)
        cell[1] += int(count) if delay is not None and int(delay) < window_days else 0
    return (
        [(*key, *cell) for key, cell in answers.items()],
        rows("response"),
        [(*key, *cell) for key, cell in invited.items()],
    )
