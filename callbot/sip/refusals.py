"""Refusals (busy, limits, timed-out connections) logged as counts once per interval, never once per message."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

REFUSAL_LOG_INTERVAL_S = 10.0
TOP_SOURCES = 3


class RefusalLog:
    """The first refusal of a quiet period is logged at once; the others are summed and logged per interval."""

    def __init__(self, logger: logging.Logger, interval_s: float = REFUSAL_LOG_INTERVAL_S) -> None:
        self._log = logger
        self.interval_s = interval_s
        self._next_log_at = 0.0
        self._reasons: Counter[str] = Counter()
        self._sources: Counter[str] = Counter()
        self._flush_pending: asyncio.TimerHandle | None = None
        self.total = 0  # every refusal since start, for tests and metrics

    def note(self, reason: str, source: str) -> None:
        self.total += 1
        self._reasons[reason] += 1
        if source in self._sources or len(self._sources) < 1000:  # bounded: a spoofed flood has many sources
            self._sources[source] += 1
        now = time.monotonic()
        if now >= self._next_log_at:
            self.flush()
        elif self._flush_pending is None:
            self._schedule_flush(self._next_log_at - now)

    def _schedule_flush(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (unit use): the next note after the interval logs the sum
        self._flush_pending = loop.call_later(delay, self.flush)

    def flush(self) -> None:
        """Log what was counted since the last line, if anything."""
        if self._flush_pending is not None:
            self._flush_pending.cancel()
            self._flush_pending = None
        if not self._reasons:
            return
        count = sum(self._reasons.values())
        reasons = ", ".join(f"{reason} {n}" for reason, n in self._reasons.most_common())
        sources = ", ".join(f"{source} ({n})" for source, n in self._sources.most_common(TOP_SOURCES))
        self._log.warning("refused %d SIP message(s)/connection(s): %s; from %s", count, reasons, sources)
        self._reasons.clear()
        self._sources.clear()
        self._next_log_at = time.monotonic() + self.interval_s

    def close(self) -> None:
        self.flush()
