"""The call page and its signalling WebSocket: GET /call, GET /call/static/{name}, GET /call/ws.

One socket carries one call: the server says it is ready (with the ICE servers), the page sends one offer,
gets the answer, then sends keys and its hang-up while the server sends the call's state and live captions.
Bounded: messages over `webrtc.max_message_bytes` close the socket (1009), a socket without an offer within
`webrtc.offer_timeout_s` is closed, a page from another origin is refused, and closing the socket ends the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from aiohttp import WSCloseCode, WSMsgType, hdrs, web

from callbot.webrtc.calls import Busy, Unavailable, WebRtcCalls
from callbot.webrtc.leg import WebRtcLeg
from callbot.webrtc.messages import Hangup, Key, MessageError, Offer, parse_message
from callbot.webrtc.peer import OfferError

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {name: STATIC / name for name in ("call.js", "call.css")}
WEBRTC_KEY = web.AppKey("webrtc_calls", WebRtcCalls)
MAX_OUTBOX = 256  # messages waiting for a slow page; beyond, captions are dropped
MAX_BAD_MESSAGES = 20  # during a call, bad messages are answered with an error; this many close the socket
TRY_AGAIN_LATER = 1013  # WebSocket close code (RFC 6455 registry): the service is overloaded
_HANDSHAKE_HEADERS = (
    hdrs.UPGRADE,
    hdrs.CONNECTION,
    hdrs.SEC_WEBSOCKET_VERSION,
    hdrs.SEC_WEBSOCKET_KEY,
    hdrs.SEC_WEBSOCKET_PROTOCOL,
    hdrs.SEC_WEBSOCKET_EXTENSIONS,
)


def add_webrtc_routes(app: web.Application, calls: WebRtcCalls) -> None:
    app[WEBRTC_KEY] = calls
    app.router.add_get("/call", _page)
    app.router.add_get("/call/ws", _socket)
    app.router.add_get("/call/static/{name}", _static)


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "call.html")


async def _static(request: web.Request) -> web.FileResponse:
    path = STATIC_FILES.get(request.match_info["name"])  # only the files shipped: no request path reaches the disk
    if path is None:
        raise web.HTTPNotFound(text="no such file")
    return web.FileResponse(path)


def same_origin(request: web.Request) -> bool:
    """The socket is opened by our own page (a WebSocket is not bound by the same-origin policy: check it)."""
    origin = request.headers.get("Origin")
    # Either scheme: behind a TLS proxy the page is https:// while this server is reached over http.
    return origin is not None and origin in (f"http://{request.host}", f"https://{request.host}")


def handshake_is_ascii(request: web.Request) -> bool:
    """The upgrade's headers are ASCII, as RFC 6455 has them: aiohttp's handshake raises on others (a byte that is
    not UTF-8 in the key or the version), which would be a 500 instead of a 400."""
    return all(value.isascii() for name in _HANDSHAKE_HEADERS for value in request.headers.getall(name, ()))


async def _socket(request: web.Request) -> web.StreamResponse:
    calls = request.app[WEBRTC_KEY]
    if not same_origin(request):
        raise web.HTTPForbidden(text="the call page must be opened from this server")
    socket = web.WebSocketResponse(max_msg_size=calls.settings.max_message_bytes)
    if not handshake_is_ascii(request) or not socket.can_prepare(request).ok:
        raise web.HTTPBadRequest(text="a WebSocket is expected here")
    await socket.prepare(request)
    await CallSocket(socket, calls).run()
    return socket


class CallSocket:
    """One page's socket, for one call."""

    def __init__(self, socket: web.WebSocketResponse, calls: WebRtcCalls) -> None:
        self.socket = socket
        self.calls = calls
        self.leg: WebRtcLeg | None = None
        # messages for the page, then the close code (an int) that ends the writer
        self._outbox: asyncio.Queue[dict[str, object] | int] = asyncio.Queue()
        self._queued = 0
        self._bad = 0

    def send(self, message: dict[str, object]) -> None:
        """Queue a message for the page (never waits: the leg calls it from anywhere)."""
        if self._outbox.qsize() >= MAX_OUTBOX:
            log.warning("call page too slow: a %s message dropped", message.get("type"))
            return
        self._outbox.put_nowait(message)

    def close(self, code: int = WSCloseCode.OK) -> None:
        """The writer sends what is queued, then closes the socket (which ends the reading loop)."""
        self._outbox.put_nowait(code)

    async def run(self) -> None:
        writer = asyncio.create_task(self._write(), name="webrtc-socket-writer")
        try:
            if await self._start_call():
                await self._converse()
        finally:
            if self.leg is not None:
                self.leg.caller_left("caller")  # nothing if the call is already over
            self.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(writer), 5)
            writer.cancel()
            if not self.socket.closed:
                await self.socket.close()

    async def _write(self) -> None:
        while True:
            item = await self._outbox.get()
            if isinstance(item, int):
                break
            if self.socket.closed:
                return
            try:
                await self.socket.send_json(item)
            except (ConnectionError, RuntimeError):
                return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.socket.close(code=item)

    def _refuse(self, message: dict[str, object], code: int) -> bool:
        self.send(message)
        self.close(code)
        return False

    async def _start_call(self) -> bool:
        """Ready, the offer, the answer: True once the call is up."""
        calls = self.calls
        if not calls.accepting:
            return self._refuse({"type": "unavailable"}, TRY_AGAIN_LATER)
        if not calls.has_room():
            return self._refuse({"type": "busy"}, TRY_AGAIN_LATER)
        self.send({"type": "ready", "iceServers": calls.browser_ice_servers()})
        try:
            first = await asyncio.wait_for(self.socket.receive(), calls.settings.offer_timeout_s)
        except TimeoutError:
            return self._refuse({"type": "error", "error": "no offer in time"}, WSCloseCode.POLICY_VIOLATION)
        if first.type != WSMsgType.TEXT:
            return False  # closed, too big (aiohttp has closed it with 1009), or binary: nothing to answer
        try:
            offer = parse_message(first.data)
        except MessageError as error:
            return self._refuse({"type": "error", "error": str(error)}, WSCloseCode.POLICY_VIOLATION)
        if not isinstance(offer, Offer):
            return self._refuse({"type": "error", "error": "an offer first"}, WSCloseCode.POLICY_VIOLATION)
        try:
            self.leg, answer = await calls.open(offer.sdp, self.send)
        except Busy:
            return self._refuse({"type": "busy"}, TRY_AGAIN_LATER)
        except Unavailable:
            return self._refuse({"type": "unavailable"}, TRY_AGAIN_LATER)
        except OfferError as error:
            log.info("call page offer refused: %s", error)
            return self._refuse({"type": "error", "error": "offer refused"}, WSCloseCode.POLICY_VIOLATION)
        self.send({"type": "answer", "sdp": answer})
        return True

    async def _converse(self) -> None:
        """The page's messages until it hangs up, closes its socket, or the call ends."""
        leg = self.leg
        assert leg is not None
        closer = asyncio.create_task(self._close_when_over(leg))
        try:
            async for message in self.socket:
                if message.type != WSMsgType.TEXT:
                    self._complain("text messages only")
                    continue
                try:
                    parsed = parse_message(message.data)
                except MessageError as error:
                    self._complain(str(error))
                    continue
                if isinstance(parsed, Key):
                    leg.press(parsed.key)
                elif isinstance(parsed, Hangup):
                    leg.caller_left("caller")
                    break
                else:
                    self._complain("one offer per call")
                if self._bad > MAX_BAD_MESSAGES:
                    break
        finally:
            closer.cancel()

    def _complain(self, error: str) -> None:
        self._bad += 1
        self.send({"type": "error", "error": error})

    async def _close_when_over(self, leg: WebRtcLeg) -> None:
        await leg.closed.wait()
        self.close()
