"""A browser caller handed to the agents: the callbot calls `transfer.uri` and relays audio both ways (B2BUA).

A browser has no SIP REFER. Instead the caller's leg (callbot.webrtc) and a SIP call the callbot places to the agents
(callbot.sip.outbound) each keep their own media, and two relays move 20 ms frames between them, resampled once when
their rates differ (16 kHz in the browser's leg, 8 kHz G.711 on the agents' line). A relay adds no latency over time:
it keeps the side it plays into a few frames ahead, and what that side cannot take in time is dropped, oldest first,
beyond MAX_DELAY_S, and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from audio import FRAME_MS, Resampler, frame_bytes
from callbot.audio import AudioPort
from callbot.config import Settings
from callbot.sip import CallFailed, OutboundCall, SipEndpoint, SipError

log = logging.getLogger(__name__)

MAX_DELAY_S = 0.2  # the most a relay holds back (its own queue and what the receiving side has queued)
SINK_FILL_S = 0.06  # what a relay keeps queued in the receiving side: enough for a late tick, no more
BYE_WAIT_S = 5.0  # close() waits this long for the agents' answer to our BYE (the transaction goes on after)
# soxr's streams give their output in bursts: fed 20 ms at a time, at 16 <-> 8 kHz the HQ and MQ filters hold audio
# back up to 135 ms, LQ up to 80 ms (still a band-limiting filter: a G.711 line loses nothing audible by it).
RESAMPLER_QUALITY = "LQ"


class Relay:
    """One direction: frames read from `source` and played into `sink`, at most `max_delay_s` behind."""

    def __init__(
        self,
        source: AudioPort,
        sink: AudioPort,
        name: str,
        *,
        max_delay_s: float = MAX_DELAY_S,
        sink_fill_s: float = SINK_FILL_S,
    ) -> None:
        self.source = source
        self.sink = sink
        self.name = name
        self._resampler = Resampler(source.sample_rate, sink.sample_rate, RESAMPLER_QUALITY)  # equal: pass-through
        self._frame_bytes = frame_bytes(sink.sample_rate)
        self._partial = bytearray()  # resampled audio short of a whole frame
        self._backlog: deque[bytes] = deque()  # whole frames the sink has no room for yet
        self._room_below_s = sink_fill_s - FRAME_MS / 2000  # another frame goes in while less than this is queued
        self.max_backlog = max(1, round((max_delay_s - sink_fill_s) * 1000 / FRAME_MS))
        self.relayed = 0  # frames played into the sink
        self.dropped = 0  # frames dropped because the sink fell behind

    async def run(self) -> None:
        """Until the source is closed (read_frame gives None), or the task is cancelled."""
        while (pcm := await self.source.read_frame()) is not None:
            self.push(pcm)

    def push(self, pcm: bytes) -> None:
        self._partial += self._resampler.process(pcm)
        size = self._frame_bytes
        while len(self._partial) >= size:
            self._backlog.append(bytes(self._partial[:size]))
            del self._partial[:size]
        while self._backlog and self.sink.playback_pending() < self._room_below_s:
            self.sink.play(self._backlog.popleft())
            self.relayed += 1
        while len(self._backlog) > self.max_backlog:
            self._backlog.popleft()
            if not self.dropped:
                log.warning("bridge relay %s: the receiving side falls behind, dropping the oldest audio", self.name)
            self.dropped += 1

    @property
    def backlog(self) -> int:
        """Frames held back now (besides what the sink has queued)."""
        return len(self._backlog)


class Bridged:
    """The caller and the agents in one call. `ended` is set when the agent hangs up, the caller is gone (or its
    audio closed); `close()` stops relaying and hangs up the agents' side with BYE."""

    def __init__(self, call: OutboundCall, caller: AudioPort, caller_gone: asyncio.Event) -> None:
        self.call = call
        self.ended = asyncio.Event()
        self.to_agent = Relay(caller, call.audio, "caller->agent")
        self.to_caller = Relay(call.audio, caller, "agent->caller")
        self._caller_gone = caller_gone
        self._relays: list[asyncio.Task[None]] = []
        self._watch: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._relays = [
            loop.create_task(self.to_agent.run(), name=f"relay-to-agent:{self.call.call_id}"),
            loop.create_task(self.to_caller.run(), name=f"relay-to-caller:{self.call.call_id}"),
        ]
        self._watch = loop.create_task(self._watch_sides(), name=f"bridge:{self.call.call_id}")

    async def _watch_sides(self) -> None:
        waits = [asyncio.ensure_future(self.call.ended.wait()), asyncio.ensure_future(self._caller_gone.wait())]
        try:
            await asyncio.wait([*waits, *self._relays], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        if self.call.ended.is_set():
            why = f"ended by {self.call.ended_by or 'the agent'}"
        elif self._caller_gone.is_set():
            why = "the caller left"
        else:
            why = "a side's audio closed"
        log.info("[%s] bridge over: %s", self.call.call_id, why)
        self.ended.set()
        await self.close()

    async def close(self) -> None:
        """Stop relaying and hang up the agents' side (idempotent)."""
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(
                self._close(), name=f"bridge-close:{self.call.call_id}"
            )
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        self.ended.set()
        for task in self._relays:
            task.cancel()
        for outcome in await asyncio.gather(*self._relays, return_exceptions=True):
            if isinstance(outcome, Exception):
                log.error("[%s] a bridge relay failed", self.call.call_id, exc_info=outcome)
        bye = asyncio.ensure_future(self.call.hangup())  # nothing to do when the agent hung up first
        done, _ = await asyncio.wait({bye}, timeout=BYE_WAIT_S)
        if not done:
            log.warning("[%s] the agents did not answer our BYE in %.0f s", self.call.call_id, BYE_WAIT_S)
        log.info(
            "[%s] bridge relayed %d frames to the agent, %d to the caller; dropped %d and %d",
            self.call.call_id,
            self.to_agent.relayed,
            self.to_caller.relayed,
            self.to_agent.dropped,
            self.to_caller.dropped,
        )


class AgentBridge:
    """The bridge function the WebRTC legs are given (callbot.webrtc.BridgeFunction): call the agents, relay."""

    def __init__(self, endpoint: SipEndpoint, settings: Settings) -> None:
        self.endpoint = endpoint
        self.timeout_s = settings.transfer.timeout_s

    async def __call__(
        self, target_uri: str, headers: dict[str, str], caller: AudioPort, caller_gone: asyncio.Event
    ) -> Bridged | None:
        """The bridge once the agents answered; None when they cannot be reached (no answer within
        transfer.timeout_s, a 3xx-6xx, a network error) or the caller left meanwhile (the INVITE is cancelled)."""
        if caller_gone.is_set():
            return None
        placing = asyncio.ensure_future(self.endpoint.place_call(target_uri, headers, self.timeout_s))
        gone = asyncio.ensure_future(caller_gone.wait())
        try:
            await asyncio.wait({placing, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not placing.done():
                placing.cancel()  # the placement cancels its INVITE
                with contextlib.suppress(asyncio.CancelledError, SipError, OSError):
                    await placing
        if placing.cancelled():
            log.info("the caller left before the agents answered")
            return None
        error = placing.exception()
        if isinstance(error, (CallFailed, SipError, OSError)):
            log.info("agents not reached: %s", error)
            return None
        call = placing.result()  # raises any other error: a bug, for the caller of the bridge to log
        if caller_gone.is_set():
            await call.hangup()
            return None
        bridged = Bridged(call, caller, caller_gone)
        bridged.start()
        log.info("[%s] caller bridged to the agents", call.call_id)
        return bridged
