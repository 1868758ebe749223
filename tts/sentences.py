"""Cutting text into sentences, so the first one can be spoken while the next is synthesised."""

from __future__ import annotations

import re

_BOUNDARY = re.compile(r"(?<=[.!?…;])\s+|\n+")
# Endings that look like a full stop but are not one in French prompts.
_ABBREVIATIONS = ("M.", "Mme.", "Mlle.", "Dr.", "av.", "bd.", "St.", "Ste.", "cf.")


def split_sentences(text: str) -> list[str]:
    pieces = [p.strip() for p in _BOUNDARY.split(text) if p and p.strip()]
    sentences: list[str] = []
    for piece in pieces:
        if sentences and sentences[-1].endswith(_ABBREVIATIONS) and piece[:1].isalnum():
            last_word = sentences[-1].rsplit(maxsplit=1)[-1]
            if last_word in _ABBREVIATIONS:
                sentences[-1] = f"{sentences[-1]} {piece}"
                continue
        sentences.append(piece)
    return sentences
