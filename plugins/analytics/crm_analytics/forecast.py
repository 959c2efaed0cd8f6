"""Sales forecast for the next quarters: the weighted open pipeline, and the history's trend.

* **pipeline**: every open record (``outcome`` open) counts for its amount
  times its stage's win probability (``[plugins.warehouse.pipeline]``), in
  the quarter of its expected close date; a date already past counts in the
  current quarter, a record without one is left out and counted in a note;
* **history**: the amount won per quarter (``closed_on``) since the first
  sale won, up to the last complete quarter, zeros included, is smoothed
  with Holt-Winters (additive trend and a season of four quarters) when
  there are at least 8 quarters to fit after holding some out, with Holt's
  linear trend, or with simple exponential smoothing: whichever forecast
  the held-out quarters best; below 3 quarters there is no history forecast;
* **error**: the last ``holdout`` quarters are held out, each candidate
  model is fitted on the quarters before them and forecasts them; the one
  with the lowest MAPE (mean absolute percentage error) is kept, its MAPE
  reported, and it is refitted on every quarter for the forecast itself.

Amounts are per currency; nothing is added across currencies.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import peewee

from crm_analytics import periods as P
from crm_analytics.holtwinters import choose, fit
from crm_analytics.reports.common import currency_filter, settings
from crm_analytics.reports.pipeline import probability_case
from crm_analytics.result import ChartSpec, Note, Report
from crm_analytics.sql import Tables, fetch, money
from crm_core.i18n import N_

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["Forecasts", "forecast"]

SEASON = 4
#: the forecast's methods, as its notes name them
METHOD_NAMES = {
    "holt-winters": N_("Holt-Winters, additive trend and 4-quarter season"),
    "holt": N_("Holt's linear trend"),
    "level": N_("simple exponential smoothing (a flat level)"),
}
#: quarters of history the forecast looks back at most
MAX_HISTORY = 40


def _quarters_from(start: dt.date, count: int, fiscal: int) -> list[P.Period]:
    first = P._grain_start(start, "quarter", fiscal)
    out, cursor = [], first
    for i in range(count):
        nxt = P._next(cursor, "quarter")
        out.append(P.Period(i, P.label(cursor, "quarter", fiscal), cursor, nxt))
        cursor = nxt
    return out


def forecast(
    crm: CRM, *, quarters: int | None = None, currency: str | None = None, holdout: int | None = None
) -> Report:
    """Rows per future quarter and currency: open pipeline, weighted pipeline, history forecast."""
    from crm_core.errors import ValidationError

    conf = settings(crm)
    fiscal = conf.fiscal_year_start
    ahead = quarters if quarters is not None else conf.forecast.quarters
    if not isinstance(ahead, int) or isinstance(ahead, bool) or not 1 <= ahead <= 12:
        raise ValidationError(f"quarters {ahead!r} must be a whole number from 1 to 12")
    held = holdout if holdout is not None else conf.forecast.holdout
    if not isinstance(held, int) or isinstance(held, bool) or not 1 <= held <= 8:
        raise ValidationError(f"holdout {held!r} must be a whole number of quarters from 1 to 8")
    cur = currency_filter(currency)
    tables = Tables(crm)
    F = tables["sales"]
    today = crm.today()
    future = _quarters_from(today, ahead, fiscal)
    current = future[0]

    # the weighted open pipeline by expected quarter
    bounds = [tables.param(p.start) for p in future] + [tables.param(future[-1].end)]
    expected = F.c.expected_close_on
    when = peewee.Case(None, [(expected < bounds[0], bounds[0])], expected)
    only = [F.c.currency == cur] if cur else []
    pipe_q = (
        F.select(P.bucket(when, bounds).alias("p"), F.c.currency, peewee.fn.COUNT(peewee.SQL("*")), peewee.fn.SUM(F.c.amount),
                 peewee.fn.SUM(F.c.amount * probability_case(crm, F.c.stage, F.c.probability)))
        .where(F.c.outcome == "open", expected.is_null(False), when < bounds[-1], *only)
        .group_by(peewee.SQL("1"), F.c.currency)
    )  # fmt: skip
    undated_q = F.select(peewee.fn.COUNT(peewee.SQL("*"))).where(F.c.outcome == "open", expected.is_null(), *only)
    pipeline: dict[tuple[int, str], tuple[int, Any, Any]] = {}
    for p, code, count, amount, weighted in fetch(pipe_q, tables):
        pipeline[(int(p), code)] = (int(count), money(amount), money(weighted))
    undated = fetch(undated_q, tables)[0][0] or 0

    # the history: won per quarter, from the first won quarter to the last complete one
    first_q = F.select(peewee.fn.MIN(F.c.closed_on)).where(
        F.c.outcome == "won", F.c.closed_on < tables.param(current.start), *only
    )
    first_day = fetch(first_q, tables)[0][0]
    history: dict[str, list[float]] = {}
    past: list[P.Period] = []
    if first_day is not None:
        if isinstance(first_day, str):
            first_day = dt.date.fromisoformat(first_day[:10])
        start = P._grain_start(first_day, "quarter", fiscal)
        count = 0
        cursor = start
        while cursor < current.start:
            cursor = P._next(cursor, "quarter")
            count += 1
        if count > MAX_HISTORY:
            start = P._grain_start(current.start - dt.timedelta(days=1), "quarter", fiscal)
            for _ in range(MAX_HISTORY - 1):
                start = P._grain_start(start - dt.timedelta(days=1), "quarter", fiscal)
            count = MAX_HISTORY
        past = _quarters_from(start, count, fiscal)
        hb = [tables.param(p.start) for p in past] + [tables.param(current.start)]
        won_q = (
            F.select(P.bucket(F.c.closed_on, hb).alias("p"), F.c.currency, peewee.fn.SUM(F.c.amount))
            .where(F.c.outcome == "won", F.c.closed_on >= hb[0], F.c.closed_on < hb[-1], *only)
            .group_by(peewee.SQL("1"), F.c.currency)
        )
        for p, code, amount in fetch(won_q, tables):
            history.setdefault(code, [0.0] * len(past))[int(p)] = float(money(amount))

    notes: list[Note] = []
    predictions: dict[str, list[float] | None] = {}
    methods: dict[str, dict[str, Any]] = {}
    for code, series in sorted(history.items()):
        n = len(series)
        info: dict[str, Any] = {"currency": code, "quarters": n, "from": past[0].label, "to": past[-1].label}
        if n < 3:
            predictions[code] = None
            info.update(method="none")
            notes.append(
                Note(
                    N_(
                        "%(currency)s: %(quarters)s quarter(s) of history (%(first)s to %(last)s) is too little for a trend "
                        "(3 needed); only the pipeline forecasts"
                    ),
                    currency=code,
                    quarters=n,
                    first=past[0].label,
                    last=past[-1].label,
                )  # fmt: skip
            )
            methods[code] = info
            continue
        method, error = choose(series, SEASON, held) if n - held >= 3 else (None, None)
        model = fit(series, SEASON, method)
        predictions[code] = [max(0.0, v) for v in model.forecast(ahead)]
        name = Note(METHOD_NAMES[model.method])
        info.update(
            method=model.method,
            alpha=model.alpha,
            beta=model.beta,
            gamma=model.gamma,
            mape=None if error is None else round(error, 1),
        )
        methods[code] = info
        if error is not None:
            held_text = Note(N_("MAPE on the held-out %(held)s quarter(s) %(first)s to %(last)s: %(error)s%%"), held=held,
                             first=past[n - held].label, last=past[-1].label, error=float(f"{error:.1f}"))  # fmt: skip
        elif n - held >= 3:
            held_text = Note(N_("MAPE: not measured (the held-out quarters had no sales)"))
        else:
            held_text = Note(N_("MAPE: not measured (%(quarters)s quarters are too few to hold %(held)s out)"), quarters=n,
                             held=held)  # fmt: skip
        fitted = {"currency": code, "method": name, "quarters": n, "first": past[0].label, "last": past[-1].label,
                  "alpha": model.alpha, "beta": model.beta, "error": held_text}  # fmt: skip
        if model.gamma is not None:
            notes.append(Note(N_("%(currency)s: %(method)s, fitted on %(quarters)s quarters %(first)s to %(last)s (alpha "
                                 "%(alpha)s, beta %(beta)s, gamma %(gamma)s); %(error)s"), gamma=model.gamma, **fitted))  # fmt: skip
        else:
            notes.append(Note(N_("%(currency)s: %(method)s, fitted on %(quarters)s quarters %(first)s to %(last)s (alpha "
                                 "%(alpha)s, beta %(beta)s); %(error)s"), **fitted))  # fmt: skip
    if undated:
        notes.append(
            Note(
                N_("%(count)s open record(s) have no expected close date and are not in the pipeline forecast"),
                count=undated,
            )  # fmt: skip
        )
    currencies = sorted({c for _, c in pipeline} | set(history))
    rows = []
    for i, quarter in enumerate(future):
        for code in currencies:
            count, amount, weighted = pipeline.get((i, code), (0, money(0), money(0)))
            pred = predictions.get(code)
            if not count and pred is None:
                continue
            rows.append({
                "quarter": quarter.label, "currency": code, "open": count, "pipeline": amount, "weighted_pipeline": weighted,
                "history_forecast": money(pred[i]) if pred else None, "method": methods.get(code, {}).get("method", "none"),
            })  # fmt: skip
    history_rows = tuple(
        {"quarter": past[i].label, "currency": code, "won": money(v)}
        for code, series in sorted(history.items())
        for i, v in enumerate(series)
    )
    return Report(
        name="forecast",
        title="Sales forecast",
        columns=("quarter", "currency", "open", "pipeline", "weighted_pipeline", "history_forecast", "method"),
        rows=tuple(rows),
        start=current.start,
        end=future[-1].end - dt.timedelta(days=1),
        period="quarter",
        periods=tuple(q.label for q in future),
        notes=tuple(notes),
        empty_message=Note(
            N_("no data: no open sales records with an expected close date, and no sales won before this quarter")
        ),
        chart=ChartSpec(x="quarter", y=("weighted_pipeline", "history_forecast"), group=("currency",), kind="bar"),
        extra={
            "history": (("quarter", "currency", "won"), history_rows),
            "methods": (
                ("currency", "method", "quarters", "from", "to", "alpha", "beta", "gamma", "mape"),
                tuple(methods.values()),
            ),
        },
    )


class Forecasts:
    """The sales forecast of one app (a service of :class:`~crm_analytics.api.AnalyticsAPI`)."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    def forecast(
        self, *, quarters: int | None = None, currency: str | None = None, holdout: int | None = None
    ) -> Report:
        """Rows per future quarter and currency, over the sales records the acting user may read."""
        with self.crm.activate():
            return forecast(self.crm, quarters=quarters, currency=currency, holdout=holdout)
