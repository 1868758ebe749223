"""The bot's voice as a WebRTC track: aiortc's sender pulls one 20 ms frame at a time and encodes it (Opus, or G.711).

The track paces itself by its own timestamps, as aiortc's tracks do: frame n is handed over at start + n x 20 ms,
so aiortc sends in real time whatever the queue holds, or silence when it holds nothing.
"""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import Callable

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from audio import FRAME_MS, frame_bytes
from callbot.rtp.playback import PlaybackQueue

# Behind real time by more than this (a stalled loop), the track skips the missed frames instead of bursting.
MAX_LAG_S = 0.2


class BotTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, playback: PlaybackQueue, sample_rate: int, clock: Callable[[], float] | None = None) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.samples = sample_rate * FRAME_MS // 1000
        self.time_base = fractions.Fraction(1, sample_rate)
        self._silence = bytes(frame_bytes(sample_rate))
        self._playback = playback
        self._clock = clock
        self._start: float | None = None
        self._pts = 0
        self.frames_sent = 0  # frames handed to aiortc
        self.audio_frames = 0  # of which bot audio (not silence)
        self.skipped = 0  # frames skipped after a stall

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = self._now()
        else:
            self._pts += self.samples
            wait = self._start + self._pts / self.sample_rate - self._now()
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -MAX_LAG_S:
                missed = int(-wait * self.sample_rate) // self.samples
                self._pts += missed * self.samples
                self.skipped += missed
        if self.readyState != "live":
            raise MediaStreamError
        pcm = self._playback.pop_frame()
        if pcm is None:
            pcm = self._silence
        else:
            self.audio_frames += 1
        self.frames_sent += 1
        frame = AudioFrame(format="s16", layout="mono", samples=self.samples)
        frame.planes[0].update(pcm)
        frame.sample_rate = self.sample_rate
        frame.pts = self._pts
        frame.time_base = self.time_base
        return frame
