"""Cheap denial-of-service attempts on the real callbot's SIP port: each one, from one source address, must
leave another source able to probe and call.

Sources are loopback addresses (127.0.0.2…): Linux routes all of 127/8 to lo, so each is a distinct sender to the
callbot. Limits and timeouts are shortened through the environment so that the whole file runs in seconds.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.sip_reliability_support import (
    OFFER,
    log_text,
    options_over_tcp,
    request,
    running_callbot,
    status_of,
    udp_exchange,
)
from tests.support.callbot_process import CallbotProcess
from tests.support.sip_peers import run_sipp

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ACK_TIMEOUT_S = 2.0
TCP_IDLE_S = 2.0
TCP_MESSAGE_S = 1.0
TCP_PER_SOURCE = 4
LIMITS = {
    "CALLBOT_SIP_MAX_CALLS": "3",
    "CALLBOT_SIP_ACK_TIMEOUT_S": str(ACK_TIMEOUT_S),
    "CALLBOT_SIP_MAX_TRANSACTIONS": "400",
    "CALLBOT_SIP_MAX_TRANSACTIONS_PER_SOURCE": "50",
    "CALLBOT_SIP_MAX_TCP_CONNECTIONS": "8",
    "CALLBOT_SIP_MAX_TCP_CONNECTIONS_PER_SOURCE": str(TCP_PER_SOURCE),
    "CALLBOT_SIP_TCP_IDLE_TIMEOUT_S": str(TCP_IDLE_S),
    "CALLBOT_SIP_TCP_MESSAGE_TIMEOUT_S": str(TCP_MESSAGE_S),
}


@pytest.fixture(scope="module")
def callbot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbotProcess]:
    with running_callbot(tmp_path_factory.mktemp("floods"), LIMITS) as process:
        yield process


async def a_call_works(callbot: CallbotProcess, workdir: Path) -> None:
    """A whole call by sipp from 127.0.0.1 (INVITE, 200, ACK, BYE)."""
    result = await run_sipp("uac", f"127.0.0.1:{callbot.sip_port}", workdir, timeout_s=15)
    assert result.returncode == 0, (result.errors(), callbot.tail_log())


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> float:
    """Seconds until the callbot closes the connection; fails if it stays open longer than `seconds`."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(4096):
                pass
    except ConnectionError:
        pass
    except TimeoutError:
        pytest.fail(f"connection still open after {seconds} s")
    return time.monotonic() - started


