"""SRTP (RFC 3711) keyed by SDES: the libsrtp wrapper, and an RtpSession exchanging audio with a peer that uses
pylibsrtp directly on a plain UDP socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import cast

import numpy as np
import pylibsrtp
import pytest

from callbot.rtp import PCMU, RtpSession
from callbot.rtp.packet import RtpPacket, build_rtp, parse_rtp
from callbot.rtp.srtp import (
    MASTER_KEY_BYTES,
    SrtpAuthError,
    SrtpError,
    SrtpKey,
    SrtpReplayError,
    SrtpSession,
    new_master_key,
)

SUITE_80 = "AES_CM_128_HMAC_SHA1_80"
SUITE_32 = "AES_CM_128_HMAC_SHA1_32"
SessionFactory = Callable[..., Awaitable[RtpSession]]


def rtp(seq: int, payload: bytes = b"\x55" * 160, ssrc: int = 0x1234) -> bytes:
    return build_rtp(RtpPacket(0, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, ssrc, payload))


def pair(suite: str = SUITE_80) -> tuple[SrtpSession, SrtpSession]:
    """Two ends keyed as SDES does: each protects with its own key, unprotects with the other's."""
    a, b = new_master_key(), new_master_key()
    return SrtpSession(SrtpKey(suite, a), SrtpKey(suite, b)), SrtpSession(SrtpKey(suite, b), SrtpKey(suite, a))


# --- the wrapper --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("suite", "tag_bytes"), [(SUITE_80, 10), (SUITE_32, 4)])
def test_protect_unprotect_round_trip(suite: str, tag_bytes: int) -> None:
    alice, bob = pair(suite)
    for seq in range(5):
        packet = rtp(seq, bytes([seq]) * 160)
        protected = alice.protect(packet)
        assert len(protected) == len(packet) + tag_bytes
        assert protected[:12] == packet[:12]  # the header stays in clear
        assert protected[12:172] != packet[12:]  # the payload does not
        assert bob.unprotect(protected) == packet
    assert alice.suite == suite


def test_a_tampered_packet_fails_authentication() -> None:
    alice, bob = pair()
    protected = bytearray(alice.protect(rtp(1)))
    protected[40] ^= 0x01
    with pytest.raises(SrtpAuthError):
        bob.unprotect(bytes(protected))
    assert bob.unprotect(alice.protect(rtp(2))) == rtp(2)  # the stream goes on


def test_a_packet_under_another_key_fails_authentication() -> None:
    alice, _ = pair()
    stranger, _ = pair()
    _, bob = pair()
    with pytest.raises(SrtpAuthError):
        bob.unprotect(alice.protect(rtp(1)))
    with pytest.raises(SrtpAuthError):
        bob.unprotect(stranger.protect(rtp(1, ssrc=0x999)))


def test_a_replayed_packet_is_refused() -> None:
    alice, bob = pair()
    protected = alice.protect(rtp(7))
    bob.unprotect(protected)
    with pytest.raises(SrtpReplayError):
        bob.unprotect(protected)


@pytest.mark.parametrize("data", [b"", b"\x80", b"\x80\x00" + bytes(10), bytes(2000)])
def test_garbage_is_a_clear_error_not_a_crash(data: bytes) -> None:
    _, bob = pair()
    with pytest.raises(SrtpError):
        bob.unprotect(data)


def test_a_packet_too_long_to_protect() -> None:
    alice, _ = pair()
    with pytest.raises(SrtpError):
        alice.protect(rtp(1, bytes(1400)))


def test_rekey_keeps_an_unchanged_direction() -> None:
    alice, bob = pair()
    first = alice.protect(rtp(1))
    bob.unprotect(first)
    # a re-INVITE refreshing the same keys: the replay window survives
    bob.rekey(SrtpKey(SUITE_80, bob._send_key.key), SrtpKey(SUITE_80, bob._receive_key.key))
    with pytest.raises(SrtpReplayError):
        bob.unprotect(first)
    # the peer rekeys its sending direction: the new key is used from then on
    new_key = new_master_key()
    alice.rekey(SrtpKey(SUITE_80, new_key), alice._receive_key)
    bob.rekey(bob._send_key, SrtpKey(SUITE_80, new_key))
    assert bob.unprotect(alice.protect(rtp(2))) == rtp(2)


@pytest.mark.parametrize(("suite", "key"), [("AES_256_CM_HMAC_SHA1_80", bytes(30)), (SUITE_80, bytes(29))])
def test_bad_keys_are_refused(suite: str, key: bytes) -> None:
    with pytest.raises(ValueError):
        SrtpKey(suite, key)


def test_keys_are_fresh_and_never_in_reprs() -> None:
    keys = {new_master_key() for _ in range(50)}
    assert len(keys) == 50 and all(len(k) == MASTER_KEY_BYTES for k in keys)
    key = new_master_key()
    assert key.hex() not in repr(SrtpKey(SUITE_80, key)) and repr(key) not in repr(SrtpKey(SUITE_80, key))


