"""The reporting tables fed by events: contact status history, the contact audit, survey results.

:func:`project` is called with each batch of *newly stored* events (so each
event is projected once, however often it is delivered) and writes with a
few set-based statements per batch: one read of the rows it continues, one
delete of the rows it replaces, one multi-row insert. :func:`rebuild_from_store`
empties these tables and replays the whole store, contact by contact in time
order (the timeline index gives that order for free).

The sales facts are not here: they follow the warehouse's own sales records
(see :mod:`crm_warehouse.sales`).

Each batch also applies its difference to the summary tables
(:class:`crm_warehouse.summaries.service.Summaries`), in the same
transaction; a rebuild from the store leaves them to be added up at its end.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from crm_core.clock import aware_utc, naive_utc
from crm_core.storage import batched, bulk_insert
from crm_warehouse.catalog import CONTACT_TYPES
from crm_warehouse.store import StoredEvent, load_event
from crm_warehouse.summaries.contributions import Interval

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_hookspecs.events import SurveyAnswered
    from crm_warehouse.summaries.service import Summaries

__all__ = ["STATUS_FIELDS", "local_date", "project", "quarter", "rebuild_from_store"]

#: the contact fields the status history follows
STATUS_FIELDS = ("status", "region", "country")
_WIDTHS = {"status": 20, "region": 100, "country": 8}
ACTIONS = {
    "ContactChanged": "changed",
    "ContactDeleted": "deleted",
    "ContactRestored": "restored",
    "ContactsMerged": "merged",
    "ContactsUnmerged": "unmerged",
    "ContactErased": "erased",
    "ContactUnsubscribed": "unsubscribed",
}


def quarter(day: dt.date) -> str:
    """``2026-Q1``."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def local_date(crm: CRM, when: dt.datetime) -> dt.date:
    """The calendar date of ``when`` in the app's time zone (reports count local days)."""
    return when.astimezone(crm.tz).date()


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _fit(field: str, value: Any) -> Any:
    if value is None:
        return None
    text = str(value)
    return text[: _WIDTHS[field]]


def project(crm: CRM, stored: Sequence[StoredEvent]) -> None:
    """Update the event-fed reporting tables, and the summary tables, with newly stored events."""
    from crm_warehouse.summaries.service import Summaries

    summaries = Summaries(crm)
    # invitations stored by this batch are counted last (events_stored), with the state the batch leaves
    fresh = [s.pk for s in stored if s.type == "SurveySent"]
    contact = [(s, None) for s in stored if s.type in CONTACT_TYPES and s.known]
    if contact:
        _project_status(crm, contact, summaries, fresh)
        _project_changes(crm, contact)
    answers = [s for s in stored if s.type == "SurveyAnswered" and s.known]
    if answers:
        _project_surveys(crm, answers, summaries, fresh)
    summaries.events_stored(stored)


# -- contact status history ----------------------------------------------------


def _status_steps(s: StoredEvent) -> list[tuple[int, dict[str, Any]]]:
    """``(contact id, what changes)`` for one event; keys are STATUS_FIELDS and ``deleted``."""
    e: Any = s.event
    if s.type == "ContactCreated":
        data = e.data or {}
        return [
            (
                int(e.contact_id),
                {
                    "status": data.get("status"),
                    "region": data.get("region"),
                    "country": data.get("country"),
                    "deleted": False,
                },
            )
        ]
    if s.type == "ContactChanged":
        update = {f: getattr(c, "new", c) for f, c in e.changes.items() if f in STATUS_FIELDS}
        return [(int(e.contact_id), update)] if update else []
    if s.type == "ContactDeleted":
        return [(int(e.contact_id), {"deleted": True})]
    if s.type == "ContactRestored":
        return [(int(e.contact_id), {"deleted": False})]
    if s.type == "ContactsMerged":
        return [(int(e.merged_id), {"deleted": True})]
    if s.type == "ContactsUnmerged":
        return [(int(e.merged_id), {"deleted": False})]
    return []


