"""MediaClock: one task, absolute deadlines, stalls skipped, a member's failure contained."""

from __future__ import annotations

import asyncio
import itertools
import time

import numpy as np

from callbot.rtp.clock import MediaClock, default_clock


class Recorder:
    def __init__(self) -> None:
        self.ticks: list[tuple[int, float]] = []

    def on_tick(self, tick: int, now: float) -> None:
        self.ticks.append((tick, now))


class Broken:
    def on_tick(self, tick: int, now: float) -> None:
        raise RuntimeError("bug")


def clock_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "rtp-media-clock"]


async def test_ticks_every_20ms_without_drift() -> None:
    clock = MediaClock()
    member = Recorder()
    clock.add(member)
    await asyncio.sleep(1.0)
    await clock.remove(member)
    ticks = [tick for tick, _ in member.ticks]
    times = np.array([now for _, now in member.ticks])
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks)))
    assert 45 <= len(ticks) <= 52
    # Absolute deadlines: the n-th tick is near t0 + n * 20 ms, however late the ones before it were.
    drift = times - (times[0] + 0.020 * np.arange(len(times)))
    assert np.median(np.abs(drift)) < 0.005


async def test_one_task_for_all_members_only_while_there_are_members() -> None:
    clock = MediaClock()
    members = [Recorder() for _ in range(20)]
    assert not clock.running
    for member in members:
        clock.add(member)
    assert clock.running and clock.members == 20 and len(clock_tasks()) == 1
    await asyncio.sleep(0.1)
    for member in members[:-1]:
        await clock.remove(member)
    assert clock.running
    await clock.remove(members[-1])
    assert not clock.running and clock_tasks() == []
    first_run = len(members[-1].ticks)
    clock.add(members[-1])  # a new call after an idle spell starts it again
    await asyncio.sleep(0.1)
    await clock.close()
    assert len(members[-1].ticks) > first_run and not clock.running


async def test_a_stall_skips_the_missed_ticks_once() -> None:
    clock = MediaClock()
    member = Recorder()
    clock.add(member)
    await asyncio.sleep(0.1)
    asyncio.get_running_loop().call_soon(time.sleep, 0.5)  # a callback blocks the event loop
    await asyncio.sleep(0.2)
    await clock.close()
    ticks = [tick for tick, _ in member.ticks]
    jumps = [b - a for a, b in itertools.pairwise(ticks) if b - a > 1]
    assert clock.stalls == 1 and len(jumps) == 1 and 20 <= jumps[0] <= 35
    assert len(ticks) < 20  # no burst of catch-up ticks


async def test_a_failing_member_does_not_stop_the_others() -> None:
    clock = MediaClock()
    member = Recorder()
    clock.add(Broken())
    clock.add(member)
    await asyncio.sleep(0.2)
    await clock.close()
    assert len(member.ticks) >= 5 and clock.errors >= 5


async def test_the_default_clock_is_one_per_event_loop() -> None:
    assert default_clock() is default_clock()
