"""SDP offer parsing and G.711 answer building (RFC 4566, RFC 3264, RFC 4733), SDES keys for SRTP (RFC 4568)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import secrets
from dataclasses import dataclass, field
from typing import Literal

_STATIC_PAYLOADS = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}
_SUPPORTED = ("PCMU", "PCMA")
_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}
PTIME_MS = 20
# What we offer when the INVITE has none (delayed offer): both G.711 laws and RFC 4733 events.
OFFER_DTMF_PAYLOAD_TYPE = 101
_OFFER_CODECS = ((0, "PCMU"), (8, "PCMA"))

# sip.srtp: "off" answers RTP/AVP only, "required" RTP/SAVP only, "optional" whichever the offer asks for.
SrtpMode = Literal["off", "optional", "required"]
_PLAIN_PROTOS = ("RTP/AVP", "RTP/AVPF")
_SECURE_PROTOS = ("RTP/SAVP", "RTP/SAVPF")
# The SDES suites we take (RFC 4568 §6.2), in the order we offer them; both use a 30-byte key || salt.
SRTP_SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")
SDES_KEY_BYTES = 30
# We never rekey within a call: a key whose lifetime a call could exhaust cannot be honoured. 2^31 packets is
# 497 days of 20 ms packets (and the SRTCP index limit of RFC 3711 §3.4 anyway).
_MIN_KEY_LIFETIME = 2**31
_LIFETIME = re.compile(r"(?:2\^(\d{1,2})|(\d{1,20}))")


class SdpError(ValueError):
    """The offer is unusable; `warning` is an RFC 3261 §20.43 warn-code for the 488."""

    def __init__(self, reason: str, warning: int = 399) -> None:
        super().__init__(reason)
        self.warning = warning


@dataclass
class SdpMedia:
    media: str
    port: int
    proto: str
    formats: list[str]
    connection: str | None = None
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    direction: str | None = None
    crypto: list[str] = field(default_factory=list)  # a=crypto values, parsed when the stream is negotiated


@dataclass
class SessionDescription:
    connection: str | None
    media: list[SdpMedia]
    direction: str = "sendrecv"


@dataclass(frozen=True)
class CryptoAttribute:
    """One usable a=crypto line (RFC 4568 §9.1): its tag, suite and the master key || salt it carries."""

    tag: int
    suite: str
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class SdesKeys:
    """The SRTP keying a stream settled on: the crypto line's tag and suite, our key and the peer's."""

    tag: int
    suite: str
    local_key: bytes = field(repr=False)  # protects what we send; in our SDP
    remote_key: bytes = field(repr=False)  # unprotects what we receive; in theirs


@dataclass(frozen=True)
class NegotiatedMedia:
    codec_name: str
    payload_type: int
    clock_rate: int
    dtmf_payload_type: int | None
    remote: tuple[str, int]
    direction: str  # our direction in the answer
    srtp: SdesKeys | None = None  # None: plain RTP


def new_sdes_key() -> bytes:
    """Our master key || salt for one call (RFC 4568 §6.1: fresh and random, never reused)."""
    return secrets.token_bytes(SDES_KEY_BYTES)


def parse_crypto(value: str) -> CryptoAttribute:
    """An a=crypto value ("1 AES_CM_128_HMAC_SHA1_80 inline:KEY"), or SdpError saying why we cannot use it.

    Only a single inline key is taken: no MKI (libsrtp is keyed with one master key here), no lifetime we could
    exhaust (we do not rekey), no session parameters (RFC 4568 §6.3: an unknown one makes the line unusable).
    """
    parts = value.split()
    if len(parts) < 3:
        raise SdpError(f"malformed a=crypto {value[:60]!r}")
    tag_text, suite, key_params = parts[0], parts[1], parts[2]
    if not tag_text.isdigit() or len(tag_text) > 9:
        raise SdpError(f"bad a=crypto tag {tag_text[:20]!r}")
    if suite not in SRTP_SUITES:
        raise SdpError(f"unsupported SRTP crypto suite {suite[:40]!r}")
    if len(parts) > 3:
        raise SdpError(f"SDES session parameters are not supported ({' '.join(parts[3:])[:40]!r})")
    if ";" in key_params:
        raise SdpError("several SDES keys (MKI) are not supported")
    method, _, info = key_params.partition(":")
    if method.lower() != "inline":
        raise SdpError(f"unsupported SDES key method {method[:20]!r}")
    key_text, *params = info.split("|")
    for param in params:
        if ":" in param:
            raise SdpError("SDES keys with an MKI are not supported")
        match = _LIFETIME.fullmatch(param)
        if match is None:
            raise SdpError(f"bad SDES key lifetime {param[:20]!r}")
        lifetime = 2 ** int(match[1]) if match[1] is not None else int(match[2])
        if lifetime < _MIN_KEY_LIFETIME:
            raise SdpError(f"SDES key lifetime {param} is too short (we do not rekey)")
    if len(params) > 1:
        raise SdpError("malformed SDES key parameters")
    try:
        key = base64.b64decode(key_text, validate=True)
    except (binascii.Error, ValueError):
        raise SdpError("SDES key is not valid base64") from None
    if len(key) != SDES_KEY_BYTES:
        raise SdpError(f"SDES key and salt must be {SDES_KEY_BYTES} bytes for {suite}, got {len(key)}")
    return CryptoAttribute(int(tag_text), suite, key)


def _first_usable_crypto(media: SdpMedia) -> CryptoAttribute:
    """The offerer's most preferred usable a=crypto line (RFC 4568 §7.1.2: they are listed by preference)."""
    if not media.crypto:
        raise SdpError("RTP/SAVP stream without an a=crypto line (SDES keys are needed for SRTP)")
    reasons: list[str] = []
    for value in media.crypto:
        try:
            return parse_crypto(value)
        except SdpError as exc:
            reasons.append(str(exc))
    raise SdpError(f"no usable a=crypto line ({'; '.join(reasons)[:200]})")


