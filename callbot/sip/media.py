"""What the SIP layer needs from a call's media session (callbot.rtp.RtpSession satisfies it)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from callbot.audio import AudioPort


class MediaSession(AudioPort, Protocol):
    """The RtpSession seen from SIP: the call's AudioPort, plus what the SIP dialog drives."""

    local_host: str
    local_port: int
    dtmf: asyncio.Queue[str]
    media_timeout: asyncio.Event

    def start(self, remote: tuple[str, int], codec: Any, dtmf_payload_type: int | None) -> None: ...
    def set_direction(self, direction: str) -> None: ...  # ours, as in our SDP: sendrecv, recvonly…
    # SRTP keyed by SDES: a suite protects what we send with send_key, unprotects what we get with receive_key;
    # None: plain RTP. Only called on calls that negotiated SRTP at some point.
    def set_srtp(self, suite: str | None, send_key: bytes, receive_key: bytes) -> None: ...
    async def close(self) -> None: ...


MediaBinder = Callable[[str, int, int], Awaitable[MediaSession]]
CodecMaker = Callable[[str, int, int], object]


async def bind_rtp_session(host: str, port_min: int, port_max: int, *, rtp_timeout: float = 30.0) -> MediaSession:
    from callbot.rtp import RtpSession  # imported late: RTP is an independent package

    session: MediaSession = await RtpSession.bind(host, port_min, port_max, rtp_timeout=rtp_timeout)
    return session


def make_rtp_codec(name: str, payload_type: int, clock_rate: int) -> object:
    from callbot.rtp import RtpCodec

    return RtpCodec(name=name, payload_type=payload_type, clock_rate=clock_rate)
