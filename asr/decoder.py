"""The blocking half of one stream: resampling, fixed-block cutting and the Vosk calls.

Used from ASR pool threads only, one job at a time per stream (VoskStream keeps at most one in flight).
"""

from __future__ import annotations

import time

from asr.recognizer_pool import PooledRecognizer, RecognizerPool
from asr.stream import Hypothesis
from asr.transcript import Transcript, Word, make_transcript, parse_vosk_partial, parse_vosk_result
from audio import SAMPLE_WIDTH, Resampler

BLOCK_MS = 100  # decoding granularity; bounds the delay of partial results


class Decoder:
    """Input is cut into fixed blocks before resampling and decoding: Vosk's result depends on how audio
    is chunked (i-vector updates, endpoint checks), and this keeps it independent of packetisation.

    A recogniser is leased from the pool for one utterance and handed back by finish(): a call in which
    nobody is speaking holds none, and each utterance starts from a recogniser as good as new.
    """

    def __init__(
        self, pool: RecognizerPool, model_rate: int, input_rate: int, lease: PooledRecognizer | None = None
    ) -> None:
        """`lease`: a recogniser already taken from `pool` for the first utterance (otherwise taken at its audio)."""
        self.block_bytes = input_rate * BLOCK_MS // 1000 * SAMPLE_WIDTH
        self.cpu_seconds = 0.0  # this thread's CPU time in the stream's jobs
        self._pool = pool
        self._model_rate = model_rate
        self._input_rate = input_rate
        self._resampler = Resampler(input_rate, model_rate)
        self._pending = bytearray()  # less than a block, waiting for the rest
        self._lease = lease
        self._origin = lease.time_origin(model_rate) if lease else 0.0  # Vosk's time of the utterance start on it
        self._segments: list[tuple[Word, ...]] = []  # closed by endpoints Vosk found inside the utterance
        self._input_bytes = 0

    def feed(self, pcm: bytes) -> None:
        """Decode the whole blocks now available."""
        began = time.thread_time()
        self._input_bytes += len(pcm)
        self._pending += pcm
        whole = len(self._pending) - len(self._pending) % self.block_bytes
        for start in range(0, whole, self.block_bytes):
            self._accept(self._resampler.process(bytes(self._pending[start : start + self.block_bytes])))
        del self._pending[:whole]
        self.cpu_seconds += time.thread_time() - began

    def finish(self, pcm: bytes = b"") -> Transcript:
        """Decode `pcm` and the rest, close the utterance, give the recogniser back."""
        self.feed(pcm)
        began = time.thread_time()
        self._accept(self._resampler.process(bytes(self._pending)) + self._resampler.flush())
        if self._lease is not None:
            self._segments.append(self._shift(parse_vosk_result(self._lease.kaldi.FinalResult())))
        transcript = make_transcript(
            tuple(w for segment in self._segments for w in segment),
            self._input_bytes / SAMPLE_WIDTH / self._input_rate,
        )
        self.release()
        self.cpu_seconds += time.thread_time() - began
        return transcript

    def release(self) -> None:
        """Drop the utterance in progress, if any, and give the recogniser back."""
        self._pending.clear()
        self._resampler.flush()
        self._segments = []
        self._input_bytes = 0
        if self._lease is not None:
            lease, self._lease = self._lease, None
            self._pool.release(lease)

    def _accept(self, model_pcm: bytes) -> None:
        if not model_pcm:
            return
        if self._lease is None:
            self._lease = self._pool.acquire()  # built here on a pool miss, never on the event loop
            self._origin = self._lease.time_origin(self._model_rate)
        self._lease.samples += len(model_pcm) // SAMPLE_WIDTH
        if self._lease.kaldi.AcceptWaveform(model_pcm):
            # Vosk found an endpoint inside the utterance: keep that segment, carry on.
            self._segments.append(self._shift(parse_vosk_result(self._lease.kaldi.Result())))

    def hypothesis(self) -> Hypothesis:
        """The words so far. With word details, Vosk aligns the whole lattice of the utterance: measured 0.5 ms
        after 3 s, 3 ms after 30 s (a warm 100 ms block decodes in 3-4 ms), so it is asked for, not computed
        after each block."""
        began = time.thread_time()
        pending = parse_vosk_partial(self._lease.kaldi.PartialResult()) if self._lease is not None else ()
        words = (*(w for segment in self._segments for w in segment), *self._shift(pending))
        self.cpu_seconds += time.thread_time() - began
        return Hypothesis(text=" ".join(w.word for w in words), words=words)

    def _shift(self, words: tuple[Word, ...]) -> tuple[Word, ...]:
        # Rounded to Vosk's own precision (it prints 6 decimals), so float noise does not tell reused
        # recognisers from new ones.
        return tuple(
            Word(
                word=w.word,
                start=round(max(0.0, w.start - self._origin), 6),
                end=round(max(0.0, w.end - self._origin), 6),
                confidence=w.confidence,
            )
            for w in words
        )
