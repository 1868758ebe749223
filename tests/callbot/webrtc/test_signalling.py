"""The call page's signalling over a real socket: origin, busy, bad and huge messages, the offer's deadline, one
offer per call; and whole calls from an aiortc peer playing the browser, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, WSServerHandshakeError, web
from aiohttp.test_utils import TestClient
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from audio import frame_bytes
from callbot.config import WebRtcSettings, load_settings
from callbot.metrics import CallMetrics
from callbot.rtp.playback import PlaybackQueue
from callbot.web.app import Readiness, create_app
from callbot.webrtc import CallSlots, WebRtcCalls, WebRtcLeg, add_webrtc_routes, use_host_addresses
from callbot.webrtc.outbound import BotTrack

Client = TestClient[web.Request, web.Application]
pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def loopback_candidates() -> Any:
    """aioice leaves 127.0.0.1 out of its host candidates: these tests stay on loopback."""
    use_host_addresses(["127.0.0.1"])
    yield
    use_host_addresses([])


def settings(**changes: Any) -> WebRtcSettings:
    return load_settings(environ={}).webrtc.model_copy(update=changes)


@dataclass
class Calls:
    """The server side: its WebRtcCalls and what its sessions saw."""

    service: WebRtcCalls
    client: Client
    legs: list[WebRtcLeg] = field(default_factory=list)
    heard: list[bytes] = field(default_factory=list)  # the caller's frames the session read

    @property
    def origin(self) -> str:
        return f"http://{self.client.server.host}:{self.client.server.port}"

    async def socket(self) -> ClientWebSocketResponse:
        return await self.client.ws_connect("/call/ws", headers={"Origin": self.origin})


CallsFactory = Callable[..., Awaitable[Calls]]


@pytest.fixture
async def make_calls(aiohttp_client: Callable[[web.Application], Awaitable[Client]]) -> AsyncIterator[CallsFactory]:
    made: list[Calls] = []

    async def make(limit: int = 2, accepting: bool = True, **changes: Any) -> Calls:
        holder: list[Calls] = []

        async def run_call(leg: WebRtcLeg) -> None:  # a session: reads the caller, says one thing, waits
            calls = holder[0]
            calls.legs.append(leg)
            leg.caption("bot", "Bonjour")
            leg.audio.play(tone(16000, 6.0))
            while (frame := await leg.audio.read_frame()) is not None:
                calls.heard.append(frame)

        service = WebRtcCalls(settings(**changes), CallSlots(limit), run_call)
        service.accepting = accepting

        def routes(app: web.Application) -> None:
            add_webrtc_routes(app, service)

        client = await aiohttp_client(create_app(Readiness(), CallMetrics(), None, routes))
        holder.append(Calls(service, client))
        made.append(holder[0])
        return holder[0]

    yield make
    for calls in made:
        await calls.service.stop()


def tone(rate: int, seconds: float, hz: float = 440.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    pcm: bytes = np.rint(8000 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()
    return pcm


class Browser:
    """An aiortc peer doing what the page does: a microphone track (a tone at 48 kHz), one offer with every
    candidate, and what it receives of the bot's track."""

    def __init__(self) -> None:
        self.peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        microphone = PlaybackQueue(frame_bytes(48000))
        microphone.append(tone(48000, 6.0))
        self.peer.addTrack(BotTrack(microphone, 48000))
        self.received: list[np.ndarray] = []
        self._reading: asyncio.Task[None] | None = None
        self.peer.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._reading = asyncio.create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.received.append(frame.to_ndarray().reshape(-1))  # type: ignore[union-attr]

    async def offer(self) -> str:
        await self.peer.setLocalDescription(await self.peer.createOffer())
        assert self.peer.localDescription is not None
        return self.peer.localDescription.sdp

    async def answer(self, sdp: str) -> None:
        await self.peer.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def close(self) -> None:
        await self.peer.close()
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading


async def next_json(socket: ClientWebSocketResponse) -> dict[str, Any]:
    message = await socket.receive(10)
    assert message.type == WSMsgType.TEXT, message
    data: dict[str, Any] = json.loads(message.data)
    return data


