"""G.711 against the recommendation's anchor values and, bit for bit, against audioop (Python 3.11 only)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from callbot.rtp import g711
from callbot.rtp.codec import PCMA, PCMU, RtpCodec

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    audioop = pytest.importorskip("audioop")

ALL_SAMPLES = np.arange(-32768, 32768, dtype="<i2").tobytes()
ALL_CODES = bytes(range(256))


def decoded(data: bytes) -> list[int]:
    return [int(v) for v in np.frombuffer(data, dtype="<i2")]


def test_ulaw_matches_audioop_for_every_sample_and_code() -> None:
    assert g711.ulaw_encode(ALL_SAMPLES) == audioop.lin2ulaw(ALL_SAMPLES, 2)
    assert g711.ulaw_decode(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)


def test_alaw_matches_audioop_for_every_sample_and_code() -> None:
    assert g711.alaw_encode(ALL_SAMPLES) == audioop.lin2alaw(ALL_SAMPLES, 2)
    assert g711.alaw_decode(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)


def test_ulaw_anchor_values_from_the_recommendation() -> None:
    # Code 0xFF is +0, 0x7F is -0; the largest magnitude (8031 in 14-bit units, x4 in 16-bit) is 0x80 / 0x00.
    assert decoded(g711.ulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00]))) == [0, 0, 32124, -32124]
    assert g711.ulaw_encode(np.array([0, 32767, -32768], dtype="<i2").tobytes()) == bytes([0xFF, 0x80, 0x00])
    # Segment 0 steps are 2 (14-bit units): code 0xFE decodes to 2*4 = 8.
    assert decoded(g711.ulaw_decode(bytes([0xFE]))) == [8]


def test_alaw_anchor_values_from_the_recommendation() -> None:
    # Even bits inverted (0x55): the smallest positive value is code 0xD5 (decodes to 8), negative 0x55.
    assert decoded(g711.alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A]))) == [8, -8, 32256, -32256]
    assert g711.alaw_encode(np.array([0, -1, 32767, -32768], dtype="<i2").tobytes()) == bytes([0xD5, 0x55, 0xAA, 0x2A])


@pytest.mark.parametrize("codec", [PCMU, PCMA])
def test_round_trip_error_stays_within_the_quantisation_step(codec: RtpCodec) -> None:
    samples = np.frombuffer(ALL_SAMPLES, dtype="<i2").astype(np.int32)
    round_trip = np.frombuffer(codec.decode(codec.encode(ALL_SAMPLES)), dtype="<i2").astype(np.int32)
    error = np.abs(round_trip - samples)
    # Logarithmic companding: the error is bounded by about half a step, which grows with the magnitude.
    relative = error[np.abs(samples) > 256] / np.abs(samples[np.abs(samples) > 256])
    assert relative.max() < 0.07
    assert error[np.abs(samples) <= 256].max() <= 16
    assert codec.decode(bytes([codec.silence_byte]) * 4) in (bytes(8), np.array([8] * 4, "<i2").tobytes())


def test_odd_length_pcm_is_refused() -> None:
    with pytest.raises(ValueError):
        g711.ulaw_encode(b"\x00\x01\x02")


def test_unknown_codec_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported codec"):
        RtpCodec("G722", 9)
