"""Giving memory back to the system once the calls are over.

glibc's allocator keeps freed memory in its arenas (one per thread that allocated: the recogniser and
synthesiser pools have several), so a process that served a burst of calls stays at its peak size. Once no
call is left, `malloc_trim(0)` returns the free pages; it is cheap when there is little to return.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

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