def _project_status(
    crm: CRM,
    events: Sequence[tuple[StoredEvent, int | None]],
    summaries: Summaries | None = None,
    fresh: Sequence[int] = (),
) -> None:
    """``events`` pairs each event with the one contact to replay it for (``None``: every contact it concerns).

    A contact's state is ``(status, region, country, deleted)``; each change
    of it closes the open interval and opens a new one. ``summaries``: the
    summary tables to keep current (``fresh``: keys of ``SurveySent`` events
    of this batch, counted later).
    """
    from crm_warehouse.models import ContactStatusRow as S

    steps = [(cid, change, s) for s, only in events for cid, change in _status_steps(s) if only is None or cid == only]
    if not steps:
        return
    database = crm.database
    table = database.quote[0] + S._meta.table_name + database.quote[1]
    # open intervals of the batch's contacts: (key or None if new, state, valid_from, event id)
    current: dict[int, tuple[int | None, tuple[Any, ...], dt.datetime, str]] = {}
    # contacts above the largest id known have no interval yet: an import of new contacts looks nothing up
    known_max = database.execute_sql(f"SELECT MAX(contact_id) FROM {table}").fetchone()[0]
    ids = sorted({cid for cid, _, _ in steps if known_max is not None and cid <= known_max})
    before = summaries.contacts(ids, status=True, fresh=fresh) if summaries is not None else None
    for chunk in batched(ids, 500):
        cursor = database.execute_sql(
            f"SELECT id, contact_id, status, region, country, deleted, valid_from, event_id FROM {table} "
            f"WHERE valid_to IS NULL AND contact_id IN ({', '.join([database.param] * len(chunk))})",
            chunk,
        )
        for pk, cid, status, region, country, deleted, valid_from, event_id in cursor.fetchall():
            current[cid] = (pk, (status, region, country, bool(deleted)), aware_utc(valid_from), event_id)
    replaced: list[int] = []  # open rows in the database that this batch closes
    rows: list[tuple[Any, ...]] = []  # closed intervals
    empty = (None, None, None, False)
    for cid, change, s in steps:
        now = current.get(cid)
        state = now[1] if now is not None else empty
        status, region, country, deleted = state
        if "status" in change:
            status = _fit("status", change["status"])
        if "region" in change:
            region = _fit("region", change["region"])
        if "country" in change:
            country = _fit("country", change["country"])
        if "deleted" in change:
            deleted = bool(change["deleted"])
        new = (status, region, country, deleted)
        if now is not None:
            if new == state:
                continue  # nothing the history follows has changed
            pk, _, valid_from, event_id = now
            if pk is not None:
                replaced.append(pk)
            if valid_from < s.occurred_at:  # zero-length intervals are dropped
                rows.append((cid, *state, naive_utc(valid_from), naive_utc(s.occurred_at), event_id))
        current[cid] = (None, new, s.occurred_at, s.event_id)
    rows += [(cid, *st, naive_utc(begin), None, eid) for cid, (pk, st, begin, eid) in current.items() if pk is None]
    for chunk in batched(replaced, 500):
        S.delete().where(S.id.in_(chunk)).execute()
    if rows:
        # by table name: the values are already what the columns store (naive UTC, texts cut to their width,
        # booleans), and converting each through its field cost a sixth of the warehouse's time per event
        bulk_insert(
            S._meta.table_name,
            ("contact_id", "status", "region", "country", "deleted", "valid_from", "valid_to", "event_id"),
            rows,
            database=database,
        )
    if summaries is not None and before is not None:
        added: dict[int, list[Interval]] = {}
        for cid, status, region, country, deleted, begin, end, _ in rows:
            interval = Interval(None, status, region, country, deleted, aware_utc(begin), end and aware_utc(end))
            added.setdefault(cid, []).append(interval)
        summaries.status_changed(before, replaced, added)


# -- the contact change audit ------------------------------------------------


