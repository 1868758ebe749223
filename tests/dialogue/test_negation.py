"""Negation scope read from the French dependency parse (dialogue.negation), with the real spaCy pipeline."""

from __future__ import annotations

import pytest

from dialogue.negation import is_common_word, parse, polarity_of

DANGER = {"danger", "dangereux", "risque", "risquent", "grave", "craint"}


@pytest.mark.parametrize(
    ("said", "polarity"),
    [
        ("c'est dangereux pour les scooters", True),
        ("je crois bien que c'est dangereux", True),
        ("il n'y a plus de lumière et c'est dangereux la nuit", True),  # the negation stays in its clause
        ("ça risque de tomber sur une voiture", True),
        ("oui quand même un peu dangereux", True),
        ("non attendez si en fait c'est dangereux", True),  # "si" takes back the "non"
        ("dangereux non pas trop", False),  # the negation comes after the word
        ("je trouve pas que ce soit dangereux", False),  # carried by another verb
        ("ça craint rien", False),  # the negation is the object
        ("y a pas de danger", False),
        ("rien de grave", False),
        ("sans aucun risque", False),
        ("c'est pas vraiment dangereux", False),
        ("bof pas spécialement dangereux", False),
    ],
)
def test_polarity_of_danger_words(said: str, polarity: bool) -> None:
    assert polarity_of(parse(said), DANGER) is polarity


def test_a_line_without_the_words_has_no_polarity() -> None:
    assert polarity_of(parse("le banc est cassé"), DANGER) is None


def test_common_words_and_names() -> None:
    assert is_common_word("trou") and is_common_word("grand")
    assert not is_common_word("siotat")


def test_a_negation_does_not_reach_two_clauses_down_a_run_on_line() -> None:
    # "je sais pas si ..." opens the line; what the husband reports two clauses later is said, not denied.
    line = "bonsoir je sais pas si je dois vous appeler mon mari revient de dehors il m'a raconté que ça sent bizarre"
    assert polarity_of(parse(line), {"sent"}) is True
    # One clause down the negation still holds: "je pense pas que ce soit dangereux".
    assert polarity_of(parse("je pense pas que ce soit dangereux"), DANGER) is False
