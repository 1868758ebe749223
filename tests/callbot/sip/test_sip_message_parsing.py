"""Parsing and serialising SIP messages, headers, URIs and Via values."""

from __future__ import annotations

import pytest

from callbot.sip.errors import SipParseError
from callbot.sip.headers import Headers, split_list
from callbot.sip.message import (
    MAX_HEADER_FIELDS,
    MAX_MESSAGE_BYTES,
    SipRequest,
    SipResponse,
    StreamFramer,
    can_answer,
    make_response,
    parse_message,
)
from callbot.sip.uri import NameAddr, SipUri, Via

INVITE = (
    "INVITE sip:bot@127.0.0.1:5060;transport=udp SIP/2.0\r\n"
    "v: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK776asdhds;rport\r\n"
    "Via: SIP/2.0/TCP proxy.example:5060;branch=z9hG4bKp1, SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKp0\r\n"
    "Max-Forwards: 70\r\n"
    'f: "Dupont, Jean" <sip:+33491000000@10.0.0.1;user=phone>;tag=1928301774\r\n'
    "t: <sip:bot@127.0.0.1>\r\n"
    "i: a84b4c76e66710@pc33\r\n"
    "CSeq: 314159 INVITE\r\n"
    "m: <sip:caller@10.0.0.1:5062>\r\n"
    "Subject: folded\r\n  value\r\n"
    "c: application/sdp\r\n"
    "l: 4\r\n"
    "\r\n"
    "v=0\r\nignored-extra"
)


def test_request_with_compact_and_multi_value_headers() -> None:
    message = parse_message(INVITE.encode())
    assert isinstance(message, SipRequest)
    assert message.method == "INVITE" and message.uri == "sip:bot@127.0.0.1:5060;transport=udp"
    assert message.call_id == "a84b4c76e66710@pc33"
    assert message.cseq == (314159, "INVITE")
    assert [via.host for via in message.vias] == ["10.0.0.1", "proxy.example", "10.0.0.9"]
    assert message.top_via.branch == "z9hG4bK776asdhds" and message.top_via.rfc3261_branch
    assert message.from_addr.display_name == "Dupont, Jean"
    assert message.from_addr.tag == "1928301774"
    assert message.from_addr.uri.user == "+33491000000" and message.from_addr.uri.params == {"user": "phone"}
    assert message.to_addr.tag is None
    assert message.headers.get("subject") == "folded value"
    assert message.content_type == "application/sdp"
    assert message.body == b"v=0\r"  # Content-Length bounds the body of a datagram


def test_serialise_round_trip_uses_long_names_and_real_length() -> None:
    message = parse_message(INVITE.encode())
    wire = message.to_bytes()
    assert b"\r\nCall-ID: a84b4c76e66710@pc33\r\n" in wire
    assert wire.endswith(b"Content-Length: 4\r\n\r\nv=0\r")
    again = parse_message(wire)
    assert isinstance(again, SipRequest) and again.headers.get_all("Via") == message.headers.get_all("Via")


def test_response_parsing_and_building() -> None:
    request = parse_message(INVITE.encode())
    assert isinstance(request, SipRequest)
    response = make_response(request, 180, to_tag="abc")
    assert response.reason == "Ringing" and response.to_addr.tag == "abc"
    assert response.headers.get_all("Via") == request.headers.get_all("Via")
    parsed = parse_message(response.to_bytes())
    assert isinstance(parsed, SipResponse) and parsed.status == 180 and parsed.cseq == (314159, "INVITE")
    trying = make_response(request, 100, to_tag="abc")
    assert trying.to_addr.tag is None  # no tag on 100 Trying


