"""Keeping the summary tables current: each write of a reporting table applies its difference, in its transaction.

The warehouse's writers call :class:`Summaries` around their changes:

* the sales book's facts (:meth:`Summaries.facts_replaced`, with the facts
  before and after);
* the projections of stored events: status intervals
  (:meth:`Summaries.contacts` before, :meth:`Summaries.status_changed`
  after), survey responses (:meth:`Summaries.responses_changed`), and the
  newly stored ``SurveySent``, ``StageChanged``, ``StaffActionLogged`` and
  ``TaskCompleted`` events (:meth:`Summaries.events_stored`);
* merges and unmerges, which move responses between contacts
  (:meth:`Summaries.contacts_moving`).

Each reads what the change touches (by index: the contacts', the records'
rows), works out the contributions before and after
(:mod:`crm_warehouse.summaries.contributions`) and applies the difference
with one upsert per summary table. A change that bypasses the warehouse
(rows written into the reporting tables by hand) is not seen: ``crm
warehouse summaries --rebuild`` adds everything up again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.clock import aware_utc, naive_utc
from crm_core.storage import batched
from crm_warehouse.summaries import contributions as C
from crm_warehouse.summaries.deltas import ACTIVITY, STATUS, SURVEYS, Deltas, apply

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_warehouse.store import StoredEvent

__all__ = ["ContactRows", "Summaries", "invitation_of"]

#: ids per IN (...) list
CHUNK = 500


@attrs.define
class ContactRows:
    """What the summaries need of some contacts: status intervals, ``SurveySent`` events, responses."""

    intervals: dict[int, list[C.Interval]] = attrs.field(factory=dict)
    invitations: dict[int, list[C.Invitation]] = attrs.field(factory=dict)
    #: per contact: ``(response_id, survey_id, answered_at)``
    responses: dict[int, list[tuple[int, Any, dt.datetime]]] = attrs.field(factory=dict)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def invitation_of(pk: int, occurred_at: dt.datetime, payload: Mapping[str, Any]) -> C.Invitation:
    """A ``SurveySent`` event as the summaries read it (the survey and the contact its payload names)."""
    return C.Invitation(pk, aware_utc(occurred_at), _int(payload.get("survey_id")), _int(payload.get("contact_id")))


def move_of(pk: int, occurred_at: dt.datetime, payload: Mapping[str, Any]) -> tuple[int | None, C.Move]:
    """A ``StageChanged`` event: its record and its move."""
    stage = payload.get("new_stage")
    return _int(payload.get("record_id")), C.Move(
        aware_utc(occurred_at), pk, None if stage is None else str(stage)[:200]
    )


class Summaries:
    """The summary tables of one app, kept current by the warehouse's writers."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self.database = crm.database

    @property
    def tz(self) -> dt.tzinfo:
        tz: dt.tzinfo = self.crm.tz
        return tz

    def _apply(self, deltas: Deltas) -> None:
        from crm_warehouse.summaries.models import STATE
        from crm_warehouse.summaries.models import SummaryStateRow as State

        apply(self.database, deltas)
        if any(deltas.by_spec.get(spec) for spec in (STATUS, ACTIVITY, SURVEYS)):
            # days from dates and times are in this time zone: the state says so, if nothing had said it yet
            State.update(timezone=C.timezone_name(self.tz)).where(
                State.name == STATE, State.timezone.is_null()
            ).execute()

    # -- sales facts ---------------------------------------------------------------

    def facts_replaced(self, old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> None:
        """Sales facts were rewritten: ``old`` as they were (none for new records), ``new`` as they are."""
        deltas = Deltas()
        for fact in old:
            C.sales_fact(deltas, fact, -1)
        for fact in new:
            C.sales_fact(deltas, fact, +1)
        # a record's moves count on its created_on and currency: read them only when those change
        was = {f["sale_id"]: (C.as_date(f["created_on"]), f["currency"]) for f in old}
        now = {f["sale_id"]: (C.as_date(f["created_on"]), f["currency"]) for f in new}
        changed = sorted(i for i in set(was) | set(now) if was.get(i) != now.get(i))
        if changed:
            moves = self._moves(changed)
            for record in changed:
                for side, sign in ((was, -1), (now, +1)):
                    if record in side:
                        C.pipeline_record(deltas, *side[record], moves.get(record, []), sign)
        self._apply(deltas)

    def _moves(self, records: Iterable[int]) -> dict[int, list[C.Move]]:
        from crm_warehouse.summaries.models import StageChangeRow as M

        out: dict[int, list[C.Move]] = defaultdict(list)
        for chunk in batched(sorted(set(records)), CHUNK):
            query = M.select(M.record_id, M.occurred_at, M.event, M.new_stage).where(M.record_id.in_(chunk))
            for record, at, pk, stage in query.tuples().iterator():
                out[record].append(C.Move(at, pk, stage))
        return out

    def _facts(self, records: Iterable[int]) -> dict[int, tuple[dt.date, str]]:
        from crm_warehouse.models import SalesFactRow as F

        out: dict[int, tuple[dt.date, str]] = {}
        for chunk in batched(sorted(set(records)), CHUNK):
            query = F.select(F.sale_id, F.created_on, F.currency).where(F.sale_id.in_(chunk))
            out.update((i, (C.as_date(day), cur)) for i, day, cur in query.tuples().iterator())
        return out

    # -- newly stored events -----------------------------------------------------

    def events_stored(self, stored: Sequence[StoredEvent]) -> None:
        """Events stored for the first time: staff activity, invitations, stage moves (after the projections)."""
        deltas = Deltas()
        for s in stored:
            if s.type in C.STAFF_TYPES:
                C.activity(deltas, s.type, s.occurred_at, s.actor, s.payload, self.tz, +1)
        sent = [invitation_of(s.pk, s.occurred_at, s.payload) for s in stored if s.type == "SurveySent"]
        if sent:
            who = [i.contact_id for i in sent if i.contact_id is not None]
            intervals, responses = self._intervals(who), self._responses(who)
            for invitation in sent:
                cid = invitation.contact_id
                mine = intervals.get(cid, []) if cid is not None else []
                answers = [(sid, at) for _, sid, at in responses.get(cid, [])] if cid is not None else []
                C.invitations(deltas, [invitation], mine, answers, self.tz, +1)
        moves: list[tuple[int, C.Move]] = []
        for s in stored:
            if s.type == "StageChanged":
                record, move = move_of(s.pk, s.occurred_at, s.payload)
                if record is not None:
                    moves.append((record, move))
        if moves:
            self._moves_stored(deltas, moves)
        self._apply(deltas)

    def _moves_stored(self, deltas: Deltas, moves: list[tuple[int, C.Move]]) -> None:
        from crm_warehouse.store import insert_ignore
        from crm_warehouse.summaries.models import StageChangeRow as M

        records = {record for record, _ in moves}
        facts = self._facts(records)
        before = self._moves(facts) if facts else {}
        insert_ignore(
            self.database,
            M._meta.table_name,
            ("record_id", "occurred_at", "event_pk", "new_stage"),
            [(record, naive_utc(m.occurred_at), m.event_pk, m.new_stage) for record, m in moves],
            conflict=("record_id", "occurred_at", "event_pk"),
        )
        added: dict[int, list[C.Move]] = defaultdict(list)
        for record, move in moves:
            added[record].append(move)
        for record, (created_on, currency) in facts.items():
            had = before.get(record, [])
            fresh = [m for m in added[record] if m not in had]
            if fresh:
                C.pipeline_record(deltas, created_on, currency, had, -1)
                C.pipeline_record(deltas, created_on, currency, had + fresh, +1)

    # -- contacts ------------------------------------------------------------------

    def contacts(self, ids: Iterable[int], *, status: bool = False, fresh: Iterable[int] = ()) -> ContactRows:
        """What the summaries follow of these contacts: their ``SurveySent`` events (but ``fresh``: the keys
        of events stored by this batch, not counted yet), and the intervals and responses of those invited;
        with ``status``, every contact's intervals."""
        out = ContactRows()
        ids = sorted(set(ids))
        out.invitations = self._invitations(ids, set(fresh))
        invited = sorted(out.invitations)
        out.intervals = self._intervals(ids if status else invited)
        out.responses = self._responses(invited)
        return out

    def _intervals(self, ids: Iterable[int]) -> dict[int, list[C.Interval]]:
        from crm_warehouse.models import ContactStatusRow as S

        out: dict[int, list[C.Interval]] = {}
        fields = (S.id, S.contact_id, S.status, S.region, S.country, S.deleted, S.valid_from, S.valid_to)
        for chunk in batched(sorted(set(ids)), CHUNK):
            for pk, cid, status, region, country, deleted, begin, end in (
                S.select(*fields).where(S.contact_id.in_(chunk)).tuples().iterator()
            ):
                out.setdefault(cid, []).append(C.Interval(pk, status, region, country, bool(deleted), begin, end))
        return out

    def _invitations(self, ids: Iterable[int], skip: set[int]) -> dict[int, list[C.Invitation]]:
        from crm_warehouse.models import EventContactRow as L
        from crm_warehouse.models import EventRow as E

        out: dict[int, list[C.Invitation]] = {}
        for chunk in batched(sorted(set(ids)), CHUNK):
            query = (
                E.select(L.contact_id, E.id, E.occurred_at, E.payload)
                .join(L, on=(L.event == E.id))
                .where(L.contact_id.in_(chunk), L.via_contact_id.is_null(), E.type == "SurveySent")
            )
            for cid, pk, at, payload in query.tuples().iterator():
                found = invitation_of(pk, at, json.loads(payload))
                if found.contact_id == cid and pk not in skip:
                    out.setdefault(cid, []).append(found)
        return out

    def _responses(self, ids: Iterable[int]) -> dict[int, list[tuple[int, Any, dt.datetime]]]:
        """Per contact: ``(response_id, survey_id, answered_at)``."""
        from crm_warehouse.models import SurveyResponseRow as R

        out: dict[int, list[tuple[int, Any, dt.datetime]]] = {}
        for chunk in batched(sorted(set(ids)), CHUNK):
            query = R.select(R.contact_id, R.response_id, R.survey_id, R.answered_at).where(R.contact_id.in_(chunk))
            for cid, rid, sid, at in query.tuples().iterator():
                out.setdefault(cid, []).append((rid, sid, at))
        return out

    def status_changed(
        self, before: ContactRows, replaced: Iterable[int], added: Mapping[int, list[C.Interval]]
    ) -> None:
        """Status intervals changed: ``replaced`` keys deleted, ``added`` intervals inserted, per contact."""
        gone = set(replaced)
        deltas = Deltas()
        for cid in sorted(set(before.intervals) | set(added)):
            had = before.intervals.get(cid, [])
            has = [x for x in had if x.pk not in gone] + added.get(cid, [])
            C.contact_status(deltas, had, self.tz, -1)
            C.contact_status(deltas, has, self.tz, +1)
            sent = before.invitations.get(cid)
            if sent:
                answers = [(sid, at) for _, sid, at in before.responses.get(cid, [])]
                C.invitations(deltas, sent, had, answers, self.tz, -1)
                C.invitations(deltas, sent, has, answers, self.tz, +1)
        self._apply(deltas)

    def responses_changed(
        self,
        before: ContactRows,
        old: Sequence[tuple[Any, ...]],
        old_answers: Sequence[tuple[Any, ...]],
        new: Sequence[tuple[Any, ...]],
        new_answers: Sequence[tuple[Any, ...]],
    ) -> None:
        """Survey responses replaced or added.

        ``old``/``new``: ``(response_id, survey_id, contact_id, region,
        answered_at)``; ``old_answers``/``new_answers``: ``(survey_id, region,
        question, score, answered_at)``; ``before``: the contacts' rows read
        before the change.
        """
        deltas = Deltas()
        for rows, answers, sign in ((old, old_answers, -1), (new, new_answers, +1)):
            for _, sid, _, region, at in rows:
                C.response(deltas, sid, region, aware_utc(at), self.tz, sign)
            for sid, region, question, score, at in answers:
                C.answer(deltas, sid, region, question, score, aware_utc(at), self.tz, sign)
        gone = {r[0] for r in old}
        fresh: dict[int, list[tuple[int, Any, dt.datetime]]] = defaultdict(list)
        for rid, sid, cid, _, at in new:
            fresh[cid].append((rid, sid, aware_utc(at)))
        for cid, sent in before.invitations.items():
            had = before.responses.get(cid, [])
            has = [r for r in had if r[0] not in gone] + fresh.get(cid, [])
            intervals = before.intervals.get(cid, [])
            C.invitations(deltas, sent, intervals, [(sid, at) for _, sid, at in had], self.tz, -1)
            C.invitations(deltas, sent, intervals, [(sid, at) for _, sid, at in has], self.tz, +1)
        self._apply(deltas)

    @contextlib.contextmanager
    def contacts_moving(self, ids: Sequence[int]) -> Iterator[None]:
        """Around a change that moves responses between these contacts (a merge, an unmerge)."""
        before = self.contacts(ids)
        yield
        after = self._responses(before.invitations)
        deltas = Deltas()
        for cid, sent in before.invitations.items():
            intervals = before.intervals.get(cid, [])
            for rows, sign in ((before.responses, -1), (after, +1)):
                answers = [(sid, at) for _, sid, at in rows.get(cid, [])]
                C.invitations(deltas, sent, intervals, answers, self.tz, sign)
        self._apply(deltas)
