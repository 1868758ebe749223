"""A call's outcome says who ended it, through the real server and a real SIP peer (sipp).

A line that goes silent (no RTP) is ended by the media time-out, and a server stopped by SIGTERM mid-call ends
its calls as "shutdown": neither is a caller hanging up.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signalements import Store
from tests.support.callbot_process import CallbotProcess
from tests.support.sip_peers import run_sipp

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("sipp") is None, reason="needs sipp")]
# A caller that answers nothing after its ACK and sends no audio; it waits for the bot's BYE.
SILENT_CALLER = Path(__file__).parents[1] / "callbot" / "sip" / "scenarios" / "uac_bot_hangs_up.xml"


def callbot_for(dialogue_server: Any, workdir: Path, **settings: str) -> CallbotProcess:
    return CallbotProcess(
        workdir,
        env_overrides={
            "CALLBOT_DIALOGUE_MODE": "external",
            "CALLBOT_DIALOGUE_URL": dialogue_server.url,
            "CALLBOT_DIALOGUE_TOKEN": dialogue_server.token,
            "CALLBOT_VAD_NO_INPUT_TIMEOUT_S": "60",  # the silence prompt must not end the call first
            **settings,
        },
    )


def outcomes(callbot: CallbotProcess) -> list[str | None]:
    store = Store(callbot.database_url, bytes.fromhex((callbot.workdir / "pseudonym.key").read_text().strip()))
    try:
        return [call.outcome for call in store.list_calls().items]
    finally:
        store.close()


def settled_outcomes(callbot: CallbotProcess, timeout_s: float) -> list[str | None]:
    """The outcomes once every call has one (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    while None in (found := outcomes(callbot)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


@pytest.fixture
def started(dialogue_server: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[CallbotProcess]:
    callbot = callbot_for(dialogue_server, tmp_path / "callbot", **request.param)
    callbot.start()
    yield callbot
    if callbot.process is not None and callbot.process.poll() is None:
        callbot.stop()


@pytest.mark.parametrize("started", [{"CALLBOT_SIP_RTP_TIMEOUT_S": "3"}], indirect=True)
async def test_a_line_without_audio_ends_as_a_media_timeout(started: CallbotProcess, tmp_path: Path) -> None:
    result = await run_sipp(SILENT_CALLER, f"127.0.0.1:{started.sip_port}", tmp_path / "sipp", timeout_s=30)
    assert result.returncode == 0, result.errors()
    assert await asyncio.to_thread(settled_outcomes, started, 10) == ["media_timeout"]


@pytest.mark.parametrize("started", [{}], indirect=True)
async def test_a_server_stopped_mid_call_ends_it_as_shutdown(started: CallbotProcess, tmp_path: Path) -> None:
    caller = asyncio.create_task(
        run_sipp(SILENT_CALLER, f"127.0.0.1:{started.sip_port}", tmp_path / "sipp", timeout_s=30)
    )
    deadline = time.monotonic() + 20
    while "callbot_calls_active 1" not in started.metrics():
        assert time.monotonic() < deadline, "the call never started"
        await asyncio.sleep(0.2)
    assert await asyncio.to_thread(started.stop) == 0  # SIGTERM
    result = await caller
    assert result.returncode == 0, result.errors()  # the caller got the BYE
    assert outcomes(started) == ["shutdown"]
