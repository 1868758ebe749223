"""Key 0 from a browser caller bridges to the agents: a real callbot process calls a real SIP agent (sipp's UAS,
echoing RTP) and relays the audio both ways (B2BUA).

The caller is an aiortc peer on /call/ws, as the call page is (benchmarks/webrtc_latency.py's Caller). The agents
take calls at any hour (the test must not meet the call-back offer because it runs at night or on a holiday).
What comes back of a 1 kHz tone the caller sends once bridged went caller -> callbot -> sipp -> callbot -> caller.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.webrtc_latency import MIC_RATE, Caller, loopback_only, poll, webrtc_config
from tests.support.callbot_process import CallbotProcess
from tests.support.sip_peers import SippServer, free_port, start_sipp_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(300),
    pytest.mark.skipif(shutil.which("sipp") is None, reason="needs sipp"),
]

TONE_HZ = 1000.0
TONE_S = 3.0
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture(scope="module")
def agent_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def callbot(
    dialogue_server: Any, tmp_path_factory: pytest.TempPathFactory, agent_port: int
) -> Iterator[CallbotProcess]:
    workdir = tmp_path_factory.mktemp("callbot-webrtc-bridge")
    (workdir / "pseudonym.key").write_text(dialogue_server.pseudonym_key.hex())
    always_open = {"transfer": {"hours": {day: ["00:00-24:00"] for day in DAYS}, "holidays": None}}
    process = CallbotProcess(
        workdir,
        config=webrtc_config(workdir, always_open),
        env_overrides={
            "CALLBOT_DATABASE_URL": dialogue_server.database_url,
            "CALLBOT_DIALOGUE_MODE": "external",
            "CALLBOT_DIALOGUE_URL": dialogue_server.url,
            "CALLBOT_DIALOGUE_TOKEN": dialogue_server.token,
            "CALLBOT_DIALOGUE_TIMEOUT_S": "30",
            "CALLBOT_TRANSFER_URI": f"sip:agent@127.0.0.1:{agent_port}",
            "CALLBOT_TRANSFER_TIMEOUT_S": "10",
        },
    )
    process.start()
    yield process
    assert process.stop() == 0, process.tail_log()


def tone(seconds: float, hz: float = TONE_HZ, rate: int = MIC_RATE) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.asarray(np.rint(8000 * np.sin(2 * np.pi * hz * t)).astype("<i2"))


def band_share(samples: np.ndarray, rate: int, hz: float = TONE_HZ, width_hz: float = 60.0) -> float:
    """The share of the signal's energy within `width_hz` of `hz`."""
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    total = float(spectrum[1:].sum())
    return float(spectrum[np.abs(freqs - hz) < width_hz].sum()) / total if total > 0 else 0.0


def received_between(caller: Caller, start: float, end: float) -> np.ndarray:
    heard = caller.heard
    parts = [s for s, at in zip(list(heard.frames), list(heard.times), strict=True) if start <= at <= end]
    return np.concatenate(parts) if parts else np.zeros(0)


def webrtc_call(callbot: CallbotProcess, started: float, timeout_s: float = 20) -> dict[str, Any]:
    """The browser call this test placed, once the store says how it ended."""
    deadline = time.monotonic() + timeout_s
    while True:
        page: Any = callbot.api("/api/calls?limit=20")
        ours = [c for c in page["items"] if c.get("channel") == "webrtc"]
        assert ours, f"no browser call stored: {page['items']}"
        call: Any = callbot.api(f"/api/calls/{ours[0]['call_id']}")
        if call.get("ended_at") or time.monotonic() > deadline:
            return dict(call)
        time.sleep(0.2)


async def test_key_0_bridges_the_browser_to_the_agents(
    callbot: CallbotProcess, agent_port: int, tmp_path: Path
) -> None:
    loopback_only()
    agent: SippServer = await start_sipp_server(
        tmp_path / "agent", "uas", calls=1, timeout_s=120, port=agent_port, extra=["-rtp_echo", "-mp", str(free_port())]
    )
    caller = Caller(callbot.http_port)
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        await caller.call()
        # The first browser call after the start may wait for the greeting at 16 kHz (synthesised in the
        # background with the other fixed lines): room for that on a loaded machine.
        greeting = await poll(lambda: caller.heard.first_loud_after(0.0), 90.0)
        assert greeting is not None, f"no greeting heard; {caller.messages}\n{callbot.tail_log(40)}"
        await asyncio.sleep(0.5)  # mid-greeting: a key acts at once
        await caller.send({"type": "dtmf", "key": "0"})
        try:
            await caller.wait_for({"type": "state", "state": "transferred"}, 30.0)
        except TimeoutError as error:
            raise AssertionError(f"{error}\n\ncallbot log:\n{callbot.tail_log(40)}") from None
        bridged_at = loop.time()
        await asyncio.sleep(1.0)  # the caller says nothing for a second: nothing at 1 kHz comes back
        caller.microphone.say(tone(TONE_S))
        await asyncio.sleep(TONE_S + 1.0)
        tone_from = caller.microphone.sent_time(0)
        assert tone_from is not None
        quiet = received_between(caller, bridged_at + 0.2, tone_from)
        echoed = received_between(caller, tone_from + 0.5, tone_from + TONE_S)
        rate = caller.heard.rate
        assert len(quiet) and len(echoed), "the bot's track stopped during the bridge"
        echoed_rms = float(np.sqrt(np.mean(echoed**2)))
        assert echoed_rms > 500, f"the tone did not come back through the agents' echo (RMS {echoed_rms:.0f})"
        assert band_share(echoed, rate) > 0.6, "what came back is not the caller's tone"
        assert "ended" not in {m.get("state") for m in caller.messages}, caller.messages
    finally:
        await caller.close()

    # The caller hung up: the callbot hangs up the agents' side, and sipp's one call is done.
    result = await agent.wait(30)
    await agent.stop()
    messages = result.messages()
    assert "INVITE sip:agent@127.0.0.1" in messages, messages[-2000:]
    assert "X-Callbot-Call-Id:" in messages
    assert "SIP/2.0 200 OK" in messages and "BYE sip:" in messages
    assert result.returncode == 0, f"sipp: {result.returncode}\n{result.stdout[-1500:]}\n{result.errors()}"

    call = webrtc_call(callbot, started)
    assert call["channel"] == "webrtc" and call["ended_at"], call
    assert call["outcome"] == "transferred", call
    assert call["handoffs"] and call["handoffs"][0]["reason"] == "dtmf", call["handoffs"]
    assert call["handoffs"][0]["succeeded"] is True, call["handoffs"]
    assert call["handoffs"][0]["target"] == f"sip:agent@127.0.0.1:{agent_port}"
