"""Adding the summary tables up again from the reporting tables: ``crm warehouse summaries --rebuild``, and ``--check``.

A rebuild empties the summary tables and the stage-change index, then
reads each source once: the sales facts with one ``GROUP BY`` per measure
and ``dims`` (the database adds up the rows of a day; Python adds the days
of a month), the open pipeline with one more, and the others row by row in
order (a contact's intervals, a record's moves), through the same
contribution functions that keep them current on each write
(:mod:`crm_warehouse.summaries.contributions`). It runs in one transaction
and ends by marking the summaries complete, in the app's time zone.

:func:`check` rebuilds inside a transaction that it rolls back, and
compares: the keys whose measures differ are drift (rows written into the
reporting tables without the warehouse, a time zone changed).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import attrs
import peewee

from crm_core.storage import batched, bulk_insert, dialect
from crm_warehouse.summaries import contributions as C
from crm_warehouse.summaries.deltas import OPEN_SALES, SALES, SPECS, SURVEYS, Deltas, Spec, insert
from crm_warehouse.summaries.service import CHUNK, invitation_of, move_of

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["Drift", "check", "mark", "rebuild", "rebuild_sales"]

PAGE = 5000


def mark(crm: CRM, *, complete: bool) -> None:
    """Record whether the summaries hold everything, in the app's time zone."""
    from crm_warehouse.summaries.models import STATE
    from crm_warehouse.summaries.models import SummaryStateRow as State

    State.delete().where(State.name == STATE).execute()
    State.insert(name=STATE, complete=complete, timezone=C.timezone_name(crm.tz), rebuilt_at=crm.clock.now()).execute()


