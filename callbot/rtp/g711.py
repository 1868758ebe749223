"""G.711 µ-law and A-law (ITU-T G.711), vectorised with lookup tables.

The tables are computed once from the segment/quantisation rules of the recommendation: 8 segments of 16
steps, µ-law on a 14-bit magnitude with a bias of 33, A-law on a 13-bit magnitude with even bits inverted.
Negative µ-law samples are truncated towards zero before the 2-bit shift, as the classic Sun reference code
(and Python's audioop) does, so results are bit-exact with those.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ULAW_SILENCE = 0xFF
ALAW_SILENCE = 0xD5

_ULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ALAW_SEGMENT_ENDS = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_ULAW_CLIP = 8159
_ULAW_BIAS = 33


def _build_ulaw_encoder() -> npt.NDArray[np.uint8]:
    linear = np.arange(-32768, 32768, dtype=np.int32)
    shifted = linear >> 2
    negative = shifted < 0
    # -(x >> 2), not (-x) >> 2: C's truncation on the already-shifted value (see module docstring).
    magnitude = np.minimum(np.where(negative, -shifted, shifted), _ULAW_CLIP) + _ULAW_BIAS
    segment = np.searchsorted(_ULAW_SEGMENT_ENDS, magnitude, side="left").astype(np.int32)
    step = (magnitude >> (np.minimum(segment, 7) + 1)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | step)
    mask = np.where(negative, 0x7F, 0xFF)
    table = (code ^ mask).astype(np.uint8)
    # Index by the sample's bit pattern read as uint16, so encoding is a single take().
    return np.roll(table, -32768)


def _build_alaw_encoder() -> npt.NDArray[np.uint8]:
    linear = np.arange(-32768, 32768, dtype=np.int32)
    shifted = linear >> 3
    negative = shifted < 0
    magnitude = np.where(negative, -shifted - 1, shifted)
    segment = np.searchsorted(_ALAW_SEGMENT_ENDS, magnitude, side="left").astype(np.int32)
    step = np.where(segment < 2, magnitude >> 1, magnitude >> np.minimum(segment, 7)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | step)
    mask = np.where(negative, 0x55, 0xD5)
    return np.roll((code ^ mask).astype(np.uint8), -32768)


def _build_ulaw_decoder() -> npt.NDArray[np.int16]:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (code & 0x70) >> 4
    magnitude = ((((code & 0x0F) << 3) + 0x84) << exponent) - 0x84
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


def _build_alaw_decoder() -> npt.NDArray[np.int16]:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (code & 0x70) >> 4
    step = (code & 0x0F) << 4
    magnitude = np.where(segment == 0, step + 8, (step + 0x108) << np.maximum(segment - 1, 0))
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


_ULAW_ENCODE = _build_ulaw_encoder()
_ALAW_ENCODE = _build_alaw_encoder()
_ULAW_DECODE = _build_ulaw_decoder()
_ALAW_DECODE = _build_alaw_decoder()


def _encode(table: npt.NDArray[np.uint8], pcm: bytes) -> bytes:
    if len(pcm) % 2:
        raise ValueError(f"PCM16 data must have an even length, got {len(pcm)} bytes")
    samples = np.frombuffer(pcm, dtype="<u2")
    encoded: npt.NDArray[np.uint8] = table[samples]
    return encoded.tobytes()


def _decode(table: npt.NDArray[np.int16], data: bytes) -> bytes:
    codes = np.frombuffer(data, dtype=np.uint8)
    return table[codes].astype("<i2").tobytes()


def ulaw_encode(pcm: bytes) -> bytes:
    """PCM16 little-endian -> µ-law, one byte per sample."""
    return _encode(_ULAW_ENCODE, pcm)


def ulaw_decode(data: bytes) -> bytes:
    """µ-law -> PCM16 little-endian."""
    return _decode(_ULAW_DECODE, data)


def alaw_encode(pcm: bytes) -> bytes:
    """PCM16 little-endian -> A-law, one byte per sample."""
    return _encode(_ALAW_ENCODE, pcm)


def alaw_decode(data: bytes) -> bytes:
    """A-law -> PCM16 little-endian."""
    return _decode(_ALAW_DECODE, data)
