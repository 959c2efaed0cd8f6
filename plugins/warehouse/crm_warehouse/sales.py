"""Sales records: requests, quotes and sales moving through a configurable pipeline.

Every method checks the acting user's permissions (``warehouse.sales.*``):
a record is in a user's scope through its ``owner`` (a user name), and
listings, counts and the pipeline report keep to the scope in SQL.

Every change is written with its event in one transaction: a new request
emits ``RequestReceived``; every record entering the pipeline or moving
through it emits ``StageChanged`` (``old_stage`` is ``None`` on entry); a
record reaching the won or lost stage emits ``SaleClosed``. The sales fact
row of the record (``warehouse_sales_fact``, see :mod:`crm_warehouse.facts`)
is rewritten in the same transaction, so reports never see a record and its fact disagree.
"""

from __future__ import annotations

import builtins
import datetime as dt
import decimal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.errors import NotFoundError, ValidationError
from crm_warehouse.checks import check_date as _date
from crm_warehouse.checks import check_id as _id
from crm_warehouse.checks import check_text as _text
from crm_warehouse.facts import SalesFacts
from crm_warehouse.money import as_amount, check_amount, check_currency

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_warehouse.contact_scope import ContactScope
    from crm_warehouse.models import SaleRow
    from crm_warehouse.settings import PipelineSettings, WarehouseSettings

__all__ = ["KINDS", "REQUEST_KINDS", "Sale", "SalesBook", "StageMove", "sale_of"]

#: requests for proposal and quotation, appointment requests, quotes and sales
KINDS = ("rfp", "rfq", "appointment", "quote", "sale")
REQUEST_KINDS = ("rfp", "rfq", "appointment")
OUTCOMES = ("open", "won", "lost")

READ = "warehouse.sales.read"
EXPORT = "warehouse.sales.export"
CREATE = "warehouse.sales.create"
EDIT = "warehouse.sales.edit"
ADMIN = "warehouse.admin"


