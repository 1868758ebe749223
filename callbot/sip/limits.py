"""Per-source caps on what the SIP endpoint holds, so that a few senders cannot fill the shared tables."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class SipLimits:
    """What one endpoint holds at most, in all and per source address; how long a TCP peer may stay silent."""

    max_transactions: int = 5_000
    max_transactions_per_source: int = 500  # a PBX trunk is one source: room for its busiest hour
    max_tcp_connections: int = 256
    max_tcp_connections_per_source: int = 32
    tcp_idle_timeout_s: float = 60.0  # between messages; CRLF keep-alives do not extend it
    tcp_message_timeout_s: float = 10.0  # from a message's first byte to its last: trickling cannot extend it


class SourceQuota:
    """Counts held slots by source host against a total cap and a per-source cap."""

    def __init__(self, total_cap: int, per_source_cap: int) -> None:
        self.total_cap = total_cap
        self.per_source_cap = per_source_cap
        self._held: Counter[str] = Counter()
        self._total = 0

    @property
    def total(self) -> int:
        return self._total

    def held_by(self, source: str) -> int:
        return self._held[source]

    def refusal(self, source: str) -> str | None:
        """Why `source` may not take one more slot now (None: it may)."""
        if self._held[source] >= self.per_source_cap:
            return "per-source limit"
        if self._total >= self.total_cap:
            return "global limit"
        return None

    def acquire(self, source: str) -> bool:
        if self.refusal(source) is not None:
            return False
        self._held[source] += 1
        self._total += 1
        return True

    def release(self, source: str) -> None:
        if self._held[source] <= 0:
            return
        self._held[source] -= 1
        self._total -= 1
        if not self._held[source]:
            del self._held[source]  # sources come and go: keep only those holding something
