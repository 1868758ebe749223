"""The peer connection of a browser call: ICE servers, codec preferences, and the answer to the browser's offer.

Non-trickle: the browser sends its offer once its ICE gathering is complete, aiortc gathers ours before it
answers, so one offer and one answer carry every candidate. Opus is preferred (wideband), PCMU and PCMA are
accepted (G.722 is left out); DTLS-SRTP is what aiortc always does.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCSessionDescription,
)

from callbot.config import IceServer

PREFERRED_CODECS = ("audio/opus", "audio/PCMU", "audio/PCMA")  # in this order
MAX_MEDIA_SECTIONS = 8  # the page offers one audio section; a few more (video, data) are tolerated and left idle


class OfferError(ValueError):
    """The browser's offer cannot be answered (not SDP, no audio, no codec in common)."""


def ice_configuration(servers: Sequence[IceServer]) -> RTCConfiguration:
    """aiortc's configuration: exactly the configured servers (aiortc's default would reach a public STUN server)."""
    return RTCConfiguration(
        iceServers=[RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential) for s in servers]
    )


def browser_ice_servers(servers: Sequence[IceServer]) -> list[dict[str, object]]:
    """The same servers as the page's RTCPeerConnection takes them."""
    result: list[dict[str, object]] = []
    for server in servers:
        entry: dict[str, object] = {"urls": list(server.urls)}
        if server.username is not None:
            entry["username"] = server.username
        if server.credential is not None:
            entry["credential"] = server.credential
        result.append(entry)
    return result


def preferred_codecs() -> list[RTCRtpCodecCapability]:
    available = RTCRtpSender.getCapabilities("audio").codecs
    return [codec for name in PREFERRED_CODECS for codec in available if codec.mimeType.lower() == name.lower()]


def check_offer(sdp: str) -> None:
    """A cheap look before aiortc parses it: an SDP with an audio section, and not a pile of sections."""
    lines = sdp.splitlines()
    if not lines or not lines[0].startswith("v=0"):
        raise OfferError("the offer is not SDP")
    sections = [line for line in lines if line.startswith("m=")]
    if not any(line.startswith("m=audio ") for line in sections):
        raise OfferError("the offer has no audio")
    if len(sections) > MAX_MEDIA_SECTIONS:
        raise OfferError(f"the offer has more than {MAX_MEDIA_SECTIONS} media sections")


async def answer_offer(peer: RTCPeerConnection, track: MediaStreamTrack, offer_sdp: str) -> str:
    """Our answer (with our ICE candidates) to the browser's offer; `track` is the bot's voice."""
    check_offer(offer_sdp)
    transceiver = peer.addTransceiver(track, direction="sendrecv")
    transceiver.setCodecPreferences(preferred_codecs())  # applied to the offer's audio section it gets
    try:
        await peer.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        answer = await peer.createAnswer()
        await peer.setLocalDescription(answer)
    except Exception as error:  # aiortc's parser and negotiation raise many kinds of errors on bad input
        raise OfferError(f"the offer cannot be answered: {error}") from error
    description = peer.localDescription
    if description is None:
        raise OfferError("no local description")
    return description.sdp
