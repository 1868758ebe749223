"""Queue of outgoing PCM, cut into fixed frames for paced sending."""

from __future__ import annotations

import asyncio
from collections import deque


class PlaybackQueue:
    def __init__(self, frame_bytes: int) -> None:
        self.frame_bytes = frame_bytes
        self._chunks: deque[bytes] = deque()
        self._head_offset = 0  # bytes of the first chunk already taken
        self._pending = 0
        self._drained = asyncio.Event()
        self._drained.set()

    @property
    def pending_bytes(self) -> int:
        return self._pending

    def append(self, pcm: bytes) -> None:
        if len(pcm) % 2:
            raise ValueError(f"PCM16 data must have an even length, got {len(pcm)} bytes")
        if not pcm:
            return
        self._chunks.append(bytes(pcm))
        self._pending += len(pcm)
        self._drained.clear()

    def clear(self) -> None:
        self._chunks.clear()
        self._head_offset = 0
        self._pending = 0
        self._drained.set()

    def pop_frame(self) -> bytes | None:
        """The next frame (the last one padded with silence), or None when nothing is queued."""
        if not self._pending:
            return None
        parts: list[bytes] = []
        wanted = self.frame_bytes
        while wanted and self._chunks:
            head = self._chunks[0]
            piece = head[self._head_offset : self._head_offset + wanted]
            parts.append(piece)
            wanted -= len(piece)
            self._head_offset += len(piece)
            if self._head_offset >= len(head):
                self._chunks.popleft()
                self._head_offset = 0
        taken = self.frame_bytes - wanted
        self._pending -= taken
        if not self._pending:
            self._drained.set()
        if wanted:
            parts.append(bytes(wanted))
        return b"".join(parts)

    async def wait_drained(self) -> None:
        await self._drained.wait()
