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

The open value reads the warehouse's open-pipeline summary (its rows keep
the owner, so a seller's too), and conversion and days the pipeline
summary (per record's creation day) for readers whose scope is ``all``:
see :mod:`crm_analytics.summaries`.
"""

from __future__ import annotations

import decimal
import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import peewee

from crm_analytics.reports.common import currency_filter, nothing, window
from crm_analytics.result import ChartSpec, Note, Report
from crm_analytics.sql import fetch, json_int, json_text, money, pct, seconds_between
from crm_analytics.summaries import Summaries, in_range, money_e4
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
    F = tables["sales"]
    E = tables["events"]
    open_stages = list(conf.open_stages)
    order = {stage: i for i, stage in enumerate(open_stages)}
    won_index = len(open_stages)

    summaries = Summaries(crm, tables)
    # value per stage, now
    if summaries.usable("open_sales_summary"):
        values = _values_from_summary(crm, tables, cur)
    else:
        value_q = (
            F.select(F.c.stage, F.c.currency, peewee.fn.COUNT(peewee.SQL("*")), peewee.fn.SUM(F.c.amount),
                     peewee.fn.SUM(F.c.amount * probability_case(crm, F.c.stage, F.c.probability)))
            .where(F.c.outcome == "open", *([F.c.currency == cur] if cur else []))
            .group_by(F.c.stage, F.c.currency)
        )  # fmt: skip
        values = fetch(value_q, tables)

    bounds = win.date_bounds()
    cohort = [F.c.created_on >= bounds[0], F.c.created_on < bounds[-1], *([F.c.currency == cur] if cur else [])]
    ranks = {**order, conf.won_stage: won_index}
    if summaries.usable("pipeline_summary"):
        furthest, days = _moves_from_summary(tables, win, cur, ranks)
    else:
        record = json_int(tables.kind, E.c.payload, "record_id")
        new_stage = json_text(tables.kind, E.c.payload, "new_stage")
        furthest = _furthest(tables, E, F, record, new_stage, cohort, ranks)
        days = _stays(tables, E, F, record, new_stage, cohort)

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
        notes=(*notes, *summaries.notes),
        empty_message=nothing(N_("no open sales records, and no records created"), win),
        chart=ChartSpec(x="stage", y=tuple(f"weighted_{c}" for c in currencies) or ("reached",), kind="bar"),
    )


def _furthest(
    tables: Any, E: Any, F: Any, record: Any, new_stage: Any, cohort: list[Any], ranks: dict[str, int]
) -> dict[int, int]:
    """Records of the cohort by the furthest stage their ``StageChanged`` events reached (its rank)."""
    rank = peewee.Case(new_stage, list(ranks.items()), None)
    moves = (
        E.select(record.alias("rid"), peewee.fn.MAX(rank).alias("furthest"))
        .where(E.c.type == "StageChanged")
        .group_by(peewee.SQL("1"))
        .alias("m")
    )
    reach_q = (
        F.select(moves.c.furthest, peewee.fn.COUNT(peewee.SQL("*")))
        .join(moves, on=(moves.c.rid == F.c.sale_id))
        .where(*cohort, moves.c.furthest.is_null(False))
        .group_by(moves.c.furthest)
    )
    return {int(f): int(n) for f, n in fetch(reach_q, tables)}


def _stays(tables: Any, E: Any, F: Any, record: Any, new_stage: Any, cohort: list[Any]) -> dict[str, Any]:
    """Each stay in a stage that ended (from its move to the record's next move), per stage: count, average days."""
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
            peewee.fn.AVG(seconds_between(tables.kind, stays.c.entered, stays.c.left_at)),
        )
        .join(stays, on=(stays.c.rid == F.c.sale_id))
        .where(*cohort, stays.c.left_at.is_null(False))
        .group_by(stays.c.stage)
    )
    return {
        stage: (int(n), float(avg) / 86400.0 if avg is not None else None) for stage, n, avg in fetch(days_q, tables)
    }


def _values_from_summary(crm: CRM, tables: Any, cur: str | None) -> list[tuple[Any, ...]]:
    """The open records now per stage and currency: ``(stage, currency, count, amount, weighted)``.

    The summary keeps each row's stored probability: a stage the settings
    name is weighted by its configured probability, another by the stored one.
    """
    conf = _pipeline_settings(crm)
    configured = {stage: conf.probability(stage) for stage in conf.stages}
    T = tables["open_sales_summary"]
    query = T.select(
        T.c.stage, T.c.currency, T.c.probability, peewee.fn.SUM(T.c.records), peewee.fn.SUM(T.c.amount_e4)
    ).group_by(T.c.stage, T.c.currency, T.c.probability)
    if cur:
        query = query.where(T.c.currency == cur)
    cells: dict[tuple[str, str], list[Any]] = {}
    for stage, currency, stored, count, amount in fetch(query, tables):
        value = money_e4(amount)
        weight = decimal.Decimal(str(configured.get(stage, stored)))
        cell = cells.setdefault((stage, currency), [0, decimal.Decimal(0), decimal.Decimal(0)])
        cell[0] += int(count)
        cell[1] += value
        cell[2] += value * weight
    return [(stage, currency, n, amount, weighted) for (stage, currency), (n, amount, weighted) in cells.items() if n]


def _moves_from_summary(
    tables: Any, win: Any, cur: str | None, ranks: dict[str, int]
) -> tuple[dict[int, int], dict[str, Any]]:
    """Records of the cohort by the furthest stage they reached, and stays per stage, from the pipeline summary."""
    T = tables["pipeline_summary"]
    query = (
        T.select(T.c.measure, T.c.stages, peewee.fn.SUM(T.c.records), peewee.fn.SUM(T.c.stay_us))
        .where(in_range(T, [win.start, win.stop], tables), *([T.c.currency == cur] if cur else []))
        .group_by(T.c.measure, T.c.stages)
    )
    furthest: dict[int, int] = defaultdict(int)
    days: dict[str, Any] = {}
    for measure, stages, count, stay_us in fetch(query, tables):
        if measure == "path":
            reached = [ranks[s] for s in json.loads(stages) if s in ranks]
            if reached:
                furthest[max(reached)] += int(count)
        elif measure == "stay" and int(count):
            days[stages] = (int(count), int(stay_us) / 1e6 / int(count) / 86400.0)
    return dict(furthest), days
