"""Energy per call, as the charter asks: the CPU time of this server and of its children, shared among calls.

Every `sample_interval_s` the CpuMeter reads the CPU time (user + system) of the server process and of every
process below it (the managed Rasa server, the action server, whatever they start) from /proc, and shares the
CPU spent since the previous reading among the calls active meanwhile: equally among the calls active at each
moment of the interval (a call that started half-way through shares only the second half), as if the CPU had
been spent evenly over it. CPU spent while no call was active is counted apart, as idle.

`energy_of` turns CPU-seconds into watt-hours (times the watts per core) and grams of CO2-equivalent (times the
grid's intensity). Both factors are configuration (`energy:`), shown beside the figures.

Processes come and go between readings. A process's own time only grows, so each is followed by its pid and
start time (a pid may be reused); a child that ended is found in its parent's "children's time" (cutime +
cstime, added when the parent reaps it), from which the part already counted is taken off. The total never
goes backwards: at worst a child whose parent did not wait for it loses its last interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from callbot.config import EnergySettings
from callbot.metrics import CallMetrics

log = logging.getLogger(__name__)

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def energy_of(cpu_seconds: float, energy: EnergySettings) -> tuple[float, float]:
    """(watt-hours, grams of CO2-equivalent) of `cpu_seconds` of CPU time, with the configured factors."""
    wh = cpu_seconds * energy.watts_per_core / 3600
    return wh, wh / 1000 * energy.grid_gco2e_per_kwh


ProcessKey = tuple[int, int]  # (pid, start time in ticks): a pid reused by a new process is another process


@dataclass(frozen=True)
class ProcessTimes:
    """One process's CPU times, in clock ticks, as /proc/<pid>/stat gives them."""

    parent: ProcessKey | None  # the process it was found under (None for the root)
    own: int  # utime + stime: its own threads, living and ended
    reaped: int  # cutime + cstime: the children it has waited for, their whole lives


def read_stat(proc: Path, pid: int) -> tuple[int, int, int, int]:
    """(start time, ppid, own ticks, reaped children's ticks) of `pid`; OSError if it is gone."""
    raw = (proc / str(pid) / "stat").read_bytes()
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
    fields = raw[raw.rindex(b")") + 2 :].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return int(fields[19]), ppid, utime + stime, cutime + cstime


def child_pids(proc: Path, pid: int) -> list[int]:
    """The children of `pid`: listed by each of its threads (/proc/<pid>/task/<tid>/children)."""
    children: list[int] = []
    try:
        tasks = list((proc / str(pid) / "task").iterdir())
    except OSError:  # it ended meanwhile
        return children
    for task in tasks:
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return children


def read_tree(proc: Path, root: int) -> dict[ProcessKey, ProcessTimes]:
    """The CPU times of `root` and of all its descendants (OSError if `root` itself cannot be read)."""
    start, _, own, reaped = read_stat(proc, root)
    tree = {(root, start): ProcessTimes(None, own, reaped)}
    pending = [((root, start), child) for child in child_pids(proc, root)]
    while pending:
        parent, pid = pending.pop()
        try:
            start, ppid, own, reaped = read_stat(proc, pid)
        except (OSError, ValueError, IndexError):  # ended between the listing and now
            continue
        key = (pid, start)
        if ppid != parent[0] or key in tree:
            continue  # reparented, or listed twice
        tree[key] = ProcessTimes(parent, own, reaped)
        pending += [(key, child) for child in child_pids(proc, pid)]
    return tree


def ticks_since(before: dict[ProcessKey, ProcessTimes], now: dict[ProcessKey, ProcessTimes]) -> int:
    """The CPU ticks the tree spent between two readings, never negative.

    A process seen in both counts its own growth. A new one counts all of its time (it started since). One that
    ended was reaped by its nearest ancestor still there, whose children's time grew by the ended one's whole
    life: that growth counts, less what the ended processes below it had already counted.
    """
    ticks = 0
    already_counted: dict[ProcessKey, int] = {}
    for key, gone in before.items():
        if key in now:
            continue
        ancestor = gone.parent
        while ancestor is not None and ancestor not in now:
            earlier = before.get(ancestor)
            ancestor = earlier.parent if earlier is not None else None
        if ancestor is not None:
            already_counted[ancestor] = already_counted.get(ancestor, 0) + gone.own + gone.reaped
    for key, times in now.items():
        previous = before.get(key)
        if previous is None:
            ticks += times.own + times.reaped
            continue
        ticks += max(0, times.own - previous.own)
        ticks += max(0, times.reaped - previous.reaped - already_counted.get(key, 0))
    return ticks


