"""``crm.plugin("warehouse")``: the warehouse's Python API.

It implements :class:`crm_hookspecs.apis.WarehouseAPI` (what other plugins
may rely on) and offers more: ``sales``, ``actions`` and ``documents`` for
the warehouse's own records, the audit trail, the stored events, rebuilds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from crm_core.errors import ValidationError
from crm_warehouse.actions import StaffLog
from crm_warehouse.documents import DocumentStore
from crm_warehouse.sales import SalesBook
from crm_warehouse.store import StoredEvent, aware_utc, load_event

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_hookspecs.records import TimelineEntry
    from crm_warehouse.history import AuditEntry

__all__ = ["REPORTING_TABLES", "Warehouse"]

#: the tables reports may query, by role (columns: docs/plugins/warehouse.md)
REPORTING_TABLES = {
    "sales": "warehouse_sales_fact",
    "survey_answers": "warehouse_survey_answer_fact",
    "survey_responses": "warehouse_survey_response",
    "contact_status": "warehouse_contact_status",
    "contact_changes": "warehouse_contact_change",
    "events": "warehouse_event",
    "event_contacts": "warehouse_event_contact",
}


class Warehouse:
    """The warehouse of one app."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self.sales = SalesBook(crm)
        self.actions = StaffLog(crm)
        self.documents = DocumentStore(crm)

    # -- WarehouseAPI ----------------------------------------------------------

    def contact_as_of(self, contact_id: int, when: dt.date | dt.datetime) -> dict[str, Any]:
        """The contact's fields at the end of ``when`` (a date) or at ``when`` (an aware datetime)."""
        from crm_warehouse.history import as_of

        with self.crm.activate():
            return as_of(self.crm, contact_id, when)

    def timeline(
        self,
        contact_id: int,
        kinds: Sequence[str] | None = None,
        limit: int = 50,
        before: dt.datetime | None = None,
    ) -> list[TimelineEntry]:
        """What happened to or around the contact, newest first."""
        from crm_warehouse.history import timeline

        with self.crm.activate():
            return timeline(self.crm, contact_id, kinds=kinds, limit=limit, before=before)

    def customers_without_won_sale_since(self, since: dt.date) -> dict[int, dt.date | None]:
        """Current customers with no sale won on or after ``since``, mapped to their last won sale's date."""
        from peewee import JOIN, fn

        from crm_warehouse.models import ContactStatusRow as S
        from crm_warehouse.models import SalesFactRow as F

        if not isinstance(since, dt.date) or isinstance(since, dt.datetime):
            raise ValidationError(f"since must be a date, not {since!r}")
        last_won = fn.MAX(F.closed_on)
        query = (
            S.select(S.contact_id, last_won)
            .join(F, JOIN.LEFT_OUTER, on=((F.contact_id == S.contact_id) & (F.outcome == "won")))
            .where(S.valid_to.is_null() & (S.status == "customer") & (S.deleted == False))  # noqa: E712 - SQL
            .group_by(S.contact_id)
            .having(last_won.is_null() | (last_won < since))
            .order_by(S.contact_id)
        )
        with self.crm.activate():
            return {cid: _date(day) for cid, day in query.tuples().iterator()}

    def customers_quiet_since(self, since: dt.date) -> dict[int, tuple[dt.date | None, dt.date]]:
        """Current customers who neither won a sale nor became customers on or after ``since``.

        Maps each to ``(last won sale's date or None, the day it became a customer)``:
        a customer who arrived yesterday is not quiet, however long ago (or
        never) it last bought.
        """
        from peewee import JOIN, Case, fn

        from crm_warehouse.models import ContactStatusRow as S
        from crm_warehouse.models import SalesFactRow as F

        if not isinstance(since, dt.date) or isinstance(since, dt.datetime):
            raise ValidationError(f"since must be a date, not {since!r}")
        # ``since`` is a day of the app's time zone; the status rows are in UTC
        boundary = dt.datetime.combine(since, dt.time(), tzinfo=self.crm.tz).astimezone(dt.UTC)
        won = (
            F.select(F.contact_id, fn.MAX(F.closed_on).alias("last_won"))
            .where(F.outcome == "won")
            .group_by(F.contact_id)
            .alias("won")
        )
        # the current spell as a customer began when the last non-customer interval ended
        # (or with the contact's first row); deletion and merging do not end it
        H = S.alias("h")
        not_customer = (H.status != "customer") | H.status.is_null()
        spells = (
            H.select(
                H.contact_id,
                fn.MIN(H.valid_from).alias("first_seen"),
                fn.MAX(Case(None, [(not_customer, H.valid_to)], None)).alias("left_at"),
            )
            .group_by(H.contact_id)
            .alias("spells")
        )
        began = fn.COALESCE(spells.c.left_at, spells.c.first_seen)
        query = (
            S.select(S.contact_id, won.c.last_won, began)
            .join(spells, on=(spells.c.contact_id == S.contact_id))
            .join(won, JOIN.LEFT_OUTER, on=(won.c.contact_id == S.contact_id))
            .where(
                S.valid_to.is_null()
                & (S.status == "customer")
                & (S.deleted == False)  # noqa: E712 - SQL
                & (won.c.last_won.is_null() | (won.c.last_won < since))
                & (began < boundary.replace(tzinfo=None))
            )
            .order_by(S.contact_id)
        )
        tz = self.crm.tz
        with self.crm.activate():
            return {
                cid: (_date(day), aware_utc(start).astimezone(tz).date())
                for cid, day, start in query.tuples().iterator()
            }

    def reporting_tables(self) -> dict[str, str]:
        return dict(REPORTING_TABLES)

    # -- more history ----------------------------------------------------------

    def audit(self, **filters: Any) -> list[AuditEntry]:
        """Changes to contacts, newest first; filters: contact_id, field, actor, channel, since, until, limit."""
        from crm_warehouse.history import audit

        with self.crm.activate():
            return audit(self.crm, **filters)

    def events(
        self,
        *,
        type_name: str | None = None,
        kind: str | None = None,
        unknown: bool = False,
        limit: int = 50,
    ) -> list[StoredEvent]:
        """Stored events, newest first; ``unknown`` keeps only types no installed code defines."""
        from crm_hookspecs.events import registered_types
        from crm_warehouse.catalog import KINDS
        from crm_warehouse.models import EventRow as E

        if not isinstance(limit, int) or not 1 <= limit <= 100_000:
            raise ValidationError(f"limit {limit!r} must be a whole number from 1 to 100000")
        query = E.select().order_by(E.id.desc()).limit(limit)
        if type_name is not None:
            query = query.where(E.type == type_name)
        if kind is not None:
            if kind not in KINDS:
                raise ValidationError(f"unknown kind {kind!r}; the kinds are: {', '.join(KINDS)}")
            query = query.where(E.kind == kind)
        known = registered_types()
        if unknown:
            query = query.where(E.type.not_in(sorted(known)))
        with self.crm.activate():
            return [
                StoredEvent(
                    pk=row.id,
                    event_id=row.event_id,
                    type=row.type,
                    kind=row.kind,
                    occurred_at=row.occurred_at,
                    actor=row.actor,
                    channel=row.channel,
                    event=load_event(row.type, row.payload),
                    known=row.type in known,
                )
                for row in query
            ]

    def event(self, event_id: str) -> Any:
        """One stored event as the contract's attrs class (``UnknownEvent`` for unknown types)."""
        from crm_core.errors import NotFoundError
        from crm_warehouse.models import EventRow
        from crm_warehouse.store import load_event

        with self.crm.activate():
            row = EventRow.get_or_none(EventRow.event_id == event_id)
        if row is None:
            raise NotFoundError(f"the warehouse holds no event {event_id!r}")
        return load_event(row.type, row.payload)

    def status(self) -> list[dict[str, Any]]:
        """Stored events per type: how many, the first and last time, whether the type is known."""
        from peewee import fn

        from crm_hookspecs.events import registered_types
        from crm_warehouse.models import EventRow as E

        known = registered_types()
        with self.crm.activate():
            query = (
                E.select(E.type, E.kind, fn.COUNT(E.id), fn.MIN(E.occurred_at), fn.MAX(E.occurred_at))
                .group_by(E.type, E.kind)
                .order_by(E.type)
                .tuples()
                .iterator()
            )
            return [
                {
                    "type": t,
                    "kind": k,
                    "events": n,
                    "first": aware_utc(first) if first else None,
                    "last": aware_utc(last) if last else None,
                    "known": t in known,
                }
                for t, k, n, first, last in query
            ]

    # -- maintenance -----------------------------------------------------------

    def rebuild(
        self, *, from_outbox: bool = True, progress: Callable[[str, int], None] | None = None
    ) -> dict[str, int]:
        """Rebuild every reporting table; first (by default) store the outbox events the store lacks."""
        from crm_warehouse.projections import rebuild_from_store
        from crm_warehouse.store import backfill_from_outbox

        out: dict[str, int] = {}
        with self.crm.activate():
            if from_outbox:
                out["events_added"] = backfill_from_outbox(self.crm)
            with self.crm.transaction():
                counts = rebuild_from_store(self.crm, progress=(lambda n: progress("events", n)) if progress else None)
                counts["sales"] = self.sales.rebuild_facts()
        out.update(counts)
        return out


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
