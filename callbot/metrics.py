"""Counters the /metrics page shows."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class CallMetrics:
    calls_total: int = 0
    calls_active: int = 0
    caller_turns_total: int = 0
    handoffs_total: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    # seconds from the end of the caller's speech to the dialogue's reply, before synthesis (not on /metrics)
    reply_latencies: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    # seconds from the end of the caller's speech to the reply's first audio queued on the line
    first_audio_latencies: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    caller_frames_total: int = 0  # 20 ms frames the legs gave the listeners
    recognised_frames_total: int = 0  # of which reached a recogniser (speech only)
    caller_frames_dropped_total: int = 0  # lost before the listener read them (0 unless a reader stalled > 10 s)
    barge_ins_total: int = 0
    previews_total: int = 0  # answers prepared at a pause, before the end of the turn was sure
    previews_taken_back_total: int = 0  # of which the caller went on speaking: the dialogue rewound
    # CPU-seconds of the server and its children (callbot.energy), while calls were active / while none was
    cpu_calls_seconds: float = 0.0
    cpu_idle_seconds: float = 0.0

    def record_outcome(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