def parse_sdp(body: bytes) -> SessionDescription:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdpError("SDP is not UTF-8", 399) from exc
    session = SessionDescription(None, [])
    current: SdpMedia | None = None
    seen_version = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if len(line) < 2 or line[1] != "=":
            raise SdpError(f"malformed SDP line {line[:60]!r}")
        kind, value = line[0], line[2:]
        if kind == "v":
            seen_version = True
        elif kind == "c":
            address = _connection_address(value)
            if current is None:
                session.connection = address
            else:
                current.connection = address
        elif kind == "m":
            parts = value.split()
            if len(parts) < 4 or not parts[1].split("/")[0].isdigit() or int(parts[1].split("/")[0]) > 65535:
                raise SdpError(f"bad m= line {value!r}")
            current = SdpMedia(parts[0], int(parts[1].split("/")[0]), parts[2], parts[3:])
            session.media.append(current)
        elif kind == "a":
            _parse_attribute(value, session, current)
    if not seen_version:
        raise SdpError("SDP without v= line")
    return session


def _connection_address(value: str) -> str:
    """The c= address, which must be an IP literal: a host name would have to be resolved, and resolving it
    (per packet, on the event loop) let one caller stall every call behind a slow DNS server."""
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError(f"bad c= line {value[:60]!r}", 300)
    text = parts[2].split("/")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise SdpError(f"c= address {text[:60]!r} is not an IP address (host names are not accepted)", 301) from None
    if address.version != (4 if parts[1] == "IP4" else 6):
        raise SdpError(f"c= address {text[:60]!r} is not {parts[1]}", 301)
    if address.is_multicast:
        raise SdpError("multicast media is not supported", 301)
    return str(address)


def _parse_attribute(value: str, session: SessionDescription, media: SdpMedia | None) -> None:
    name, _, rest = value.partition(":")
    if name in _DIRECTIONS:
        if media is None:
            session.direction = name
        else:
            media.direction = name
    elif name == "rtpmap" and media is not None:
        pt_text, _, encoding = rest.partition(" ")
        enc_parts = encoding.strip().split("/")
        if pt_text.isdigit() and len(enc_parts) >= 2 and enc_parts[1].isdigit():
            media.rtpmap[int(pt_text)] = (enc_parts[0], int(enc_parts[1]))
    elif name == "crypto" and media is not None:  # media level only (RFC 4568 §9.1)
        media.crypto.append(rest.strip())


