"""Audio codecs negotiated for an RTP session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from callbot.rtp import g711

_SUPPORTED = {
    "PCMU": (g711.ulaw_encode, g711.ulaw_decode, g711.ULAW_SILENCE),
    "PCMA": (g711.alaw_encode, g711.alaw_decode, g711.ALAW_SILENCE),
}


@dataclass(frozen=True)
class RtpCodec:
    name: str  # "PCMU" | "PCMA"
    payload_type: int
    clock_rate: int = 8000

    def __post_init__(self) -> None:
        if self.name not in _SUPPORTED:
            raise ValueError(f"unsupported codec {self.name!r}; supported: {', '.join(sorted(_SUPPORTED))}")
        if not 0 <= self.payload_type <= 127:
            raise ValueError(f"payload type out of range: {self.payload_type}")
        if self.clock_rate != 8000:
            raise ValueError(f"{self.name} runs at 8000 Hz, got {self.clock_rate}")

    @property
    def encode(self) -> Callable[[bytes], bytes]:
        """PCM16 at clock_rate -> payload bytes."""
        return _SUPPORTED[self.name][0]

    @property
    def decode(self) -> Callable[[bytes], bytes]:
        """Payload bytes -> PCM16 at clock_rate."""
        return _SUPPORTED[self.name][1]

    @property
    def silence_byte(self) -> int:
        return _SUPPORTED[self.name][2]


PCMU = RtpCodec("PCMU", 0)
PCMA = RtpCodec("PCMA", 8)