def test_headers_are_case_insensitive_and_lists_respect_quotes() -> None:
    headers = Headers([("CONTACT", '"A, B" <sip:a@b>, <sip:c@d;x="1,2">'), ("call-id", "x")])
    assert headers.get_all("m") == ['"A, B" <sip:a@b>', '<sip:c@d;x="1,2">']
    assert headers.get("CALL-ID") == "x" and "Call-Id" in headers
    assert split_list("a, b ,,c") == ["a", "b", "c"]
    headers.set("Call-ID", "y")
    assert headers.get_all("Call-ID") == ["y"]


@pytest.mark.parametrize(
    ("text", "user", "host", "port"),
    [
        ("sip:bot@127.0.0.1", "bot", "127.0.0.1", None),
        ("sips:alice:secret@example.com:5061;transport=tcp", "alice", "example.com", 5061),
        ("sip:[::1]:5070;lr", None, "[::1]", 5070),
        ("SIP:+331234@gw.example;user=phone?X-Id=a%20b&Subject=hi", "+331234", "gw.example", None),
    ],
)
def test_uri_forms(text: str, user: str | None, host: str, port: int | None) -> None:
    uri = SipUri.parse(text)
    assert (uri.user, uri.host, uri.port) == (user, host, port)
    assert SipUri.parse(str(uri)) == uri


def test_uri_headers_are_escaped_both_ways() -> None:
    uri = SipUri.parse("sip:agent@pbx.example")
    uri.headers["X-Callbot-Call-Id"] = "a b&c=d"
    text = str(uri)
    assert " " not in text and text.count("&") == 0
    assert SipUri.parse(text).headers == {"X-Callbot-Call-Id": "a b&c=d"}


def test_name_addr_forms() -> None:
    plain = NameAddr.parse("sip:a@b;tag=88")  # addr-spec: the parameter is the header's
    assert plain.tag == "88" and plain.uri.params == {}
    bracketed = NameAddr.parse("Bob <sip:bob@b;transport=tcp>;tag=x;expires=60")
    assert bracketed.display_name == "Bob" and bracketed.uri.transport == "TCP" and bracketed.tag == "x"
    assert NameAddr.parse(str(bracketed)) == bracketed


def test_via_values() -> None:
    via = Via.parse("SIP/2.0/UDP 192.0.2.1:5060 ;branch=z9hG4bKx;rport;received=10.0.0.1")
    assert via.transport == "UDP" and via.port == 5060 and via.params["rport"] is None
    assert via.params["received"] == "10.0.0.1"
    assert not Via.parse("SIP/2.0/UDP h;branch=1234").rfc3261_branch


def _replace(old: str, new: str) -> bytes:
    assert old in INVITE
    return INVITE.replace(old, new, 1).encode()