def _codec_of(media: SdpMedia, fmt: str) -> tuple[str, int] | None:
    if not fmt.isdigit():
        return None
    pt = int(fmt)
    if pt in media.rtpmap:
        name, rate = media.rtpmap[pt]
        return name.upper(), rate
    return _STATIC_PAYLOADS.get(pt)


def negotiate(
    offer: SessionDescription, srtp: SrtpMode = "optional", local_key: bytes | None = None
) -> tuple[int, NegotiatedMedia]:
    """Pick the first usable audio stream and codec (the offerer's preference order).

    `srtp` (sip.srtp) decides which transports are usable; an RTP/SAVP stream also needs a usable a=crypto
    line, and is then keyed with `local_key` for our direction (a fresh one when None).
    """
    refusal: SdpError | None = None  # why the first audio stream we could not take was refused
    for index, media in enumerate(offer.media):
        if media.media != "audio" or media.port == 0:
            continue
        secure = media.proto in _SECURE_PROTOS
        if not secure and media.proto not in _PLAIN_PROTOS:
            continue
        if secure and srtp == "off":
            refusal = refusal or SdpError("SRTP is off here (sip.srtp): RTP/SAVP is not accepted", 302)
            continue
        if not secure and srtp == "required":
            refusal = refusal or SdpError("SRTP is required here (sip.srtp): plain RTP/AVP is not accepted", 302)
            continue
        chosen: tuple[int, str, int] | None = None
        dtmf: int | None = None
        for fmt in media.formats:
            codec = _codec_of(media, fmt)
            if codec is None:
                continue
            name, rate = codec
            if chosen is None and name in _SUPPORTED and rate == 8000:
                chosen = (int(fmt), name, rate)
            elif dtmf is None and name == "TELEPHONE-EVENT" and rate == 8000:
                dtmf = int(fmt)
        if chosen is None:
            continue
        keys: SdesKeys | None = None
        if secure:
            try:
                crypto = _first_usable_crypto(media)
            except SdpError as exc:
                refusal = refusal or exc
                continue
            keys = SdesKeys(crypto.tag, crypto.suite, local_key or new_sdes_key(), crypto.key)
        host = media.connection or offer.connection
        if host is None:
            raise SdpError("no c= line for the audio stream", 300)
        direction = _ANSWER_DIRECTION[media.direction or offer.direction]
        if ipaddress.ip_address(host).is_unspecified:
            # RFC 3264 §8.4 (RFC 2543 hold): c=0.0.0.0 means send the peer nothing, whatever a= says
            direction = {"sendrecv": "recvonly", "sendonly": "inactive"}.get(direction, direction)
        pt, name, rate = chosen
        return index, NegotiatedMedia(name, pt, rate, dtmf, (host, media.port), direction, keys)
    if refusal is not None:
        raise refusal
    transport = {"off": "RTP/AVP", "optional": "RTP/AVP or RTP/SAVP", "required": "RTP/SAVP"}[srtp]
    raise SdpError(f"no common audio codec (PCMU or PCMA over {transport} required)", 305)


def _session_lines(local_host: str, session_id: int, session_version: int, user_agent: str) -> list[str]:
    family = "IP6" if ":" in local_host else "IP4"
    return [
        "v=0",
        f"o=- {session_id} {session_version} IN {family} {local_host}",
        f"s={user_agent}",
        f"c=IN {family} {local_host}",
        "t=0 0",
    ]


def _crypto_line(tag: int, suite: str, key: bytes) -> str:
    return f"a=crypto:{tag} {suite} inline:{base64.b64encode(key).decode('ascii')}"


