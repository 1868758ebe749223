"""One RTP media stream of a SIP call: receive, de-jitter and decode; encode and send at a steady pace."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import socket
from dataclasses import dataclass
from typing import Any, cast

from audio import FRAME_MS, frame_bytes
from callbot.audio import AudioPort
from callbot.rtp.codec import RtpCodec
from callbot.rtp.dtmf import DtmfDetector
from callbot.rtp.jitter import JitterBuffer, JitterStats
from callbot.rtp.packet import RtpPacket, RtpParseError, build_rtp, parse_rtp
from callbot.rtp.playback import PlaybackQueue
from callbot.rtp.ports import bind_even_port

logger = logging.getLogger(__name__)

COMFORT_NOISE_PAYLOAD_TYPE = 13  # RFC 3389: treated as silence
FRAME_SECONDS = FRAME_MS / 1000
# Packets needed from an address other than the SDP one before we latch onto it (comedia): a single stray
# datagram must not capture the media stream.
LATCH_PACKETS = 2
# Behind this much, a clock (reader or sender) skips ahead instead of bursting to catch up.
MAX_CLOCK_LAG_S = 0.2
MAX_PAYLOAD_BYTES = 1600  # 200 ms of G.711; anything longer is not a sane packet


@dataclass
class RtpStats:
    received: int = 0  # valid packets accepted from the caller
    invalid: int = 0  # datagrams that are not valid RTP (or unusable payloads)
    strangers: int = 0  # valid RTP from an address that is not the caller's
    unknown_payload_type: int = 0
    dtmf_packets: int = 0
    sent: int = 0
    send_errors: int = 0
    errors: int = 0  # unexpected exceptions while handling a datagram (logged, never raised)


Address = tuple[str, int]


def _address(addr: Any) -> Address:
    return (str(addr[0]), int(addr[1]))


def _sdp_address(remote: tuple[str, int]) -> Address:
    """The SDP's (IP, port), checked: sending to a host name would resolve it for every packet."""
    host, port = str(remote[0]), int(remote[1])
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"RTP remote {host!r} is not an IP address") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"RTP remote port {port} is out of range")
    return (str(ip), port)


def _can_send_to(remote: Address) -> bool:
    # port 0: the stream is refused; 0.0.0.0 / ::: hold, send nothing (RFC 3264 §8.4)
    return remote[1] != 0 and not ipaddress.ip_address(remote[0]).is_unspecified