class CpuMeter:
    """Measures the server's and its children's CPU time, and shares it among the calls registered."""

    def __init__(
        self,
        interval_s: float,
        metrics: CallMetrics | None = None,
        root_pid: int | None = None,
        proc: Path = Path("/proc"),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self.metrics = metrics
        self.root_pid = os.getpid() if root_pid is None else root_pid
        self.proc = proc
        self.clock = clock
        self.total_seconds = 0.0  # since the first reading
        self.calls_seconds = 0.0  # of which while at least one call was active
        self.idle_seconds = 0.0  # of which while none was
        self.processes = 0  # measured at the last reading
        self._last: dict[ProcessKey, ProcessTimes] | None = None
        self._last_at = 0.0
        self._present: set[str] = set()  # the calls active at the last reading
        self._events: list[tuple[float, str, bool]] = []  # (when, call, True: registered) since then
        self._shares: dict[str, float] = {}  # CPU-seconds of each registered call so far
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    # ---- calls ------------------------------------------------------------------------------------

    def register(self, call_id: str) -> None:
        """A call starts: from now on it shares the CPU spent."""
        if call_id not in self._shares:
            self._shares[call_id] = 0.0
            self._events.append((self.clock(), call_id, True))

    def unregister(self, call_id: str) -> float:
        """The call ends: its CPU-seconds up to the last reading (the part since is counted with no call's
        record, within `interval_s`)."""
        if call_id not in self._shares:
            return 0.0
        self._events.append((self.clock(), call_id, False))
        return self._shares.pop(call_id)

    def share(self, call_id: str) -> float:
        """The CPU-seconds of a registered call so far."""
        return self._shares.get(call_id, 0.0)

    @property
    def calls(self) -> list[str]:
        """The calls registered."""
        return list(self._shares)

    # ---- sampling ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cpu-meter")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception:  # a bug here must not stop the measuring for good
                log.exception("CPU meter: sampling failed")
            await asyncio.sleep(self.interval_s)

    async def sample(self) -> bool:
        """Read the CPU times now and share what was spent since the last reading; False if /proc failed."""
        async with self._lock:
            try:
                tree, at = await asyncio.to_thread(self._read)
            except (OSError, ValueError, IndexError) as error:
                if not self._failing:
                    log.warning("CPU meter: cannot read %s/%s: %s", self.proc, self.root_pid, error)
                    self._failing = True
                return False
            if self._failing:
                log.info("CPU meter: reading again")
                self._failing = False
            if self._last is None:  # the first reading: the starting point
                self._apply_events(at)
            else:
                self._share(ticks_since(self._last, tree) / TICKS_PER_SECOND, self._last_at, at)
            self._last, self._last_at, self.processes = tree, at, len(tree)
            return True

    def _read(self) -> tuple[dict[ProcessKey, ProcessTimes], float]:
        tree = read_tree(self.proc, self.root_pid)
        return tree, self.clock()

    def _apply_events(self, until: float) -> list[tuple[float, str, bool]]:
        """Take the events up to `until` out of the list, updating the calls present; returns them."""
        done = [event for event in self._events if event[0] <= until]
        self._events = self._events[len(done) :]
        for _, call_id, registered in done:
            (self._present.add if registered else self._present.discard)(call_id)
        return done

    def _share(self, cpu_seconds: float, start: float, end: float) -> None:
        """Spread `cpu_seconds`, spent evenly from `start` to `end`, over the calls present at each moment."""
        span = end - start
        present = set(self._present)
        cursor = start
        for when, call_id, registered in self._apply_events(end):
            when = min(max(when, cursor), end)
            self._credit(cpu_seconds * (when - cursor) / span if span > 0 else 0.0, present)
            cursor = when
            (present.add if registered else present.discard)(call_id)
        remainder = cpu_seconds * (end - cursor) / span if span > 0 else cpu_seconds
        self._credit(remainder, present)

    def _credit(self, cpu_seconds: float, calls: set[str]) -> None:
        self.total_seconds += cpu_seconds
        if calls:
            self.calls_seconds += cpu_seconds
            each = cpu_seconds / len(calls)
            for call_id in calls:
                if call_id in self._shares:  # else it ended since: counted for calls, on no call's record
                    self._shares[call_id] += each
        else:
            self.idle_seconds += cpu_seconds
        if self.metrics is not None:
            self.metrics.cpu_calls_seconds = self.calls_seconds
            self.metrics.cpu_idle_seconds = self.idle_seconds
