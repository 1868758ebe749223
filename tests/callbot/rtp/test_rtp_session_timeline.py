"""Caller audio through RtpSession over real UDP on 127.0.0.1: every 20 ms slot of the caller's stream reaches
read_frame() once, in order, whether the reader is late, packets are reordered or lost, the caller pauses or the
event loop stalls; and one media clock paces the sending of many sessions.

Senders and receivers run in threads, so their timing does not depend on the event loop under test.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

import numpy as np
import pytest

from callbot.memory import freeze_startup_heap
from callbot.rtp import PCMU, MediaClock, RtpSession
from callbot.rtp.clock import default_clock
from callbot.rtp.packet import RtpPacket, build_rtp, parse_rtp
from tests.support.rtp_receiver import RtpReceiver

SessionFactory = Callable[..., Awaitable[RtpSession]]
LEVEL = 8000
LABEL_BITS = 12


def labelled(n: int) -> bytes:
    """A loud 20 ms frame whose first samples' signs spell n (signs survive G.711)."""
    samples = np.full(160, LEVEL, dtype="<i2")
    bits = (n >> np.arange(LABEL_BITS)) & 1
    samples[:LABEL_BITS] = np.where(bits == 1, LEVEL, -LEVEL)
    return samples.tobytes()


def read_label(frame: bytes) -> tuple[str, int | None]:
    """("audio", n), ("concealed", n) for a half-amplitude repeat of n, or ("silence", None)."""
    samples = np.frombuffer(frame, dtype="<i2")
    level = float(np.median(np.abs(samples)))
    if level < 500:
        return ("silence", None)
    n = sum(1 << i for i in range(LABEL_BITS) if samples[i] > 0)
    return ("audio" if level > 6000 else "concealed", n)


def packet(seq: int, ts: int, n: int) -> bytes:
    return build_rtp(
        RtpPacket(
            payload_type=0,
            sequence=seq & 0xFFFF,
            timestamp=ts & 0xFFFFFFFF,
            ssrc=0xCA11,
            payload=PCMU.encode(labelled(n)),
        )
    )


class PacedSender(threading.Thread):
    """Sends planned datagrams at their planned times (seconds from its start), from its own socket."""

    def __init__(self, plan: list[tuple[float, bytes]], target: tuple[str, int]) -> None:
        super().__init__(daemon=True)
        self.plan = plan
        self.target = target
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind(("127.0.0.1", 0))

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return (host, port)

    def run(self) -> None:
        start = time.monotonic()
        for at, data in self.plan:
            delay = start + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.sock.sendto(data, self.target)

    def received(self) -> list[bytes]:
        """What the session sent back here (symmetric RTP), once the sender is done."""
        self.sock.setblocking(False)
        out = []
        while True:
            try:
                out.append(self.sock.recv(2048))
            except BlockingIOError:
                return out


@pytest.fixture
def senders() -> Iterator[Callable[[list[tuple[float, bytes]], RtpSession], PacedSender]]:
    started: list[PacedSender] = []

    def make(plan: list[tuple[float, bytes]], session: RtpSession) -> PacedSender:
        sender = PacedSender(plan, (session.local_host, session.local_port))
        started.append(sender)
        return sender

    yield make
    for sender in started:
        if sender.is_alive():
            sender.join(10)
        sender.sock.close()


Label = tuple[str, int | None]


async def read_until_label(session: RtpSession, last: int) -> list[tuple[Label, float]]:
    """Frames read (and when) until audio or concealment labelled `last` came; gives up after 10 s."""
    loop = asyncio.get_running_loop()
    frames = []
    async with asyncio.timeout(10):
        while True:
            frame = await session.read_frame()
            assert frame is not None
            frames.append((read_label(frame), loop.time()))
            if frames[-1][0][0] != "silence" and frames[-1][0][1] == last:
                return frames


async def labels_until(session: RtpSession, last: int) -> list[Label]:
    return [label for label, _ in await read_until_label(session, last)]


def stream_of(frames: list[Label]) -> list[Label]:
    """From the first audio frame to the last one (or its concealment)."""
    loud = [i for i, (kind, _) in enumerate(frames) if kind != "silence"]
    return frames[loud[0] : loud[-1] + 1]


async def test_a_reader_two_seconds_late_gets_every_frame_in_order_quickly(
    rtp_session_factory: SessionFactory, senders: Callable[..., PacedSender]
) -> None:
    plan = [(0.02 * i, packet(i, 160 * i, i)) for i in range(150)]  # 3 s of audio, in real time
    session = await rtp_session_factory()
    sender = senders(plan, session)
    session.start(sender.address, PCMU, None)
    sender.start()
    await asyncio.sleep(2.0)  # the call's listening loop is busy elsewhere
    loop = asyncio.get_running_loop()
    began = loop.time()
    backlog = [await session.read_frame() for _ in range(90)]
    assert loop.time() - began < 0.5  # the backlog comes at once, not at 20 ms a frame
    assert all(frame is not None for frame in backlog)
    frames = [read_label(f) for f in backlog if f is not None] + await labels_until(session, 149)
    assert stream_of(frames) == [("audio", i) for i in range(150)]
    assert session.stats.audio_packets == 150 and session.stats.inbound_overflow == 0
    assert session.jitter_stats.lost == session.jitter_stats.late == 0
    assert session.stats.frames_read == len(frames)


