"""The handoff bridge (callbot.bridge): the relay on its own, then a caller bridged to sipp as the agents."""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from callbot.bridge import MAX_DELAY_S, AgentBridge, Bridged, Relay
from callbot.config import Settings, load_settings
from callbot.sip import SipCall, SipEndpoint
from tests.support.audio_match import locate
from tests.support.sip_peers import free_port, start_sipp_server

needs_sipp = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (sip-tester) is not installed")

SCENARIOS = Path(__file__).parent / "sip" / "scenarios"
CALLER_RATE = 16000  # a browser leg's rate; the agents' line is 8 kHz G.711: both relays resample
TONE_HZ = 700.0


class Sink:
    """An AudioPort that only plays: what it was given, and a queue that drains only when told."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.queue: list[bytes] = []

    def play(self, pcm: bytes) -> None:
        self.queue.append(pcm)

    def drain(self, frames: int = 1) -> None:
        del self.queue[:frames]

    def playback_pending(self) -> float:
        return sum(len(pcm) for pcm in self.queue) / (2 * self.sample_rate)

    def clear_playback(self) -> None:
        self.queue.clear()

    async def wait_played(self) -> None:
        pass

    async def read_frame(self) -> bytes | None:
        return None

    @property
    def frames_dropped(self) -> int:
        return 0


def numbered_frame(n: int, rate: int = 8000) -> bytes:
    return np.full(rate // 50, n, dtype="<i2").tobytes()


def test_relay_drops_the_oldest_beyond_the_delay_bound_and_counts_it() -> None:
    source, sink = Sink(8000), Sink(8000)
    relay = Relay(source, sink, "test")
    for n in range(1, 101):  # a second of audio while the receiving side takes nothing
        relay.push(numbered_frame(n))
    assert relay.relayed == 3  # SINK_FILL_S ahead, no more
    assert relay.backlog == relay.max_backlog and relay.relayed + relay.backlog <= MAX_DELAY_S * 50 + 1
    assert relay.dropped == 100 - 3 - relay.max_backlog
    sink.clear_playback()
    relay.push(numbered_frame(101))
    kept = [int(np.frombuffer(pcm, dtype="<i2")[0]) for pcm in sink.queue]
    assert kept == [101 - relay.max_backlog, 102 - relay.max_backlog, 103 - relay.max_backlog]  # the newest stayed


def test_relay_in_step_with_its_sink_drops_nothing_and_holds_nothing_back() -> None:
    source, sink = Sink(8000), Sink(8000)
    relay = Relay(source, sink, "test")
    for n in range(500):  # ten seconds, the receiving side taking one frame per frame given
        relay.push(numbered_frame(n))
        sink.drain()
    assert relay.dropped == 0 and relay.backlog == 0 and relay.relayed == 500
    assert sink.playback_pending() <= 0.06


def test_relay_resamples_once_between_rates() -> None:
    source, sink = Sink(CALLER_RATE), Sink(8000)
    relay = Relay(source, sink, "test")
    t = np.arange(CALLER_RATE) / CALLER_RATE
    tone = (8000 * np.sin(2 * np.pi * TONE_HZ * t)).astype("<i2").tobytes()
    played = bytearray()
    for start in range(0, len(tone), 640):
        relay.push(tone[start : start + 640])
        played += b"".join(sink.queue)
        sink.queue.clear()
    assert all(len(frame) == 320 for frame in [bytes(played[i : i + 320]) for i in range(0, len(played), 320)])
    samples = np.frombuffer(bytes(played), dtype="<i2").astype(np.float64)
    assert 7200 <= len(samples) <= 8000  # a second at 8 kHz, less what the resampler holds (<= 80 ms) and a frame
    assert abs(dominant_hz(samples[800:], 8000) - TONE_HZ) < 10


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


# --- a caller bridged to sipp as the agents -------------------------------------------------------------------------


class ToneCaller:
    """The browser's side as the bridge sees it: 20 ms frames at 16 kHz, paced in real time, from `speech` and then
    silence; whatever is played to it is kept, in order."""

    sample_rate = CALLER_RATE

    def __init__(self, speech: bytes) -> None:
        frame = CALLER_RATE // 50 * 2
        self._frames = [speech[i : i + frame].ljust(frame, b"\x00") for i in range(0, len(speech), frame)]
        self._silence = b"\x00" * frame
        self._next: float | None = None
        self.closed = False
        self.reads = 0
        self.heard = bytearray()

    async def read_frame(self) -> bytes | None:
        loop = asyncio.get_running_loop()
        self._next = (self._next or loop.time()) + 0.02
        await asyncio.sleep(max(0.0, self._next - loop.time()))
        if self.closed:
            return None
        self.reads += 1
        return self._frames.pop(0) if self._frames else self._silence

    @property
    def frames_dropped(self) -> int:
        return 0

    def play(self, pcm: bytes) -> None:
        self.heard += pcm

    def clear_playback(self) -> None:
        pass

    def playback_pending(self) -> float:
        return 0.0

    async def wait_played(self) -> None:
        pass


def tone_bursts() -> np.ndarray:
    """0.3 s of tone, 0.3 s of silence, three times, at the caller's rate."""
    t = np.arange(int(0.3 * CALLER_RATE)) / CALLER_RATE
    tone = 8000 * np.sin(2 * np.pi * TONE_HZ * t)
    gap = np.zeros_like(tone)
    return np.concatenate([tone, gap, tone, gap, tone, gap]).astype("<i2")