async def until(socket: ClientWebSocketResponse, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    while True:
        message = await next_json(socket)
        if wanted(message):
            return message


async def closed_with(socket: ClientWebSocketResponse) -> int | None:
    while True:
        message = await socket.receive(10)
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            return socket.close_code
        assert message.type == WSMsgType.TEXT, message


async def start_call(calls: Calls) -> tuple[ClientWebSocketResponse, Browser]:
    socket = await calls.socket()
    ready = await next_json(socket)
    assert ready == {"type": "ready", "iceServers": []}
    browser = Browser()
    await socket.send_json({"type": "offer", "sdp": await browser.offer()})
    answer = await next_json(socket)
    assert answer["type"] == "answer"
    await browser.answer(answer["sdp"])
    assert await until(socket, lambda m: m["type"] == "state") == {"type": "state", "state": "connected"}
    return socket, browser


# ---- the page ---------------------------------------------------------------------------------------------------


async def test_the_page_and_its_files_are_served_to_anyone(make_calls: CallsFactory) -> None:
    calls = await make_calls()
    page = await calls.client.get("/call")
    assert page.status == 200 and page.content_type == "text/html"
    text = await page.text()
    assert '<html lang="fr">' in text and "Appeler" in text and "<script>" not in text and "style=" not in text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    script = await calls.client.get("/call/static/call.js")
    assert script.status == 200 and "RTCPeerConnection" in await script.text()
    assert (await calls.client.get("/call/static/call.css")).status == 200
    assert (await calls.client.get("/call/static/..%2Fleg.py")).status == 404
    assert (await calls.client.get("/call/static/call.html")).status == 404


# ---- refusals -----------------------------------------------------------------------------------------------------


async def test_a_socket_from_another_origin_or_none_is_refused(make_calls: CallsFactory) -> None:
    calls = await make_calls()
    for headers in ({}, {"Origin": "http://evil.example"}, {"Origin": "null"}):
        with pytest.raises(WSServerHandshakeError) as refused:
            await calls.client.ws_connect("/call/ws", headers=headers)
        assert refused.value.status == 403


async def test_busy_when_every_line_is_taken(make_calls: CallsFactory) -> None:
    calls = await make_calls(limit=1)
    assert calls.service.slots.acquire()  # a SIP call, say
    socket = await calls.socket()
    assert await next_json(socket) == {"type": "busy"}
    assert await closed_with(socket) == 1013


async def test_unavailable_while_the_server_is_not_ready(make_calls: CallsFactory) -> None:
    calls = await make_calls(accepting=False)
    socket = await calls.socket()
    assert await next_json(socket) == {"type": "unavailable"}
    assert await closed_with(socket) == 1013


@pytest.mark.parametrize(
    "message",
    ["not json", "[1, 2]", json.dumps({"type": "dtmf", "key": "0"}), json.dumps({"type": "offer", "sdp": 3})],
)
async def test_anything_but_an_offer_first_closes_the_socket(make_calls: CallsFactory, message: str) -> None:
    calls = await make_calls()
    socket = await calls.socket()
    assert (await next_json(socket))["type"] == "ready"
    await socket.send_str(message)
    assert (await next_json(socket))["type"] == "error"
    assert await closed_with(socket) == 1008
    assert calls.service.slots.webrtc == 0


async def test_an_offer_that_is_not_sdp_is_refused(make_calls: CallsFactory) -> None:
    calls = await make_calls()
    for sdp in ("hello", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"):
        socket = await calls.socket()
        await next_json(socket)
        await socket.send_json({"type": "offer", "sdp": sdp})
        assert await next_json(socket) == {"type": "error", "error": "offer refused"}
        assert await closed_with(socket) == 1008
    assert calls.service.slots.webrtc == 0 and not calls.service.legs


async def test_a_huge_message_closes_the_socket(make_calls: CallsFactory) -> None:
    calls = await make_calls(max_message_bytes=4096)
    socket = await calls.socket()
    await next_json(socket)
    await socket.send_str(json.dumps({"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 2000}))
    assert await closed_with(socket) == 1009  # message too big
    assert calls.service.slots.webrtc == 0


async def test_a_socket_that_sends_no_offer_is_let_go(make_calls: CallsFactory) -> None:
    calls = await make_calls(offer_timeout_s=0.3)
    socket = await calls.socket()
    await next_json(socket)
    assert await next_json(socket) == {"type": "error", "error": "no offer in time"}
    assert await closed_with(socket) == 1008


# ---- whole calls ---------------------------------------------------------------------------------------------------


async def test_a_call_audio_both_ways_keys_captions_and_hangup(make_calls: CallsFactory) -> None:
    calls = await make_calls()
    socket, browser = await start_call(calls)
    try:
        assert await until(socket, lambda m: m["type"] == "caption") == {
            "type": "caption",
            "who": "bot",
            "text": "Bonjour",
        }
        assert calls.service.slots.webrtc == 1
        (leg,) = calls.legs
        await socket.send_json({"type": "dtmf", "key": "0"})
        await socket.send_json({"type": "dtmf", "key": "x"})
        assert (await until(socket, lambda m: m["type"] == "error"))["error"].startswith('"key"')
        assert await asyncio.wait_for(leg.dtmf.get(), 5) == "0"
        await socket.send_json({"type": "offer", "sdp": "v=0"})  # one offer per call: refused, the call goes on
        assert await until(socket, lambda m: m["type"] == "error") == {"type": "error", "error": "one offer per call"}
        await asyncio.sleep(1.5)  # a second of audio each way
        assert not leg.ended.is_set()

        # The browser's tone reached the session, at the call's rate, in 20 ms frames, nothing dropped.
        assert len(calls.heard) >= 40 and {len(f) for f in calls.heard} == {640}
        heard = np.frombuffer(b"".join(calls.heard[-25:]), "<i2")
        assert np.sqrt(np.mean(heard.astype(np.float64) ** 2)) > 1000
        assert leg.audio.frames_dropped == 0
        # The bot's tone reached the browser (Opus, 48 kHz stereo).
        received = np.concatenate(browser.received[-25:]).astype(np.float64)
        assert np.sqrt(np.mean(received**2)) > 1000

        await socket.send_json({"type": "hangup"})
        assert await closed_with(socket) is not None
        await asyncio.wait_for(leg.closed.wait(), 5)
        assert leg.ended_by == "caller"
    finally:
        await browser.close()
    for _ in range(50):
        if calls.service.slots.webrtc == 0:
            break
        await asyncio.sleep(0.05)
    assert calls.service.slots.webrtc == 0 and not calls.service.legs


async def test_closing_the_socket_ends_the_call(make_calls: CallsFactory) -> None:
    calls = await make_calls()
    socket, browser = await start_call(calls)
    try:
        await until(socket, lambda m: m["type"] == "caption")
        (leg,) = calls.legs
        await socket.close()
        await asyncio.wait_for(leg.closed.wait(), 5)
        assert leg.ended_by == "caller"
    finally:
        await browser.close()


async def test_the_server_stopping_ends_the_call(make_calls: CallsFactory) -> None:
    calls = await make_calls()
    socket, browser = await start_call(calls)
    try:
        await until(socket, lambda m: m["type"] == "caption")
        await calls.service.stop()
        assert await until(socket, lambda m: m["type"] == "state") == {
            "type": "state",
            "state": "ended",
            "reason": "shutdown",
        }
        assert await closed_with(socket) is not None
        assert calls.legs[0].ended_by == "shutdown"
    finally:
        await browser.close()


async def test_the_second_call_over_the_limit_is_busy(make_calls: CallsFactory) -> None:
    calls = await make_calls(limit=1)
    socket, browser = await start_call(calls)
    try:
        other = await calls.socket()
        assert await next_json(other) == {"type": "busy"}
        await socket.send_json({"type": "hangup"})
        await asyncio.wait_for(calls.legs[0].closed.wait(), 5)
    finally:
        await browser.close()