def _change_rows(s: StoredEvent) -> list[tuple[Any, ...]]:
    """Audit rows of one event: one per changed field, one for the other actions; none for a creation."""
    e: Any = s.event
    if s.type == "ContactCreated":
        return []  # not a change: the creation and its values are on the timeline and in the store
    action = ACTIONS[s.type]
    head = (s.pk,)
    tail = (naive_utc(s.occurred_at), s.actor, s.channel, action)
    if s.type == "ContactChanged":
        cid = int(e.contact_id)
        return [
            (*head, cid, *tail, str(field)[:100], _json(getattr(c, "old", None)), _json(getattr(c, "new", c)))
            for field, c in e.changes.items()
        ]
    if s.type in ("ContactsMerged", "ContactsUnmerged"):
        detail = _json({"survivor_id": e.survivor_id, "merged_id": e.merged_id, "merge_id": e.merge_id})
        return [(*head, int(cid), *tail, None, None, detail) for cid in (e.survivor_id, e.merged_id)]
    if s.type == "ContactUnsubscribed":
        return [(*head, int(e.contact_id), *tail, "list_id", None, _json(e.list_id))]
    return [(*head, int(e.contact_id), *tail, None, None, None)]


def _project_changes(crm: CRM, events: Sequence[tuple[StoredEvent, int | None]]) -> None:
    from crm_warehouse.models import ContactChangeRow

    rows = [row for s, only in events if s.known for row in _change_rows(s) if only is None or row[1] == only]
    if rows:
        bulk_insert(
            ContactChangeRow,
            ("event_pk", "contact_id", "occurred_at", "actor", "channel", "action", "field", "old_value", "new_value"),
            rows,
            database=crm.database,
        )


# -- survey results -----------------------------------------------------------


