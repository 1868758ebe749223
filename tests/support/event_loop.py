"""Does work leave the event loop free? Count how often a trivial task gets to run meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass
class LoopTicks:
    count: int = 0


@asynccontextmanager
async def loop_ticks() -> AsyncIterator[LoopTicks]:
    """`ticks.count` grows each time the loop runs another task while the block awaits something."""
    ticks = LoopTicks()

    async def tick() -> None:
        while True:
            ticks.count += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(tick())
    await asyncio.sleep(0)
    ticks.count = 0
    try:
        yield ticks
    finally:
        task.cancel()
