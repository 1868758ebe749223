"""Memory: given back to the system once the calls are over, collected without stalling the calls.

glibc's allocator keeps freed memory in its arenas (one per thread that allocated: the recogniser and
synthesiser pools have several), so a process that served a burst of calls stays at its peak size. Once no
call is left, `malloc_trim(0)` returns the free pages; it is cheap when there is little to return.

Python's full collection traverses every container object alive: the server holds some 300,000 after start
(modules, libraries, settings), which takes 0.1-0.2 s on a loaded 2-core machine, every call's audio held
meanwhile (past 0.2 s the media clock skips the missed 20 ms slots). Those objects live as long as the
process, so once started the server moves them out of the collector's reach (`gc.freeze`): a full collection
then sees only what the calls allocated.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def _load_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_TRIM = _load_trim()


def release_free_memory() -> bool:
    """Return freed heap pages to the system; False where the C library cannot."""
    if _TRIM is None:
        return False
    return bool(_TRIM(0))


def freeze_startup_heap() -> int:
    """Collect once, then leave every object alive now out of later collections; the number frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class CollectionTimer:
    """Times each garbage collection and hands its duration in seconds to `observe` (the /metrics histogram):
    a stall of every call's audio that no other figure would explain."""

    def __init__(self, observe: Callable[[float], None]) -> None:
        self._observe = observe
        self._started = 0.0

    def __enter__(self) -> CollectionTimer:
        gc.callbacks.append(self._on_collection)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._on_collection in gc.callbacks:
            gc.callbacks.remove(self._on_collection)

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started:
            self._observe(time.perf_counter() - self._started)
