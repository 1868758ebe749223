"""A seeded, deterministic imitation of what a French speech recogniser makes of a caller's line.

What it does, each step drawn from a random.Random seeded by (seed, key), so the same line always gets the same noise:
lower case, punctuation gone (apostrophes and inner hyphens stay, as Vosk writes them), numbers spoken as words
("14" -> "quatorze", phone numbers digit pair by digit pair), homophones ("c'est" -> "sait", "ça" -> "sa"),
dropped "ne" and other small words, missing liaisons and plural/participle endings ("cassés" -> "cassé"),
hesitations ("euh"), and a truncated first syllable (the VAD clipping the start of the turn).
Words that carry the report (street names, communes, numbers) are never dropped: a recogniser that loses them
makes a different test, not a noisier one.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

_UNITS = [
    "zéro",
    "un",
    "deux",
    "trois",
    "quatre",
    "cinq",
    "six",
    "sept",
    "huit",
    "neuf",
    "dix",
    "onze",
    "douze",
    "treize",
    "quatorze",
    "quinze",
    "seize",
]
_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}


def french_number_words(number: int) -> str:
    """0..999999 in words, written as a recogniser outputs them: "soixante dix huit", "cent vingt et un"."""
    if number < 0 or number > 999_999:
        raise ValueError(f"number out of range: {number}")
    if number < 17:
        return _UNITS[number]
    if number < 20:
        return "dix " + _UNITS[number - 10]
    if number < 70:
        tens, unit = divmod(number, 10)
        if unit == 0:
            return _TENS[tens]
        return f"{_TENS[tens]} et un" if unit == 1 else f"{_TENS[tens]} {_UNITS[unit]}"
    if number < 80:
        return "soixante et onze" if number == 71 else "soixante " + french_number_words(number - 60)
    if number < 100:
        return "quatre vingt" + ("" if number == 80 else " " + french_number_words(number - 80))
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        head = "cent" if hundreds == 1 else f"{_UNITS[hundreds]} cent"
        return head if rest == 0 else f"{head} {french_number_words(rest)}"
    thousands, rest = divmod(number, 1000)
    head = "mille" if thousands == 1 else f"{french_number_words(thousands)} mille"
    return head if rest == 0 else f"{head} {french_number_words(rest)}"


_PHONE = re.compile(r"(?:\+33\s?|0)[1-9](?:[\s.]?\d{2}){4}")
_NUMBER = re.compile(r"\d+")
_PUNCTUATION = re.compile(r"[^\w\s'-]|(?<!\w)-|-(?!\w)")


def _spell_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if digits.startswith("33"):
        digits = "0" + digits[2:]
    pairs = [digits[i : i + 2] for i in range(0, len(digits), 2)]
    words = []
    for pair in pairs:
        if pair.startswith("0"):
            words.append(f"zéro {_UNITS[int(pair[1])]}")
        else:
            words.append(french_number_words(int(pair)))
    return " ".join(words)


def numbers_to_words(text: str) -> str:
    """Phone numbers pair by pair, then every other digit run as a cardinal."""
    text = _PHONE.sub(_spell_phone, text)
    return _NUMBER.sub(lambda m: french_number_words(int(m.group(0))) if len(m.group(0)) <= 6 else m.group(0), text)


# Whole-phrase confusions a recogniser makes in spontaneous French (left side is matched on word boundaries).
_SUBSTITUTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("c'est", ("sait", "ses", "c'est")),
    ("ça", ("sa",)),
    ("il y a", ("y a", "il y a")),
    ("je ne sais pas", ("je sais pas", "chais pas")),
    ("je suis", ("chuis",)),
    ("il faut", ("faut",)),
    ("qu'il", ("qui",)),
    ("est", ("et",)),
    ("et", ("est",)),
    ("à", ("a",)),
    ("où", ("ou",)),
    ("ils ont", ("ils sont",)),
    ("on a", ("on n'a",)),
    ("s'il vous plaît", ("s'il vous plait", "si vous plaît")),
    ("peut-être", ("peut être",)),
    ("répéter", ("répété",)),
    ("depuis", ("puis",)),
    ("cassés", ("cassé",)),
    ("cassée", ("cassé",)),
    ("tombée", ("tombé", "tomber")),
    ("arrachés", ("arraché",)),
    ("garée", ("garé", "garer")),
    ("garées", ("garé",)),
    ("bis", ("bisse", "bis")),
    ("ter", ("terre", "ter")),
    ("lampadaires", ("lampadaire",)),
    ("poubelles", ("poubelle",)),
)
# Small words a recogniser drops (never words that carry the report).
_DROPPABLE = frozenset(
    {
        "ne",
        "n'",
        "le",
        "la",
        "les",
        "de",
        "du",
        "des",
        "un",
        "une",
        "bien",
        "très",
        "alors",
        "donc",
        "madame",
        "monsieur",
        "vraiment",
        "juste",
        "euh",
    }
)
_SUBSTITUTION_TOKENS = tuple(
    (tuple(source.split()), tuple(tuple(t.split()) for t in targets)) for source, targets in _SUBSTITUTIONS
)
_TRUNCATIONS = {
    "bonjour": "jour",
    "bonsoir": "soir",
    "allô": "lo",
    "allo": "lo",
    "excusez-moi": "scusez-moi",
    "écoutez": "coutez",
    "voilà": "là",
}


def _protected_mask(words: list[str], phrases: list[list[str]]) -> list[bool]:
    mask = [False] * len(words)
    for phrase in phrases:
        if not phrase:
            continue
        for i in range(len(words) - len(phrase) + 1):
            if words[i : i + len(phrase)] == phrase:
                mask[i : i + len(phrase)] = [True] * len(phrase)
    return mask


class AsrNoiser:
    """Deterministic noise: `noisy(text, key)` depends only on (seed, key, text, rates)."""

    def __init__(
        self,
        seed: int = 2024,
        substitution_rate: float = 0.5,
        drop_rate: float = 0.15,
        hesitation_rate: float = 0.3,
        truncation_rate: float = 0.5,
    ) -> None:
        self.seed = seed
        self.substitution_rate = substitution_rate
        self.drop_rate = drop_rate
        self.hesitation_rate = hesitation_rate
        self.truncation_rate = truncation_rate

    def _rng(self, key: str, text: str) -> random.Random:
        return random.Random(f"{self.seed}\x00{key}\x00{text}")

    def noisy(self, text: str, key: str = "", protected: Iterable[str] = ()) -> str:
        """The ASR-like version of `text`; words of the `protected` phrases (report values) keep their form."""
        if text.strip().startswith("/"):  # intents sent as commands ("/no_input") are not speech
            return text
        rng = self._rng(key, text)
        words = self._normalise(text)
        mask = _protected_mask(words, [self._normalise(p) for p in protected])
        words, mask = self._substitute(words, mask, rng)
        kept = [
            (w, keep)
            for w, keep in zip(words, mask, strict=True)
            if keep or w not in _DROPPABLE or rng.random() >= self.drop_rate
        ]
        if kept:
            words, mask = [w for w, _ in kept], [keep for _, keep in kept]
        words = self._hesitate(words, mask, rng)
        words = self._truncate_start(words, rng)
        return " ".join(words) if words else text.lower()

    def confidence(self, key: str, low: float = 0.6, high: float = 0.8) -> float:
        """The recogniser's confidence for a noisy line: seeded, in [low, high], two decimals."""
        return round(random.Random(f"{self.seed}\x00conf\x00{key}").uniform(low, high), 2)

    @staticmethod
    def _normalise(text: str) -> list[str]:
        spoken = numbers_to_words(text.replace("\u2019", "'"))
        return _PUNCTUATION.sub(" ", spoken.lower()).split()

    def _substitute(self, words: list[str], mask: list[bool], rng: random.Random) -> tuple[list[str], list[bool]]:
        out_words: list[str] = []
        out_mask: list[bool] = []
        i = 0
        while i < len(words):
            for source, targets in _SUBSTITUTION_TOKENS:
                span = len(source)
                if tuple(words[i : i + span]) == source and not any(mask[i : i + span]):
                    if rng.random() < self.substitution_rate:
                        replacement = rng.choice(targets)
                        out_words.extend(replacement)
                        out_mask.extend([False] * len(replacement))
                        i += span
                        break
            else:
                out_words.append(words[i])
                out_mask.append(mask[i])
                i += 1
        return out_words, out_mask

    def _hesitate(self, words: list[str], mask: list[bool], rng: random.Random) -> list[str]:
        if len(words) < 3 or rng.random() >= self.hesitation_rate:
            return words
        # Not inside a protected phrase: "trois euh bis" would be a different street number.
        positions = [i for i in range(1, len(words)) if not (mask[i - 1] and mask[i])]
        if not positions:
            return words
        position = rng.choice(positions)
        return [*words[:position], "euh", *words[position:]]

    def _truncate_start(self, words: list[str], rng: random.Random) -> list[str]:
        if words and words[0] in _TRUNCATIONS and rng.random() < self.truncation_rate:
            return [_TRUNCATIONS[words[0]], *words[1:]]
        return words
