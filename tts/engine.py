"""Piper speech for the calls: short pieces streamed as soon as each is synthesised, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterable
from concurrent.futures import ThreadPoolExecutor

from piper import SynthesisConfig

from audio import Resampler
from tts.cache import RenderCache
from tts.pool import DeadlinePool
from tts.sentences import speech_pieces
from tts.utterance import Samples, SpeechPace, speak_pieces
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
        # Resampling a piece takes well under a millisecond: one thread for every call, apart from the
        # synthesis threads so it never waits behind a synthesis.
        self._resampling = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts-resample")
        self._pace = SpeechPace()

    def _speak(self, piece: str) -> Samples:
        return self.voice.speak(piece, self.synthesis)

    def _synthesize(
        self, text: str, sample_rate: int, played: bool, background: bool = False
    ) -> AsyncGenerator[bytes, None]:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        resampler = Resampler(self.voice.sample_rate, sample_rate)  # one per utterance: no click at the joins
        pieces = speech_pieces(text)
        return speak_pieces(
            pieces, self._speak, self._pool, self._resampling, resampler, self._pace, played, background
        )

    def stream(self, text: str, sample_rate: int) -> AsyncGenerator[bytes, None]:
        """PCM16 mono at `sample_rate`, piece by piece (see tts.sentences); later pieces are synthesised
        while the caller hears the first. A cached text comes as one chunk."""
        cached = self._cache.get((text, sample_rate))
        if cached is not None:
            return _one(cached)
        return self._synthesize(text, sample_rate, played=True)

    async def render(self, text: str, sample_rate: int, background: bool = False) -> bytes:
        """The whole text as one PCM16 block, the same samples as stream() gives; kept in an LRU cache.
        `background`: nobody waits for it, every call's synthesis goes first."""

        async def join() -> bytes:
            chunks = self._synthesize(text, sample_rate, played=False, background=background)
            return b"".join([chunk async for chunk in chunks])

        return await self._cache.get_or_render((text, sample_rate), join)

    def cached(self, text: str, sample_rate: int) -> bool:
        return (text, sample_rate) in self._cache

    async def warm(self, texts: Iterable[str], sample_rate: int) -> None:
        """Render fixed prompts ahead of the calls, all at once across the workers, each piece after any piece a
        call waits for (the warm-up goes on after the first calls are answered)."""
        await asyncio.gather(*(self.render(text, sample_rate, background=True) for text in texts))

    def close(self) -> None:
        """Drop the pieces not started; wait for those being synthesised (well under a second)."""
        self._pool.close()
        self._resampling.shutdown(wait=True, cancel_futures=True)


async def _one(pcm: bytes) -> AsyncGenerator[bytes, None]:
    yield pcm
