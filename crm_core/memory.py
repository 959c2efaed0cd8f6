"""Bulk work and CPython's cyclic garbage collector.

A bulk job (an import of a million rows) allocates and frees dicts, lists
and tuples by the million. Reference counting frees them; the cyclic
collector, which CPython starts every 700 net allocations of such objects,
finds nothing to free in them but walks them anyway, and now and then walks
the whole heap. :func:`collector_paused` turns the automatic runs off for
the block and gives it a ``tidy()`` to call at a quiet point (the end of a
batch), which collects the young generations now and then.

The collector is per process: while the block runs, other threads of the
process run without automatic collections too, their cycles collected by
``tidy()`` or once the block ends (it turns the collector back on only if it
was on).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator

__all__ = ["collector_paused"]


@contextlib.contextmanager
def collector_paused(every: int = 10) -> Iterator[Callable[[], None]]:
    """No automatic cyclic garbage collection in the block; yields ``tidy()``.

    Every ``every``-th call of ``tidy()`` collects the young generations. A
    collection walks every young object still alive, which at the end of a
    batch is that batch's rows: after each batch of 5,000 contacts it cost
    the import 5.5 µs a row, after every tenth batch a tenth of that.
    """
    if every < 1:
        raise ValueError(f"collector_paused needs every >= 1, not {every}")
    if not gc.isenabled():  # someone paused it already: leave it as it is
        yield lambda: None
        return
    calls = 0

    def tidy() -> None:
        nonlocal calls
        calls += 1
        if calls % every == 0:
            gc.collect(1)

    gc.disable()
    try:
        yield tidy
    finally:
        gc.enable()
