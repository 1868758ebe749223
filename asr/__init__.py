"""Speech recognition: a Vosk model shared per process, streams decoded off the event loop, turn detection."""

from asr.engine import AsrEngine, AsrStream, VoskRecognizer, VoskStream
from asr.model import ModelLoadError, SearchLimits, SpeechModel
from asr.stream import Hypothesis, Recognizer, RecognizerStream
from asr.transcript import Transcript, Word
from asr.vad import TurnDetector, TurnEvent

__all__ = [
    "AsrEngine",
    "AsrStream",
    "Hypothesis",
    "ModelLoadError",
    "Recognizer",
    "RecognizerStream",
    "SearchLimits",
    "SpeechModel",
    "Transcript",
    "TurnDetector",
    "TurnEvent",
    "VoskRecognizer",
    "VoskStream",
    "Word",
]