def _project_surveys(
    crm: CRM, events: Sequence[StoredEvent], summaries: Summaries | None = None, fresh: Sequence[int] = ()
) -> None:
    from crm_warehouse.models import SurveyAnswerFactRow as F
    from crm_warehouse.models import SurveyResponseRow as R

    latest: dict[int, StoredEvent] = {}
    for s in events:
        rid = int(cast("SurveyAnswered", s.event).response_id)
        have = latest.get(rid)
        if have is None or (s.occurred_at, s.pk) >= (have.occurred_at, have.pk):
            latest[rid] = s
    ids = list(latest)
    stored: dict[int, dt.datetime] = {}
    for chunk in batched(ids, 500):
        stored.update(
            (rid, aware_utc(at))
            for rid, at in R.select(R.response_id, R.answered_at).where(R.response_id.in_(chunk)).tuples().iterator()
        )
    # an older answer retried after a newer one must not overwrite it
    keep = [rid for rid in ids if rid not in stored or latest[rid].occurred_at >= stored[rid]]
    if not keep:
        return
    replace = [rid for rid in keep if rid in stored]
    old: list[tuple[Any, ...]] = []
    old_answers: list[tuple[Any, ...]] = []
    before = None
    if summaries is not None:
        for chunk in batched(replace, 500):
            responses_q = R.select(R.response_id, R.survey_id, R.contact_id, R.region, R.answered_at)
            old.extend(responses_q.where(R.response_id.in_(chunk)).tuples().iterator())
            answers_q = F.select(F.survey_id, F.region, F.question, F.score, F.answered_at)
            old_answers.extend(answers_q.where(F.response_id.in_(chunk)).tuples().iterator())
        who = {row[2] for row in old} | {int(cast("SurveyAnswered", latest[rid].event).contact_id) for rid in keep}
        before = summaries.contacts(who, fresh=fresh)
    for chunk in batched(replace, 500):
        F.delete().where(F.response_id.in_(chunk)).execute()
        R.delete().where(R.response_id.in_(chunk)).execute()
    responses: list[tuple[Any, ...]] = []
    answers: list[tuple[Any, ...]] = []
    for rid in keep:
        s = latest[rid]
        e: Any = s.event
        day = local_date(crm, s.occurred_at)
        q = quarter(day)
        at = naive_utc(s.occurred_at)
        scores = {
            str(k): float(v)
            for k, v in (e.scores or {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        negative = bool(e.negative)
        region = e.region
        common = (int(e.survey_id), int(e.version), int(e.contact_id))
        responses.append((rid, *common, negative, region, at, day, q, json.dumps(scores), s.event_id))
        answers.extend(
            (rid, question[:100], *common, score, negative, region, at, day, q) for question, score in scores.items()
        )
    bulk_insert(
        R,
        (
            "response_id",
            "survey_id",
            "version",
            "contact_id",
            "negative",
            "region",
            "answered_at",
            "answered_on",
            "answered_quarter",
            "scores",
            "event_id",
        ),
        responses,
        database=crm.database,
    )
    if summaries is not None and before is not None:
        summaries.responses_changed(
            before,
            old,
            old_answers,
            [(r[0], r[1], r[3], r[5], r[6]) for r in responses],
            [(a[2], a[7], a[1], a[5], a[8]) for a in answers],
        )
    if answers:
        bulk_insert(
            F,
            (
                "response_id",
                "question",
                "survey_id",
                "version",
                "contact_id",
                "score",
                "negative",
                "region",
                "answered_at",
                "answered_on",
                "answered_quarter",
            ),
            answers,
            database=crm.database,
        )


# -- rebuilding ----------------------------------------------------------------


def _row_event(
    pk: int, event_id: str, type_name: str, occurred_at: Any, actor: str | None, channel: str, payload: str
) -> StoredEvent:
    from crm_hookspecs.events import UnknownEvent

    event = load_event(type_name, payload)
    return StoredEvent(
        pk=pk,
        event_id=event_id,
        type=type_name,
        kind="",
        occurred_at=aware_utc(occurred_at),
        actor=actor,
        channel=channel,
        event=event,
        known=not isinstance(event, UnknownEvent),
    )


def rebuild_from_store(crm: CRM, page: int = 5000, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Empty the event-fed reporting tables and replay the whole store into them.

    Contact events are read through the timeline index, contact by contact
    in time order; survey answers in store order. Returns the row counts.
    """
    from crm_warehouse.models import (
        ContactChangeRow,
        ContactStatusRow,
        EventContactRow,
        EventRow,
        SurveyAnswerFactRow,
        SurveyResponseRow,
    )

    database = crm.database
    for model in (ContactChangeRow, ContactStatusRow, SurveyAnswerFactRow, SurveyResponseRow):
        model.delete().execute()
    columns = (
        EventRow.id,
        EventRow.event_id,
        EventRow.type,
        EventRow.occurred_at,
        EventRow.actor,
        EventRow.channel,
        EventRow.payload,
    )
    done = 0

    # contact events, per contact in time order; merge links (via_contact_id) are copies, skipped
    L = EventContactRow
    last_contact = None
    while True:
        bound_query = L.select(L.contact_id).where(L.kind == "contact", L.via_contact_id.is_null())
        if last_contact is not None:
            bound_query = bound_query.where(L.contact_id > last_contact)
        bound = bound_query.order_by(L.contact_id).offset(page).limit(1).scalar()
        query = (
            EventRow.select(L.contact_id, *columns)
            .join(L, on=(L.event == EventRow.id))
            .where(L.kind == "contact", L.via_contact_id.is_null())
            .order_by(L.contact_id, L.occurred_at, L.event)
        )
        if last_contact is not None:
            query = query.where(L.contact_id > last_contact)
        if bound is not None:
            query = query.where(L.contact_id <= bound)
        rows = list(query.tuples().iterator())
        if not rows:
            break
        with database.atomic():
            # a merge event is linked to both contacts: each side replays its own part
            batch = [(_row_event(*fields), contact_id) for contact_id, *fields in rows]
            batch = [(e, cid) for e, cid in batch if e.known]
            _project_status(crm, batch)
            _project_changes(crm, batch)
        done += len(rows)
        if progress:
            progress(done)
        if bound is None:
            break
        last_contact = bound

    # survey answers, in store order
    last = 0
    while True:
        rows = list(
            EventRow.select(*columns)
            .where(EventRow.type == "SurveyAnswered", EventRow.id > last)
            .order_by(EventRow.id)
            .limit(page)
            .tuples()
            .iterator()
        )
        if not rows:
            break
        last = rows[-1][0]
        with database.atomic():
            _project_surveys(crm, [_row_event(*r) for r in rows])
        done += len(rows)
        if progress:
            progress(done)
    return {
        "contact_status": ContactStatusRow.select().count(),
        "contact_changes": ContactChangeRow.select().count(),
        "survey_responses": SurveyResponseRow.select().count(),
        "survey_answers": SurveyAnswerFactRow.select().count(),
    }
