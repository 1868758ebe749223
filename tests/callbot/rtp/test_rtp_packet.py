from __future__ import annotations

import pytest

from callbot.rtp.packet import RtpPacket, RtpParseError, build_rtp, parse_rtp


def test_minimal_packet_round_trip() -> None:
    packet = RtpPacket(
        payload_type=0, sequence=65535, timestamp=0xFFFFFFFF, ssrc=0x12345678, payload=b"\xff" * 160, marker=True
    )
    data = build_rtp(packet)
    assert len(data) == 12 + 160
    assert data[0] == 0x80 and data[1] == 0x80  # V=2, M=1, PT=0
    assert parse_rtp(data) == packet


def test_csrc_extension_and_padding_round_trip() -> None:
    packet = RtpPacket(
        payload_type=8,
        sequence=7,
        timestamp=1234,
        ssrc=99,
        payload=b"abc",
        csrcs=(1, 2, 0xFFFFFFFF),
        extension=(0xBEDE, b"\x10\x01\x00\x00"),
    )
    data = build_rtp(packet, padding=5)
    assert data[0] & 0x20 and data[0] & 0x10 and data[0] & 0x0F == 3
    assert data[-1] == 5
    assert len(data) == 12 + 12 + 4 + 4 + 3 + 5
    assert parse_rtp(data) == packet


def test_parses_a_header_written_by_hand() -> None:
    # V=2 P=0 X=0 CC=1, M=0 PT=101, seq 0x1f30, ts 0x33e0, ssrc 0x0e05384e, csrc 5, payload 4 bytes
    data = bytes.fromhex("81651f30000033e00e05384e00000005010a0000")
    packet = parse_rtp(data)
    assert (packet.payload_type, packet.sequence, packet.timestamp) == (101, 0x1F30, 0x33E0)
    assert packet.ssrc == 0x0E05384E and packet.csrcs == (5,)
    assert packet.payload == bytes.fromhex("010a0000") and not packet.marker


VALID = build_rtp(RtpPacket(payload_type=0, sequence=1, timestamp=2, ssrc=3, payload=b"\x00" * 4))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "too short"),
        (VALID[:11], "too short"),
        (bytes([0x40]) + VALID[1:], "version 1"),
        (bytes([0x00]) + VALID[1:], "version 0"),
        (bytes([0x83]) + VALID[1:], "CSRC list longer than the datagram"),
        (bytes([0x90]) + VALID[1:12] + b"\x00\x00\x00\x05", "extension longer than the datagram"),
        (bytes([0x90]) + VALID[1:12] + b"\x00", "truncated extension header"),
        (bytes([0xA0]) + VALID[1:-1] + b"\x00", "padding length 0"),
        (bytes([0xA0]) + VALID[1:-1] + b"\x20", "padding longer than the payload"),
        (VALID[:1] + bytes([0xC8]) + VALID[2:], "RTCP sender report on the RTP port"),
    ],
)
def test_malformed_datagrams_are_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(RtpParseError):
        parse_rtp(data)


def test_padding_may_consume_the_whole_payload() -> None:
    data = build_rtp(RtpPacket(payload_type=0, sequence=1, timestamp=2, ssrc=3, payload=b""), padding=4)
    assert parse_rtp(data).payload == b""


def test_random_garbage_never_raises_anything_but_parse_errors() -> None:
    import random

    rng = random.Random(1234)
    parsed = 0
    for _ in range(5000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        try:
            parse_rtp(data)
            parsed += 1
        except RtpParseError:
            pass
    assert 0 < parsed < 5000


def test_out_of_range_fields_are_refused_when_building() -> None:
    with pytest.raises(ValueError):
        RtpPacket(payload_type=128, sequence=0, timestamp=0, ssrc=0, payload=b"")
    with pytest.raises(ValueError):
        RtpPacket(payload_type=0, sequence=65536, timestamp=0, ssrc=0, payload=b"")
    with pytest.raises(ValueError):
        RtpPacket(payload_type=0, sequence=0, timestamp=0, ssrc=0, payload=b"", extension=(1, b"abc"))
