"""Turn latency by kind of question, in process: how soon the bot answers a yes, an address, a phone number.

    .venv/bin/python benchmarks/closed_turns.py [--calls 10]

What is real: the dialogue (Rasa and the action server, the trained model), the Piper voice (the demo voice: the
fixed questions cached at start as the server does), the call session, its voice activity detection and
end-of-turn policy, on an 8 kHz line paced at 20 ms a frame. What is not: the recogniser is scripted with the
French words each caller turn says (the demo Vosk model is Korean: it cannot hear a French "non", so over SIP
every turn stays a free description), and there is no SIP, RTP or network: `benchmarks/turn_latency.py` measures
those, on free descriptions.

Each call: the greeting, then the problem (a free description), the address (a place question), "non" to the
danger question, "oui" to the call-back, the phone number, "oui" to the read-back. A caller turn is voiced audio
(the VAD's speech) as long as the words would take; the caller waits for the bot's question to end first.
Measured per turn: from the caller's last voiced frame to the first audio the bot queues on the line. Each call is
run twice: with the end of turn of the settings (`vad.end_of_turn.answered_ms`: 350 ms once the answer prepared
at a pause shows the dialogue has what it asked) and without it (the end of turn before: 450 ms for a short yes,
700 ms for a description, 900 ms in an address, 1.1 s in a number). Prints p50/p95 per kind of question.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from asr.endpointing import AdaptiveEndOfTurn  # noqa: E402
from asr.fake import FakeRecognizer  # noqa: E402
from benchmarks.turn_latency import latency_figures, start_dialogue  # noqa: E402
from callbot.config import load_settings, resolve_path  # noqa: E402
from callbot.metrics import CallMetrics  # noqa: E402
from callbot.session import CallServices, CallSession  # noqa: E402
from dialogue.client import DialogueClient  # noqa: E402
from dialogue.responses import fixed_texts  # noqa: E402
from signalements import Store, StoreWriter  # noqa: E402
from tts import TtsEngine, Voice  # noqa: E402

RATE = 8000
FRAME = RATE // 50
# (what the question calls for, the caller's words, how long they take to say)
SCRIPT = [
    ("free", "la chaussée s'est creusée au milieu du virage", 1.8),
    ("place", "au douze rue de rome sur marseille", 1.6),
    ("yes_no", "non", 0.4),
    ("yes_no", "oui", 0.4),
    ("number", "zéro six onze vingt deux trente trois quarante quatre", 2.4),
    ("confirm", "oui", 0.4),
]
QUIET_BEFORE_SPEAKING_S = 0.4  # the caller answers this long after the bot's question ends


def voiced(seconds: float) -> list[bytes]:
    """Speech-like audio for the voice activity detector: harmonics of a gliding pitch, in syllables."""
    t = np.arange(int(RATE * seconds)) / RATE
    phase = 2 * np.pi * np.cumsum(120 + 60 * np.sin(2 * np.pi * 1.5 * t)) / RATE
    wave = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    pcm = (6000 * wave / np.max(np.abs(wave))).astype("<i2")
    return [pcm[i : i + FRAME].tobytes() for i in range(0, len(pcm) - FRAME + 1, FRAME)]


SILENCE = bytes(2 * FRAME)


@dataclass
class PacedLine:
    """The line's audio port at real pace: the caller answers each question once the bot's audio has stopped."""

    turns: list[float]  # voiced seconds of each caller turn
    sample_rate: int = RATE
    frames_dropped: int = 0
    speech_ends: list[float] = field(default_factory=list)  # monotonic: each turn's last voiced frame
    first_audio: list[float] = field(default_factory=list)  # monotonic: the bot's first audio after each
    _last_play: float = 0.0
    _pending: list[bytes] = field(default_factory=list)
    _next_frame_at: float | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def read_frame(self) -> bytes | None:
        now = time.monotonic()
        if self._next_frame_at is None:
            self._next_frame_at = now
        self._next_frame_at += 0.02
        await asyncio.sleep(max(0.0, self._next_frame_at - now))
        if self.closed.is_set():
            return None
        if self._pending:
            frame = self._pending.pop(0)
            if not self._pending:
                self.speech_ends.append(time.monotonic())
            return frame
        answered_all = len(self.speech_ends) >= len(self.turns)
        bot_quiet = self._last_play and time.monotonic() - self._last_play >= QUIET_BEFORE_SPEAKING_S
        if not answered_all and bot_quiet and len(self.first_audio) == len(self.speech_ends):
            self._pending = voiced(self.turns[len(self.speech_ends)])
        return SILENCE

    def play(self, pcm: bytes) -> None:
        now = time.monotonic()
        self._last_play = now
        if len(self.first_audio) < len(self.speech_ends) and not self._pending:
            self.first_audio.append(now)

    def clear_playback(self) -> None: ...

    def playback_pending(self) -> float:
        return 0.0

    async def wait_played(self) -> None:
        await asyncio.sleep(0)


@dataclass
class Line:
    audio: PacedLine
    call_id: str = field(default_factory=lambda: secrets.token_hex(8))
    caller_number: str | None = None  # withheld: the bot asks for a number to call back
    dtmf: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    ended_by: str | None = None

    async def hangup(self) -> None:
        self.ended.set()
        self.audio.closed.set()

    async def transfer(self, target_uri: str, headers: dict[str, str]) -> bool:
        await self.hangup()
        return True


async def one_call(services: CallServices) -> tuple[list[float | None], str | None]:
    """Latency of each scripted turn (None: no answer after it), and the call's outcome."""
    line = PacedLine([seconds for _, _, seconds in SCRIPT])
    services.asr = FakeRecognizer([words for _, words, _ in SCRIPT], confidence=0.9, min_audio_s=0.2, sound_only=True)
    session = CallSession(Line(line), "sip", services)
    await asyncio.wait_for(session.run(), 120)
    latencies: list[float | None] = [
        (line.first_audio[i] - end) if i < len(line.first_audio) else None for i, end in enumerate(line.speech_ends)
    ]
    return latencies, session.outcome


