"""One RTP media stream of a SIP call: receive, de-jitter and decode; encode and send on the media clock."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import Any, cast

from audio import FRAME_MS, frame_bytes
from callbot.audio import AudioPort
from callbot.rtp.clock import MediaClock, default_clock
from callbot.rtp.codec import RtpCodec
from callbot.rtp.dtmf import DtmfDetector
from callbot.rtp.inbound import InboundAudio
from callbot.rtp.jitter import JitterBuffer, JitterStats
from callbot.rtp.outbound import OutboundStream
from callbot.rtp.packet import RtpPacket, RtpParseError, parse_rtp
from callbot.rtp.playback import PlaybackQueue
from callbot.rtp.ports import bind_even_port
from callbot.rtp.srtp import SrtpError, SrtpKey, SrtpReplayError, SrtpSession
from callbot.rtp.stats import RtpStats

logger = logging.getLogger(__name__)

COMFORT_NOISE_PAYLOAD_TYPE = 13  # RFC 3389: treated as silence
# Packets needed from an address other than the SDP one before we latch onto it (comedia): a single stray
# datagram must not capture the media stream.
LATCH_PACKETS = 2
MAX_PAYLOAD_BYTES = 1600  # 200 ms of G.711; anything longer is not a sane packet
# Caller audio kept for a reader that is late: beyond this, the oldest frames go (and one warning is logged).
INBOUND_MAX_SECONDS = 10.0
# Ticks without caller audio, beyond the jitter buffer's own wait, before silence is inserted.
SILENCE_FILL_MARGIN = 2

__all__ = ["RtpSession", "RtpStats"]

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
    the remote SDP is known. From then on the media clock ticks it every 20 ms: caller audio goes to a FIFO
    that `read_frame()` takes from (never dropped because the reader is late), and one packet of bot audio (or
    keep-alive silence) is sent; `close()` takes it off the clock.
    """

    sample_rate: int = 8000

    def __init__(
        self,
        sock: socket.socket,
        rtp_timeout: float = 30.0,
        send_silence: bool = True,
        jitter_prefetch: int = 3,
        jitter_max_depth: int = 500,
        clock: MediaClock | None = None,
    ) -> None:
        host, port = sock.getsockname()[:2]
        self.local_host: str = host
        self.local_port: int = port
        self.rtp_timeout = rtp_timeout
        self.dtmf: asyncio.Queue[str] = asyncio.Queue()
        self.media_timeout = asyncio.Event()
        self.stats = RtpStats()
        self._sock = sock
        self._transport: asyncio.DatagramTransport | None = None
        self._clock = clock
        frame_size = frame_bytes(self.sample_rate)
        self._jitter = JitterBuffer(
            prefetch=jitter_prefetch, max_depth=jitter_max_depth, default_packet_bytes=frame_size
        )
        self._inbound = InboundAudio(
            self._jitter,
            self.stats,
            frame_size,
            fill_after=jitter_prefetch + SILENCE_FILL_MARGIN,
            max_frames=int(INBOUND_MAX_SECONDS * 1000 / FRAME_MS),
            name=f"RTP port {self.local_port}",
        )
        self._outbound = OutboundStream(frame_size // 2, send_silence)
        self._dtmf_detector = DtmfDetector()
        self._playback = PlaybackQueue(frame_size)
        self._codec: RtpCodec | None = None
        self._dtmf_payload_type: int | None = None
        self._sdp_remote: Address | None = None
        self._sdp_sendable = False
        self._latched: Address | None = None
        self._latch_candidate: tuple[Address, int] | None = None
        self._latch_candidate_count = 0
        self._left_sources: set[Address] = set()  # addresses the media moved away from (re-INVITE)
        self._srtp: SrtpSession | None = None
        self._srtp_on = False  # _srtp is kept when switched off: turned on again, its state carries on
        self._started = False
        self._closed = False
        self._sending = True  # our SDP direction lets us send (sendrecv/sendonly): off while the caller holds
        self._expect_media = True  # the caller should be sending (sendrecv): the RTP timeout only counts then
        self._last_received = 0.0
        self._next_media_check = 0.0
        self._tick_errors = 0

    @classmethod
    async def bind(
        cls,
        host: str,
        port_min: int = 0,
        port_max: int = 0,
        *,
        rtp_timeout: float = 30.0,
        send_silence: bool = True,
        clock: MediaClock | None = None,
    ) -> RtpSession:
        """A session on an even UDP port of [port_min, port_max] (0/0: any free even port), ticked by `clock`
        (default: the process's clock for the running loop)."""
        sock = bind_even_port(host, port_min, port_max)
        session = cls(sock, rtp_timeout=rtp_timeout, send_silence=send_silence, clock=clock)
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

    @property
    def send_silence(self) -> bool:
        return self._outbound.send_silence

    @send_silence.setter
    def send_silence(self, value: bool) -> None:
        self._outbound.send_silence = value

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
        self._outbound.set_codec(codec)
        self._dtmf_payload_type = dtmf_payload_type
        if self._started:
            return
        self._started = True
        now = asyncio.get_running_loop().time()
        self._last_received = now
        self._next_media_check = now + self._media_check_period()
        if self._clock is None:
            self._clock = default_clock()
        self._clock.add(self)

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

    def set_srtp(self, suite: str | None, send_key: bytes = b"", receive_key: bytes = b"") -> None:
        """SRTP (RFC 3711) with SDES keys: `suite` protects what we send with `send_key` and unprotects what we
        receive with `receive_key`; None: plain RTP. Called again (re-INVITE), only a changed key starts over."""
        if suite is None:
            self._srtp_on = False
            return
        send, receive = SrtpKey(suite, send_key), SrtpKey(suite, receive_key)
        if self._srtp is None:
            self._srtp = SrtpSession(send, receive)
        else:
            self._srtp.rekey(send, receive)
        self._srtp_on = True

    @property
    def srtp(self) -> bool:
        """Media is protected with SRTP."""
        return self._srtp_on

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._inbound.close()
        self._playback.clear()
        if self._transport is not None:
            self._transport.close()
        else:
            self._sock.close()
        if self._started and self._clock is not None:
            await self._clock.remove(self)

    # ---- AudioPort: caller audio ---------------------------------------------------------------------------

    async def read_frame(self) -> bytes | None:
        """The next 20 ms of the caller's timeline (audio, concealment or inserted silence), in order; waits when
        the reader is ahead (and before start()), None once closed. A late reader gets its backlog quickly."""
        return await self._inbound.read()

    @property
    def frames_dropped(self) -> int:
        return self.stats.inbound_overflow

    @property
    def inbound_backlog(self) -> int:
        """Frames of caller audio waiting for read_frame()."""
        return self._inbound.backlog

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
        if self._srtp_on:
            unprotected = self._unprotect(data, source)
            if unprotected is None:
                return
            data = unprotected
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
            self.stats.audio_packets += 1
            self._jitter.push(packet.ssrc, packet.sequence, codec.decode(packet.payload), packet.timestamp)
        elif packet.payload_type == self._dtmf_payload_type:
            self._on_dtmf(packet)
        else:
            self._hold_sequence(packet)

    def _unprotect(self, data: bytes, source: Address) -> bytes | None:
        """The RTP inside an SRTP datagram, or None (counted) for anything forged, replayed or not SRTP.
        Authentication comes before latching: only the key holder can move the stream to a new address."""
        assert self._srtp is not None
        # Not RTP at all (too short, wrong version, RTCP payload types): invalid, as in plain RTP
        if len(data) < 12 or data[0] >> 6 != 2 or 72 <= data[1] & 0x7F <= 76:
            self.stats.invalid += 1
            return None
        try:
            return self._srtp.unprotect(data)
        except SrtpReplayError:
            self.stats.srtp_replayed += 1
        except SrtpError as exc:
            self.stats.srtp_auth_failed += 1
            if self.stats.srtp_auth_failed == 1:  # once per call: a peer keyed wrongly fails every packet
                logger.warning("RTP port %d: dropping SRTP from %s (%s)", self.local_port, source, exc)
        return None

    def _on_dtmf(self, packet: RtpPacket) -> None:
        self.stats.dtmf_packets += 1
        digit = self._dtmf_detector.feed(packet.ssrc, packet.timestamp, packet.payload)
        if digit is not None:
            self.dtmf.put_nowait(digit)
        self._hold_sequence(packet)

    def _hold_sequence(self, packet: RtpPacket) -> None:
        # A non-audio packet uses a sequence number of the audio stream: play silence there, not a loss.
        if packet.ssrc == self._jitter.ssrc:
            self._jitter.push(packet.ssrc, packet.sequence, None, packet.timestamp)

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

    # ---- the media clock's tick ------------------------------------------------------------------------------

    def on_tick(self, tick: int, now: float) -> None:
        """Every 20 ms: caller audio released to the reader, one packet of bot audio sent, the timeout checked."""
        try:
            self._inbound.on_tick()
            self._send(self._playback.pop_frame(), tick)
            if now >= self._next_media_check:
                self._next_media_check = now + self._media_check_period()
                self._check_media(now)
        except Exception:
            self.stats.errors += 1
            self._tick_errors += 1
            if self._tick_errors == 1:  # once per call: a tick runs 50 times a second
                logger.exception("RTP tick failed on port %d", self.local_port)

    def _media_check_period(self) -> float:
        return min(1.0, self.rtp_timeout / 4)

    def _check_media(self, now: float) -> None:
        if self.media_timeout.is_set() or not self._expect_media:
            return
        if now - self._last_received >= self.rtp_timeout:
            logger.info("no RTP on port %d for %.1f s", self.local_port, self.rtp_timeout)
            self.media_timeout.set()

    # ---- sending -------------------------------------------------------------------------------------------

    def _send_target(self) -> Address | None:
        if self._latched is not None:
            return self._latched  # a datagram's source: always an IP address
        return self._sdp_remote if self._sdp_sendable else None

    def _send(self, frame: bytes | None, tick: int) -> None:
        # Bot audio is taken off the queue even while held, so wait_played() still ends.
        remote, transport = self._send_target(), self._transport
        can_send = self._sending and remote is not None and transport is not None and not transport.is_closing()
        data = self._outbound.packet(frame, tick, can_send)
        if data is None:
            return
        assert remote is not None and transport is not None
        if self._srtp_on:
            assert self._srtp is not None
            try:
                data = self._srtp.protect(data)
            except SrtpError as exc:
                self.stats.send_errors += 1
                logger.debug("SRTP protect on port %d failed: %s", self.local_port, exc)
                return
        try:
            transport.sendto(data, remote)
        except OSError as exc:
            self.stats.send_errors += 1
            logger.debug("RTP send to %s failed: %s", remote, exc)
            return
        self.stats.sent += 1
