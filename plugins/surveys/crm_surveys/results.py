"""Results of a survey, computed in SQL.

Three grouped queries do the work, whatever the number of answers, each
reading one covering index in its order: ``surveys_invitation`` (invited
and answered, per region and month sent), ``surveys_response`` (complete
answers and drafts, per region and month answered) and ``surveys_answer``
(answers per question, version, region, month, value and choice). What
comes back is at most a few thousand groups, which are rolled up here into
the figures per question, overall and per segment (region, month, quarter,
year). Free-text answers are read with one query per text question, newest
first, up to a limit.

* response rate: invitations sent by e-mail or post that got a complete
  answer, over those sent (answers without an invitation are counted as
  responses but not in the rate);
* NPS: promoters (9–10) minus detractors (0–6), in percent of the answers;
* CSAT: the share of answers of 4 or 5, in percent;
* choices: each choice's count and share of the answers to the question
  (for a multiple choice the shares add up to more than 100).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

import attrs
from peewee import SQL, fn

from crm_core.errors import ValidationError
from crm_surveys.models import Answer, Invitation, Response, SurveyVersion

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_hookspecs.records import SurveyQuestion
    from crm_surveys.models import Survey
    from crm_surveys.scope import ContactScope

__all__ = ["DIMENSIONS", "QuestionResult", "ResultsReport", "Segment", "SurveyResults", "TextAnswer", "compute"]

#: how results can be broken down
DIMENSIONS = ("region", "month", "quarter", "year")
NO_REGION = "(none)"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@attrs.frozen
class TextAnswer:
    text: str
    answered_at: dt.datetime | None
    region: str | None


@attrs.frozen
class QuestionResult:
    """One question's figures. ``distribution`` maps each possible answer (as
    text) to its count; ``nps``, ``csat`` and ``mean`` are ``None`` when they
    do not apply or nobody answered."""

    key: str
    kind: str
    text: str
    answered: int
    distribution: dict[str, int] = attrs.field(factory=dict)
    mean: float | None = None
    nps: float | None = None
    promoters: int | None = None
    passives: int | None = None
    detractors: int | None = None
    csat: float | None = None
    satisfied: int | None = None
    texts: tuple[TextAnswer, ...] = ()


@attrs.frozen
class Segment:
    """The figures of one segment: ``labels`` such as ``{"region": "ES", "quarter": "2026-Q1"}``
    (empty for the whole survey)."""

    labels: dict[str, str]
    invited: int
    answered_invitations: int
    responses: int
    questions: tuple[QuestionResult, ...]

    @property
    def name(self) -> str:
        return " / ".join(self.labels.values()) or "all"

    @property
    def response_rate(self) -> float | None:
        return round(100.0 * self.answered_invitations / self.invited, 1) if self.invited else None


@attrs.frozen
class SurveyResults:
    survey_id: int
    key: str
    title: str
    versions: tuple[int, ...]
    by: tuple[str, ...]
    overall: Segment
    segments: tuple[Segment, ...]
    drafts: int = 0

    def rows(self) -> list[dict[str, Any]]:
        """The results in long form, one figure per row, for tables, CSV and JSON."""
        out: list[dict[str, Any]] = []
        for segment in (self.overall, *self.segments):
            out.extend(_segment_rows(segment))
        return out


ROW_COLUMNS = ("segment", "question", "kind", "measure", "answer", "value", "percent")


def _row(
    segment: Segment, question: str, kind: str, measure: str, value: Any, answer: Any = None, percent: Any = None
) -> dict[str, Any]:
    return {
        "segment": segment.name,
        "question": question,
        "kind": kind,
        "measure": measure,
        "answer": answer,
        "value": value,
        "percent": percent,
    }


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _segment_rows(segment: Segment) -> list[dict[str, Any]]:
    rows = [
        _row(segment, "", "", "invited", segment.invited),
        _row(segment, "", "", "responses", segment.responses),
        _row(segment, "", "", "response_rate", segment.response_rate),
    ]
    for q in segment.questions:
        rows.append(_row(segment, q.key, q.kind, "answered", q.answered))
        if q.kind == "nps":
            rows.append(_row(segment, q.key, q.kind, "nps", q.nps))
            for name in ("promoters", "passives", "detractors"):
                count = getattr(q, name)
                rows.append(_row(segment, q.key, q.kind, name, count, percent=_pct(count or 0, q.answered)))
        if q.kind == "csat":
            rows.append(_row(segment, q.key, q.kind, "csat", q.csat))
        if q.mean is not None:
            rows.append(_row(segment, q.key, q.kind, "mean", q.mean))
        for answer, count in q.distribution.items():
            rows.append(_row(segment, q.key, q.kind, "count", count, answer=answer, percent=_pct(count, q.answered)))
        for text in q.texts:
            when = text.answered_at.date().isoformat() if text.answered_at else None
            rows.append(_row(segment, q.key, q.kind, "text", text.text, answer=when))
    return rows


def parse_month(value: str, option: str) -> str:
    text = value.strip()
    if not _MONTH.match(text):
        raise ValidationError(f"{option} {value!r} is not a month: write it as YYYY-MM (e.g. 2026-03)")
    return text


def _label(dimension: str, region: str | None, month: str) -> str:
    if dimension == "region":
        return region or NO_REGION
    if dimension == "month":
        return month
    if dimension == "quarter":
        return f"{month[:4]}-Q{(int(month[5:7]) - 1) // 3 + 1}"
    return month[:4]


def compute(
    survey: Survey,
    *,
    version: int | None = None,
    by: Sequence[str] = (),
    since: str | None = None,
    until: str | None = None,
    texts: int = 10,
    scope: ContactScope | None = None,
) -> SurveyResults:
    """The results of ``survey`` (see the module docs). ``since``/``until`` are months, inclusive.

    With ``scope``, every figure is computed over the invitations and
    answers of the contacts in it only.
    """
    for dimension in by:
        if dimension not in DIMENSIONS:
            raise ValidationError(f"cannot break results down by {dimension!r}; use one of: {', '.join(DIMENSIONS)}")
    by = tuple(dict.fromkeys(by))
    if since is not None:
        since = parse_month(since, "--since")
    if until is not None:
        until = parse_month(until, "--until")
    if since and until and since > until:
        raise ValidationError(f"--since {since} is after --until {until}")
    if texts < 0:
        raise ValidationError("the number of free-text answers to show cannot be negative")
    questions, versions = _questions(survey, version)

    # 1. invitations: invited and answered, per region and month sent
    inv = Invitation.select(
        Invitation.medium, Invitation.region, Invitation.month, fn.COUNT(SQL("*")), fn.COUNT(Invitation.answered_at)
    ).where((Invitation.survey == survey.id) & Invitation.medium.in_(("email", "post")))
    # 2. responses (complete, with or without invitation) and drafts
    resp = Response.select(Response.complete, Response.region, Response.month, fn.COUNT(SQL("*"))).where(
        Response.survey == survey.id
    )
    # 3. answers
    ans = Answer.select(
        Answer.question, Answer.version, Answer.region, Answer.month, Answer.value, Answer.choice, fn.COUNT(SQL("*"))
    ).where(Answer.survey_id == survey.id)
    in_scope = None
    if scope is not None and scope.limited():
        in_scope = scope.condition(Response.contact_id)
        inv = inv.where(scope.condition(Invitation.contact_id))
        resp = resp.where(in_scope)
        ans = ans.where(Answer.response.in_(Response.select(Response.id).where(in_scope)))
    if version is not None:
        inv = inv.where(Invitation.version == version)
        resp = resp.where(Response.version == version)
        ans = ans.where(Answer.version == version)
    if since:
        inv, resp, ans = (
            inv.where(Invitation.month >= since),
            resp.where(Response.month >= since),
            ans.where(Answer.month >= since),
        )
    if until:
        inv, resp, ans = (
            inv.where(Invitation.month <= until),
            resp.where(Response.month <= until),
            ans.where(Answer.month <= until),
        )
    # each grouped in the order of its covering index, so the database streams the groups
    # (COUNT(*), not COUNT(id): SQLite would check each id for NULL, a third slower)
    inv = inv.group_by(Invitation.medium, Invitation.region, Invitation.month)
    resp = resp.group_by(Response.complete, Response.region, Response.month)
    ans = ans.group_by(Answer.question, Answer.version, Answer.region, Answer.month, Answer.value, Answer.choice)

    def segment_of(region: str | None, month: str) -> tuple[str, ...]:
        return tuple(_label(d, region, month) for d in by)

    # peewee's stubs type .tuples() as yielding the model; the rows are the selected columns
    invited: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for _medium, region, month, count, answered in cast(
        "Iterable[tuple[str, str | None, str, int, int]]", inv.tuples()
    ):
        for seg in {(), segment_of(region, month)}:
            invited[seg][0] += count
            invited[seg][1] += answered
    responses: dict[tuple[str, ...], int] = defaultdict(int)
    drafts = 0
    for complete, region, month, count in cast("Iterable[tuple[bool, str | None, str, int]]", resp.tuples()):
        if not complete:
            drafts += count
            continue
        for seg in {(), segment_of(region, month)}:
            responses[seg] += count
    # counts[segment][question][(value, choice)]
    counts: dict[tuple[str, ...], dict[str, dict[tuple[Any, Any], int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    answer_rows = cast("Iterable[tuple[str, int, str | None, str, int | None, str | None, int]]", ans.tuples())
    for question, _version, region, month, value, choice, count in answer_rows:
        for seg in {(), segment_of(region, month)}:
            counts[seg][question][(value, choice)] += count

    text_answers = {
        q.key: _texts(survey.id, q.key, version, since, until, texts, in_scope)
        for q in questions
        if q.kind == "text" and texts
    }

    def segment(seg: tuple[str, ...]) -> Segment:
        per_question = counts.get(seg, {})
        return Segment(
            labels=dict(zip(by, seg)),
            invited=invited[seg][0] if seg in invited else 0,
            answered_invitations=invited[seg][1] if seg in invited else 0,
            responses=responses.get(seg, 0),
            questions=tuple(
                _question_result(q, per_question.get(q.key, {}), text_answers.get(q.key, ()) if seg == () else ())
                for q in questions
            ),
        )

    keys = set(invited) | set(responses) | set(counts)
    keys.discard(())
    segments = tuple(segment(seg) for seg in sorted(keys)) if by else ()
    return SurveyResults(
        survey_id=survey.id,
        key=survey.key,
        title=survey.title,
        versions=versions,
        by=by,
        overall=segment(()),
        segments=segments,
        drafts=drafts,
    )


def _questions(survey: Survey, version: int | None) -> tuple[list[SurveyQuestion], tuple[int, ...]]:
    """The questions to report: the chosen version's, or every version's (newest wording first)."""
    from crm_surveys.catalog import read_version

    query = SurveyVersion.select().where(SurveyVersion.survey == survey.id).order_by(SurveyVersion.version.desc())
    if version is not None:
        query = query.where(SurveyVersion.version == version)
    rows = list(query)
    if not rows:
        raise ValidationError(
            f"survey {survey.key!r} has no version {version}; its versions are 1 to {survey.current_version}"
        )
    seen: dict[str, SurveyQuestion] = {}
    for row in rows:
        for question in read_version(row, survey.key).questions:
            seen.setdefault(question.key, question)
    return list(seen.values()), tuple(sorted(r.version for r in rows))


def _question_result(
    question: SurveyQuestion, groups: dict[tuple[Any, Any], int], texts: Iterable[TextAnswer]
) -> QuestionResult:
    kind = question.kind
    if kind in ("nps", "csat", "rating"):
        # a scale question always has both ends (definition.py gives them)
        assert question.min is not None and question.max is not None
        dist = {str(v): 0 for v in range(question.min, question.max + 1)}
        total = weighted = 0
        for (value, _), count in groups.items():
            if value is None:
                continue
            dist[str(value)] = dist.get(str(value), 0) + count
            total += count
            weighted += value * count
        extra: dict[str, Any] = {"mean": round(weighted / total, 2) if total else None}
        if kind == "nps":
            promoters = sum(c for (v, _), c in groups.items() if v is not None and v >= 9)
            detractors = sum(c for (v, _), c in groups.items() if v is not None and v <= 6)
            extra.update(
                promoters=promoters,
                passives=total - promoters - detractors,
                detractors=detractors,
                nps=round(100.0 * (promoters - detractors) / total, 1) if total else None,
            )
        if kind == "csat":
            satisfied = sum(c for (v, _), c in groups.items() if v is not None and v >= 4)
            extra.update(satisfied=satisfied, csat=round(100.0 * satisfied / total, 1) if total else None)
        return QuestionResult(question.key, kind, question.text, total, dist, **extra)
    if kind == "yes_no":
        yes = sum(c for (v, _), c in groups.items() if v == 1)
        no = sum(c for (v, _), c in groups.items() if v == 0)
        return QuestionResult(question.key, kind, question.text, yes + no, {"yes": yes, "no": no})
    if kind in ("single_choice", "multiple_choice"):
        dist = {c: 0 for c in question.choices}
        for (_, choice), count in groups.items():
            if choice is not None:
                dist[choice] = dist.get(choice, 0) + count
        if kind == "single_choice":
            answered = sum(dist.values())
        else:
            answered = sum(c for (v, choice), c in groups.items() if choice is None and v is None)
        return QuestionResult(question.key, kind, question.text, answered, dist)
    answered = sum(c for (v, choice), c in groups.items() if choice is None and v is None)
    return QuestionResult(question.key, kind, question.text, answered, texts=tuple(texts))


def _texts(
    survey_id: int, key: str, version: int | None, since: str | None, until: str | None, limit: int, in_scope: Any
) -> tuple[TextAnswer, ...]:
    query = (
        Answer.select(Answer.text, Response.answered_at, Answer.region)
        .join(Response)
        .where((Answer.survey_id == survey_id) & (Answer.question == key) & Answer.text.is_null(False))
        # newest first: answer rows are written when an answer is saved. "+ 0" keeps the
        # planner on the (survey_id, question) index instead of walking the whole table by id
        .order_by((Answer.id + 0).desc())
        .limit(limit)
    )
    if in_scope is not None:
        query = query.where(in_scope)
    if version is not None:
        query = query.where(Answer.version == version)
    if since:
        query = query.where(Answer.month >= since)
    if until:
        query = query.where(Answer.month <= until)
    rows = cast("Iterable[tuple[str, Any, str | None]]", query.tuples())  # answered_at as the driver gives it
    return tuple(TextAnswer(text, Response.answered_at.python_value(at), region) for text, at, region in rows)


class ResultsReport:
    """Survey results over the answers of the contacts the acting user may read."""

    def __init__(self, crm: CRM, scope: ContactScope) -> None:
        self.crm = crm
        self.scope = scope

    def compute(
        self,
        survey: Survey,
        *,
        version: int | None = None,
        by: Sequence[str] = (),
        since: str | None = None,
        until: str | None = None,
        texts: int = 10,
    ) -> SurveyResults:
        with self.crm.activate():
            return compute(survey, version=version, by=by, since=since, until=until, texts=texts, scope=self.scope)
