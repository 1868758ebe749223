"""Turn latency and false cut-ins with a real SIP client (baresip), and seconds from start to /healthz ready.

    .venv/bin/python benchmarks/turn_latency.py [--calls 20] [--parallel 1 2] [--pause-share 0.5]
        [--gaps 400 500 600] [--eager]

Starts the dialogue (Rasa + action server, traced graph unless --eager), then the real callbot process with the
demo models, then, for each --parallel P (default: 1, then the default capacity, sip.max_calls auto), places
`--calls` baresip calls, P at a time. Each caller waits for the greeting, answers it, and listens.

Two kinds of callers answer: a plain one says one French clip (tests/e2e/audio, cut 20 ms after its words unless
--noise-tail: the clips' room noise after the words, -45 to -35 dBFS for 0.4 to 0.9 s, is voiced for the bot's VAD
and delays the end of the turn by as much); a pausing one (a share
--pause-share of the calls) says two clips cut to their speech with a pause of --gaps ms between them (400 to 600 ms
of digital silence: a caller drawing breath mid-answer, shorter than every end-of-turn silence but close to
the yes/no one). The greeting's question ("Quel problème souhaitez-vous signaler ?") expects a free answer, so the
bot's end-of-turn silence is vad.end_of_turn.free_ms (700 ms); the Korean demo model never hears a French
continuation word, so the +unfinished_extra_ms never applies here.

Per call, on baresip's own recordings (what it sent, what it heard: both start with the call's media, so they
share a clock to ~20 ms):
  turn latency   end of the caller's speech (the last 10 ms within 30 dB of the clip's peak: the clips' room
                 noise is not speech) to the first sound of the bot's reply. It includes the end-of-turn silence,
                 recognition, Rasa, and the first clause of Piper.
  false cut-in   the bot's first sound after the greeting starts inside the caller's utterance (after its speech
                 began, before it ended), or the store holds two caller turns for one utterance (the turn was cut
                 at the pause even if the reply came after the end): the bot took a pause for the end.
Prints p50/p95 of the turn latency (cut-in calls excluded) and the false cut-ins over all turns, with the load
average: figures only, no assertions (targets: p50 <= 500 ms and p95 <= 900 ms at 1 call, p95 <= 1.2 s at the
default capacity, false cut-ins <= 2 % of turns).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.wire import LoopbackRtp, wire_turn  # noqa: E402
from callbot.config import load_settings  # noqa: E402
from tests.e2e.conftest import RATE, render  # noqa: E402
from tests.support.audio_match import envelope, read_wav  # noqa: E402
from tests.support.callbot_process import CallbotProcess  # noqa: E402
from tests.support.sip_peers import run_baresip_call, write_silence_padded_wav  # noqa: E402

CLIPS = ["stp_fr_01.wav", "stp_fr_05.wav", "stp_fr_07.wav"]  # ones the Korean demo model hears words in
BOT_LOUD_DB = 30.0  # a 10 ms block of what baresip heard louder than this (dB re 1 LSB) is the bot speaking


def start_dialogue(workdir: Path, eager: bool) -> tuple[object, str, str, bytes, str]:
    """The dialogue servers, supervised from a thread (as the test fixture does)."""
    import secrets

    from dialogue.supervisor import ManagedDialogue
    from dialogue.training import ensure_model
    from signalements import Store
    from tests.conftest import _SupervisorThread

    database_url = f"sqlite:///{workdir / 'callbot.sqlite3'}"
    key = secrets.token_bytes(32)
    Store(database_url, key).migrate()
    dialogue = ManagedDialogue(
        ensure_model(),
        eager=eager,
        extra_env={"CALLBOT_DATABASE_URL": database_url, "CALLBOT_PSEUDONYM_KEY": key.hex()},
    )
    runner = _SupervisorThread(dialogue)
    runner.start()
    assert dialogue.token is not None
    return runner, dialogue.url, database_url, key, dialogue.token


@dataclass(frozen=True)
class Utterance:
    pcm: np.ndarray  # int16 at RATE, the caller's answer
    gap_ms: int  # the pause inside it (0: one clip)
    description: str


def utterance(index: int, pausing: bool, gaps: list[int], noise_tail: bool = False) -> Utterance:
    from benchmarks.capacity import clip_pcm, speech_span, without_noise_tail

    def clip(name: str) -> np.ndarray:
        pcm = clip_pcm(name)
        return pcm if noise_tail else without_noise_tail(pcm)

    first = clip(CLIPS[index % len(CLIPS)])
    if not pausing:
        return Utterance(first, 0, CLIPS[index % len(CLIPS)])
    second = clip(CLIPS[(index + 1) % len(CLIPS)])
    _, end_s = speech_span(first)
    start_s, _ = speech_span(second)
    gap_ms = gaps[(index // 2) % len(gaps)]
    head = first[: int(end_s * RATE)].astype(np.float64)
    tail = second[int(start_s * RATE) :].astype(np.float64)
    fade = np.linspace(1.0, 0.0, 80)  # 10 ms, no click at the cut
    head[-80:] *= fade
    tail[:80] *= fade[::-1]
    pcm = np.concatenate([head, np.zeros(int(gap_ms * RATE / 1000)), tail]).astype("<i2")
    return Utterance(pcm, gap_ms, f"{CLIPS[index % len(CLIPS)]} +{gap_ms} ms+ {CLIPS[(index + 1) % len(CLIPS)]}")


@dataclass
class Turn:
    index: int
    gap_ms: int
    latency_s: float | None = None  # speech end -> first bot sound after it
    bot_inside: bool = False  # the bot's first sound began inside the utterance
    caller_turns: int = 0  # caller turns the store holds for the utterance
    failed: str = ""
    server_ms: int | None = None  # the server's own view: its end of speech (VAD) to the reply's first audio
    started: float = 0.0  # epoch seconds: the call's window, for the wire capture
    ended: float = 0.0

    @property
    def cut_in(self) -> bool:
        return self.bot_inside or self.caller_turns > 1


def _loud_blocks(samples: np.ndarray, threshold_db: float) -> np.ndarray:
    return np.asarray(10 * envelope(samples, RATE) > threshold_db)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


async def one_call(
    callbot: CallbotProcess, key: bytes, workdir: Path, number: str, index: int, said: Utterance, speak_at: float
) -> Turn:
    from benchmarks.capacity import speech_span
    from signalements.pseudonym import pseudonymise

    turn = Turn(index, said.gap_ms)
    microphone = write_silence_padded_wav(said.pcm.tobytes(), workdir / "caller.wav", lead_s=speak_at, tail_s=8.0)
    started = turn.started = time.time()
    result = await run_baresip_call(
        f"sip:bot@127.0.0.1:{callbot.sip_port}",
        microphone,
        workdir / "baresip",
        duration_s=int(speak_at + len(said.pcm) / RATE + 8),
        user=number,
    )
    turn.ended = time.time()
    if not result.heard_wavs or not result.sent_wavs:
        turn.failed = f"call failed: {result.output[-300:]}"
        return turn
    sent, _ = read_wav(result.sent_wavs[0])
    heard, _ = read_wav(result.heard_wavs[0])
    # The utterance as baresip sent it: where the speech of the answer starts and ends on the call's clock.
    skip = int(max(0.0, speak_at - 1.0) * RATE)
    start_s, end_s = speech_span(sent[skip:])
    speech_start, speech_end = start_s + skip / RATE, end_s + skip / RATE
    bot = np.flatnonzero(_loud_blocks(heard, BOT_LOUD_DB))
    after_start = bot[bot * 0.01 >= speech_start]
    if len(bot) and np.any((bot * 0.01 > speech_start - 0.3) & (bot * 0.01 < speech_start)):
        turn.failed = "the greeting was still playing when the caller spoke"
        return turn
    if not len(after_start):
        turn.failed = f"no reply heard after {speech_end:.2f} s"
        return turn
    first = float(after_start[0]) * 0.01
    if first < speech_end:
        turn.bot_inside = True
    else:
        turn.latency_s = first - speech_end
    # The store: how many caller turns this utterance made (a cut at the pause makes two).
    page: Any = callbot.api("/api/calls?limit=50")
    wanted = pseudonymise(key, number)
    for item in page["items"]:
        if item.get("caller_pseudonym") == wanted:
            call: Any = callbot.api(f"/api/calls/{item['call_id']}")
            turn.caller_turns += sum(
                1 for t in call["turns"] if t["speaker"] == "caller" and _epoch(t["started_at"]) >= started
            )
            for _ in range(20):  # the call's record is closed just after the hang-up
                if call.get("reply_latencies_ms") is not None:
                    turn.server_ms = next(iter(call["reply_latencies_ms"]), None)
                    break
                await asyncio.sleep(0.25)
                call = callbot.api(f"/api/calls/{item['call_id']}")
    return turn


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


LATENCY_POINTS = (("p50", 50), ("p95", 95), ("min", 0), ("max", 100))


def latency_figures(latencies: list[float]) -> str:
    """p50, p95, min and max in milliseconds, as both latency benchmarks print them."""
    return ", ".join(f"{name} {percentile(latencies, q) * 1000:.0f} ms" for name, q in LATENCY_POINTS)


def load_figures(before: tuple[float, float, float]) -> str:
    """The machine's load average before the run and now: a figure means little on a busy machine."""
    now = os.getloadavg()
    return f"load average {' '.join(f'{v:.2f}' for v in before)} before, {' '.join(f'{v:.2f}' for v in now)} after"


