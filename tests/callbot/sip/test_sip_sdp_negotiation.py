"""SDP offer/answer for G.711 calls."""

from __future__ import annotations

from typing import cast

import pytest

from callbot.sip.media import MediaSession
from callbot.sip.offer_answer import LocalSdp, MediaNegotiation
from callbot.sip.sdp import SdpError, accept_answer, build_answer, build_offer, negotiate, parse_sdp


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


# --- connection addresses and ports (issue 7: a host name made the server resolve it per RTP packet) ----------


@pytest.mark.parametrize(
    "session_c",
    [
        "c=IN IP4 media.example.com\r\n",
        "c=IN IP4 localhost\r\n",
        "c=IN IP6 pbx.example\r\n",
        "c=IN IP4 ::1\r\n",  # IPv6 literal declared as IP4
        "c=IN IP6 192.0.2.1\r\n",
        "c=IN IP4 224.2.1.1/127\r\n",  # multicast
        "c=IN IP4 192.0.2.300\r\n",
    ],
)
def test_connection_address_must_be_an_ip_literal_of_its_family(session_c: str) -> None:
    with pytest.raises(SdpError) as error:
        parse_sdp(offer("m=audio 4000 RTP/AVP 0\r\n", session_c=session_c))
    assert error.value.warning == 301


def test_host_name_at_media_level_is_refused_too() -> None:
    with pytest.raises(SdpError) as error:
        parse_sdp(offer("m=audio 4000 RTP/AVP 0\r\nc=IN IP4 rtp.example.net\r\n"))
    assert error.value.warning == 301


def test_ipv6_literal_is_accepted_and_normalised() -> None:
    _, chosen = negotiate(parse_sdp(offer("m=audio 4000 RTP/AVP 0\r\n", session_c="c=IN IP6 2001:DB8:0:0::7\r\n")))
    assert chosen.remote == ("2001:db8::7", 4000)


@pytest.mark.parametrize("port", ["65536", "99999", "-1", "4000x"])
def test_media_port_out_of_range_is_refused(port: str) -> None:
    with pytest.raises(SdpError):
        parse_sdp(offer(f"m=audio {port} RTP/AVP 0\r\n"))


# --- hold (RFC 3264 §8.4) ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("connection", "direction", "ours"),
    [
        ("192.0.2.10", "sendonly", "recvonly"),
        ("192.0.2.10", "inactive", "inactive"),
        ("192.0.2.10", "recvonly", "sendonly"),
        ("0.0.0.0", "sendrecv", "recvonly"),  # RFC 2543 hold: send the peer nothing
        ("0.0.0.0", "sendonly", "recvonly"),
        ("0.0.0.0", "recvonly", "inactive"),
        ("0.0.0.0", "inactive", "inactive"),
    ],
)
def test_hold_offers_are_answered_without_send(connection: str, direction: str, ours: str) -> None:
    media = f"m=audio 4000 RTP/AVP 0\r\na={direction}\r\n"
    _, chosen = negotiate(parse_sdp(offer(media, session_c=f"c=IN IP4 {connection}\r\n")))
    assert chosen.direction == ours and chosen.remote == (connection, 4000)


# --- delayed offer: our offer and the caller's answer -----------------------------------------------------------


def test_our_offer_lists_both_g711_laws_and_telephone_event() -> None:
    ours = parse_sdp(build_offer("192.0.2.1", 30000, 5, 1))
    (audio,) = ours.media
    assert (audio.port, audio.proto, audio.formats) == (30000, "RTP/AVP", ["0", "8", "101"])
    assert audio.rtpmap[101] == ("telephone-event", 8000) and audio.direction == "sendrecv"
    assert ours.connection == "192.0.2.1"


