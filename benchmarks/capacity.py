"""Capacity: how many simultaneous calls the real callbot holds with its audio, recognition and turn times intact.

    .venv/bin/python benchmarks/capacity.py [--max-calls 16] [--calls N ...] [--search] [--repeat 1] [--also 20]
        [--reply-bound 5] [--turn-p95 1.2] [--spread 0] [--eager] [--asr-max-active N] [--asr-beam B]

Starts the dialogue (Rasa + action server, traced graph unless --eager, as benchmarks/turn_latency.py does), then
the real `python -m callbot run` with the demo models, then for N = 1, 2, 3, ... (--search: 1, 2, 4, 8, ... then
a bisection of the first failure; --calls: those N) places N simultaneous SIP calls (UDP, G.711 u-law) from
callers of its own: an asyncio SIP user agent per call and one media thread that sends every caller's RTP at
absolute 20 ms deadlines and timestamps every packet from the bot in the kernel (SO_TIMESTAMPNS), so the
benchmark's own scheduling does not blur the gaps it reports. Each caller waits for the greeting to end, says one
real speech clip (tests/e2e/audio, ones the Korean demo model hears words in; cut 20 ms after the words unless
--noise-tail: the room noise after them is voiced for the bot's VAD), listens for the reply for a few seconds and
hangs up. The calls start together (a quarter second apart) and so speak at the same moment: the
worst case of a busy hour, not its average (--spread S spreads the callers' speech over S seconds after the
greeting, all calls still up). After the sweep it measures --also and the default capacity (sip.max_calls auto:
cores x sip.calls_per_core) once each if not measured yet.

For each N it prints, with the load average before and after:
  cadence    gaps between the RTP packets the callers received from the bot, p50/p99/max over every call
             (target: p99 < 40 ms; the bot sends every 20 ms, silence included)
  turn       end of the caller's speech (the clip's last 10 ms within 30 dB of its peak, as sent) to the first
             sound of the bot's reply (as received), p50/p95: includes the end-of-turn silence (free_ms: the
             greeting asks a free question), recognition, the dialogue and the first clause of Piper
  written    end of the caller's speech to the end time of the caller's turn in the store (the recogniser's
             result), from GET /api/calls/{id}; "n/N" callers whose words were transcribed at all
  CPU        the callbot process, the dialogue (Rasa + action server), this benchmark, and the rest of the
             machine (other users: a figure taken under someone else's load is not a capacity figure), in % of one
             core over the round; and CPU-seconds per call-minute (callbot, dialogue), over the calls' durations
  memory     the callbot's RSS (/proc/PID/status) before the round, its peak, MB per call, and once the calls ended
  frames     audio packets the callers sent, and the server's caller-audio counters over the round from /metrics
             (read by the listeners, sent to a recogniser, dropped before being read, barge-ins), with the log's
             inbound-overflow warnings
and "holds" when the cadence p99 is below 40 ms, every caller's turn was transcribed and answered within
--reply-bound seconds and the turn p95 is at most --turn-p95 (with --repeat R, in each of its R rounds). It stops
at the first N that does not hold (unless --keep-going), then prints the highest N that held with every smaller
measured N, per core (the figure for sip.calls_per_core), the memory per extra call fitted over the rounds, and
the callbot's RSS at --settle seconds after the last round against its idle level after the warm-up call. Figures
only, no assertions; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import secrets
import selectors
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from callbot.config import load_settings  # noqa: E402
from callbot.rtp.dtmf import EVENT_DIGITS, TelephoneEvent, build_telephone_event  # noqa: E402
from callbot.rtp.g711 import ULAW_SILENCE, ulaw_decode, ulaw_encode  # noqa: E402
from signalements.pseudonym import pseudonymise  # noqa: E402
from tests.conftest import _SupervisorThread  # noqa: E402
from tests.e2e.conftest import AUDIO, RATE, render  # noqa: E402
from tests.support.audio_match import envelope, read_wav  # noqa: E402
from tests.support.callbot_process import CallbotProcess  # noqa: E402

CLIPS = ["stp_fr_01.wav", "stp_fr_05.wav", "stp_fr_07.wav"]
FRAME_S = 0.020
FRAME_SAMPLES = 160
CADENCE_TARGET_MS = 40.0
LOUD_DB = 30.0  # a received frame louder than this (dB re 1 LSB, RMS) is the bot speaking
SPEECH_BELOW_PEAK_DB = 30.0  # a caller's clip: speech is what comes within this of its loudest 10 ms
DTMF_PAYLOAD_TYPE = 101  # telephone-event, as the callers' SDP offers it
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; the receive time the kernel stamped
TIMESPEC = struct.Struct("@qq")


def frame_db(payload: bytes) -> float:
    pcm = np.frombuffer(ulaw_decode(payload), dtype="<i2").astype(np.float64)
    return float(10 * math.log10(float(np.mean(pcm**2)) + 1.0)) if len(pcm) else 0.0


def speech_span(pcm: np.ndarray, rate: int = RATE) -> tuple[float, float]:
    """(start, end) of the speech in a recording, in seconds: the first and last 10 ms louder than the recording's
    peak less SPEECH_BELOW_PEAK_DB (the clips' room noise, 35 to 55 dB re 1 LSB, is not speech)."""
    level = 10 * envelope(np.asarray(pcm, dtype=np.float64), rate)  # every 10 ms
    if not len(level):
        return 0.0, 0.0
    loud = np.flatnonzero(level > max(LOUD_DB, float(level.max()) - SPEECH_BELOW_PEAK_DB))
    if not len(loud):
        return 0.0, len(pcm) / rate
    return float(loud[0]) * 0.01, float(loud[-1] + 1) * 0.01


@dataclass(frozen=True)
class Clip:
    name: str
    frames: list[bytes]  # u-law payloads, 20 ms each
    speech_start_s: float  # where the speech starts and ends in the clip (speech_span)
    speech_end_s: float

    @property
    def speech_start_frame(self) -> int:
        return min(len(self.frames) - 1, int(self.speech_start_s / FRAME_S))

    @property
    def speech_end_frame(self) -> int:
        """Index of the frame holding the end of the speech."""
        return min(len(self.frames) - 1, max(0, math.ceil(self.speech_end_s / FRAME_S) - 1))


def clip_pcm(name: str) -> np.ndarray:
    """A clip of tests/e2e/audio at the phone's rate, PCM16."""
    import soxr

    samples, rate = read_wav(AUDIO / name)
    return np.asarray(soxr.resample(samples.astype(np.int16), rate, RATE).astype("<i2"))


def make_clip(name: str, pcm: np.ndarray) -> Clip:
    start_s, end_s = speech_span(pcm)
    pcm = np.concatenate([pcm.astype("<i2"), np.zeros(-len(pcm) % FRAME_SAMPLES, dtype="<i2")])
    data = ulaw_encode(pcm.tobytes())
    frames = [data[i : i + FRAME_SAMPLES] for i in range(0, len(data), FRAME_SAMPLES)]
    return Clip(name, frames, start_s, end_s)


def without_noise_tail(pcm: np.ndarray) -> np.ndarray:
    """The clip cut 20 ms after its speech ends (10 ms fade): the clips' room noise after the words (0.4 to 0.9 s at
    -45 to -35 dBFS) is voiced for the bot's VAD, which would end the turn only after it."""
    _, end_s = speech_span(pcm)
    cut = pcm[: int((end_s + 0.02) * RATE)].astype(np.float64)
    cut[-80:] *= np.linspace(1.0, 0.0, min(80, len(cut)))
    return np.asarray(cut.astype("<i2"))


def load_clip(name: str, noise_tail: bool = False) -> Clip:
    pcm = clip_pcm(name)
    return make_clip(name, pcm if noise_tail else without_noise_tail(pcm))


# ---- media: one thread sends every caller's RTP and timestamps what the bot sends ---------------------------


@dataclass
class Media:
    """One caller's RTP socket. The media thread writes `arrivals`/`payloads`, the times and counts; others read.

    Sending times: the frame holding clip time x is sent once captured, 20 ms after it began, so speech that
    starts x into frame k of a clip sent at t began at t - 20 ms + (x - 20 ms k), to the media thread's own
    pacing (printed as its lateness).
    """

    sock: socket.socket
    remote: tuple[str, int] | None = None
    arrivals: list[float] = field(default_factory=list)  # kernel receive times, epoch seconds
    payloads: list[bytes] = field(default_factory=list)
    queued: list[bytes] = field(default_factory=list)  # frames to say; silence when empty
    clip: Clip | None = None  # what is being said
    said: int = 0  # frames of `clip` sent so far
    speech_start_at: float | None = None  # epoch seconds the clip's speech began (as sent)
    speech_end_at: float | None = None  # ... and ended
    audio_sent: int = 0  # audio packets (speech or silence) sent to the bot
    dtmf_queued: list[bytes] = field(default_factory=list)  # telephone-event packets to send instead of audio
    dtmf_sent_at: float | None = None  # epoch seconds the first packet of the last key press was sent
    sequence: int = field(default_factory=lambda: secrets.randbelow(1 << 16))
    timestamp: int = field(default_factory=lambda: secrets.randbelow(1 << 32))
    ssrc: int = field(default_factory=lambda: secrets.randbelow(1 << 32))
    _sending: str = ""  # what the packet just built holds: "clip", "dtmf-start", "dtmf" or "silence"

    @classmethod
    def open(cls) -> Media:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        return cls(sock)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def say(self, clip: Clip) -> None:
        """Call with the media thread's lock held."""
        self.speech_start_at = None
        self.speech_end_at = None
        self.clip = clip
        self.said = 0
        self.queued = list(clip.frames)

    def press(self, digit: str, duration_ms: int = 100) -> None:
        """An RFC 4733 key press from the next tick: updates every 20 ms, the end packet three times (call with the
        media thread's lock held). The audio's timestamps go on meanwhile, as a phone's do."""
        event = EVENT_DIGITS.index(digit)
        steps = max(1, duration_ms // 20)
        start = self.timestamp
        packets = []
        for step in range(1, steps + 1):
            end = step == steps
            payload = build_telephone_event(TelephoneEvent(event, end, 10, step * FRAME_SAMPLES))
            for _ in range(3 if end else 1):
                packets.append((start, step == 1, payload))
        self.dtmf_sent_at = None
        self.dtmf_queued = [
            struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | DTMF_PAYLOAD_TYPE, 0, ts, 0) + payload
            for ts, marker, payload in packets
        ]

    def next_packet(self) -> bytes:
        if self.dtmf_queued:
            packet = bytearray(self.dtmf_queued.pop(0))
            self._sending = "dtmf-start" if packet[1] & 0x80 else "dtmf"
            struct.pack_into("!H", packet, 2, self.sequence)
            struct.pack_into("!I", packet, 8, self.ssrc)
            self.sequence = (self.sequence + 1) & 0xFFFF
            self.timestamp = (self.timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
            return bytes(packet)
        if self.queued:
            payload = self.queued.pop(0)
            self._sending = "clip"
        else:
            payload = bytes([ULAW_SILENCE]) * FRAME_SAMPLES
            self._sending = "silence"
        header = struct.pack("!BBHII", 0x80, 0, self.sequence, self.timestamp, self.ssrc)
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        return header + payload

    def sent(self, at: float) -> None:
        """The packet next_packet() built left at `at` (epoch seconds)."""
        if self._sending == "dtmf-start":
            self.dtmf_sent_at = at
            return
        if self._sending == "dtmf":
            return
        self.audio_sent += 1
        if self._sending != "clip" or self.clip is None:
            return
        index, clip = self.said, self.clip
        self.said += 1
        began = at - FRAME_S - index * FRAME_S  # when the clip's first frame began, on this frame's clock
        if index == clip.speech_start_frame:
            self.speech_start_at = began + clip.speech_start_s
        if index == clip.speech_end_frame:
            self.speech_end_at = began + clip.speech_end_s


class MediaThread(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="callers-media", daemon=True)
        self.lock = threading.Lock()
        self.media: list[Media] = []
        self.selector = selectors.DefaultSelector()
        self.running = True
        self.lateness: list[float] = []  # how late each send tick ran (s): this benchmark's own pacing

    def add(self, media: Media) -> None:
        with self.lock:
            self.media.append(media)
            self.selector.register(media.sock, selectors.EVENT_READ, media)

    def remove(self, media: Media) -> None:
        with self.lock:
            if media in self.media:
                self.media.remove(media)
                self.selector.unregister(media.sock)
        media.sock.close()

    def run(self) -> None:
        start = time.monotonic()
        tick = 0
        while self.running:
            deadline = start + tick * FRAME_S
            if not self.media:
                time.sleep(max(0.0, deadline - time.monotonic()))
            ready = self.selector.select(max(0.0, deadline - time.monotonic())) if self.media else []
            with self.lock:
                for key, _ in ready:
                    if key.data in self.media:
                        self._drain(key.data)
                if time.monotonic() < deadline:
                    continue
                self.lateness.append(time.monotonic() - deadline)
                for media in self.media:
                    if media.remote is None:
                        continue
                    try:
                        media.sock.sendto(media.next_packet(), media.remote)
                    except OSError:
                        continue
                    media.sent(time.time())
            tick += 1

    @staticmethod
    def _drain(media: Media) -> None:
        while True:
            try:
                data, ancillary, _, _ = media.sock.recvmsg(2048, socket.CMSG_SPACE(TIMESPEC.size))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            arrived = time.time()
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= TIMESPEC.size:
                    seconds, nanoseconds = TIMESPEC.unpack(value[: TIMESPEC.size])
                    arrived = seconds + nanoseconds / 1e9
            if len(data) > 12:
                media.arrivals.append(arrived)
                media.payloads.append(data[12:])


# ---- signalling: a minimal SIP user agent (UDP) --------------------------------------------------------------


@dataclass
class SipMessage:
    first_line: str
    headers: dict[str, list[str]]
    body: bytes

    @property
    def status(self) -> int:
        parts = self.first_line.split()
        return int(parts[1]) if self.first_line.startswith("SIP/2.0") and len(parts) > 1 else 0

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), [""])[0]


COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length"}


def parse_sip(data: bytes) -> SipMessage | None:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    if not lines or not lines[0]:
        return None
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            headers.setdefault(COMPACT.get(key, key), []).append(value.strip())
    return SipMessage(lines[0], headers, body)


class SipLeg(asyncio.DatagramProtocol):
    """One caller's dialog with the bot: INVITE, ACK, BYE either way; a REFER from the bot is accepted (202) and
    timed as it arrives (`refer_at`), and `notify_transfer()` reports the transfer's outcome (RFC 3515)."""

    def __init__(self, bot: tuple[str, int], number: str, rtp_port: int) -> None:
        self.bot = bot
        self.number = number
        self.rtp_port = rtp_port
        self.transport: asyncio.DatagramTransport | None = None
        self.call_id = secrets.token_hex(10)
        self.from_tag = secrets.token_hex(4)
        self.to_header = f"<sip:bot@{bot[0]}:{bot[1]}>"
        self.remote_target = f"sip:bot@{bot[0]}:{bot[1]}"
        self.responses: asyncio.Queue[SipMessage] = asyncio.Queue()
        self.bot_hung_up = asyncio.Event()
        self.answer: SipMessage | None = None
        self.cseq = 1  # of our last request in the dialog
        self.refer_at: float | None = None  # epoch seconds the bot's first REFER reached this socket
        self.refer_to = ""
        self.referred = asyncio.Event()

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # a selector transport is not a subclass

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        arrived = time.time()
        message = parse_sip(data)
        if message is None:
            return
        if message.status:
            if message.status == 200 and message.header("cseq").endswith("INVITE") and self.answer is not None:
                self._send(self._request("ACK", 1))  # our ACK was lost: the 200 comes again
            else:
                self.responses.put_nowait(message)
            return
        method = message.first_line.split()[0]
        if method == "ACK":
            return
        if method == "REFER" and self.refer_at is None:
            self.refer_at = arrived
            self.refer_to = message.header("refer-to")
            self.referred.set()
        response = [
            "SIP/2.0 202 Accepted" if method == "REFER" else "SIP/2.0 200 OK",
            *(f"Via: {via}" for via in message.headers.get("via", [])),
            f"From: {message.header('from')}",
            f"To: {message.header('to')}",
            f"Call-ID: {message.header('call-id')}",
            f"CSeq: {message.header('cseq')}",
            "Content-Length: 0",
        ]
        self._send(("\r\n".join(response) + "\r\n\r\n").encode())
        if method == "BYE":
            self.bot_hung_up.set()

    def _send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, self.bot)

    def _request(
        self,
        method: str,
        cseq: int,
        body: str = "",
        branch: str | None = None,
        extra: tuple[str, ...] = (),
        content_type: str = "application/sdp",
    ) -> bytes:
        uri = self.remote_target if method != "INVITE" else f"sip:bot@{self.bot[0]}:{self.bot[1]}"
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch or 'z9hG4bK' + secrets.token_hex(8)};rport",
            "Max-Forwards: 70",
            f"From: <sip:{self.number}@127.0.0.1:{self.port}>;tag={self.from_tag}",
            f"To: {self.to_header}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:{self.number}@127.0.0.1:{self.port}>",
            "User-Agent: capacity-benchmark",
            *extra,
        ]
        if body:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    async def _transaction(self, data: bytes, cseq_method: str, timeout_s: float) -> SipMessage | None:
        """Send (again at 0.5, 1, 2, 4 s until something answers); the final response, or None."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        interval, next_send, provisional = 0.5, loop.time(), False
        while loop.time() < deadline:
            if not provisional and loop.time() >= next_send:
                self._send(data)
                next_send, interval = loop.time() + interval, min(interval * 2, 4.0)
            wait = max(0.01, min(deadline, next_send if not provisional else deadline) - loop.time())
            try:
                response = await asyncio.wait_for(self.responses.get(), wait)
            except TimeoutError:
                continue
            if not response.header("cseq").endswith(cseq_method):
                continue
            if response.status < 200:
                provisional = True
                continue
            return response
        return None

    async def invite(self) -> int:
        """The final status of the INVITE (0: none); on 200 the dialog is confirmed and media can flow."""
        sdp = "\r\n".join(
            [
                "v=0",
                f"o=caller {secrets.randbelow(1 << 31)} 1 IN IP4 127.0.0.1",
                "s=capacity",
                "c=IN IP4 127.0.0.1",
                "t=0 0",
                f"m=audio {self.rtp_port} RTP/AVP 0 101",
                "a=rtpmap:0 PCMU/8000",
                "a=rtpmap:101 telephone-event/8000",
                "a=ptime:20",
                "a=sendrecv",
                "",
            ]
        )
        branch = "z9hG4bK" + secrets.token_hex(8)
        response = await self._transaction(self._request("INVITE", 1, sdp, branch), "INVITE", 32.0)
        if response is None:
            return 0
        self.to_header = response.header("to")
        if response.status >= 300:  # the ACK of a failure belongs to the INVITE's transaction
            self._send(self._request("ACK", 1, branch=branch))
            return response.status
        contact = response.header("contact")
        if "<" in contact:
            self.remote_target = contact.split("<", 1)[1].split(">", 1)[0]
        self.answer = response
        self._send(self._request("ACK", 1))
        return response.status

    def media_address(self) -> tuple[str, int] | None:
        if self.answer is None:
            return None
        host, port = "127.0.0.1", 0
        for line in self.answer.body.decode("utf-8", "replace").splitlines():
            if line.startswith("c=IN IP4 "):
                host = line.split()[-1]
            elif line.startswith("m=audio "):
                port = int(line.split()[1])
        return (host, port) if port else None

    async def notify_transfer(self, status: str = "200 OK") -> int:
        """The REFER's final NOTIFY: the transfer ended with `status`; the bot's answer (0: none)."""
        self.cseq += 1
        headers = ("Event: refer", "Subscription-State: terminated;reason=noresource")
        request = self._request(
            "NOTIFY", self.cseq, f"SIP/2.0 {status}\r\n", extra=headers, content_type="message/sipfrag;version=2.0"
        )
        response = await self._transaction(request, "NOTIFY", 8.0)
        return response.status if response is not None else 0

    async def bye(self) -> None:
        if not self.bot_hung_up.is_set():
            self.cseq += 1
            await self._transaction(self._request("BYE", self.cseq), "BYE", 8.0)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


# ---- one caller, one round -----------------------------------------------------------------------------------


@dataclass
class CallResult:
    number: str
    status: int = 0
    greeting_heard: bool = False
    answered_at: float | None = None  # the 200 OK (epoch s)
    speech_end_at: float | None = None
    reply_at: float | None = None  # first loud frame after the speech (epoch s, kernel time)
    hangup_at: float | None = None
    audio_sent: int = 0  # 20 ms audio packets this caller sent the bot, speech and silence
    gaps_ms: list[float] = field(default_factory=list)
    worst_gap_at: float = 0.0  # seconds from the first packet received to the end of the longest gap
    speech_end_from_first: float | None = None  # the same clock: when the caller's speech ended
    transcribed_at: float | None = None  # the caller turn's end time in the store
    words: str = ""

    @property
    def heard_s(self) -> float | None:
        if self.reply_at is None or self.speech_end_at is None:
            return None
        return self.reply_at - self.speech_end_at

    @property
    def written_s(self) -> float | None:
        if self.transcribed_at is None or self.speech_end_at is None:
            return None
        return self.transcribed_at - self.speech_end_at


@dataclass(frozen=True)
class RoundPlan:
    bot: tuple[str, int]
    greeting_frames: int
    give_up_s: float
    listen_s: float
    spread_s: float  # the callers speak this many seconds apart in all, after the greeting (0: at once)


async def wait_until(predicate: Any, timeout_s: float, poll_s: float = 0.05) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(poll_s)
    return bool(predicate())


def greeting_watch(media: Media, greeting_frames: int, hung_up: Callable[[], bool]) -> Callable[[], bool]:
    """A predicate: the greeting has been heard (its first loud frame, its length as the bot renders it with the
    noise off, then 0.3 s of quiet), or `hung_up()`."""
    checked = 0  # received frames already looked at
    greeting_start: int | None = None

    def over() -> bool:
        nonlocal checked, greeting_start
        if hung_up():
            return True
        count = len(media.payloads)
        if greeting_start is None:
            for index in range(checked, count):
                if frame_db(media.payloads[index]) > LOUD_DB:
                    greeting_start = index
                    break
            checked = count
            return False
        if count < greeting_start + greeting_frames + 15:
            return False
        return all(frame_db(p) <= LOUD_DB for p in media.payloads[count - 15 : count])

    return over


def loud_watch(media: Media, after: float, from_index: int = 0) -> Callable[[], float | None]:
    """A probe: the arrival time of the first loud frame received after `after` (epoch s), None while none."""
    checked = max(0, from_index)

    def probe() -> float | None:
        nonlocal checked
        count = len(media.payloads)
        for index in range(checked, count):
            if media.arrivals[index] > after and frame_db(media.payloads[index]) > LOUD_DB:
                return media.arrivals[index]
        checked = count
        return None

    return probe


async def one_call(
    plan: RoundPlan, pump: MediaThread, number: str, clip: Clip, delay_s: float, speak_after_s: float = 0.0
) -> CallResult:
    await asyncio.sleep(delay_s)
    result = CallResult(number)
    media = Media.open()
    loop = asyncio.get_running_loop()
    _, leg = await loop.create_datagram_endpoint(
        lambda: SipLeg(plan.bot, number, media.port), local_addr=("127.0.0.1", 0)
    )
    try:
        pump.add(media)
        result.status = await leg.invite()
        remote = leg.media_address()
        if result.status != 200 or remote is None:
            return result
        result.answered_at = time.time()
        media.remote = remote
        if not await wait_until(
            greeting_watch(media, plan.greeting_frames, leg.bot_hung_up.is_set), plan.give_up_s + 30
        ):
            return result
        if leg.bot_hung_up.is_set():
            return result
        result.greeting_heard = True
        await asyncio.sleep(speak_after_s)
        with pump.lock:
            media.say(clip)
        await wait_until(lambda: media.speech_end_at is not None, 30)
        spoken = media.speech_end_at
        if spoken is None:
            return result
        result.speech_end_at = spoken
        reply = loud_watch(media, spoken, len(media.arrivals) - 60)  # the packets of the last 1.2 s or more

        def reply_started() -> bool:
            result.reply_at = reply()
            return result.reply_at is not None or leg.bot_hung_up.is_set()

        await wait_until(reply_started, plan.give_up_s)
        if result.reply_at is not None:
            await wait_until(leg.bot_hung_up.is_set, plan.listen_s)
    finally:
        result.hangup_at = time.time()
        await leg.bye()
        pump.remove(media)
        leg.close()
        result.audio_sent = media.audio_sent
        arrivals = np.array([t for t in media.arrivals if t <= result.hangup_at])
        if len(arrivals) > 1:
            gaps = np.diff(arrivals)
            result.gaps_ms = list(gaps * 1000.0)
            result.worst_gap_at = float(arrivals[int(np.argmax(gaps)) + 1] - arrivals[0])
            if result.speech_end_at is not None:
                result.speech_end_from_first = result.speech_end_at - float(arrivals[0])
    return result


# ---- CPU -----------------------------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _descendants(root: int) -> Iterator[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None:
                parents.setdefault(stat[0], []).append(int(entry.name))
    stack = [root]
    while stack:
        pid = stack.pop()
        yield pid
        stack.extend(parents.get(pid, []))


def _machine_busy() -> float:
    """CPU seconds (all cores) the machine spent not idle since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICK


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS in /proc/PID/status), NaN if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def load_average() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


