"""A real voice that records each synthesis (text, thread, start and end), and can hold it until released."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
from piper import SynthesisConfig

from tts import Voice


@dataclass
class Synthesis:
    text: str
    thread: str
    started: float
    ended: float = 0.0  # 0: still running


@dataclass(eq=False)
class RecordingVoice(Voice):
    calls: list[Synthesis] = field(default_factory=list)
    # Cleared: each synthesis waits, once it has started, until the test sets it.
    gate: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)  # set by the first synthesis

    @classmethod
    def of(cls, voice: Voice) -> RecordingVoice:
        recording = cls(voice.model_path, voice.config_path, voice.sample_rate, voice.piper)
        recording.gate.set()
        return recording

    def speak(self, text: str, synthesis: SynthesisConfig | None = None) -> np.ndarray:
        call = Synthesis(text, threading.current_thread().name, time.perf_counter())
        self.calls.append(call)
        self.started.set()
        try:
            if not self.gate.wait(timeout=30):
                raise TimeoutError("the test never released the synthesis")
            return super().speak(text, synthesis)
        finally:
            call.ended = time.perf_counter()

    @property
    def texts(self) -> list[str]:
        return [call.text for call in self.calls]
