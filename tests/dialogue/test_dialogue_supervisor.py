"""ChildProcess supervision with a tiny real HTTP child: health check, restart after a crash, clean stop."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from dialogue.supervisor import ChildProcess, ChildSpec, ManagedDialogue, PortInUseError, free_port

CHILD = """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


async def wait_healthy(child: ChildProcess, http: aiohttp.ClientSession) -> None:
    for _ in range(400):  # polling an external process: nothing to wait on but its port
        if await child.healthy(http):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("child never became healthy")


async def test_child_is_restarted_after_a_crash_and_stopped_cleanly() -> None:
    port = free_port()
    child = ChildProcess(
        ChildSpec("fake", [sys.executable, "-c", CHILD, str(port)], f"http://127.0.0.1:{port}/health"), max_backoff_s=1
    )
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        await child.start()
        try:
            await asyncio.wait_for(wait_healthy(child, http), 20)
            assert child.process is not None
            first_pid = child.process.pid
            child.process.kill()
            await asyncio.wait_for(child.process.wait(), 5)
            assert not await child.healthy(http)
            await asyncio.wait_for(wait_healthy(child, http), 20)
            assert child.restarts == 1 and child.process.pid != first_pid
        finally:
            await child.stop(grace_s=5)
        assert not child.running


async def test_a_port_held_by_another_program_fails_the_start_at_once_and_says_which(tmp_path: Path) -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"")
    dialogue = ManagedDialogue(model, rasa_port=taken, action_port=free_port())
    try:
        with pytest.raises(PortInUseError, match=f"rasa port {taken}"):
            await dialogue._check_ports(grace_s=0.2)
        holder.close()
        await dialogue._check_ports(grace_s=0.2)  # free again: no error
    finally:
        holder.close()


def test_the_tracker_store_url_reaches_rasa_alone_through_its_environment(tmp_path: Path) -> None:
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"")
    url = "postgresql://rasa:s3cret@db.example:5432/callbot"
    dialogue = ManagedDialogue(model, rasa_port=free_port(), action_port=free_port(), tracker_store_url=url)
    specs = {process.spec.name: process.spec for process in dialogue._processes}
    assert specs["rasa"].env["RASA_TRACKER_STORE_URL"] == url
    assert "RASA_TRACKER_STORE_URL" not in specs["actions"].env
    assert not any("s3cret" in arg for spec in specs.values() for arg in spec.argv)  # never on a command line
    plain = ManagedDialogue(model, rasa_port=free_port(), action_port=free_port())
    assert all("RASA_TRACKER_STORE_URL" not in process.spec.env for process in plain._processes)
