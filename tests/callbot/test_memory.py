"""Freed memory goes back to the system once the calls are over (glibc's malloc_trim)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from callbot.memory import release_free_memory

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
