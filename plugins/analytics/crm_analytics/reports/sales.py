"""Sales reports over ``warehouse_sales_fact``: the share won per quarter, and sales per period.

What counts (docs/plugins/analytics/closed-share.md, sales.md):

* a record is **closed** when its ``outcome`` is ``won`` or ``lost``; it is
  closed in the period that holds its ``closed_on`` (a local date: the
  warehouse records the day in the app's time zone);
* it is **open at the end of a period** when it was created on or before
  the period's last day (``created_on``) and not closed by then;
* amounts are never added across currencies: ``currency`` is always a
  grouping column.

Both read the warehouse's sales summary instead of the facts when they may
(:mod:`crm_analytics.summaries`): it keeps ``kind``, ``currency`` and
``outcome`` and one of ``region``, ``owner`` and ``product_line``, so a
report grouped or filtered by at most one of those (and, for a seller, by
no other than ``owner``) reads it; the rows are the same.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import peewee

from crm_analytics.periods import bucket
from crm_analytics.reports.common import check_choices, check_texts, currency_filter, nothing, window
from crm_analytics.result import ChartSpec, Report
from crm_analytics.sql import fetch, money, pct
from crm_analytics.summaries import Summaries, in_range, money_e4
from crm_core.i18n import N_

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["DIMENSIONS", "closed_share", "sales"]

#: the columns of warehouse_sales_fact a sales report can group by
DIMENSIONS = ("region", "owner", "product_line", "kind")
KINDS = ("rfp", "rfq", "appointment", "quote", "sale")


def _filters(
    F: Any, kinds: Sequence[str], currency: str | None, regions: Sequence[str], owners: Sequence[str]
) -> list[Any]:
    out = []
    if kinds:
        out.append(F.c.kind.in_(list(kinds)))
    if currency:
        out.append(F.c.currency == currency)
    if regions:
        out.append(F.c.region.in_(list(regions)))
    if owners:
        out.append(F.c.owner.in_(list(owners)))
    return out


def _summary(
    summaries: Summaries, win: Any, dims: Sequence[str], regions: Sequence[str], owners: Sequence[str]
) -> tuple[Any, str] | None:
    """The sales summary and the ``dims`` of its rows that answer this report, or ``None``: read the facts."""
    if not summaries.usable("sales_summary"):
        return None
    needed = {d for d in dims if d != "kind"} | ({"region"} if regions else set()) | ({"owner"} if owners else set())
    if win.tables.scoped("sales_summary"):
        needed.add("owner")  # a seller's rows are found by their owner
    if len(needed) > 1:
        return None
    return win.tables["sales_summary"], next(iter(needed), "")


def _days(win: Any) -> list[Any]:
    return [p.start for p in win.periods] + [win.stop]


def _closed_share_summary(
    summaries: Summaries, win: Any, dims: Sequence[str], kinds: Sequence[str], cur: str | None,
    regions: Sequence[str], owners: Sequence[str],
) -> list[tuple[Any, ...]] | None:  # fmt: skip
    """The raw query's rows ``(pc, pe, pl, *dims, currency, outcome, count, amount)``, from the summary."""
    found = _summary(summaries, win, dims, regions, owners)
    if found is None:
        return None
    T, kept = found
    cols = [getattr(T.c, d) for d in dims]
    query = (
        T.select(
            T.c.measure, bucket(T.c.day, win.date_bounds(), below=True), *cols, T.c.currency, T.c.outcome,
            peewee.fn.SUM(T.c.records), peewee.fn.SUM(T.c.amount_e4),
        )
        .where(T.c.dims == kept, in_range(T, _days(win), win.tables, below=True), *_filters(T, kinds, cur, regions, owners))
        .group_by(T.c.measure, peewee.SQL("2"), *cols, T.c.currency, T.c.outcome)
    )  # fmt: skip
    out: list[tuple[Any, ...]] = []
    for measure, period, *rest in fetch(query, win.tables):
        *key, currency, outcome, count, amount = rest
        p, values = int(period), (*key, currency, outcome, int(count), money_e4(amount))
        if measure == "closed":  # it left the pipeline then too (left_adjust moves the early ones)
            out.append((p if p >= 0 and outcome in ("won", "lost") else None, None, p, *values))
        elif measure == "created":
            out.append((None, p, None, *values))
        elif measure == "left_adjust":
            out.append((None, None, p, *values))
    return out


