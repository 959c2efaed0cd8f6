"""The sales facts: ``warehouse_sales_fact``, one reporting row per sales record.

:class:`SalesFacts` is the sales book's own helper, not reachable from the
API: the book rewrites a record's fact in the transaction that changes the
record, and rebuilds them all after a pipeline change (its callers check
the permissions). Each write applies its difference to the summary tables
in the same transaction (:class:`crm_warehouse.summaries.service.Summaries`).
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from crm_core.clock import naive_utc
from crm_warehouse.money import as_amount
from crm_warehouse.projections import local_date, quarter

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_warehouse.models import SaleRow
    from crm_warehouse.settings import PipelineSettings

__all__ = ["FACT_COLUMNS", "SalesFacts"]

FACT_COLUMNS = (
    "sale_id", "kind", "contact_id", "organization_id", "region", "owner", "product_line", "amount",
    "currency", "stage", "probability", "outcome", "won", "created_on", "created_quarter",
    "expected_close_on", "closed_on", "closed_quarter", "lost_reason", "updated_at",
)  # fmt: skip


class SalesFacts:
    """Writes the facts of sales records."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    @property
    def pipeline(self) -> PipelineSettings:
        pipeline: PipelineSettings = self.crm.settings("warehouse").pipeline
        return pipeline

    def fact(self, row: SaleRow) -> tuple[Any, ...]:
        """The record's fact row, in :data:`FACT_COLUMNS` order."""
        pipeline = self.pipeline
        won = True if row.stage == pipeline.won_stage else False if row.stage == pipeline.lost_stage else None
        created_on = local_date(self.crm, row.created_at)
        return (
            row.id,
            row.kind,
            row.contact_id,
            row.organization_id,
            row.region,
            row.owner,
            row.product_line,
            as_amount(row.amount, row.currency),
            row.currency,
            row.stage,
            pipeline.probability(row.stage),
            "open" if won is None else "won" if won else "lost",
            won,
            created_on,
            quarter(created_on),
            row.expected_close_on,
            row.closed_on,
            quarter(row.closed_on) if row.closed_on else None,
            row.lost_reason,
            naive_utc(self.crm.clock.now()),
        )

    def write(self, rows: Iterable[SaleRow], *, summaries: bool = True) -> int:
        """Replace the facts of these records; return how many were written.

        With ``summaries`` (the default), the summary tables take the
        difference between the facts replaced and the new ones.
        """
        from crm_core.storage import bulk_insert
        from crm_warehouse.models import SalesFactRow as F
        from crm_warehouse.summaries.service import Summaries

        facts = [self.fact(row) for row in rows]
        if not facts:
            return 0
        ids = [f[0] for f in facts]
        with self.crm.database.atomic():
            old: list[dict[str, Any]] = []
            if summaries:
                fields = [getattr(F, c) for c in FACT_COLUMNS]
                query = F.select(*fields).where(F.sale_id.in_(ids)).tuples().iterator()
                old = [dict(zip(FACT_COLUMNS, r)) for r in query]
            F.delete().where(F.sale_id.in_(ids)).execute()
            written = bulk_insert(F, FACT_COLUMNS, facts, database=self.crm.database)
            if summaries:
                Summaries(self.crm).facts_replaced(old, [dict(zip(FACT_COLUMNS, f)) for f in facts])
            return written

    def rebuild(self, page: int = 5000, *, summaries: bool = True) -> int:
        """Empty the table and write every record's fact, ``page`` records at a time.

        The summaries of the facts (sales, open pipeline, pipeline moves) are
        then added up again, unless ``summaries`` is false (a caller that
        rebuilds every summary next).
        """
        from crm_warehouse.models import SaleRow, SalesFactRow
        from crm_warehouse.summaries.rebuild import rebuild_sales

        total = 0
        with self.crm.transaction():
            SalesFactRow.delete().execute()
            last = 0
            while True:
                rows = list(SaleRow.select().where(SaleRow.id > last).order_by(SaleRow.id).limit(page))
                if not rows:
                    break
                last = rows[-1].id
                total += self.write(rows, summaries=False)
            if summaries:
                rebuild_sales(self.crm)
        return total

    def forecast(self, *, owner: str | None, region: str | None, permission: str) -> list[dict[str, Any]]:
        """Open records per stage and currency, of the records in the acting user's scope for ``permission``."""
        from peewee import fn

        from crm_warehouse.models import SalesFactRow as F

        query = (
            F.select(F.stage, F.currency, fn.COUNT(F.sale_id), fn.SUM(F.amount))
            .where(F.outcome == "open")
            .group_by(F.stage, F.currency)
        )
        query = self.crm.authz.restrict(query, permission, F.owner, owner_is="name")
        if owner:
            query = query.where(F.owner == owner)
        if region:
            query = query.where(F.region == region)
        with self.crm.activate():
            found = {(s, c): (n, decimal.Decimal(str(total or 0))) for s, c, n, total in query.tuples().iterator()}
        cent = decimal.Decimal("0.01")
        rows = []
        for stage_name in self.pipeline.open_stages:
            p = decimal.Decimal(str(self.pipeline.probability(stage_name)))
            currencies = sorted(c for s, c in found if s == stage_name) or [None]
            for currency in currencies:
                n, total = found.get((stage_name, currency), (0, decimal.Decimal(0)))
                rows.append({
                    "stage": stage_name, "probability": float(p), "records": n, "currency": currency or "",
                    "amount": total.quantize(cent), "weighted": (total * p).quantize(cent),
                })  # fmt: skip
        return rows
