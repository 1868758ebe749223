"""What the call session needs from a speech recogniser, whatever runs behind it (Vosk, a fake in tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from asr.transcript import Transcript, Word


@dataclass(frozen=True)
class Hypothesis:
    """The words heard so far in the current utterance; `final` once the utterance is closed."""

    text: str = ""
    words: tuple[Word, ...] = ()  # with confidence and times relative to the utterance, when the recogniser gives them
    final: bool = False

    @classmethod
    def of(cls, transcript: Transcript) -> Hypothesis:
        return cls(text=transcript.text, words=transcript.words, final=True)


class RecognizerStream(Protocol):
    """One caller's audio, one utterance after another.

    push() only queues: decoding runs in the background, in push order, so a 20 ms audio loop never waits
    for the recogniser. finish() closes the utterance at the point it is called; audio pushed after that
    call belongs to the next utterance.
    """

    @property
    def pushed_bytes(self) -> int:
        """PCM16 bytes pushed since the stream was opened."""
        ...

    @property
    def decoded_bytes(self) -> int:
        """Of those, the bytes the recogniser has consumed; equals pushed_bytes once finish() returns."""
        ...

    @property
    def backlog_seconds(self) -> float:
        """Audio pushed but not decoded yet."""
        ...

    def push(self, pcm: bytes) -> None:
        """Queue PCM16 mono audio at the stream's input rate; never blocks, never awaits."""
        ...

    async def partial(self) -> Hypothesis:
        """The hypothesis once the audio pushed before this call is decoded (the last partial block aside)."""
        ...

    async def finish(self) -> Transcript:
        """Decode everything pushed so far, return the utterance's transcript, start a new utterance."""
        ...

    def close(self) -> None:
        """Give the recogniser's resources back; audio not decoded yet is discarded."""
        ...


class Recognizer(Protocol):
    def open_stream(self, input_rate: int) -> RecognizerStream: ...
