from __future__ import annotations

from collections.abc import Callable

import pytest

from callbot.rtp.dtmf import DtmfDetector, TelephoneEvent, build_telephone_event, parse_telephone_event
from callbot.rtp.packet import RtpPacket, build_rtp, parse_rtp

KEYS = {**{d: d for d in "0123456789"}, "star": "*", "pound": "#"}


def test_event_payload_round_trip() -> None:
    event = TelephoneEvent(event=11, end=True, volume=10, duration=1280)
    payload = build_telephone_event(event)
    assert payload == bytes([11, 0x8A, 0x05, 0x00])
    assert parse_telephone_event(payload) == event
    assert event.digit == "#"


@pytest.mark.parametrize("key", sorted(KEYS))
def test_capture_gives_exactly_one_digit(key: str, dtmf_capture: Callable[[str], list[bytes]]) -> None:
    packets = [parse_rtp(data) for data in dtmf_capture(key)]
    assert all(p.payload_type == 101 for p in packets)
    # The captures hold updates and repeated end packets of one key press.
    assert sum(parse_telephone_event(p.payload).end for p in packets) >= 2
    detector = DtmfDetector()
    digits = [detector.feed(p.ssrc, p.timestamp, p.payload) for p in packets]
    assert [d for d in digits if d is not None] == [KEYS[key]]


def test_same_digit_pressed_twice_gives_two_digits(dtmf_capture: Callable[[str], list[bytes]]) -> None:
    first = [parse_rtp(data) for data in dtmf_capture("5")]
    # The second press of the same key: same packets, later timestamp (as a sender would do).
    second = [
        RtpPacket(
            payload_type=p.payload_type,
            sequence=(p.sequence + 20) & 0xFFFF,
            timestamp=(p.timestamp + 8000) & 0xFFFFFFFF,
            ssrc=p.ssrc,
            payload=p.payload,
        )
        for p in first
    ]
    detector = DtmfDetector()
    packets = [parse_rtp(build_rtp(p)) for p in first + first[-3:] + second]  # with a retransmitted tail
    digits = [detector.feed(p.ssrc, p.timestamp, p.payload) for p in packets]
    assert [d for d in digits if d is not None] == ["5", "5"]


def test_end_packets_alone_still_give_the_digit() -> None:
    detector = DtmfDetector()
    end = build_telephone_event(TelephoneEvent(event=3, end=True, volume=10, duration=800))
    assert detector.feed(1, 4000, end) == "3"
    assert detector.feed(1, 4000, end) is None
    assert detector.feed(1, 4000, end) is None


def test_malformed_or_unknown_events_give_nothing() -> None:
    detector = DtmfDetector()
    assert detector.feed(1, 1, b"\x01") is None
    assert detector.feed(1, 2, build_telephone_event(TelephoneEvent(66, False, 10, 0))) is None  # a tone
