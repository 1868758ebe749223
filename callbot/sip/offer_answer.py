"""A call's SDP offer/answer state (RFC 3264) and its effect on the call's RTP session.

Every exchange of the call goes through here: the initial INVITE's offer (or our offer when it has none),
re-INVITEs and UPDATEs. An offer that cannot be accepted raises SdpError and leaves the media as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from callbot.sip.media import CodecMaker, MediaSession
from callbot.sip.sdp import (
    NegotiatedMedia,
    SdpError,
    SrtpMode,
    accept_answer,
    build_answer,
    build_offer,
    negotiate,
    new_sdes_key,
    parse_sdp,
)


@dataclass(frozen=True)
class PreparedAnswer:
    """An answer built but not yet in force: the initial one takes effect when the call is answered."""

    negotiated: NegotiatedMedia
    sdp: bytes
    version: int


class LocalSdp:
    """Our o= line across the call: same session id, version +1 only when our SDP changes (RFC 3264 §8)."""

    def __init__(self, host: str, port: int, session_id: int, user_agent: str) -> None:
        self.host = host
        self.port = port
        self.session_id = session_id
        self.user_agent = user_agent
        self.version = 0  # of the last SDP we sent; 0: none sent yet
        self.last: bytes | None = None

    def versioned(self, build: Callable[[int], bytes]) -> tuple[bytes, int]:
        """`build(version)` with the version it must carry, compared with what we last sent."""
        if self.last is None:
            return build(1), 1
        same = build(self.version)
        if _without_origin(same) == _without_origin(self.last):
            return self.last, self.version
        return build(self.version + 1), self.version + 1

    def sent(self, sdp: bytes, version: int) -> None:
        self.last, self.version = sdp, version


def _without_origin(sdp: bytes) -> list[bytes]:
    return [line for line in sdp.splitlines() if not line.startswith(b"o=")]


class MediaNegotiation:
    def __init__(
        self, media: MediaSession, make_codec: CodecMaker, local: LocalSdp, srtp: SrtpMode = "optional"
    ) -> None:
        self.media = media
        self._make_codec = make_codec
        self.local = local
        self.srtp = srtp  # sip.srtp
        # Our SDES key for the whole call: the same in every answer, so a refresh leaves our SDP unchanged
        self._srtp_key = new_sdes_key()
        self._offered_srtp = False  # our pending offer was RTP/SAVP
        self.current: NegotiatedMedia | None = None  # what is in force; None before the first exchange ends
        self.offer_pending = False  # we sent an offer in a 2xx and wait for the answer in the ACK

    # --- the caller offers -----------------------------------------------------------------------
    def prepare_answer(self, offer_body: bytes) -> PreparedAnswer:
        """Our answer to an offer (raises SdpError); nothing changes until `apply`."""
        offer = parse_sdp(offer_body)
        index, negotiated = negotiate(offer, self.srtp, self._srtp_key)
        local = self.local

        def build(version: int) -> bytes:
            return build_answer(
                offer, index, negotiated, local.host, local.port, local.session_id, version, local.user_agent
            )

        sdp, version = local.versioned(build)
        return PreparedAnswer(negotiated, sdp, version)

    def apply(self, prepared: PreparedAnswer) -> None:
        """Put an answer in force: the RTP session follows the new address, codec and direction."""
        self._use(prepared.negotiated)
        self.local.sent(prepared.sdp, prepared.version)

    def answer_offer(self, offer_body: bytes) -> bytes:
        """A re-INVITE's or UPDATE's offer: answered and in force at once, or SdpError and nothing changed."""
        prepared = self.prepare_answer(offer_body)
        self.apply(prepared)
        return prepared.sdp

    # --- we offer (delayed offer: the INVITE had no SDP) -----------------------------------------
    def make_offer(self) -> bytes:
        local = self.local
        # "optional" offers plain RTP (a peer without SRTP refuses RTP/SAVP), unless the call is already SRTP:
        # our re-offer must not downgrade it.
        secured = self.current is not None and self.current.srtp is not None
        self._offered_srtp = self.srtp == "required" or secured
        key = self._srtp_key if self._offered_srtp else None
        sdp, version = local.versioned(
            lambda v: build_offer(local.host, local.port, local.session_id, v, local.user_agent, key)
        )
        local.sent(sdp, version)
        self.offer_pending = True
        return sdp

    def take_answer(self, answer_body: bytes) -> None:
        """The answer to our offer (in the ACK); SdpError when it is missing or unusable."""
        self.offer_pending = False
        if not answer_body.strip():
            raise SdpError("the ACK carries no SDP answer to our offer")
        self._use(accept_answer(parse_sdp(answer_body), self._srtp_key if self._offered_srtp else None))

    def _use(self, negotiated: NegotiatedMedia) -> None:
        previous = self.current
        keys = negotiated.srtp
        if keys is not None:
            self.media.set_srtp(keys.suite, keys.local_key, keys.remote_key)
        elif previous is not None and previous.srtp is not None:
            self.media.set_srtp(None, b"", b"")  # "optional": the peer went back to plain RTP
        if previous is None or (negotiated.remote, negotiated.payload_type, negotiated.dtmf_payload_type) != (
            previous.remote,
            previous.payload_type,
            previous.dtmf_payload_type,
        ):
            codec = self._make_codec(negotiated.codec_name, negotiated.payload_type, negotiated.clock_rate)
            self.media.start(negotiated.remote, codec, negotiated.dtmf_payload_type)
        self.media.set_direction(negotiated.direction)
        self.current = negotiated
