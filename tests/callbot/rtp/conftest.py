"""Fixtures for the RTP tests: packets from the sip-tester captures, RTP sessions closed after the test."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from callbot.rtp import RtpSession

SIP_TESTER_PCAPS = Path("/usr/share/sip-tester")


def read_pcap_udp_payloads(path: Path) -> list[bytes]:
    """UDP payloads of an Ethernet/IPv4 libpcap capture (enough for the sip-tester files)."""
    data = path.read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    endian = "<" if magic == 0xA1B2C3D4 else ">"
    offset = 24
    payloads = []
    while offset + 16 <= len(data):
        _, _, captured, _ = struct.unpack_from(endian + "IIII", data, offset)
        offset += 16
        frame = data[offset : offset + captured]
        offset += captured
        ip_header_len = (frame[14] & 0x0F) * 4
        udp_start = 14 + ip_header_len
        payloads.append(frame[udp_start + 8 :])
    return payloads


@pytest.fixture
def dtmf_capture() -> Callable[[str], list[bytes]]:
    """RTP packets (bytes) of the capture for one key: "0".."9", "star", "pound"."""

    def load(key: str) -> list[bytes]:
        path = SIP_TESTER_PCAPS / f"dtmf_2833_{key}.pcap"
        if not path.exists():
            pytest.skip(f"{path} missing (Debian package sip-tester)")
        return read_pcap_udp_payloads(path)

    return load


@pytest.fixture
async def rtp_session_factory() -> AsyncIterator[Callable[..., Awaitable[RtpSession]]]:
    sessions: list[RtpSession] = []

    async def make(**kwargs: Any) -> RtpSession:
        session = await RtpSession.bind("127.0.0.1", **kwargs)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        await session.close()
