from __future__ import annotations

import numpy as np
import pytest

from audio import FRAME_MS, Resampler, frame_bytes


def tone(rate: int, seconds: float, frequency: float = 440.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * np.pi * frequency * t)).astype("<i2").tobytes()


def assert_same_audio(a: bytes, b: bytes) -> None:
    """Equal length and equal samples up to rounding (soxr may round a chunk boundary differently)."""
    assert len(a) == len(b)
    diff = np.abs(np.frombuffer(a, "<i2").astype(np.int32) - np.frombuffer(b, "<i2").astype(np.int32))
    assert diff.max() <= 2


def dominant_frequency(pcm: bytes, rate: int) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def test_frame_sizes() -> None:
    assert FRAME_MS == 20
    assert frame_bytes(8000) == 320 and frame_bytes(16000) == 640 and frame_bytes(48000) == 1920


@pytest.mark.parametrize(("in_rate", "out_rate"), [(8000, 16000), (22050, 8000), (48000, 8000)])
def test_streaming_resampling_keeps_length_and_pitch(in_rate: int, out_rate: int) -> None:
    source = tone(in_rate, 1.0)
    resampler = Resampler(in_rate, out_rate)
    step = frame_bytes(in_rate)
    out = b"".join(resampler.process(source[i : i + step]) for i in range(0, len(source), step))
    out += resampler.flush()
    assert abs(len(out) // 2 - out_rate) <= 2
    assert dominant_frequency(out, out_rate) == pytest.approx(440, abs=3)
    # Streamed in 20 ms chunks = resampled at once: the filter state crossed every chunk boundary.
    whole = Resampler(in_rate, out_rate)
    at_once = whole.process(source) + whole.flush()
    assert_same_audio(out, at_once)


def test_chunks_that_split_a_sample_are_joined() -> None:
    source = tone(8000, 0.1)
    resampler = Resampler(8000, 16000)
    out = b"".join(resampler.process(source[i : i + 3]) for i in range(0, len(source), 3)) + resampler.flush()
    reference = Resampler(8000, 16000)
    assert_same_audio(out, reference.process(source) + reference.flush())


def test_same_rate_passes_through_and_flush_allows_reuse() -> None:
    passthrough = Resampler(8000, 8000)
    assert passthrough.process(b"\x01\x02\x03") == b"\x01\x02"
    assert passthrough.process(b"\x04") == b"\x03\x04"
    assert passthrough.flush() == b""
    resampler = Resampler(16000, 8000)
    first = resampler.process(tone(16000, 0.2)) + resampler.flush()
    second = resampler.process(tone(16000, 0.2)) + resampler.flush()
    assert_same_audio(first, second)
    assert len(first) == 0.2 * 8000 * 2


def test_bad_rates_are_refused() -> None:
    with pytest.raises(ValueError):
        Resampler(0, 8000)