@attrs.frozen
class Sale:
    """A sales record as the API returns it."""

    id: int
    kind: str
    title: str
    contact_id: int
    organization_id: int | None
    owner: str | None
    region: str | None
    product_line: str | None
    amount: decimal.Decimal
    currency: str
    stage: str
    probability: float
    outcome: str
    expected_close_on: dt.date | None
    closed_on: dt.date | None
    lost_reason: str | None
    description: str
    created_at: dt.datetime
    created_by: str | None
    updated_at: dt.datetime

    def as_row(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class StageMove:
    old_stage: str | None
    new_stage: str
    moved_at: dt.datetime
    actor: str | None


def sale_of(row: SaleRow, pipeline: PipelineSettings) -> Sale:
    """The record as the API returns it, its outcome and probability read from ``pipeline``."""
    outcome = "won" if row.stage == pipeline.won_stage else "lost" if row.stage == pipeline.lost_stage else "open"
    return Sale(
        id=row.id,
        kind=row.kind,
        title=row.title,
        contact_id=row.contact_id,
        organization_id=row.organization_id,
        owner=row.owner,
        region=row.region,
        product_line=row.product_line,
        amount=as_amount(row.amount, row.currency),
        currency=row.currency,
        stage=row.stage,
        probability=pipeline.probability(row.stage),
        outcome=outcome,
        expected_close_on=row.expected_close_on,
        closed_on=row.closed_on,
        lost_reason=row.lost_reason,
        description=row.description,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
    )


class SalesBook:
    """``crm.plugin("warehouse").sales``: add, read and move sales records.

    ``contacts`` is the acting user's contact scope: a record is added only
    for a contact the user sees.
    """

    def __init__(self, crm: CRM, contacts: ContactScope) -> None:
        self.crm = crm
        self._contacts = contacts
        self._facts = SalesFacts(crm)

    def _acting_name(self, given: str | None) -> str | None:
        """``given``, else the acting user's name (``None`` for the system)."""
        if given is not None:
            return given
        user = self.crm.current_user
        return user.name if user is not None else None

    # -- settings --------------------------------------------------------------

    @property
    def settings(self) -> WarehouseSettings:
        settings: WarehouseSettings = self.crm.settings("warehouse")
        return settings

    @property
    def pipeline(self) -> PipelineSettings:
        return self.settings.pipeline

    def _check_stage(self, stage: Any) -> str:
        stages = self.pipeline.stages
        if not isinstance(stage, str) or stage.strip().lower() not in stages:
            raise ValidationError(
                f"stage {stage!r} is not in the pipeline; the stages are: {', '.join(stages)} "
                "(set them in [plugins.warehouse.pipeline] stages)"
            )
        return stage.strip().lower()

    # -- reading ---------------------------------------------------------------

    def _view(self, row: SaleRow) -> Sale:
        return sale_of(row, self.pipeline)

    def _row(self, sale_id: Any, lock: bool = False) -> SaleRow:
        from crm_core.storage import for_update
        from crm_warehouse.models import SaleRow

        sale_id = _id(sale_id, "sales record")
        query = SaleRow.select().where(SaleRow.id == sale_id)
        if lock:
            query = for_update(query, self.crm.database)
        row: SaleRow | None = query.first()
        if row is None:
            raise NotFoundError(f"sales record {sale_id} does not exist; 'crm sales list' shows the records")
        return row

    def _readable(self, sale_id: Any) -> SaleRow:
        """The record, if the acting user may read it."""
        self.crm.authz.require(READ)
        row = self._row(sale_id)
        self.crm.authz.require(READ, record_owner=row.owner)
        return row

    def get(self, sale_id: int) -> Sale:
        """One record; ``PermissionDenied`` when it is outside the user's scope."""
        with self.crm.activate():
            return self._view(self._readable(sale_id))

    def list(
        self,
        *,
        kind: str | None = None,
        stage: str | None = None,
        outcome: str | None = None,
        owner: str | None = None,
        region: str | None = None,
        contact_id: int | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Sale]:
        """Records matching every filter given, newest first (only those in the user's scope).

        ``before_id`` continues after the last record of a page (a cursor
        that stays right while records are added).
        """
        if not isinstance(limit, int) or not 1 <= limit <= 100_000:
            raise ValidationError(f"limit {limit!r} must be a whole number from 1 to 100000")
        from crm_warehouse.models import SaleRow as S

        query = self._query(
            kind=kind, stage=stage, outcome=outcome, owner=owner, region=region, contact_id=contact_id
        ).order_by(S.id.desc())
        if before_id is not None:
            query = query.where(S.id < _id(before_id, "sales record"))
        with self.crm.activate():
            return [self._view(row) for row in query.limit(limit)]

    def count(
        self,
        *,
        kind: str | None = None,
        stage: str | None = None,
        outcome: str | None = None,
        owner: str | None = None,
        region: str | None = None,
        contact_id: int | None = None,
    ) -> int:
        """How many records match every filter given (only those in the user's scope)."""
        query = self._query(kind=kind, stage=stage, outcome=outcome, owner=owner, region=region, contact_id=contact_id)
        with self.crm.activate():
            return int(query.count())

    def export(
        self,
        *,
        kind: str | None = None,
        stage: str | None = None,
        outcome: str | None = None,
        owner: str | None = None,
        region: str | None = None,
        contact_id: int | None = None,
        page: int = 1000,
    ) -> Iterator[Sale]:
        """Every record matching the filters, oldest first, read ``page`` records at a time.

        Needs ``warehouse.sales.export``; only the records in the user's
        scope for it are exported. Checked when called, not when iterated.
        """
        from crm_warehouse.models import SaleRow as S

        self.crm.authz.require(EXPORT)
        if not isinstance(page, int) or not 1 <= page <= 100_000:
            raise ValidationError(f"page {page!r} must be a whole number from 1 to 100000")
        query = self._query(
            kind=kind,
            stage=stage,
            outcome=outcome,
            owner=owner,
            region=region,
            contact_id=contact_id,
            permission=EXPORT,
        )

        def pages() -> Iterator[Sale]:
            last = 0
            while True:
                with self.crm.activate():
                    rows = builtins.list(query.where(S.id > last).order_by(S.id).limit(page))
                if not rows:
                    return
                last = rows[-1].id
                yield from (self._view(row) for row in rows)

        return pages()

    def _query(
        self,
        *,
        kind: str | None,
        stage: str | None,
        outcome: str | None,
        owner: str | None,
        region: str | None,
        contact_id: int | None,
        permission: str = READ,
    ) -> Any:
        from crm_warehouse.models import SaleRow as S

        query = self.crm.authz.restrict(S.select(), permission, S.owner, owner_is="name")
        if kind is not None:
            if kind not in KINDS:
                raise ValidationError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
            query = query.where(S.kind == kind)
        if stage is not None:
            query = query.where(S.stage == self._check_stage(stage))
        if outcome is not None:
            pipeline = self.pipeline
            if outcome == "won":
                query = query.where(S.stage == pipeline.won_stage)
            elif outcome == "lost":
                query = query.where(S.stage == pipeline.lost_stage)
            elif outcome == "open":
                query = query.where(S.stage.not_in([pipeline.won_stage, pipeline.lost_stage]))
            else:
                raise ValidationError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        if owner is not None:
            query = query.where(S.owner == owner)
        if region is not None:
            query = query.where(S.region == region)
        if contact_id is not None:
            query = query.where(S.contact_id == _id(contact_id, "contact"))
        return query

    def moves(self, sale_id: int) -> builtins.list[StageMove]:
        """The record's way through the pipeline, oldest first."""
        from crm_warehouse.models import StageMoveRow as M

        with self.crm.activate():
            row = self._readable(sale_id)
            query = M.select().where(M.sale == row.id).order_by(M.moved_at, M.id)
            return [StageMove(m.old_stage, m.new_stage, m.moved_at, m.actor) for m in query]

    def forecast(self, *, owner: str | None = None, region: str | None = None) -> builtins.list[dict[str, Any]]:
        """Open records per stage and currency: count, amount and probability-weighted amount.

        Every open stage has a row (with no records: one row, currency
        empty); only records in the user's scope are counted.
        """
        self.crm.authz.require(READ)
        return self._facts.forecast(owner=owner, region=region, permission=READ)

    # -- writing ---------------------------------------------------------------

    def _contact_defaults(self, contact_id: int) -> dict[str, Any]:
        """The contact's organization, region and owner, when the contacts plugin is there to ask."""
        if not self.crm.has_plugin("contacts"):
            return {}
        card = self.crm.plugin("contacts").card(contact_id)  # NotFoundError names the contact
        return {"organization_id": card.organization_id, "region": card.region, "owner": card.owner}

    def add(
        self,
        kind: str,
        contact_id: int,
        *,
        title: str = "",
        amount: Any = 0,
        currency: str | None = None,
        owner: str | None = None,
        region: str | None = None,
        organization_id: int | None = None,
        product_line: str | None = None,
        stage: str | None = None,
        expected_close_on: dt.date | str | None = None,
        description: str = "",
        actor: str | None = None,
        channel: str = "staff",
    ) -> Sale:
        """Record a request, quote or sale; it enters the pipeline at ``stage`` (default: the first).

        The owner is ``owner``, else the acting user, else (for the system)
        the contact's owner; ``actor`` defaults to the acting user's name.
        """
        from crm_hookspecs.events import RequestReceived, StageChanged
        from crm_warehouse.models import SaleRow, StageMoveRow

        self.crm.authz.require(CREATE)
        actor = self._acting_name(actor)
        owner = self._acting_name(owner)

        if kind not in KINDS:
            raise ValidationError(
                f"kind {kind!r} is not one of {', '.join(KINDS)} (rfp: request for proposal, rfq: request for quotation)"
            )
        contact_id = _id(contact_id, "contact")
        currency = check_currency(currency if currency is not None else self.settings.default_currency)
        value = check_amount(amount, currency)
        stage = self._check_stage(stage) if stage is not None else self.pipeline.first_stage
        if self.pipeline.is_closed(stage):
            raise ValidationError(
                f"stage {stage!r} closes a record; add it at an open stage ({', '.join(self.pipeline.open_stages)}) "
                "and close it with 'crm sales close'"
            )
        fields = {
            "title": _text(title, "title", 300) or "",
            "owner": _text(owner, "owner", 100),
            "region": _text(region, "region", 100),
            "product_line": _text(product_line, "product line", 100),
            "description": _text(description, "description", 20_000) or "",
            "expected_close_on": _date(expected_close_on, "expected close date"),
            "organization_id": _id(organization_id, "organization") if organization_id is not None else None,
        }
        with self.crm.transaction():
            self._contacts.require(contact_id)
            for key, default in self._contact_defaults(contact_id).items():
                if fields.get(key) is None and default is not None:
                    fields[key] = default
            now = self.crm.clock.now()
            row = SaleRow.create(
                kind=kind,
                contact_id=contact_id,
                amount=value,
                currency=currency,
                stage=stage,
                created_at=now,
                created_by=_text(actor, "actor", 100),
                updated_at=now,
                **fields,
            )
            StageMoveRow.create(sale=row.id, old_stage=None, new_stage=stage, moved_at=now, actor=actor)
            if kind in REQUEST_KINDS:
                self.crm.emit(
                    RequestReceived(
                        record_id=row.id,
                        contact_id=contact_id,
                        kind=kind,
                        owner=row.owner,
                        region=row.region,
                        actor=actor,
                        channel=channel,
                    )
                )
            self.crm.emit(
                StageChanged(
                    record_id=row.id,
                    contact_id=contact_id,
                    old_stage=None,
                    new_stage=stage,
                    owner=row.owner,
                    actor=actor,
                    channel=channel,
                )
            )
            self._facts.write([row])
            return self._view(row)

    def update(self, sale_id: int, *, actor: str | None = None, channel: str = "staff", **changes: Any) -> Sale:
        """Change a record's details (not its stage: see :meth:`move` and :meth:`close`).

        Emits ``SaleUpdated`` with the fields that really changed (none: no event).
        """
        from crm_hookspecs.events import SaleUpdated
        from crm_hookspecs.records import FieldChange

        allowed = {
            "title", "amount", "currency", "owner", "region", "product_line", "expected_close_on",
            "description", "kind", "organization_id",
        }  # fmt: skip
        self.crm.authz.require(EDIT)
        actor = self._acting_name(actor)
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValidationError(
                f"cannot change {unknown[0]!r} with update; the fields are: {', '.join(sorted(allowed))} "
                "(the stage moves with 'stage' and 'close')"
            )
        with self.crm.transaction():
            row = self._row(sale_id, lock=True)
            self.crm.authz.require(EDIT, record_owner=row.owner)
            row.amount = as_amount(row.amount, row.currency)  # SQLite gives 1200.5 for 1200.50
            before = {name: _json_value(getattr(row, name)) for name in allowed}
            if "kind" in changes:
                if changes["kind"] not in KINDS:
                    raise ValidationError(f"kind {changes['kind']!r} is not one of {', '.join(KINDS)}")
                row.kind = changes["kind"]
            currency = check_currency(changes["currency"]) if changes.get("currency") is not None else row.currency
            if "amount" in changes or "currency" in changes:
                row.amount = check_amount(changes.get("amount", row.amount), currency)
                row.currency = currency
            for key, limit in (
                ("title", 300),
                ("owner", 100),
                ("region", 100),
                ("product_line", 100),
                ("description", 20_000),
            ):
                if key in changes:
                    value = _text(changes[key], key.replace("_", " "), limit)
                    setattr(row, key, value if value is not None or key not in ("title", "description") else "")
            if "expected_close_on" in changes:
                row.expected_close_on = _date(changes["expected_close_on"], "expected close date")
            if "organization_id" in changes:
                org = changes["organization_id"]
                row.organization_id = _id(org, "organization") if org is not None else None
            diff = {
                name: FieldChange(before[name], value)
                for name in sorted(allowed)
                if (value := _json_value(getattr(row, name))) != before[name]
            }
            if not diff:
                return self._view(row)
            row.updated_at = self.crm.clock.now()
            row.save()
            self._facts.write([row])
            self.crm.emit(
                SaleUpdated(record_id=row.id, contact_id=row.contact_id, changes=diff, actor=actor, channel=channel)
            )
            return self._view(row)

    def move(
        self, sale_id: int, stage: str, *, actor: str | None = None, channel: str = "staff", reopen: bool = False
    ) -> Sale:
        """Move a record to another open stage (closing goes through :meth:`close`).

        A closed record moves back to an open stage only with ``reopen``: its
        closed date and lost reason are cleared.
        """
        self.crm.authz.require(EDIT)
        actor = self._acting_name(actor)
        stage = self._check_stage(stage)
        pipeline = self.pipeline
        if stage == pipeline.won_stage:
            return self.close(sale_id, won=True, actor=actor, channel=channel)
        if stage == pipeline.lost_stage:
            return self.close(sale_id, won=False, actor=actor, channel=channel)
        with self.crm.transaction():
            row = self._row(sale_id, lock=True)
            self.crm.authz.require(EDIT, record_owner=row.owner)
            if row.stage == stage:
                return self._view(row)
            if pipeline.is_closed(row.stage) and not reopen:
                raise ValidationError(
                    f"sales record {row.id} is closed ({row.stage} on {row.closed_on}); reopen it explicitly "
                    "(--reopen, or reopen=True) to move it back into the pipeline"
                )
            if pipeline.is_closed(row.stage):
                row.closed_on = None
                row.lost_reason = None
            return self._set_stage(row, stage, actor, channel)

    def close(
        self,
        sale_id: int,
        won: bool,
        *,
        closed_on: dt.date | str | None = None,
        lost_reason: str | None = None,
        amount: Any = None,
        actor: str | None = None,
        channel: str = "staff",
    ) -> Sale:
        """Close a record as won or lost; emits ``StageChanged`` and ``SaleClosed``."""
        from crm_hookspecs.events import SaleClosed

        self.crm.authz.require(EDIT)
        actor = self._acting_name(actor)
        if not isinstance(won, bool):
            raise ValidationError(f"won must be true or false, not {won!r}")
        reason = _text(lost_reason, "lost reason", 500)
        if won and reason:
            raise ValidationError("a lost reason is only for records closed as lost")
        if not won and reason is None and self.settings.require_lost_reason:
            raise ValidationError("closing as lost needs a reason (require_lost_reason is on); give --reason")
        day = _date(closed_on, "closed date")
        with self.crm.transaction():
            row = self._row(sale_id, lock=True)
            self.crm.authz.require(EDIT, record_owner=row.owner)
            pipeline = self.pipeline
            if pipeline.is_closed(row.stage):
                raise ValidationError(
                    f"sales record {row.id} is already closed ({row.stage} on {row.closed_on}); "
                    "reopen it with 'crm sales stage ID STAGE --reopen' first"
                )
            if amount is not None:
                row.amount = check_amount(amount, row.currency)
            today = self.crm.today()
            day = day or today
            if day > today:
                raise ValidationError(f"closed date {day} is in the future; a record closes today ({today}) or earlier")
            row.closed_on = day
            row.lost_reason = reason
            sale = self._set_stage(row, pipeline.won_stage if won else pipeline.lost_stage, actor, channel)
            self.crm.emit(
                SaleClosed(
                    record_id=row.id,
                    contact_id=row.contact_id,
                    won=won,
                    amount=as_amount(row.amount, row.currency),
                    currency=row.currency,
                    region=row.region,
                    owner=row.owner,
                    closed_on=day,
                    lost_reason=reason,
                    actor=actor,
                    channel=channel,
                )
            )
            return sale

    def _set_stage(self, row: SaleRow, stage: str, actor: str | None, channel: str) -> Sale:
        from crm_hookspecs.events import StageChanged
        from crm_warehouse.models import StageMoveRow

        old = row.stage
        now = self.crm.clock.now()
        row.stage = stage
        row.updated_at = now
        row.save()
        StageMoveRow.create(sale=row.id, old_stage=old, new_stage=stage, moved_at=now, actor=actor)
        self.crm.emit(
            StageChanged(
                record_id=row.id,
                contact_id=row.contact_id,
                old_stage=old,
                new_stage=stage,
                owner=row.owner,
                actor=actor,
                channel=channel,
            )
        )
        self._facts.write([row])
        return self._view(row)

    def rebuild_facts(self, page: int = 5000, *, summaries: bool = True) -> int:
        """Rewrite ``warehouse_sales_fact`` from the sales records (after a pipeline change, for instance).

        Their summaries are added up again too, unless ``summaries`` is false.
        """
        self.crm.authz.require(ADMIN)
        return self._facts.rebuild(page, summaries=summaries)


def _json_value(value: Any) -> Any:
    """A field's value as events carry it: an amount as text, a date as ISO text."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
