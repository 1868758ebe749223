"""Send pacing of RtpSession: inter-packet interval jitter and CPU per call-second.

For 1 and 50 concurrent sessions (by default), each session plays ~10 s of audio to a receiver thread that
timestamps every packet as it arrives on 127.0.0.1, while a reader task drains its clocked playout
(read_frame), as a call would. Prints interval statistics in ms and process CPU time per call-second (the
receiver thread's small share included, so it is an upper bound).

    .venv/bin/python benchmarks/rtp_pacing.py [--seconds 10] [--sessions 1 50]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from callbot.rtp import PCMU, RtpSession  # noqa: E402
from tests.support.rtp_receiver import RtpReceiver  # noqa: E402


async def measure(sessions_count: int, seconds: float) -> None:
    receiver = RtpReceiver()
    receiver.start()
    t = np.arange(int(8000 * seconds)) / 8000
    speech = (6000 * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes()
    sessions = [await RtpSession.bind("127.0.0.1") for _ in range(sessions_count)]
    stop = asyncio.Event()

    async def drain(session: RtpSession) -> None:
        while not stop.is_set() and await session.read_frame() is not None:
            pass

    cpu_start = time.process_time()
    wall_start = time.monotonic()
    for session in sessions:
        session.start(receiver.address, PCMU, 101)
        session.play(speech)
    readers = [asyncio.create_task(drain(session)) for session in sessions]
    await asyncio.gather(*(session.wait_played() for session in sessions))
    wall = time.monotonic() - wall_start
    cpu = time.process_time() - cpu_start
    stop.set()
    for session in sessions:
        await session.close()
    await asyncio.gather(*readers)
    receiver.running = False
    receiver.join()
    receiver.sock.close()

    intervals = (
        np.concatenate([np.diff([at for _, at in times]) for times in receiver.arrivals.values() if len(times) > 1])
        * 1000
    )
    deviation = np.abs(intervals - 20.0)
    packets = sum(len(times) for times in receiver.arrivals.values())
    print(
        f"{sessions_count:3d} session(s), {wall:5.1f} s, {packets} packets: interval mean {intervals.mean():.3f} ms, "
        f"p50 {np.percentile(intervals, 50):.3f}, p99 {np.percentile(intervals, 99):.3f}, "
        f"max {intervals.max():.3f}; |jitter| mean {deviation.mean():.3f} ms, p99 {np.percentile(deviation, 99):.3f}, "
        f"max {deviation.max():.3f}; CPU {1000 * cpu / (sessions_count * wall):.2f} ms per call-second"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 50])
    args = parser.parse_args()
    for count in args.sessions:
        asyncio.run(measure(count, args.seconds))


if __name__ == "__main__":
    main()
