"""Real calls into the real callbot: baresip and sipp from Debian, Vosk and Piper demo models, the trained Rasa model.

The caller's side is recorded by baresip, so what the caller heard is checked against Piper's rendering of the
texts the bot stored (loudness envelopes: they survive G.711 and are not thrown off by Piper's sampling noise).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.e2e.conftest import RATE, caller_wav, render
from tests.support.audio_match import locate, read_wav
from tests.support.callbot_process import CallbotProcess
from tests.support.sip_peers import run_baresip_call, run_sipp, start_sipp_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("baresip") is None or shutil.which("sipp") is None, reason="needs baresip+sipp"),
]
SCENARIOS = Path(__file__).parents[1] / "callbot" / "sip" / "scenarios"


def latest_call(callbot: CallbotProcess) -> dict[str, Any]:
    page: Any = callbot.api("/api/calls?limit=1")
    assert page["items"], "no call was stored"
    detail: Any = callbot.api(f"/api/calls/{page['items'][0]['call_id']}")
    return dict(detail)


def wait_for_outcome(callbot: CallbotProcess, timeout_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        call = latest_call(callbot)
        if call.get("outcome") or time.monotonic() > deadline:
            return call
        time.sleep(0.3)


async def test_caller_hears_the_greeting_is_understood_and_hears_the_reply(
    callbot: CallbotProcess, rendered_prompts: dict[str, np.ndarray], tmp_path: Path
) -> None:
    greeting = rendered_prompts["greeting"]
    speak_at = len(greeting) / RATE + 2.0  # after the greeting, which the caller cannot interrupt
    microphone = caller_wav(tmp_path, "stp_fr_07.wav", lead_s=speak_at, tail_s=9.0)
    result = await run_baresip_call(
        f"sip:bot@127.0.0.1:{callbot.sip_port}", microphone, tmp_path / "baresip", duration_s=int(speak_at + 14)
    )
    assert "Call established" in result.output, result.output[-2000:]
    assert result.heard_wavs, result.output[-2000:]
    heard, rate = read_wav(result.heard_wavs[0])
    assert rate == RATE

    # The greeting (automated assistant notice) is heard at once.
    match = locate(heard, greeting, RATE)
    assert match.correlation > 0.8, match
    assert match.offset_s < 1.5, match

    call = wait_for_outcome(callbot)
    turns = call["turns"]
    assert turns[0]["speaker"] == "bot" and "assistant automatique" in turns[0]["text"]
    caller_turns = [t for t in turns if t["speaker"] == "caller"]
    assert caller_turns, turns
    # The recogniser's output (Korean model: Korean-ish words for French speech) with its confidence.
    assert caller_turns[0]["text"].strip()
    assert 0.0 < caller_turns[0]["asr_confidence"] <= 1.0
    first_caller = turns.index(caller_turns[0])
    replies = [t for t in turns[first_caller + 1 :] if t["speaker"] == "bot"]
    assert replies, f"the dialogue did not answer: {turns}"

    # The reply is spoken back after the caller's words.
    reply_audio = await render(replies[0]["text"])
    reply_match = locate(heard, reply_audio, RATE, search_from_s=speak_at)
    assert reply_match.correlation > 0.7, (reply_match, replies[0]["text"])

    # baresip hung up (BYE from the caller): the call is closed and nothing stays held.
    assert call["outcome"] == "caller_hung_up", call
    assert call["ended_at"] is not None
    metrics = callbot.metrics()
    assert "callbot_calls_active 0" in metrics
    # Collections ran during the call, none long enough to hold the calls' audio past the media clock's 0.2 s
    # (the started server's own objects are out of their reach: callbot.memory.freeze_startup_heap).
    collections = int(re.search(r"^callbot_gc_pause_seconds_count (\d+)$", metrics, re.M)[1])  # type: ignore[index]
    short = int(re.search(r'^callbot_gc_pause_seconds_bucket\{le="0.2"\} (\d+)$', metrics, re.M)[1])  # type: ignore[index]
    assert collections > 0 and short == collections, metrics


async def test_pressing_0_transfers_the_call_by_refer_to_the_agent(
    callbot: CallbotProcess, agent_port: int, tmp_path: Path
) -> None:
    agent = await start_sipp_server(tmp_path / "agent", "uas", calls=1, timeout_s=60, port=agent_port)
    try:
        microphone = caller_wav(tmp_path, None, lead_s=40.0, tail_s=0.0)
        result = await run_baresip_call(
            f"sip:bot@127.0.0.1:{callbot.sip_port}",
            microphone,
            tmp_path / "baresip",
            duration_s=40,
            dtmf="0",
            dtmf_after_s=3.0,
        )
        agent_result = await agent.wait(45)
    finally:
        await agent.stop()
    assert "Call established" in result.output, result.output[-2000:]
    assert agent_result.returncode == 0, agent_result.errors()
    assert "X-Callbot-Call-Id" in agent_result.messages()
    call = wait_for_outcome(callbot)
    assert call["outcome"] == "transferred", call
    assert call["handoffs"] and call["handoffs"][0]["reason"] == "dtmf"
    assert call["handoffs"][0]["succeeded"] is True
    assert call["handoffs"][0]["target"] == f"sip:agent@127.0.0.1:{agent_port}"


async def test_cancel_before_the_answer(callbot: CallbotProcess, tmp_path: Path) -> None:
    before: Any = callbot.api("/api/calls?limit=1")
    result = await run_sipp(SCENARIOS / "uac_cancel.xml", f"127.0.0.1:{callbot.sip_port}", tmp_path, timeout_s=20)
    assert result.returncode == 0, result.errors()
    after: Any = callbot.api("/api/calls?limit=1")
    assert after["total"] == before["total"], "a cancelled call must not become a conversation"
    assert "callbot_calls_active 0" in callbot.metrics()


async def test_a_burst_of_malformed_messages_disturbs_nothing(callbot: CallbotProcess, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    garbage = [
        b"",
        b"\x00" * 64,
        b"INVITE\r\n\r\n",
        b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\nVia: nonsense\r\n\r\n",
        b"SIP/2.0 200 OK\r\nCSeq: x\r\n\r\n",
        b"OPTIONS sip:bot@127.0.0.1 SIP/2.0\r\nContent-Length: 99999\r\n\r\n",
        ("BYE sip:bot@127.0.0.1 SIP/2.0\r\n" + "X-Filler: a\r\n" * 500 + "\r\n").encode(),
    ]
    garbage += [bytes(rng.integers(0, 256, size=int(rng.integers(1, 1400)), dtype=np.uint8)) for _ in range(200)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in garbage:
            sock.sendto(datagram, ("127.0.0.1", callbot.sip_port))
    await asyncio.sleep(0.5)
    options = await run_sipp(SCENARIOS / "uac_options.xml", f"127.0.0.1:{callbot.sip_port}", tmp_path / "o")
    assert options.returncode == 0, options.errors()
    call = await run_sipp("uac", f"127.0.0.1:{callbot.sip_port}", tmp_path / "c", timeout_s=30)
    assert call.returncode == 0, call.errors()
    assert callbot.health()[0] == 200
