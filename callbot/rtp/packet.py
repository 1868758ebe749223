"""RTP packet parsing and building (RFC 3550 section 5.1)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
_HEADER = struct.Struct("!BBHII")
_EXTENSION_HEADER = struct.Struct("!HH")
MAX_PAYLOAD_TYPE = 127


class RtpParseError(ValueError):
    """A datagram that is not a valid RTP packet."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    # Header extension: (profile-defined 16-bit id, data whose length is a multiple of 4), or None.
    extension: tuple[int, bytes] | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.payload_type <= MAX_PAYLOAD_TYPE:
            raise ValueError(f"payload type out of range: {self.payload_type}")
        if not 0 <= self.sequence <= 0xFFFF:
            raise ValueError(f"sequence number out of range: {self.sequence}")
        if not 0 <= self.timestamp <= 0xFFFFFFFF:
            raise ValueError(f"timestamp out of range: {self.timestamp}")
        if not 0 <= self.ssrc <= 0xFFFFFFFF:
            raise ValueError(f"SSRC out of range: {self.ssrc}")
        if len(self.csrcs) > 15:
            raise ValueError("at most 15 CSRC identifiers")
        if self.extension is not None and len(self.extension[1]) % 4:
            raise ValueError("extension data length must be a multiple of 4")


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse one datagram; raises RtpParseError on anything malformed."""
    if len(data) < _HEADER.size:
        raise RtpParseError(f"datagram too short for an RTP header ({len(data)} bytes)")
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    version = first >> 6
    if version != RTP_VERSION:
        raise RtpParseError(f"RTP version {version}, expected 2")
    has_padding = bool(first & 0x20)
    has_extension = bool(first & 0x10)
    csrc_count = first & 0x0F
    marker = bool(second & 0x80)
    payload_type = second & 0x7F
    if 72 <= payload_type <= 76:
        # These values collide with RTCP packet types (RFC 5761): an RTCP packet on the RTP port.
        raise RtpParseError(f"payload type {payload_type} is RTCP")

    offset = _HEADER.size
    end = len(data)
    if end < offset + 4 * csrc_count:
        raise RtpParseError("datagram too short for its CSRC list")
    csrcs = struct.unpack_from(f"!{csrc_count}I", data, offset) if csrc_count else ()
    offset += 4 * csrc_count

    extension: tuple[int, bytes] | None = None
    if has_extension:
        if end < offset + _EXTENSION_HEADER.size:
            raise RtpParseError("datagram too short for its extension header")
        profile, words = _EXTENSION_HEADER.unpack_from(data, offset)
        offset += _EXTENSION_HEADER.size
        if end < offset + 4 * words:
            raise RtpParseError("datagram too short for its extension data")
        extension = (profile, bytes(data[offset : offset + 4 * words]))
        offset += 4 * words

    if has_padding:
        padding = data[-1]
        if padding == 0 or offset + padding > end:
            raise RtpParseError(f"invalid padding length {padding}")
        end -= padding

    return RtpPacket(
        payload_type=payload_type,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        payload=bytes(data[offset:end]),
        marker=marker,
        csrcs=tuple(csrcs),
        extension=extension,
    )


def build_rtp(packet: RtpPacket, padding: int = 0) -> bytes:
    """Serialise a packet; `padding` adds that many trailing bytes (0..255) with the P bit set."""
    if not 0 <= padding <= 255:
        raise ValueError(f"padding must be 0..255 bytes, got {padding}")
    first = (RTP_VERSION << 6) | len(packet.csrcs)
    if padding:
        first |= 0x20
    if packet.extension is not None:
        first |= 0x10
    second = packet.payload_type | (0x80 if packet.marker else 0)
    parts = [_HEADER.pack(first, second, packet.sequence, packet.timestamp, packet.ssrc)]
    if packet.csrcs:
        parts.append(struct.pack(f"!{len(packet.csrcs)}I", *packet.csrcs))
    if packet.extension is not None:
        profile, data = packet.extension
        parts.append(_EXTENSION_HEADER.pack(profile, len(data) // 4))
        parts.append(data)
    parts.append(packet.payload)
    if padding:
        parts.append(bytes(padding - 1) + bytes([padding]))
    return b"".join(parts)
