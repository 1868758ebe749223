"""RtpSession both ways at once, for many calls: caller audio kept, bot audio paced, CPU of the event loop.

A peer thread plays the callers: every 20 ms it sends one loud G.711 packet to each session (absolute deadlines,
so its pace does not depend on the event loop), and timestamps every packet the sessions send back. Each session
plays bot audio, and a reader task per call drains read_frame() as a call's listening loop would; with --late,
each reader also goes away for 300 ms every 2 s (a listening loop awaiting other work). With --stall, the event
loop is blocked for 300 ms every 3 s. Prints, per run: caller frames lost (packets sent vs loud frames read),
send pacing (interval percentiles in ms) and the event-loop thread's CPU time per call-second.

    PYTHONPATH=. .venv/bin/python benchmarks/rtp_clock.py [--seconds 10] [--sessions 1 50] [--late] [--stall]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import struct
import threading
import time
from collections import defaultdict

import numpy as np

from callbot.rtp import PCMU, RtpSession
from callbot.rtp.g711 import ulaw_encode

LOUD = ulaw_encode(np.full(160, 8000, dtype="<i2").tobytes())


class Peer(threading.Thread):
    """The callers: sends to every session each 20 ms, records what comes back."""

    def __init__(self, seconds: float) -> None:
        super().__init__(daemon=True)
        self.seconds = seconds
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.targets: list[tuple[str, int]] = []
        self.sent = 0
        self.arrivals: dict[int, list[float]] = defaultdict(list)
        self.done = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return (host, port)

    def run(self) -> None:
        receiver = threading.Thread(target=self._receive, daemon=True)
        receiver.start()
        start = time.monotonic()
        for n in range(int(self.seconds * 50)):
            delay = start + n * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            header = struct.pack("!BBHII", 0x80, 0, n & 0xFFFF, (n * 160) & 0xFFFFFFFF, 0)
            for index, target in enumerate(self.targets):
                self.sock.sendto(header[:8] + struct.pack("!I", 0x10000 + index) + LOUD, target)
                self.sent += 1
        time.sleep(0.3)
        self.done.set()
        receiver.join()

    def _receive(self) -> None:
        while not self.done.is_set():
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            self.arrivals[struct.unpack_from("!I", data, 8)[0]].append(time.monotonic())


async def measure(count: int, seconds: float, late: bool, stall: bool) -> None:
    peer = Peer(seconds)
    sessions = [await RtpSession.bind("127.0.0.1") for _ in range(count)]
    peer.targets = [(s.local_host, s.local_port) for s in sessions]
    loud_frames = [0] * count
    stop = asyncio.Event()

    async def read(index: int, session: RtpSession) -> None:
        loop = asyncio.get_running_loop()
        next_away = loop.time() + 2.0
        while (frame := await session.read_frame()) is not None:
            if frame[0] or frame[1]:
                loud_frames[index] += 1
            if late and loop.time() >= next_away:
                next_away += 2.0
                await asyncio.sleep(0.3)

    loop = asyncio.get_running_loop()

    def stall_loop() -> None:
        if not stop.is_set():
            time.sleep(0.3)  # a callback that blocks the event loop, on purpose
            loop.call_later(3.0, stall_loop)

    speech = np.tile(np.array([3000, -3000], dtype="<i2"), int(4000 * (seconds + 1))).tobytes()
    for session in sessions:
        session.start(peer.address, PCMU, None)
        session.play(speech)
    readers = [asyncio.create_task(read(i, s)) for i, s in enumerate(sessions)]
    if stall:
        loop.call_later(3.0, stall_loop)
    cpu_start, wall_start = time.thread_time(), time.monotonic()
    peer.start()
    await asyncio.to_thread(peer.done.wait)
    cpu, wall = time.thread_time() - cpu_start, time.monotonic() - wall_start
    await asyncio.sleep(0.5)  # readers catch up on what is left
    stop.set()
    for session in sessions:
        await session.close()
    await asyncio.gather(*readers)
    peer.join()
    peer.sock.close()

    intervals = np.concatenate([np.diff(t[5:]) for t in peer.arrivals.values() if len(t) > 6]) * 1000
    lost = peer.sent - sum(loud_frames)
    print(
        f"{count:3d} call(s), {wall:5.1f} s{' late readers' if late else ''}{' stalls' if stall else ''}: "
        f"caller frames sent {peer.sent}, lost {lost} ({100 * lost / max(peer.sent, 1):.1f} %); "
        f"send interval p50 {np.percentile(intervals, 50):.2f} ms, p99 {np.percentile(intervals, 99):.2f}, "
        f"max {intervals.max():.2f}; event-loop CPU {1000 * cpu / (count * wall):.2f} ms per call-second"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--late", action="store_true", help="readers away 300 ms every 2 s")
    parser.add_argument("--stall", action="store_true", help="event loop blocked 300 ms every 3 s")
    args = parser.parse_args()
    for count in args.sessions:
        asyncio.run(measure(count, args.seconds, args.late, args.stall))


if __name__ == "__main__":
    main()
