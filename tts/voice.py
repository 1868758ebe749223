"""Loading a Piper voice once per process."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import onnxruntime
from piper import PiperConfig, PiperVoice, SynthesisConfig


class VoiceLoadError(RuntimeError):
    """The voice files are missing or unusable."""


def repeatable_synthesis() -> SynthesisConfig:
    """Settings that make the same text give the same samples (no generator or duration noise).

    Piper's defaults (noise_scale 0.667, noise_w 0.8 for most voices) draw random noise on every
    call, so two renderings of one text differ; this flattens prosody a little.
    """
    return SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)


@dataclass(eq=False)
class Voice:
    model_path: Path
    config_path: Path
    sample_rate: int
    piper: PiperVoice = field(repr=False)

    _loaded: ClassVar[dict[tuple[Path, Path, int], Voice]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def load(cls, model_path: Path, config_path: Path | None = None, onnx_threads: int = 0) -> Voice:
        """Load the voice (config defaults to `<model>.json`), or return the one already loaded.

        One voice serves every synthesis thread: ONNX Runtime's `run` is thread-safe, and several runs on
        one session give the same samples as alone (tests/tts/test_tts_streaming.py).
        `onnx_threads` caps ONNX Runtime's threads per synthesis (0: its default, all cores). With several
        synthesis workers, 1 (one core each) keeps them from competing for the cores.
        """
        model = Path(model_path).expanduser().resolve()
        config = Path(config_path).expanduser().resolve() if config_path else Path(f"{model}.json")
        key = (model, config, onnx_threads)
        with cls._lock:
            cached = cls._loaded.get(key)
            if cached is not None:
                return cached
            voice = cls._read(model, config, onnx_threads)
            cls._loaded[key] = voice
            return voice

    @classmethod
    def _read(cls, model: Path, config: Path, onnx_threads: int) -> Voice:
        for path, what in ((model, "Piper voice model"), (config, "Piper voice config")):
            if not path.is_file():
                raise VoiceLoadError(f"{what} not found: {path}")
        try:
            piper_config = PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as error:
            raise VoiceLoadError(f"{config} is not a Piper voice config: {error!r}") from error
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = onnx_threads
        if onnx_threads != 1:
            # Idle threads of a run would otherwise spin between operators, taking the cores the other
            # syntheses and the recogniser need; a synthesis alone is as fast without (benchmarks/tts_speed.py).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as error:
            raise VoiceLoadError(f"ONNX Runtime could not load {model}: {error}") from error
        piper = PiperVoice(session=session, config=piper_config)
        return cls(model_path=model, config_path=config, sample_rate=piper_config.sample_rate, piper=piper)

    def speak(self, text: str, synthesis: SynthesisConfig | None = None) -> np.ndarray:
        """Blocking: int16 samples at `sample_rate` for `text` (all its sentences, in order)."""
        chunks = [chunk.audio_int16_array for chunk in self.piper.synthesize(text, syn_config=synthesis)]
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(chunks)
