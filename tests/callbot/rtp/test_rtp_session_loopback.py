"""RtpSession over real UDP sockets on 127.0.0.1 (no timing assertions beyond wide structural bands)."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import cast

import numpy as np
import pytest

from callbot.audio import AudioPort
from callbot.rtp import PCMA, PCMU, RtpSession
from callbot.rtp.dtmf import TelephoneEvent, build_telephone_event
from callbot.rtp.packet import RtpPacket, build_rtp, parse_rtp
from callbot.rtp.ports import NoFreePortError, bind_even_port

SessionFactory = Callable[..., Awaitable[RtpSession]]


class RawUdpPeer(asyncio.DatagramProtocol):
    """A plain UDP socket on 127.0.0.1 standing in for the far end: records what arrives, sends raw bytes."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, float]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait((data, asyncio.get_running_loop().time()))

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return (host, port)

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, to)

    def drain(self) -> list[bytes]:
        items = []
        while not self.received.empty():
            items.append(self.received.get_nowait()[0])
        return items


@pytest.fixture
async def udp_peer_factory() -> AsyncIterator[Callable[[], Awaitable[RawUdpPeer]]]:
    peers: list[RawUdpPeer] = []

    async def make() -> RawUdpPeer:
        loop = asyncio.get_running_loop()
        _, peer = await loop.create_datagram_endpoint(RawUdpPeer, local_addr=("127.0.0.1", 0))
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        if peer.transport is not None:
            peer.transport.close()


PeerFactory = Callable[[], Awaitable[RawUdpPeer]]


def tone(seconds: float, frequency: float = 440.0, amplitude: int = 8000) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype("<i2").tobytes()


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0


def audio_packet(seq: int, pcm: bytes, ssrc: int = 0xABCD, marker: bool = False) -> bytes:
    return build_rtp(
        RtpPacket(
            payload_type=0,
            sequence=seq & 0xFFFF,
            timestamp=(seq * 160) & 0xFFFFFFFF,
            ssrc=ssrc,
            payload=PCMU.encode(pcm),
            marker=marker,
        )
    )


async def collect(peer: RawUdpPeer, seconds: float) -> list[tuple[RtpPacket, float]]:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    packets = []
    while (left := end - loop.time()) > 0:
        try:
            data, at = await asyncio.wait_for(peer.received.get(), left)
        except TimeoutError:
            break
        packets.append((parse_rtp(data), at))
    return packets


async def test_two_sessions_exchange_a_tone(rtp_session_factory: SessionFactory) -> None:
    alice = await rtp_session_factory()
    bob: AudioPort = await rtp_session_factory()  # what a CallSession will see
    assert isinstance(bob, RtpSession)
    assert alice.local_port % 2 == 0 and bob.local_port % 2 == 0
    alice.start((bob.local_host, bob.local_port), PCMA, None)
    bob.start((alice.local_host, alice.local_port), PCMA, None)
    alice.play(tone(1.0))
    assert alice.playback_pending() == pytest.approx(1.0)

    frames = [await bob.read_frame() for _ in range(75)]  # 1.5 s of alice's stream
    await asyncio.wait_for(alice.wait_played(), 5)
    assert alice.playback_pending() == 0
    assert all(f is not None and len(f) == 320 for f in frames)
    loud = [f for f in frames if f is not None and rms(f) > 3000]
    assert 40 <= len(loud) <= 52  # the 1 s tone, whole (50 frames) give or take the edges
    assert bob.stats.received > 60  # tone then keep-alive silence
    assert bob.stats.invalid == bob.stats.strangers == 0
    assert bob.latched and bob.remote == (alice.local_host, alice.local_port)


async def test_pacing_sequence_timestamps_and_marker(
    rtp_session_factory: SessionFactory, udp_peer_factory: PeerFactory
) -> None:
    peer = await udp_peer_factory()
    session = await rtp_session_factory()
    session.start(peer.address, PCMU, 101)
    session.play(tone(0.5))
    packets = await collect(peer, 2.0)
    # Structure only: about 100 packets in 2 s (wide band), 20 ms of audio each.
    assert 60 <= len(packets) <= 140
    seqs = [p.sequence for p, _ in packets]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
    stamps = [p.timestamp for p, _ in packets]
    assert all((b - a) & 0xFFFFFFFF >= 160 and (b - a) % 160 == 0 for a, b in itertools.pairwise(stamps))
    assert len({p.ssrc for p, _ in packets}) == 1
    assert all(len(p.payload) == 160 and p.payload_type == 0 for p, _ in packets)
    # The tone is one talkspurt: marker on its first packet only; then keep-alive silence (µ-law 0xFF).
    assert packets[0][0].marker and not any(p.marker for p, _ in packets[1:])
    assert packets[-1][0].payload == b"\xff" * 160
    intervals = np.diff([at for _, at in packets])
    assert intervals.mean() == pytest.approx(0.020, abs=0.010)


