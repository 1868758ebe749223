"""Rendered prompts kept in memory: least recently used dropped first, one rendering shared by its callers."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable

Key = tuple[str, int]  # (text, sample rate)


class RenderCache:
    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"cache_size must be >= 0, got {size}")
        self._size = size
        self._done: OrderedDict[Key, bytes] = OrderedDict()
        self._rendering: dict[Key, asyncio.Future[bytes]] = {}

    def __contains__(self, key: Key) -> bool:
        return key in self._done

    def get(self, key: Key) -> bytes | None:
        pcm = self._done.get(key)
        if pcm is not None:
            self._done.move_to_end(key)
        return pcm

    async def get_or_render(self, key: Key, render: Callable[[], Awaitable[bytes]]) -> bytes:
        cached = self.get(key)
        if cached is not None:
            return cached
        in_flight = self._rendering.get(key)
        if in_flight is not None:
            try:
                return await asyncio.shield(in_flight)
            except asyncio.CancelledError:
                if not in_flight.cancelled():
                    raise  # we were cancelled ourselves
                return await self.get_or_render(key, render)  # the renderer was cancelled: do it here
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._rendering[key] = future
        try:
            pcm = await render()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as error:
            future.set_exception(error)
            future.exception()  # mark it retrieved: maybe nobody else waits for it
            raise
        finally:
            del self._rendering[key]
        future.set_result(pcm)
        self._remember(key, pcm)
        return pcm

    def _remember(self, key: Key, pcm: bytes) -> None:
        if self._size == 0:
            return
        self._done[key] = pcm
        self._done.move_to_end(key)
        while len(self._done) > self._size:
            self._done.popitem(last=False)
