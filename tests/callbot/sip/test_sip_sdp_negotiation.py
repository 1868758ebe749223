"""SDP offer/answer for G.711 calls."""

from __future__ import annotations

import pytest

from callbot.sip.sdp import SdpError, build_answer, negotiate, parse_sdp


def offer(media: str, *, session_c: str = "c=IN IP4 192.0.2.10\r\n", extra: str = "") -> bytes:
    return (f"v=0\r\no=- 7 7 IN IP4 192.0.2.10\r\ns=-\r\n{session_c}t=0 0\r\n{media}{extra}").encode()


def test_pcmu_first_in_offer_with_telephone_event() -> None:
    sdp = parse_sdp(offer("m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
    index, chosen = negotiate(sdp)
    assert index == 0
    assert (chosen.codec_name, chosen.payload_type, chosen.dtmf_payload_type) == ("PCMU", 0, 101)
    assert chosen.remote == ("192.0.2.10", 4000) and chosen.direction == "sendrecv"


def test_offerer_order_is_respected_for_pcma() -> None:
    sdp = parse_sdp(offer("m=audio 4000 RTP/AVP 8 0\r\n"))
    _, chosen = negotiate(sdp)
    assert (chosen.codec_name, chosen.payload_type, chosen.dtmf_payload_type) == ("PCMA", 8, None)


def test_dynamic_payload_types_and_unknown_codecs_first() -> None:
    media = (
        "m=audio 4000 RTP/AVP 96 18 97 98\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:18 G729/8000\r\n"
        "a=rtpmap:97 PCMA/8000\r\na=rtpmap:98 telephone-event/8000\r\n"
    )
    _, chosen = negotiate(parse_sdp(offer(media)))
    assert (chosen.codec_name, chosen.payload_type, chosen.dtmf_payload_type) == ("PCMA", 97, 98)


def test_no_common_codec_is_an_error_with_warning_305() -> None:
    sdp = parse_sdp(offer("m=audio 4000 RTP/AVP 18 9\r\na=rtpmap:18 G729/8000\r\n"))
    with pytest.raises(SdpError) as error:
        negotiate(sdp)
    assert error.value.warning == 305


@pytest.mark.parametrize(
    "media",
    [
        "m=audio 0 RTP/AVP 0\r\n",  # stream refused by the offerer
        "m=audio 4000 RTP/SAVP 0\r\n",  # SRTP is not supported
        "m=video 4002 RTP/AVP 0\r\n",
    ],
)
def test_unusable_streams_are_skipped(media: str) -> None:
    with pytest.raises(SdpError):
        negotiate(parse_sdp(offer(media)))


def test_media_level_connection_and_direction() -> None:
    media = "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 198.51.100.7\r\na=sendonly\r\n"
    _, chosen = negotiate(parse_sdp(offer(media, session_c="")))
    assert chosen.remote == ("198.51.100.7", 4000) and chosen.direction == "recvonly"


def test_missing_connection_is_an_error() -> None:
    with pytest.raises(SdpError):
        negotiate(parse_sdp(offer("m=audio 4000 RTP/AVP 0\r\n", session_c="")))


@pytest.mark.parametrize("body", [b"", b"garbage", b"v=0\r\nm=audio x RTP/AVP 0\r\n", b"\xff\xfe", b"v=0\r\nc=IN\r\n"])
def test_malformed_sdp(body: bytes) -> None:
    with pytest.raises(SdpError):
        negotiate(parse_sdp(body))


def test_answer_keeps_m_line_count_and_uses_our_address() -> None:
    sdp = parse_sdp(
        offer(
            "m=video 5000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"
            "m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n"
        )
    )
    index, chosen = negotiate(sdp)
    assert index == 1
    answer = build_answer(sdp, index, chosen, "127.0.0.1", 31000, 42, 1)
    parsed = parse_sdp(answer)
    assert [(m.media, m.port) for m in parsed.media] == [("video", 0), ("audio", 31000)]
    assert parsed.connection == "127.0.0.1"
    audio = parsed.media[1]
    assert audio.formats == ["8", "101"] and audio.rtpmap == {8: ("PCMA", 8000), 101: ("telephone-event", 8000)}
    assert audio.direction == "sendonly"
    assert b"a=ptime:20\r\n" in answer and b"a=fmtp:101 0-16\r\n" in answer
