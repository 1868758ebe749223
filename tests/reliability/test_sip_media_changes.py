"""Media changes against the real callbot (`python -m callbot run`, real SIP and RTP), issue 7 items 5 and 7.

The caller is written here by hand over UDP: its SIP messages on one socket, its RTP on plain UDP sockets whose
received packets say where, and whether, the bot is sending. One callbot serves the whole module.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator

import numpy as np
import pytest

from callbot.rtp.g711 import alaw_decode, ulaw_decode
from callbot.sip.message import SipRequest, SipResponse, parse_message
from tests.reliability.sip_reliability_support import running_callbot
from tests.support.callbot_process import CallbotProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SETTLE_S = 0.15  # packets already in flight when the media changes


@pytest.fixture(scope="module")
def callbot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbotProcess]:
    env = {"CALLBOT_SIP_ANSWER_DELAY_S": "0", "CALLBOT_VAD_NO_INPUT_TIMEOUT_S": "60"}
    with running_callbot(tmp_path_factory.mktemp("media-changes"), env) as process:
        yield process


def sdp(rtp_port: int, direction: str = "sendrecv", host: str = "127.0.0.1", formats: str = "0 101") -> str:
    return (
        f"v=0\r\no=- 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
        f"m=audio {rtp_port} RTP/AVP {formats}\r\na=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
    )


class RtpListener:
    """A plain UDP socket standing for the caller's RTP port."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]

    def packets(self, seconds: float) -> list[bytes]:
        """Every datagram received during `seconds` (what was queued before included)."""
        got: list[bytes] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                got.append(self.sock.recv(2048))
            except TimeoutError:
                break
        return got

    def drain(self) -> None:
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(2048)
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)

    def quiet_then_count(self, seconds: float) -> int:
        """RTP packets received in `seconds`, after the ones in flight are let through and dropped."""
        time.sleep(SETTLE_S)
        self.drain()
        return len(self.packets(seconds))

    def send_rtp(self, to: tuple[str, int], count: int = 3) -> None:
        for seq in range(count):  # PCMU silence, so that the bot latches onto this source
            self.sock.sendto(bytes([0x80, 0, 0, seq, 0, 0, 0, seq, 0, 0, 0, 7]) + b"\xff" * 160, to)

    def close(self) -> None:
        self.sock.close()


