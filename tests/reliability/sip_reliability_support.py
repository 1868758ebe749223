"""What the SIP reliability tests share: a real callbot process, a stand-in dialogue, raw SIP messages.

The dialogue server is a stand-in (Rasa's REST shape, one fixed reply) because these tests are about the SIP
endpoint; the callbot itself is the real `python -m callbot run` with its real models, SIP and RTP.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from tests.support.callbot_process import CallbotProcess

OFFER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
)


class RasaLike(BaseHTTPRequestHandler):
    """Rasa's REST shape: every message answered with `reply`, the tracker's slots `slots`."""

    slots: ClassVar[dict[str, object]] = {}
    reply: ClassVar[list[dict[str, object]]] = [{"text": "Bonjour."}]

    def _json(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith("/status"):
            self._json({"model_file": "stand-in.tar.gz"})
        else:
            self._json({"slots": self.slots})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._json(self.reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def stand_in_dialogue(handler: type[RasaLike] = RasaLike) -> Iterator[str]:
    """A Rasa-shaped HTTP server on a free port; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="stand-in-dialogue", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def running_callbot(workdir: Path, sip_env: Mapping[str, str]) -> Iterator[CallbotProcess]:
    """The real callbot on free ports, its dialogue a stand-in; `sip_env` sets CALLBOT_SIP_* limits."""
    with stand_in_dialogue() as dialogue_url:
        process = CallbotProcess(
            workdir,
            env_overrides={
                "CALLBOT_DIALOGUE_MODE": "external",
                "CALLBOT_DIALOGUE_URL": dialogue_url,
                "CALLBOT_DIALOGUE_TIMEOUT_S": "5",
                **sip_env,
            },
        )
        process.start()
        try:
            yield process
        finally:
            code = process.stop()
            assert code == 0, process.tail_log()


def request(
    method: str,
    port: int,
    transport: str = "UDP",
    *,
    local_port: int = 5999,
    call_id: str | None = None,
    body: str = "",
) -> bytes:
    """A well-formed out-of-dialog request to the callbot on `port`."""
    branch = "z9hG4bK" + secrets.token_hex(8)
    call_id = call_id or secrets.token_hex(8)
    headers = [
        f"{method} sip:bot@127.0.0.1:{port} SIP/2.0",
        f"Via: SIP/2.0/{transport} 127.0.0.1:{local_port};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:tester@127.0.0.1:{local_port}>;tag={secrets.token_hex(4)}",
        f"To: <sip:bot@127.0.0.1:{port}>",
        f"Call-ID: {call_id}",
        f"CSeq: 1 {method}",
        f"Contact: <sip:tester@127.0.0.1:{local_port}>",
    ]
    if body:
        headers.append("Content-Type: application/sdp")
    headers.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


def status_of(data: bytes) -> int:
    first = data.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) > 1 and first[0] == b"SIP/2.0" and first[1].isdigit() else 0


def udp_exchange(port: int, message_for: object, timeout_s: float = 3.0, want_final: bool = True) -> int:
    """Send one request over UDP from a fresh socket; the first final status (or the first status) received."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        local_port = sock.getsockname()[1]
        assert callable(message_for)
        sock.sendto(message_for(local_port), ("127.0.0.1", port))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = sock.recv(65535)
            except TimeoutError:
                break
            status = status_of(data)
            if status >= 200 or (status and not want_final):
                return status
    return 0


def options_over_tcp(port: int, timeout_s: float = 3.0) -> int:
    """OPTIONS on a new TCP connection: the status received (0: none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        local_port = sock.getsockname()[1]
        sock.sendall(request("OPTIONS", port, "TCP", local_port=local_port))
        data = b""
        deadline = time.monotonic() + timeout_s
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            chunk = sock.recv(65535)
            if not chunk:
                break
            data += chunk
        return status_of(data)


def log_text(process: CallbotProcess) -> str:
    return process.log_path.read_text(errors="replace")