async def measure(
    callbot: CallbotProcess, key: bytes, workdir: Path, calls: int, parallel: int, args: argparse.Namespace
) -> None:
    greeting_s = len(await render(load_settings(environ={}).prompts.greeting)) / RATE
    load_before = os.getloadavg()
    turns: list[Turn] = []
    semaphore = asyncio.Semaphore(parallel)
    pausing_every = round(1 / args.pause_share) if args.pause_share > 0 else 0

    async def guarded(index: int) -> None:
        async with semaphore:
            call_dir = workdir / f"p{parallel}-call-{index}"
            call_dir.mkdir()
            pausing = pausing_every > 0 and index % pausing_every == pausing_every - 1
            said = utterance(index, pausing, args.gaps, args.noise_tail)
            number = f"+3349{parallel:02d}{os.getpid() % 1000:03d}{index:04d}"  # one caller_pseudonym per call
            turn = await one_call(callbot, key, call_dir, number, index, said, greeting_s + 1.5)
            turns.append(turn)
            what = (
                turn.failed
                or ("FALSE CUT-IN " if turn.cut_in else "")
                + (f"{turn.latency_s * 1000:.0f} ms" if turn.latency_s is not None else "bot spoke inside the answer")
                + f" ({turn.caller_turns} caller turn{'s' if turn.caller_turns != 1 else ''} in the store)"
            )
            print(f"  {parallel} at a time, call {index + 1} ({said.description}): {what}", flush=True)

    # On the wire (one call at a time: two flows per window), when this process may capture on lo.
    capture: LoopbackRtp | None = None
    if parallel == 1:
        try:
            capture = LoopbackRtp()
        except OSError as error:
            print(f"  (no capture on lo: {error}; wire figures left out)", flush=True)
    if capture is not None:
        with capture:
            await asyncio.gather(*(guarded(i) for i in range(calls)))
    else:
        await asyncio.gather(*(guarded(i) for i in range(calls)))
    measured = [t for t in turns if not t.failed]
    latencies = [t.latency_s for t in measured if t.latency_s is not None and not t.cut_in]
    pausing = [t for t in measured if t.gap_ms]
    cut_ins = [t for t in measured if t.cut_in]
    end_of_turn = load_settings(environ={}).vad.end_of_turn
    server = [t.server_ms / 1000 for t in measured if t.server_ms is not None and not t.cut_in]
    print(
        f"  the server's own view (its voice activity's end of speech to the reply's first audio handed to the "
        f"line), {len(server)} turns: {latency_figures(server)}",
        flush=True,
    )
    if capture is not None:
        on_wire = [wire_turn(capture.packets, t.started, t.ended) for t in measured if not t.cut_in]
        wire = [w.latency_s for w in on_wire if w is not None and w.latency_s is not None]
        print(
            f"  on the wire (lo, kernel receive times: the caller's last packet of speech to the bot's first loud "
            f"packet; no client buffer), {len(wire)} turns: {latency_figures(wire)}",
            flush=True,
        )
    print(
        f"{parallel} call{'s' if parallel > 1 else ''} at a time: turn latency over {len(latencies)} turns: "
        f"{latency_figures(latencies)} (includes the end-of-turn silence of {end_of_turn.free_ms} ms "
        "for this free answer); "
        f"false cut-ins {len(cut_ins)}/{len(measured)} turns = {100 * len(cut_ins) / max(1, len(measured)):.1f} % "
        f"({sum(t.cut_in for t in pausing)}/{len(pausing)} of the turns with a pause of "
        f"{'/'.join(map(str, args.gaps))} ms; "
        f"{sum(t.bot_inside for t in measured)} with the bot's voice inside the answer, "
        f"{sum(t.caller_turns > 1 for t in measured)} split in the store); {len(turns) - len(measured)} calls failed; "
        f"{load_figures(load_before)}",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20, help="calls per --parallel level")
    parser.add_argument("--parallel", type=int, nargs="+", help="calls at a time (default: 1, the default capacity)")
    parser.add_argument("--pause-share", type=float, default=0.5, help="share of callers who pause mid-answer")
    parser.add_argument("--gaps", type=int, nargs="+", default=[400, 500, 600], help="their pauses, in ms")
    parser.add_argument(
        "--noise-tail", action="store_true", help="keep the clips' room noise after the words (voiced for the VAD)"
    )
    parser.add_argument("--eager", action="store_true", help="TensorFlow eager mode for Rasa (slower per message)")
    args = parser.parse_args()
    default_calls = load_settings(environ={}).sip.call_limit()
    levels = args.parallel or sorted({1, default_calls})

    print(f"{os.cpu_count()} cores, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} before start")
    workdir = Path(tempfile.mkdtemp(prefix="turn-latency-"))
    started = time.monotonic()
    runner, url, database_url, key, token = start_dialogue(workdir, args.eager)
    print(f"dialogue ready in {time.monotonic() - started:.1f} s (eager={args.eager})")
    (workdir / "pseudonym.key").write_text(key.hex())
    callbot = CallbotProcess(
        workdir,
        env_overrides={
            "CALLBOT_DATABASE_URL": database_url,
            "CALLBOT_DIALOGUE_MODE": "external",
            "CALLBOT_DIALOGUE_URL": url,
            "CALLBOT_DIALOGUE_TOKEN": token,
            "CALLBOT_VAD_NO_INPUT_TIMEOUT_S": "20",
            "CALLBOT_SIP_MAX_CALLS": str(max(levels)),
        },
    )
    started = time.monotonic()
    callbot.start()
    print(
        f"callbot (external dialogue) from start to /healthz 200: {time.monotonic() - started:.1f} s "
        f"(log: {callbot.log_path}); default capacity {default_calls} calls",
        flush=True,
    )
    try:
        # One call nobody measures: the first message to Rasa, the first synthesis and recognition are slow.
        warm_dir = workdir / "warm-up"
        warm_dir.mkdir()
        greeting_s = len(await render(load_settings(environ={}).prompts.greeting)) / RATE
        await one_call(callbot, key, warm_dir, "+33491999999", 0, utterance(0, False, args.gaps), greeting_s + 1.5)
        for parallel in levels:
            await measure(callbot, key, workdir, args.calls, parallel, args)
    finally:
        callbot.stop()
        runner.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    asyncio.run(main())
