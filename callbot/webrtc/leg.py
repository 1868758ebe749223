"""A call from a browser as a CallLeg: the session hears and speaks through it as through a SIP call.

The leg owns the peer connection and the audio port; the signalling socket tells it what the page does (keys,
hang-up, leaving) and it tells the page what happens (connected, transferred, ended, captions) through `notify`.

A browser has no SIP REFER: a handoff bridges the call (`BridgeFunction`: the callbot calls the agents and relays
audio both ways). The session's work then ends and it hangs up, but the leg keeps the browser's peer connection,
relaying, until the bridge says it ended or the browser leaves; then it closes both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Protocol

from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from callbot.audio import AudioPort
from callbot.webrtc.peer import answer_offer
from callbot.webrtc.port import WebRtcAudio

log = logging.getLogger(__name__)

KEYS = frozenset("0123456789*#")
MAX_QUEUED_KEYS = 32  # a page pressing keys faster than the session reads them loses the surplus

# What the leg tells the page: {"type": "state", ...} and {"type": "caption", ...}; never waits.
Notify = Callable[[dict[str, object]], None]


class Bridged(Protocol):
    """A browser call bridged to the agents (B2BUA)."""

    @property
    def ended(self) -> asyncio.Event:
        """Set when either side hangs up."""
        ...

    async def close(self) -> None: ...


class BridgeFunction(Protocol):
    """Call `target_uri` with `headers` and relay its audio with `caller`'s; None when the agents cannot be reached.

    `caller_gone` is set when the browser leaves: the relay stops then."""

    async def __call__(
        self, target_uri: str, headers: dict[str, str], caller: AudioPort, caller_gone: asyncio.Event
    ) -> Bridged | None: ...


class WebRtcLeg:
    def __init__(
        self, peer: RTCPeerConnection, audio: WebRtcAudio, notify: Notify, bridge: BridgeFunction | None
    ) -> None:
        self.call_id = f"webrtc-{secrets.token_hex(8)}"  # the transport's id; the session has its own
        self.caller_number: str | None = None  # a browser has no number
        self.peer = peer
        self._audio = audio
        self._dtmf: asyncio.Queue[str] = asyncio.Queue(MAX_QUEUED_KEYS)
        self._notify = notify
        self._bridge = bridge
        self.ended = asyncio.Event()  # the call is over for the session (either side, or a bridge took it)
        self.ended_by: str | None = None  # "caller", "bot", "shutdown" or "media_timeout": the first to end it
        self.connected = asyncio.Event()  # media flows (ICE and DTLS done)
        self.caller_gone = asyncio.Event()  # the browser left (or is made to leave): a bridge stops relaying
        self.closed = asyncio.Event()  # peer connection, audio and bridge closed
        self.keys_lost = 0
        self._bridged: Bridged | None = None
        self._relay: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._answered = False  # the page has our answer: it is told when the call ends
        peer.on("track", self._on_track)
        peer.on("connectionstatechange", self._on_connection_state)

    # ---- CallLeg -------------------------------------------------------------------------------------------

    @property
    def audio(self) -> WebRtcAudio:
        return self._audio

    @property
    def dtmf(self) -> asyncio.Queue[str]:
        return self._dtmf

    async def hangup(self) -> None:
        """The bot ends the call; once bridged, the relay goes on until one side leaves (idempotent)."""
        if self.ended_by is None:
            self.ended_by = "bot"
        self.ended.set()
        if self._relay is not None and not self._relay.done():
            return
        await self._close()

    async def transfer(self, target_uri: str, headers: dict[str, str]) -> bool:
        """Bridge the browser to `target_uri`: True once the agents answered (the relay then runs)."""
        if self._bridge is None or self.ended.is_set():
            return False
        try:
            bridged = await self._bridge(target_uri, headers, self._audio, self.caller_gone)
        except Exception:
            log.exception("%s: the bridge to the agents failed", self.call_id)
            return False
        if bridged is None:
            return False
        if self.caller_gone.is_set() or self._closing is not None:  # the browser left while the agents answered
            await bridged.close()
            return False
        self._bridged = bridged
        self._relay = asyncio.create_task(self._relay_until_over(bridged), name=f"bridge-{self.call_id}")
        # The call is over for the session: it must stop now, not wait for its last words to play out (the relay
        # keeps the bot's track fed, so they never would) nor go on reading the caller's audio, which the relay
        # to the agents reads from the same port (each frame would go to one of them).
        self.ended.set()
        self._notify({"type": "state", "state": "transferred"})
        log.info("%s: bridged to the agents", self.call_id)
        return True

    # ---- what the page does ----------------------------------------------------------------------------------

    async def accept(self, offer_sdp: str) -> str:
        """The answer to the browser's offer; from now on the leg watches the browser's audio."""
        answer = await answer_offer(self.peer, self._audio.track, offer_sdp)
        self._answered = True
        self._watch = asyncio.create_task(self._watch_media(), name=f"media-{self.call_id}")
        return answer

    def press(self, key: str) -> bool:
        """A key of the page's keypad; False when it is not a key or too many wait."""
        if key not in KEYS or len(key) != 1:
            return False
        try:
            self._dtmf.put_nowait(key)
        except asyncio.QueueFull:
            self.keys_lost += 1
            return False
        return True

    def caller_left(self, by: str = "caller") -> None:
        """The browser hung up, closed its socket, or its media failed: the call ends (the leg closes itself)."""
        if self.ended_by is None:
            self.ended_by = by
        self.caller_gone.set()
        self.ended.set()
        if self._closing is None:
            self._closing = asyncio.create_task(self._close_all(), name=f"close-{self.call_id}")

    async def shutdown(self) -> None:
        """The server stops."""
        if self.ended_by is None:
            self.ended_by = "shutdown"
        self.caller_gone.set()
        self.ended.set()
        await self._close()

    def caption(self, who: str, text: str) -> None:
        """A turn as it is recorded, shown live in the page (the session's on_turn)."""
        if self._closing is None:
            self._notify({"type": "caption", "who": who, "text": text})

    # ---- aiortc's events -------------------------------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._audio.listen(track)

    def _on_connection_state(self) -> None:
        state = self.peer.connectionState
        log.info("%s: peer connection %s", self.call_id, state)
        if state == "connected" and not self.connected.is_set():
            self.connected.set()
            self._notify({"type": "state", "state": "connected"})
        elif state in ("failed", "closed"):
            # ICE consent expired (the tab vanished, the network went) or DTLS closed by the browser.
            self.caller_left("media_timeout" if state == "failed" else "caller")

    async def _watch_media(self) -> None:
        await self._audio.media_timeout.wait()
        self.caller_left("media_timeout")

    # ---- the end -----------------------------------------------------------------------------------------------

    async def _relay_until_over(self, bridged: Bridged) -> None:
        over = [asyncio.create_task(bridged.ended.wait()), asyncio.create_task(self.caller_gone.wait())]
        try:
            await asyncio.wait(over, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in over:
                task.cancel()
        log.info("%s: bridge over (%s)", self.call_id, "browser left" if self.caller_gone.is_set() else "agents")
        if self._closing is None:
            self._closing = asyncio.create_task(self._close_all(), name=f"close-{self.call_id}")

    async def _close(self) -> None:
        if self._closing is None:
            self._closing = asyncio.create_task(self._close_all(), name=f"close-{self.call_id}")
        await asyncio.shield(self._closing)

    async def _close_all(self) -> None:
        self.ended.set()
        if self._answered:
            self._notify({"type": "state", "state": "ended", "reason": self.ended_by or "caller"})
        current = asyncio.current_task()
        for task in (self._watch, self._relay):
            if task is not None and task is not current and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._bridged is not None:
            self.caller_gone.set()
            try:
                await self._bridged.close()
            except Exception:
                log.exception("%s: closing the bridge failed", self.call_id)
        await self._audio.close()
        try:
            await self.peer.close()
        except Exception:
            log.exception("%s: closing the peer connection failed", self.call_id)
        self.closed.set()