def test_answer_to_our_offer_settles_codec_address_and_direction() -> None:
    answer = parse_sdp(offer("m=audio 4100 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
    chosen = accept_answer(answer)
    assert (chosen.codec_name, chosen.payload_type, chosen.dtmf_payload_type) == ("PCMA", 8, 101)
    assert chosen.remote == ("192.0.2.10", 4100) and chosen.direction == "sendrecv"


@pytest.mark.parametrize(
    "media",
    [
        "m=audio 0 RTP/AVP 0\r\n",  # the answerer refused the stream
        "m=audio 4100 RTP/AVP 96\r\na=rtpmap:96 PCMA/8000\r\n",  # a payload type we did not offer
        "m=audio 4100 RTP/AVP 18\r\n",
    ],
)
def test_unusable_answer_to_our_offer(media: str) -> None:
    with pytest.raises(SdpError):
        accept_answer(parse_sdp(offer(media)))


# --- a call's successive exchanges (re-INVITE, UPDATE) ----------------------------------------------------------


class RecordingMedia:
    """What MediaNegotiation drives: start() and set_direction() calls, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def start(self, remote: tuple[str, int], codec: object, dtmf_payload_type: int | None) -> None:
        self.calls.append(("start", (remote, codec, dtmf_payload_type)))

    def set_direction(self, direction: str) -> None:
        self.calls.append(("direction", direction))


def negotiation() -> tuple[MediaNegotiation, RecordingMedia]:
    media = RecordingMedia()
    local = LocalSdp("127.0.0.1", 31000, 77, "callbot-test")
    return MediaNegotiation(cast(MediaSession, media), lambda *codec: codec, local), media


def version_of(sdp: bytes) -> int:
    origin = next(line for line in sdp.decode().splitlines() if line.startswith("o="))
    return int(origin.split()[2])


def test_version_grows_only_when_our_sdp_changes() -> None:
    state, media = negotiation()
    first = state.answer_offer(offer("m=audio 4000 RTP/AVP 0\r\n"))
    assert version_of(first) == 1
    assert state.answer_offer(offer("m=audio 4000 RTP/AVP 0\r\n")) == first  # a refresh: same SDP, same version
    held = state.answer_offer(offer("m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n"))
    assert version_of(held) == 2 and b"a=recvonly" in held
    moved = state.answer_offer(offer("m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n", session_c="c=IN IP4 192.0.2.99\r\n"))
    assert version_of(moved) == 2  # their address changed, our SDP did not
    resumed = state.answer_offer(offer("m=audio 4000 RTP/AVP 8\r\n"))
    assert version_of(resumed) == 3 and b"a=sendrecv" in resumed and b"PCMA/8000" in resumed
    starts = [args for kind, args in media.calls if kind == "start"]
    assert starts == [
        (("192.0.2.10", 4000), ("PCMU", 0, 8000), None),
        (("192.0.2.99", 4000), ("PCMU", 0, 8000), None),
        (("192.0.2.10", 4000), ("PCMA", 8, 8000), None),
    ]
    assert [args for kind, args in media.calls if kind == "direction"][-1] == "sendrecv"


def test_refused_offer_changes_nothing() -> None:
    state, media = negotiation()
    first = state.answer_offer(offer("m=audio 4000 RTP/AVP 0\r\n"))
    before = list(media.calls)
    for bad in (
        offer("m=audio 4000 RTP/AVP 0\r\n", session_c="c=IN IP4 media.example\r\n"),
        offer("m=audio 4000 RTP/AVP 18\r\n"),
    ):
        with pytest.raises(SdpError):
            state.answer_offer(bad)
    assert media.calls == before and state.local.last == first and state.local.version == 1
    assert state.current is not None and state.current.remote == ("192.0.2.10", 4000)


def test_delayed_offer_then_answer_starts_media() -> None:
    state, media = negotiation()
    ours = state.make_offer()
    assert version_of(ours) == 1 and state.offer_pending
    state.take_answer(offer("m=audio 4200 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
    assert not state.offer_pending
    assert media.calls == [("start", (("192.0.2.10", 4200), ("PCMU", 0, 8000), 101)), ("direction", "sendrecv")]


def test_missing_answer_is_an_error() -> None:
    state, media = negotiation()
    state.make_offer()
    with pytest.raises(SdpError):
        state.take_answer(b"")
    assert media.calls == [] and not state.offer_pending
