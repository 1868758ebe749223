"""The dialogue's fixed lines are synthesised ahead only while no call is up (callbot.server.warm_when_idle)."""

from __future__ import annotations

import asyncio

import pytest

from callbot import server
from callbot.server import warm_when_idle
from tts import FakeSynthesizer

LINES = ["Quel problème souhaitez-vous signaler ?", "Dans quelle commune ?", "Merci et au revoir."]


async def test_the_lines_wait_while_a_call_is_up_and_are_all_warmed_once_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "IDLE_POLL_S", 0.01)
    tts = FakeSynthesizer(chunk_delay=0.01)
    calls = 1
    warming = asyncio.create_task(warm_when_idle(tts, LINES, [8000, 16000], lambda: calls))
    await asyncio.sleep(0.2)
    assert tts.requests == []  # nothing synthesised beside a call
    calls = 0
    while not tts.cached(LINES[0], 8000):
        await asyncio.sleep(0.005)
    calls = 1  # a call comes in: the next line waits for it to end
    await asyncio.sleep(0.2)
    assert not any(tts.cached(line, 16000) for line in LINES) and not tts.cached(LINES[2], 8000)
    calls = 0
    await asyncio.wait_for(warming, 5)
    assert all(tts.cached(line, rate) for line in LINES for rate in (8000, 16000))


async def test_a_synthesiser_that_fails_ends_the_warm_up_quietly(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(FakeSynthesizer):
        async def warm(self, texts: object, sample_rate: int) -> None:
            raise RuntimeError("voice gone")

    await asyncio.wait_for(warm_when_idle(Broken(), LINES, [8000], lambda: 0), 5)
    assert "could not synthesise the dialogue's fixed lines ahead" in caplog.text
