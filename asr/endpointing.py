"""How long a silence ends the caller's turn: decided at each pause, not fixed.

A "oui" to a yes/no question is complete after a short silence; a phone number or an address is said in
pieces with pauses between them, and a sentence that stops on "rue de" or "et" is not finished. The voice
session asks this policy at each pause (asr.vad.TurnEvent.PAUSE) with what the dialogue expects and what the
recogniser heard so far, and sets the detector's end silence to the answer. When the answer prepared at that pause
shows the dialogue has what it asked (a yes or a no, a whole phone number, a whole address), a shorter silence
ends the turn: the caller was not pausing mid-answer but done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Words after which a French sentence cannot stop: articles, prepositions, conjunctions, fillers.
# Data, not understanding: they only make the bot wait longer before answering.
CONTINUATIONS = frozenset(
    """
    à au aux de du des d la le les l un une et ou mais donc puis que qu qui en sur sous dans par pour avec
    chez vers entre près numéro euh heu hum ben bah
    """.split()
)


class EndOfTurn(Protocol):
    def silence_ms(self, expects: str, partial: str) -> int:
        """The silence, in ms, that ends a turn answering a question of kind `expects` (dialogue.slots:
        "yes_no", "number", "place", "free") when the recogniser has heard `partial` so far."""
        ...

    def answered_silence_ms(self, expects: str) -> int | None:
        """The silence that ends a turn of kind `expects` once the dialogue has what it asked for; None: no
        shorter end (a free description goes on after its problem is named)."""
        ...


@dataclass(frozen=True)
class AdaptiveEndOfTurn:
    yes_no_ms: int = 450
    free_ms: int = 700
    place_ms: int = 900
    number_ms: int = 1100
    unfinished_extra_ms: int = 500  # the words so far stop on a word that cannot end a sentence
    answered_ms: int = 350  # a closed question answered whole (the dialogue says so at a pause)

    def silence_ms(self, expects: str, partial: str) -> int:
        words = partial.lower().replace("'", " ").split()
        base = {
            "yes_no": self.yes_no_ms if len(words) <= 4 else self.free_ms,
            "number": self.number_ms,
            "place": self.place_ms,
        }.get(expects, self.free_ms)
        if words and words[-1] in CONTINUATIONS:
            return base + self.unfinished_extra_ms
        return base

    def answered_silence_ms(self, expects: str) -> int | None:
        return self.answered_ms if expects in ("yes_no", "number", "place") else None


@dataclass(frozen=True)
class FixedEndOfTurn:
    """One silence for every turn: the behaviour before adaptation, kept for tests and comparisons."""

    ms: int = 800

    def silence_ms(self, expects: str, partial: str) -> int:
        return self.ms

    def answered_silence_ms(self, expects: str) -> int | None:
        return None
