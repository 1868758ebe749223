"""Turn latency over WebRTC, with a Python aiortc client as the caller (what the call page does, without a browser).

    .venv/bin/python benchmarks/webrtc_latency.py [--calls 10] [--parallel 1] [--eager]

Starts the dialogue and the real callbot process as benchmarks/turn_latency.py does (its helpers, imported), with
the demo models and the WebRTC host candidate on 127.0.0.1, then places `--calls` calls on /call/ws, `--parallel`
at a time. Each caller is an aiortc peer speaking the page's protocol (ready, offer, answer, state): its microphone
track sends silence through the greeting (greeting length + 1.5 s after the media connects), then one French clip
(turn_latency.py's clips, cut 20 ms after their words), then silence, as 20 ms frames at 48 kHz (Opus); it records
the bot's track as received (decoded by aiortc, after its jitter buffer).

Both sides are timed on the client's event-loop clock:
  speech end     when the microphone track handed aiortc the frame holding the clip's last speech (the last 10 ms
                 within 30 dB of the clip's peak), plus its place in that frame: "as sent".
  first sound    the first 10 ms of the received track louder than 30 dB re 1 LSB after the caller's speech
                 began, at the time its frame came out of aiortc's receiver: "as received".
Prints each call's figure and p50/p95 with the load average: figures only, no assertions. A browser adds its own
capture and playout buffering (a few tens of ms each way) which this client does not have.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import soxr  # noqa: E402
import yaml  # noqa: E402
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack  # noqa: E402
from av import AudioFrame  # noqa: E402

from benchmarks.turn_latency import CLIPS, latency_figures, load_figures, start_dialogue, utterance  # noqa: E402
from callbot.config import load_settings, resolve_path  # noqa: E402
from tests.e2e.conftest import RATE, render  # noqa: E402
from tests.support.audio_match import envelope  # noqa: E402
from tests.support.callbot_process import CallbotProcess  # noqa: E402

T = TypeVar("T")
MIC_RATE = 48000  # what a browser's microphone track gives Opus
FRAME_S = 0.02
QUIET_S = 0.8  # the greeting is over once the bot has been quiet this long
BOT_LOUD_DB = 30.0  # a 10 ms block of what the caller received louder than this (dB re 1 LSB) is the bot speaking


class Microphone(MediaStreamTrack):
    """The caller's track: silence, or the PCM queued by `say`, one 20 ms frame at a time in real time; notes the
    loop time at which each frame of the queued PCM was handed to aiortc."""

    kind = "audio"

    def __init__(self, rate: int = MIC_RATE) -> None:
        super().__init__()
        self.rate = rate
        self.samples = int(rate * FRAME_S)
        self.time_base = fractions.Fraction(1, rate)
        self._start: float | None = None
        self._pts = 0
        self._pcm = np.zeros(0, dtype="<i2")
        self._position = 0  # samples of _pcm already sent
        self.sent_at: list[float] = []  # loop time of each frame of the last `say`, as handed over

    def say(self, pcm: np.ndarray) -> None:
        """Send `pcm` (int16 at self.rate) from the next frame on."""
        self._pcm = np.asarray(pcm, dtype="<i2")
        self._position = 0
        self.sent_at = []

    @property
    def saying(self) -> bool:
        return self._position < len(self._pcm)

    def sent_time(self, sample: int) -> float | None:
        """Loop time at which sample `sample` of the last `say` was handed to aiortc (None: not yet)."""
        frame = sample // self.samples
        if frame >= len(self.sent_at):
            return None
        return self.sent_at[frame] + (sample % self.samples) / self.rate

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            self._pts += self.samples
            wait = self._start + self._pts / self.rate - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        chunk = self._pcm[self._position : self._position + self.samples]
        if len(chunk):
            self._position += len(chunk)
            self.sent_at.append(loop.time())
        pcm = np.zeros(self.samples, dtype="<i2")
        pcm[: len(chunk)] = chunk
        frame = AudioFrame(format="s16", layout="mono", samples=self.samples)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate = self.rate
        frame.pts = self._pts
        frame.time_base = self.time_base
        return frame


@dataclass
class Heard:
    """The bot's track as received: mono PCM at `rate` and the loop time at which each frame came out."""

    rate: int = 0
    frames: list[np.ndarray] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def first_loud_after(self, after: float, threshold_db: float = BOT_LOUD_DB) -> float | None:
        """Loop time of the first 10 ms block louder than `threshold_db` in a frame received after `after`."""
        for samples, at in zip(list(self.frames), list(self.times), strict=True):
            if at < after:
                continue
            levels = 10 * envelope(samples, self.rate)
            loud = np.flatnonzero(levels > threshold_db)
            if len(loud):
                # the frame came out at `at`; its first sample was due one frame length earlier
                return at - len(samples) / self.rate + float(loud[0]) * 0.01
        return None

    def loud_seconds(self, after: float = 0.0, threshold_db: float = BOT_LOUD_DB) -> float:
        total = 0.0
        for samples, at in zip(list(self.frames), list(self.times), strict=True):
            if at >= after:
                total += 0.01 * int(np.sum(10 * envelope(samples, self.rate) > threshold_db))
        return total

    def loud_within(self, start: float, end: float, threshold_db: float = BOT_LOUD_DB) -> bool:
        return any(
            start <= at <= end and np.any(10 * envelope(s, self.rate) > threshold_db)
            for s, at in zip(list(self.frames), list(self.times), strict=True)
        )


