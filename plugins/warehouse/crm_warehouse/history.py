"""Reading history back: a contact's timeline, its fields on a past date, the audit trail.

:class:`History` is the service the API delegates to: it checks
``warehouse.history.read`` and keeps to the contacts in the acting user's
``contacts.read`` scope (the audit in SQL). The module functions do the
reading for the trusted callers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.clock import aware_utc, naive_utc
from crm_core.errors import NotFoundError, ValidationError
from crm_warehouse.catalog import KINDS, summarize
from crm_warehouse.checks import check_id

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_hookspecs.records import TimelineEntry
    from crm_warehouse.contact_scope import ContactScope

__all__ = ["AuditEntry", "History", "as_of", "audit", "end_of", "timeline"]

READ = "warehouse.history.read"

#: the most entries one timeline call returns
_MAX_LIMIT = 10_000


def end_of(crm: CRM, when: dt.date | dt.datetime) -> dt.datetime:
    """The instant ``when`` means: a date is the end of that day in the app's time zone."""
    if isinstance(when, dt.datetime):
        if when.tzinfo is None:
            raise ValidationError(f"{when.isoformat()} has no time zone; give an aware datetime, or a date")
        return when.astimezone(dt.UTC)
    if isinstance(when, dt.date):
        start_next = dt.datetime.combine(when + dt.timedelta(days=1), dt.time(0), tzinfo=crm.tz)
        return (start_next - dt.timedelta(microseconds=1)).astimezone(dt.UTC)
    raise ValidationError(f"{when!r} is not a date; give it as 2026-01-31")


def _check_kinds(kinds: Sequence[str] | None) -> list[str] | None:
    if kinds is None:
        return None
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValidationError(f"unknown timeline kind {bad[0]!r}; the kinds are: {', '.join(KINDS)}")
    return kinds


def timeline(
    crm: CRM,
    contact_id: int,
    kinds: Sequence[str] | None = None,
    limit: int = 50,
    before: dt.datetime | None = None,
    before_event: str | None = None,
) -> list[TimelineEntry]:
    """A contact's events, newest first (one indexed range scan of the timeline index).

    ``before`` and ``before_event`` (the time and ``event_id`` of the last
    entry of the previous page) make a cursor: entries at that very time that
    come after that event are kept, so equal times never hide an entry.
    """
    from crm_hookspecs.events import registered_types
    from crm_hookspecs.records import TimelineEntry
    from crm_warehouse.models import EventContactRow as L
    from crm_warehouse.models import EventRow as E

    kinds = _check_kinds(kinds)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= _MAX_LIMIT:
        raise ValidationError(f"limit {limit!r} must be a whole number from 1 to {_MAX_LIMIT}")
    query = (
        L.select(E.event_id, E.type, E.kind, E.occurred_at, E.actor, E.channel, E.payload)
        .join(E, on=(E.id == L.event))
        .where(L.contact_id == check_id(contact_id, "contact"))
        .order_by(L.occurred_at.desc(), L.event.desc())
        .limit(limit)
    )
    if kinds is not None:
        query = query.where(L.kind.in_(kinds))
    if before is not None:
        if before.tzinfo is None:
            raise ValidationError(f"before={before.isoformat()} has no time zone; give an aware datetime")
        cutoff = naive_utc(before)
        if before_event is None:
            query = query.where(L.occurred_at < cutoff)
        else:
            position = _event_position(before_event)
            query = query.where((L.occurred_at < cutoff) | ((L.occurred_at == cutoff) & (L.event < position)))
    elif before_event is not None:
        raise ValidationError("before_event needs before: the time of the entry it names")
    known = registered_types()
    out = []
    for event_id, type_name, kind, occurred_at, actor, channel, payload in query.tuples().iterator():
        data = json.loads(payload)
        is_known = type_name in known
        out.append(
            TimelineEntry(
                event_id=event_id,
                type=type_name,
                kind=kind,
                occurred_at=aware_utc(occurred_at),
                actor=actor,
                channel=channel,
                summary=summarize(type_name, data, is_known),
                payload=data,
                known=is_known,
            )
        )
    return out


