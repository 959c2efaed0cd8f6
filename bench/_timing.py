"""Shared helpers of the benchmarks: argument parsing, medians, the printed table.

Every figure is compared with a baseline measured **in the same run** (the
machine is shared and noisy, so absolute numbers from another run mean
little): a benchmark measures its subject and its baseline in alternation,
takes the median of each, and prints the ratio next to the target.

A benchmark module looks like this::

    from bench._timing import Figure, parse_args, print_table, timed

    def main(argv=None):
        args = parse_args(argv, "what it measures")
        n = 10_000 if args.quick else 100_000
        ...
        print_table("Area: what", [Figure("subject", value, "rows/s", baseline=..., ...)])
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Figure", "fmt", "median", "parse_args", "print_table", "section", "timed"]


def parse_args(
    argv: Sequence[str] | None, description: str, add: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    """The common options (``--quick``), plus whatever ``add`` adds."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer rows and repeats: a smoke run, not a measurement")
    if add is not None:
        add(parser)
    return parser.parse_args(list(argv) if argv is not None else None)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``(seconds, result)`` of one call of ``fn``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


@dataclass
class Figure:
    """One measured figure, optionally against a baseline and a target.

    ``ratio`` is ``value / baseline``. For a throughput (``higher_is_better``)
    the target ratio is a floor; for a duration it is a ceiling, and so is
    ``target_value``.
    """

    name: str
    value: float
    unit: str
    n: str = ""
    baseline: float | None = None
    baseline_name: str = ""
    higher_is_better: bool = False
    target_ratio: float | None = None
    target_value: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def target(self) -> str:
        parts = []
        sign = ">=" if self.higher_is_better else "<="
        if self.target_value is not None:
            parts.append(f"{sign} {fmt(self.target_value, self.unit)}")
        if self.target_ratio is not None:
            parts.append(f"{sign} {self.target_ratio:g}x")
        return ", ".join(parts)

    @property
    def ok(self) -> bool | None:
        """Whether the targets are met (``None`` when there are none)."""
        if self.target_value is None and self.target_ratio is None:
            return None
        better = (lambda a, b: a >= b) if self.higher_is_better else (lambda a, b: a <= b)
        if self.target_value is not None and not better(self.value, self.target_value):
            return False
        ratio = self.ratio
        if self.target_ratio is not None and (ratio is None or not better(ratio, self.target_ratio)):
            return False
        return True


def fmt(value: float, unit: str) -> str:
    """A value with its unit, rounded for reading."""
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "s":
        return f"{value:.3f} s"
    if unit.endswith("/s"):
        return f"{value:,.0f} {unit}"
    if value == int(value):
        return f"{int(value):,} {unit}".rstrip()
    return f"{value:,.2f} {unit}".rstrip()


def section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def print_table(title: str, figures: Sequence[Figure], file: Any = None) -> None:
    """Print figures as a table: figure, N, value, baseline, ratio, target, verdict."""
    out = file or sys.stdout
    header = ("figure", "N", "median", "baseline", "ratio", "target", "")
    rows = [header]
    for f in figures:
        base = f"{fmt(f.baseline, f.unit)} ({f.baseline_name})" if f.baseline is not None else ""
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else ""
        verdict = {None: "", True: "ok", False: "MISSED"}[f.ok]
        rows.append((f.name, f.n, fmt(f.value, f.unit), base, ratio, f.target, verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    print(f"\n{title}", file=out)
    for i, row in enumerate(rows):
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip(), file=out)
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths), file=out)
    out.flush()
