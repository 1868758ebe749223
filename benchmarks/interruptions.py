"""Interruptions on a real SIP call: how fast the bot stops talking when cut in, and how fast key 0 transfers.

    .venv/bin/python benchmarks/interruptions.py [--calls 20] [--parallel 1 16] [--cut-after 0.6] [--key-after 1.0]

Starts the dialogue (Rasa + action server) and the real `python -m callbot run` with the demo models, with
transfer.uri set (CALLBOT_TRANSFER_URI=sip:agents@127.0.0.1:PORT), then places calls from the callers of
benchmarks/capacity.py (an asyncio SIP user agent per call, one media thread that sends every caller's RTP at
absolute 20 ms deadlines and timestamps what the bot sends in the kernel). For each --parallel P (calls at a time),
--calls calls of each kind:

  barge-in    the caller waits for the greeting (it may not be cut), answers with one clip, waits until the bot's
              reply has played --cut-after seconds and, while the bot still speaks, says another clip cut to its
              speech (so its onset is exact: no room noise before it). Measured: the caller's speech onset (as
              sent) to the first packet of the quiet the bot's audio falls to (as received) that lasts 0.6 s.
              A call counts only if the bot was loud in the 100 ms before the onset; one whose reply resumes
              before the caller stops is "not stopped". It includes the VAD's start_ms of voiced audio that opens
              a turn (160 ms), the jitter buffer's wait and what the bot had queued on the line.
  key 0       the caller waits for the greeting's first sound, then --key-after seconds (mid-greeting: the
              greeting cannot be cut by voice, a key cuts it) and presses 0 (RFC 4733, 100 ms, end packet three
              times). Measured: the first telephone-event packet sent to the REFER reaching the caller's SIP
              socket (stamped by its event loop on arrival). The caller accepts it (202), reports the transfer
              done (NOTIFY, sipfrag 200) and waits for the bot's BYE.
Prints p50/p95/max of each, with the server's barge-in counter (/metrics) and the load average: figures only, no
assertions (targets: barge-in p95 <= 250 ms, key 0 -> REFER <= 300 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.capacity import (  # noqa: E402
    FRAME_S,
    LOUD_DB,
    Clip,
    Media,
    MediaThread,
    SipLeg,
    clip_pcm,
    frame_db,
    greeting_frames,
    greeting_watch,
    load_average,
    loud_watch,
    make_clip,
    metrics_values,
    speech_span,
    start_callbot,
    start_dialogue,
    wait_calls_over,
    wait_until,
)
from tests.e2e.conftest import RATE  # noqa: E402
from tests.support.callbot_process import CallbotProcess  # noqa: E402
from tests.support.sip_peers import free_port  # noqa: E402

ANSWER_CLIP = "stp_fr_05.wav"  # said after the greeting; the bot's reply to it is what gets cut
CUT_IN_CLIP = "stp_fr_01.wav"
QUIET_RUN_S = 0.6  # the bot's audio has stopped when it stays quiet this long (its own pauses are shorter)


def speech_only(name: str) -> Clip:
    """A clip from the first 10 ms of its speech on: its onset is the first frame's."""
    pcm = clip_pcm(name)
    start_s, _ = speech_span(pcm)
    pcm = pcm[int(start_s * RATE) :].copy()
    pcm[:80] = (pcm[:80] * np.linspace(0.0, 1.0, 80)).astype(pcm.dtype)
    return make_clip(name, pcm)


@dataclass
class Interruption:
    kind: str
    latency_s: float | None = None
    skipped: str = ""  # why this call measured nothing


@dataclass(frozen=True)
class Setup:
    bot: tuple[str, int]
    greeting_frames: int
    give_up_s: float
    cut_after_s: float
    key_after_s: float


async def _dial(setup: Setup, pump: MediaThread, number: str) -> tuple[Media, SipLeg, int]:
    media = Media.open()
    loop = asyncio.get_running_loop()
    _, leg = await loop.create_datagram_endpoint(
        lambda: SipLeg(setup.bot, number, media.port), local_addr=("127.0.0.1", 0)
    )
    pump.add(media)
    status = await leg.invite()
    remote = leg.media_address()
    if status == 200 and remote is not None:
        media.remote = remote
    return media, leg, status


def quiet_from(media: Media, after: float, quiet_s: float = QUIET_RUN_S) -> float | None:
    """Arrival time of the first packet after `after` that starts `quiet_s` of quiet, None if none yet."""
    count = len(media.payloads)  # the media thread appends meanwhile: look at what is there now
    run = round(quiet_s / FRAME_S)
    streak_start: int | None = None
    for index in range(count):
        if media.arrivals[index] <= after:
            continue
        if frame_db(media.payloads[index]) > LOUD_DB:
            streak_start = None
            continue
        if streak_start is None:
            streak_start = index
        if index - streak_start + 1 >= run:
            return media.arrivals[streak_start]
    return None


