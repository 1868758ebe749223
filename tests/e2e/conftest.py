"""A real callbot process (demo models, real SIP/RTP, the session's Rasa server) for end-to-end calls."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from callbot.config import load_settings, resolve_path
from tests.support.callbot_process import CallbotProcess
from tests.support.sip_peers import free_port, write_silence_padded_wav

AUDIO = Path(__file__).parent / "audio"
RATE = 8000


@pytest.fixture(scope="module")
def agent_port() -> int:
    """Where the human agent (a sipp UAS, started by the transfer test) listens."""
    return free_port()


@pytest.fixture(scope="module")
def callbot(
    dialogue_server: Any, tmp_path_factory: pytest.TempPathFactory, agent_port: int
) -> Iterator[CallbotProcess]:
    workdir = tmp_path_factory.mktemp("callbot")
    (workdir / "pseudonym.key").write_text(dialogue_server.pseudonym_key.hex())
    # The demo models, and agents who take calls at any hour: the transfer test must not meet a call-back offer
    # because it runs at night or on a holiday.
    config = workdir / "config.yaml"
    overlay = yaml.safe_load(resolve_path("config/demo-models.yaml").read_text(encoding="utf-8"))
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    overlay["transfer"] = {"hours": {day: ["00:00-24:00"] for day in days}, "holidays": None}
    config.write_text(yaml.safe_dump(overlay), encoding="utf-8")
    process = CallbotProcess(
        workdir,
        config=config,
        env_overrides={
            "CALLBOT_DATABASE_URL": dialogue_server.database_url,
            "CALLBOT_DIALOGUE_MODE": "external",
            "CALLBOT_DIALOGUE_URL": dialogue_server.url,
            "CALLBOT_DIALOGUE_TOKEN": dialogue_server.token,
            "CALLBOT_DIALOGUE_TIMEOUT_S": "30",
            "CALLBOT_TRANSFER_URI": f"sip:agent@127.0.0.1:{agent_port}",
            "CALLBOT_TRANSFER_TIMEOUT_S": "10",
            "CALLBOT_VAD_NO_INPUT_TIMEOUT_S": "4",
            "CALLBOT_SIP_ANSWER_DELAY_S": "0.5",
            # Piper without its random noise, so what the caller hears can be compared to an exact rendering.
            "CALLBOT_TTS_NOISE_SCALE": "0",
            "CALLBOT_TTS_NOISE_W_SCALE": "0",
        },
    )
    process.start()
    yield process
    assert process.stop() == 0, process.tail_log()


async def render(text: str) -> np.ndarray:
    """The demo voice's rendering of `text` at the phone's rate, as the caller should hear it (noise off)."""
    return np.frombuffer(await _tts_engine().render(text, RATE), dtype="<i2").astype(np.float64)


@functools.cache
def _tts_engine() -> Any:
    from tts import TtsEngine, Voice, repeatable_synthesis

    settings = load_settings(Path("config/demo-models.yaml"), environ={})
    voice = Voice.load(resolve_path(settings.models.tts), None)
    return TtsEngine(voice, workers=1, cache_size=8, synthesis=repeatable_synthesis())


@pytest.fixture(scope="module")
def rendered_prompts() -> dict[str, np.ndarray]:
    prompts = load_settings(environ={}).prompts
    names = ("greeting", "transferring", "transfer_failed")
    return {name: asyncio.run(render(getattr(prompts, name))) for name in names}


def caller_wav(tmp_path: Path, clip: str | None, lead_s: float, tail_s: float) -> Path:
    """The caller's microphone: silence, a French clip (8 kHz), silence."""
    pcm = b""
    if clip is not None:
        from tests.support.audio_match import read_wav

        samples, rate = read_wav(AUDIO / clip)
        import soxr

        pcm = soxr.resample(samples.astype(np.int16), rate, RATE).astype("<i2").tobytes()
    return write_silence_padded_wav(pcm, tmp_path / "caller.wav", lead_s=lead_s, tail_s=tail_s)
