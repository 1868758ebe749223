"""The Kamailio configuration of tests/support/kamailio.py, on its own: an INVITE answered 503 (a draining or full
callbot) or not answered at all goes on to the next destination, and that destination is then left out. The
destinations are stand-ins (a 503 one, a silent one, a sipp that answers), so that the order is deterministic:
probing is off, round-robin starts each call at the next destination and walks the others on failure.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.kamailio import KAMAILIO, KamailioProxy
from tests.support.sip_peers import free_port, run_sipp, start_sipp_server

SCENARIOS = Path(__file__).parents[1] / "callbot" / "sip" / "scenarios"
CALLS = 4

pytestmark = [
    pytest.mark.skipif(shutil.which(KAMAILIO) is None, reason="kamailio not installed (scripts/setup.sh test)"),
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp not installed (Debian package sip-tester)"),
]


class StandIn:
    """A UDP SIP destination that notes each INVITE's Call-ID and answers 503 + Retry-After, or nothing."""

    def __init__(self, answer_503: bool) -> None:
        self.answer_503 = answer_503
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.invites: set[str] = set()
        self._stop = threading.Event()

    def serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            text = data.decode(errors="replace")
            if not text.startswith("INVITE "):
                continue  # the proxy's ACK for the 503
            call_id = re.search(r"^Call-ID:\s*(.+?)\r$", text, re.M | re.I)
            self.invites.add(call_id.group(1) if call_id else "?")
            if self.answer_503:
                self.sock.sendto(self._busy(text), peer)

    @staticmethod
    def _busy(invite: str) -> bytes:
        wanted = ("via", "from", "to", "call-id", "cseq")
        headers = [line for line in invite.split("\r\n")[1:] if line.split(":", 1)[0].strip().lower() in wanted]
        headers = [f"{line};tag=standin" if line.lower().startswith("to:") else line for line in headers]
        lines = ["SIP/2.0 503 Service Unavailable", *headers, "Retry-After: 30", "Content-Length: 0", "", ""]
        return "\r\n".join(lines).encode()

    @contextmanager
    def running(self) -> Iterator[StandIn]:
        thread = threading.Thread(target=self.serve, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(5)
            self.sock.close()


async def test_an_invite_refused_503_or_unanswered_goes_to_the_next_callbot(tmp_path: Path) -> None:
    busy, silent = StandIn(answer_503=True), StandIn(answer_503=False)
    answering_port = free_port(tcp_too=False)
    with busy.running(), silent.running():
        answering = await start_sipp_server(
            tmp_path / "uas", SCENARIOS / "uas_answers_via_proxy.xml", calls=CALLS, timeout_s=60, port=answering_port
        )
        destinations = [f"127.0.0.1:{busy.port}", f"127.0.0.1:{silent.port}", f"127.0.0.1:{answering_port}"]
        proxy = KamailioProxy(tmp_path / "kamailio", destinations, ping_interval_s=0, invite_timeout_ms=2000)
        try:
            await asyncio.to_thread(proxy.start)
            scenario = (SCENARIOS / "uac_speaks_via_proxy.xml").read_text()
            (tmp_path / "uac.xml").write_text(
                scenario.replace("CALLER_AUDIO", "silence.ulaw").replace("CALL_MS", "300")
            )
            (tmp_path / "silence.ulaw").write_bytes(b"\xff" * 1600)  # 0.2 s of mu-law silence
            result = await run_sipp(
                tmp_path / "uac.xml",
                proxy.address,
                tmp_path,
                calls=CALLS,
                concurrent=1,
                timeout_s=60,
                extra=["-mp", str(free_port(tcp_too=False)), "-trace_screen"],
            )
            served = await answering.wait(30)
        finally:
            await answering.stop()
            proxy.stop()
    assert result.returncode == 0, (result.errors()[-2000:], proxy.tail_log())
    assert served.returncode == 0, served.errors()[-2000:]
    # Each failing destination was tried once, then left out; every call ended at the answering one.
    assert len(busy.invites) == 1 and len(silent.invites) == 1, (busy.invites, silent.invites)
    log = proxy.log_path.read_text(errors="replace")
    assert log.count("failed over to") >= 2, proxy.tail_log()
