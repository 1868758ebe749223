"""Speech synthesis: a Piper voice loaded once, sentences streamed off the event loop, prompts cached."""

from piper import SynthesisConfig

from tts.engine import TtsEngine, resample_pcm
from tts.sentences import split_sentences
from tts.voice import Voice, VoiceLoadError, repeatable_synthesis

__all__ = [
    "SynthesisConfig",
    "TtsEngine",
    "Voice",
    "VoiceLoadError",
    "repeatable_synthesis",
    "resample_pcm",
    "split_sentences",
]
