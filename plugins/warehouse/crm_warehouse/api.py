"""``crm.plugin("warehouse")``: the warehouse's Python API, :class:`WarehouseAPI`.

It implements :class:`crm_hookspecs.apis.WarehouseAPI` (what other plugins
may rely on) and offers more: ``sales``, ``actions`` and ``documents`` for
the warehouse's own records, the audit trail, the stored events, rebuilds.

The class is a facade over services, each built here with the services it
needs and calling only their public methods. Every public method, the
services' included, checks the acting user's permissions (the system, with
no user acting, may do everything): see the "Permissions" section of
``docs/plugins/warehouse.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from crm_warehouse.actions import StaffLog
from crm_warehouse.board import PipelineBoard
from crm_warehouse.contact_scope import ContactScope
from crm_warehouse.customers import Customers
from crm_warehouse.documents import DocumentStore
from crm_warehouse.history import History
from crm_warehouse.sales import SalesBook
from crm_warehouse.store import EventStore, StoredEvent

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_hookspecs.events import Event
    from crm_hookspecs.records import TimelineEntry
    from crm_warehouse.history import AuditEntry
    from crm_warehouse.summaries.rebuild import Drift

__all__ = ["REPORTING_TABLES", "Warehouse", "WarehouseAPI"]

#: the tables reports may query, by role (columns: docs/plugins/warehouse.md)
REPORTING_TABLES = {
    "sales": "warehouse_sales_fact",
    "survey_answers": "warehouse_survey_answer_fact",
    "survey_responses": "warehouse_survey_response",
    "contact_status": "warehouse_contact_status",
    "contact_changes": "warehouse_contact_change",
    "events": "warehouse_event",
    "event_contacts": "warehouse_event_contact",
    # the summary tables: the tables above added up per day and month (crm_warehouse.summaries)
    "sales_summary": "warehouse_sales_summary",
    "open_sales_summary": "warehouse_open_sales_summary",
    "pipeline_summary": "warehouse_pipeline_summary",
    "status_summary": "warehouse_status_summary",
    "activity_summary": "warehouse_activity_summary",
    "survey_summary": "warehouse_survey_summary",
    "summary_state": "warehouse_summary_state",
}

ADMIN = "warehouse.admin"


class WarehouseAPI:
    """The warehouse of one app."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        contacts = ContactScope(crm)
        #: sales records: ``warehouse.sales.*``, scoped by the record's owner
        self.sales = SalesBook(crm, contacts)
        #: the open pipeline as a board (columns per stage), and the records closing soon: ``warehouse.sales.read``
        self.board = PipelineBoard(crm, self.sales)
        #: staff actions: ``warehouse.actions.*``, for contacts in the user's scope
        self.actions = StaffLog(crm, self.sales, contacts)
        #: documents: ``warehouse.documents.*``, for contacts in the user's scope
        self.documents = DocumentStore(crm, self.sales, contacts)
        self._history = History(crm, contacts)
        self._customers = Customers(crm, contacts)
        self._store = EventStore(crm)

    # -- WarehouseAPI (the contract) -------------------------------------------

    def contact_as_of(self, contact_id: int, when: dt.date | dt.datetime) -> dict[str, Any]:
        """The contact's fields at the end of ``when`` (a date) or at ``when`` (an aware datetime)."""
        return self._history.as_of(contact_id, when)

    def timeline(
        self,
        contact_id: int,
        kinds: Sequence[str] | None = None,
        limit: int = 50,
        before: dt.datetime | None = None,
        before_event: str | None = None,
    ) -> list[TimelineEntry]:
        """What happened to or around the contact, newest first.

        ``before`` continues after an entry shown: the entries before that
        time; with ``before_event`` (that entry's ``event_id``) also those at
        the same time that come after it, so a page never skips an entry.
        """
        return self._history.timeline(contact_id, kinds=kinds, limit=limit, before=before, before_event=before_event)

    def customers_without_won_sale_since(self, since: dt.date) -> dict[int, dt.date | None]:
        """Current customers with no sale won on or after ``since``, mapped to their last won sale's date."""
        return self._customers.without_won_sale_since(since)

    def customers_quiet_since(self, since: dt.date) -> dict[int, tuple[dt.date | None, dt.date]]:
        """Current customers who neither won a sale nor became customers on or after ``since``.

        Maps each to ``(last won sale's date or None, the day it became a customer)``.
        """
        return self._customers.quiet_since(since)

    def reporting_tables(self) -> dict[str, str]:
        """The reporting tables' names by role.

        No permission is needed: these are names, not rows; whoever reads
        the tables (the analytics plugin's reports) keeps to the user's scope.
        """
        return dict(REPORTING_TABLES)

    # -- more history ----------------------------------------------------------

    def audit(self, **filters: Any) -> list[AuditEntry]:
        """Changes to contacts, newest first; filters: contact_id, field, actor, channel, since, until, limit."""
        return self._history.audit(**filters)

    def events(
        self,
        *,
        type_name: str | None = None,
        kind: str | None = None,
        unknown: bool = False,
        limit: int = 50,
    ) -> list[StoredEvent]:
        """Stored events, newest first; ``unknown`` keeps only types no installed code defines."""
        return self._store.events(type_name=type_name, kind=kind, unknown=unknown, limit=limit)

    def event(self, event_id: str) -> Event:
        """One stored event as the contract's attrs class (``UnknownEvent`` for unknown types)."""
        return self._store.event(event_id)

    def status(self) -> list[dict[str, Any]]:
        """Stored events per type: how many, the first and last time, whether the type is known."""
        return self._store.status()

    def table_sizes(self) -> dict[str, tuple[str, int]]:
        """``{role: (table, rows)}``: each reporting table and how many rows it holds."""
        return self._store.table_sizes(REPORTING_TABLES)

    # -- maintenance -----------------------------------------------------------

    def rebuild(
        self, *, from_outbox: bool = True, progress: Callable[[str, int], None] | None = None
    ) -> dict[str, int]:
        """Rebuild every reporting table; first (by default) store the outbox events the store lacks."""
        from crm_warehouse.projections import rebuild_from_store
        from crm_warehouse.store import backfill_from_outbox
        from crm_warehouse.summaries.rebuild import rebuild as rebuild_summaries

        self.crm.authz.require(ADMIN)
        out: dict[str, int] = {}
        with self.crm.activate():
            if from_outbox:
                out["events_added"] = backfill_from_outbox(self.crm)
            with self.crm.transaction():
                counts = rebuild_from_store(self.crm, progress=(lambda n: progress("events", n)) if progress else None)
                counts["sales"] = self.sales.rebuild_facts(summaries=False)
                counts.update(rebuild_summaries(self.crm))
        out.update(counts)
        return out

    def summaries(self) -> dict[str, Any]:
        """The summary tables' state: ``complete``, ``timezone``, ``rebuilt_at``, and ``tables`` (rows of each)."""
        from crm_warehouse.summaries.models import STATE, SUMMARY_MODELS, SummaryStateRow

        self.crm.authz.require(ADMIN)
        with self.crm.activate():
            row = SummaryStateRow.get_or_none(SummaryStateRow.name == STATE)
            tables = {model._meta.table_name: model.select().count() for model in SUMMARY_MODELS}
        return {
            "complete": bool(row and row.complete),
            "timezone": row.timezone if row else None,
            "rebuilt_at": row.rebuilt_at if row else None,
            "tables": tables,
        }

    def rebuild_summaries(self, progress: Callable[[str], None] | None = None) -> dict[str, int]:
        """Add the summary tables up again from the reporting tables (in one transaction); rows of each."""
        from crm_warehouse.summaries.rebuild import rebuild as rebuild_summaries

        self.crm.authz.require(ADMIN)
        with self.crm.activate(), self.crm.transaction():
            return rebuild_summaries(self.crm, progress)

    def check_summaries(self) -> list[Drift]:
        """Compare the summary tables with a rebuild that is rolled back: per table, the keys that differ."""
        from crm_warehouse.summaries.rebuild import check

        self.crm.authz.require(ADMIN)
        with self.crm.activate():
            return check(self.crm)


#: the class's name before contract 1.x's layout: a deprecated alias until contract 2.0
Warehouse = WarehouseAPI
