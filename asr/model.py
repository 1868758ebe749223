"""Loading a Vosk model once per process."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import vosk

DEFAULT_MODEL_RATE = 16000
_SAMPLE_FREQUENCY = re.compile(r"^--sample-frequency=(\d+(?:\.\d+)?)\s*$", re.MULTILINE)


class ModelLoadError(RuntimeError):
    """The folder does not hold a usable Vosk model."""


def _acoustic_model_file(path: Path) -> Path | None:
    # Recent Vosk models keep it in am/, some older ones at the root.
    for candidate in (path / "am" / "final.mdl", path / "final.mdl"):
        if candidate.is_file():
            return candidate
    return None


def _read_sample_rate(path: Path) -> int:
    mfcc = path / "conf" / "mfcc.conf"
    if mfcc.is_file():
        match = _SAMPLE_FREQUENCY.search(mfcc.read_text(encoding="utf-8", errors="replace"))
        if match:
            return int(float(match.group(1)))
    # Kaldi's default when the feature config does not say.
    return DEFAULT_MODEL_RATE


def check_model_folder(path: Path) -> None:
    """Raise ModelLoadError unless `path` looks like a Vosk model folder."""
    if not path.exists():
        raise ModelLoadError(f"Vosk model folder not found: {path}")
    if not path.is_dir():
        raise ModelLoadError(f"Vosk model path is not a folder: {path}")
    missing = []
    if _acoustic_model_file(path) is None:
        missing.append("am/final.mdl")
    if not (path / "conf" / "mfcc.conf").is_file():
        missing.append("conf/mfcc.conf")
    if missing:
        raise ModelLoadError(f"{path} is not a Vosk model folder (missing {', '.join(missing)})")


@dataclass(eq=False)
class SpeechModel:
    """A loaded Vosk model, shared by every recogniser of the process."""

    path: Path
    sample_rate: int
    vosk_model: vosk.Model = field(repr=False)

    _loaded: ClassVar[dict[Path, SpeechModel]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def load(cls, path: Path, log_level: int = -1) -> SpeechModel:
        """Load the model at `path`, or return the instance already loaded from there.

        `log_level` is Kaldi's global log level (-1 keeps it quiet, 0 prints its info lines).
        """
        resolved = Path(path).expanduser().resolve()
        with cls._lock:
            cached = cls._loaded.get(resolved)
            if cached is not None:
                return cached
            check_model_folder(resolved)
            vosk.SetLogLevel(log_level)
            try:
                model = vosk.Model(str(resolved))
            except Exception as error:
                raise ModelLoadError(f"Vosk could not load the model in {resolved}: {error}") from error
            loaded = cls(path=resolved, sample_rate=_read_sample_rate(resolved), vosk_model=model)
            cls._loaded[resolved] = loaded
            return loaded

    def new_recognizer(self) -> vosk.KaldiRecognizer:
        recognizer = vosk.KaldiRecognizer(self.vosk_model, float(self.sample_rate))
        recognizer.SetWords(True)
        # Partial hypotheses as text only. With word details (SetPartialWords), Vosk 0.3.45 gives a partial's words
        # only once the lattice has aligned them, a second or more behind the plain text: at a caller's 250 ms pause
        # the words so far were always empty, so no answer was ever prepared at a pause. Final results keep their
        # confidences and times.
        recognizer.SetPartialWords(False)
        return recognizer
