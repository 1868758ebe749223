"""Streaming recognition on a shared thread pool, so the event loop never runs Vosk."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import vosk

from asr.model import SpeechModel
from asr.transcript import Transcript, Word, make_transcript, parse_vosk_result
from audio import Resampler

_BYTES_PER_SAMPLE = 2
_BLOCK_MS = 100  # decoding granularity; bounds the delay of partial results
T = TypeVar("T")


class AsrEngine:
    """Owns the thread pool every call's recogniser runs on."""

    def __init__(self, model: SpeechModel, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.model = model
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asr")

    def open_stream(self, input_rate: int) -> AsrStream:
        return AsrStream(self, input_rate)

    @property
    def pool(self) -> ThreadPoolExecutor:
        return self._pool

    def close(self) -> None:
        """Stop the pool once running jobs end; streams cannot be fed afterwards."""
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Recognition:
    """Blocking state of one stream: resampler + recogniser. Used only from pool threads, one at a time.

    Input is cut into fixed blocks before resampling and decoding: Vosk's result depends on how audio
    is chunked (i-vector updates, endpoint checks), and this keeps it independent of packetisation.
    """

    def __init__(self, model: SpeechModel, input_rate: int) -> None:
        self._model = model
        self._input_rate = input_rate
        self.block_bytes = input_rate * _BLOCK_MS // 1000 * _BYTES_PER_SAMPLE
        self._recognizer: vosk.KaldiRecognizer = model.new_recognizer()
        self._resampler = Resampler(input_rate, model.sample_rate)
        self._pending = bytearray()
        self._segments: list[tuple[Word, ...]] = []
        self._input_bytes = 0
        # Vosk's word times run on across utterances: count model samples to make them utterance-relative.
        self._model_samples = 0
        self._utterance_start_samples = 0

    def _shift(self, words: tuple[Word, ...]) -> tuple[Word, ...]:
        offset = self._utterance_start_samples / self._model.sample_rate
        return tuple(
            Word(word=w.word, start=max(0.0, w.start - offset), end=max(0.0, w.end - offset), confidence=w.confidence)
            for w in words
        )

    def _accept(self, model_pcm: bytes) -> None:
        if not model_pcm:
            return
        self._model_samples += len(model_pcm) // _BYTES_PER_SAMPLE
        if self._recognizer.AcceptWaveform(model_pcm):
            # Vosk found an endpoint inside the utterance: keep that segment, carry on.
            self._segments.append(self._shift(parse_vosk_result(self._recognizer.Result())))

    def feed(self, pcm: bytes) -> None:
        self._input_bytes += len(pcm)
        self._pending += pcm
        whole = len(self._pending) - len(self._pending) % self.block_bytes
        for start in range(0, whole, self.block_bytes):
            self._accept(self._resampler.process(bytes(self._pending[start : start + self.block_bytes])))
        del self._pending[:whole]

    def partial(self) -> str:
        done = [w.word for segment in self._segments for w in segment]
        pending = str(json.loads(self._recognizer.PartialResult()).get("partial", ""))
        return " ".join([*done, pending] if pending else done)

    def finish(self) -> Transcript:
        self._accept(self._resampler.process(bytes(self._pending)) + self._resampler.flush())
        self._pending.clear()
        self._segments.append(self._shift(parse_vosk_result(self._recognizer.FinalResult())))
        self._recognizer.Reset()
        words = tuple(w for segment in self._segments for w in segment)
        seconds = self._input_bytes / _BYTES_PER_SAMPLE / self._input_rate
        self._segments = []
        self._input_bytes = 0
        self._utterance_start_samples = self._model_samples
        return make_transcript(words, seconds)


class AsrStream:
    """Recognition of one caller, one utterance at a time.

    feed() PCM16 mono at `input_rate`; finish() returns the utterance's Transcript and readies the
    stream for the next one. Calls are serialised, so concurrent feed() tasks keep their order.
    Audio reaches the pool in whole decoding blocks: a thread round trip per 20 ms frame would be wasted.
    """

    def __init__(self, engine: AsrEngine, input_rate: int) -> None:
        if input_rate <= 0:
            raise ValueError(f"input_rate must be positive, got {input_rate}")
        self.input_rate = input_rate
        self._engine = engine
        self._lock = asyncio.Lock()
        self._state = _Recognition(engine.model, input_rate)
        self._unsent = bytearray()  # fed, not yet handed to the pool
        self._closed = False

    async def feed(self, pcm: bytes) -> None:
        if len(pcm) % _BYTES_PER_SAMPLE:
            raise ValueError(f"PCM16 needs an even number of bytes, got {len(pcm)}")
        self._check_open()
        self._unsent += pcm
        if len(self._unsent) >= self._state.block_bytes:
            await self._in_pool(_return_none)

    async def partial(self) -> str:
        return await self._in_pool(self._state.partial)

    async def finish(self) -> Transcript:
        return await self._in_pool(self._state.finish)

    async def _in_pool(self, then: Callable[[], T]) -> T:
        """In a pool thread: decode the audio not sent yet, then `then()`."""
        async with self._lock:
            self._check_open()
            pcm = bytes(self._unsent)
            self._unsent.clear()
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._engine.pool, _fed_then, self._state, pcm, then)

    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("AsrStream is closed")


def _fed_then(state: _Recognition, pcm: bytes, then: Callable[[], T]) -> T:
    if pcm:
        state.feed(pcm)
    return then()


def _return_none() -> None:
    return None