class RtpSession(asyncio.DatagramProtocol, AudioPort):
    """An AudioPort over RTP with G.711 (8 kHz).

    Create it with `await RtpSession.bind(...)`, give its local address to the SDP answer, then `start()` once
    the remote SDP is known.
    """

    sample_rate: int = 8000

    def __init__(
        self,
        sock: socket.socket,
        rtp_timeout: float = 30.0,
        send_silence: bool = True,
        jitter_prefetch: int = 3,
        jitter_max_depth: int = 5,
    ) -> None:
        host, port = sock.getsockname()[:2]
        self.local_host: str = host
        self.local_port: int = port
        self.rtp_timeout = rtp_timeout
        self.send_silence = send_silence
        self.dtmf: asyncio.Queue[str] = asyncio.Queue()
        self.media_timeout = asyncio.Event()
        self.stats = RtpStats()
        self._sock = sock
        self._transport: asyncio.DatagramTransport | None = None
        self._frame_bytes = frame_bytes(self.sample_rate)
        self._samples_per_frame = self._frame_bytes // 2
        self._silent_frame = bytes(self._frame_bytes)
        self._silent_payload = b""  # the codec's silence for one frame, set with the codec
        self._jitter = JitterBuffer(
            prefetch=jitter_prefetch, max_depth=jitter_max_depth, default_packet_bytes=self._frame_bytes
        )
        self._dtmf_detector = DtmfDetector()
        self._playback = PlaybackQueue(self._frame_bytes)
        self._playout_carry = b""
        self._codec: RtpCodec | None = None
        self._dtmf_payload_type: int | None = None
        self._sdp_remote: Address | None = None
        self._sdp_sendable = False
        self._latched: Address | None = None
        self._latch_candidate: tuple[Address, int] | None = None
        self._latch_candidate_count = 0
        self._left_sources: set[Address] = set()  # addresses the media moved away from (re-INVITE)
        self._started = False
        self._closed = False
        self._sending = True  # our SDP direction lets us send (sendrecv/sendonly): off while the caller holds
        self._expect_media = True  # the caller should be sending (sendrecv): the RTP timeout only counts then
        self._started_or_closed = asyncio.Event()
        self._read_clock_base = 0.0
        self._frames_read = 0
        self._last_received = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        # Outgoing stream identity (RFC 3550: random initial values).
        self._ssrc = secrets.randbits(32)
        self._sequence = secrets.randbits(16)
        self._timestamp_base = secrets.randbits(32)

    @classmethod
    async def bind(
        cls,
        host: str,
        port_min: int = 0,
        port_max: int = 0,
        *,
        rtp_timeout: float = 30.0,
        send_silence: bool = True,
    ) -> RtpSession:
        """A session on an even UDP port of [port_min, port_max] (0/0: any free even port)."""
        sock = bind_even_port(host, port_min, port_max)
        session = cls(sock, rtp_timeout=rtp_timeout, send_silence=send_silence)
        loop = asyncio.get_running_loop()
        try:
            await loop.create_datagram_endpoint(lambda: session, sock=sock)
        except BaseException:
            sock.close()
            raise
        return session

    # ---- control -------------------------------------------------------------------------------------------

    @property
    def remote(self) -> Address | None:
        """Where packets are sent: the latched source address, else the SDP address."""
        return self._latched or self._sdp_remote

    @property
    def latched(self) -> bool:
        return self._latched is not None

    @property
    def jitter_stats(self) -> JitterStats:
        return self._jitter.stats

    def start(self, remote: tuple[str, int], codec: RtpCodec, dtmf_payload_type: int | None) -> None:
        """Begin media with the negotiated remote address and codec; called again (re-INVITE), update them."""
        if self._closed:
            raise RuntimeError("RTP session is closed")
        new_remote = _sdp_address(remote)
        if new_remote != self._sdp_remote:
            # The caller moved its media: its packets still in flight from the old address must not latch the
            # stream back there.
            self._left_sources = {a for a in (self._sdp_remote, self._latched) if a is not None and a != new_remote}
            self._latched = None
            self._latch_candidate = None
            self._latch_candidate_count = 0
        self._sdp_remote = new_remote
        self._sdp_sendable = _can_send_to(new_remote)
        self._codec = codec
        self._silent_payload = bytes([codec.silence_byte]) * self._samples_per_frame
        self._dtmf_payload_type = dtmf_payload_type
        if self._started:
            return
        self._started = True
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._read_clock_base = now
        self._last_received = now
        self._tasks = [
            loop.create_task(self._send_loop(), name=f"rtp-send-{self.local_port}"),
            loop.create_task(self._watch_media(), name=f"rtp-watch-{self.local_port}"),
        ]
        self._started_or_closed.set()

    def set_direction(self, direction: str) -> None:
        """Our SDP direction: a held call (recvonly/inactive) gets no RTP from us and no RTP timeout."""
        self._sending = direction in ("sendrecv", "sendonly")
        expect = direction == "sendrecv"  # on hold a caller may send music or nothing at all
        if expect and not self._expect_media:
            self._last_received = asyncio.get_running_loop().time()  # the timeout restarts at the resume
        self._expect_media = expect

    @property
    def sending(self) -> bool:
        return self._sending

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._started_or_closed.set()
        self._playback.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                logger.exception("RTP task failed on port %d", self.local_port)
        if self._transport is not None:
            self._transport.close()
        else:
            self._sock.close()

    # ---- AudioPort: caller audio ---------------------------------------------------------------------------

    async def read_frame(self) -> bytes | None:
        while not self._started_or_closed.is_set():
            await self._started_or_closed.wait()
        if self._closed:
            return None
        loop = asyncio.get_running_loop()
        deadline = self._read_clock_base + self._frames_read * FRAME_SECONDS
        lag = loop.time() - deadline
        if lag < 0:
            await asyncio.sleep(-lag)
            if self._closed:
                return None
        elif lag > MAX_CLOCK_LAG_S:
            # The reader was away (a stall): restart the clock rather than deliver a burst of stale frames.
            self._read_clock_base = loop.time() - self._frames_read * FRAME_SECONDS
        self._frames_read += 1
        return self._playout_frame()

    def _playout_frame(self) -> bytes:
        carry = self._playout_carry
        while len(carry) < self._frame_bytes:
            chunk = self._jitter.pop()
            if chunk is None:
                if not carry:
                    return self._silent_frame  # nothing arrived (DTX, loss): the common case, no allocation
                carry += bytes(self._frame_bytes - len(carry))
                break
            carry += chunk
        self._playout_carry = carry[self._frame_bytes :]
        return carry[: self._frame_bytes]

    # ---- AudioPort: bot audio ------------------------------------------------------------------------------

    def play(self, pcm: bytes) -> None:
        if self._closed:
            return
        self._playback.append(pcm)

    def clear_playback(self) -> None:
        self._playback.clear()

    def playback_pending(self) -> float:
        return self._playback.pending_bytes / (2 * self.sample_rate)

    async def wait_played(self) -> None:
        await self._playback.wait_drained()

    # ---- receiving -----------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A datagram endpoint's transport (not a DatagramTransport subclass on 3.11's selector loop).
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            self._on_datagram(data, _address(addr))
        except Exception:
            # Whatever arrives from the network must never take the event loop down.
            self.stats.errors += 1
            logger.exception("error handling an RTP datagram on port %d", self.local_port)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like, reported on the next send: the peer may not be up yet.
        self.stats.send_errors += 1
        logger.debug("RTP socket error on port %d: %s", self.local_port, exc)

    def _on_datagram(self, data: bytes, source: Address) -> None:
        if not self._started or self._closed or self._codec is None:
            return
        try:
            packet = parse_rtp(data)
        except RtpParseError:
            self.stats.invalid += 1
            return
        codec = self._codec
        known = (codec.payload_type, self._dtmf_payload_type, COMFORT_NOISE_PAYLOAD_TYPE)
        if packet.payload_type not in known:
            self.stats.unknown_payload_type += 1
            return
        if not self._accept_source(source, packet.ssrc):
            return
        self.stats.received += 1
        self._last_received = asyncio.get_running_loop().time()

        if packet.payload_type == codec.payload_type:
            if not 0 < len(packet.payload) <= MAX_PAYLOAD_BYTES:
                self.stats.invalid += 1
                return
            self._jitter.push(packet.ssrc, packet.sequence, codec.decode(packet.payload))
        elif packet.payload_type == self._dtmf_payload_type:
            self._on_dtmf(packet)
        else:
            self._hold_sequence(packet)

    def _on_dtmf(self, packet: RtpPacket) -> None:
        self.stats.dtmf_packets += 1
        digit = self._dtmf_detector.feed(packet.ssrc, packet.timestamp, packet.payload)
        if digit is not None:
            self.dtmf.put_nowait(digit)
        self._hold_sequence(packet)

    def _hold_sequence(self, packet: RtpPacket) -> None:
        # A non-audio packet uses a sequence number of the audio stream: play silence there, not a loss.
        if packet.ssrc == self._jitter.ssrc:
            self._jitter.push(packet.ssrc, packet.sequence, None)

    def _accept_source(self, source: Address, ssrc: int) -> bool:
        """Symmetric RTP: latch onto the caller's real source address, then ignore every other one."""
        if self._latched is not None:
            if source == self._latched:
                return True
            self.stats.strangers += 1
            return False
        if source == self._sdp_remote:
            self._latch(source)
            return True
        if source in self._left_sources:
            self.stats.strangers += 1
            return False
        if self._latch_candidate == (source, ssrc):
            self._latch_candidate_count += 1
        else:
            self._latch_candidate = (source, ssrc)
            self._latch_candidate_count = 1
        if self._latch_candidate_count >= LATCH_PACKETS:
            self._latch(source)
            return True
        return False

    def _latch(self, source: Address) -> None:
        self._latched = source
        if source != self._sdp_remote:
            logger.info("RTP port %d latched onto %s (SDP: %s)", self.local_port, source, self._sdp_remote)

    async def _watch_media(self) -> None:
        loop = asyncio.get_running_loop()
        period = min(1.0, self.rtp_timeout / 4)
        while not self._closed:
            await asyncio.sleep(period)
            if self._expect_media and loop.time() - self._last_received >= self.rtp_timeout:
                logger.info("no RTP on port %d for %.1f s", self.local_port, self.rtp_timeout)
                self.media_timeout.set()
                return

    # ---- sending -------------------------------------------------------------------------------------------

    async def _send_loop(self) -> None:
        """One packet per frame at absolute deadlines t0 + n * 20 ms, so sleep jitter never accumulates."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        tick = 0  # frame slots since start; the RTP timestamp follows it, sent or not
        talking = False
        while not self._closed:
            deadline = start + tick * FRAME_SECONDS
            delay = deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay > MAX_CLOCK_LAG_S:
                # The loop stalled: skip the missed slots (the timestamp jumps, as real time did).
                tick += int(-delay / FRAME_SECONDS)
            frame = self._playback.pop_frame()
            timestamp = (self._timestamp_base + tick * self._samples_per_frame) & 0xFFFFFFFF
            tick += 1
            if frame is None:
                talking = False
                if self.send_silence:
                    self._send_frame(None, timestamp, marker=False)
                continue
            self._send_frame(frame, timestamp, marker=not talking)
            talking = True

    def _send_target(self) -> Address | None:
        if self._latched is not None:
            return self._latched  # a datagram's source: always an IP address
        return self._sdp_remote if self._sdp_sendable else None

    def _send_frame(self, pcm: bytes | None, timestamp: int, marker: bool) -> None:
        codec, remote, transport = self._codec, self._send_target(), self._transport
        if not self._sending or codec is None or remote is None or transport is None or transport.is_closing():
            return
        if pcm is None:
            payload = self._silent_payload
        else:
            payload = codec.encode(pcm)
        packet = RtpPacket(
            payload_type=codec.payload_type,
            sequence=self._sequence,
            timestamp=timestamp,
            ssrc=self._ssrc,
            payload=payload,
            marker=marker,
        )
        self._sequence = (self._sequence + 1) & 0xFFFF
        try:
            transport.sendto(build_rtp(packet), remote)
        except OSError as exc:
            self.stats.send_errors += 1
            logger.debug("RTP send to %s failed: %s", remote, exc)
            return
        self.stats.sent += 1