async def test_marker_starts_each_talkspurt_and_nothing_is_sent_idle_without_keepalive(
    rtp_session_factory: SessionFactory, udp_peer_factory: PeerFactory
) -> None:
    peer = await udp_peer_factory()
    session = await rtp_session_factory(send_silence=False)
    session.start(peer.address, PCMU, None)
    assert await collect(peer, 0.3) == []
    session.play(tone(0.1))
    await asyncio.wait_for(session.wait_played(), 2)
    await asyncio.sleep(0.2)
    session.play(tone(0.1))
    await asyncio.wait_for(session.wait_played(), 2)
    packets = [p for p, _ in await collect(peer, 0.3)]
    assert len(packets) == 10
    assert [p.marker for p in packets] == [True] + [False] * 4 + [True] + [False] * 4
    gap = (packets[5].timestamp - packets[4].timestamp) & 0xFFFFFFFF
    assert gap > 160  # the timestamp kept following the clock while nothing was sent
    assert packets[5].sequence == (packets[4].sequence + 1) & 0xFFFF


async def test_clear_playback_stops_the_bot_at_once(
    rtp_session_factory: SessionFactory, udp_peer_factory: PeerFactory
) -> None:
    peer = await udp_peer_factory()
    session = await rtp_session_factory()
    session.start(peer.address, PCMU, None)
    session.play(tone(5.0))
    waiter = asyncio.create_task(session.wait_played())
    await asyncio.sleep(0.3)
    assert 4.0 < session.playback_pending() < 5.0
    session.clear_playback()
    assert session.playback_pending() == 0
    await asyncio.wait_for(waiter, 1)
    peer.drain()
    after = [p for p, _ in await collect(peer, 0.3)]
    assert after and all(p.payload == b"\xff" * 160 for p in after)


async def test_read_frame_is_silence_in_real_time_without_rtp_and_none_after_close(
    rtp_session_factory: SessionFactory, udp_peer_factory: PeerFactory
) -> None:
    peer = await udp_peer_factory()
    session = await rtp_session_factory()
    session.start(peer.address, PCMU, None)
    loop = asyncio.get_running_loop()
    began = loop.time()
    frames = [await session.read_frame() for _ in range(25)]
    assert frames == [bytes(320)] * 25
    assert loop.time() - began > 0.4  # one frame per 20 ms tick, not a burst
    assert session.stats.silence_filled == session.stats.frames_released >= 25
    pending = asyncio.create_task(session.read_frame())
    await asyncio.sleep(0)
    await session.close()
    assert await pending in (None, bytes(320))
    assert await session.read_frame() is None


async def test_read_frame_before_start_waits_for_start(rtp_session_factory: SessionFactory) -> None:
    session = await rtp_session_factory()
    reader = asyncio.create_task(session.read_frame())
    await asyncio.sleep(0.05)
    assert not reader.done()
    session.start(("127.0.0.1", 9), PCMU, None)
    assert await asyncio.wait_for(reader, 1) == bytes(320)


async def test_latches_onto_the_real_source_and_ignores_strangers(
    rtp_session_factory: SessionFactory, udp_peer_factory: PeerFactory
) -> None:
    caller = await udp_peer_factory()  # behind a NAT: not the address its SDP announced
    stranger = await udp_peer_factory()
    announced = await udp_peer_factory()
    session = await rtp_session_factory()
    session.start(announced.address, PCMU, None)
    target = (session.local_host, session.local_port)
    loud = tone(0.02, amplitude=12000)
    for seq in range(30):
        caller.send(audio_packet(seq, loud), target)
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)
    assert session.latched and session.remote == caller.address
    caller.drain()
    announced.drain()
    for seq in range(30):
        stranger.send(audio_packet(1000 + seq, tone(0.02, 1000.0), ssrc=0x666), target)
    await asyncio.sleep(0.1)
    assert session.stats.strangers == 30
    assert session.jitter_stats.resyncs == 0  # the stranger's stream never reached the jitter buffer
    sent_to_caller = caller.drain()
    assert sent_to_caller and not announced.drain()