async def measure(calls: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="closed-turns-"))
    runner, url, database_url, key, token = start_dialogue(workdir, eager=True)
    settings = load_settings(Path("config/demo-models.yaml"), environ={})
    voice = Voice.load(resolve_path(settings.models.tts), None, settings.tts.onnx_threads)
    tts = TtsEngine(voice, workers=settings.tts.workers, cache_size=settings.tts.cache_size)
    await tts.warm([settings.prompts.greeting, *fixed_texts()], sample_rate=RATE)
    store = Store(database_url, key)
    writer = StoreWriter(store, spill_path=workdir / "spill.jsonl")
    client = DialogueClient(url, timeout_s=30, token=token)
    policies = {
        "with the answered end of turn": AdaptiveEndOfTurn(**settings.vad.end_of_turn.model_dump()),
        "without it (before)": AdaptiveEndOfTurn(**{**settings.vad.end_of_turn.model_dump(), "answered_ms": 5000}),
    }
    by_policy: dict[str, dict[str, list[float]]] = {name: {} for name in policies}
    try:
        for index in range(-1, calls):  # call -1 warms the dialogue and the voice up: not counted
            for name, policy in policies.items():
                services = CallServices(
                    settings=settings,
                    asr=FakeRecognizer([]),
                    tts=tts,
                    dialogue=client,
                    store=store,
                    writer=writer,
                    metrics=CallMetrics(),
                    end_of_turn=policy,
                )
                latencies, outcome = await one_call(services)
                if index < 0:
                    break
                for (kind, _, _), latency in zip(SCRIPT, latencies, strict=False):
                    if latency is not None:
                        by_policy[name].setdefault(kind, []).append(latency)
                shown = " ".join("-" if v is None else f"{v * 1000:.0f}" for v in latencies)
                print(f"  call {index + 1}, {name}: {shown} ms ({outcome})", flush=True)
    finally:
        await client.close()
        await writer.close()
        tts.close()
        runner.stop()  # type: ignore[attr-defined]
    for name in policies:
        print(f"{name}:")
        for kind in dict.fromkeys(kind for kind, _, _ in SCRIPT):
            values = by_policy[name].get(kind, [])
            if values:
                print(f"  {kind:8s} {len(values):3d} turns: {latency_figures(values)}")
        print(f"  every turn {sum(map(len, by_policy[name].values())):3d}: {latency_figures(_all(by_policy[name]))}")


def _all(figures: dict[str, Any]) -> list[float]:
    return [value for values in figures.values() for value in values]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(measure(args.calls))


if __name__ == "__main__":
    main()
