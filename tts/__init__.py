"""Speech synthesis: a Piper voice loaded once, text streamed in short pieces off the event loop, prompts cached."""

from piper import SynthesisConfig

from tts.engine import TtsEngine
from tts.fake import FakeSynthesizer
from tts.sentences import speech_pieces, split_clauses, split_sentences
from tts.stream import Synthesizer
from tts.voice import Voice, VoiceLoadError, repeatable_synthesis

__all__ = [
    "FakeSynthesizer",
    "SynthesisConfig",
    "Synthesizer",
    "TtsEngine",
    "Voice",
    "VoiceLoadError",
    "repeatable_synthesis",
    "speech_pieces",
    "split_clauses",
    "split_sentences",
]
