"""Bulk work and CPython's cyclic garbage collector.

A bulk job (an import of a million rows) allocates and frees dicts, lists
and tuples by the million. Reference counting frees them; the cyclic
collector, which CPython starts every 700 net allocations of such objects,
finds nothing to free in them but walks them anyway, and now and then walks
the whole heap. :func:`collector_paused` turns the automatic runs off for
the block and gives it a ``tidy()`` to call at a quiet point (the end of a
batch): a collection of the young generations, cheap because a batch's
objects are mostly gone by then.

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
def collector_paused() -> Iterator[Callable[[], None]]:
    """No automatic cyclic garbage collection in the block; yields ``tidy()``, which collects the young generations."""
    if not gc.isenabled():  # someone paused it already: leave it as it is
        yield lambda: None
        return

    def tidy() -> None:
        gc.collect(1)

    gc.disable()
    try:
        yield tidy
    finally:
        gc.enable()
