"""Negation scope read from the French dependency parse (dialogue.negation), with the real spaCy pipeline."""

from __future__ import annotations

import pytest

from dialogue.lexicon import possible_emergency_evidence
from dialogue.negation import is_common_word, parse, polarity_of, said_plainly

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


def test_a_negation_two_clauses_up_a_run_on_line_leaves_a_possible_danger_to_ask_about() -> None:
    # Parsed as clauses in clauses, "je sais pas si ..." sits two clauses above what the son reports.
    line = (
        "je sais pas si je dois appeler ici mon fils il revient du collège "
        "il affirme que ça sent bizarre près des garages"
    )
    assert not said_plainly(parse(line), possible_emergency_evidence)  # the whole-line reading denies it
    assert said_plainly(parse(line), possible_emergency_evidence, max_clauses=1)
    # One clause up, the negation still holds: "je crois pas que quelqu'un soit blessé".
    assert not said_plainly(parse("je crois pas que quelqu'un soit blessé"), possible_emergency_evidence, max_clauses=1)