def closed_share(
    crm: CRM,
    start: Any = None,
    end: Any = None,
    *,
    period: str = "quarter",
    by: Sequence[str] | str | None = None,
    kind: Sequence[str] | str | None = None,
    currency: str | None = None,
    region: Sequence[str] | str | None = None,
    owner: Sequence[str] | str | None = None,
) -> Report:
    """Per period (quarter by default): records won, lost and open at the period's end, by count and amount.

    ``won_share`` is the won records in percent of those closed (won + lost)
    in the period; ``won_amount_share`` the same by amount.
    """
    win = window(crm, start, end, period)
    dims = check_choices(by, DIMENSIONS, "grouping")
    kinds = check_choices(kind, KINDS, "kind")
    cur = currency_filter(currency)
    regions, owners = check_texts(region, "region"), check_texts(owner, "owner")
    F = win.tables["sales"]
    dim_cols = [getattr(F.c, d) for d in dims]
    where = _filters(F, kinds, cur, regions, owners)
    date_bounds = win.date_bounds()
    start_p, stop_p = date_bounds[0], date_bounds[-1]

    # one pass over the table (EXPLAIN showed three scans, each sorting up to every row for its GROUP BY):
    # each row gives the period it was closed in (won or lost, in the range), the period it entered the
    # pipeline (-1: before the range) and the period it left it (on its closed date, or on its creation
    # date if it was closed before it), NULL where it does not count
    left_day = peewee.Case(None, [(F.c.closed_on < F.c.created_on, F.c.created_on)], F.c.closed_on)
    closed_here = F.c.outcome.in_(["won", "lost"]) & (F.c.closed_on >= start_p) & (F.c.closed_on < stop_p)
    closed_b = peewee.Case(None, [(closed_here, bucket(F.c.closed_on, date_bounds))], None)
    entered_b = peewee.Case(None, [(F.c.created_on < stop_p, bucket(F.c.created_on, date_bounds, below=True))], None)
    left_b = peewee.Case(
        None, [(F.c.closed_on.is_null(False) & (left_day < stop_p), bucket(left_day, date_bounds, below=True))], None
    )
    query = (
        F.select(
            closed_b.alias("pc"),
            entered_b.alias("pe"),
            left_b.alias("pl"),
            *dim_cols,
            F.c.currency,
            F.c.outcome,
            peewee.fn.COUNT(peewee.SQL("*")),
            peewee.fn.SUM(F.c.amount),
        )
        .where((F.c.created_on < stop_p) | closed_here, *where)
        .group_by(peewee.SQL("1"), peewee.SQL("2"), peewee.SQL("3"), *dim_cols, F.c.currency, F.c.outcome)
    )
    summaries = Summaries(crm, win.tables)
    found = _closed_share_summary(summaries, win, dims, kinds, cur, regions, owners)
    if found is None:
        found = fetch(query, win.tables)
    n = len(win.periods)

    def zero() -> dict[str, Any]:
        return {"won": 0, "lost": 0, "won_amount": 0, "lost_amount": 0, "open": 0, "open_amount": 0}

    cells: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(lambda: [zero() for _ in range(n)])
    flows: dict[tuple[Any, ...], list[list[Any]]] = defaultdict(lambda: [[0, 0] for _ in range(n + 1)])
    for pc, pe, pl, *key_outcome, count, amount in found:
        *group, outcome = key_outcome
        key = tuple(group)
        count, amount = int(count), money(amount)
        if pc is not None:
            cell = cells[key][int(pc)]
            cell[outcome] += count
            cell[f"{outcome}_amount"] += amount
        for sign, p in ((1, pe), (-1, pl)):
            if p is not None:
                slot = flows[key][int(p) + 1]  # slot 0: before the range
                slot[0] += sign * count
                slot[1] += sign * amount
    for key, slots in flows.items():
        count, amount = slots[0][0], slots[0][1]
        for i in range(n):
            count += slots[i + 1][0]
            amount += slots[i + 1][1]
            if count or amount:
                cell = cells[key][i]
                cell["open"], cell["open_amount"] = count, money(amount)
    columns = (
        "period",
        *dims,
        "currency",
        "won",
        "lost",
        "closed",
        "won_share",
        "won_amount",
        "lost_amount",
        "won_amount_share",
        "open",
        "open_amount",
    )
    rows = []
    for key in sorted(cells, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        for i, cell in enumerate(cells[key]):
            if not any(cell.values()):
                continue
            closed = cell["won"] + cell["lost"]
            row = {"period": win.label(i), **dict(zip((*dims, "currency"), key))}
            row.update(
                won=cell["won"], lost=cell["lost"], closed=closed, won_share=pct(cell["won"], closed),
                won_amount=money(cell["won_amount"]), lost_amount=money(cell["lost_amount"]),
                won_amount_share=pct(cell["won_amount"], cell["won_amount"] + cell["lost_amount"]),
                open=cell["open"], open_amount=money(cell["open_amount"]),
            )  # fmt: skip
            rows.append((i, row))
    rows.sort(key=lambda item: item[0])
    return Report(
        name="closed-share",
        title="Share of sales won" + (f" by {', '.join(dims)}" if dims else ""),
        columns=columns,
        rows=tuple(r for _, r in rows),
        start=win.start,
        end=win.end,
        period=win.grain,
        periods=win.labels(),
        notes=(*win.notes(), *summaries.notes),
        empty_message=nothing(N_("no sales records were closed or open"), win),
        chart=ChartSpec(x="period", y=("won", "lost"), group=(*dims, "currency"), kind="stacked"),
    )


def sales(
    crm: CRM,
    start: Any = None,
    end: Any = None,
    *,
    period: str = "quarter",
    by: Sequence[str] | str | None = ("region",),
    kind: Sequence[str] | str | None = None,
    currency: str | None = None,
    region: Sequence[str] | str | None = None,
    owner: Sequence[str] | str | None = None,
) -> Report:
    """Sales won per period, grouped by region (and/or owner, product line, kind): count, amount, average."""
    win = window(crm, start, end, period)
    dims = check_choices(by, DIMENSIONS, "grouping") if by else ()
    kinds = check_choices(kind, KINDS, "kind")
    cur = currency_filter(currency)
    regions, owners = check_texts(region, "region"), check_texts(owner, "owner")
    F = win.tables["sales"]
    dim_cols = [getattr(F.c, d) for d in dims]
    bounds = win.date_bounds()
    query = (
        F.select(
            bucket(F.c.closed_on, bounds).alias("p"),
            *dim_cols,
            F.c.currency,
            peewee.fn.COUNT(peewee.SQL("*")),
            peewee.fn.SUM(F.c.amount),
        )
        .where(
            F.c.outcome == "won",
            F.c.closed_on >= bounds[0],
            F.c.closed_on < bounds[-1],
            *_filters(F, kinds, cur, regions, owners),
        )
        .group_by(peewee.SQL("1"), *dim_cols, F.c.currency)
    )
    summaries = Summaries(crm, win.tables)
    summed = _summary(summaries, win, dims, regions, owners)
    if summed is not None:
        T, kept = summed
        cols = [getattr(T.c, d) for d in dims]
        query = (
            T.select(bucket(T.c.day, bounds), *cols, T.c.currency, peewee.fn.SUM(T.c.records), peewee.fn.SUM(T.c.amount_e4))
            .where(T.c.dims == kept, T.c.measure == "closed", T.c.outcome == "won", in_range(T, _days(win), win.tables),
                   *_filters(T, kinds, cur, regions, owners))
            .group_by(peewee.SQL("1"), *cols, T.c.currency)
        )  # fmt: skip
        found = [(p, *rest[:-2], int(rest[-2]), money_e4(rest[-1])) for p, *rest in fetch(query, win.tables)]
    else:
        found = fetch(query, win.tables)
    totals: dict[tuple[int, str], Any] = defaultdict(int)
    for p, *rest in found:
        totals[(int(p), rest[-3])] += money(rest[-1])
    rows = []
    for p, *rest in sorted(found, key=lambda r: (int(r[0]), tuple("" if v is None else str(v) for v in r[1:-2]))):
        *key, currency_code, count, amount = rest
        total = money(amount)
        row = {"period": win.label(int(p)), **dict(zip(dims, key)), "currency": currency_code}
        row.update(
            sales=int(count), amount=total, average=money(total / int(count)),
            share_of_amount=pct(total, totals[(int(p), currency_code)]),
        )  # fmt: skip
        rows.append(row)
    return Report(
        name="sales",
        title="Sales won" + (f" by {', '.join(dims)}" if dims else ""),
        columns=("period", *dims, "currency", "sales", "amount", "average", "share_of_amount"),
        rows=tuple(rows),
        start=win.start,
        end=win.end,
        period=win.grain,
        periods=win.labels(),
        notes=(*win.notes(), *summaries.notes),
        empty_message=nothing(N_("no sales were won"), win),
        chart=ChartSpec(x="period", y=("amount",), group=(*dims, "currency"), kind="stacked" if dims else "bar"),
    )