class Caller:
    """One SIP dialog with the bot, over UDP, written by hand."""

    def __init__(self, sip_port: int) -> None:
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind(("127.0.0.1", 0))
        self.port: int = self.sip.getsockname()[1]
        self.target = ("127.0.0.1", sip_port)
        self.call_id = secrets.token_hex(8)
        self.from_tag = secrets.token_hex(4)
        self.to_tag: str | None = None
        self.requests: list[SipRequest] = []  # what the bot sent us (BYE…)

    def message(self, method: str, cseq: int, body: str = "", cseq_method: str | None = None) -> bytes:
        to = f"<sip:bot@127.0.0.1:{self.target[1]}>" + (f";tag={self.to_tag}" if self.to_tag else "")
        lines = [
            f"{method} sip:bot@127.0.0.1:{self.target[1]} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{secrets.token_hex(8)};rport",
            "Max-Forwards: 70",
            f"From: <sip:+33491000000@127.0.0.1:{self.port}>;tag={self.from_tag}",
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {cseq_method or method}",
            f"Contact: <sip:caller@127.0.0.1:{self.port}>",
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    def send(self, data: bytes) -> None:
        self.sip.sendto(data, self.target)

    def final_response(self, method: str, timeout_s: float = 10.0) -> SipResponse:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            self.sip.settimeout(left)
            message = parse_message(self.sip.recv(65535))
            if isinstance(message, SipRequest):
                self.requests.append(message)
            elif message.cseq[1] == method and message.status >= 200:
                return message
        raise AssertionError(f"no final response to {method}")

    def expect_request(self, method: str, timeout_s: float = 10.0) -> SipRequest:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            if any(r.method == method for r in self.requests):
                return next(r for r in self.requests if r.method == method)
            self.sip.settimeout(left)
            message = parse_message(self.sip.recv(65535))
            if isinstance(message, SipRequest):
                self.requests.append(message)
        raise AssertionError(f"no {method} from the bot")

    def invite(self, cseq: int, body: str, ack_body: str = "") -> SipResponse:
        """INVITE (a re-INVITE once the dialog exists) and the ACK of its final response."""
        self.send(self.message("INVITE", cseq, body))
        response = self.final_response("INVITE")
        if self.to_tag is None:
            self.to_tag = response.to_addr.tag
        self.send(self.message("ACK", cseq, ack_body if response.status < 300 else ""))
        return response

    def update(self, cseq: int, body: str) -> SipResponse:
        """UPDATE inside the dialog (RFC 3311): no ACK follows its final response."""
        self.send(self.message("UPDATE", cseq, body))
        return self.final_response("UPDATE")

    def options(self) -> int:
        self.send(self.message("OPTIONS", 1))
        return self.final_response("OPTIONS").status

    def bye(self, cseq: int) -> None:
        self.send(self.message("BYE", cseq))
        self.final_response("BYE")

    def answer_ok(self, request: SipRequest) -> None:
        lines = ["SIP/2.0 200 OK", *(f"Via: {via}" for via in request.headers.get_all("Via"))]
        for name in ("From", "To", "Call-ID", "CSeq"):
            lines.append(f"{name}: {request.headers.get(name)}")
        self.send(("\r\n".join([*lines, "Content-Length: 0"]) + "\r\n\r\n").encode())

    def close(self) -> None:
        self.sip.close()


def bot_rtp_address(response: SipResponse) -> tuple[str, int]:
    text = response.body.decode()
    host = next(line.split()[-1] for line in text.splitlines() if line.startswith("c="))
    port = next(int(line.split()[1]) for line in text.splitlines() if line.startswith("m=audio"))
    return (host, port)


def formats_in(response: SipResponse) -> list[str]:
    m_line = next(line for line in response.body.decode().splitlines() if line.startswith("m=audio"))
    return m_line.split()[3:]


def payload_types(packets: list[bytes]) -> set[int]:
    return {packet[1] & 0x7F for packet in packets}


def smoothness(pcm: bytes) -> float:
    """Lag-1 autocorrelation of PCM16: high for speech read with the codec it was coded in, lower with another."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.corrcoef(samples[1:], samples[:-1])[0, 1])


def direction_in(response: SipResponse) -> str:
    directions = ("sendrecv", "sendonly", "recvonly", "inactive")
    return next(line[2:] for line in response.body.decode().splitlines() if line[2:] in directions)


@pytest.fixture
def caller(callbot: CallbotProcess) -> Iterator[Caller]:
    leg = Caller(callbot.sip_port)
    yield leg
    leg.close()


@pytest.fixture
def rtp() -> Iterator[RtpListener]:
    listener = RtpListener()
    yield listener
    listener.close()


def test_a_host_name_in_the_sdp_gets_488_and_the_server_keeps_answering(
    callbot: CallbotProcess, caller: Caller
) -> None:
    started = time.monotonic()
    for attempt in range(5):
        caller.call_id = secrets.token_hex(8)
        refused = caller.invite(1, sdp(40000 + 2 * attempt, host=f"n{attempt}.some.hostname.example"))
        assert refused.status == 488, refused
        assert (refused.headers.get("Warning") or "").startswith("301 "), refused.headers.get("Warning")
        caller.to_tag = None
    assert time.monotonic() - started < 3.0  # no resolver in the way
    other = Caller(callbot.sip_port)
    try:
        assert other.options() == 200
    finally:
        other.close()
    assert callbot.health()[0] == 200


def test_a_reinvite_moving_media_makes_the_bot_send_to_the_new_port(caller: Caller, rtp: RtpListener) -> None:
    ok = caller.invite(1, sdp(rtp.port))
    assert ok.status == 200
    bot_rtp = bot_rtp_address(ok)
    assert len(rtp.packets(1.0)) >= 20  # greeting or silence, every 20 ms
    rtp.send_rtp(bot_rtp)  # the bot latches onto the caller's first port
    new_port = RtpListener()
    try:
        moved = caller.invite(2, sdp(new_port.port))
        assert moved.status == 200 and direction_in(moved) == "sendrecv"
        assert new_port.quiet_then_count(1.0) >= 20
        assert rtp.quiet_then_count(0.5) == 0
        new_port.send_rtp(bot_rtp)
        assert new_port.quiet_then_count(0.5) >= 10
    finally:
        new_port.close()
    caller.bye(3)


def test_an_update_with_an_offer_moves_the_bots_rtp_to_the_new_port(caller: Caller, rtp: RtpListener) -> None:
    ok = caller.invite(1, sdp(rtp.port))
    assert ok.status == 200
    bot_rtp = bot_rtp_address(ok)
    assert len(rtp.packets(0.5)) >= 10
    rtp.send_rtp(bot_rtp)  # latched onto the first port: the UPDATE's offer must still move it
    new_port = RtpListener()
    try:
        moved = caller.update(2, sdp(new_port.port))
        assert moved.status == 200 and moved.headers.get("Content-Type") == "application/sdp", moved
        assert bot_rtp_address(moved) == bot_rtp and direction_in(moved) == "sendrecv"
        assert new_port.quiet_then_count(1.0) >= 20
        assert rtp.quiet_then_count(0.5) == 0
    finally:
        new_port.close()
    caller.bye(3)


def test_a_reinvite_changing_the_codec_makes_the_bot_send_pcma(caller: Caller, rtp: RtpListener) -> None:
    ok = caller.invite(1, sdp(rtp.port))
    assert ok.status == 200 and formats_in(ok)[0] == "0"
    assert payload_types(rtp.packets(0.5)) == {0}
    changed = caller.invite(2, sdp(rtp.port, formats="8 101"))
    assert changed.status == 200 and formats_in(changed) == ["8", "101"], changed.body
    time.sleep(SETTLE_S)
    rtp.drain()
    packets = rtp.packets(1.5)  # the greeting is still being spoken
    assert len(packets) >= 60
    assert payload_types(packets) == {8}
    audio = b"".join(packet[12:] for packet in packets)
    assert smoothness(alaw_decode(audio)) > smoothness(ulaw_decode(audio)) + 0.05  # coded as A-law, not µ-law
    caller.bye(3)


def test_hold_is_answered_recvonly_and_the_bots_rtp_stops_until_resumed(caller: Caller, rtp: RtpListener) -> None:
    ok = caller.invite(1, sdp(rtp.port))
    assert ok.status == 200 and direction_in(ok) == "sendrecv"
    assert len(rtp.packets(0.5)) >= 10
    held = caller.invite(2, sdp(rtp.port, "sendonly"))
    assert held.status == 200 and direction_in(held) == "recvonly"
    assert rtp.quiet_then_count(1.0) == 0
    inactive = caller.invite(3, sdp(rtp.port, "inactive"))
    assert inactive.status == 200 and direction_in(inactive) == "inactive"
    assert rtp.quiet_then_count(0.5) == 0
    resumed = caller.invite(4, sdp(rtp.port))
    assert resumed.status == 200 and direction_in(resumed) == "sendrecv"
    assert rtp.quiet_then_count(1.0) >= 20
    caller.bye(5)


def test_an_invite_without_sdp_gets_an_offer_and_rtp_flows_after_the_acks_answer(
    caller: Caller, rtp: RtpListener
) -> None:
    ok = caller.invite(1, "", ack_body=sdp(rtp.port, formats="8 101"))
    assert ok.status == 200 and ok.headers.get("Content-Type") == "application/sdp"
    offered = next(line for line in ok.body.decode().splitlines() if line.startswith("m=audio"))
    assert offered.split()[3:] == ["0", "8", "101"]
    packets = rtp.packets(1.0)
    assert len(packets) >= 20
    assert payload_types(packets) == {8}  # PCMA, as the answer chose
    caller.bye(2)


def test_an_ack_without_an_answer_to_our_offer_ends_the_call_with_bye(caller: Caller) -> None:
    ok = caller.invite(1, "")
    assert ok.status == 200
    bye = caller.expect_request("BYE", timeout_s=5)
    assert bye.call_id == caller.call_id
    caller.answer_ok(bye)


def test_the_server_is_healthy_after_the_media_changes(callbot: CallbotProcess) -> None:
    text = callbot.log_path.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert callbot.health()[0] == 200
