"""A real softphone (baresip, headless) calls the endpoint: audio both ways and RFC 4733 DTMF."""

from __future__ import annotations

import asyncio
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from callbot.sip import SipCall, SipEndpoint
from tests.support.sip_peers import run_baresip_call, write_silence_padded_wav

pytestmark = pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip is not installed")

RATE = 8000


def tone(freq: float, seconds: float, amplitude: int = 8000) -> bytes:
    t = np.arange(int(RATE * seconds)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def dominant_frequency(pcm: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(float)))
    return float(np.fft.rfftfreq(len(pcm), 1 / RATE)[int(np.argmax(spectrum))])


async def test_baresip_call_audio_both_ways_and_dtmf(tmp_path: Path) -> None:
    heard: list[bytes] = []
    digits: list[str] = []

    async def handler(call: SipCall) -> None:
        call.audio.play(tone(440, 2.0))

        async def read() -> None:
            while (frame := await call.audio.read_frame()) is not None:
                heard.append(frame)

        async def keys() -> None:
            while True:
                digits.append(await call.dtmf.get())

        readers = [asyncio.ensure_future(read()), asyncio.ensure_future(keys())]
        await call.ended.wait()
        for task in readers:
            task.cancel()

    endpoint = SipEndpoint("127.0.0.1", 0, handler, "127.0.0.1", 0, 0, "callbot-test", 2)
    await endpoint.start()
    try:
        microphone = write_silence_padded_wav(tone(1000, 2.0), tmp_path / "mic.wav", lead_s=0.5, tail_s=4.0)
        result = await run_baresip_call(
            f"sip:bot@127.0.0.1:{endpoint.port}",
            microphone,
            tmp_path / "baresip",
            duration_s=6,
            dtmf="42#",
            dtmf_after_s=3.5,
        )
    finally:
        await endpoint.stop()
    assert result.returncode == 0, result.output[-3000:]
    assert "Call established" in result.output
    assert digits == ["4", "2", "#"]
    caller_audio = np.frombuffer(b"".join(heard), dtype="<i2")
    assert dominant_frequency(caller_audio) == pytest.approx(1000, abs=20)
    assert result.heard_wavs, result.output[-2000:]
    with wave.open(str(result.heard_wavs[0])) as recording:
        bot_audio = np.frombuffer(recording.readframes(recording.getnframes()), dtype="<i2")
    assert dominant_frequency(bot_audio) == pytest.approx(440, abs=20)
