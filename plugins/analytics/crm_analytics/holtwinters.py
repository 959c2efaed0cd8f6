"""Holt-Winters exponential smoothing, additive trend and seasonality, written out.

The series are short (a few dozen quarters), so a direct implementation
is exact and fast, and spares the plugin statsmodels (with scipy and
pandas, over 100 MB) for a handful of additions. The smoothing parameters
are chosen by minimising the sum of squared one-step-ahead errors over a
grid, then over a finer grid around the best point.

* ``seasonal``: level, trend and an additive season of ``m`` periods
  (needs at least two full seasons);
* ``holt``: Holt's linear trend, no season (needs at least three points);
* ``level``: simple exponential smoothing, a flat forecast.

:func:`choose` fits each method the series allows on all but the last
``holdout`` points, forecasts those, and keeps the method with the lowest
error there (ties go to the simpler one).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import attrs

__all__ = ["Fit", "fit", "mape"]


@attrs.frozen
class Fit:
    method: str
    alpha: float
    beta: float
    gamma: float | None
    sse: float
    level: float
    trend: float
    season: tuple[float, ...]

    def forecast(self, steps: int) -> list[float]:
        m = len(self.season)
        out = []
        for h in range(1, steps + 1):
            value = self.level + h * self.trend
            if m:
                value += self.season[(h - 1) % m]
            out.append(value)
        return out


def _run(
    y: Sequence[float], alpha: float, beta: float, gamma: float | None, m: int
) -> tuple[float, float, float, list[float]]:
    """One pass; returns (sse, level, trend, season as seen from the end). ``beta`` 0: no trend."""
    if gamma is None:
        level, trend = y[0], (y[1] - y[0]) if beta else 0.0
        sse = 0.0
        for value in y[1:]:
            predicted = level + trend
            sse += (value - predicted) ** 2
            new_level = alpha * value + (1 - alpha) * (level + trend)
            trend = beta * (new_level - level) + (1 - beta) * trend
            level = new_level
        return sse, level, trend, []
    first = sum(y[:m]) / m
    second = sum(y[m : 2 * m]) / m
    level, trend = first, (second - first) / m
    season = [y[i] - first for i in range(m)]
    sse = 0.0
    for t in range(m, len(y)):
        s = season[t % m]
        predicted = level + trend + s
        sse += (y[t] - predicted) ** 2
        new_level = alpha * (y[t] - s) + (1 - alpha) * (level + trend)
        trend = beta * (new_level - level) + (1 - beta) * trend
        season[t % m] = gamma * (y[t] - new_level) + (1 - gamma) * s
        level = new_level
    n = len(y)
    ahead = [season[(n + k) % m] for k in range(m)]  # the season of the next periods, in order
    return sse, level, trend, ahead


METHODS = ("holt-winters", "holt", "level")


def fit(y: Sequence[float], m: int = 4, method: str | None = None) -> Fit:
    """The best model of ``method`` for ``y`` (by default: seasonal with ``2 * m`` points or more, else Holt's trend).

    ``holt-winters``: level, trend and season; ``holt``: level and trend;
    ``level``: simple exponential smoothing (a flat forecast).
    """
    y = [float(v) for v in y]
    if method is None:
        method = "holt-winters" if m > 1 and len(y) >= 2 * m else "holt"
    seasonal = method == "holt-winters"
    if seasonal and len(y) < 2 * m:
        raise ValueError(f"a season of {m} needs at least {2 * m} points")
    if len(y) < 3:
        raise ValueError("a trend needs at least 3 points")
    coarse = [0.05 + 0.1 * i for i in range(10)]
    gammas: Sequence[float | None] = coarse if seasonal else [None]
    betas = coarse if method != "level" else [0.0]
    best: tuple[float, float, float, float | None] | None = None
    for a, b, g in itertools.product(coarse, betas, gammas):
        sse = _run(y, a, b, g, m)[0]
        if best is None or sse < best[0]:
            best = (sse, a, b, g)
    assert best is not None
    _, a0, b0, g0 = best

    def fine(c: float) -> list[float]:
        return [min(0.99, max(0.01, c + d / 100)) for d in range(-5, 6, 1)]

    for a, b, g in itertools.product(fine(a0), fine(b0) if b0 else [0.0], fine(g0) if g0 is not None else [None]):
        sse = _run(y, a, b, g, m)[0]
        if sse < best[0]:
            best = (sse, a, b, g)
    sse, a, b, g = best
    _, level, trend, season = _run(y, a, b, g, m)
    return Fit(method, round(a, 2), round(b, 2), None if g is None else round(g, 2), sse, level, trend, tuple(season))


def mape(actual: Sequence[float], predicted: Sequence[float]) -> float | None:
    """Mean absolute percentage error in percent, over the periods whose actual is not zero."""
    pairs = [(a, p) for a, p in zip(actual, predicted) if a]
    if not pairs:
        return None
    return 100.0 * sum(abs(a - p) / abs(a) for a, p in pairs) / len(pairs)


def choose(y: Sequence[float], m: int, holdout: int) -> tuple[str, float | None]:
    """The method with the lowest MAPE on the last ``holdout`` points, and that MAPE.

    Candidates: Holt-Winters when ``2 * m`` points remain before the held-out
    ones, Holt's trend and simple smoothing when 3 remain. With fewer, the
    default method of :func:`fit` is returned unmeasured.
    """
    train, test = list(y[: len(y) - holdout]), list(y[len(y) - holdout :])
    candidates = [c for c in ("level", "holt", "holt-winters") if len(train) >= (2 * m if c == "holt-winters" else 3)]
    if not candidates or not any(test):
        return ("holt-winters" if len(y) >= 2 * m else "holt"), None
    scored = []
    for rank, method in enumerate(candidates):
        predicted = [max(0.0, v) for v in fit(train, m, method).forecast(len(test))]
        error = mape(test, predicted)
        scored.append((error if error is not None else float("inf"), rank, method))
    error, _, method = min(scored)
    return method, error