@dataclass(frozen=True)
class CpuSample:
    at: float
    callbot: float
    dialogue: float
    own: float
    machine: float
    callbot_rss_mb: float


def cpu_sample(callbot_pid: int) -> CpuSample:
    callbot_tree = set(_descendants(callbot_pid))
    own_tree = set(_descendants(os.getpid()))

    def total(pids: set[int]) -> float:
        return sum(stat[1] for stat in map(_proc_stat, pids) if stat is not None)

    times = os.times()
    own = times.user + times.system
    return CpuSample(
        time.monotonic(),
        total(callbot_tree),
        total(own_tree - callbot_tree - {os.getpid()}),
        own,
        _machine_busy(),
        rss_mb(callbot_pid),
    )


# ---- the servers ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialogue:
    runner: _SupervisorThread
    url: str
    token: str
    database_url: str
    key: bytes


def start_dialogue(workdir: Path, eager: bool) -> Dialogue:
    """The dialogue servers (Rasa + action server), supervised from a thread: benchmarks/turn_latency.py's."""
    from benchmarks.turn_latency import start_dialogue as start_supervised

    runner, url, database_url, key, token = start_supervised(workdir, eager)
    return Dialogue(cast(_SupervisorThread, runner), url, token, database_url, key)


def start_callbot(
    workdir: Path, dialogue: Dialogue, max_calls: int, extra_env: dict[str, str] | None = None
) -> CallbotProcess:
    """The real `python -m callbot run` (demo models) on the dialogue, taking up to `max_calls` calls."""
    (workdir / "pseudonym.key").write_text(dialogue.key.hex())
    callbot = CallbotProcess(
        workdir,
        env_overrides={
            "CALLBOT_DATABASE_URL": dialogue.database_url,
            "CALLBOT_DIALOGUE_MODE": "external",
            "CALLBOT_DIALOGUE_URL": dialogue.url,
            "CALLBOT_DIALOGUE_TOKEN": dialogue.token,
            "CALLBOT_DIALOGUE_TIMEOUT_S": "30",
            "CALLBOT_VAD_NO_INPUT_TIMEOUT_S": "30",
            "CALLBOT_SIP_MAX_CALLS": str(max_calls),  # the bot must not refuse what is measured
            # Piper without its random noise: the greeting lasts exactly as long as its rendering here (the
            # callers wait for its end); synthesis costs the same.
            "CALLBOT_TTS_NOISE_SCALE": "0",
            "CALLBOT_TTS_NOISE_W_SCALE": "0",
            **(extra_env or {}),
        },
    )
    callbot.start()
    return callbot


