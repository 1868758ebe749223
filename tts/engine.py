"""Speech synthesis off the event loop: sentence by sentence, resampled for the line, prompts cached."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncGenerator, Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from piper import SynthesisConfig

from audio import Resampler
from tts.sentences import split_sentences
from tts.voice import Voice


def resample_pcm(samples: np.ndarray, from_rate: int, to_rate: int) -> bytes:
    """int16 samples -> PCM16 bytes at `to_rate`."""
    resampler = Resampler(from_rate, to_rate)
    return resampler.process(samples.astype("<i2").tobytes()) + resampler.flush()


class TtsEngine:
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
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size}")
        self.voice = voice
        self.synthesis = synthesis
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tts")
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._rendering: dict[tuple[str, int], asyncio.Future[bytes]] = {}

    def _sentence_pcm(self, sentence: str, sample_rate: int) -> bytes:
        return resample_pcm(self.voice.speak(sentence, self.synthesis), self.voice.sample_rate, sample_rate)

    def _submit(self, sentence: str, sample_rate: int) -> asyncio.Future[bytes]:
        return asyncio.get_running_loop().run_in_executor(self._pool, self._sentence_pcm, sentence, sample_rate)

    async def synthesize(self, text: str, sample_rate: int) -> AsyncGenerator[bytes, None]:
        """PCM16 mono at `sample_rate`, one chunk per sentence, first sentence first."""
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        sentences = split_sentences(text)
        if not sentences:
            return
        # The next sentence starts once the current one is done (not alongside it, which would slow the
        # first one down): it is then synthesised while the caller hears the current one.
        upcoming = self._submit(sentences[0], sample_rate)
        try:
            for index in range(len(sentences)):
                pcm = await upcoming
                if index + 1 < len(sentences):
                    upcoming = self._submit(sentences[index + 1], sample_rate)
                if pcm:
                    yield pcm
        finally:
            # Barge-in closes the generator early: drop the sentence nobody will hear, if not started.
            upcoming.cancel()

    async def render(self, text: str, sample_rate: int) -> bytes:
        """The whole text as one PCM16 block; kept in an LRU cache (fixed prompts are synthesised once)."""
        key = (text, sample_rate)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        in_flight = self._rendering.get(key)
        if in_flight is not None:
            try:
                return await asyncio.shield(in_flight)
            except asyncio.CancelledError:
                if not in_flight.cancelled():
                    raise  # we were cancelled ourselves
                return await self.render(text, sample_rate)  # the renderer was cancelled: do it here
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._rendering[key] = future
        try:
            pcm = b"".join([chunk async for chunk in self.synthesize(text, sample_rate)])
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

    def _remember(self, key: tuple[str, int], pcm: bytes) -> None:
        if self._cache_size == 0:
            return
        self._cache[key] = pcm
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def cached(self, text: str, sample_rate: int) -> bool:
        return (text, sample_rate) in self._cache

    async def warm(self, texts: Iterable[str], sample_rate: int) -> None:
        """Render fixed prompts ahead of the first call."""
        for text in texts:
            await self.render(text, sample_rate)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
