"""Loading a Vosk model once per process."""

from __future__ import annotations

import re
import tempfile
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


@dataclass(frozen=True)
class SearchLimits:
    """How wide Kaldi's decoder searches; None keeps the model's own value (its conf/model.conf).

    Most of a warm recogniser's CPU goes to this search: a narrower one decodes each second of speech for less
    and may miss words a wider one finds (benchmarks/asr_speed.py --max-active --beam prints both).
    """

    max_active: int | None = None  # most decoding states kept per frame
    beam: float | None = None  # how far below the best path a state may fall and be kept

    def __post_init__(self) -> None:
        if self.max_active is not None and self.max_active < 1:
            raise ValueError(f"max_active must be at least 1, not {self.max_active}")
        if self.beam is not None and not self.beam > 0:
            raise ValueError(f"beam must be above 0, not {self.beam}")

    @property
    def narrowed(self) -> bool:
        return self.max_active is not None or self.beam is not None

    def applied_to(self, model_conf: str) -> str:
        """The decoder options of `model_conf` with these limits in place of the model's."""
        given = {name: value for name, value in (("--max-active", self.max_active), ("--beam", self.beam)) if value}
        kept = [line for line in model_conf.splitlines() if line.split("=", 1)[0].strip() not in given]
        added = [f"{name}={value}" for name, value in given.items()]
        if self.max_active is not None:
            # Kaldi keeps at least min-active states: never more than the new ceiling.
            kept = [_capped_min_active(line, self.max_active) for line in kept]
        return "\n".join(kept + added) + "\n"


def _capped_min_active(line: str, max_active: int) -> str:
    name, _, value = line.partition("=")
    if name.strip() == "--min-active" and value.strip().isdigit() and int(value) > max_active:
        return f"--min-active={max_active}"
    return line


def linked_copy(model: Path, into: Path) -> Path:
    """`into` made a copy of the model folder whose conf/ may be rewritten: every other file is a link (the large
    ones are not copied)."""
    for entry in model.iterdir():
        if entry.name != "conf":
            (into / entry.name).symlink_to(entry)
    (into / "conf").mkdir()
    for conf in (model / "conf").iterdir():
        (into / "conf" / conf.name).write_bytes(conf.read_bytes())
    return into


def _load_narrowed(path: Path, limits: SearchLimits) -> vosk.Model:
    """Vosk reads its search options only from the model folder: load a copy whose conf/ says `limits`.

    The copy links every other file of the model and is gone once loaded (Vosk holds the model in memory).
    """
    with tempfile.TemporaryDirectory(prefix="vosk-search-") as scratch:
        copy = linked_copy(path, Path(scratch))
        model_conf = path / "conf" / "model.conf"
        own = model_conf.read_text(encoding="utf-8", errors="replace") if model_conf.is_file() else ""
        (copy / "conf" / "model.conf").write_text(limits.applied_to(own), encoding="utf-8")
        return vosk.Model(str(copy))


@dataclass(eq=False)
class SpeechModel:
    """A loaded Vosk model, shared by every recogniser of the process."""

    path: Path
    sample_rate: int
    vosk_model: vosk.Model = field(repr=False)
    search: SearchLimits = SearchLimits()

    _loaded: ClassVar[dict[tuple[Path, SearchLimits], SpeechModel]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def load(cls, path: Path, log_level: int = -1, search: SearchLimits = SearchLimits()) -> SpeechModel:
        """Load the model at `path` searching within `search`, or return the instance already loaded so.

        `log_level` is Kaldi's global log level (-1 keeps it quiet, 0 prints its info lines).
        """
        resolved = Path(path).expanduser().resolve()
        with cls._lock:
            cached = cls._loaded.get((resolved, search))
            if cached is not None:
                return cached
            check_model_folder(resolved)
            vosk.SetLogLevel(log_level)
            try:
                model = _load_narrowed(resolved, search) if search.narrowed else vosk.Model(str(resolved))
            except Exception as error:
                raise ModelLoadError(f"Vosk could not load the model in {resolved}: {error}") from error
            loaded = cls(path=resolved, sample_rate=_read_sample_rate(resolved), vosk_model=model, search=search)
            cls._loaded[(resolved, search)] = loaded
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