async def greeting_frames() -> int:
    greeting = await render(load_settings(environ={}).prompts.greeting)
    return math.ceil(len(greeting) / FRAME_SAMPLES)


def metrics_values(callbot: CallbotProcess) -> dict[str, float]:
    """Every sample on /metrics, by name with its labels ({} if it does not answer)."""
    try:
        text = callbot.metrics()
    except OSError:
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                values[name.strip()] = float(value)
            except ValueError:
                continue
    return values


async def wait_calls_over(callbot: CallbotProcess, timeout_s: float = 60.0) -> None:
    """Until /metrics shows no call in progress (the previous calls' sessions have ended)."""
    for _ in range(int(timeout_s / 0.5)):
        if metrics_values(callbot).get("callbot_calls_active", 0.0) == 0:
            return
        await asyncio.sleep(0.5)


# ---- the rounds ------------------------------------------------------------------------------------------------


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def fill_from_store(callbot: CallbotProcess, key: bytes, results: list[CallResult]) -> None:
    """The caller turn of each call, from the API: its text and its end time (when the recogniser finished)."""
    wanted = {pseudonymise(key, r.number): r for r in results if r.status == 200}
    page: Any = callbot.api(f"/api/calls?limit={min(500, 2 * len(results) + 10)}")
    for item in page["items"]:
        result = wanted.get(item.get("caller_pseudonym"))
        if result is None:
            continue
        call: Any = callbot.api(f"/api/calls/{item['call_id']}")
        turns = [t for t in call["turns"] if t["speaker"] == "caller" and t["text"] and t["ended_at"]]
        if turns and result.speech_end_at is not None:
            after = [t for t in turns if _epoch(t["ended_at"]) >= result.speech_end_at - 10]
            if after:
                result.transcribed_at = _epoch(after[0]["ended_at"])
                result.words = after[0]["text"]


