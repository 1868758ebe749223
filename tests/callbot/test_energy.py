"""The CPU meter (callbot.energy): real processes read from /proc, then the accounting on a /proc written by hand
(exact figures), the carbon calculator, and a call that closes with its share, its latencies and its words."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sys
from pathlib import Path

import pytest

from asr.fake import FakeRecognizer
from asr.transcript import Word, make_transcript
from callbot.config import EnergySettings, load_settings
from callbot.conversation import Conversation, utc_now
from callbot.energy import TICKS_PER_SECOND, CpuMeter, ProcessTimes, energy_of, read_stat, read_tree, ticks_since
from callbot.metrics import CallMetrics
from callbot.session import CallServices, CallSession
from callbot.web.app import Readiness, create_app
from dialogue.client import DialogueReply
from signalements import Store, StoreWriter
from tests.callbot.test_session import FakeAudio, FakeDialogue, FakeLeg, settings, silence_frames, tone_frames
from tts.fake import FakeSynthesizer

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5:\n    pass\n"
# A child that starts a grandchild, both burning 0.5 CPU-s at once.
CHILD = (
    f"import subprocess, sys\ngrandchild = subprocess.Popen([sys.executable, '-c', {BURN!r}])\n"
    f"{BURN}grandchild.wait()\n"
)
# The root the meter watches (not pytest, whose other children would blur the figure): on "go", runs the child
# and says "done" once it has reaped it; ends at the next line.
ROOT = (
    "import subprocess, sys\nsys.stdin.readline()\n"
    f"subprocess.run([sys.executable, '-c', {CHILD!r}], check=True)\n"
    "print('done', flush=True)\nsys.stdin.readline()\n"
)


async def run_tree(meter_interval_s: float | None) -> tuple[CpuMeter, list[float], int]:
    """Run ROOT under a meter sampling every `meter_interval_s` (None: only before "go" and after "done");
    returns the meter, its total after each reading, and the most processes a reading saw."""
    root = await asyncio.create_subprocess_exec(
        sys.executable, "-c", ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert root.stdin is not None and root.stdout is not None
    try:
        meter = CpuMeter(0.1, root_pid=root.pid)
        assert await meter.sample()
        totals, most = [meter.total_seconds], meter.processes
        root.stdin.write(b"go\n")
        await root.stdin.drain()
        done = asyncio.create_task(root.stdout.readline())
        async with asyncio.timeout(60):
            while not done.done():
                await asyncio.wait({done}, timeout=meter_interval_s)
                if meter_interval_s is not None:
                    assert await meter.sample()
                    totals.append(meter.total_seconds)
                    most = max(most, meter.processes)
        assert done.result() == b"done\n"
        assert await meter.sample()  # the root is still there: the child is in its reaped children's time
        totals.append(meter.total_seconds)
        return meter, totals, most
    finally:
        root.stdin.write(b"end\n")
        root.stdin.close()
        await root.wait()


# ---- real processes ----------------------------------------------------------------------------------


async def test_the_meter_counts_a_child_and_a_grandchild_it_watched_burn() -> None:
    meter, totals, most = await run_tree(0.05)

    assert most >= 3  # the root, the child and the grandchild were all seen
    assert totals == sorted(totals)  # never backwards, the child's end included
    # 1 CPU-s burnt, plus two interpreters' start (a few hundredths each)
    assert 0.9 <= meter.total_seconds <= 1.6, totals
    assert meter.idle_seconds == meter.total_seconds  # no call registered: all idle


async def test_a_child_born_and_gone_between_two_readings_still_counts() -> None:
    meter, totals, most = await run_tree(None)

    assert most == 1 and len(totals) == 2
    assert 0.9 <= meter.total_seconds <= 1.6, totals


async def test_two_calls_share_a_real_delta_equally() -> None:
    meter = CpuMeter(0.1)
    assert await meter.sample()
    meter.register("a")
    meter.register("b")
    burner = await asyncio.create_subprocess_exec(sys.executable, "-c", BURN)
    await asyncio.wait_for(burner.wait(), 60)
    assert await meter.sample()

    # equal, but for the microseconds between the two registrations ("a" was alone for them)
    assert meter.share("a") == pytest.approx(meter.share("b"), rel=1e-3)
    assert meter.share("b") >= 0.45 / 2
    assert meter.share("a") + meter.share("b") == pytest.approx(meter.calls_seconds)
    assert meter.idle_seconds < 0.01  # from the first reading to the registrations


async def test_the_running_meter_measures_the_server_and_shows_on_metrics(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    metrics = CallMetrics()
    meter = CpuMeter(0.05, metrics)  # this process and its children
    meter.start()
    try:
        await asyncio.sleep(0.2)
        meter.register("call")
        burner = await asyncio.create_subprocess_exec(sys.executable, "-c", BURN)
        await asyncio.wait_for(burner.wait(), 60)
        await asyncio.sleep(0.2)  # a reading after the burner's end
        share = meter.unregister("call")
    finally:
        await meter.stop()

    assert share >= 0.45
    assert metrics.cpu_calls_seconds >= share
    assert metrics.cpu_calls_seconds + metrics.cpu_idle_seconds == pytest.approx(meter.total_seconds)
    client = await aiohttp_client(create_app(Readiness(), metrics, None))
    text = await (await client.get("/metrics")).text()
    assert "# TYPE callbot_cpu_seconds_total counter" in text
    assert f'callbot_cpu_seconds_total{{share="calls"}} {metrics.cpu_calls_seconds:.3f}' in text
    assert f'callbot_cpu_seconds_total{{share="idle"}} {metrics.cpu_idle_seconds:.3f}' in text


def test_read_stat_reads_this_process() -> None:
    start, ppid, own, reaped = read_stat(Path("/proc"), __import__("os").getpid())
    assert start > 0 and ppid > 0 and own > 0 and reaped >= 0


# ---- a /proc written by hand -------------------------------------------------------------------------


class FakeProc:
    """A /proc with the files the meter reads: <pid>/stat and <pid>/task/<tid>/children."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.parents: dict[int, int] = {}

    def set(self, pid: int, ppid: int, own: int, reaped: int = 0, start: int = 1, comm: str = "py (x) y") -> None:
        """`own`, `reaped`: ticks; `own` is split between utime and stime, `reaped` between cutime and cstime."""
        self.parents[pid] = ppid
        (self.root / str(pid) / "task" / str(pid)).mkdir(parents=True, exist_ok=True)
        utime, cutime = own // 2, reaped // 2
        fields = [pid, f"({comm})", "S", ppid, 1, 1, 0, -1, 0, 0, 0, 0, 0]
        fields += [utime, own - utime, cutime, reaped - cutime, 20, 0, 1, 0, start, 0, 0]
        (self.root / str(pid) / "stat").write_text(" ".join(map(str, fields)) + "\n")
        self._list_children()

    def remove(self, pid: int) -> None:
        shutil.rmtree(self.root / str(pid))
        del self.parents[pid]
        self._list_children()

    def _list_children(self) -> None:
        for pid in self.parents:
            children = [str(child) for child, parent in self.parents.items() if parent == pid]
            (self.root / str(pid) / "task" / str(pid) / "children").write_text(" ".join(children) + " ")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_meter(tmp_path: Path, metrics: CallMetrics | None = None) -> tuple[FakeProc, Clock, CpuMeter]:
    proc, clock = FakeProc(tmp_path / "proc"), Clock()
    return proc, clock, CpuMeter(1.0, metrics, root_pid=10, proc=proc.root, clock=clock)


