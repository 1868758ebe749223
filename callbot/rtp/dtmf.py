"""RFC 4733 telephone-events (DTMF) carried in RTP."""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

EVENT_DIGITS = "0123456789*#ABCD"  # event codes 0..15 (RFC 4733 section 3.2)
_PAYLOAD = struct.Struct("!BBH")


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    event: int
    end: bool
    volume: int  # dBm0 below zero, 0..63
    duration: int  # in timestamp units

    @property
    def digit(self) -> str | None:
        return EVENT_DIGITS[self.event] if self.event < len(EVENT_DIGITS) else None


def parse_telephone_event(payload: bytes) -> TelephoneEvent:
    """Parse the first event of a telephone-event payload; ValueError when too short."""
    if len(payload) < _PAYLOAD.size:
        raise ValueError(f"telephone-event payload too short ({len(payload)} bytes)")
    event, flags, duration = _PAYLOAD.unpack_from(payload)
    return TelephoneEvent(event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration)


def build_telephone_event(event: TelephoneEvent) -> bytes:
    return _PAYLOAD.pack(event.event, (0x80 if event.end else 0) | (event.volume & 0x3F), event.duration)


class DtmfDetector:
    """Turns a stream of telephone-event packets into one digit per key press.

    All packets of one key press share the RTP timestamp of its start (updates, the usually three redundant
    end packets, retransmissions), so a press is recognised by (SSRC, timestamp) and reported on its first
    packet.
    """

    def __init__(self, memory: int = 32) -> None:
        self._seen: deque[tuple[int, int, int]] = deque(maxlen=memory)

    def feed(self, ssrc: int, timestamp: int, payload: bytes) -> str | None:
        """The new digit this packet starts, or None (repeat, unknown event or malformed)."""
        try:
            event = parse_telephone_event(payload)
        except ValueError:
            return None
        digit = event.digit
        if digit is None:
            return None
        key = (ssrc, timestamp, event.event)
        if key in self._seen:
            return None
        self._seen.append(key)
        return digit
