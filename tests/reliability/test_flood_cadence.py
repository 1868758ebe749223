"""A call in progress keeps its audio cadence while the server is flooded at three times its capacity.

One real call (raw SIP over UDP, G.711 both ways) is answered; then, while the bot speaks, other sources send
three times `max_calls` INVITEs that are never acknowledged, plus junk. The caller's RTP from the bot must keep
its 20 ms pace: p99 of the gaps between packets under 40 ms, and the server must still answer OPTIONS.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import socket
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.callbot_process import CallbotProcess

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("sipp") is None, reason="needs the SIP tools")]

MAX_CALLS = 4
FLOOD_FACTOR = 3
LISTEN_S = 6.0  # the greeting lasts longer than this


def invite(sip_port: int, local_port: int, rtp_port: int, call_id: str) -> bytes:
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    )
    return (
        f"INVITE sip:bot@127.0.0.1:{sip_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK{uuid.uuid4().hex};rport\r\n"
        f"From: <sip:0491000000@127.0.0.1:{local_port}>;tag={uuid.uuid4().hex[:8]}\r\n"
        f"To: <sip:bot@127.0.0.1:{sip_port}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
        f"Contact: <sip:caller@127.0.0.1:{local_port}>\r\nMax-Forwards: 70\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"
    ).encode()


def ack_for(ok: bytes, sip_port: int, local_port: int) -> bytes:
    headers = dict(
        line.split(": ", 1)
        for line in ok.decode(errors="replace").split("\r\n\r\n")[0].split("\r\n")[1:]
        if ": " in line
    )
    return (
        f"ACK sip:bot@127.0.0.1:{sip_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK{uuid.uuid4().hex};rport\r\n"
        f"From: {headers['From']}\r\nTo: {headers['To']}\r\nCall-ID: {headers['Call-ID']}\r\n"
        "CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def answered_call(sip_port: int, rtp: socket.socket) -> socket.socket:
    """INVITE, wait for the 200, ACK: the call is up and the bot starts its greeting."""
    signalling = udp_socket()
    local_port = signalling.getsockname()[1]
    signalling.settimeout(20)
    signalling.sendto(invite(sip_port, local_port, rtp.getsockname()[1], uuid.uuid4().hex), ("127.0.0.1", sip_port))
    while True:
        data = signalling.recv(65535)
        if data.startswith(b"SIP/2.0 200"):
            signalling.sendto(ack_for(data, sip_port, local_port), ("127.0.0.1", sip_port))
            return signalling


def flood(sip_port: int, stop_at: float) -> int:
    """INVITEs never acknowledged, three times the capacity, and junk, until `stop_at`; returns messages sent."""
    senders = [udp_socket() for _ in range(FLOOD_FACTOR * MAX_CALLS)]
    sent = 0
    try:
        for sender in senders:  # each a would-be caller that never ACKs
            port = sender.getsockname()[1]
            sender.sendto(invite(sip_port, port, 9, uuid.uuid4().hex), ("127.0.0.1", sip_port))
            sent += 1
        junk = [b"\x00" * 200, b"INVITE sip:x SIP/2.0\r\n\r\n", b"OPTIONS\r\nVia: ;;;\r\n\r\n" * 20]
        while time.monotonic() < stop_at:
            for index, sender in enumerate(senders):
                sender.sendto(junk[index % len(junk)], ("127.0.0.1", sip_port))
                sent += 1
            time.sleep(0.002)
    finally:
        for sender in senders:
            sender.close()
    return sent


def received_gaps(rtp: socket.socket, listen_s: float) -> list[float]:
    """Gaps (ms) between the bot's RTP packets, while answering each with our own 20 ms of silence."""
    rtp.settimeout(0.5)
    arrivals: list[float] = []
    end = time.monotonic() + listen_s
    while time.monotonic() < end:
        try:
            packet, source = rtp.recvfrom(2048)
        except TimeoutError:
            continue
        arrivals.append(time.monotonic())
        rtp.sendto(packet[:12] + b"\xff" * 160, source)  # keep the line alive, as a phone would
    return [(later - earlier) * 1000 for earlier, later in itertools.pairwise(arrivals)]


@pytest.fixture
def callbot(dialogue_server: Any, tmp_path: Path) -> Iterator[CallbotProcess]:
    process = CallbotProcess(
        tmp_path / "callbot",
        env_overrides={
            "CALLBOT_DIALOGUE_MODE": "external",
            "CALLBOT_DIALOGUE_URL": dialogue_server.url,
            "CALLBOT_DIALOGUE_TOKEN": dialogue_server.token,
            "CALLBOT_SIP_MAX_CALLS": str(MAX_CALLS),
        },
    )
    process.start()
    yield process
    process.stop()


async def test_a_call_keeps_its_cadence_under_a_flood_at_three_times_capacity(callbot: CallbotProcess) -> None:
    rtp = udp_socket()
    signalling = await asyncio.to_thread(answered_call, callbot.sip_port, rtp)
    try:
        stop_at = time.monotonic() + LISTEN_S
        flooding = asyncio.create_task(asyncio.to_thread(flood, callbot.sip_port, stop_at))
        gaps = await asyncio.to_thread(received_gaps, rtp, LISTEN_S)
        sent = await flooding
    finally:
        signalling.close()
        rtp.close()
    assert sent > 1000
    assert len(gaps) > LISTEN_S * 1000 / 20 * 0.9, f"only {len(gaps)} packets in {LISTEN_S} s"
    p99 = statistics.quantiles(gaps, n=100)[98]
    print(
        f"flood of {sent} messages: bot RTP gaps p50 {statistics.median(gaps):.1f} ms, p99 {p99:.1f} ms, "
        f"max {max(gaps):.1f} ms"
    )
    assert p99 < 40, f"p99 gap {p99:.1f} ms under the flood"
    assert callbot.process is not None and callbot.process.poll() is None
    assert await asyncio.to_thread(options_status, callbot.sip_port) == 200


def options_status(sip_port: int) -> int:
    with udp_socket() as sock:
        port = sock.getsockname()[1]
        sock.settimeout(5)
        sock.sendto(
            (
                f"OPTIONS sip:bot@127.0.0.1:{sip_port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
                f"From: <sip:probe@127.0.0.1:{port}>;tag=1\r\nTo: <sip:bot@127.0.0.1>\r\n"
                f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            ).encode(),
            ("127.0.0.1", sip_port),
        )
        while True:
            reply = sock.recv(65535)
            if reply.startswith(b"SIP/2.0 ") and not reply.startswith(b"SIP/2.0 1"):
                return int(reply.split(b" ", 2)[1])
