"""The browser's audio as the session reads it: decoded frames (any rate, mono or stereo) resampled once to the
call's rate, cut into 20 ms PCM16 frames, kept in a bounded FIFO that the session reads at its own pace."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import numpy as np
import numpy.typing as npt

from audio import FRAME_MS, Resampler, frame_bytes

log = logging.getLogger(__name__)

# Caller audio kept for a reader that is late (as for SIP): beyond this the oldest frames go, counted.
INBOUND_MAX_SECONDS = 10.0


def mono_pcm16(samples: npt.NDArray[np.generic], channels: int, planar: bool) -> bytes:
    """Decoded samples (int16, or float in [-1, 1]) as PCM16 mono: channels are averaged.

    `samples` is what PyAV's AudioFrame.to_ndarray() gives: (channels, n) when planar, (1, n * channels)
    interleaved when packed."""
    if samples.dtype.kind == "f":
        values = np.clip(samples.astype(np.float64) * 32768.0, -32768, 32767)
    else:
        values = samples.astype(np.float64)
    if channels > 1:
        values = values.mean(axis=0) if planar else values.reshape(-1, channels).mean(axis=1)
    pcm: bytes = np.rint(values).astype("<i2").tobytes()
    return pcm


class CallerAudio:
    """Caller frames in order; `push` never waits (it runs in the track's reader), a full FIFO drops the oldest."""

    def __init__(self, sample_rate: int, max_seconds: float = INBOUND_MAX_SECONDS) -> None:
        self.sample_rate = sample_rate
        self.frame_size = frame_bytes(sample_rate)
        self.dropped = 0
        self.received = 0  # 20 ms frames made from the browser's audio
        self.filled = 0  # 20 ms frames of silence put in while the browser sent nothing
        self._frames: deque[bytes] = deque()
        self._max_frames = max(1, int(max_seconds * 1000 / FRAME_MS))
        self._pending = bytearray()  # resampled audio short of a whole frame
        self._resampler: Resampler | None = None
        self._available = asyncio.Event()
        self._closed = False

    @property
    def backlog(self) -> int:
        return len(self._frames)

    @property
    def closed(self) -> bool:
        return self._closed

    def push(self, pcm: bytes, rate: int) -> None:
        """PCM16 mono at `rate`: resampled (once, to the call's rate) and queued as whole 20 ms frames."""
        if self._closed:
            return
        if self._resampler is None or self._resampler.in_rate != rate:
            if self._resampler is not None:
                log.info("browser audio changed rate: %d -> %d Hz", self._resampler.in_rate, rate)
            self._resampler = Resampler(rate, self.sample_rate)
        self._pending += self._resampler.process(pcm)
        size = self.frame_size
        whole = len(self._pending) - len(self._pending) % size
        for start in range(0, whole, size):
            self._queue(bytes(self._pending[start : start + size]))
            self.received += 1
        del self._pending[:whole]

    def fill_silence(self) -> None:
        """One frame of silence: the browser sent nothing (the session's clock must still run)."""
        if not self._closed:
            self._queue(bytes(self.frame_size))
            self.filled += 1

    def _queue(self, frame: bytes) -> None:
        if len(self._frames) >= self._max_frames:
            self._frames.popleft()
            self.dropped += 1
            if self.dropped == 1:
                log.warning(
                    "caller audio overflow: the reader is %.0f s behind, oldest frames dropped",
                    self._max_frames * FRAME_MS / 1000,
                )
        self._frames.append(frame)
        self._available.set()

    async def read(self) -> bytes | None:
        """The next frame; waits while none is queued; None once closed."""
        while not self._frames:
            if self._closed:
                return None
            self._available.clear()
            await self._available.wait()
        if self._closed:
            return None
        return self._frames.popleft()

    def close(self) -> None:
        self._closed = True
        self._frames.clear()
        self._available.set()
