"""A rolling upgrade: `callbot drain` makes the running server refuse new calls (503, OPTIONS too, so a dispatcher
moves on) while the call up goes on to its end; then the server stops by itself, nothing cut."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.reliability.sip_reliability_support import request, running_callbot, udp_exchange
from tests.support.callbot_process import REPO
from tests.support.sip_peers import run_sipp

CALL_S = 12


def calls_active(metrics: str) -> int:
    line = next(line for line in metrics.splitlines() if line.startswith("callbot_calls_active "))
    return int(float(line.split()[1]))


async def test_drain_refuses_new_calls_lets_the_call_up_finish_then_stops(tmp_path: Path) -> None:
    with running_callbot(tmp_path / "callbot", {}) as callbot:
        assert callbot.process is not None
        long_call = asyncio.create_task(
            run_sipp(
                "uac",
                f"127.0.0.1:{callbot.sip_port}",
                tmp_path / "sipp",
                timeout_s=60,
                extra=["-d", str(CALL_S * 1000)],
            )
        )
        deadline = time.monotonic() + 20
        while calls_active(await asyncio.to_thread(callbot.metrics)) < 1:
            assert time.monotonic() < deadline, callbot.tail_log()
            await asyncio.sleep(0.2)
        assert (
            udp_exchange(callbot.sip_port, lambda local: request("OPTIONS", callbot.sip_port, local_port=local)) == 200
        )

        drained = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "callbot", "--config", str(callbot.config), "drain"],
            cwd=REPO,
            env=callbot.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert drained.returncode == 0, drained.stderr
        assert str(callbot.process.pid) in drained.stdout

        invite = request("INVITE", callbot.sip_port, body="")
        refused = await asyncio.to_thread(
            udp_exchange, callbot.sip_port, lambda local: invite.replace(b":5999", f":{local}".encode())
        )
        assert refused == 503
        probe = await asyncio.to_thread(
            udp_exchange, callbot.sip_port, lambda local: request("OPTIONS", callbot.sip_port, local_port=local)
        )
        assert probe == 503
        assert callbot.process.poll() is None  # still serving the call up

        result = await long_call
        assert result.returncode == 0, (result.errors(), callbot.tail_log())  # the call ran to its own BYE
        exited = await asyncio.to_thread(callbot.process.wait, 30)
        assert exited == 0, callbot.tail_log()
        assert "drained: no call left, stopping" in callbot.tail_log(200)

    database = Path(callbot.database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as connection:
        outcomes = [row[0] for row in connection.execute("SELECT outcome FROM calls")]
    assert outcomes == ["caller_hung_up"]  # one call, closed by its caller, not cut by the stop
    assert not (Path(callbot.env()["CALLBOT_DATABASE_SPILL_FILE"]).parent / "callbot.pid").exists()
