"""Does a recording contain a given rendering? Compare loudness envelopes, which survive G.711 and resampling."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HOP_S = 0.01


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2, f"{path}: 16-bit PCM expected"
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        if wav.getnchannels() > 1:
            samples = samples.reshape(-1, wav.getnchannels())[:, 0]
        return samples.astype(np.float64), wav.getframerate()


def envelope(samples: np.ndarray, rate: int) -> np.ndarray:
    """Log-energy every 10 ms."""
    hop = int(rate * HOP_S)
    frames = len(samples) // hop
    blocks = samples[: frames * hop].reshape(frames, hop)
    levels: np.ndarray = np.log10(np.mean(blocks**2, axis=1) + 1.0)
    return levels


@dataclass(frozen=True)
class Match:
    correlation: float  # Pearson correlation of the envelopes at the best offset
    offset_s: float  # where the rendering starts in the recording


def locate(recording: np.ndarray, rendering: np.ndarray, rate: int, search_from_s: float = 0.0) -> Match:
    """Best alignment of `rendering` inside `recording` (both at `rate`)."""
    haystack = envelope(recording, rate)
    needle = envelope(rendering, rate)
    start = int(search_from_s / HOP_S)
    best = Match(-1.0, 0.0)
    centred = needle - needle.mean()
    norm = np.linalg.norm(centred)
    for offset in range(start, len(haystack) - len(needle) + 1):
        window = haystack[offset : offset + len(needle)]
        window_centred = window - window.mean()
        denominator = norm * np.linalg.norm(window_centred)
        if denominator == 0:
            continue
        correlation = float(np.dot(centred, window_centred) / denominator)
        if correlation > best.correlation:
            best = Match(correlation, offset * HOP_S)
    return best


def speech_onsets(samples: np.ndarray, rate: int, threshold_db: float = 30.0, min_gap_s: float = 0.6) -> list[float]:
    """Times where sound starts after at least `min_gap_s` of near-silence."""
    level = 10 * envelope(samples, rate)  # dB re 1 LSB
    loud = level > threshold_db
    onsets: list[float] = []
    quiet_run = int(min_gap_s / HOP_S)
    for index in np.flatnonzero(loud):
        before = loud[max(0, index - quiet_run) : index]
        if index == 0 or not before.any():
            onsets.append(index * HOP_S)
    return onsets