def _event_position(event_id: Any) -> int:
    """The store's key of the event ``event_id`` (the second half of a timeline cursor)."""
    from crm_warehouse.models import EventRow as E

    if not isinstance(event_id, str) or not event_id:
        raise ValidationError(f"before_event {event_id!r} must be an event_id of the timeline")
    key = E.select(E.id).where(E.event_id == event_id).scalar()
    if key is None:
        raise ValidationError(
            f"before_event {event_id!r} is not a stored event; continue from an entry of the timeline"
        )
    return int(key)


def as_of(crm: CRM, contact_id: int, when: dt.date | dt.datetime) -> dict[str, Any]:
    """The contact's fields at ``when``, folded from its ContactCreated and ContactChanged events."""
    from crm_warehouse.models import EventContactRow as L
    from crm_warehouse.models import EventRow as E

    contact_id = check_id(contact_id, "contact")
    cutoff = end_of(crm, when)
    query = (
        L.select(E.type, E.occurred_at, E.payload)
        .join(E, on=(E.id == L.event))
        .where(
            (L.contact_id == contact_id)
            & (L.kind == "contact")
            & L.via_contact_id.is_null()
            & (L.occurred_at <= naive_utc(cutoff))
            & E.type.in_(
                (
                    "ContactCreated",
                    "ContactChanged",
                    "ContactDeleted",
                    "ContactRestored",
                    "ContactsMerged",
                    "ContactsUnmerged",
                )
            )
        )
        .order_by(L.occurred_at, L.event)
    )
    state: dict[str, Any] | None = None
    for type_name, _occurred_at, payload in query.tuples().iterator():
        p = json.loads(payload)
        if type_name == "ContactCreated" and p.get("contact_id") == contact_id:
            state = {"id": contact_id, "kind": p.get("kind", "person"), **(p.get("data") or {})}
            state["deleted"] = False
        elif state is None:
            continue
        elif type_name == "ContactChanged" and p.get("contact_id") == contact_id:
            for field, change in (p.get("changes") or {}).items():
                state[field] = change.get("new") if isinstance(change, dict) else change
        elif type_name == "ContactDeleted" and p.get("contact_id") == contact_id:
            state["deleted"] = True
        elif type_name == "ContactRestored" and p.get("contact_id") == contact_id:
            state["deleted"] = False
        elif type_name == "ContactsMerged" and p.get("merged_id") == contact_id:
            state["deleted"] = True
            state["merged_into"] = p.get("survivor_id")
        elif type_name == "ContactsUnmerged" and p.get("merged_id") == contact_id:
            state["deleted"] = False
            state.pop("merged_into", None)
    if state is None:
        created = (
            L.select(L.occurred_at)
            .join(E, on=(E.id == L.event))
            .where((L.contact_id == contact_id) & (E.type == "ContactCreated") & L.via_contact_id.is_null())
            .order_by(L.occurred_at)
            .limit(1)
            .scalar()
        )
        day = when.isoformat() if isinstance(when, (dt.date, dt.datetime)) else str(when)
        if created is not None:
            first = aware_utc(created).astimezone(crm.tz)
            raise NotFoundError(
                f"contact {contact_id} did not exist yet on {day}: it was created on {first:%Y-%m-%d %H:%M}"
            )
        raise NotFoundError(
            f"the warehouse holds no creation of contact {contact_id}, so its fields on {day} cannot be rebuilt "
            "(was the warehouse enabled when it was created? 'crm warehouse rebuild' adds older events from the outbox)"
        )
    return state


@attrs.frozen
class AuditEntry:
    """One line of the contact audit trail."""

    occurred_at: dt.datetime
    contact_id: int
    actor: str | None
    channel: str
    action: str
    field: str | None
    old: Any
    new: Any


