"""crm_core.memory: the cyclic garbage collector paused for bulk work."""

from __future__ import annotations

import gc
import weakref

import pytest

from crm_core.memory import collector_paused


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def test_the_collector_is_off_in_the_block_tidy_frees_cycles_and_it_comes_back():
    assert gc.isenabled()
    with collector_paused() as tidy:
        assert not gc.isenabled()
        gone = weakref.ref(Node())
        assert gone() is not None  # nothing collected it automatically
        tidy()
        assert gone() is None
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("turned back on however the block ends")
    assert gc.isenabled()


def test_a_collector_someone_else_turned_off_stays_off():
    gc.disable()
    try:
        with collector_paused() as tidy:
            tidy()
        assert not gc.isenabled()
    finally:
        gc.enable()