MALFORMED: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("only CRLF", b"\r\n\r\n"),
    ("binary", b"\x00\x01\x02\xff\xfe"),
    ("not utf-8 header", INVITE.encode().replace(b"folded", b"fold\xffed")),
    ("bad version", _replace("SIP/2.0\r\n", "SIP/3.0\r\n")),
    ("request line too short", _replace("INVITE sip:bot@127.0.0.1:5060;transport=udp SIP/2.0", "INVITE")),
    ("bad method", _replace("INVITE sip:bot", "IN(VITE sip:bot")),
    ("bad uri", _replace("sip:bot@127.0.0.1:5060;transport=udp", "bot")),
    ("missing Call-ID", _replace("i: a84b4c76e66710@pc33\r\n", "")),
    (
        "missing Via",
        _replace("v: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK776asdhds;rport\r\n", "").replace(
            b"Via: SIP/2.0/TCP proxy.example:5060;branch=z9hG4bKp1, SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKp0\r\n", b""
        ),
    ),
    ("missing From", _replace('f: "Dupont, Jean" <sip:+33491000000@10.0.0.1;user=phone>;tag=1928301774\r\n', "")),
    ("bad CSeq number", _replace("CSeq: 314159 INVITE", "CSeq: abc INVITE")),
    ("negative CSeq", _replace("CSeq: 314159 INVITE", "CSeq: -1 INVITE")),
    ("huge CSeq", _replace("CSeq: 314159 INVITE", "CSeq: 99999999999 INVITE")),
    ("CSeq method mismatch", _replace("CSeq: 314159 INVITE", "CSeq: 314159 BYE")),
    ("CSeq without method", _replace("CSeq: 314159 INVITE", "CSeq: 314159")),
    ("Content-Length beyond body", _replace("l: 4", "l: 400")),
    ("Content-Length not a number", _replace("l: 4", "l: four")),
    ("header without colon", _replace("Max-Forwards: 70", "Max-Forwards 70")),
    ("header name with space", _replace("Max-Forwards: 70", "Max Forwards: 70")),
    ("bad Max-Forwards", _replace("Max-Forwards: 70", "Max-Forwards: lots")),
    ("bad Via protocol", _replace("v: SIP/2.0/UDP", "v: HTTP/1.1/UDP")),
    ("bad Via port", _replace("10.0.0.1:5062;branch", "10.0.0.1:99999;branch")),
    ("From not a SIP URI", _replace("<sip:+33491000000@10.0.0.1;user=phone>", "<http://x>")),
    ("unterminated angle", _replace("t: <sip:bot@127.0.0.1>", "t: <sip:bot@127.0.0.1")),
    ("empty user", _replace("t: <sip:bot@127.0.0.1>", "t: <sip:@127.0.0.1>")),
    ("continuation first", b"INVITE sip:a@b SIP/2.0\r\n folded\r\n\r\n"),
    ("status code out of range", b"SIP/2.0 999 Bad\r\n\r\n"),
    ("status code not a number", b"SIP/2.0 2OO OK\r\n\r\n"),
    ("too many headers", _replace("Max-Forwards: 70\r\n", "X-H: 1\r\n" * (MAX_HEADER_FIELDS + 1))),
    ("too large", _replace("Max-Forwards: 70\r\n", "X-H: " + "a" * 8000 + "\r\n" * 1) * 9),
    ("line too long", _replace("Max-Forwards: 70", "X-H: " + "a" * 9000)),
]


@pytest.mark.parametrize(("name", "data"), MALFORMED, ids=[name for name, _ in MALFORMED])
def test_malformed_messages_raise_parse_errors(name: str, data: bytes) -> None:
    with pytest.raises(SipParseError) as error:
        parse_message(data)
    assert error.value.reason


def test_partial_request_allows_400_only_when_answerable() -> None:
    with pytest.raises(SipParseError) as mismatch:
        parse_message(_replace("CSeq: 314159 INVITE", "CSeq: 314159 BYE"))
    assert mismatch.value.partial is not None and can_answer(mismatch.value.partial)
    with pytest.raises(SipParseError) as missing:
        parse_message(_replace("i: a84b4c76e66710@pc33\r\n", ""))
    assert missing.value.partial is not None and not can_answer(missing.value.partial)


def test_oversized_datagram_is_rejected_before_parsing() -> None:
    with pytest.raises(SipParseError, match="exceeds"):
        parse_message(b"A" * (MAX_MESSAGE_BYTES + 1))


def test_stream_requires_content_length() -> None:
    without = INVITE.replace("l: 4\r\n", "").encode()
    assert parse_message(without).body.startswith(b"v=0")
    with pytest.raises(SipParseError, match="Content-Length"):
        parse_message(without, stream=True)


def test_stream_framer_cuts_by_content_length() -> None:
    one = parse_message(INVITE.encode()).to_bytes()
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n" + one[:30]) == []  # keep-alives, then a partial message
    assert framer.feed(one[30:] + one + one[:-1]) == [one, one]
    assert framer.feed(one[-1:]) == [one]
    with pytest.raises(SipParseError):
        StreamFramer().feed(b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 999999\r\n\r\n")
    with pytest.raises(SipParseError):
        StreamFramer().feed(b"X" * (MAX_MESSAGE_BYTES + 10))