def audit(
    crm: CRM,
    contact_id: int | None = None,
    field: str | None = None,
    actor: str | None = None,
    channel: str | None = None,
    since: dt.date | dt.datetime | None = None,
    until: dt.date | dt.datetime | None = None,
    limit: int = 100,
    contacts: ContactScope | None = None,
) -> list[AuditEntry]:
    """Changes to the contacts, newest first: who changed which field, from what, to what, when, how.

    With ``contacts``, only changes to the contacts in that scope.
    """
    from crm_warehouse.models import ContactChangeRow as C

    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100_000:
        raise ValidationError(f"limit {limit!r} must be a whole number from 1 to 100000")
    query = C.select()
    if contacts is not None:
        query = contacts.restrict(query, C.contact_id)
    query = query.order_by(C.occurred_at.desc(), C.event.desc(), C.id).limit(limit)
    if contact_id is not None:
        query = query.where(C.contact_id == check_id(contact_id, "contact"))
    if field is not None:
        query = query.where(C.field == field)
    if actor is not None:
        query = query.where(C.actor == actor)
    if channel is not None:
        query = query.where(C.channel == channel)
    if since is not None:
        start = since if isinstance(since, dt.datetime) else dt.datetime.combine(since, dt.time(0), tzinfo=crm.tz)
        if start.tzinfo is None:
            raise ValidationError(f"since={start.isoformat()} has no time zone; give an aware datetime, or a date")
        query = query.where(C.occurred_at >= naive_utc(start))
    if until is not None:
        query = query.where(C.occurred_at <= naive_utc(end_of(crm, until)))
    return [
        AuditEntry(
            occurred_at=row.occurred_at,
            contact_id=row.contact_id,
            actor=row.actor,
            channel=row.channel,
            action=row.action,
            field=row.field,
            old=json.loads(row.old_value) if row.old_value is not None else None,
            new=json.loads(row.new_value) if row.new_value is not None else None,
        )
        for row in query
    ]


class History:
    """A contact's timeline and past fields, and the audit trail, for the acting user."""

    def __init__(self, crm: CRM, contacts: ContactScope) -> None:
        self.crm = crm
        self._contacts = contacts

    def timeline(
        self,
        contact_id: int,
        kinds: Sequence[str] | None = None,
        limit: int = 50,
        before: dt.datetime | None = None,
        before_event: str | None = None,
    ) -> list[TimelineEntry]:
        """What happened to or around the contact, newest first (``before``, ``before_event``: a cursor)."""
        self.crm.authz.require(READ)
        contact_id = check_id(contact_id, "contact")
        with self.crm.activate():
            self._contacts.require(contact_id)
            return timeline(self.crm, contact_id, kinds=kinds, limit=limit, before=before, before_event=before_event)

    def as_of(self, contact_id: int, when: dt.date | dt.datetime) -> dict[str, Any]:
        """The contact's fields at the end of ``when`` (a date) or at ``when`` (an aware datetime)."""
        self.crm.authz.require(READ)
        contact_id = check_id(contact_id, "contact")
        with self.crm.activate():
            self._contacts.require(contact_id)
            return as_of(self.crm, contact_id, when)

    def audit(self, **filters: Any) -> list[AuditEntry]:
        """Changes to the contacts in the user's scope, newest first (filters: see :func:`audit`)."""
        self.crm.authz.require(READ)
        unknown = sorted(set(filters) - set(_AUDIT_FILTERS))
        if unknown:
            raise ValidationError(f"unknown audit filter {unknown[0]!r}; the filters are: {', '.join(_AUDIT_FILTERS)}")
        if filters.get("contact_id") is not None:
            # one contact's audit: out of scope is refused (as its timeline), not an empty list that says it exists
            self._contacts.require(filters["contact_id"])
        with self.crm.activate():
            return audit(self.crm, contacts=self._contacts, **filters)


_AUDIT_FILTERS = ("contact_id", "field", "actor", "channel", "since", "until", "limit")
