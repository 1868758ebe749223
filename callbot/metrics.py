"""Counters and histograms the /metrics page shows (Prometheus text format, units in the names)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# Turn latencies in seconds: people answer each other within ~0.2 s; beyond 3 s a caller thinks the line is dead.
LATENCY_BUCKETS_S = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)
# Garbage-collection pauses in seconds: every call's audio waits meanwhile, a 20 ms frame slot is the unit that counts.
GC_PAUSE_BUCKETS_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


@dataclass
class Histogram:
    """Cumulative counts per upper bound, as Prometheus histograms are scraped (quantiles are computed by the
    monitoring side over any window, which a summary kept here could not give)."""

    bounds: tuple[float, ...] = LATENCY_BUCKETS_S
    counts: list[int] = field(default_factory=list)  # per bucket, not cumulative; the last is +Inf
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, count of observations <= le) for each bound and +Inf."""
        running, rows = 0, []
        for bound, count in zip([*map(_bound_text, self.bounds), "+Inf"], self.counts, strict=True):
            running += count
            rows.append((bound, running))
        return rows


def _bound_text(bound: float) -> str:
    return f"{bound:g}"


@dataclass
class CallMetrics:
    calls_total: int = 0
    calls_active: int = 0
    caller_turns_total: int = 0
    handoffs_total: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    # seconds from the end of the caller's speech to the dialogue's reply, before synthesis
    reply_latency: Histogram = field(default_factory=Histogram)
    # seconds from the end of the caller's speech to the reply's first audio queued on the line
    first_audio_latency: Histogram = field(default_factory=Histogram)
    caller_frames_total: int = 0  # 20 ms frames the legs gave the listeners
    recognised_frames_total: int = 0  # of which reached a recogniser (speech only)
    caller_frames_dropped_total: int = 0  # lost before the listener read them (0 unless a reader stalled > 10 s)
    barge_ins_total: int = 0
    previews_total: int = 0  # answers prepared at a pause, before the end of the turn was sure
    previews_taken_back_total: int = 0  # of which the caller went on speaking: the dialogue rewound
    # CPU-seconds of the server and its children (callbot.energy), while calls were active / while none was
    cpu_calls_seconds: float = 0.0
    cpu_idle_seconds: float = 0.0
    gc_pause: Histogram = field(default_factory=lambda: Histogram(GC_PAUSE_BUCKETS_S))  # callbot.memory

    def record_outcome(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
