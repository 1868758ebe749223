"""Freed memory goes back to the system once the calls are over (glibc's malloc_trim); the started server's objects
are left out of garbage collection, and each collection is timed."""

from __future__ import annotations

import ctypes
import gc
import os
from pathlib import Path

from callbot.memory import CollectionTimer, freeze_startup_heap, release_free_memory
from callbot.metrics import GC_PAUSE_BUCKETS_S, Histogram

MB = 1024 * 1024


def resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_memory_freed_but_fragmented_is_returned_by_the_trim() -> None:
    # Many small blocks land in the heap; a few survivors (as a call's leftovers would) pin it, so freeing
    # the rest gives nothing back by itself.
    blocks = [ctypes.create_string_buffer(4096) for _ in range(60_000)]
    for block in blocks:
        ctypes.memset(block, 1, 4096)  # touched: resident
    survivors = blocks[::50]
    del blocks, block
    before_trim = resident_bytes()
    assert release_free_memory()
    after_trim = resident_bytes()
    assert before_trim - after_trim > 150 * MB, (before_trim // MB, after_trim // MB)
    assert len(survivors) == 1200


class Lived:
    """A container object the collector tracks."""


def test_objects_alive_at_start_are_out_of_later_collections() -> None:
    lived = [Lived() for _ in range(1000)]
    try:
        frozen = freeze_startup_heap()
        # Not equal to get_freeze_count(): threads left by earlier tests may free frozen objects in between.
        assert frozen >= len(lived) and gc.get_freeze_count() >= len(lived)
        gc.collect()
        # A full collection traverses generation 2: the frozen objects are not in it.
        in_collections = {id(o) for o in gc.get_objects(generation=2)}
        assert not any(id(o) in in_collections for o in lived)
        made_later = Lived()
        gc.collect()
        assert any(o is made_later for o in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()


def test_each_collection_is_timed_while_the_timer_is_on() -> None:
    pauses = Histogram(GC_PAUSE_BUCKETS_S)
    with CollectionTimer(pauses.observe):
        gc.collect()
        gc.collect(0)
    assert pauses.count >= 2 and pauses.total > 0
    counted = pauses.count
    gc.collect()
    assert pauses.count == counted  # off once the server stops