def first_loud(media: Media, after: float, from_index: int, timeout_s: float) -> asyncio.Task[float | None]:
    """The arrival time of the first loud packet after `after`, or None after `timeout_s`."""
    probe = loud_watch(media, after, from_index)

    async def wait() -> float | None:
        found: float | None = None

        def seen() -> bool:
            nonlocal found
            found = probe()
            return found is not None

        await wait_until(seen, timeout_s)
        return found

    return asyncio.create_task(wait())


def loud_between(media: Media, start: float, end: float) -> bool:
    count = len(media.payloads)
    return any(start <= media.arrivals[i] <= end and frame_db(media.payloads[i]) > LOUD_DB for i in range(count))


async def barge_in_call(setup: Setup, pump: MediaThread, number: str, answer: Clip, cut_in: Clip) -> Interruption:
    result = Interruption("barge-in")
    media, leg, status = await _dial(setup, pump, number)
    try:
        if media.remote is None:
            result.skipped = f"INVITE answered {status}"
            return result
        if not await wait_until(greeting_watch(media, setup.greeting_frames, leg.bot_hung_up.is_set), 60):
            result.skipped = "no greeting"
            return result
        with pump.lock:
            media.say(answer)
        if not await wait_until(lambda: media.speech_end_at is not None, 30) or media.speech_end_at is None:
            result.skipped = "the answer was not sent"
            return result
        replied = await first_loud(media, media.speech_end_at, len(media.arrivals) - 60, setup.give_up_s)
        if replied is None:
            result.skipped = "no reply to cut"
            return result
        await asyncio.sleep(max(0.0, replied + setup.cut_after_s - time.time()))
        with pump.lock:
            media.say(cut_in)
        if not await wait_until(lambda: media.speech_end_at is not None, 30):
            result.skipped = "the cut-in was not sent"
            return result
        onset, spoken = media.speech_start_at, media.speech_end_at
        assert onset is not None and spoken is not None
        await asyncio.sleep(0.2)  # the packets that left the bot before the caller stopped have arrived
        if not loud_between(media, onset - 0.1, onset):
            result.skipped = "the bot was not speaking at the onset (its reply was over or in a pause)"
            return result
        stop = quiet_from(media, onset)
        if stop is None:
            result.skipped = "the bot did not stop while the caller spoke"
            return result
        if loud_between(media, stop, spoken):
            result.skipped = f"not stopped: loud again after {1000 * (stop - onset):.0f} ms, before the caller ended"
            return result
        result.latency_s = stop - onset
        return result
    finally:
        await leg.bye()
        pump.remove(media)
        leg.close()


async def key_call(setup: Setup, pump: MediaThread, number: str) -> Interruption:
    result = Interruption("key 0")
    media, leg, status = await _dial(setup, pump, number)
    try:
        if media.remote is None:
            result.skipped = f"INVITE answered {status}"
            return result
        started = await first_loud(media, 0.0, 0, 60)
        if started is None:
            result.skipped = "no greeting"
            return result
        await asyncio.sleep(max(0.0, started + setup.key_after_s - time.time()))
        if not loud_between(media, time.time() - 0.3, time.time()):
            result.skipped = "the greeting was over before the key"
        with pump.lock:
            media.press("0")
        if not await wait_until(lambda: leg.referred.is_set() and media.dtmf_sent_at is not None, 10):
            result.skipped = "no REFER within 10 s of the key"
            return result
        assert leg.refer_at is not None and media.dtmf_sent_at is not None
        if not result.skipped:
            result.latency_s = leg.refer_at - media.dtmf_sent_at
        await leg.notify_transfer("200 OK")
        await wait_until(leg.bot_hung_up.is_set, 10)
        if not leg.bot_hung_up.is_set():
            print(f"    {number}: the bot did not hang up after the transfer's NOTIFY 200", flush=True)
        return result
    finally:
        await leg.bye()
        pump.remove(media)
        leg.close()


def _figures(values: list[float]) -> str:
    if not values:
        return "none measured"
    ms = 1000 * np.array(values)
    return (
        f"p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, "
        f"min {ms.min():.0f} ms, max {ms.max():.0f} ms over {len(values)} calls"
    )