async def no_handler(call: SipCall) -> None:
    raise AssertionError("no call should come in")


@pytest.fixture
async def endpoint() -> AsyncIterator[SipEndpoint]:
    sip = SipEndpoint("127.0.0.1", 0, no_handler, "127.0.0.1", 0, 0, "callbot-test", 10, True)
    await sip.start()
    yield sip
    await sip.stop()


@pytest.fixture
def settings() -> Settings:
    return load_settings(environ={"CALLBOT_TRANSFER_TIMEOUT_S": "1"})


def free_media_port() -> int:
    """An even port free with the one two above it: sipp's -rtp_echo binds both (audio and video)."""
    for _ in range(100):
        port = free_port(tcp_too=False)
        if port % 2 or port + 2 >= 65536:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port + 2))
            except OSError:
                continue
        return port
    raise OSError("no free media port pair")


@needs_sipp
async def test_caller_bridged_to_an_echoing_agent_hears_its_own_tone_back(
    endpoint: SipEndpoint, settings: Settings, tmp_path: Path
) -> None:
    agent = await start_sipp_server(tmp_path, "uas", extra=["-rtp_echo", "-mp", str(free_media_port())])
    try:
        speech = tone_bursts()
        caller = ToneCaller(speech.tobytes())
        gone = asyncio.Event()
        bridge = AgentBridge(endpoint, settings)
        bridged = await bridge(agent.uri, {"X-Callbot-Call-Id": "call-9"}, caller, gone)
        assert isinstance(bridged, Bridged)
        await asyncio.sleep(len(speech) / CALLER_RATE + 0.8)
        heard = np.frombuffer(bytes(caller.heard), dtype="<i2").astype(np.float64)
        assert len(heard) > 1.5 * CALLER_RATE  # the relay kept pace with the caller's clock
        match = locate(heard, speech.astype(np.float64), CALLER_RATE)
        assert match.correlation > 0.8, match
        assert match.offset_s < 0.4, match  # round trip through both relays, RTP and sipp
        tone = heard[int((match.offset_s + 0.05) * CALLER_RATE) : int((match.offset_s + 0.25) * CALLER_RATE)]
        assert abs(dominant_hz(tone, CALLER_RATE) - TONE_HZ) < 15
        assert np.sqrt(np.mean(tone**2)) > 0.5 * 8000 / np.sqrt(2)  # the tone's level, not a faint leak
        assert bridged.to_agent.dropped == 0 and bridged.to_caller.dropped == 0
        assert not bridged.ended.is_set()

        await bridged.close()
        assert bridged.ended.is_set() and endpoint.active_calls == 0
        reads = caller.reads
        await asyncio.sleep(0.1)
        assert caller.reads == reads  # nothing reads the caller's audio any more
        result = await agent.wait(15)
        assert result.returncode == 0, result.errors() + result.stdout[-2000:]  # it saw our BYE
        assert "X-Callbot-Call-Id: call-9" in result.messages()
    finally:
        await agent.stop()


