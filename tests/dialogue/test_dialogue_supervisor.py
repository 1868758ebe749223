"""ChildProcess supervision with a tiny real HTTP child: health check, restart after a crash, clean stop."""

from __future__ import annotations

import asyncio
import sys

import aiohttp

from dialogue.supervisor import ChildProcess, ChildSpec, free_port

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