def build_offer(
    local_host: str,
    local_port: int,
    session_id: int,
    session_version: int,
    user_agent: str = "callbot",
    srtp_key: bytes | None = None,
) -> bytes:
    """Our offer when the caller made none (RFC 3261 §13.2.1 delayed offer): G.711 both laws, DTMF events.
    With `srtp_key`, RTP/SAVP and one a=crypto line per suite we take (tags 1, 2…), all with that key."""
    lines = _session_lines(local_host, session_id, session_version, user_agent)
    formats = [str(pt) for pt, _ in _OFFER_CODECS] + [str(OFFER_DTMF_PAYLOAD_TYPE)]
    proto = "RTP/AVP" if srtp_key is None else "RTP/SAVP"
    lines.append(f"m=audio {local_port} {proto} {' '.join(formats)}")
    lines += [f"a=rtpmap:{pt} {name}/8000" for pt, name in _OFFER_CODECS]
    lines.append(f"a=rtpmap:{OFFER_DTMF_PAYLOAD_TYPE} telephone-event/8000")
    lines.append(f"a=fmtp:{OFFER_DTMF_PAYLOAD_TYPE} 0-16")
    lines.append(f"a=ptime:{PTIME_MS}")
    lines.append("a=sendrecv")
    if srtp_key is not None:
        lines += [_crypto_line(tag, suite, srtp_key) for tag, suite in enumerate(SRTP_SUITES, start=1)]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def accept_answer(answer: SessionDescription, srtp_key: bytes | None = None) -> NegotiatedMedia:
    """The media an answer to our offer settles (RFC 3264 §5): its audio stream, codec and direction.
    `srtp_key`: the key of our RTP/SAVP offer (build_offer), whose answer must pick one of our crypto lines."""
    media = [m for m in answer.media if m.media == "audio"]
    if not media or media[0].port == 0:
        raise SdpError("the answer refuses the audio stream", 304)
    _, negotiated = negotiate(answer, "off" if srtp_key is None else "required", srtp_key)
    if negotiated.payload_type not in {pt for pt, _ in _OFFER_CODECS}:
        raise SdpError("the answer picks a codec we did not offer", 305)
    keys = negotiated.srtp
    if keys is not None and (keys.tag, keys.suite) not in tuple(enumerate(SRTP_SUITES, start=1)):
        raise SdpError(f"the answer's a=crypto:{keys.tag} {keys.suite} is not one we offered")
    return negotiated


def build_answer(
    offer: SessionDescription,
    chosen_index: int,
    negotiated: NegotiatedMedia,
    local_host: str,
    local_port: int,
    session_id: int,
    session_version: int,
    user_agent: str = "callbot",
) -> bytes:
    lines = _session_lines(local_host, session_id, session_version, user_agent)
    for index, media in enumerate(offer.media):
        if index != chosen_index:  # RFC 3264 §6: reject other streams with port 0, same m-line count
            lines.append(f"m={media.media} 0 {media.proto} {media.formats[0]}")
            continue
        formats = [str(negotiated.payload_type)]
        if negotiated.dtmf_payload_type is not None:
            formats.append(str(negotiated.dtmf_payload_type))
        proto = "RTP/AVP" if negotiated.srtp is None else "RTP/SAVP"
        lines.append(f"m=audio {local_port} {proto} {' '.join(formats)}")
        lines.append(f"a=rtpmap:{negotiated.payload_type} {negotiated.codec_name}/{negotiated.clock_rate}")
        if negotiated.dtmf_payload_type is not None:
            lines.append(f"a=rtpmap:{negotiated.dtmf_payload_type} telephone-event/8000")
            lines.append(f"a=fmtp:{negotiated.dtmf_payload_type} 0-16")
        lines.append(f"a=ptime:{PTIME_MS}")
        lines.append(f"a={negotiated.direction}")
        if negotiated.srtp is not None:  # RFC 4568 §7.1.2: the offer's tag and suite, with our own key
            keys = negotiated.srtp
            lines.append(_crypto_line(keys.tag, keys.suite, keys.local_key))
    return ("\r\n".join(lines) + "\r\n").encode("ascii")