def _ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


# Caller-audio counters of the server, printed when /metrics shows them (callbot/metrics.py; added at each call's
# end); every callbot_rtp_* sample is printed as well.
FRAME_COUNTERS = {
    "callbot_caller_frames_total": "read by the listeners",
    "callbot_recognised_frames_total": "of which to a recogniser",
    "callbot_caller_frames_dropped_total": "dropped before the listener read them",
    "callbot_barge_ins_total": "barge-ins",
}


def frame_figures(before: dict[str, float], after: dict[str, float], sent: int) -> str:
    """The server's caller-audio counters over a round, against the `sent` frames the callers sent."""
    names = [n for n in FRAME_COUNTERS if n in after]
    names += sorted(n for n in after if n.startswith("callbot_rtp_"))
    if not names:
        return "the server's caller-audio counters are not on /metrics (lost frames cannot be counted there)"
    parts = []
    for name in names:
        delta = after[name] - before.get(name, 0.0)
        parts.append(
            f"{name.removeprefix('callbot_')} +{delta:.0f}"
            + (f" ({FRAME_COUNTERS[name]})" if name in FRAME_COUNTERS else "")
        )
    read = after.get("callbot_caller_frames_total")
    if read is not None:
        read_delta = read - before.get("callbot_caller_frames_total", 0.0)
        parts.append(
            f"sent - read = {sent - read_delta:+.0f} (frames the bot had not started or had stopped reading, less "
            "the silence its clock inserted)"
        )
    return "; ".join(parts)


