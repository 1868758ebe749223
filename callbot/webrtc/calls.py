"""Browser calls of one server: admission (the shared call limit), the life of each call, shutdown.

A call starts with the browser's offer: a slot is taken, the peer connection answers, and once its media
connects (ICE, DTLS) the server's `run_call` runs the session, as a SIP call's ACK starts it. The slot is kept
until the leg has closed everything (after a bridge to the agents, that is when one side hangs up).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiortc import RTCPeerConnection

from callbot.config import WebRtcSettings
from callbot.rtp.clock import MediaClock
from callbot.webrtc.leg import BridgeFunction, Notify, WebRtcLeg
from callbot.webrtc.peer import browser_ice_servers, ice_configuration
from callbot.webrtc.port import WebRtcAudio
from callbot.webrtc.slots import CallSlots

log = logging.getLogger(__name__)

WEBRTC_SAMPLE_RATE = 16000  # the session's rate for browser calls: wideband (Opus), what the recogniser takes
SHUTDOWN_WAIT_S = 5.0

RunCall = Callable[[WebRtcLeg], Awaitable[None]]


class Busy(Exception):
    """Every line is taken (SIP and browser calls together)."""


class Unavailable(Exception):
    """The server is starting or stopping: no call now."""


class WebRtcCalls:
    def __init__(
        self,
        settings: WebRtcSettings,
        slots: CallSlots,
        run_call: RunCall,
        bridge: BridgeFunction | None = None,
        sample_rate: int = WEBRTC_SAMPLE_RATE,
        clock: MediaClock | None = None,
    ) -> None:
        self.settings = settings
        self.slots = slots
        self.run_call = run_call
        self.bridge = bridge
        self.sample_rate = sample_rate
        self.clock = clock  # None: the process's media clock
        self.accepting = False  # until the server is ready; again False once it stops
        self.legs: set[WebRtcLeg] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def browser_ice_servers(self) -> list[dict[str, object]]:
        return browser_ice_servers(self.settings.ice_servers)

    def has_room(self) -> bool:
        return self.slots.has_room()

    async def open(self, offer_sdp: str, notify: Notify) -> tuple[WebRtcLeg, str]:
        """A new call from the browser's offer: the leg and the answer. Raises Unavailable, Busy, or OfferError."""
        if not self.accepting:
            raise Unavailable
        if not self.slots.acquire():
            raise Busy
        peer = RTCPeerConnection(ice_configuration(self.settings.ice_servers))
        audio = WebRtcAudio(self.sample_rate, self.settings.media_timeout_s, self.clock)
        leg = WebRtcLeg(peer, audio, notify, self.bridge)
        try:
            answer = await leg.accept(offer_sdp)
        except BaseException:
            self.slots.release()
            await leg.shutdown()
            raise
        if not self.accepting:  # the server began stopping meanwhile
            self.slots.release()
            await leg.shutdown()
            raise Unavailable
        self.legs.add(leg)
        task = asyncio.create_task(self._lifetime(leg), name=f"webrtc-call-{leg.call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return leg, answer

    async def _lifetime(self, leg: WebRtcLeg) -> None:
        try:
            if await self._connects(leg):
                try:
                    await self.run_call(leg)
                except Exception:
                    log.exception("%s: the call failed", leg.call_id)
            else:
                log.info("%s: media never connected", leg.call_id)
                leg.caller_left("media_timeout")
            await leg.hangup()  # nothing if the caller already left; a bridge goes on relaying
            await leg.closed.wait()
        finally:
            self.legs.discard(leg)
            self.slots.release()

    async def _connects(self, leg: WebRtcLeg) -> bool:
        """Whether the media connects within offer_timeout_s (False too if the browser left first)."""
        waits = [asyncio.create_task(leg.connected.wait()), asyncio.create_task(leg.ended.wait())]
        try:
            await asyncio.wait(waits, timeout=self.settings.offer_timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        return leg.connected.is_set() and not leg.ended.is_set()

    async def stop(self) -> None:
        """The server stops: every browser call ends ("shutdown"), their sessions get a moment to record it."""
        self.accepting = False
        legs = list(self.legs)
        if legs:
            await asyncio.gather(*(leg.shutdown() for leg in legs), return_exceptions=True)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=SHUTDOWN_WAIT_S)
