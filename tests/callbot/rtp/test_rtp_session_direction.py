"""RtpSession's remote address and direction as SDP sets them: IP literals only, nothing sent while the caller
holds (recvonly, inactive, c=0.0.0.0), a new address followed at once; over real UDP sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterator

import pytest

from callbot.rtp import PCMU, RtpSession
from callbot.rtp.packet import parse_rtp

SessionFactory = Callable[..., Awaitable[RtpSession]]


@pytest.fixture
def listener() -> Iterator[Callable[[], socket.socket]]:
    sockets: list[socket.socket] = []

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        sockets.append(sock)
        return sock

    yield make
    for sock in sockets:
        sock.close()


async def packets_within(sock: socket.socket, seconds: float) -> int:
    """RTP packets that reached `sock` during `seconds`."""
    await asyncio.sleep(seconds)
    count = 0
    while True:
        try:
            parse_rtp(sock.recv(2048))
        except BlockingIOError:
            return count
        count += 1


def address(sock: socket.socket) -> tuple[str, int]:
    host, port = sock.getsockname()[:2]
    return (host, port)


@pytest.mark.parametrize("remote", [("localhost", 4000), ("rtp.example.org", 4000), ("127.0.0.1", 70000)])
async def test_a_remote_that_is_not_an_ip_address_is_refused(
    rtp_session_factory: SessionFactory, remote: tuple[str, int]
) -> None:
    session = await rtp_session_factory()
    with pytest.raises(ValueError):
        session.start(remote, PCMU, None)


async def test_hold_stops_sending_and_resume_brings_it_back(
    rtp_session_factory: SessionFactory, listener: Callable[[], socket.socket]
) -> None:
    caller = listener()
    session = await rtp_session_factory()
    session.start(address(caller), PCMU, None)
    assert await packets_within(caller, 0.3) >= 8  # silence every 20 ms
    for held in ("recvonly", "inactive"):
        session.set_direction(held)
        await packets_within(caller, 0.05)  # what was in flight
        assert await packets_within(caller, 0.3) == 0, held
    session.set_direction("sendrecv")
    assert await packets_within(caller, 0.3) >= 8


async def test_legacy_hold_address_gets_nothing(
    rtp_session_factory: SessionFactory, listener: Callable[[], socket.socket]
) -> None:
    caller = listener()
    session = await rtp_session_factory()
    session.start(("0.0.0.0", caller.getsockname()[1]), PCMU, None)  # sending there would reach localhost
    assert await packets_within(caller, 0.3) == 0
    assert session.stats.sent == 0


async def test_a_new_address_is_used_at_once(
    rtp_session_factory: SessionFactory, listener: Callable[[], socket.socket]
) -> None:
    first, second = listener(), listener()
    session = await rtp_session_factory()
    session.start(address(first), PCMU, None)
    # the caller's packets from its first address latch the session there
    for seq in range(3):
        first.sendto(bytes([0x80, 0, 0, seq, 0, 0, 0, 0, 0, 0, 0, 1]) + b"\xff" * 160, address_of(session))
    await asyncio.sleep(0.1)
    assert session.latched
    session.start(address(second), PCMU, None)  # re-INVITE: media moves
    await packets_within(first, 0.05)
    assert await packets_within(second, 0.3) >= 8
    assert await packets_within(first, 0.1) == 0
    assert session.remote == address(second)


async def test_packets_still_coming_from_the_old_address_do_not_take_the_stream_back(
    rtp_session_factory: SessionFactory, listener: Callable[[], socket.socket]
) -> None:
    first, second = listener(), listener()
    session = await rtp_session_factory()
    session.start(address(first), PCMU, None)
    session.start(address(second), PCMU, None)  # re-INVITE, while the caller's old leg still sends
    for seq in range(5):
        first.sendto(bytes([0x80, 0, 0, seq, 0, 0, 0, 0, 0, 0, 0, 1]) + b"\xff" * 160, address_of(session))
    await asyncio.sleep(0.1)
    assert not session.latched and session.stats.strangers == 5
    assert await packets_within(second, 0.3) >= 8


async def test_no_media_timeout_while_held(rtp_session_factory: SessionFactory) -> None:
    session = await rtp_session_factory(rtp_timeout=0.2)
    session.start(("127.0.0.1", 9), PCMU, None)
    session.set_direction("inactive")
    await asyncio.sleep(0.6)
    assert not session.media_timeout.is_set()
    session.set_direction("sendrecv")  # the timeout counts again, from the resume
    await asyncio.wait_for(session.media_timeout.wait(), 2)


def address_of(session: RtpSession) -> tuple[str, int]:
    return (session.local_host, session.local_port)
