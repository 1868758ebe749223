"""Voice activity with webrtcvad: opens and closes the caller's turns, and keeps audio away from the recogniser
when nobody speaks.

How long a silence closes a turn is not fixed: the detector raises PAUSE once a short silence has passed, and
its owner then sets `end_silence_ms` for this turn (asr.endpointing: from what the dialogue expects and what
the recogniser heard so far). The caller speaking again before that cancels the pause.
"""

from __future__ import annotations

import enum
import math
from collections import deque

import numpy as np
import webrtcvad

_BYTES_PER_SAMPLE = 2


class TurnEvent(enum.Enum):
    SPEECH_START = "speech_start"
    PAUSE = "pause"  # the caller stopped for pause_ms: time to decide how long this turn's end may take
    RESUME = "resume"  # the caller spoke again after a PAUSE, in the same turn
    SPEECH_END = "speech_end"


def frame_dbfs(frame: bytes) -> float:
    """Level of a PCM16 frame in dB relative to full scale (-inf for digital silence)."""
    samples = np.frombuffer(frame, dtype="<i2").astype(np.float32)
    if not samples.size:
        return -math.inf
    rms = float(np.sqrt(np.mean(samples * samples)))
    return 20 * math.log10(rms / 32768.0) if rms > 0 else -math.inf