async def test_reordered_and_lost_packets_give_exactly_one_frame_per_packet(
    rtp_session_factory: SessionFactory, senders: Callable[..., PacedSender]
) -> None:
    # Groups of packets sent back to back, 4x faster than real time: every 10th packet overtakes the one
    # before it, every 40th arrives two places late, 2 % never arrive.
    groups = [[i] for i in range(500)]
    for k in range(3, 498, 10):
        groups[k : k + 2] = [[k + 1, k], []]
    for k in range(6, 497, 40):
        groups[k : k + 3] = [[k + 1, k + 2, k], [], []]
    lost = set(range(27, 500, 50))
    plan = [(0.005 * t, packet(i, 160 * i, i)) for t, group in enumerate(groups) for i in group if i not in lost]
    assert len(plan) == 490
    session = await rtp_session_factory()
    sender = senders(plan, session)
    session.start(sender.address, PCMU, None)
    sender.start()
    frames = stream_of(await labels_until(session, 499))
    assert len(frames) == 500
    for i, frame in enumerate(frames):
        assert frame == (("concealed", i - 1) if i in lost else ("audio", i)), i
    assert session.stats.audio_packets == 490
    assert session.jitter_stats.lost == 10 and session.jitter_stats.late == 0


async def test_silence_flows_in_real_time_while_the_caller_pauses(
    rtp_session_factory: SessionFactory, senders: Callable[..., PacedSender]
) -> None:
    # 0.5 s of speech, 1 s of DTX (nothing sent; the next timestamp is 50 frames further), 0.5 s of speech.
    plan = [(0.02 * i, packet(i, 160 * i, i)) for i in range(25)]
    plan += [(0.02 * (i + 50), packet(i, 160 * (i + 50), i)) for i in range(25, 50)]
    session = await rtp_session_factory()
    sender = senders(plan, session)
    session.start(sender.address, PCMU, None)
    reader = asyncio.create_task(read_until_label(session, 49))
    sender.start()
    arrivals = await reader
    labels = [label for label, _ in arrivals]
    first, last = labels.index(("audio", 24)), labels.index(("audio", 25))
    assert labels[: first + 1] == [("silence", None)] * (first - 24) + [("audio", i) for i in range(25)]
    pause = arrivals[first + 1 : last]
    assert 50 <= len(pause) <= 53 and all(label == ("silence", None) for label, _ in pause)
    # Most of the pause's frames came one by one as time went by, not in a lump at the end.
    times = np.array([at for _, at in pause])
    assert times[-10] - times[0] > 0.6
    assert np.median(np.diff(times[:-10])) == pytest.approx(0.020, abs=0.006)
    assert labels[last:] == [("audio", i) for i in range(25, 50)]


async def test_fifty_sessions_share_one_timer_and_send_paced(rtp_session_factory: SessionFactory) -> None:
    receiver = RtpReceiver()
    receiver.start()
    # As the server does once started: the test suite's heap, traversed by a full collection, would hold the loop
    # 0.2 s at a time on a loaded machine (a stall the clock rightly skips; it is the heap's, not the clock's).
    freeze_startup_heap()
    try:
        clock = MediaClock()
        sessions = [await rtp_session_factory(clock=clock) for _ in range(50)]
        tasks_before = len(asyncio.all_tasks())
        for session in sessions:
            session.start(receiver.address, PCMU, None)
        assert clock.members == 50 and len(asyncio.all_tasks()) == tasks_before + 1  # no task per session
        await asyncio.sleep(0.3)
        for arrivals in receiver.arrivals.values():
            arrivals.clear()
        await asyncio.sleep(1.5)
    finally:
        gc.unfreeze()
        receiver.running = False
        receiver.join()
        receiver.sock.close()
    assert clock.stalls == 0, clock.skipped
    assert len(receiver.arrivals) == 50
    for arrivals in receiver.arrivals.values():
        assert 60 <= len(arrivals) <= 80  # 75 expected in 1.5 s
        assert all((b[0] - a[0]) & 0xFFFF == 1 for a, b in itertools.pairwise(arrivals))
        intervals = np.diff([at for _, at in arrivals])
        assert intervals.mean() == pytest.approx(0.020, abs=0.002)
        assert np.median(intervals) == pytest.approx(0.020, abs=0.004)


async def test_a_stalled_event_loop_loses_no_received_audio(
    rtp_session_factory: SessionFactory, senders: Callable[..., PacedSender]
) -> None:
    plan = [(0.02 * i, packet(i, 160 * i, i)) for i in range(100)]
    session = await rtp_session_factory()
    sender = senders(plan, session)
    session.start(sender.address, PCMU, None)
    reader = asyncio.create_task(labels_until(session, 99))
    stalls = default_clock().stalls
    sender.start()
    await asyncio.sleep(0.5)
    # A callback that blocks the event loop: no tick, no datagram read for 0.5 s.
    asyncio.get_running_loop().call_soon(time.sleep, 0.5)
    frames = await reader
    assert default_clock().stalls > stalls
    assert stream_of(frames) == [("audio", i) for i in range(100)]
    assert session.jitter_stats.lost == 0 and session.stats.inbound_overflow == 0
    # Our own stream skipped the stalled slots: consecutive packets, its timestamps jumping as time did.
    sent = [parse_rtp(data) for data in sender.received()]
    assert all((b.sequence - a.sequence) & 0xFFFF == 1 for a, b in itertools.pairwise(sent))
    steps = [(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(sent)]
    assert max(steps) >= 20 * 160 and sorted(steps)[len(steps) // 2] == 160
