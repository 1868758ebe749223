"""Speech recognition: a Vosk model shared per process, streams fed off the event loop, turn detection."""

from asr.engine import AsrEngine, AsrStream
from asr.model import ModelLoadError, SpeechModel
from asr.transcript import Transcript, Word
from asr.vad import TurnDetector, TurnEvent

__all__ = [
    "AsrEngine",
    "AsrStream",
    "ModelLoadError",
    "SpeechModel",
    "Transcript",
    "TurnDetector",
    "TurnEvent",
    "Word",
]