TPS = TICKS_PER_SECOND


def test_read_tree_follows_the_children_of_every_thread_and_skips_the_ones_gone(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.set(10, 1, own=100, reaped=7)
    proc.set(11, 10, own=50, start=5)
    proc.set(12, 11, own=20, start=6)
    proc.set(13, 99, own=1000, start=7)  # another process's child
    # a second thread of the root lists a child that is gone, and one that belongs to someone else
    (tmp_path / "10" / "task" / "15").mkdir()
    (tmp_path / "10" / "task" / "15" / "children").write_text("14 13")

    tree = read_tree(tmp_path, 10)

    assert tree == {
        (10, 1): ProcessTimes(None, 100, 7),
        (11, 5): ProcessTimes((10, 1), 50, 0),
        (12, 6): ProcessTimes((11, 5), 20, 0),
    }


def test_ticks_since_counts_growth_newcomers_and_what_the_ended_left_in_their_parent() -> None:
    root, child, grandchild = (10, 1), (11, 5), (12, 6)
    before = {
        root: ProcessTimes(None, 100, 0),
        child: ProcessTimes(root, 50, 0),
        grandchild: ProcessTimes(child, 30, 0),
    }
    # the grandchild ended (reaped by the child, 30 + 10 more), then the child (reaped by the root: 50 + 5
    # more of its own, plus the grandchild's 40); a newcomer with 7 ticks
    now = {root: ProcessTimes(None, 104, 95), (13, 9): ProcessTimes(root, 7, 0)}
    assert ticks_since(before, now) == 4 + (95 - 50 - 30) + 7

    # a child that ended without its parent waiting for it: its last interval is lost, nothing goes negative
    assert ticks_since(before, {root: ProcessTimes(None, 100, 0)}) == 0
    # a reused pid is another process: the new one counts whole, the old one was reaped
    reused = {root: ProcessTimes(None, 100, 80), (11, 8): ProcessTimes(root, 3, 0), grandchild: before[grandchild]}
    assert ticks_since({root: before[root], child: before[child]}, reused) == (80 - 50) + 3 + 30


async def test_two_calls_share_a_delta_equally_and_idle_time_is_apart(tmp_path: Path) -> None:
    metrics = CallMetrics()
    proc, clock, meter = fake_meter(tmp_path, metrics)
    proc.set(10, 1, own=1000)
    assert await meter.sample()
    clock.now = 1.0
    proc.set(10, 1, own=1000 + 3 * TPS)  # 3 s with no call
    assert await meter.sample()
    meter.register("a")
    meter.register("b")
    clock.now = 2.0
    proc.set(10, 1, own=1000 + 5 * TPS)  # 2 s with two calls
    assert await meter.sample()

    assert meter.share("a") == pytest.approx(1.0) and meter.share("b") == pytest.approx(1.0)
    assert meter.idle_seconds == pytest.approx(3.0) and meter.calls_seconds == pytest.approx(2.0)
    assert (metrics.cpu_idle_seconds, metrics.cpu_calls_seconds) == (meter.idle_seconds, meter.calls_seconds)
    assert meter.calls == ["a", "b"]


async def test_a_call_registered_for_half_the_time_gets_half(tmp_path: Path) -> None:
    proc, clock, meter = fake_meter(tmp_path)
    proc.set(10, 1, own=0)
    assert await meter.sample()
    for second in (1, 2, 3):  # 2 CPU-s each second
        if second == 2:
            clock.now = 1.5  # half-way through the second interval
            meter.register("half")
        clock.now = float(second)
        proc.set(10, 1, own=second * 2 * TPS)
        assert await meter.sample()

    assert meter.share("half") == pytest.approx(3.0)  # registered for 1.5 s of 3: half of the 6 CPU-s
    assert meter.idle_seconds == pytest.approx(3.0) and meter.total_seconds == pytest.approx(6.0)


async def test_calls_present_for_different_times_share_each_moment_equally(tmp_path: Path) -> None:
    proc, clock, meter = fake_meter(tmp_path)
    proc.set(10, 1, own=0)
    assert await meter.sample()
    meter.register("whole")
    for second in (1, 2, 3):
        if second == 2:
            clock.now = 1.5
            meter.register("half")
        clock.now = float(second)
        proc.set(10, 1, own=second * 2 * TPS)
        assert await meter.sample()

    assert meter.share("whole") == pytest.approx(3.0 + 1.5)  # alone from 0 to 1.5, then one of two
    assert meter.share("half") == pytest.approx(1.5)
    assert meter.idle_seconds == 0 and meter.calls_seconds == pytest.approx(6.0)


async def test_a_call_alone_for_half_an_interval_gets_half_and_idle_the_rest(tmp_path: Path) -> None:
    proc, clock, meter = fake_meter(tmp_path)
    proc.set(10, 1, own=0)
    assert await meter.sample()
    clock.now = 0.25
    meter.register("call")
    clock.now = 0.75
    assert meter.unregister("call") == 0  # nothing read since it started
    meter.register("next")
    clock.now = 1.0
    proc.set(10, 1, own=4 * TPS)
    assert await meter.sample()

    assert meter.share("next") == pytest.approx(1.0)  # 0.75 to 1
    assert meter.calls_seconds == pytest.approx(3.0)  # "call"'s 2 CPU-s counted for calls, on no call's record
    assert meter.idle_seconds == pytest.approx(1.0)  # 0 to 0.25
    assert meter.calls == ["next"]


async def test_the_meter_survives_proc_read_errors_and_counts_the_gap_after(tmp_path: Path) -> None:
    proc, clock, meter = fake_meter(tmp_path)
    proc.set(10, 1, own=0)
    assert await meter.sample()
    meter.register("call")
    (proc.root / "10" / "stat").write_text("garbage")
    clock.now = 1.0
    assert not await meter.sample()
    proc.remove(10)
    clock.now = 2.0
    assert not await meter.sample()
    proc.set(10, 1, own=2 * TPS)
    clock.now = 3.0
    assert await meter.sample()
    assert meter.share("call") == pytest.approx(2.0)

    meter.interval_s = 0.01  # the task too: it keeps going through errors
    proc.remove(10)
    meter.start()
    try:
        await asyncio.sleep(0.1)
        proc.set(10, 1, own=5 * TPS)
        clock.now = 4.0
        await asyncio.sleep(0.1)
        assert meter.share("call") == pytest.approx(5.0)
    finally:
        await meter.stop()


# ---- the carbon calculator ---------------------------------------------------------------------------


def test_energy_of_multiplies_by_the_configured_factors() -> None:
    factors = EnergySettings(watts_per_core=10, grid_gco2e_per_kwh=52, grid_source="test", sample_interval_s=1)
    wh, gco2e = energy_of(3600, factors)
    assert wh == pytest.approx(10.0)  # one core-hour at 10 W
    assert gco2e == pytest.approx(0.52)  # 0.01 kWh at 52 g/kWh
    assert energy_of(0, factors) == (0, 0)
    defaults = load_settings(environ={}).energy
    wh, gco2e = energy_of(90, defaults)  # a call of 90 CPU-s on the defaults
    assert wh == pytest.approx(90 * defaults.watts_per_core / 3600)
    assert gco2e == pytest.approx(wh / 1000 * defaults.grid_gco2e_per_kwh)


# ---- a call's record ---------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'calls.sqlite3'}", secrets.token_bytes(32))
    store.migrate()
    return store


WORDS = (
    Word("il", 0.0, 0.2, 0.95),
    Word("y", 0.2, 0.3, 0.5),
    Word("a", 0.3, 0.4, 1.0),
    Word("un", 0.4, 0.5, 0.31),
    Word("trou", 0.5, 0.9, 0.875),
)


async def test_a_call_closes_with_its_cpu_share_reply_latencies_and_the_callers_words(
    store: Store, tmp_path: Path
) -> None:
    metrics = CallMetrics()
    meter = CpuMeter(0.05, metrics)
    writer = StoreWriter(store, spill_path=tmp_path / "spill.jsonl")
    services = CallServices(
        settings=settings(),
        asr=FakeRecognizer([make_transcript(WORDS, 1.5)], min_audio_s=0.3, sound_only=True),
        tts=FakeSynthesizer(),
        dialogue=FakeDialogue([DialogueReply(texts=["C'est noté. Au revoir."], hangup=True, report_id=7)]),
        store=store,
        writer=writer,
        metrics=metrics,
        cpu_meter=meter,
    )
    leg = FakeLeg(FakeAudio([*silence_frames(0.3), *tone_frames(1.5), *silence_frames(1.5)]))
    session = CallSession(leg, "sip", services)
    meter.start()
    try:
        await asyncio.wait_for(session.run(), 30)
    finally:
        await meter.stop()
        await writer.close()

    assert session.outcome == "report_saved"
    call = store.get_call(session.call_id)
    cpu = call.summary.cpu_seconds  # the only call: all the CPU read while it lasted (rounded to 0.1 ms)
    assert cpu is not None and 0 < cpu <= meter.calls_seconds + 1e-4
    assert meter.calls == []  # the call let go of the meter
    latencies = call.summary.reply_latencies_ms
    assert latencies == session.reply_latencies_ms and len(latencies) == 1  # one turn answered
    assert isinstance(latencies[0], int) and 0 <= latencies[0] < 30_000
    caller = [turn for turn in call.turns if turn.speaker == "caller"]
    assert [turn.words for turn in caller] == [[(w.word, w.confidence) for w in WORDS]]
    assert call.summary.mean_asr_confidence == pytest.approx(sum(w.confidence for w in WORDS) / len(WORDS))


async def test_a_call_without_a_meter_keeps_its_latencies_and_no_cpu_figure(store: Store, tmp_path: Path) -> None:
    writer = StoreWriter(store, spill_path=tmp_path / "spill.jsonl")
    services = CallServices(
        settings=settings(),
        asr=FakeRecognizer(["il y a un trou"], min_audio_s=0.3, sound_only=True),
        tts=FakeSynthesizer(),
        dialogue=FakeDialogue([DialogueReply(texts=["Au revoir."], hangup=True)]),
        store=store,
        writer=writer,
    )
    leg = FakeLeg(FakeAudio([*silence_frames(0.3), *tone_frames(1.5), *silence_frames(1.5)]))
    session = CallSession(leg, "sip", services)
    try:
        await asyncio.wait_for(session.run(), 30)
    finally:
        await writer.close()

    summary = store.get_call(session.call_id).summary
    assert summary.cpu_seconds is None
    assert summary.reply_latencies_ms is not None and len(summary.reply_latencies_ms) == 1


async def test_word_confidences_are_kept_within_bounds_for_the_store(store: Store, tmp_path: Path) -> None:
    writer = StoreWriter(store, spill_path=tmp_path / "spill.jsonl")
    conversation = Conversation("c1", "sip", None, FakeDialogue([]), store, writer)
    await conversation.open()
    now = utc_now()
    await conversation.record_caller("oui non", now, now, 0.5, [("oui", 1.0000001), ("non", -0.2)])
    await conversation.close("completed", 1.23456789, [])
    await writer.close()

    call = store.get_call("c1")
    assert call.turns[0].words == [("oui", 1.0), ("non", 0.0)]
    assert call.summary.cpu_seconds == pytest.approx(1.2346) and call.summary.reply_latencies_ms == []