def rebuild(crm: CRM, progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Empty the summary tables and add everything up again; return each table's rows.

    Run it inside a transaction (the CLI and the API do): readers then see
    the old summaries or the new ones, never a half-built table.
    """
    from crm_warehouse.summaries.models import SUMMARY_MODELS

    say = progress or (lambda step: None)
    for model in SUMMARY_MODELS:
        model.delete().execute()
    say("stage changes")
    _stage_changes(crm)
    say("sales")
    _sales(crm)
    say("pipeline")
    _pipeline(crm)
    say("contacts")
    _contacts(crm)
    say("surveys")
    _responses(crm)
    say("staff activity")
    _activity(crm)
    mark(crm, complete=True)
    return {model._meta.table_name: model.select().count() for model in SUMMARY_MODELS}


def rebuild_sales(crm: CRM) -> None:
    """Add up again only what the sales facts feed (after the facts are rewritten): sales, open pipeline, moves."""
    from crm_warehouse.summaries.models import OpenSalesSummaryRow, PipelineSummaryRow, SalesSummaryRow

    for model in (SalesSummaryRow, OpenSalesSummaryRow, PipelineSummaryRow):
        model.delete().execute()
    _sales(crm)
    _pipeline(crm)


def _flush(crm: CRM, deltas: Deltas, spec: Spec, into: Spec | None = None) -> None:
    insert(crm.database, into or spec, deltas.rows(spec, clustered=True))
    deltas.by_spec.pop(spec, None)


def _events(crm: CRM, types: tuple[str, ...]) -> Iterator[tuple[int, dt.datetime, str | None, str, dict[str, Any]]]:
    """Stored events of these types, in pages by key: ``(pk, occurred_at, actor, type, payload)``."""
    from crm_warehouse.models import EventRow as E

    last = 0
    while True:
        rows = list(
            E.select(E.id, E.occurred_at, E.actor, E.type, E.payload)
            .where(E.type.in_(list(types)), E.id > last)
            .order_by(E.id)
            .limit(PAGE)
            .tuples()
            .iterator()
        )
        if not rows:
            return
        last = rows[-1][0]
        for pk, at, actor, type_name, payload in rows:
            yield pk, at, actor, type_name, json.loads(payload)


def _stage_changes(crm: CRM) -> None:
    from crm_warehouse.summaries.models import StageChangeRow as M

    def rows() -> Iterator[tuple[Any, ...]]:
        for pk, at, _, _, payload in _events(crm, ("StageChanged",)):
            record, move = move_of(pk, at, payload)
            if record is not None:
                yield record, move.occurred_at, move.event_pk, move.new_stage

    bulk_insert(M, ("record_id", "occurred_at", "event", "new_stage"), rows(), database=crm.database)


def _sales(crm: CRM) -> None:
    """Per ``dims``, one ``GROUP BY`` per measure, each flushed before the next (memory stays small)."""
    from crm_warehouse.models import SalesFactRow as F

    integer = {"sqlite": "INTEGER", "postgresql": "BIGINT", "mysql": "SIGNED"}[dialect(crm.database)]
    count = peewee.fn.COUNT(peewee.SQL("*"))
    e4 = peewee.fn.SUM(peewee.Cast(peewee.fn.ROUND(F.amount * 10000), integer))
    for dims in SALES.rollups:
        _sales_dims(crm, dims, count, e4)
    deltas = Deltas()
    query = (
        F.select(F.stage, F.currency, F.owner, F.probability, count, e4)
        .where(F.outcome == "open")
        .group_by(F.stage, F.currency, F.owner, F.probability)
    )
    for stage, currency, owner, probability, records, amount in query.tuples().iterator():
        key = (stage, currency, owner, round(float(probability), 6))
        deltas.add(OPEN_SALES, None, key, (int(records), int(amount or 0)), +1)
    _flush(crm, deltas, OPEN_SALES)


def _sales_dims(crm: CRM, dims: tuple[str, ...], count: Any, e4: Any) -> None:
    """The sales summary's rows that keep ``dims``: created, closed, and the left_adjust of early closes."""
    from crm_warehouse.models import SalesFactRow as F

    one = attrs.evolve(SALES, rollups=(dims,))
    kept = [getattr(F, c) for c in dims]

    def key(measure: str, kind: str, currency: str, outcome: str | None, values: list[Any]) -> tuple[Any, ...]:
        by_name = dict(zip(dims, values))
        return (measure, kind, currency, outcome, *(by_name.get(c) for c in SALES.rolled))

    deltas = Deltas()
    created = F.select(F.created_on, F.kind, F.currency, *kept, count, e4).group_by(
        F.created_on, F.kind, F.currency, *kept
    )
    for day, kind, currency, *rest in created.tuples().iterator():
        *values, records, amount = rest
        deltas.add(one, C.as_date(day), key("created", kind, currency, None, values), (records, int(amount)), +1)
    _flush(crm, deltas, one, SALES)
    closed = (
        F.select(F.closed_on, F.kind, F.currency, F.outcome, *kept, count, e4)
        .where(F.closed_on.is_null(False))
        .group_by(F.closed_on, F.kind, F.currency, F.outcome, *kept)
    )
    for day, kind, currency, outcome, *rest in closed.tuples().iterator():
        *values, records, amount = rest
        deltas.add(one, C.as_date(day), key("closed", kind, currency, outcome, values), (records, int(amount)), +1)
    early = (
        F.select(F.closed_on, F.created_on, F.kind, F.currency, *kept, count, e4)
        .where(F.closed_on < F.created_on)
        .group_by(F.closed_on, F.created_on, F.kind, F.currency, *kept)
    )
    for closed_on, created_on, kind, currency, *rest in early.tuples().iterator():
        *values, records, amount = rest
        moved = key("left_adjust", kind, currency, None, values)
        deltas.add(one, C.as_date(closed_on), moved, (records, int(amount)), -1)
        deltas.add(one, C.as_date(created_on), moved, (records, int(amount)), +1)
    _flush(crm, deltas, one, SALES)


def _pipeline(crm: CRM) -> None:
    """Each record's moves (the stage-change index, by record) with its fact."""
    from crm_warehouse.models import SalesFactRow as F
    from crm_warehouse.summaries.deltas import PIPELINE
    from crm_warehouse.summaries.models import StageChangeRow as M

    deltas = Deltas()

    def add(moves: dict[int, list[C.Move]]) -> None:
        for chunk in batched(sorted(moves), CHUNK):
            query = F.select(F.sale_id, F.created_on, F.currency).where(F.sale_id.in_(chunk))
            for record, created_on, currency in query.tuples().iterator():
                C.pipeline_record(deltas, created_on, currency, moves[record], +1)

    moves: dict[int, list[C.Move]] = defaultdict(list)
    query = M.select(M.record_id, M.occurred_at, M.event, M.new_stage).order_by(M.record_id)
    for record, at, pk, stage in query.tuples().iterator():
        if record not in moves and len(moves) >= PAGE:
            add(moves)
            moves.clear()
        moves[record].append(C.Move(at, pk, stage))
    add(moves)
    _flush(crm, deltas, PIPELINE)


def _contacts(crm: CRM) -> None:
    """Every contact's intervals, in contact order, with its invitations and responses."""
    from crm_warehouse.models import ContactStatusRow as S
    from crm_warehouse.models import SurveyResponseRow as R
    from crm_warehouse.summaries.deltas import STATUS

    tz = crm.tz
    deltas = Deltas()
    sent: dict[int | None, list[C.Invitation]] = defaultdict(list)
    for pk, at, _, _, payload in _events(crm, ("SurveySent",)):
        invitation = invitation_of(pk, at, payload)
        sent[invitation.contact_id].append(invitation)
    answers: dict[int, list[tuple[Any, dt.datetime]]] = defaultdict(list)
    if sent:
        responses = R.select(R.contact_id, R.survey_id, R.answered_at).order_by(R.contact_id)
        for cid, sid, at in responses.tuples().iterator():
            if cid in sent:
                answers[cid].append((sid, at))

    def add(cid: int, intervals: list[C.Interval]) -> None:
        C.contact_status(deltas, intervals, tz, +1)
        mine = sent.pop(cid, None)
        if mine:
            C.invitations(deltas, mine, intervals, answers.get(cid, []), tz, +1)

    query = S.select(S.id, S.contact_id, S.status, S.region, S.country, S.deleted, S.valid_from, S.valid_to)
    current: int | None = None
    intervals: list[C.Interval] = []
    for pk, cid, status, region, country, deleted, begin, end in (
        query.order_by(S.contact_id, S.valid_from).tuples().iterator()
    ):
        if cid != current:
            if current is not None:
                add(current, intervals)
            current, intervals = cid, []
        intervals.append(C.Interval(pk, status, region, country, bool(deleted), begin, end))
    if current is not None:
        add(current, intervals)
    for cid, mine in sent.items():  # invitations of contacts with no status history
        C.invitations(deltas, mine, [], answers.get(cid, []) if cid is not None else [], tz, +1)
    _flush(crm, deltas, STATUS)
    _flush(crm, deltas, SURVEYS)


def _responses(crm: CRM) -> None:
    from crm_warehouse.models import SurveyAnswerFactRow as A
    from crm_warehouse.models import SurveyResponseRow as R

    tz = crm.tz
    deltas = Deltas()
    for sid, region, at in R.select(R.survey_id, R.region, R.answered_at).tuples().iterator():
        C.response(deltas, sid, region, at, tz, +1)
    query = A.select(A.survey_id, A.region, A.question, A.score, A.answered_at)
    for sid, region, question, score, at in query.tuples().iterator():
        C.answer(deltas, sid, region, question, score, at, tz, +1)
    # the invitations are in the table already (_contacts); these keys are other measures
    _flush(crm, deltas, SURVEYS)


def _activity(crm: CRM) -> None:
    from crm_warehouse.summaries.deltas import ACTIVITY

    deltas = Deltas()
    for _, at, actor, type_name, payload in _events(crm, C.STAFF_TYPES):
        C.activity(deltas, type_name, at, actor, payload, crm.tz, +1)
    _flush(crm, deltas, ACTIVITY)


# -- check ---------------------------------------------------------------------------


@attrs.frozen
class Drift:
    """What :func:`check` found in one summary table: keys missing, extra, or with other measures."""

    table: str
    rows: int
    missing: int
    extra: int
    different: int

    @property
    def drifted(self) -> bool:
        return bool(self.missing or self.extra or self.different)


def _snapshot(crm: CRM, spec: Spec) -> dict[str, tuple[Any, ...]]:
    model = spec.model
    fields = [getattr(model, m) for m in spec.measures]
    return {key: tuple(int(v) for v in rest) for key, *rest in model.select(model.summary_key, *fields).tuples()}


def check(crm: CRM) -> list[Drift]:
    """Compare the summary tables with a rebuild (rolled back): one :class:`Drift` per table."""
    database = crm.database
    found: list[Drift] = []
    with database.atomic() as transaction:
        now = {spec.table: _snapshot(crm, spec) for spec in SPECS}
        rebuild(crm)
        for spec in SPECS:
            have, want = now[spec.table], _snapshot(crm, spec)
            found.append(
                Drift(
                    spec.table,
                    len(have),
                    missing=len(set(want) - set(have)),
                    extra=len(set(have) - set(want)),
                    different=sum(1 for k in set(have) & set(want) if have[k] != want[k]),
                )
            )
        transaction.rollback()
    return found
