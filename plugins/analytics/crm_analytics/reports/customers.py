"""Customer demographics and their change, from the warehouse's contact status history.

``warehouse_contact_status`` holds each contact's status, region and country
over intervals ``[valid_from, valid_to)``. For each period:

* **customers / prospects / former**: contacts with that status at the end
  of the period (not deleted), by region and/or country as they were then;
* **gained**: contacts that became customers during the period (a customer
  interval starting in the period, not continuing a customer interval);
* **lost**: customers that stopped being customers during the period (a
  customer interval ending in the period, not continued by one: a new
  status, a deletion, a merge).

A customer who only moves region or country is neither gained nor lost.
Counts at the period ends are carried forward with running sums of the
intervals that start and end in each period: one pass over the table, or
over the warehouse's status summary (the same counts per day and month,
for readers whose scope is ``all``: :mod:`crm_analytics.summaries`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import peewee

from crm_analytics.periods import bucket
from crm_analytics.reports.common import check_choices, nothing, window
from crm_analytics.result import ChartSpec, Note, Report
from crm_analytics.sql import falsy, fetch
from crm_analytics.summaries import Summaries, in_range
from crm_core.i18n import N_

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["STATUSES", "customers"]

STATUSES = ("customer", "prospect", "former")
DIMENSIONS = ("region", "country")


def customers(
    crm: CRM,
    start: Any = None,
    end: Any = None,
    *,
    period: str = "quarter",
    by: Sequence[str] | str | None = ("region",),
) -> Report:
    win = window(crm, start, end, period)
    dims = check_choices(by, DIMENSIONS, "grouping") if by else ()
    tables = win.tables
    kind = tables.kind
    S = tables["contact_status"]
    dim_cols = [getattr(S.c, d) for d in dims]
    bounds = win.utc_bounds()
    live = falsy(kind, S.c.deleted)
    O = tables["contact_status"].alias("o")

    def customer(t: peewee.Table) -> peewee.ColumnBase:
        is_customer: peewee.ColumnBase = t.c.status == "customer"
        return is_customer & falsy(kind, t.c.deleted)

    # the counts at each period's end from one pass (EXPLAIN on SQLite showed a pass for the intervals that
    # start and another for those that end, each sorting its rows for its GROUP BY): each interval gives
    # the period it starts in and the one it ends in (-1: before the range; NULL: not ended by its end)
    ends = S.c.valid_to.is_null(False) & (S.c.valid_to < bounds[-1])
    flows_q = (
        S.select(
            bucket(S.c.valid_from, bounds, below=True).alias("ps"),
            peewee.Case(None, [(ends, bucket(S.c.valid_to, bounds, below=True))], None).alias("pe"),
            S.c.status,
            *dim_cols,
            peewee.fn.COUNT(peewee.SQL("*")),
        )
        .where(live, S.c.valid_from < bounds[-1], S.c.status.in_(list(STATUSES)))
        .group_by(peewee.SQL("1"), peewee.SQL("2"), S.c.status, *dim_cols)
    )
    # gained and lost stay queries of their own: there NOT EXISTS is a filter, which PostgreSQL runs as an
    # anti-join (inside the pass above it was a subquery per row: bench_desk_reports went from 2.7 s to 6.1 s)
    gained_q = (
        S.select(bucket(S.c.valid_from, bounds).alias("p"), *dim_cols, peewee.fn.COUNT(peewee.SQL("*")))
        .where(customer(S), S.c.valid_from >= bounds[0], S.c.valid_from < bounds[-1],
               ~peewee.fn.EXISTS(O.select(peewee.SQL("1")).where(O.c.contact_id == S.c.contact_id, O.c.valid_to == S.c.valid_from, customer(O))))
        .group_by(peewee.SQL("1"), *dim_cols)
    )  # fmt: skip
    lost_q = (
        S.select(bucket(S.c.valid_to, bounds).alias("p"), *dim_cols, peewee.fn.COUNT(peewee.SQL("*")))
        .where(customer(S), S.c.valid_to >= bounds[0], S.c.valid_to < bounds[-1],
               ~peewee.fn.EXISTS(O.select(peewee.SQL("1")).where(O.c.contact_id == S.c.contact_id, O.c.valid_from == S.c.valid_to, customer(O))))
        .group_by(peewee.SQL("1"), *dim_cols)
    )  # fmt: skip
    n = len(win.periods)
    flows: dict[tuple[Any, ...], dict[str, list[int]]] = defaultdict(lambda: {s: [0] * (n + 1) for s in STATUSES})
    changes: dict[tuple[Any, ...], list[list[int]]] = defaultdict(lambda: [[0, 0] for _ in range(n)])
    summaries = Summaries(crm, tables)
    if summaries.usable("status_summary", local_days=True):
        T = tables["status_summary"]
        cols = [getattr(T.c, d) for d in dims]
        sums = [peewee.fn.SUM(getattr(T.c, m)) for m in ("starts", "ends", "gained", "lost")]
        query = (
            T.select(bucket(T.c.day, win.date_bounds(), below=True), T.c.status, *cols, *sums)
            .where(T.c.dims == ",".join(d for d in DIMENSIONS if d in dims), T.c.status.in_(list(STATUSES)),
                   in_range(T, [p.start for p in win.periods] + [win.stop], tables, below=True))
            .group_by(peewee.SQL("1"), T.c.status, *cols)
        )  # fmt: skip
        for p, status, *rest in fetch(query, tables):
            *group, starts, ends, gained, lost = rest
            flows[tuple(group)][status][int(p) + 1] += int(starts) - int(ends)
            if int(p) >= 0 and (int(gained) or int(lost)):
                changes[tuple(group)][int(p)][0] += int(gained)
                changes[tuple(group)][int(p)][1] += int(lost)
    else:
        for ps, pe, status, *key_count in fetch(flows_q, tables):
            *group, count = key_count
            steps = flows[tuple(group)][status]
            steps[int(ps) + 1] += int(count)
            if pe is not None:
                steps[int(pe) + 1] -= int(count)
        for column, query in ((0, gained_q), (1, lost_q)):
            for p, *key_count in fetch(query, tables):
                *group, count = key_count
                changes[tuple(group)][int(p)][column] += int(count)
    rows = []
    for key in set(flows) | set(changes):
        running = {s: 0 for s in STATUSES}
        series = flows.get(key)
        if series is not None:
            running = {s: series[s][0] for s in STATUSES}
        for i in range(n):
            if series is not None:
                for s in STATUSES:
                    running[s] += series[s][i + 1]
            gained, lost = changes[key][i] if key in changes else (0, 0)
            if not any(running.values()) and not gained and not lost:
                continue
            row = {"period": win.label(i), **dict(zip(dims, key))}
            row.update(
                customers=running["customer"], prospects=running["prospect"], former=running["former"],
                contacts=sum(running.values()), gained=gained, lost=lost, net=gained - lost,
            )  # fmt: skip
            rows.append((i, tuple("" if v is None else str(v) for v in key), row))
    rows.sort(key=lambda r: (r[0], r[1]))
    return Report(
        name="customers",
        title="Customers" + (f" by {', '.join(dims)}" if dims else ""),
        columns=("period", *dims, "customers", "prospects", "former", "contacts", "gained", "lost", "net"),
        rows=tuple(r for _, _, r in rows),
        start=win.start,
        end=win.end,
        period=win.grain,
        periods=win.labels(),
        notes=(
            *win.notes(),
            *summaries.notes,
            Note(
                N_(
                    "counts are at the end of each period; gained and lost are customers who started or stopped being "
                    "customers in it"
                )
            ),
        ),
        empty_message=nothing(N_("no contact history in the warehouse"), win),
        chart=ChartSpec(x="period", y=("customers",), group=dims, kind="line"),
    )
