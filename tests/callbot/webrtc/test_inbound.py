"""The browser's audio as the session reads it: mono PCM16, resampled once, 20 ms frames, a bounded FIFO."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

import callbot.webrtc.inbound as inbound
from audio import Resampler, frame_bytes
from callbot.webrtc.inbound import CallerAudio, mono_pcm16


def sine(rate: int, seconds: float, hz: float = 440.0, amplitude: float = 8000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.rint(amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def test_packed_stereo_is_averaged_to_mono() -> None:
    interleaved = np.array([[100, 300, -50, -150, 7, 9]], dtype=np.int16)  # (1, samples x channels)
    assert np.frombuffer(mono_pcm16(interleaved, 2, planar=False), "<i2").tolist() == [200, -100, 8]


def test_planar_and_float_samples() -> None:
    planar = np.array([[100, -50], [300, -150]], dtype=np.int16)  # (channels, samples)
    assert np.frombuffer(mono_pcm16(planar, 2, planar=True), "<i2").tolist() == [200, -100]
    floats = np.array([[0.5, -1.0, 2.0]], dtype=np.float32)
    assert np.frombuffer(mono_pcm16(floats, 1, planar=False), "<i2").tolist() == [16384, -32768, 32767]


async def test_48k_frames_come_out_as_20ms_frames_at_the_call_rate_resampled_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[Resampler] = []

    class CountingResampler(Resampler):
        def __init__(self, in_rate: int, out_rate: int) -> None:
            super().__init__(in_rate, out_rate)
            made.append(self)

    monkeypatch.setattr(inbound, "Resampler", CountingResampler)
    caller = CallerAudio(16000)
    tone = sine(48000, 1.0, hz=1000)
    for start in range(0, len(tone), 960):  # Opus decodes 20 ms at 48 kHz
        caller.push(tone[start : start + 960].tobytes(), 48000)
    assert len(made) == 1 and (made[0].in_rate, made[0].out_rate) == (48000, 16000)
    # Whole 20 ms frames at 16 kHz only; the resampler's filter delay holds back under two frames.
    assert caller.backlog in (48, 49, 50) and caller.received == caller.backlog
    frames = [await caller.read() for _ in range(caller.backlog)]
    assert all(frame is not None and len(frame) == frame_bytes(16000) == 640 for frame in frames)
    pcm = np.frombuffer(b"".join(f for f in frames if f is not None), "<i2").astype(np.float64)
    steady = pcm[1600:]  # past the filter's start
    spectrum = np.abs(np.fft.rfft(steady))
    assert abs(np.argmax(spectrum) * 16000 / len(steady) - 1000) < 20  # still a 1 kHz tone
    assert 7000 < np.max(np.abs(steady)) < 9000  # at the same level


async def test_a_full_fifo_drops_the_oldest_frames_and_counts_them() -> None:
    caller = CallerAudio(8000, max_seconds=0.1)  # five frames
    for index in range(8):
        caller.push(np.full(160, index, dtype=np.int16).tobytes(), 8000)  # same rate: no resampling
    assert caller.backlog == 5 and caller.dropped == 3
    first = await caller.read()
    assert first is not None and np.frombuffer(first, "<i2")[0] == 3  # frames 0-2 went


async def test_read_waits_for_audio_and_returns_none_once_closed() -> None:
    caller = CallerAudio(8000)
    reading = asyncio.create_task(caller.read())
    await asyncio.sleep(0.01)
    assert not reading.done()
    caller.fill_silence()
    assert await reading == bytes(320)
    assert caller.filled == 1
    waiting = asyncio.create_task(caller.read())
    await asyncio.sleep(0.01)
    caller.close()
    assert await waiting is None
    caller.push(bytes(320), 8000)
    assert await caller.read() is None
