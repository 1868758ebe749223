"""A `Synthesizer` without a voice, for the tests of the stages that speak (call session, server).

Its audio is a flat level per piece, so a test can tell which text was played (`expected`), and its length
follows the text. It cuts text as the real engine does (tts.sentences) and records every request.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass

from tts.sentences import speech_pieces


@dataclass
class Request:
    kind: str  # "stream" or "render"
    text: str
    sample_rate: int
    chunks: int = 0  # chunks handed out so far
    finished: bool = False  # every chunk handed out
    closed_early: bool = False  # closed or cancelled before the last chunk


class FakeSynthesizer:
    def __init__(self, seconds_per_char: float = 0.005, chunk_delay: float = 0.0, amplitude: int = 1000) -> None:
        """`chunk_delay`: seconds of "synthesis" before each chunk (0: none, but still a loop turn)."""
        self.seconds_per_char = seconds_per_char
        self.chunk_delay = chunk_delay
        self.amplitude = amplitude
        self.requests: list[Request] = []
        self._cache: dict[tuple[str, int], bytes] = {}

    @property
    def texts(self) -> list[str]:
        return [request.text for request in self.requests]

    def chunk(self, piece: str, sample_rate: int) -> bytes:
        """The audio of one piece: a level from its text's checksum, for a length from its size."""
        samples = max(1, round(len(piece) * self.seconds_per_char * sample_rate))
        level = self.amplitude * (8 + zlib.crc32(piece.encode()) % 8) // 16
        return level.to_bytes(2, "little", signed=True) * samples

    def expected(self, text: str, sample_rate: int) -> bytes:
        """What stream() and render() give for `text`, joined."""
        return b"".join(self.chunk(piece, sample_rate) for piece in speech_pieces(text))

    def stream(self, text: str, sample_rate: int) -> AsyncGenerator[bytes, None]:
        """As the engine: a rendered (cached) text comes as one chunk, at once."""
        return self._chunks(Request("stream", text, sample_rate))

    async def _chunks(self, request: Request) -> AsyncGenerator[bytes, None]:
        if request.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {request.sample_rate}")
        self.requests.append(request)
        cached = self._cache.get((request.text, request.sample_rate))
        try:
            if cached is not None:
                request.chunks += 1
                yield cached
            else:
                for piece in speech_pieces(request.text):
                    await asyncio.sleep(self.chunk_delay)
                    request.chunks += 1
                    yield self.chunk(piece, request.sample_rate)
            request.finished = True
        finally:
            request.closed_early = not request.finished

    async def render(self, text: str, sample_rate: int) -> bytes:
        key = (text, sample_rate)
        if key not in self._cache:
            self._cache[key] = b"".join([c async for c in self._chunks(Request("render", text, sample_rate))])
        return self._cache[key]

    async def warm(self, texts: Iterable[str], sample_rate: int) -> None:
        for text in texts:
            await self.render(text, sample_rate)

    def cached(self, text: str, sample_rate: int) -> bool:
        return (text, sample_rate) in self._cache
