"""Caller audio from the jitter buffer to the reader, in 20 ms frames, on the media clock.

Each tick releases whatever the jitter buffer can release into a FIFO of frames, so a late reader finds its
backlog in order instead of losing it. When nothing comes (DTX, hold, an outage), silence is inserted once a few
ticks went by, so the timeline keeps real-time pace for the voice-activity detector; when the caller's packets
resume, their RTP timestamps tell how much silence the gap really held, and what is missing is added.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque

from audio import FRAME_MS
from callbot.rtp.jitter import JitterBuffer, Released
from callbot.rtp.stats import RtpStats

logger = logging.getLogger(__name__)

_TIMESTAMP_MOD = 1 << 32


class InboundAudio:
    def __init__(
        self,
        jitter: JitterBuffer,
        stats: RtpStats,
        frame_bytes: int,
        *,
        fill_after: int,
        max_frames: int,
        max_topup_frames: int = 50,
        name: str = "",
    ) -> None:
        """`fill_after`: ticks without audio before silence is inserted (beyond the jitter buffer's wait, or a
        late packet becomes extra silence); `max_frames`: FIFO bound; `max_topup_frames`: the most silence a
        timestamp gap may add (a larger jump is a sender's restart, not a pause)."""
        self._jitter = jitter
        self._stats = stats
        self._frame_bytes = frame_bytes
        self._spf = frame_bytes // 2  # samples per frame (PCM16)
        self._fill_after = fill_after
        self._max_frames = max_frames
        self._max_topup = max_topup_frames * self._spf
        self._name = name
        self._frames: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._overflow_logged = False
        self._carry = b""  # less than a frame, waiting for the next packet (10 ms, 30 ms packets)
        self._idle = 0  # ticks since the last audio went out, less what that audio covers beyond its own tick
        # Timeline bookkeeping, in samples.
        self._fill_credit = 0  # inserted silence that the caller's missing packets have not yet accounted for
        self._since_audio = 0  # put out since the end of the caller's last audio packet
        self._audio_end: int | None = None  # RTP timestamp just after that packet
        self._stream = -1

    @property
    def backlog(self) -> int:
        """Frames waiting for the reader."""
        return len(self._frames)

    def on_tick(self) -> None:
        if self._closed:
            return
        self._jitter.tick()
        self._idle += 1
        last = 0
        while (item := self._jitter.pop()) is not None:
            last = self._take(item) or last
        if last:
            # A 60 ms packet covers this tick and the next two. Only the last packet counts: a burst (after a
            # stall) stands for time already past, and must not delay the silence of a pause that follows.
            self._idle = 1 - math.ceil(last / self._spf)
        elif self._idle > self._fill_after:
            self._fill()

    async def read(self) -> bytes | None:
        """The next frame, waiting for one if need be; None once closed."""
        while True:
            if self._closed:
                return None
            if self._frames:
                self._stats.frames_read += 1
                return self._frames.popleft()
            self._ready.clear()
            await self._ready.wait()

    def close(self) -> None:
        self._closed = True
        self._frames.clear()
        self._ready.set()

    def _take(self, item: Released) -> int:
        """Put one released packet on the timeline; returns the samples it added (0: its slot was filled)."""
        samples = len(item.pcm) // 2
        if item.timestamp is None:
            # Concealment or a DTMF/comfort-noise slot: if silence already stood in for it, that was its slot.
            if self._fill_credit >= samples:
                self._fill_credit -= samples
                return 0
            self._fill_credit = 0
            self._since_audio += samples
        else:
            if item.stream == self._stream and self._audio_end is not None:
                gap = (item.timestamp - self._audio_end) % _TIMESTAMP_MOD
                missing = gap - self._since_audio
                if 0 < missing <= self._max_topup:
                    # The pause (DTX, an outage) was longer than the silence inserted while it lasted.
                    frames = missing // self._spf
                    self._stats.silence_filled += frames
                    self._append(bytes(frames * self._frame_bytes))
            self._stream = item.stream
            self._audio_end = (item.timestamp + samples) % _TIMESTAMP_MOD
            self._since_audio = 0
            self._fill_credit = 0
        self._append(item.pcm)
        return samples

    def _fill(self) -> None:
        pad = self._frame_bytes - len(self._carry)
        self._stats.silence_filled += 1
        self._fill_credit += pad // 2
        self._since_audio += pad // 2
        self._append(bytes(pad))

    def _append(self, pcm: bytes) -> None:
        size = self._frame_bytes
        if not self._carry and len(pcm) == size:
            self._put(pcm)  # the common case: one 20 ms packet, one frame, no copy
            return
        data = self._carry + pcm
        start = 0
        while len(data) - start >= size:
            self._put(data[start : start + size])
            start += size
        self._carry = data[start:]

    def _put(self, frame: bytes) -> None:
        if len(self._frames) >= self._max_frames:
            self._frames.popleft()
            self._stats.inbound_overflow += 1
            if not self._overflow_logged:
                self._overflow_logged = True
                logger.warning(
                    "%s: caller audio not read for %.0f s, dropping the oldest frames",
                    self._name or "RTP session",
                    self._max_frames * FRAME_MS / 1000,
                )
        self._frames.append(frame)
        self._stats.frames_released += 1
        self._ready.set()
