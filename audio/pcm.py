"""PCM audio as the whole server handles it: PCM16 little-endian mono `bytes`, in frames of FRAME_MS.

Below asr/, tts/ and the transports: each of them resamples and frames audio the same way, and none
imports another for it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

FRAME_MS = 20
SAMPLE_WIDTH = 2  # bytes per PCM16 sample
_INT16_SCALE = 32768.0


def frame_bytes(sample_rate: int) -> int:
    """Size in bytes of one FRAME_MS frame of PCM16 mono at `sample_rate`."""
    return sample_rate * FRAME_MS // 1000 * SAMPLE_WIDTH


class Resampler:
    """Streaming PCM16 mono resampler (soxr); filter state carries over between chunks (no clicks).

    The one way audio changes rate in the server (the recogniser's input, the voice's output). It resamples
    in float32: libsoxr dithers its int16 output at random, which would make the same input give different
    samples from one run to the next.
    """

    def __init__(self, in_rate: int, out_rate: int, quality: str = "HQ") -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} -> {out_rate}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._quality = quality
        self._odd_byte = b""  # a chunk may split a sample; keep its first byte for the next call
        self._stream = self._new_stream()

    def _new_stream(self) -> soxr.ResampleStream | None:
        if self.in_rate == self.out_rate:
            return None
        return soxr.ResampleStream(self.in_rate, self.out_rate, 1, dtype="float32", quality=self._quality)

    def process(self, pcm: bytes) -> bytes:
        """Resample the next chunk; output lags input by the filter delay until flush()."""
        data = self._odd_byte + pcm
        usable = len(data) - len(data) % SAMPLE_WIDTH
        self._odd_byte = data[usable:]
        if self._stream is None:
            return data[:usable]
        if not usable:
            return b""
        samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / _INT16_SCALE
        return _to_pcm(self._stream.resample_chunk(samples))

    def flush(self) -> bytes:
        """The remaining output of the stream; the resampler can then be used for a new stream."""
        self._odd_byte = b""
        if self._stream is None:
            return b""
        tail = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        self._stream = self._new_stream()
        return _to_pcm(tail)


def _to_pcm(samples: npt.NDArray[np.float32]) -> bytes:
    pcm: bytes = np.clip(np.rint(samples * _INT16_SCALE), -32768, 32767).astype("<i2").tobytes()
    return pcm
