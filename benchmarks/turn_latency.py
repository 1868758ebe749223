"""Turn latency with a real SIP client, and seconds from start to /healthz ready.

    .venv/bin/python benchmarks/turn_latency.py [--calls 20] [--parallel 2] [--eager]

Starts the dialogue (Rasa + action server, traced graph unless --eager), then the real callbot process with the
demo models, then places `--calls` baresip calls. Each caller waits for the greeting, says one French sentence,
and listens. Turn latency = end of the caller's speech (in what baresip sent) to the first sound of the reply
(in what baresip heard): it includes the end-of-turn silence the VAD waits for, recognition, Rasa, and the first
sentence of Piper. Both recordings start with the call's media, so they share a clock (to ~20 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from callbot.config import load_settings  # noqa: E402
from tests.e2e.conftest import RATE, caller_wav, render  # noqa: E402
from tests.support.audio_match import envelope, read_wav, speech_onsets  # noqa: E402
from tests.support.callbot_process import CallbotProcess  # noqa: E402
from tests.support.sip_peers import run_baresip_call  # noqa: E402

CLIPS = ["stp_fr_01.wav", "stp_fr_05.wav", "stp_fr_07.wav"]  # ones the Korean demo model hears words in


def speech_end(samples: np.ndarray, after_s: float) -> float:
    level = 10 * envelope(samples, RATE)
    loud = np.flatnonzero(level > 30.0)
    loud = loud[loud * 0.01 >= after_s]
    return float(loud[-1] * 0.01 + 0.01) if len(loud) else float("nan")


async def one_call(callbot: CallbotProcess, workdir: Path, clip: str, speak_at: float) -> float | None:
    microphone = caller_wav(workdir, clip, lead_s=speak_at, tail_s=8.0)
    result = await run_baresip_call(
        f"sip:bot@127.0.0.1:{callbot.sip_port}", microphone, workdir / "baresip", duration_s=int(speak_at + 14)
    )
    if not result.heard_wavs or not result.sent_wavs:
        print(f"  call failed: {result.output[-500:]}", file=sys.stderr)
        return None
    sent, _ = read_wav(result.sent_wavs[0])
    heard, _ = read_wav(result.heard_wavs[0])
    said_until = speech_end(sent, after_s=speak_at - 1.0)
    replies = [t for t in speech_onsets(heard, RATE) if t > said_until]
    if not replies:
        page: Any = callbot.api("/api/calls?limit=1")
        call: Any = callbot.api(f"/api/calls/{page['items'][0]['call_id']}")
        turns = [(t["speaker"], t["text"][:40], t["started_at"][11:22]) for t in call["turns"]]
        print(f"  no reply heard after {said_until:.2f} s; stored turns: {turns}", file=sys.stderr)
        return None
    return replies[0] - said_until


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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--eager", action="store_true", help="TensorFlow eager mode for Rasa (slower per message)")
    args = parser.parse_args()

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
        },
    )
    started = time.monotonic()
    callbot.start()
    print(f"callbot (external dialogue) from start to /healthz 200: {time.monotonic() - started:.1f} s")
    try:
        greeting_s = len(await render(load_settings(environ={}).prompts.greeting)) / RATE
        latencies: list[float] = []
        semaphore = asyncio.Semaphore(args.parallel)

        async def guarded(index: int) -> None:
            async with semaphore:
                call_dir = workdir / f"call-{index}"
                call_dir.mkdir()
                latency = await one_call(callbot, call_dir, CLIPS[index % len(CLIPS)], greeting_s + 1.5)
                if latency is not None:
                    latencies.append(latency)
                    print(f"  call {index + 1}: {latency * 1000:.0f} ms")

        await asyncio.gather(*(guarded(i) for i in range(args.calls)))
    finally:
        callbot.stop()
        runner.stop()  # type: ignore[attr-defined]
    if not latencies:
        raise SystemExit("no turn measured")
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"turn latency over {len(latencies)} turns ({args.parallel} calls at a time): "
        f"median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"min {ordered[0] * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms "
        f"(includes the VAD's end-of-turn silence of {load_settings(environ={}).vad.end_silence_ms} ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())
