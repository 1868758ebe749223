"""The browser call leg: keys, the end of the call (whoever ends it), captions, and the bridge to the agents."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from aiortc import RTCPeerConnection

from callbot.audio import AudioPort
from callbot.session import CallLeg
from callbot.webrtc.leg import MAX_QUEUED_KEYS, Bridged, BridgeFunction, WebRtcLeg
from callbot.webrtc.port import WebRtcAudio


class FakePeer:
    """What the leg uses of aiortc's RTCPeerConnection."""

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[..., None]] = {}
        self.connectionState = "new"
        self.closed = False

    def on(self, event: str, handler: Callable[..., None]) -> None:
        self.handlers[event] = handler

    def set_state(self, state: str) -> None:
        self.connectionState = state
        self.handlers["connectionstatechange"]()

    async def close(self) -> None:
        self.closed = True
        self.set_state("closed")


class FakeBridged:
    def __init__(self) -> None:
        self.ended = asyncio.Event()
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class FakeBridge:
    def __init__(self, answer: FakeBridged | None) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, str], AudioPort, asyncio.Event]] = []

    async def __call__(
        self, target_uri: str, headers: dict[str, str], caller: AudioPort, caller_gone: asyncio.Event
    ) -> Bridged | None:
        self.calls.append((target_uri, headers, caller, caller_gone))
        return self.answer


def make_leg(bridge: BridgeFunction | None = None) -> tuple[WebRtcLeg, FakePeer, list[dict[str, object]]]:
    peer = FakePeer()
    sent: list[dict[str, object]] = []
    leg = WebRtcLeg(cast(RTCPeerConnection, peer), WebRtcAudio(16000), sent.append, bridge)
    leg._answered = True  # as after accept(): the page is told how the call ends
    return leg, peer, sent


def states(sent: list[dict[str, object]]) -> list[Any]:
    return [(m["state"], m.get("reason")) for m in sent if m["type"] == "state"]


async def test_it_is_a_call_leg_without_a_caller_number() -> None:
    leg, _, _ = make_leg()
    as_leg: CallLeg = leg  # the session's Protocol, checked by mypy
    assert as_leg.caller_number is None and as_leg.call_id.startswith("webrtc-")
    assert as_leg.audio.sample_rate == 16000 and as_leg.ended_by is None


async def test_keys_are_queued_checked_and_bounded() -> None:
    leg, _, _ = make_leg()
    assert leg.press("0") and leg.press("*") and leg.press("#")
    assert not leg.press("x") and not leg.press("00") and not leg.press("")
    assert [leg.dtmf.get_nowait() for _ in range(3)] == ["0", "*", "#"]
    for _ in range(MAX_QUEUED_KEYS):
        leg.press("1")
    assert not leg.press("1") and leg.keys_lost == 1


async def test_connected_is_told_to_the_page() -> None:
    leg, peer, sent = make_leg()
    peer.set_state("connecting")
    peer.set_state("connected")
    assert leg.connected.is_set()
    assert states(sent) == [("connected", None)]


async def test_the_caller_hanging_up_ends_and_closes_the_call() -> None:
    leg, peer, sent = make_leg()
    leg.caller_left("caller")
    assert leg.ended.is_set() and leg.ended_by == "caller" and leg.caller_gone.is_set()
    await asyncio.wait_for(leg.closed.wait(), 1)
    assert peer.closed
    assert states(sent) == [("ended", "caller")]
    assert await leg.audio.read_frame() is None


async def test_a_failed_peer_connection_is_a_media_timeout() -> None:
    """ICE consent expired: the tab vanished or the network went, without a word from the page."""
    leg, peer, sent = make_leg()
    peer.set_state("connected")
    peer.set_state("failed")
    await asyncio.wait_for(leg.closed.wait(), 1)
    assert leg.ended_by == "media_timeout"
    assert states(sent)[-1] == ("ended", "media_timeout")


async def test_the_bot_hangs_up() -> None:
    leg, peer, sent = make_leg()
    await leg.hangup()
    assert leg.closed.is_set() and peer.closed and leg.ended_by == "bot"
    assert states(sent) == [("ended", "bot")]
    await leg.hangup()  # again: nothing more
    assert len(states(sent)) == 1


async def test_shutdown() -> None:
    leg, _, sent = make_leg()
    await leg.shutdown()
    assert leg.ended_by == "shutdown" and leg.closed.is_set()
    assert states(sent) == [("ended", "shutdown")]


async def test_captions_go_to_the_page_until_the_call_ends() -> None:
    leg, _, sent = make_leg()
    leg.caption("bot", "Bonjour")
    leg.caption("caller", "un lampadaire")
    await leg.hangup()
    leg.caption("bot", "trop tard")
    captions = [(m["who"], m["text"]) for m in sent if m["type"] == "caption"]
    assert captions == [("bot", "Bonjour"), ("caller", "un lampadaire")]


async def test_no_bridge_or_agents_unreachable_is_a_failed_transfer() -> None:
    leg, _, _ = make_leg()
    assert await leg.transfer("sip:agents@127.0.0.1", {}) is False
    bridge = FakeBridge(None)
    leg, _, _ = make_leg(bridge)
    assert await leg.transfer("sip:agents@127.0.0.1", {"X-Callbot-Call-Id": "abc"}) is False
    assert bridge.calls[0][:2] == ("sip:agents@127.0.0.1", {"X-Callbot-Call-Id": "abc"})
    assert bridge.calls[0][2] is leg.audio and bridge.calls[0][3] is leg.caller_gone
    assert not leg.ended.is_set()  # the conversation goes on (a call back is offered)


async def test_a_bridged_call_outlives_the_session_until_the_agents_hang_up() -> None:
    bridged = FakeBridged()
    leg, peer, sent = make_leg(FakeBridge(bridged))
    assert await leg.transfer("sip:agents@127.0.0.1", {}) is True
    assert states(sent) == [("transferred", None)]
    await leg.hangup()  # the session's work is done
    assert leg.ended.is_set() and not leg.closed.is_set() and not peer.closed  # the relay goes on
    bridged.ended.set()  # the agent hangs up
    await asyncio.wait_for(leg.closed.wait(), 1)
    assert bridged.closed and peer.closed and leg.caller_gone.is_set()
    assert states(sent)[-1][0] == "ended"


async def test_a_bridged_call_ends_when_the_browser_leaves() -> None:
    bridged = FakeBridged()
    leg, peer, _ = make_leg(FakeBridge(bridged))
    assert await leg.transfer("sip:agents@127.0.0.1", {})
    await leg.hangup()
    leg.caller_left("caller")
    await asyncio.wait_for(leg.closed.wait(), 1)
    assert bridged.closed and peer.closed


async def test_a_browser_gone_while_the_agents_answer_is_no_transfer() -> None:
    bridged = FakeBridged()

    class SlowBridge(FakeBridge):
        async def __call__(
            self, target_uri: str, headers: dict[str, str], caller: AudioPort, caller_gone: asyncio.Event
        ) -> Bridged | None:
            leg.caller_left("caller")
            return await super().__call__(target_uri, headers, caller, caller_gone)

    leg, _, _ = make_leg(SlowBridge(bridged))
    assert await leg.transfer("sip:agents@127.0.0.1", {}) is False
    assert bridged.closed
    await asyncio.wait_for(leg.closed.wait(), 1)