# --- an RtpSession with keys against a peer using libsrtp directly ------------------------------------------------


class SrtpPeer(asyncio.DatagramProtocol):
    """The far end: a UDP socket protecting and unprotecting with pylibsrtp itself, not with callbot's wrapper."""

    def __init__(self, send_key: bytes, receive_key: bytes) -> None:
        profile = pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80
        self.tx = pylibsrtp.Session(pylibsrtp.Policy(send_key, pylibsrtp.Policy.SSRC_ANY_OUTBOUND, 0, profile))
        self.rx = pylibsrtp.Session(pylibsrtp.Policy(receive_key, pylibsrtp.Policy.SSRC_ANY_INBOUND, 0, profile))
        self.received: list[bytes] = []
        self.raw: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.raw.append(data)
        self.received.append(self.rx.unprotect(data))

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return (host, port)

    def send_raw(self, data: bytes, to: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, to)


@pytest.fixture
async def srtp_peer() -> AsyncIterator[Callable[[bytes, bytes], Awaitable[SrtpPeer]]]:
    peers: list[SrtpPeer] = []

    async def make(send_key: bytes, receive_key: bytes) -> SrtpPeer:
        loop = asyncio.get_running_loop()
        _, peer = await loop.create_datagram_endpoint(
            lambda: SrtpPeer(send_key, receive_key), local_addr=("127.0.0.1", 0)
        )
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        if peer.transport is not None:
            peer.transport.close()


def tone(seconds: float, frequency: float = 440.0) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (8000 * np.sin(2 * np.pi * frequency * t)).astype("<i2").tobytes()


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0


async def test_rtp_session_exchanges_audio_with_an_srtp_peer(
    rtp_session_factory: SessionFactory, srtp_peer: Callable[[bytes, bytes], Awaitable[SrtpPeer]]
) -> None:
    ours, theirs = new_master_key(), new_master_key()
    peer = await srtp_peer(theirs, ours)
    session = await rtp_session_factory()
    session.set_srtp(SUITE_80, ours, theirs)
    session.start(peer.address, PCMU, None)
    assert session.srtp
    session.play(tone(0.4))

    # the peer's tone, protected by libsrtp, then a tampered packet, a replay and a plain RTP packet
    pcm = tone(0.4, 1000.0)
    packets = [peer.tx.protect(rtp(seq, PCMU.encode(pcm[seq * 320 : (seq + 1) * 320]))) for seq in range(20)]
    for packet in packets:
        peer.send_raw(packet, (session.local_host, session.local_port))
    tampered = bytearray(peer.tx.protect(rtp(20)))
    tampered[-1] ^= 0xFF
    peer.send_raw(bytes(tampered), (session.local_host, session.local_port))
    peer.send_raw(packets[3], (session.local_host, session.local_port))
    peer.send_raw(rtp(21), (session.local_host, session.local_port))

    frames = [await asyncio.wait_for(session.read_frame(), 2) for _ in range(25)]
    loud = [f for f in frames if f is not None and rms(f) > 3000]
    assert 15 <= len(loud) <= 20
    await asyncio.wait_for(session.wait_played(), 3)
    await asyncio.sleep(0.1)

    assert session.stats.audio_packets == 20
    assert session.stats.srtp_auth_failed == 2  # the tampered packet and the plain one
    assert session.stats.srtp_replayed == 1
    assert session.stats.errors == 0
    # what we sent: SRTP that only the peer's key opens, carrying our tone
    assert peer.received and len(peer.received) == len(peer.raw)
    assert all(len(raw) == len(plain) + 10 for raw, plain in zip(peer.raw, peer.received, strict=True))
    heard = b"".join(PCMU.decode(parse_rtp(p).payload) for p in peer.received)
    assert rms(heard[: 320 * 15]) > 3000


async def test_srtp_can_be_switched_off_and_on(
    rtp_session_factory: SessionFactory, srtp_peer: Callable[[bytes, bytes], Awaitable[SrtpPeer]]
) -> None:
    ours, theirs = new_master_key(), new_master_key()
    peer = await srtp_peer(theirs, ours)
    session = await rtp_session_factory()
    session.set_srtp(SUITE_80, ours, theirs)
    session.start(peer.address, PCMU, None)
    session.set_srtp(None)  # "optional": a re-INVITE went back to plain RTP
    assert not session.srtp
    peer.send_raw(rtp(1), (session.local_host, session.local_port))
    await asyncio.sleep(0.1)
    assert session.stats.audio_packets == 1 and session.stats.srtp_auth_failed == 0
    session.set_srtp(SUITE_80, ours, theirs)
    peer.send_raw(peer.tx.protect(rtp(2)), (session.local_host, session.local_port))
    await asyncio.sleep(0.1)
    assert session.stats.audio_packets == 2