async def measure(
    setup: Setup, callbot: CallbotProcess, calls: int, parallel: int, answer: Clip, cut_in: Clip, round_index: int
) -> None:
    await wait_calls_over(callbot)
    before = metrics_values(callbot)
    load = load_average()
    pump = MediaThread()
    pump.start()
    semaphore = asyncio.Semaphore(parallel)
    results: list[Interruption] = []

    async def guarded(index: int, kind: str) -> None:
        async with semaphore:
            await asyncio.sleep((index % parallel) * 0.25)  # INVITEs a quarter second apart
            number = f"+334919{round_index:02d}{0 if kind == 'barge-in' else 5}{index:03d}"
            if kind == "barge-in":
                outcome = await barge_in_call(setup, pump, number, answer, cut_in)
            else:
                outcome = await key_call(setup, pump, number)
            results.append(outcome)
            what = f"{1000 * outcome.latency_s:.0f} ms" if outcome.latency_s is not None else outcome.skipped
            print(f"  {parallel} at a time, {kind} call {index + 1}: {what}", flush=True)

    await asyncio.gather(*(guarded(i, "barge-in") for i in range(calls)))
    await wait_calls_over(callbot)
    between = metrics_values(callbot)
    await asyncio.gather(*(guarded(i, "key 0") for i in range(calls)))
    pump.running = False
    pump.join()
    await wait_calls_over(callbot)
    after = metrics_values(callbot)
    lateness = 1000 * np.array(pump.lateness or [0.0])
    barge = [r for r in results if r.kind == "barge-in"]
    keys = [r for r in results if r.kind == "key 0"]
    counted = (
        f"{between['callbot_barge_ins_total'] - before.get('callbot_barge_ins_total', 0.0):.0f} barge-ins counted "
        "by the server (callbot_barge_ins_total)"
        if "callbot_barge_ins_total" in between
        else "callbot_barge_ins_total not on /metrics"
    )
    transfers = after.get('callbot_call_outcomes_total{outcome="transferred"}', 0.0) - before.get(
        'callbot_call_outcomes_total{outcome="transferred"}', 0.0
    )
    print(
        f"{parallel} call{'s' if parallel > 1 else ''} at a time ({load} before, "
        f"{load_average().removeprefix('load average ')} after; callers' send lateness p99 "
        f"{np.percentile(lateness, 99):.1f} ms):\n"
        f"  barge-in   caller onset -> bot audio stops: {_figures([r.latency_s for r in barge if r.latency_s])}; "
        f"{sum(1 for r in barge if r.skipped)} skipped; {counted}\n"
        f"  key 0      key sent -> REFER received: {_figures([r.latency_s for r in keys if r.latency_s])}; "
        f"{sum(1 for r in keys if r.skipped)} skipped; {transfers:.0f} calls ended transferred",
        flush=True,
    )
    for reason in sorted({r.skipped for r in results if r.skipped}):
        print(f"    skipped ({sum(r.skipped == reason for r in results)}): {reason}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20, help="calls of each kind per --parallel level")
    parser.add_argument("--parallel", type=int, nargs="+", default=[1], help="calls at a time")
    parser.add_argument("--cut-after", type=float, default=0.6, help="seconds into the bot's reply the caller cuts in")
    parser.add_argument("--key-after", type=float, default=1.0, help="seconds into the greeting the key is pressed")
    parser.add_argument("--give-up", type=float, default=25.0, help="seconds a caller waits for a reply")
    parser.add_argument("--eager", action="store_true", help="TensorFlow eager mode for Rasa (slower per message)")
    args = parser.parse_args()

    print(f"{os.cpu_count()} cores, {load_average()} before start", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="interruptions-"))
    answer, cut_in = speech_only(ANSWER_CLIP), speech_only(CUT_IN_CLIP)
    frames = await greeting_frames()
    started = time.monotonic()
    dialogue = start_dialogue(workdir, args.eager)
    print(f"dialogue ready in {time.monotonic() - started:.1f} s (eager={args.eager})", flush=True)
    agents = f"sip:agents@127.0.0.1:{free_port()}"
    callbot = start_callbot(
        workdir,
        dialogue,
        max(args.parallel),
        {"CALLBOT_TRANSFER_URI": agents, "CALLBOT_TRANSFER_TIMEOUT_S": "10"},
    )
    print(f"callbot ready (log: {callbot.log_path}); transfer.uri {agents}", flush=True)
    setup = Setup(("127.0.0.1", callbot.sip_port), frames, args.give_up, args.cut_after, args.key_after)
    try:
        pump = MediaThread()
        pump.start()
        warm = await barge_in_call(setup, pump, "+33491990000", answer, cut_in)
        pump.running = False
        pump.join()
        print(
            "warm-up call (barge-in): "
            + (f"{1000 * warm.latency_s:.0f} ms" if warm.latency_s is not None else warm.skipped),
            flush=True,
        )
        for index, parallel in enumerate(args.parallel):
            await measure(setup, callbot, args.calls, parallel, answer, cut_in, index + 1)
    finally:
        callbot.stop()
        dialogue.runner.stop()


if __name__ == "__main__":
    asyncio.run(main())
