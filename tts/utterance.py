"""One text being spoken: its pieces on the synthesis pool, two at a time, handed out in order.

Two in flight, not one: a short first piece ("Bonjour,": 0.6 s of speech) does not last long enough for a long
second one to be synthesised after it; started together (on two workers), the second is ready in time.
The pool serves the piece whose audio is needed soonest: each piece gets the moment the caller would run
out of audio without it (its deadline), so a call's first piece goes before the later pieces of other calls.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections import deque
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Executor

import numpy as np
import numpy.typing as npt

from audio import Resampler
from tts.pool import DeadlinePool

LOOKAHEAD = 2  # pieces of one utterance synthesised or queued at a time

Samples = npt.NDArray[np.int16]


class SpeechPace:
    """Seconds of speech per character, learnt from the voice: how long the pieces not synthesised yet will
    play, for their deadlines. Starts from French at a usual speaking rate (~14 characters a second)."""

    def __init__(self, seconds_per_char: float = 0.07) -> None:
        self.seconds_per_char = seconds_per_char

    def seconds(self, text: str) -> float:
        return len(text) * self.seconds_per_char

    def learn(self, text: str, seconds: float) -> None:
        if text and seconds > 0:  # a piece of punctuation alone says nothing about the pace
            self.seconds_per_char += 0.2 * (seconds / len(text) - self.seconds_per_char)


async def speak_pieces(
    pieces: list[str],
    speak: Callable[[str], Samples],
    pool: DeadlinePool,
    resampling: Executor,
    resampler: Resampler,
    pace: SpeechPace,
    played: bool,
    background: bool = False,
) -> AsyncGenerator[bytes, None]:
    """PCM16 at the resampler's output rate, one chunk per piece, each as soon as it and those before are done.

    `played`: the chunks are played as they come, so later pieces may wait for the audio before them
    (False, for render(): every piece is due at once). `background`: no one waits for it (a cache warmed ahead):
    every piece goes after any piece a call waits for. `resampling`: the executor (one thread) where
    `resampler` runs, in piece order, so the whole utterance is one stream (no click at the joins).
    """
    loop = asyncio.get_running_loop()
    in_flight: deque[asyncio.Future[Samples]] = deque()
    handed = 0  # pieces received from the pool
    audio_until = loop.time()  # when the audio received so far will have played

    def refill() -> None:
        while handed + len(in_flight) < len(pieces) and len(in_flight) < LOOKAHEAD:
            index = handed + len(in_flight)
            now = loop.time()
            ahead = sum(pace.seconds(piece) for piece in pieces[handed:index])  # in flight before it
            if background:
                deadline = math.inf  # after every call's pieces; among themselves, first come first served
            else:
                deadline = max(audio_until, now) + ahead if played else now
            job = functools.partial(speak, pieces[index])
            in_flight.append(asyncio.wrap_future(pool.submit(deadline, job)))

    try:
        refill()
        while in_flight:
            samples = await in_flight[0]
            in_flight.popleft()
            seconds = len(samples) / resampler.in_rate
            pace.learn(pieces[handed], seconds)
            audio_until = max(audio_until, loop.time()) + seconds
            handed += 1
            refill()  # before handing this one out: the consumer may take its time
            last = handed == len(pieces)
            if handed == 1:
                samples = without_leading_silence(samples, resampler.in_rate)
            pcm = await loop.run_in_executor(resampling, _resample, resampler, samples, last)
            if pcm:
                yield pcm
    finally:
        for future in in_flight:
            future.cancel()  # closed early (barge-in): pieces not started are dropped, none is waited for


SILENT_BELOW = 330  # int16 amplitude, about -40 dBFS: quieter samples before the voice are no speech
LEAD_KEPT_S = 0.01  # silence left before the voice, so its onset is not cut


def without_leading_silence(samples: Samples, rate: int) -> Samples:
    """The voice's own silence before its first sound dropped (Piper starts a sentence 30 to 70 ms early): every
    reply's first sound comes that much sooner."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SILENT_BELOW)
    if not len(loud):
        return samples
    return samples[max(0, int(loud[0]) - int(LEAD_KEPT_S * rate)) :]


def _resample(resampler: Resampler, samples: Samples, last: bool) -> bytes:
    pcm = resampler.process(samples.astype("<i2").tobytes())
    return pcm + resampler.flush() if last else pcm
