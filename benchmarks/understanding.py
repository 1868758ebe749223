"""The understanding step: time per utterance and the action server's memory once it is loaded.

    .venv/bin/python benchmarks/understanding.py [--lines N] [--repeat K]

Lines: the hand-written training examples of dialogue/data/nlu.yml (never an evaluation line), each understood as
the action server does (text + confidences -> Frame, with the taxonomy, the gazetteer, the street base if one was
imported, and the French spaCy pipeline). Memory: the resident size of this process after the action server's
modules, the pipeline and the understanding are loaded, which is what the action server holds at rest.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import yaml
from memory import peak_rss_mb, rss_mb  # benchmarks/memory.py, beside this script

NLU = Path(__file__).resolve().parents[1] / "dialogue" / "data" / "nlu.yml"


def training_lines(limit: int) -> list[str]:
    data = yaml.safe_load(NLU.read_text(encoding="utf-8"))
    lines: list[str] = []
    for block in data.get("nlu", []):
        for line in str(block.get("examples", "")).splitlines():
            text = line.strip().removeprefix("- ").strip()
            if text:
                lines.append(text)
    return lines[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    before = rss_mb()
    started = time.perf_counter()
    import rasa_sdk  # noqa: F401  # what the action server imports besides the dialogue

    from dialogue.actions import understanding
    from dialogue.understanding import Heard

    understand = understanding()
    understand(Heard("inform", "un mot pour charger le pipeline", 0.9, 0.9))
    load_s = time.perf_counter() - started
    lines = training_lines(args.lines)
    timings_ms: list[float] = []
    for _ in range(args.repeat):
        for text in lines:
            heard = Heard("inform", text, 0.9, 0.8)
            start = time.perf_counter()
            understand(heard)
            timings_ms.append((time.perf_counter() - start) * 1000)
    timings_ms.sort()
    print(f"utterances understood: {len(timings_ms)} ({len(lines)} lines x {args.repeat})")
    print(
        f"time per utterance: median {statistics.median(timings_ms):.1f} ms, "
        f"p95 {timings_ms[int(len(timings_ms) * 0.95) - 1]:.1f} ms, max {timings_ms[-1]:.1f} ms"
    )
    resident = rss_mb()
    print(f"load: {load_s:.1f} s; memory: {resident:.0f} MB resident (+{resident - before:.0f} MB)")
    print(f"peak memory: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