async def connect_from(source: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def test_idle_and_trickling_tcp_connections_are_closed_on_time(callbot: CallbotProcess) -> None:
    idle = await connect_from("127.0.0.2", callbot.sip_port)
    trickling = await connect_from("127.0.0.2", callbot.sip_port)
    pinging = await connect_from("127.0.0.2", callbot.sip_port)
    message = request("OPTIONS", callbot.sip_port, "TCP")

    async def trickle() -> None:  # one byte every 0.2 s: each read would have reset a plain idle timer
        for byte in message:
            trickling[1].write(bytes([byte]))
            await asyncio.sleep(0.2)

    async def ping() -> None:  # RFC 5626 keep-alives, but never a message
        while True:
            pinging[1].write(b"\r\n\r\n")
            await asyncio.sleep(0.3)

    senders = [asyncio.create_task(trickle()), asyncio.create_task(ping())]
    try:
        waits = await asyncio.gather(
            closed_within(idle[0], TCP_IDLE_S + 1.5),
            closed_within(trickling[0], TCP_MESSAGE_S + 1.5),
            closed_within(pinging[0], TCP_IDLE_S + 1.5),
        )
    finally:
        for task in senders:
            task.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        for _, writer in (idle, trickling, pinging):
            writer.close()
    assert waits[1] < TCP_MESSAGE_S + 1.0, waits  # from the first byte, not from the last
    assert options_over_tcp(callbot.sip_port) == 200


async def is_closed(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        async with asyncio.timeout(within):
            return await reader.read(4096) == b""
    except ConnectionError:
        return True
    except TimeoutError:
        return False


async def test_one_source_cannot_take_every_tcp_connection(callbot: CallbotProcess) -> None:
    connections = [await connect_from("127.0.0.2", callbot.sip_port) for _ in range(10)]
    try:
        closed = await asyncio.gather(*(is_closed(reader, 0.5) for reader, _ in connections))
        # what one source may hold, it holds; the others are refused; 127.0.0.1 is still served meanwhile
        assert closed.count(False) == TCP_PER_SOURCE, closed
        assert options_over_tcp(callbot.sip_port) == 200
    finally:
        for _, writer in connections:
            writer.close()


def flood_udp(source: str, port: int, messages: list[bytes], batch: int = 200) -> dict[int, int]:
    """Send `messages` from `source` as fast as the callbot answers them (batches, then drain); statuses seen."""
    statuses: dict[int, int] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        for start in range(0, len(messages), batch):
            for message in messages[start : start + batch]:
                sock.sendto(message, ("127.0.0.1", port))
            sock.settimeout(0.3)
            received = 0
            while received < batch:
                try:
                    status = status_of(sock.recv(65535))
                except TimeoutError:
                    break
                if status >= 200:
                    received += 1
                    statuses[status] = statuses.get(status, 0) + 1
    return statuses


async def test_a_flood_from_one_source_does_not_refuse_another(callbot: CallbotProcess, tmp_path: Path) -> None:
    port = callbot.sip_port
    # 7,000 probes (the old table of 5,000 held each for 32 s), then INVITEs that are refused and never ACKed
    probes = [request("OPTIONS", port, local_port=5999) for _ in range(7000)]
    started = time.monotonic()
    seen = flood_udp("127.0.0.3", port, probes)
    rate = len(probes) / (time.monotonic() - started)
    assert seen.get(200, 0) > 5500 and 503 not in seen, seen  # a few datagrams may be lost, not refused
    # an offer with no codec we know: 488, kept for Timer H (an INVITE without SDP would be answered 200)
    junk_invites = [request("INVITE", port, local_port=5999, body=OFFER.replace(" 0 101", " 18")) for _ in range(120)]
    seen = flood_udp("127.0.0.3", port, junk_invites, batch=40)
    assert seen.get(503, 0) >= 60, seen  # beyond its own share, that source is refused
    # another source probes and calls
    assert udp_exchange(port, lambda local: request("OPTIONS", port, local_port=local)) == 200
    await a_call_works(callbot, tmp_path / "call")
    refusal_lines = [line for line in log_text(callbot).splitlines() if "refused" in line]
    assert 1 <= len(refusal_lines) <= 3, refusal_lines  # counted, not one line per message
    print(f"held {rate:.0f} OPTIONS/s from one source without a refusal to another")


async def test_invites_never_acked_release_their_call_slots(callbot: CallbotProcess, tmp_path: Path) -> None:
    port = callbot.sip_port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent_caller:
        silent_caller.bind(("127.0.0.4", 0))
        local = silent_caller.getsockname()[1]
        for _ in range(3):  # max_calls: every slot answered, none acknowledged
            silent_caller.sendto(request("INVITE", port, local_port=local, body=OFFER), ("127.0.0.1", port))
        answered: set[bytes] = set()
        silent_caller.settimeout(2.0)
        while len(answered) < 3:
            data = silent_caller.recv(65535)
            if status_of(data) == 200:
                answered.add(data.split(b"Call-ID: ", 1)[1].split(b"\r\n", 1)[0])
        full_at = time.monotonic()
        invite = request("INVITE", port, local_port=5999, body=OFFER)
        assert udp_exchange(port, lambda local: invite.replace(b":5999", f":{local}".encode())) == 503  # busy
        await asyncio.sleep(max(0.0, full_at + ACK_TIMEOUT_S + 0.5 - time.monotonic()))
        await a_call_works(callbot, tmp_path / "call")  # the slots were freed at the ACK timeout, not 64 s later


async def test_no_task_is_left_pending_at_the_end_of_calls(callbot: CallbotProcess, tmp_path: Path) -> None:
    for attempt in range(3):
        await a_call_works(callbot, tmp_path / f"call-{attempt}")
    # enough garbage for the collector to run in the callbot, and find any call's task left pending
    flood_udp("127.0.0.5", callbot.sip_port, [request("OPTIONS", callbot.sip_port) for _ in range(3000)])
    text = log_text(callbot)
    assert "Task was destroyed" not in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