class TurnDetector:
    """Feed it every caller frame (10, 20 or 30 ms of PCM16 at 8, 16, 32 or 48 kHz).

    SPEECH_START once `start_ms` of consecutive voiced audio at `min_dbfs` or louder arrived (line noise and a
    faint echo of the bot's own voice do not open a turn); `pre_roll()` then holds the audio from up to
    `pre_roll_ms` before that point, so the first syllable reaches the recogniser.
    PAUSE once per pause after `pause_ms` of unvoiced audio (if shorter than `end_silence_ms`), RESUME if the
    caller then speaks again before the turn ends.
    SPEECH_END after `end_silence_ms` of consecutive unvoiced audio (in a turn, a frame below `silence_dbfs` is
    unvoiced whatever webrtcvad says), or when the turn reaches
    `max_turn_s` (`ended_by_cap` tells which). `end_silence_ms` may change mid-turn; it applies at once.
    """

    def __init__(
        self,
        sample_rate: int = 8000,
        aggressiveness: int = 2,
        start_ms: int = 120,
        end_silence_ms: int = 700,
        max_turn_s: float = 15.0,
        pre_roll_ms: int = 300,
        pause_ms: int = 250,
        min_dbfs: float = -50.0,
        silence_dbfs: float = -60.0,
    ) -> None:
        if sample_rate not in (8000, 16000, 32000, 48000):
            raise ValueError(f"webrtcvad needs 8, 16, 32 or 48 kHz audio, got {sample_rate} Hz")
        if not 0 <= aggressiveness <= 3:
            raise ValueError(f"aggressiveness must be 0..3, got {aggressiveness}")
        if start_ms <= 0 or end_silence_ms <= 0 or max_turn_s <= 0 or pre_roll_ms < 0 or pause_ms <= 0:
            raise ValueError("start_ms, end_silence_ms, pause_ms and max_turn_s must be positive, pre_roll_ms >= 0")
        self.sample_rate = sample_rate
        self.start_ms = start_ms
        self.end_silence_ms = end_silence_ms
        self.max_turn_s = max_turn_s
        self.pre_roll_ms = pre_roll_ms
        self.pause_ms = pause_ms
        self.min_dbfs = min_dbfs
        self.silence_dbfs = silence_dbfs
        self._paused = False
        self._vad = webrtcvad.Vad(aggressiveness)
        self._buffer: deque[tuple[bytes, float]] = deque()
        self._buffered_ms: float
        self._pre_roll: bytes
        self._voiced_run_ms: float
        self._silent_run_ms: float
        self._turn_ms: float
        self.in_speech: bool
        self.ended_by_cap: bool
        self.ended_after_ms = 0.0  # the silence that ended the last turn (0 when the cap did)
        self.reset()

    def _frame_ms(self, frame: bytes) -> float:
        samples = len(frame) // _BYTES_PER_SAMPLE
        if len(frame) % _BYTES_PER_SAMPLE or not webrtcvad.valid_rate_and_frame_length(self.sample_rate, samples):
            raise ValueError(f"frame of {len(frame)} bytes is not 10, 20 or 30 ms of PCM16 at {self.sample_rate} Hz")
        return samples * 1000.0 / self.sample_rate

    def push(self, frame: bytes) -> TurnEvent | None:
        frame_ms = self._frame_ms(frame)
        voiced = self._vad.is_speech(frame, self.sample_rate)
        if voiced and not self.in_speech and frame_dbfs(frame) < self.min_dbfs:
            voiced = False  # too faint to be someone talking to us
        elif voiced and self.in_speech and frame_dbfs(frame) < self.silence_dbfs:
            # webrtcvad keeps saying "speech" for 100-130 ms after a voice stops (its hangover): a frame this
            # quiet (a silent line, comfort noise) is the silence that ends a turn from its first frame on.
            voiced = False
        if self.in_speech:
            return self._push_in_speech(frame_ms, voiced)
        return self._push_idle(frame, frame_ms, voiced)

    def _push_idle(self, frame: bytes, frame_ms: float, voiced: bool) -> TurnEvent | None:
        self._buffer.append((frame, frame_ms))
        self._buffered_ms += frame_ms
        self._voiced_run_ms = self._voiced_run_ms + frame_ms if voiced else 0.0
        if self._voiced_run_ms >= self.start_ms:
            self._pre_roll = b"".join(f for f, _ in self._buffer)
            self._buffer.clear()
            self._buffered_ms = 0.0
            self.in_speech = True
            self.ended_by_cap = False
            self._turn_ms = self._voiced_run_ms
            self._silent_run_ms = 0.0
            return TurnEvent.SPEECH_START
        # Keep the voiced run being counted plus pre_roll_ms before it.
        keep_ms = self._voiced_run_ms + self.pre_roll_ms
        while self._buffer and self._buffered_ms - self._buffer[0][1] >= keep_ms:
            self._buffered_ms -= self._buffer.popleft()[1]
        return None

    def _push_in_speech(self, frame_ms: float, voiced: bool) -> TurnEvent | None:
        self._turn_ms += frame_ms
        self._silent_run_ms = 0.0 if voiced else self._silent_run_ms + frame_ms
        resumed = voiced and self._paused
        if voiced:
            self._paused = False
        if self._silent_run_ms >= self.end_silence_ms:
            return self._end(by_cap=False)
        if self._turn_ms >= self.max_turn_s * 1000.0:
            return self._end(by_cap=True)
        if resumed:
            return TurnEvent.RESUME
        if not self._paused and self._silent_run_ms >= self.pause_ms:
            self._paused = True
            return TurnEvent.PAUSE
        return None

    @property
    def silence_ms(self) -> float:
        """Unvoiced audio since the caller last spoke, in the current turn."""
        return self._silent_run_ms

    def _end(self, by_cap: bool) -> TurnEvent:
        self.ended_after_ms = 0.0 if by_cap else self._silent_run_ms
        self.in_speech = False
        self._paused = False
        self.ended_by_cap = by_cap
        self._voiced_run_ms = 0.0
        self._silent_run_ms = 0.0
        return TurnEvent.SPEECH_END

    def pre_roll(self) -> bytes:
        """Audio up to and including the frame that raised the last SPEECH_START."""
        return self._pre_roll

    def reset(self) -> None:
        """Forget everything heard so far (e.g. after the bot's own prompt)."""
        self._buffer.clear()
        self._buffered_ms = 0.0
        self._pre_roll = b""
        self._voiced_run_ms = 0.0
        self._silent_run_ms = 0.0
        self._turn_ms = 0.0
        self.in_speech = False
        self.ended_by_cap = False
        self._paused = False
