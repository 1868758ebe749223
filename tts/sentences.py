"""Cutting text into the pieces the voice speaks one at a time: sentences, and long sentences at clause breaks.

The first piece is kept short so the caller hears the bot soon; the next piece is synthesised while it plays.
A piece is always a whole clause: Piper gives a clause its own intonation and a short pause after the mark,
so a cut there sounds like a natural pause, and a cut inside a clause would not.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
# A comma, semicolon or colon followed by a space ("3,5" stays whole). French puts a space before ";" and ":",
# which stays with the clause before. Conjunctions ("et", "mais") are not cut: "et" joins words as often as
# clauses, and "mais" starting a clause almost always follows a comma anyway.
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")
# Endings that look like a full stop but are not one in French prompts.
_ABBREVIATIONS = ("M.", "Mme.", "Mlle.", "Dr.", "av.", "bd.", "St.", "Ste.", "cf.")

FIRST_PIECE_CHARS = 30  # about 2 s of speech: synthesised in ~0.1 s on one core
PIECE_CHARS = 60  # longer sentences are cut; their pieces are kept up to this length where the clauses allow


def split_sentences(text: str) -> list[str]:
    pieces = [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()]
    sentences: list[str] = []
    for piece in pieces:
        if sentences and sentences[-1].endswith(_ABBREVIATIONS) and piece[:1].isalnum():
            last_word = sentences[-1].rsplit(maxsplit=1)[-1]
            if last_word in _ABBREVIATIONS:
                sentences[-1] = f"{sentences[-1]} {piece}"
                continue
        sentences.append(piece)
    return sentences


def split_clauses(sentence: str) -> list[str]:
    return [c.strip() for c in _CLAUSE_END.split(sentence) if c.strip()]


def speech_pieces(text: str, first_chars: int = FIRST_PIECE_CHARS, piece_chars: int = PIECE_CHARS) -> list[str]:
    """`text` as pieces to synthesise in order: sentences, long ones cut at clauses, the first piece short.

    Clauses of one sentence are packed back together while the piece stays within the limit (`first_chars`
    for the text's first piece, `piece_chars` after), so a sentence is not cut more than it needs.
    """
    pieces: list[str] = []
    for sentence in split_sentences(text):
        limit = first_chars if not pieces else piece_chars
        if len(sentence) <= limit:
            pieces.append(sentence)
            continue
        current = ""
        for clause in split_clauses(sentence):
            if current and len(current) + 1 + len(clause) > limit:
                pieces.append(current)
                current = clause
                limit = piece_chars
            else:
                current = f"{current} {clause}" if current else clause
        pieces.append(current)
    return pieces
