"""The AudioPort of a browser call: the bot's track (20 ms frames, paced, silence when idle), playback as RTP gives
it, the browser's frames to the session, silence and the media timeout on the media clock."""

from __future__ import annotations

import asyncio
import fractions

import numpy as np
from av import AudioFrame

from callbot.rtp.clock import MediaClock
from callbot.rtp.playback import PlaybackQueue
from callbot.webrtc.outbound import BotTrack
from callbot.webrtc.port import SILENCE_AFTER_TICKS, WebRtcAudio

RATE = 16000
FRAME = 640  # 20 ms at 16 kHz, PCM16


def browser_frame(samples: np.ndarray, rate: int = 48000, pts: int = 0) -> AudioFrame:
    """What aiortc's Opus decoder gives: s16, stereo, interleaved."""
    stereo = np.repeat(samples.astype(np.int16), 2).reshape(1, -1)
    frame = AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
    frame.sample_rate = rate
    frame.pts = pts
    frame.time_base = fractions.Fraction(1, rate)
    return frame


async def test_the_track_gives_20ms_frames_of_bot_audio_then_silence() -> None:
    playback = PlaybackQueue(FRAME)
    track = BotTrack(playback, RATE)
    playback.append(np.full(320 * 3 // 2, 1000, dtype="<i2").tobytes())  # 30 ms: two frames, the last padded
    frames = [await track.recv() for _ in range(3)]
    assert [f.samples for f in frames] == [320, 320, 320]
    assert [f.pts for f in frames] == [0, 320, 640]
    assert all(f.sample_rate == RATE and f.format.name == "s16" and f.layout.name == "mono" for f in frames)
    samples = [f.to_ndarray().reshape(-1) for f in frames]
    assert (samples[0] == 1000).all()
    assert (samples[1][:160] == 1000).all() and (samples[1][160:] == 0).all()
    assert not samples[2].any()  # nothing queued: silence
    assert (track.frames_sent, track.audio_frames) == (3, 2)


async def test_the_track_is_paced_in_real_time_by_its_timestamps() -> None:
    track = BotTrack(PlaybackQueue(FRAME), RATE)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(11):
        await track.recv()
    elapsed = loop.time() - started
    assert 0.19 <= elapsed < 0.3  # frame n leaves at n x 20 ms


async def test_a_stalled_track_skips_ahead_instead_of_bursting() -> None:
    now = [100.0]
    track = BotTrack(PlaybackQueue(FRAME), RATE, clock=lambda: now[0])
    await track.recv()
    now[0] += 1.0  # the loop was blocked for a second
    frame = await track.recv()
    assert track.skipped == 49
    assert frame.pts == 50 * 320  # the timestamp follows real time


async def test_a_stopped_track_ends_aiortc_sending() -> None:
    from aiortc.mediastreams import MediaStreamError

    track = BotTrack(PlaybackQueue(FRAME), RATE)
    track.stop()
    try:
        await track.recv()
    except MediaStreamError:
        return
    raise AssertionError("recv() on a stopped track must raise MediaStreamError")


async def test_playback_pending_clear_and_wait_played() -> None:
    audio = WebRtcAudio(RATE)
    audio.play(bytes(FRAME * 10))
    assert audio.playback_pending() == 0.2
    audio.clear_playback()  # barge-in
    assert audio.playback_pending() == 0
    await asyncio.wait_for(audio.wait_played(), 0.1)
    audio.play(bytes(FRAME * 3))
    waiting = asyncio.create_task(audio.wait_played())
    for _ in range(2):
        await audio.track.recv()
    await asyncio.sleep(0)
    assert not waiting.done()
    await audio.track.recv()
    await asyncio.wait_for(waiting, 0.1)
    await audio.close()
    audio.play(bytes(FRAME))  # after the call: ignored
    assert audio.playback_pending() == 0


async def test_browser_frames_reach_the_session_at_its_rate() -> None:
    audio = WebRtcAudio(RATE)
    tone = (8000 * np.sin(2 * np.pi * 500 * np.arange(48000 // 2) / 48000)).astype(np.int16)
    for index, start in enumerate(range(0, len(tone), 960)):
        audio.take(browser_frame(tone[start : start + 960], pts=index * 960))
    assert audio.caller.backlog >= 24
    frame = await audio.read_frame()
    assert frame is not None and len(frame) == FRAME
    assert audio.frames_dropped == 0
    await audio.close()
    assert await audio.read_frame() is None


async def test_silence_fills_in_when_the_browser_sends_nothing_and_the_media_times_out() -> None:
    audio = WebRtcAudio(RATE, media_timeout_s=1.0, clock=MediaClock())
    audio._last_received = 0.0
    for tick in range(SILENCE_AFTER_TICKS):
        audio.on_tick(tick, 0.02 * tick)
    assert audio.caller.backlog == 0  # the browser's jitter buffer may still be holding frames
    audio.on_tick(SILENCE_AFTER_TICKS, 0.1)
    assert audio.caller.backlog == 1 and await audio.read_frame() == bytes(FRAME)
    audio.take(browser_frame(np.zeros(960, dtype=np.int16)))  # audio again: no more filling
    backlog = audio.caller.backlog
    audio.on_tick(SILENCE_AFTER_TICKS + 1, 0.12)
    assert audio.caller.backlog == backlog
    assert not audio.media_timeout.is_set()
    audio.on_tick(100, audio._last_received + 1.0)
    assert audio.media_timeout.is_set()
    await audio.close()
