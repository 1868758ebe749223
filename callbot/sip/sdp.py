"""SDP offer parsing and G.711 answer building (RFC 4566, RFC 3264, RFC 4733)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

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


@dataclass
class SessionDescription:
    connection: str | None
    media: list[SdpMedia]
    direction: str = "sendrecv"


@dataclass(frozen=True)
class NegotiatedMedia:
    codec_name: str
    payload_type: int
    clock_rate: int
    dtmf_payload_type: int | None
    remote: tuple[str, int]
    direction: str  # our direction in the answer


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


def _codec_of(media: SdpMedia, fmt: str) -> tuple[str, int] | None:
    if not fmt.isdigit():
        return None
    pt = int(fmt)
    if pt in media.rtpmap:
        name, rate = media.rtpmap[pt]
        return name.upper(), rate
    return _STATIC_PAYLOADS.get(pt)


def negotiate(offer: SessionDescription) -> tuple[int, NegotiatedMedia]:
    """Pick the first usable audio stream and codec (the offerer's preference order)."""
    for index, media in enumerate(offer.media):
        if media.media != "audio" or media.port == 0 or media.proto not in ("RTP/AVP", "RTP/AVPF"):
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
        host = media.connection or offer.connection
        if host is None:
            raise SdpError("no c= line for the audio stream", 300)
        direction = _ANSWER_DIRECTION[media.direction or offer.direction]
        if ipaddress.ip_address(host).is_unspecified:
            # RFC 3264 §8.4 (RFC 2543 hold): c=0.0.0.0 means send the peer nothing, whatever a= says
            direction = {"sendrecv": "recvonly", "sendonly": "inactive"}.get(direction, direction)
        pt, name, rate = chosen
        return index, NegotiatedMedia(name, pt, rate, dtmf, (host, media.port), direction)
    raise SdpError("no common audio codec (PCMU or PCMA over RTP/AVP required)", 305)


def _session_lines(local_host: str, session_id: int, session_version: int, user_agent: str) -> list[str]:
    family = "IP6" if ":" in local_host else "IP4"
    return [
        "v=0",
        f"o=- {session_id} {session_version} IN {family} {local_host}",
        f"s={user_agent}",
        f"c=IN {family} {local_host}",
        "t=0 0",
    ]


def build_offer(
    local_host: str, local_port: int, session_id: int, session_version: int, user_agent: str = "callbot"
) -> bytes:
    """Our offer when the caller made none (RFC 3261 §13.2.1 delayed offer): G.711 both laws, DTMF events."""
    lines = _session_lines(local_host, session_id, session_version, user_agent)
    formats = [str(pt) for pt, _ in _OFFER_CODECS] + [str(OFFER_DTMF_PAYLOAD_TYPE)]
    lines.append(f"m=audio {local_port} RTP/AVP {' '.join(formats)}")
    lines += [f"a=rtpmap:{pt} {name}/8000" for pt, name in _OFFER_CODECS]
    lines.append(f"a=rtpmap:{OFFER_DTMF_PAYLOAD_TYPE} telephone-event/8000")
    lines.append(f"a=fmtp:{OFFER_DTMF_PAYLOAD_TYPE} 0-16")
    lines.append(f"a=ptime:{PTIME_MS}")
    lines.append("a=sendrecv")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def accept_answer(answer: SessionDescription) -> NegotiatedMedia:
    """The media an answer to our offer settles (RFC 3264 §5): its audio stream, codec and direction."""
    media = [m for m in answer.media if m.media == "audio"]
    if not media or media[0].port == 0:
        raise SdpError("the answer refuses the audio stream", 304)
    _, negotiated = negotiate(answer)
    if negotiated.payload_type not in {pt for pt, _ in _OFFER_CODECS}:
        raise SdpError("the answer picks a codec we did not offer", 305)
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
        lines.append(f"m=audio {local_port} RTP/AVP {' '.join(formats)}")
        lines.append(f"a=rtpmap:{negotiated.payload_type} {negotiated.codec_name}/{negotiated.clock_rate}")
        if negotiated.dtmf_payload_type is not None:
            lines.append(f"a=rtpmap:{negotiated.dtmf_payload_type} telephone-event/8000")
            lines.append(f"a=fmtp:{negotiated.dtmf_payload_type} 0-16")
        lines.append(f"a=ptime:{PTIME_MS}")
        lines.append(f"a={negotiated.direction}")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")
