"""The pipeline: open value per stage now, conversion between stages, average days in each stage.

* **value per stage**: the records whose ``outcome`` is ``open`` today, by
  their current stage: count, amount, and amount times the stage's win
  probability from ``[plugins.warehouse.pipeline]``;
* **conversion**: for the records created in the range (``created_on``),
  the furthest open stage each one reached (from its ``StageChanged``
  events; the won stage is past every open stage, the lost stage counts for
  nothing), so a stage skipped on the way counts as passed; ``reached`` is
  how many got to a stage or further, ``conversion`` the share of those
  that went on to a later stage;
* **days in stage**: for the same records, each stay in a stage that ended
  (from entering it to the next move), averaged per stage.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import peewee

from crm_analytics.reports.common import currency_filter, nothing, window
from crm_analytics.result import ChartSpec, Note, Report
from crm_analytics.sql import fetch, json_int, json_text, money, pct, seconds_between
from crm_core.errors import CRMError
from crm_core.i18n import N_

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["pipeline", "probability_case"]


def _pipeline_settings(crm: CRM) -> Any:
    try:
        return crm.settings("warehouse").pipeline
    except CRMError:
        raise CRMError("the pipeline report needs the warehouse plugin's settings; enable 'warehouse'") from None


def probability_case(crm: CRM, stage_column: Any, fallback: Any) -> peewee.ColumnBase:
    """The win probability of a stage from the warehouse's pipeline settings (``fallback`` for unknown stages)."""
    conf = _pipeline_settings(crm)
    pairs = [(stage, conf.probability(stage)) for stage in conf.stages]
    return peewee.Case(stage_column, [(s, float(p)) for s, p in pairs], fallback)


def pipeline(
    crm: CRM, start: Any = None, end: Any = None, *, currency: str | None = None, period: str | None = None
) -> Report:
    """Rows per stage, in pipeline order: open records and value now, reached, conversion, average days."""
    win = window(crm, start, end, "all")
    cur = currency_filter(currency)
    conf = _pipeline_settings(crm)
    tables = win.tables
    kind = tables.kind
    F = tables["sales"]
    E = tables["events"]
    open_stages = list(conf.open_stages)
    order = {stage: i for i, stage in enumerate(open_stages)}
    won_index = len(open_stages)

    # value per stage, now
    value_q = (
        F.select(F.c.stage, F.c.currency, peewee.fn.COUNT(peewee.SQL("*")), peewee.fn.SUM(F.c.amount),
                 peewee.fn.SUM(F.c.amount * probability_case(crm, F.c.stage, F.c.probability)))
        .where(F.c.outcome == "open", *([F.c.currency == cur] if cur else []))
        .group_by(F.c.stage, F.c.currency)
    )  # fmt: skip
    values = fetch(value_q, tables)

    # the furthest stage each record of the cohort reached
    record = json_int(kind, E.c.payload, "record_id")
    new_stage = json_text(kind, E.c.payload, "new_stage")
    rank = peewee.Case(new_stage, [*[(s, i) for s, i in order.items()], (conf.won_stage, won_index)], None)
    moves = (
        E.select(record.alias("rid"), peewee.fn.MAX(rank).alias("furthest"))
        .where(E.c.type == "StageChanged")
        .group_by(peewee.SQL("1"))
        .alias("m")
    )
    bounds = win.date_bounds()
    cohort = [F.c.created_on >= bounds[0], F.c.created_on < bounds[-1], *([F.c.currency == cur] if cur else [])]
    reach_q = (
        F.select(moves.c.furthest, peewee.fn.COUNT(peewee.SQL("*")))
        .join(moves, on=(moves.c.rid == F.c.sale_id))
        .where(*cohort, moves.c.furthest.is_null(False))
        .group_by(moves.c.furthest)
    )
    furthest = {int(f): int(n) for f, n in fetch(reach_q, tables)}

    # each stay in a stage that ended: from its move to the next move of the record
    at = E.c.occurred_at
    stays = (
        E.select(
            record.alias("rid"),
            new_stage.alias("stage"),
            at.alias("entered"),
            peewee.fn.LEAD(at).over(partition_by=[record], order_by=[at, E.c.id]).alias("left_at"),
        )
        .where(E.c.type == "StageChanged")
        .alias("s")
    )
    days_q = (
        F.select(
            stays.c.stage,
            peewee.fn.COUNT(peewee.SQL("*")),
            peewee.fn.AVG(seconds_between(kind, stays.c.entered, stays.c.left_at)),
        )
        .join(stays, on=(stays.c.rid == F.c.sale_id))
        .where(*cohort, stays.c.left_at.is_null(False))
        .group_by(stays.c.stage)
    )
    days = {
        stage: (int(n), float(avg) / 86400.0 if avg is not None else None) for stage, n, avg in fetch(days_q, tables)
    }

    currencies = sorted({c for _, c, _, _, _ in values})
    by_stage: dict[str, dict[str, Any]] = defaultdict(dict)
    for stage, code, count, amount, weighted in values:
        cell = by_stage[stage]
        cell["open"] = cell.get("open", 0) + int(count)
        cell[f"amount_{code}"] = money(amount)
        cell[f"weighted_{code}"] = money(weighted)
    if not values and not furthest and not days:
        return Report(
            name="pipeline", title="Pipeline", columns=("stage",), rows=(), start=win.start, end=win.end, period=None,
            empty_message=nothing(N_("no open sales records, and no records created"), win),
        )  # fmt: skip
    reached = {i: sum(n for f, n in furthest.items() if f >= i) for i in range(won_index + 1)}
    columns = [
        "stage",
        "open",
        *[f"{w}_{c}" for c in currencies for w in ("amount", "weighted")],
        "reached",
        "moved_on",
        "conversion",
        "stays",
        "avg_days",
    ]
    rows = []
    for i, stage in enumerate([*open_stages, conf.won_stage]):
        cell = by_stage.get(stage, {})
        row: dict[str, Any] = {"stage": stage, "open": cell.get("open", 0)}
        for c in currencies:
            row[f"amount_{c}"] = cell.get(f"amount_{c}", money(0))
            row[f"weighted_{c}"] = cell.get(f"weighted_{c}", money(0))
        row["reached"] = reached[i]
        row["moved_on"] = reached[i + 1] if i < won_index else None
        row["conversion"] = pct(reached[i + 1], reached[i]) if i < won_index else None
        count, avg = days.get(stage, (0, None))
        row["stays"] = count if i < won_index else None
        row["avg_days"] = round(avg, 1) if avg is not None and i < won_index else None
        rows.append(row)
    # open records in a stage the settings no longer list
    for stage in sorted(set(by_stage) - set(open_stages)):
        cell = by_stage[stage]
        row = {"stage": stage, "open": cell.get("open", 0), **{k: v for k, v in cell.items() if k != "open"}}
        rows.append(row)
    notes = [
        Note(
            N_(
                "open value is as of today (%(today)s); conversion and days in stage are for the records created "
                "%(start)s to %(end)s"
            ),
            today=crm.today(),
            start=win.start,
            end=win.end,
        )  # fmt: skip
    ]
    return Report(
        name="pipeline",
        title="Pipeline",
        columns=tuple(columns),
        rows=tuple(rows),
        start=win.start,
        end=win.end,
        period=None,
        notes=tuple(notes),
        empty_message=nothing(N_("no open sales records, and no records created"), win),
        chart=ChartSpec(x="stage", y=tuple(f"weighted_{c}" for c in currencies) or ("reached",), kind="bar"),
    )
