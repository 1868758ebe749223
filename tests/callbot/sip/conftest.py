"""Fixtures for the SIP tests: a media stand-in, a raw UDP SIP peer and short RFC 3261 timers."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from callbot.sip import SipCall, SipEndpoint, SipTimers
from callbot.sip.message import SipRequest, SipResponse, parse_message

FAST_TIMERS = SipTimers(t1=0.05, t2=0.4, t4=0.2)

OFFER_PCMU = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
    "a=sendrecv\r\n"
)


class FakeMedia:
    """Stands in for RtpSession where the test looks at SIP only (a unit-test boundary)."""

    sample_rate = 8000

    def __init__(self, host: str) -> None:
        self.local_host = host
        self.local_port = 20000 + 2 * secrets.randbelow(1000)
        self.dtmf: asyncio.Queue[str] = asyncio.Queue()
        self.media_timeout = asyncio.Event()
        self.started: tuple[tuple[str, int], Any, int | None] | None = None
        self.direction = "sendrecv"
        self.closed = asyncio.Event()

    def start(self, remote: tuple[str, int], codec: Any, dtmf_payload_type: int | None) -> None:
        self.started = (remote, codec, dtmf_payload_type)

    def set_direction(self, direction: str) -> None:
        self.direction = direction

    async def close(self) -> None:
        self.closed.set()

    async def read_frame(self) -> bytes | None:
        await self.closed.wait()
        return None

    def play(self, pcm: bytes) -> None:
        pass

    def clear_playback(self) -> None:
        pass

    def playback_pending(self) -> float:
        return 0.0

    async def wait_played(self) -> None:
        pass


class MediaRecorder:
    def __init__(self) -> None:
        self.sessions: list[FakeMedia] = []

    async def bind(self, host: str, port_min: int, port_max: int) -> FakeMedia:
        media = FakeMedia(host)
        self.sessions.append(media)
        return media


def fake_codec(name: str, payload_type: int, clock_rate: int) -> tuple[str, int, int]:
    return (name, payload_type, clock_rate)


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait(data)


class RawPeer:
    """A UDP socket the test drives by hand, with SIP message templates."""

    def __init__(self, transport: asyncio.DatagramTransport, receiver: _Receiver, target: tuple[str, int]):
        self.transport = transport
        self.receiver = receiver
        self.target = target
        self.port = int(transport.get_extra_info("sockname")[1])

    def send(self, data: bytes | str) -> None:
        self.transport.sendto(data.encode() if isinstance(data, str) else data, self.target)

    async def recv(self, within: float = 3.0) -> SipRequest | SipResponse:
        return parse_message(await asyncio.wait_for(self.receiver.queue.get(), within))

    async def expect_response(self, status: int, within: float = 3.0) -> SipResponse:
        """Next response with that status, skipping provisional/retransmitted ones before it."""
        async with asyncio.timeout(within):
            while True:
                message = await self.recv(within)
                if isinstance(message, SipResponse) and message.status == status:
                    return message
                if isinstance(message, SipResponse) and message.status > status and message.status >= 200:
                    raise AssertionError(f"expected {status}, got {message.status}")

    async def expect_request(self, method: str, within: float = 3.0) -> SipRequest:
        async with asyncio.timeout(within):
            while True:
                message = await self.recv(within)
                if isinstance(message, SipRequest) and message.method == method:
                    return message

    async def silent(self, seconds: float) -> list[bytes]:
        """Everything received during `seconds` (used to check that nothing more comes)."""
        got: list[bytes] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    got.append(await self.receiver.queue.get())
        return got

    def request(
        self,
        method: str,
        *,
        call_id: str,
        cseq: int = 1,
        branch: str | None = None,
        from_tag: str = "ft1",
        to_tag: str | None = None,
        body: str = "",
        content_type: str = "application/sdp",
        extra: str = "",
        uri: str | None = None,
        cseq_method: str | None = None,
    ) -> str:
        to = f"<sip:bot@127.0.0.1:{self.target[1]}>" + (f";tag={to_tag}" if to_tag else "")
        lines = [
            f"{method} {uri or f'sip:bot@127.0.0.1:{self.target[1]}'} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch or 'z9hG4bK' + secrets.token_hex(6)};rport",
            "Max-Forwards: 70",
            f'From: "Caller" <sip:+33491000000@127.0.0.1:{self.port}>;tag={from_tag}',
            f"To: {to}",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} {cseq_method or method}",
            f"Contact: <sip:caller@127.0.0.1:{self.port}>",
        ]
        if extra:
            lines.append(extra.rstrip("\r\n"))
        if body:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body.encode())}")
        return "\r\n".join(lines) + "\r\n\r\n" + body

    def invite(self, call_id: str, **kwargs: Any) -> str:
        kwargs.setdefault("body", OFFER_PCMU)
        return self.request("INVITE", call_id=call_id, **kwargs)

    def ack_for(self, response: SipResponse, call_id: str, cseq: int = 1, branch: str | None = None) -> str:
        to_tag = response.to_addr.tag
        return self.request("ACK", call_id=call_id, cseq=cseq, to_tag=to_tag, branch=branch, body="")

    def respond(self, request: SipRequest, status: int, reason: str = "OK", extra: str = "") -> None:
        lines = [f"SIP/2.0 {status} {reason}"]
        lines += [f"Via: {via}" for via in request.headers.get_all("Via")]
        to = request.headers.get("To") or ""
        if ";tag=" not in to:
            to += ";tag=peer1"
        lines += [
            f"From: {request.headers.get('From')}",
            f"To: {to}",
            f"Call-ID: {request.call_id}",
            f"CSeq: {request.headers.get('CSeq')}",
        ]
        if extra:
            lines.append(extra)
        lines.append("Content-Length: 0")
        self.send("\r\n".join(lines) + "\r\n\r\n")

    def close(self) -> None:
        self.transport.close()


Handler = Callable[[SipCall], Awaitable[None]]


@pytest.fixture
def media() -> MediaRecorder:
    return MediaRecorder()


@pytest.fixture
async def make_endpoint(media: MediaRecorder) -> AsyncIterator[Callable[..., Awaitable[SipEndpoint]]]:
    endpoints: list[SipEndpoint] = []

    async def factory(handler: Handler, **kwargs: Any) -> SipEndpoint:
        kwargs.setdefault("timers", FAST_TIMERS)
        kwargs.setdefault("media_binder", media.bind)
        kwargs.setdefault("codec_maker", fake_codec)
        max_calls = kwargs.pop("max_calls", 4)
        endpoint = SipEndpoint(
            "127.0.0.1", 0, handler, "127.0.0.1", 0, 0, "callbot-test", max_calls, kwargs.pop("tcp", True), **kwargs
        )
        await endpoint.start()
        endpoints.append(endpoint)
        return endpoint

    yield factory
    for endpoint in endpoints:
        await endpoint.stop()


@pytest.fixture
async def make_peer() -> AsyncIterator[Callable[[SipEndpoint], Awaitable[RawPeer]]]:
    peers: list[RawPeer] = []

    async def factory(endpoint: SipEndpoint) -> RawPeer:
        loop = asyncio.get_running_loop()
        transport, receiver = await loop.create_datagram_endpoint(_Receiver, local_addr=("127.0.0.1", 0))
        peer = RawPeer(transport, receiver, ("127.0.0.1", endpoint.port))
        peers.append(peer)
        return peer

    yield factory
    for peer in peers:
        peer.close()
