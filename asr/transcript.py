"""What the recogniser heard."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Word:
    word: str
    start: float  # seconds from the start of the recogniser's audio
    end: float
    confidence: float


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float  # mean word confidence in 0..1; 0.0 when nothing was recognised
    words: tuple[Word, ...]
    audio_seconds: float  # audio fed for this utterance, at the transport's rate

    @property
    def is_empty(self) -> bool:
        return not self.text


def parse_vosk_result(raw: str) -> tuple[Word, ...]:
    """Words of one Vosk Result()/FinalResult() JSON document (SetWords(True))."""
    return _words(json.loads(raw), "result", "text")


def parse_vosk_partial(raw: str) -> tuple[Word, ...]:
    """Words of one Vosk PartialResult() JSON document (SetPartialWords(True) adds their details)."""
    return _words(json.loads(raw), "partial_result", "partial")


def _words(document: dict[str, Any], details_key: str, text_key: str) -> tuple[Word, ...]:
    words = []
    for item in document.get(details_key, ()):
        words.append(
            Word(
                word=str(item["word"]),
                start=float(item["start"]),
                end=float(item["end"]),
                confidence=float(item["conf"]),
            )
        )
    if not words and document.get(text_key):
        # Vosk gave text without word details: keep the text, with no confidence to report.
        return tuple(Word(word=w, start=0.0, end=0.0, confidence=0.0) for w in document[text_key].split())
    return tuple(words)


def make_transcript(words: tuple[Word, ...], audio_seconds: float) -> Transcript:
    confidence = sum(w.confidence for w in words) / len(words) if words else 0.0
    return Transcript(
        text=" ".join(w.word for w in words),
        confidence=confidence,
        words=words,
        audio_seconds=audio_seconds,
    )


def join_transcripts(parts: list[Transcript]) -> Transcript:
    """One utterance recognised in pieces (closed early at a pause, then continued): words in order, each
    piece's times shifted by the audio before it."""
    words: list[Word] = []
    offset = 0.0
    for part in parts:
        words += [Word(w.word, w.start + offset, w.end + offset, w.confidence) for w in part.words]
        offset += part.audio_seconds
    if all(not part.words for part in parts) and any(part.text for part in parts):
        # recognisers that give text without word details (fakes)
        text = " ".join(part.text for part in parts if part.text)
        confidence = min((part.confidence for part in parts if part.text), default=0.0)
        return Transcript(text, confidence, (), offset)
    return make_transcript(tuple(words), offset)
