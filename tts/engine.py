"""Piper speech for the calls: short pieces streamed as soon as each is synthesised, off the event loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, Iterable

from piper import SynthesisConfig

from audio import SAMPLE_WIDTH, Resampler
from tts.cache import RenderCache
from tts.pool import DeadlinePool
from tts.sentences import speech_pieces
from tts.voice import Voice


class TtsEngine:
    """A `tts.Synthesizer` on one Piper voice, shared by `workers` threads (ONNX Runtime's run is thread-safe)."""

    def __init__(
        self,
        voice: Voice,
        workers: int,
        cache_size: int,
        synthesis: SynthesisConfig | None = None,
    ) -> None:
        """`synthesis`: Piper settings (None: the voice's own; see tts.repeatable_synthesis)."""
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.voice = voice
        self.synthesis = synthesis
        self._cache = RenderCache(cache_size)
        self._pool = DeadlinePool(workers)

    def _speak(self, piece: str, resampler: Resampler, last: bool) -> bytes:
        """Worker thread: one piece at the line's rate. The utterance's pieces go through one resampler, in
        turn (the next is submitted once this one is done), so the joins have no clicks."""
        pcm = resampler.process(self.voice.speak(piece, self.synthesis).astype("<i2").tobytes())
        return pcm + resampler.flush() if last else pcm

    async def _synthesize(self, text: str, sample_rate: int, played: bool) -> AsyncGenerator[bytes, None]:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        pieces = speech_pieces(text)
        if not pieces:
            return
        loop = asyncio.get_running_loop()
        resampler = Resampler(self.voice.sample_rate, sample_rate)

        def submit(index: int, deadline: float) -> asyncio.Future[bytes]:
            job = functools.partial(self._speak, pieces[index], resampler, index == len(pieces) - 1)
            return asyncio.wrap_future(self._pool.submit(deadline, job))

        # Deadline of a piece: when the caller would run out of audio without it. The first one is due now;
        # a played stream's later pieces can wait for the audio already sent (render's cannot).
        audio_until = loop.time()
        upcoming = submit(0, audio_until)
        try:
            for index in range(len(pieces)):
                pcm = await upcoming
                if index + 1 < len(pieces):
                    now = loop.time()
                    audio_until = max(audio_until, now) + len(pcm) / SAMPLE_WIDTH / sample_rate if played else now
                    upcoming = submit(index + 1, audio_until)
                if pcm:
                    yield pcm
        finally:
            upcoming.cancel()  # closed early (barge-in): the next piece, if not started, is dropped

    def stream(self, text: str, sample_rate: int) -> AsyncGenerator[bytes, None]:
        """PCM16 mono at `sample_rate`, piece by piece (see tts.sentences); piece k+1 is synthesised while
        the caller hears piece k. A cached text comes as one chunk."""
        cached = self._cache.get((text, sample_rate))
        if cached is not None:
            return _one(cached)
        return self._synthesize(text, sample_rate, played=True)

    synthesize = stream  # the name callbot/session.py still uses

    async def render(self, text: str, sample_rate: int) -> bytes:
        """The whole text as one PCM16 block, the same samples as stream() gives; kept in an LRU cache."""

        async def join() -> bytes:
            return b"".join([chunk async for chunk in self._synthesize(text, sample_rate, played=False)])

        return await self._cache.get_or_render((text, sample_rate), join)

    def cached(self, text: str, sample_rate: int) -> bool:
        return (text, sample_rate) in self._cache

    async def warm(self, texts: Iterable[str], sample_rate: int) -> None:
        """Render fixed prompts ahead of the first call, all at once across the workers."""
        await asyncio.gather(*(self.render(text, sample_rate) for text in texts))

    def close(self) -> None:
        self._pool.close()


async def _one(pcm: bytes) -> AsyncGenerator[bytes, None]:
    yield pcm