class Caller:
    """An aiortc peer on the callbot's /call/ws, as the call page is: one offer, its answer, keys, hang-up."""

    def __init__(self, http_port: int) -> None:
        self.url = f"http://127.0.0.1:{http_port}"
        self.microphone = Microphone()
        self.heard = Heard()
        self.messages: list[dict[str, Any]] = []
        self.peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.peer.addTrack(self.microphone)
        self.peer.on("track", self._on_track)
        self.connected_at: float | None = None
        self._session: aiohttp.ClientSession | None = None
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._new_message = asyncio.Event()

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._tasks.append(asyncio.create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(MediaStreamError):
            while True:
                frame: Any = await track.recv()
                at = loop.time()
                data = frame.to_ndarray().astype(np.float64)
                channels = len(frame.layout.channels)
                mono = data.reshape(-1, channels).mean(axis=1) if channels > 1 and data.shape[0] == 1 else data[0]
                self.heard.rate = frame.sample_rate
                self.heard.frames.append(mono)
                self.heard.times.append(at)

    async def _listen(self) -> None:
        assert self._socket is not None
        async for message in self._socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            self.messages.append(json.loads(message.data))
            self._new_message.set()
        self._new_message.set()

    async def wait_for(self, wanted: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """The first message (so far or to come) holding every item of `wanted`."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        seen = 0
        while True:
            for message in self.messages[seen:]:
                if all(message.get(k) == v for k, v in wanted.items()):
                    return message
            seen = len(self.messages)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0 or (self._socket is not None and self._socket.closed and not self._new_message.is_set()):
                raise TimeoutError(f"no {wanted} in {timeout_s} s; messages: {self.messages}")
            self._new_message.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_message.wait(), left)

    async def call(self, timeout_s: float = 30.0, busy_for_s: float = 10.0) -> None:
        """Open the socket, offer, take the answer, and wait until the server says the media connected. A busy
        server (the last call's line is freed once its peer connection has closed) is asked again."""
        self._session = aiohttp.ClientSession()
        deadline = asyncio.get_running_loop().time() + busy_for_s
        while True:
            self.messages.clear()
            self._socket = await self._session.ws_connect(f"{self.url}/call/ws", headers={"Origin": self.url})
            first = await self._socket.receive_json(timeout=timeout_s)
            if first.get("type") != "busy" or asyncio.get_running_loop().time() > deadline:
                break
            await self._socket.close()
            await asyncio.sleep(0.5)
        self.messages.append(first)
        self._tasks.append(asyncio.create_task(self._listen()))
        await self.wait_for({"type": "ready"}, timeout_s)
        await self.peer.setLocalDescription(await self.peer.createOffer())  # aiortc: gathering complete
        assert self.peer.localDescription is not None
        await self._socket.send_json({"type": "offer", "sdp": self.peer.localDescription.sdp})
        answer = await self.wait_for({"type": "answer"}, timeout_s)
        await self.peer.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        await self.wait_for({"type": "state", "state": "connected"}, timeout_s)
        self.connected_at = asyncio.get_running_loop().time()

    async def send(self, message: dict[str, Any]) -> None:
        assert self._socket is not None
        await self._socket.send_json(message)

    async def close(self) -> None:
        if self._socket is not None and not self._socket.closed:
            with contextlib.suppress(Exception):
                await self._socket.send_json({"type": "hangup"})
            await self._socket.close()
        await self.peer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()


def loopback_only() -> None:
    """This process's aiortc offers its host candidate on 127.0.0.1 (aioice leaves loopback out)."""
    from callbot.webrtc import use_host_addresses

    use_host_addresses(["127.0.0.1"])


def webrtc_config(workdir: Path, extra: dict[str, Any] | None = None) -> Path:
    """The demo models, the callbot's WebRTC host candidate on 127.0.0.1, and `extra` sections."""
    overlay = yaml.safe_load(resolve_path("config/demo-models.yaml").read_text(encoding="utf-8"))
    overlay["webrtc"] = {"ice_addresses": ["127.0.0.1"]}
    overlay.update(extra or {})
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(overlay), encoding="utf-8")
    return path


@dataclass
class Turn:
    index: int
    latency_s: float | None = None
    greeting_after_s: float | None = None  # media connected -> first sound of the greeting, as received
    failed: str = ""


async def poll(check: Callable[[], T | None], timeout_s: float, every_s: float = 0.02) -> T | None:
    """`check()` until it gives something but None (its value), or None after `timeout_s`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (value := check()) is None:
        if asyncio.get_running_loop().time() >= deadline:
            return None
        await asyncio.sleep(every_s)
    return value


async def one_call(callbot: CallbotProcess, index: int, greeting_s: float, listen_s: float = 8.0) -> Turn:
    from benchmarks.capacity import speech_span

    turn = Turn(index)
    said = utterance(index, False, [])
    start_s, end_s = speech_span(said.pcm)  # in the clip, at RATE
    pcm = soxr.resample(said.pcm.astype(np.int16), RATE, MIC_RATE).astype("<i2")
    caller = Caller(callbot.http_port)
    loop = asyncio.get_running_loop()
    try:
        await caller.call()
        assert caller.connected_at is not None
        # The greeting: its first sound, its length, then a quiet moment (it may not be cut: the caller speaks
        # after it, as in turn_latency.py).
        greeting = await poll(lambda: caller.heard.first_loud_after(0.0), 30.0)
        if greeting is None:
            turn.failed = "no greeting heard"
            return turn
        turn.greeting_after_s = greeting - caller.connected_at
        await asyncio.sleep(max(0.0, greeting + greeting_s - loop.time()))
        await poll(lambda: not caller.heard.loud_within(loop.time() - QUIET_S, loop.time()) or None, 10.0)
        await asyncio.sleep(0.5)
        caller.microphone.say(pcm)
        await poll(lambda: not caller.microphone.saying or None, len(pcm) / MIC_RATE + 5)
        await asyncio.sleep(0.05)
        speech_start = caller.microphone.sent_time(int(start_s * MIC_RATE))
        speech_end = caller.microphone.sent_time(min(len(pcm) - 1, int(end_s * MIC_RATE)))
        assert speech_start is not None and speech_end is not None
        if caller.heard.loud_within(speech_start - 0.3, speech_start):
            turn.failed = "the greeting was still playing when the caller spoke"
            return turn
        first = await poll(lambda: caller.heard.first_loud_after(speech_start), speech_end + listen_s - loop.time())
        if first is None:
            turn.failed = f"no reply heard within {listen_s:.0f} s of the end of the speech"
        elif first < speech_end:
            turn.failed = f"the bot spoke inside the caller's answer ({(first - speech_end) * 1000:.0f} ms)"
        else:
            turn.latency_s = first - speech_end
        return turn
    except (TimeoutError, aiohttp.ClientError, AssertionError) as error:
        turn.failed = f"call failed: {error!r}"[:300]
        return turn
    finally:
        await caller.close()


async def measure(callbot: CallbotProcess, calls: int, parallel: int, greeting_s: float) -> None:
    load_before = os.getloadavg()
    turns: list[Turn] = []
    semaphore = asyncio.Semaphore(parallel)

    async def guarded(index: int) -> None:
        async with semaphore:
            turn = await one_call(callbot, index, greeting_s)
            turns.append(turn)
            what = turn.failed or f"{turn.latency_s * 1000:.0f} ms"  # type: ignore[operator]
            if turn.greeting_after_s is not None:
                what += f" (greeting heard {turn.greeting_after_s:.2f} s after the media connected)"
            print(f"  {parallel} at a time, call {index + 1} ({CLIPS[index % len(CLIPS)]}): {what}", flush=True)

    await asyncio.gather(*(guarded(i) for i in range(calls)))
    latencies = [t.latency_s for t in turns if t.latency_s is not None]
    end_of_turn = load_settings(environ={}).vad.end_of_turn
    print(
        f"WebRTC (aiortc client), {parallel} call{'s' if parallel > 1 else ''} at a time: turn latency over "
        f"{len(latencies)} turns: {latency_figures(latencies)} (includes the end-of-turn silence of "
        f"{end_of_turn.free_ms} ms for this free answer); {len(turns) - len(latencies)} calls failed or cut in; "
        f"{load_figures(load_before)}",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10, help="calls to measure")
    parser.add_argument("--parallel", type=int, default=1, help="calls at a time")
    parser.add_argument("--eager", action="store_true", help="TensorFlow eager mode for Rasa (slower per message)")
    args = parser.parse_args()

    print(f"{os.cpu_count()} cores, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} before start")
    loopback_only()
    workdir = Path(tempfile.mkdtemp(prefix="webrtc-latency-"))
    started = time.monotonic()
    runner, url, database_url, key, token = start_dialogue(workdir, args.eager)
    print(f"dialogue ready in {time.monotonic() - started:.1f} s (eager={args.eager})")
    (workdir / "pseudonym.key").write_text(key.hex())
    callbot = CallbotProcess(
        workdir,
        config=webrtc_config(workdir),
        env_overrides={
            "CALLBOT_DATABASE_URL": database_url,
            "CALLBOT_DIALOGUE_MODE": "external",
            "CALLBOT_DIALOGUE_URL": url,
            "CALLBOT_DIALOGUE_TOKEN": token,
            "CALLBOT_VAD_NO_INPUT_TIMEOUT_S": "20",
            "CALLBOT_SIP_MAX_CALLS": str(max(1, args.parallel)),
        },
    )
    started = time.monotonic()
    callbot.start()
    print(f"callbot ready in {time.monotonic() - started:.1f} s (log: {callbot.log_path})", flush=True)
    try:
        greeting_s = len(await render(load_settings(environ={}).prompts.greeting)) / RATE
        warm = await one_call(callbot, 0, greeting_s)  # not measured: first message to Rasa, first synthesis
        print(
            f"  warm-up call: {warm.failed or f'{warm.latency_s * 1000:.0f} ms'}"  # type: ignore[operator]
            f" (greeting heard {warm.greeting_after_s} s after the media connected)",
            flush=True,
        )
        await measure(callbot, args.calls, args.parallel, greeting_s)
    finally:
        callbot.stop()
        runner.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    asyncio.run(main())
