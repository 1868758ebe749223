"""Kaldi recognisers kept between utterances and calls instead of being built for each.

Measured with the demo model: building a KaldiRecognizer takes 50-105 ms, and a new one decodes its first
utterances about 10x slower than a used one, because its lookahead-composed graph (HCLr x Gr) is expanded
on demand and cached inside it. A finished utterance hands its recogniser back here.
The pool keeps `keep` of them idle; more are kept for `linger_s` after a burst, then freed. A kept one also grows
as callers' words expand its graph (measured: 27 MB once warmed on 3 s of speech, 95 MB after three rounds of 10 s
of clips), so one that decoded callers' speech and then sat idle for `linger_s` is handed to the engine to be
replaced by a fresh warmed one (VoskRecognizer): after a burst the process returns to its idle size.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import vosk

from asr.model import SpeechModel


@dataclass(eq=False)
class PooledRecognizer:
    kaldi: vosk.KaldiRecognizer
    samples: int = 0  # model-rate samples accepted over its whole life
    warmed_samples: int = 0  # samples when it joined the pool warmed: more means callers' words grew it
    idle_since: float = 0.0

    @property
    def grown(self) -> bool:
        return self.samples > self.warmed_samples

    def time_origin(self, sample_rate: int) -> float:
        """Where Vosk's word times of its next utterance start.

        Vosk counts them from the recogniser's first sample, computed in single precision
        (samples / rate as C++ floats): doing the same here makes times relative to the utterance again.
        """
        return float(np.float32(self.samples) / np.float32(sample_rate))


class RecognizerPool:
    """Thread-safe; acquire() and release() block (Vosk work), so they run in the ASR thread pool."""

    def __init__(
        self, model: SpeechModel, keep: int, linger_s: float, after_free: Callable[[], object] | None = None
    ) -> None:
        """`after_free` runs (in the freeing thread) once recognisers are freed: to give the memory back."""
        if keep < 0 or linger_s < 0:
            raise ValueError(f"keep and linger_s must be >= 0, got {keep} and {linger_s}")
        self._model = model
        self.keep = keep
        self.linger_s = linger_s
        self._after_free = after_free
        self._idle: list[PooledRecognizer] = []  # served from the end: the most recently used first
        self._leased = 0  # recognisers out with a stream
        self.refresh_grown = False  # grown ones are handed back for replacement (set once there is speech to warm on)
        self._lock = threading.Lock()
        self.created = 0
        self.reused = 0
        self.evicted = 0
        self.refreshed = 0  # grown ones handed back to be replaced by fresh ones
        self.construction_seconds = 0.0  # total time spent building recognisers

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def surplus(self) -> int:
        """Idle recognisers beyond `keep`, due to be freed once they have lingered."""
        return max(0, len(self._idle) - self.keep)

    @property
    def untidy(self) -> bool:
        """Idle recognisers that will be freed or refreshed once they have lingered."""
        with self._lock:
            grown = self.refresh_grown and any(recognizer.grown for recognizer in self._idle)
            return len(self._idle) > self.keep or grown

    def acquire(self) -> PooledRecognizer:
        with self._lock:
            self._leased += 1
            if self._idle:
                self.reused += 1
                return self._idle.pop()  # the most recently used: the warmest cache
        return self.build()

    def build(self) -> PooledRecognizer:
        """A new recogniser, not yet in the pool."""
        began = time.perf_counter()
        kaldi = self._model.new_recognizer()
        elapsed = time.perf_counter() - began
        with self._lock:
            self.created += 1
            self.construction_seconds += elapsed
        return PooledRecognizer(kaldi)

    def release(self, recognizer: PooledRecognizer) -> None:
        # FinalResult() makes Vosk rebuild the decoder and feature pipeline at the next audio, so the next user
        # gets the results of a new recogniser; Reset() alone would carry over the last caller's i-vector state.
        # It returns at once when the utterance was already finalised.
        recognizer.kaldi.FinalResult()
        recognizer.kaldi.Reset()
        recognizer.idle_since = time.monotonic()
        with self._lock:
            self._leased -= 1
            self._idle.append(recognizer)

    def adopt(self, recognizer: PooledRecognizer) -> None:
        """Take in a recogniser just warmed (released elsewhere): served after the ones callers used, which
        have their words expanded already."""
        recognizer.warmed_samples = recognizer.samples
        recognizer.idle_since = time.monotonic()
        with self._lock:
            self._idle.insert(0, recognizer)

    def take_grown(self) -> PooledRecognizer | None:
        """Out of the pool, the longest idle of the kept recognisers that callers' speech grew, once it has
        lingered: for the caller to free and replace. None while a stream holds a recogniser (replacing one takes
        a pool worker for about a second, which a caller's speech should have), or while there is surplus to free
        first."""
        now = time.monotonic()
        with self._lock:
            if not self.refresh_grown or self._leased or len(self._idle) > self.keep:
                return None
            lingered = [r for r in self._idle if r.grown and now - r.idle_since >= self.linger_s]
            if not lingered:
                return None
            oldest = min(lingered, key=lambda r: r.idle_since)
            self._idle.remove(oldest)
            self.refreshed += 1
            return oldest

    def evict_stale(self) -> int:
        """Free the surplus recognisers idle for `linger_s` or more, grown ones first, then the longest idle;
        returns how many."""
        now = time.monotonic()
        with self._lock:
            lingered = [r for r in self._idle if now - r.idle_since >= self.linger_s]
            lingered.sort(key=lambda r: (not r.grown, r.idle_since))
            dropped = lingered[: max(0, len(self._idle) - self.keep)]
            for recognizer in dropped:
                self._idle.remove(recognizer)
            self.evicted += len(dropped)
        return _free(dropped, self._after_free)

    def clear(self) -> int:
        with self._lock:
            dropped, self._idle = self._idle, []
        return _free(dropped, self._after_free)


def _free(recognizers: list[PooledRecognizer], after_free: Callable[[], object] | None) -> int:
    count = len(recognizers)
    recognizers.clear()  # the last references: Vosk frees each recogniser here
    if count and after_free is not None:
        # glibc keeps freed heap pages mapped: without giving them back (callbot.memory), freeing recognisers
        # after a burst of calls would leave the process at its peak RSS (330 MB for 8 warm recognisers).
        after_free()
    return count