async def test_garbage_is_counted_and_the_session_keeps_working(
    rtp_session_factory: SessionFactory, udp_peer_factory: PeerFactory
) -> None:
    peer = await udp_peer_factory()
    session = await rtp_session_factory()
    session.start(peer.address, PCMU, 101)
    target = (session.local_host, session.local_port)
    garbage = [b"\x00" * 5, b"\x40" * 40, bytes([0x8F]) + bytes(20), bytes([0xA0]) + bytes(11) + b"\xff"]
    for data in garbage:
        peer.send(data, target)
    peer.send(build_rtp(RtpPacket(payload_type=0, sequence=1, timestamp=0, ssrc=1, payload=b"")), target)
    peer.send(build_rtp(RtpPacket(payload_type=97, sequence=2, timestamp=0, ssrc=1, payload=b"x")), target)
    await asyncio.sleep(0.1)
    assert session.stats.invalid == len(garbage) + 1  # + the empty audio payload
    assert session.stats.unknown_payload_type == 1
    assert session.stats.errors == 0

    async def send_paced() -> None:
        for seq in range(2, 12):
            peer.send(audio_packet(seq, tone(0.02, amplitude=12000), ssrc=1), target)
            await asyncio.sleep(0.02)

    sender = asyncio.create_task(send_paced())
    frames = [await session.read_frame() for _ in range(20)]
    await sender
    assert sum(1 for f in frames if f is not None and rms(f) > 3000) >= 8


async def test_dtmf_from_a_capture_gives_one_digit_per_press(
    rtp_session_factory: SessionFactory,
    udp_peer_factory: PeerFactory,
    dtmf_capture: Callable[[str], list[bytes]],
) -> None:
    peer = await udp_peer_factory()
    session = await rtp_session_factory()
    session.start(peer.address, PCMU, 101)
    target = (session.local_host, session.local_port)
    for key in ["4", "2", "pound"]:
        for data in dtmf_capture(key):
            peer.send(data, target)
    # A '7' whose packets all arrive three times (retransmission / redundancy).
    for end in (False, False, True, True, True):
        payload = build_telephone_event(TelephoneEvent(7, end, 10, 800))
        data = build_rtp(RtpPacket(payload_type=101, sequence=50, timestamp=90000, ssrc=0x0E05384E, payload=payload))
        for _ in range(3):
            peer.send(data, target)
    digits = [await asyncio.wait_for(session.dtmf.get(), 2) for _ in range(4)]
    assert digits == ["4", "2", "#", "7"]
    await asyncio.sleep(0.1)
    assert session.dtmf.empty()


async def test_media_timeout_fires_only_when_rtp_stops(
    rtp_session_factory: SessionFactory, udp_peer_factory: PeerFactory
) -> None:
    peer = await udp_peer_factory()
    session = await rtp_session_factory(rtp_timeout=0.4)
    session.start(peer.address, PCMU, None)
    target = (session.local_host, session.local_port)
    for seq in range(40):  # 0.8 s of RTP, longer than the timeout
        peer.send(audio_packet(seq, bytes(320)), target)
        await asyncio.sleep(0.02)
    assert not session.media_timeout.is_set()
    await asyncio.wait_for(session.media_timeout.wait(), 5)


def test_even_ports_in_a_range_skip_ports_in_use() -> None:
    probe = bind_even_port("127.0.0.1")
    base = probe.getsockname()[1]
    probe.close()
    held: list[socket.socket] = []
    try:
        held.append(bind_even_port("127.0.0.1", base, base))
        ports = set()
        for _ in range(2):
            sock = bind_even_port("127.0.0.1", base - 1, base + 4)
            held.append(sock)
            ports.add(sock.getsockname()[1])
        assert ports == {base + 2, base + 4}
        with pytest.raises(NoFreePortError):
            bind_even_port("127.0.0.1", base, base + 5)
    finally:
        for sock in held:
            sock.close()


async def test_bind_in_range(rtp_session_factory: SessionFactory) -> None:
    probe = bind_even_port("127.0.0.1")
    base = probe.getsockname()[1]
    probe.close()
    session = await rtp_session_factory(port_min=base, port_max=base + 20)
    assert base <= session.local_port <= base + 20 and session.local_port % 2 == 0


@pytest.mark.parametrize("bad", [(0, 10), (20, 10), (11, 11)])
def test_bad_port_ranges_are_refused(bad: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        bind_even_port("127.0.0.1", *bad)
