"""The reporting tables fed by events: contact status history, the contact audit, survey results.

:func:`project` is called with each batch of *newly stored* events (so each
event is projected once, however often it is delivered) and writes with a
few set-based statements per batch: one read of the rows it continues, one
delete of the rows it replaces, one multi-row insert. :func:`rebuild_from_store`
empties these tables and replays the whole store, contact by contact in time
order (the timeline index gives that order for free).

The sales facts are not here: they follow the warehouse's own sales records
(see :mod:`crm_warehouse.sales`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, Callable, Sequence

from crm_core.storage import bulk_insert

from crm_warehouse.catalog import CONTACT_TYPES
from crm_warehouse.store import StoredEvent, aware_utc, naive_utc

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["STATUS_FIELDS", "local_date", "project", "quarter", "rebuild_from_store"]

#: the contact fields the status history follows
STATUS_FIELDS = ("status", "region", "country")
_WIDTHS = {"status": 20, "region": 100, "country": 8}
ACTIONS = {
    "ContactCreated": "created",
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
    """Update the event-fed reporting tables with newly stored events."""
    contact = [(s, None) for s in stored if s.type in CONTACT_TYPES and s.known]
    if contact:
        _project_status(crm, contact)
        _project_changes(crm, contact)
    answers = [s for s in stored if s.type == "SurveyAnswered" and s.known]
    if answers:
        _project_surveys(crm, answers)


# -- contact status history ----------------------------------------------------


def _status_steps(s: StoredEvent) -> list[tuple[int, dict[str, Any]]]:
    """``(contact id, what changes)`` for one event; keys are STATUS_FIELDS and ``deleted``."""
    p = s.payload
    if s.type == "ContactCreated":
        data = p.get("data") or {}
        return [(int(p["contact_id"]), {**{f: data.get(f) for f in STATUS_FIELDS}, "deleted": False})]
    if s.type == "ContactChanged":
        changes = p.get("changes") or {}
        update = {f: (c.get("new") if isinstance(c, dict) else c) for f, c in changes.items() if f in STATUS_FIELDS}
        return [(int(p["contact_id"]), update)] if update else []
    if s.type == "ContactDeleted":
        return [(int(p["contact_id"]), {"deleted": True})]
    if s.type == "ContactRestored":
        return [(int(p["contact_id"]), {"deleted": False})]
    if s.type == "ContactsMerged":
        return [(int(p["merged_id"]), {"deleted": True})]
    if s.type == "ContactsUnmerged":
        return [(int(p["merged_id"]), {"deleted": False})]
    return []


_STATE_KEYS = (*STATUS_FIELDS, "deleted")


def _project_status(crm: CRM, events: Sequence[tuple[StoredEvent, int | None]]) -> None:
    """``events`` pairs each event with the one contact to replay it for (``None``: every contact it concerns)."""
    from crm_warehouse.models import ContactStatusRow as S

    steps = [(cid, change, s) for s, only in events for cid, change in _status_steps(s) if only is None or cid == only]
    if not steps:
        return
    current: dict[int, dict[str, Any]] = {}
    ids = sorted({cid for cid, _, _ in steps})
    for start in range(0, len(ids), 500):
        query = S.select().where(S.contact_id.in_(ids[start : start + 500]) & S.valid_to.is_null())
        for row in query:
            current[row.contact_id] = {
                "id": row.id,
                "status": row.status,
                "region": row.region,
                "country": row.country,
                "deleted": row.deleted,
                "valid_from": row.valid_from,
                "event_id": row.event_id,
            }
    replaced: list[int] = []  # open rows in the database that this batch closes
    closed: list[tuple[Any, ...]] = []
    for cid, change, s in steps:
        now = current.get(cid)
        state = {k: now[k] for k in _STATE_KEYS} if now is not None else {k: None for k in STATUS_FIELDS} | {"deleted": False}
        new = state | {k: (_fit(k, v) if k in _WIDTHS else bool(v)) for k, v in change.items()}
        if now is not None and new == state:
            continue  # nothing the history follows has changed
        if now is not None:
            if now["id"] is not None:
                replaced.append(now["id"])
            if now["valid_from"] < s.occurred_at:  # zero-length intervals are dropped
                closed.append((cid, *(now[k] for k in _STATE_KEYS), now["valid_from"], s.occurred_at, now["event_id"]))
        current[cid] = new | {"id": None, "valid_from": s.occurred_at, "event_id": s.event_id}
    opened = [
        (cid, *(st[k] for k in _STATE_KEYS), st["valid_from"], None, st["event_id"])
        for cid, st in current.items()
        if st["id"] is None
    ]
    for start in range(0, len(replaced), 500):
        S.delete().where(S.id.in_(replaced[start : start + 500])).execute()
    rows = [
        (cid, status, region, country, deleted, naive_utc(begin), naive_utc(end) if end else None, eid)
        for cid, status, region, country, deleted, begin, end, eid in closed + opened
    ]
    if rows:
        bulk_insert(
            S,
            ("contact_id", "status", "region", "country", "deleted", "valid_from", "valid_to", "event_id"),
            rows,
            database=crm.database,
        )


# -- the contact change audit ------------------------------------------------


def _change_rows(s: StoredEvent) -> list[tuple[Any, ...]]:
    p = s.payload
    action = ACTIONS[s.type]
    at = naive_utc(s.occurred_at)
    base = (s.pk,)
    tail = (at, s.actor, s.channel, action)
    if s.type == "ContactChanged":
        cid = int(p["contact_id"])
        rows = []
        for field, change in (p.get("changes") or {}).items():
            old, new = (change.get("old"), change.get("new")) if isinstance(change, dict) else (None, change)
            rows.append((*base, cid, *tail, str(field)[:100], _json(old), _json(new)))
        return rows
    if s.type in ("ContactsMerged", "ContactsUnmerged"):
        detail = _json({"survivor_id": p.get("survivor_id"), "merged_id": p.get("merged_id"), "merge_id": p.get("merge_id")})
        return [(*base, int(cid), *tail, None, None, detail) for cid in (p["survivor_id"], p["merged_id"])]
    if s.type == "ContactUnsubscribed":
        return [(*base, int(p["contact_id"]), *tail, "list_id", None, _json(p.get("list_id")))]
    if s.type == "ContactCreated":
        return [(*base, int(p["contact_id"]), *tail, None, None, _json({"kind": p.get("kind", "person")}))]
    return [(*base, int(p["contact_id"]), *tail, None, None, None)]


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


def _project_surveys(crm: CRM, events: Sequence[StoredEvent]) -> None:
    from crm_warehouse.models import SurveyAnswerFactRow as F
    from crm_warehouse.models import SurveyResponseRow as R

    latest: dict[int, StoredEvent] = {}
    for s in events:
        rid = int(s.payload["response_id"])
        have = latest.get(rid)
        if have is None or (s.occurred_at, s.pk) >= (have.occurred_at, have.pk):
            latest[rid] = s
    ids = list(latest)
    stored: dict[int, dt.datetime] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stored.update((rid, aware_utc(at)) for rid, at in R.select(R.response_id, R.answered_at).where(R.response_id.in_(chunk)).tuples())
    # an older answer retried after a newer one must not overwrite it
    keep = [rid for rid in ids if rid not in stored or latest[rid].occurred_at >= stored[rid]]
    if not keep:
        return
    replace = [rid for rid in keep if rid in stored]
    for start in range(0, len(replace), 500):
        chunk = replace[start : start + 500]
        F.delete().where(F.response_id.in_(chunk)).execute()
        R.delete().where(R.response_id.in_(chunk)).execute()
    responses, answers = [], []
    for rid in keep:
        s = latest[rid]
        p = s.payload
        day = local_date(crm, s.occurred_at)
        q = quarter(day)
        at = naive_utc(s.occurred_at)
        scores = {str(k): float(v) for k, v in (p.get("scores") or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        negative = bool(p.get("negative", False))
        region = p.get("region")
        common = (int(p["survey_id"]), int(p["version"]), int(p["contact_id"]))
        responses.append((rid, *common, negative, region, at, day, q, json.dumps(scores), s.event_id))
        answers.extend((rid, question[:100], *common, score, negative, region, at, day, q) for question, score in scores.items())
    bulk_insert(
        R,
        ("response_id", "survey_id", "version", "contact_id", "negative", "region", "answered_at", "answered_on", "answered_quarter", "scores", "event_id"),
        responses,
        database=crm.database,
    )
    if answers:
        bulk_insert(
            F,
            ("response_id", "question", "survey_id", "version", "contact_id", "score", "negative", "region", "answered_at", "answered_on", "answered_quarter"),
            answers,
            database=crm.database,
        )


# -- rebuilding ----------------------------------------------------------------


def _row_event(pk: int, event_id: str, type_name: str, occurred_at: Any, actor: str | None, channel: str, payload: str) -> StoredEvent:
    from crm_hookspecs.events import registered_types

    return StoredEvent(
        pk=pk,
        event_id=event_id,
        type=type_name,
        kind="",
        occurred_at=aware_utc(occurred_at),
        actor=actor,
        channel=channel,
        payload=json.loads(payload),
        contact_ids=(),
        known=type_name in registered_types(),
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
    columns = (EventRow.id, EventRow.event_id, EventRow.type, EventRow.occurred_at, EventRow.actor, EventRow.channel, EventRow.payload)
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
        rows = list(query.tuples())
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

