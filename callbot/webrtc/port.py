"""The AudioPort of a browser call: what the session reads and plays, over aiortc's tracks.

In: a task reads the browser's track (decoded frames, 48 kHz for Opus) and hands each frame to CallerAudio at
once (resampled to the call's rate, 20 ms frames, bounded FIFO): aiortc's receive loop never waits on the session.
On the process's media clock (the one every RTP session rides), silence is put in while the browser sends
nothing, so the voice-activity clock runs, and a browser silent for `media_timeout_s` ends the call.
Out: the bot's PCM is queued for BotTrack, which aiortc's sender pulls every 20 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from audio import frame_bytes
from callbot.audio import AudioPort
from callbot.rtp.clock import MediaClock, default_clock
from callbot.rtp.playback import PlaybackQueue
from callbot.webrtc.inbound import CallerAudio, mono_pcm16
from callbot.webrtc.outbound import BotTrack

log = logging.getLogger(__name__)

# Ticks (20 ms) without a frame from the browser before silence is put in: its jitter buffer may hold a few.
SILENCE_AFTER_TICKS = 5


class WebRtcAudio(AudioPort):
    def __init__(self, sample_rate: int, media_timeout_s: float = 30.0, clock: MediaClock | None = None) -> None:
        self.sample_rate = sample_rate
        self.media_timeout_s = media_timeout_s
        self.caller = CallerAudio(sample_rate)
        self._playback = PlaybackQueue(frame_bytes(sample_rate))
        self.track = BotTrack(self._playback, sample_rate)
        self.media_timeout = asyncio.Event()  # the browser sent no audio for media_timeout_s
        self.not_audio = 0  # frames from the browser that were not audio (ignored)
        self._clock = clock
        self._on_clock = False
        self._reader: asyncio.Task[None] | None = None
        self._last_received = 0.0
        self._ticks_without_audio = 0
        self._closed = False

    # ---- lifecycle -----------------------------------------------------------------------------------------

    def listen(self, remote: MediaStreamTrack) -> None:
        """Read the browser's track from now on (one track per call: a second one replaces the first)."""
        if self._closed:
            return
        if self._reader is not None:
            self._reader.cancel()
        self._reader = asyncio.create_task(self._read(remote), name="webrtc-caller-audio")
        self._last_received = asyncio.get_running_loop().time()
        if not self._on_clock:
            if self._clock is None:
                self._clock = default_clock()
            self._clock.add(self)
            self._on_clock = True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.caller.close()
        self._playback.clear()
        self.track.stop()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._on_clock and self._clock is not None:
            await self._clock.remove(self)

    async def _read(self, remote: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await remote.recv()
            except MediaStreamError:
                return  # the peer connection is closing: the leg sees it
            if not isinstance(frame, AudioFrame):
                self.not_audio += 1
                continue
            self.take(frame)

    def take(self, frame: AudioFrame) -> None:
        """One decoded frame from the browser."""
        self._last_received = asyncio.get_running_loop().time()
        self._ticks_without_audio = 0
        pcm = mono_pcm16(frame.to_ndarray(), frame.layout.nb_channels, frame.format.is_planar)
        self.caller.push(pcm, frame.sample_rate)

    def on_tick(self, tick: int, now: float) -> None:
        """The media clock, every 20 ms: silence while the browser sends nothing; the media timeout."""
        self._ticks_without_audio += 1
        if self._ticks_without_audio > SILENCE_AFTER_TICKS:
            self.caller.fill_silence()
        if now - self._last_received >= self.media_timeout_s and not self.media_timeout.is_set():
            log.info("no audio from the browser for %.0f s", self.media_timeout_s)
            self.media_timeout.set()

    # ---- AudioPort -----------------------------------------------------------------------------------------

    async def read_frame(self) -> bytes | None:
        return await self.caller.read()

    @property
    def frames_dropped(self) -> int:
        return self.caller.dropped

    def play(self, pcm: bytes) -> None:
        if not self._closed:
            self._playback.append(pcm)

    def clear_playback(self) -> None:
        self._playback.clear()

    def playback_pending(self) -> float:
        return self._playback.pending_bytes / (2 * self.sample_rate)

    async def wait_played(self) -> None:
        await self._playback.wait_drained()