@dataclass(frozen=True)
class RoundFigures:
    calls: int
    holds: bool
    gap_p99_ms: float
    heard_p50_s: float
    heard_p95_s: float
    idle_rss_mb: float
    peak_rss_mb: float
    settled_rss_mb: float
    cpu_s_per_call_minute: float
    load: tuple[float, float, float]


@dataclass(frozen=True)
class Targets:
    reply_bound_s: float  # every caller transcribed and answered within this
    turn_p95_s: float  # speech end -> reply sound, p95 over the round's callers


async def run_round(
    calls: int,
    round_index: int,
    plan: RoundPlan,
    callbot: CallbotProcess,
    key: bytes,
    clips: list[Clip],
    targets: Targets,
    stagger_s: float,
    rest_s: float = 1.0,
) -> RoundFigures:
    # A previous round's calls must have ended before this one is measured.
    await wait_calls_over(callbot)
    await asyncio.sleep(rest_s)
    load = os.getloadavg()
    counters_before = metrics_values(callbot)
    log_offset = callbot.log_path.stat().st_size
    pump = MediaThread()
    pump.start()
    callbot_pid = callbot.process.pid if callbot.process else 0
    before = cpu_sample(callbot_pid)
    samples = [before]

    async def sample_every_second() -> None:
        while True:
            await asyncio.sleep(1.0)
            samples.append(await asyncio.to_thread(cpu_sample, callbot_pid))

    sampler = asyncio.create_task(sample_every_second())
    numbers = [f"+3349199{round_index:02d}{i:03d}" for i in range(calls)]
    results = await asyncio.gather(
        *(
            one_call(plan, pump, numbers[i], clips[i % len(clips)], i * stagger_s, i * plan.spread_s / calls)
            for i in range(calls)
        )
    )
    sampler.cancel()
    after = cpu_sample(callbot_pid)
    samples.append(after)
    peak_callbot = max(
        (100 * (b.callbot - a.callbot) / (b.at - a.at) for a, b in itertools.pairwise(samples) if b.at - a.at > 0.5),
        default=float("nan"),
    )
    peak_machine = max(
        (100 * (b.machine - a.machine) / (b.at - a.at) for a, b in itertools.pairwise(samples) if b.at - a.at > 0.5),
        default=float("nan"),
    )
    peak_rss = max(sample.callbot_rss_mb for sample in samples)
    pump.running = False
    pump.join()
    await wait_calls_over(callbot)
    await asyncio.sleep(1.0)  # the store writer's queue
    await asyncio.to_thread(fill_from_store, callbot, key, results)
    counters_after = metrics_values(callbot)
    settled_rss = rss_mb(callbot_pid)
    load_after = os.getloadavg()
    with callbot.log_path.open("rb") as log_file:
        log_file.seek(log_offset)
        log_text = log_file.read().decode(errors="replace")

    wall = after.at - before.at
    callbot_cpu = 100 * (after.callbot - before.callbot) / wall
    dialogue_cpu = 100 * (after.dialogue - before.dialogue) / wall
    own_cpu = 100 * (after.own - before.own) / wall
    machine_cpu = 100 * (after.machine - before.machine) / wall
    others_cpu = max(0.0, machine_cpu - callbot_cpu - dialogue_cpu - own_cpu)
    answered = [r for r in results if r.status == 200]
    call_minutes = sum((r.hangup_at or 0.0) - (r.answered_at or 0.0) for r in answered if r.answered_at) / 60
    per_minute = (after.callbot - before.callbot) / call_minutes if call_minutes else float("nan")
    per_minute_dialogue = (after.dialogue - before.dialogue) / call_minutes if call_minutes else float("nan")
    gaps = [gap for r in results for gap in r.gaps_ms]
    heard = [r.heard_s for r in results if r.heard_s is not None]
    written = [r.written_s for r in results if r.written_s is not None]
    in_time = [
        r
        for r in results
        if r.heard_s is not None
        and r.written_s is not None
        and r.heard_s <= targets.reply_bound_s
        and r.written_s <= targets.reply_bound_s
    ]
    gap_p99 = _ms(gaps, 99)
    heard_p95 = _ms(heard, 95)
    holds = len(in_time) == calls and gap_p99 < CADENCE_TARGET_MS and heard_p95 <= targets.turn_p95_s
    lateness = [1000 * v for v in pump.lateness]
    worst = max((r for r in results if r.gaps_ms), key=lambda r: max(r.gaps_ms), default=None)
    where = (
        f"; the longest at {worst.worst_gap_at:.1f} s into its call"
        + (f" (speech ended at {worst.speech_end_from_first:.1f} s)" if worst.speech_end_from_first else "")
        if worst is not None
        else ""
    )
    statuses = sorted({r.status for r in results if r.status != 200})
    sent = sum(r.audio_sent for r in results)
    overflow = log_text.count("dropping the oldest frames")
    turns_logged = log_text.count("caller turn of ")
    print(
        f"N={calls:2d}  answered {len(answered)}/{calls}"
        + (f" (others got {statuses})" if statuses else "")
        + f"  greeting heard {sum(r.greeting_heard for r in results)}/{calls}"
        f"  ({'load average ' + ' '.join(f'{v:.2f}' for v in load)} before, "
        f"{' '.join(f'{v:.2f}' for v in load_after)} after)\n"
        f"      cadence   gap p50 {_ms(gaps, 50):.1f} ms, p99 {gap_p99:.1f} ms, max {max(gaps, default=0.0):.0f} ms"
        f" over {len(gaps)} gaps{where} (callers' own send lateness p99 {_ms(lateness, 99):.1f} ms)\n"
        f"      turn      speech end -> reply sound: "
        + (
            f"p50 {_ms(heard, 50):.2f} s, p95 {heard_p95:.2f} s, max {max(heard):.2f} s, {len(heard)}/{calls} replied"
            if heard
            else f"0/{calls} replied"
        )
        + "\n      written   speech end -> caller turn in the store: "
        + (
            f"median {statistics.median(written):.2f} s, max {max(written):.2f} s, {len(written)}/{calls} transcribed"
            if written
            else f"0/{calls} transcribed"
        )
        + f"\n      CPU       callbot {callbot_cpu:.0f} %, dialogue {dialogue_cpu:.0f} %, benchmark {own_cpu:.0f} %,"
        f" other processes {others_cpu:.0f} % (of one core; machine {machine_cpu:.0f} % of {os.cpu_count()} cores"
        f" over {wall:.0f} s); busiest second: callbot {peak_callbot:.0f} %, machine {peak_machine:.0f} %\n"
        f"      CPU-s     per call-minute: callbot {per_minute:.2f}, dialogue {per_minute_dialogue:.2f}, both "
        f"{per_minute + per_minute_dialogue:.2f} (over {call_minutes:.2f} call-minutes)\n"
        f"      memory    callbot RSS {before.callbot_rss_mb:.0f} MB before, peak {peak_rss:.0f} MB "
        f"(+{peak_rss - before.callbot_rss_mb:.0f} MB, {(peak_rss - before.callbot_rss_mb) / calls:.1f} MB per call),"
        f" {settled_rss:.0f} MB once the calls ended\n"
        f"      frames    callers sent {sent} audio frames; {frame_figures(counters_before, counters_after, sent)};"
        f" log: {overflow} inbound-overflow warnings, {turns_logged} caller turns\n"
        f"      per call  "
        + "; ".join(f"{r.number[-3:]}: heard {_s(r.heard_s)} s written {_s(r.written_s)} s" for r in results[:6])
        + (" ..." if len(results) > 6 else "")
        + f"\n      {'HOLDS' if holds else 'does not hold'}: cadence p99 {gap_p99:.1f} ms "
        f"{'<' if gap_p99 < CADENCE_TARGET_MS else '>='} {CADENCE_TARGET_MS:.0f} ms, "
        f"{len(in_time)}/{calls} callers transcribed and answered within {targets.reply_bound_s:g} s, "
        f"turn p95 {heard_p95:.2f} s {'<=' if heard_p95 <= targets.turn_p95_s else '>'} {targets.turn_p95_s:g} s",
        flush=True,
    )
    return RoundFigures(
        calls,
        holds,
        gap_p99,
        _ms(heard, 50),
        heard_p95,
        before.callbot_rss_mb,
        peak_rss,
        settled_rss,
        per_minute,
        load,
    )


