"""A seeded SIP fuzzer against the real callbot: 10,000+ mutated messages over UDP and TCP, then the callbot
must still be alive, answer OPTIONS, take a real call (sipp), and its log must hold no traceback and only a few
refusal lines (counted, not one per message).

Seeded (random.Random): a failure names the seed, and the same messages come again.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.reliability.sip_reliability_support import (
    OFFER,
    log_text,
    options_over_tcp,
    request,
    running_callbot,
    udp_exchange,
)
from tests.support.callbot_process import CallbotProcess
from tests.support.sip_peers import run_sipp

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

SEED = int(os.environ.get("SIP_FUZZ_SEED", "20261128"))
UDP_MESSAGES = 8_000
TCP_MESSAGES = 2_500
ACK_TIMEOUT_S = 2.0
LIMITS = {
    "CALLBOT_SIP_MAX_CALLS": "2",
    "CALLBOT_SIP_ACK_TIMEOUT_S": str(ACK_TIMEOUT_S),
    "CALLBOT_SIP_TCP_IDLE_TIMEOUT_S": "2",
    "CALLBOT_SIP_TCP_MESSAGE_TIMEOUT_S": "1",
}
METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "NOTIFY", "INFO", "REFER", "PRACK", "X-FUZZ"]
NASTY_VALUES = [
    "",
    " ",
    "-1",
    "0",
    "99999999999999999999",
    "<sip:@>",
    "<>",
    ";;;;",
    "\x00",
    "é" * 40,
    "a" * 4000,
    "SIP/2.0/UDP",
    "z9hG4bK",
    '"unterminated',
    "<sip:a@[::1",
    "tag=",
]


@pytest.fixture(scope="module")
def callbot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbotProcess]:
    with running_callbot(tmp_path_factory.mktemp("fuzz"), LIMITS) as process:
        yield process


def seed_message(rng: random.Random, port: int, transport: str) -> bytes:
    """A well-formed message to start from: a request (maybe in a dialog, maybe with SDP) or a response."""
    method = rng.choice(METHODS)
    message = request(method, port, transport, body=OFFER if method == "INVITE" and rng.random() < 0.7 else "")
    if rng.random() < 0.3:  # in-dialog: a To tag
        message = message.replace(b"To: <", b"To: <", 1).replace(b">\r\nCall-ID", b">;tag=abc\r\nCall-ID", 1)
    if rng.random() < 0.15:  # a response to nothing we sent
        status = rng.choice([100, 180, 200, 404, 487, 503, 699])
        message = f"SIP/2.0 {status} Fuzz".encode() + message[message.index(b"\r\n") :]
    return message


def _lines(message: bytes) -> list[bytes]:
    return message.split(b"\r\n")


def _header_index(rng: random.Random, lines: list[bytes]) -> int:
    """A line after the start line when there is one (the message may already be cut short)."""
    return rng.randrange(1, len(lines)) if len(lines) > 1 else 0


def _flip_bytes(rng: random.Random, message: bytes) -> bytes:
    data = bytearray(message)
    for _ in range(rng.randint(1, 8) if data else 0):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def _truncate(rng: random.Random, message: bytes) -> bytes:
    return message[: rng.randrange(1, len(message))] if len(message) > 1 else message


def _drop_line(rng: random.Random, message: bytes) -> bytes:
    lines = _lines(message)
    del lines[rng.randrange(len(lines))]
    return b"\r\n".join(lines)


def _repeat_line(rng: random.Random, message: bytes) -> bytes:
    lines = _lines(message)
    at = _header_index(rng, lines)
    lines[at:at] = [lines[at]] * rng.choice([2, 10, 200])
    return b"\r\n".join(lines)


def _nasty_value(rng: random.Random, message: bytes) -> bytes:
    lines = _lines(message)
    at = _header_index(rng, lines)
    name = lines[at].partition(b":")[0] or b"X-Fuzz"
    lines[at] = name + b": " + rng.choice(NASTY_VALUES).encode()
    return b"\r\n".join(lines)


def _content_length(rng: random.Random, message: bytes) -> bytes:
    value = rng.choice([b"-5", b"abc", b"0", b"1", b"70000", str(rng.randrange(2000)).encode(), b""])
    head, sep, body = message.partition(b"\r\n\r\n")
    head = b"\r\n".join(line for line in head.split(b"\r\n") if not line.lower().startswith(b"content-length"))
    return head + b"\r\nContent-Length: " + value + sep + body


def _request_line(rng: random.Random, message: bytes) -> bytes:
    first, sep, rest = message.partition(b"\r\n")
    parts = first.split(b" ")
    at = rng.randrange(len(parts))
    parts[at] = rng.choice([b"", b"SIP/3.0", b"sip:", b"\xff\xfe", b"INVITE", b"tel:+33", b"*" * 300])
    return b" ".join(parts) + sep + rest


def _bare_lf(rng: random.Random, message: bytes) -> bytes:
    return message.replace(b"\r\n", b"\n")


def _sdp(rng: random.Random, message: bytes) -> bytes:
    head, _, body = message.partition(b"\r\n\r\n")
    junk = rng.choice(
        [b"m=audio 0 RTP/AVP\r\n", b"m=audio 99999 RTP/AVP 0\r\n", b"c=IN IP6 ::::\r\n", b"m=video 1 x\r\n"]
    )
    body = body + junk if rng.random() < 0.5 else body.replace(b"RTP/AVP 0 101", b"RTP/AVP 200 -1")
    return _content_length_exact(head, body)


def _content_length_exact(head: bytes, body: bytes) -> bytes:
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"content-length")]
    return b"\r\n".join([*lines, b"Content-Length: %d" % len(body)]) + b"\r\n\r\n" + body


def _random_bytes(rng: random.Random, message: bytes) -> bytes:
    return rng.randbytes(rng.randint(1, 1400))


MUTATIONS: list[Callable[[random.Random, bytes], bytes]] = [
    _flip_bytes,
    _truncate,
    _drop_line,
    _repeat_line,
    _nasty_value,
    _content_length,
    _request_line,
    _bare_lf,
    _sdp,
    _random_bytes,
]


def fuzzed(rng: random.Random, port: int, transport: str) -> bytes:
    message = seed_message(rng, port, transport)
    for _ in range(rng.randint(0, 3)):  # 0: some well-formed messages too, to reach deeper states
        message = rng.choice(MUTATIONS)(rng, message)
    return message


def fuzz_udp(rng: random.Random, port: int, count: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.2", 5999))
        sock.settimeout(0.02)
        for start in range(0, count, 100):
            for _ in range(min(100, count - start)):
                message = fuzzed(rng, port, "UDP")[:65000]
                sock.sendto(message, ("127.0.0.1", port))
            try:  # pace: let the callbot answer the batch before the next one
                while sock.recv(65535):
                    pass
            except (TimeoutError, ConnectionError):
                pass
    return count


def fuzz_tcp(rng: random.Random, port: int, count: int) -> tuple[int, int]:
    """Mutated messages on TCP connections; a connection the callbot closes (bad framing) is replaced."""
    sent = connections = 0
    sock: socket.socket | None = None
    while sent < count:
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.3", 0), timeout=2)
            sock.settimeout(0.01)
            connections += 1
        try:
            for _ in range(20):
                sock.sendall(fuzzed(rng, port, "TCP"))
                sent += 1
            while sock.recv(65535):
                pass
            sock.close()  # closed by the callbot (empty read): take another
            sock = None
        except TimeoutError:
            pass  # open, nothing more to read: go on
        except OSError:
            if sock is not None:
                sock.close()
            sock = None
    if sock is not None:
        sock.close()
    return sent, connections


async def test_ten_thousand_mutated_messages_leave_the_callbot_serving(callbot: CallbotProcess, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    port = callbot.sip_port
    started = time.monotonic()
    udp_sent = fuzz_udp(rng, port, UDP_MESSAGES)
    tcp_sent, tcp_connections = fuzz_tcp(rng, port, TCP_MESSAGES)
    took = time.monotonic() - started
    print(f"seed {SEED}: {udp_sent} UDP + {tcp_sent} TCP messages ({tcp_connections} connections) in {took:.1f} s")
    assert udp_sent + tcp_sent >= 10_000

    assert callbot.process is not None and callbot.process.poll() is None, callbot.tail_log()
    await asyncio.sleep(ACK_TIMEOUT_S + 1)  # answered fuzzed INVITEs, never ACKed, free their slots
    assert udp_exchange(port, lambda local: request("OPTIONS", port, local_port=local)) == 200
    assert options_over_tcp(port) == 200
    call = await run_sipp("uac", f"127.0.0.1:{port}", tmp_path / "call", timeout_s=20)
    assert call.returncode == 0, (call.errors(), callbot.tail_log())

    text = log_text(callbot)
    assert "Traceback" not in text and "Task was destroyed" not in text, f"seed {SEED}:\n{text[-4000:]}"
    refusal_lines = [line for line in text.splitlines() if "refused" in line or "busy" in line]
    assert len(refusal_lines) <= 10, (len(refusal_lines), refusal_lines[:5])