@needs_sipp
async def test_the_agent_hanging_up_ends_the_bridge(endpoint: SipEndpoint, settings: Settings, tmp_path: Path) -> None:
    agent = await start_sipp_server(tmp_path, SCENARIOS / "uas_hangs_up.xml")
    try:
        caller = ToneCaller(b"")
        bridged = await AgentBridge(endpoint, settings)(agent.uri, {}, caller, asyncio.Event())
        assert bridged is not None
        await asyncio.wait_for(bridged.ended.wait(), 5)
        assert bridged.call.ended_by == "agent"
        result = await agent.wait(10)
        assert result.returncode == 0, result.errors() + result.stdout[-2000:]
        await bridged.close()  # nothing more to hang up
        assert endpoint.active_calls == 0
    finally:
        await agent.stop()


@needs_sipp
async def test_the_caller_leaving_ends_the_bridge_and_hangs_up_the_agent(
    endpoint: SipEndpoint, settings: Settings, tmp_path: Path
) -> None:
    agent = await start_sipp_server(tmp_path, "uas")
    try:
        caller = ToneCaller(b"")
        gone = asyncio.Event()
        bridged = await AgentBridge(endpoint, settings)(agent.uri, {}, caller, gone)
        assert bridged is not None
        await asyncio.sleep(0.3)
        gone.set()
        await asyncio.wait_for(bridged.ended.wait(), 2)
        result = await agent.wait(15)
        assert result.returncode == 0, result.errors() + result.stdout[-2000:]  # our BYE
        assert bridged.call.ended_by == "bot" and endpoint.active_calls == 0
    finally:
        await agent.stop()


@needs_sipp
async def test_busy_agents_give_none(endpoint: SipEndpoint, settings: Settings, tmp_path: Path) -> None:
    agent = await start_sipp_server(tmp_path, SCENARIOS / "uas_busy.xml")
    try:
        assert await AgentBridge(endpoint, settings)(agent.uri, {}, ToneCaller(b""), asyncio.Event()) is None
        result = await agent.wait(10)
        assert result.returncode == 0, result.errors() + result.stdout[-2000:]
        assert endpoint.active_calls == 0
    finally:
        await agent.stop()


@needs_sipp
async def test_agents_not_answering_give_none_within_the_timeout_after_a_cancel(
    endpoint: SipEndpoint, settings: Settings, tmp_path: Path
) -> None:
    agent = await start_sipp_server(tmp_path, SCENARIOS / "uas_rings.xml")
    try:
        started = time.monotonic()
        assert await AgentBridge(endpoint, settings)(agent.uri, {}, ToneCaller(b""), asyncio.Event()) is None
        assert time.monotonic() - started < settings.transfer.timeout_s + 0.5
        result = await agent.wait(10)
        assert result.returncode == 0, result.errors() + result.stdout[-2000:]  # CANCEL, and the 487 ACKed
        assert "CANCEL sip:" in result.messages()
    finally:
        await agent.stop()


async def test_nobody_at_the_agents_address_gives_none_within_the_timeout(
    endpoint: SipEndpoint, settings: Settings
) -> None:
    started = time.monotonic()
    uri = f"sip:agents@127.0.0.1:{free_port()}"
    assert await AgentBridge(endpoint, settings)(uri, {}, ToneCaller(b""), asyncio.Event()) is None
    assert time.monotonic() - started < settings.transfer.timeout_s + 0.3
    assert endpoint.active_calls == 0


@needs_sipp
async def test_a_caller_leaving_while_it_rings_cancels_the_call(
    endpoint: SipEndpoint, settings: Settings, tmp_path: Path
) -> None:
    agent = await start_sipp_server(tmp_path, SCENARIOS / "uas_rings.xml")
    try:
        gone = asyncio.Event()
        asyncio.get_running_loop().call_later(0.3, gone.set)  # before transfer.timeout_s (1 s)
        started = time.monotonic()
        assert await AgentBridge(endpoint, settings)(agent.uri, {}, ToneCaller(b""), gone) is None
        assert time.monotonic() - started < 0.3 + 0.3
        result = await agent.wait(10)
        assert result.returncode == 0, result.errors() + result.stdout[-2000:]  # CANCEL, and the 487 ACKed
        assert endpoint.active_calls == 0
    finally:
        await agent.stop()