def summary(
    figures: list[RoundFigures], default_calls: int, idle_rss: float, settled: list[tuple[float, float]]
) -> None:
    cores = os.cpu_count() or 1
    measured = sorted({f.calls for f in figures})
    holding = [n for n in measured if all(f.holds for f in figures if f.calls == n)]
    # The highest N such that it and every smaller N held in every round: one lucky N after a failure does not count.
    best = 0
    for n in measured:
        if n not in holding:
            break
        best = n
    print(
        f"held at N = {holding or 'none'} (measured {measured}); highest N with every smaller measured N holding: "
        f"{best} on {cores} cores = {best / cores:.2f} calls per core; sip.calls_per_core = {max(1, best // cores)}"
    )
    at_default = [f for f in figures if f.calls == default_calls]
    for f in at_default:
        print(
            f"at the default capacity ({default_calls} calls: sip.max_calls auto, {cores} cores x calls_per_core): "
            f"turn p50 {f.heard_p50_s:.2f} s, p95 {f.heard_p95_s:.2f} s, cadence p99 {f.gap_p99_ms:.1f} ms "
            f"({'load average ' + ' '.join(f'{v:.2f}' for v in f.load)})"
        )
    many = [f for f in figures if f.calls > 1]
    if many:
        counts = np.array([f.calls for f in many], dtype=float)
        extra = np.array([f.peak_rss_mb - f.idle_rss_mb for f in many])
        slope = float(np.polyfit(counts, extra, 1)[0]) if len(set(counts)) > 1 else float(extra[0] / counts[0])
        print(
            "memory per extra call (callbot peak RSS over its idle level, fitted over N): "
            f"{slope:.1f} MB; per round: "
            + ", ".join(f"N={f.calls}: {(f.peak_rss_mb - f.idle_rss_mb) / f.calls:.1f}" for f in many)
        )
    print(
        f"callbot RSS idle after the warm-up call {idle_rss:.0f} MB; after the last round: "
        + ", ".join(f"{rss:.0f} MB at {at:g} s ({rss - idle_rss:+.0f} MB)" for at, rss in settled)
        + f"; {load_average()}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-calls", type=int, default=16, help="largest N of the sweep 1, 2, 3, ... (or search)")
    parser.add_argument("--calls", type=int, nargs="+", help="these N only, instead of the sweep")
    parser.add_argument(
        "--search", action="store_true", help="N = 1, 2, 4, 8 ... up to --max-calls, then bisect the first failure"
    )
    parser.add_argument(
        "--also", type=int, nargs="*", default=[20], help="N to measure once after the sweep (the default capacity too)"
    )
    parser.add_argument("--reply-bound", type=float, default=5.0, help="seconds from speech end, to hold")
    parser.add_argument("--turn-p95", type=float, default=1.2, help="turn p95 (s) a round must not exceed to hold")
    parser.add_argument("--give-up", type=float, default=25.0, help="seconds a caller waits for a reply")
    parser.add_argument("--listen", type=float, default=3.0, help="seconds of the reply heard before BYE")
    parser.add_argument(
        "--spread", type=float, default=0.0, help="the callers' speech spread over this many seconds (0: all at once)"
    )
    parser.add_argument("--stagger", type=float, default=0.25, help="seconds between the calls' INVITEs")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per N of the sweep; N holds if all hold")
    parser.add_argument(
        "--rest",
        type=float,
        default=1.0,
        help="seconds between rounds; over 60 the surplus recognisers are freed first, so each round's memory "
        "per call is counted from the idle level",
    )
    parser.add_argument("--keep-going", action="store_true", help="do not stop the sweep at the first failure")
    parser.add_argument(
        "--settle",
        type=float,
        nargs="+",
        default=[10.0, 70.0, 130.0],
        help="seconds after the last round at which the callbot's RSS is read (idle recognisers linger 60 s)",
    )
    parser.add_argument(
        "--noise-tail", action="store_true", help="keep the clips' room noise after the words (see without_noise_tail)"
    )
    parser.add_argument("--eager", action="store_true", help="TensorFlow eager mode for Rasa (slower per message)")
    parser.add_argument("--asr-max-active", type=int, help="the server's asr.max_active (default: the model's own)")
    parser.add_argument("--asr-beam", type=float, help="the server's asr.beam (default: the model's own)")
    args = parser.parse_args()

    print(f"{os.cpu_count()} cores, {load_average()} before start")
    if os.getloadavg()[0] > 0.5:
        print("  warning: the machine is not quiet; figures below are not capacity figures", flush=True)
    default_calls = load_settings(environ={}).sip.call_limit()
    workdir = Path(tempfile.mkdtemp(prefix="capacity-"))
    clips = [load_clip(name, args.noise_tail) for name in CLIPS]
    frames = await greeting_frames()
    started = time.monotonic()
    dialogue = start_dialogue(workdir, args.eager)
    key = dialogue.key
    print(f"dialogue ready in {time.monotonic() - started:.1f} s (eager={args.eager})", flush=True)
    sweep = args.calls or list(range(1, args.max_calls + 1))
    also = [*args.also, default_calls]
    search = {"CALLBOT_ASR_MAX_ACTIVE": args.asr_max_active, "CALLBOT_ASR_BEAM": args.asr_beam}
    callbot = start_callbot(
        workdir,
        dialogue,
        max([*sweep, *also, args.max_calls, 1]),
        {name: str(value) for name, value in search.items() if value is not None},
    )
    if args.asr_max_active or args.asr_beam:
        print(f"decoder search: max-active {args.asr_max_active or 'own'}, beam {args.asr_beam or 'own'}")
    print(
        f"callbot ready (log: {callbot.log_path}); greeting {frames * FRAME_S:.1f} s; default capacity "
        f"{default_calls} calls",
        flush=True,
    )
    plan = RoundPlan(("127.0.0.1", callbot.sip_port), frames, args.give_up, args.listen, args.spread)
    targets = Targets(args.reply_bound, args.turn_p95)
    callbot_pid = callbot.process.pid if callbot.process else 0
    figures: list[RoundFigures] = []
    round_index = 0

    async def measure(calls: int, times: int) -> bool:
        nonlocal round_index
        held = True
        for _ in range(times):
            round_index += 1
            figure = await run_round(calls, round_index, plan, callbot, key, clips, targets, args.stagger, args.rest)
            figures.append(figure)
            held = held and figure.holds
        return held

    try:
        # One call nobody measures: the first message to Rasa, the first synthesis and recognition are slow.
        pump = MediaThread()
        pump.start()
        warm = await one_call(plan, pump, "+33491990000", clips[0], 0.0)
        pump.running = False
        pump.join()
        await wait_calls_over(callbot)
        await asyncio.sleep(3.0)
        idle_rss = rss_mb(callbot_pid)
        print(
            f"warm-up call: heard the reply {_s(warm.heard_s)} s after the speech; callbot RSS idle {idle_rss:.0f} MB",
            flush=True,
        )
        if args.search and not args.calls:
            held_n, failed_n = 0, None
            n = 1
            while n <= args.max_calls:
                if await measure(n, args.repeat):
                    held_n = n
                    n = n * 2 if n * 2 <= args.max_calls or n == args.max_calls else args.max_calls
                    if held_n == args.max_calls:
                        break
                else:
                    failed_n = n
                    break
            while failed_n is not None and failed_n - held_n > 1:
                middle = (held_n + failed_n) // 2
                if await measure(middle, args.repeat):
                    held_n = middle
                else:
                    failed_n = middle
        else:
            for calls in sweep:
                if not await measure(calls, args.repeat) and not args.keep_going:
                    break
        for calls in also:
            if any(f.calls == calls for f in figures):
                continue
            print(f"once more with {calls} calls:", flush=True)
            await measure(calls, 1)
        await wait_calls_over(callbot)
        settled: list[tuple[float, float]] = []
        ended = time.monotonic()
        for checkpoint in sorted(args.settle):
            await asyncio.sleep(max(0.0, ended + checkpoint - time.monotonic()))
            settled.append((checkpoint, rss_mb(callbot_pid)))
    finally:
        callbot.stop()
        dialogue.runner.stop()
    summary(figures, default_calls, idle_rss, settled)


if __name__ == "__main__":
    asyncio.run(main())
