"""RTP on the loopback wire, as a packet capture sees it: when each G.711 packet crossed, and how loud it was.

    with LoopbackRtp() as wire:
        ... place calls between local peers ...
    turns = wire_turns(wire.packets, since, until)

Reads every packet on `lo` with an AF_PACKET socket (root, Linux) and the kernel's receive time of each
(SO_TIMESTAMPNS), so the figures exclude both peers' jitter and playout buffers: they are the line's, as the issue's
own measurements were taken ("traffic captured on the wire").
"""

from __future__ import annotations

import math
import socket
import struct
import threading
from dataclasses import dataclass
from types import TracebackType

import numpy as np

from callbot.rtp.g711 import alaw_decode, ulaw_decode

ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35
TIMESPEC = struct.Struct("@qq")
ETHERNET_HEADER = 14
LOUD_DB = 30.0  # a 20 ms packet louder than this (dB re 1 LSB, RMS) carries the bot's voice
SPEECH_BELOW_PEAK_DB = 30.0  # the caller's speech: packets within this of the flow's loudest


@dataclass(frozen=True)
class RtpPacket:
    at: float  # kernel receive time on lo, epoch seconds
    source_port: int
    destination_port: int
    level_db: float  # RMS of the decoded 20 ms, dB re 1 LSB


def packet_level(payload_type: int, payload: bytes) -> float:
    decoded = ulaw_decode(payload) if payload_type == 0 else alaw_decode(payload)
    pcm = np.frombuffer(decoded, dtype="<i2").astype(np.float64)
    return float(10 * math.log10(float(np.mean(pcm**2)) + 1.0)) if len(pcm) else 0.0


def parse_rtp(frame: bytes, at: float) -> RtpPacket | None:
    """A G.711 RTP packet in an Ethernet frame from lo, or None for anything else."""
    ip = frame[ETHERNET_HEADER:]
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:  # IPv4, UDP
        return None
    udp = ip[(ip[0] & 0x0F) * 4 :]
    if len(udp) < 8 + 12:
        return None
    source_port, destination_port = struct.unpack("!HH", udp[:4])
    rtp = udp[8:]
    payload_type = rtp[1] & 0x7F
    if rtp[0] >> 6 != 2 or payload_type not in (0, 8):
        return None
    header = 12 + 4 * (rtp[0] & 0x0F)
    return RtpPacket(at, source_port, destination_port, packet_level(payload_type, rtp[header:]))


class LoopbackRtp:
    """Captures G.711 RTP on lo in a thread while in use; `packets` in arrival order."""

    def __init__(self) -> None:
        self.packets: list[RtpPacket] = []
        self._socket = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._socket.bind(("lo", 0))
        self._socket.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._socket.settimeout(0.2)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wire-capture", daemon=True)

    def __enter__(self) -> LoopbackRtp:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stopping.set()
        self._thread.join()
        self._socket.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                frame, ancillary, _, address = self._socket.recvmsg(65535, socket.CMSG_SPACE(TIMESPEC.size))
            except TimeoutError:
                continue
            if address[2] == socket.PACKET_OUTGOING:
                continue  # lo shows each packet twice: going out and coming in
            at = next(
                (
                    seconds + nanoseconds / 1e9
                    for level, kind, data in ancillary
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS
                    for seconds, nanoseconds in [TIMESPEC.unpack(data[: TIMESPEC.size])]
                ),
                None,
            )
            packet = parse_rtp(frame, at) if at is not None else None
            if packet is not None:
                self.packets.append(packet)


@dataclass(frozen=True)
class WireTurn:
    speech_end: float  # the caller's last packet of speech
    reply: float | None  # the bot's first loud packet after the caller began, None: no reply
    bot_inside: bool  # that packet came before the caller's speech ended: a cut-in

    @property
    def latency_s(self) -> float | None:
        return None if self.reply is None or self.bot_inside else self.reply - self.speech_end


def wire_turn(packets: list[RtpPacket], since: float, until: float) -> WireTurn | None:
    """The caller's one answer and the bot's reply in a call made of two flows between `since` and `until` (one call
    at a time): the bot's flow is the one loud first (its greeting), the caller's is the other way."""
    window = [p for p in packets if since <= p.at <= until]
    flows: dict[tuple[int, int], list[RtpPacket]] = {}
    for packet in window:
        flows.setdefault((packet.source_port, packet.destination_port), []).append(packet)
    first_loud = {key: next((p.at for p in flow if p.level_db > LOUD_DB), math.inf) for key, flow in flows.items()}
    if len(flows) != 2 or min(first_loud.values()) == math.inf:
        return None
    bot_key = min(first_loud, key=lambda key: first_loud[key])
    caller = flows.get((bot_key[1], bot_key[0]), [])
    if not caller:
        return None
    peak = max(p.level_db for p in caller)
    speech = [p for p in caller if p.level_db > max(LOUD_DB, peak - SPEECH_BELOW_PEAK_DB)]
    if not speech:
        return None
    start, end = speech[0].at, speech[-1].at
    reply = next((p.at for p in flows[bot_key] if p.at > start and p.level_db > LOUD_DB), None)
    return WireTurn(end, reply, reply is not None and reply < end)
