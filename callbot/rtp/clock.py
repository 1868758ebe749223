"""One media clock for every RTP session of the process.

A single asyncio task ticks every 20 ms at absolute deadlines (t0 + n * 20 ms, so sleep jitter never
accumulates) and runs each registered session's per-frame work: one timer for all calls instead of one per call.
The task runs only while sessions are registered, so nothing is left behind when the last call ends.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Protocol

from audio import FRAME_MS

logger = logging.getLogger(__name__)

FRAME_SECONDS = FRAME_MS / 1000
# Behind this much, the clock skips the missed ticks (a stall) instead of bursting to catch up.
MAX_CLOCK_LAG_S = 0.2


class Clocked(Protocol):
    def on_tick(self, tick: int, now: float) -> None:
        """One 20 ms step. `tick` counts frame slots of real time: it jumps over the slots a stall skipped."""
        ...


class MediaClock:
    def __init__(self, period: float = FRAME_SECONDS, max_lag: float = MAX_CLOCK_LAG_S) -> None:
        self.period = period
        self.max_lag = max_lag
        self.tick = 0  # the next tick's number; keeps counting across idle periods
        self.stalls = 0  # times the loop was late by more than max_lag
        self.skipped = 0  # ticks skipped by those stalls
        self.errors = 0  # exceptions escaping a member's on_tick (a bug: members handle their own)
        self._members: tuple[Clocked, ...] = ()  # replaced, never mutated: a tick iterates a stable snapshot
        self._task: asyncio.Task[None] | None = None

    @property
    def members(self) -> int:
        return len(self._members)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def add(self, member: Clocked) -> None:
        """Tick `member` from the next slot on; starts the clock's task on the running loop if it was idle."""
        if member in self._members:
            return
        self._members = (*self._members, member)
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="rtp-media-clock")

    async def remove(self, member: Clocked) -> None:
        """Stop ticking `member`; the task ends with the last member."""
        self._members = tuple(m for m in self._members if m is not member)
        if not self._members:
            await self.close()

    async def close(self) -> None:
        """Stop the task (members stay registered: a later add() starts it again)."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # our caller is being cancelled too: do not swallow that

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start, first = loop.time(), self.tick
        while True:
            deadline = start + (self.tick - first) * self.period
            delay = deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            now = loop.time()
            late = now - deadline
            if late > self.max_lag:
                # The loop was blocked: real time went on, so does the tick count (RTP timestamps jump with it).
                missed = int(late / self.period)
                self.tick += missed
                self.stalls += 1
                self.skipped += missed
            tick = self.tick
            self.tick += 1
            for member in self._members:
                try:
                    member.on_tick(tick, now)
                except Exception:
                    self.errors += 1
                    if self.errors & (self.errors - 1) == 0:  # 1st, 2nd, 4th, 8th…: a recurring bug can't flood logs
                        logger.exception("media clock member failed (%d failures so far)", self.errors)


_default_clocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MediaClock] = weakref.WeakKeyDictionary()


def default_clock() -> MediaClock:
    """The process's clock for the running event loop, created on first use."""
    loop = asyncio.get_running_loop()
    clock = _default_clocks.get(loop)
    if clock is None:
        clock = _default_clocks[loop] = MediaClock()
    return clock
