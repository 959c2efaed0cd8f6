"""The pipeline as a board: the open stages as columns, each with its count, its amount per currency and its first cards.

:class:`PipelineBoard` is ``crm.plugin("warehouse").board``. It reads the
sales records in the acting user's ``warehouse.sales.read`` scope (in SQL),
with a fixed number of statements whatever the number of records: one for
the totals of every column, one or two per open stage for its cards (a
stage is a line of the configuration, not a row), one for the time each card
entered its stage. The totals count every open record; a column shows its first
``per_stage`` cards, those expected to close soonest first (no date last).
"""

from __future__ import annotations

import builtins
import datetime as dt
import decimal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import peewee

from crm_core.clock import aware_utc
from crm_core.errors import ValidationError
from crm_warehouse.money import as_amount
from crm_warehouse.sales import READ, Sale, sale_of

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_warehouse.sales import SalesBook

__all__ = ["BoardCard", "BoardColumn", "PipelineBoard"]

#: the most cards a column may show
MAX_PER_STAGE = 500


@attrs.frozen
class BoardCard:
    """A record on the board, and since when it has been in its stage."""

    sale: Sale
    in_stage_since: dt.datetime


@attrs.frozen
class BoardColumn:
    """An open stage: how many records it holds, their amount per currency, and its first cards."""

    stage: str
    probability: float
    count: int
    #: currency -> the sum of the amounts, currencies in alphabetical order
    amounts: dict[str, decimal.Decimal]
    cards: list[BoardCard]

    @property
    def more(self) -> int:
        """How many records of the stage the column does not show."""
        return self.count - len(self.cards)


class PipelineBoard:
    """``crm.plugin("warehouse").board``: the open pipeline as columns, and the records closing soon."""

    def __init__(self, crm: CRM, sales: SalesBook) -> None:
        self.crm = crm
        self._sales = sales

    def _scoped(self, owners: Sequence[str] | None) -> Any:
        from crm_warehouse.models import SaleRow as S

        query = self.crm.authz.restrict(S.select(), READ, S.owner, owner_is="name")
        if owners is not None:
            names = [o for o in owners if isinstance(o, str) and o]
            if len(names) != len(owners):
                raise ValidationError(f"owners must be user names, not {list(owners)!r}")
            query = query.where(S.owner.in_(names)) if names else query.where(S.id.is_null())
        return query

    def columns(self, *, owners: Sequence[str] | None = None, per_stage: int = 50) -> builtins.list[BoardColumn]:
        """Every open stage, in pipeline order, with its totals and its first ``per_stage`` cards.

        ``owners`` keeps the records of these users (an owner filter, or a
        team's members); only records in the user's scope are counted or shown.
        """
        from crm_warehouse.models import SaleRow as S
        from crm_warehouse.models import StageMoveRow as M

        self.crm.authz.require(READ)
        if not isinstance(per_stage, int) or isinstance(per_stage, bool) or not 1 <= per_stage <= MAX_PER_STAGE:
            raise ValidationError(f"per_stage {per_stage!r} must be a whole number from 1 to {MAX_PER_STAGE}")
        pipeline = self._sales.pipeline
        stages = pipeline.open_stages
        counts: dict[str, int] = dict.fromkeys(stages, 0)
        amounts: dict[str, dict[str, decimal.Decimal]] = {s: {} for s in stages}
        with self.crm.activate():
            totals = (
                self._scoped(owners)
                .select(S.stage, S.currency, peewee.fn.COUNT(S.id), peewee.fn.SUM(S.amount))
                .where(S.stage.in_(stages))
                .group_by(S.stage, S.currency)
                .order_by(S.stage, S.currency)
                .tuples()
            )
            for stage, currency, count, total in totals:
                counts[stage] += int(count)
                amounts[stage][currency] = as_amount(total or 0, currency)
            rows: dict[str, builtins.list[Any]] = {}
            for stage in stages:
                if counts[stage] == 0:
                    rows[stage] = []
                    continue
                # dated first, then undated: two reads of the (stage, expected_close_on, id) index, each in its
                # order, where one ORDER BY with the nulls last would sort the whole stage on some databases
                dated = builtins.list(
                    self._scoped(owners)
                    .where((S.stage == stage) & S.expected_close_on.is_null(False))
                    .order_by(S.expected_close_on, S.id)
                    .limit(per_stage)
                )
                if len(dated) < per_stage:
                    dated += builtins.list(
                        self._scoped(owners)
                        .where((S.stage == stage) & S.expected_close_on.is_null())
                        .order_by(S.id)
                        .limit(per_stage - len(dated))
                    )
                rows[stage] = dated
            ids = [row.id for stage_rows in rows.values() for row in stage_rows]
            entered: dict[int, Any] = {}
            if ids:
                query: Any = M.select(M.sale, peewee.fn.MAX(M.moved_at)).where(M.sale.in_(ids)).group_by(M.sale)
                entered = dict(query.tuples())
        return [
            BoardColumn(
                stage=stage,
                probability=pipeline.probability(stage),
                count=counts[stage],
                amounts=dict(sorted(amounts[stage].items())),
                cards=[
                    BoardCard(sale_of(row, pipeline), aware_utc(entered.get(row.id) or row.created_at))
                    for row in rows[stage]
                ],
            )
            for stage in stages
        ]

    def closing(self, start: dt.date, end: dt.date, *, limit: int = 20) -> builtins.list[Sale]:
        """Open records in the user's scope expected to close from ``start`` to ``end`` (both included), soonest first."""
        from crm_warehouse.models import SaleRow as S

        self.crm.authz.require(READ)
        if not isinstance(start, dt.date) or not isinstance(end, dt.date) or end < start:
            raise ValidationError(f"closing needs two dates, the first not after the second, not {start!r}, {end!r}")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            raise ValidationError(f"limit {limit!r} must be a whole number from 1 to 1000")
        pipeline = self._sales.pipeline
        query = (
            self._scoped(None)
            .where(S.stage.in_(pipeline.open_stages) & (S.expected_close_on >= start) & (S.expected_close_on <= end))
            .order_by(S.expected_close_on, S.id)
            .limit(limit)
        )
        with self.crm.activate():
            return [sale_of(row, pipeline) for row in query]

    def owners(self) -> builtins.list[str]:
        """The owners of the open records in the user's scope, in alphabetical order (for an owner filter)."""
        from crm_warehouse.models import SaleRow as S

        self.crm.authz.require(READ)
        query = (
            self._scoped(None)
            .select(S.owner)
            .where(S.stage.in_(self._sales.pipeline.open_stages) & S.owner.is_null(False))
            .distinct()
            .order_by(S.owner)
            .tuples()
        )
        with self.crm.activate():
            return [owner for (owner,) in query]
