"""The seeded ASR noiser: deterministic, ASR-like, and never destroying the values a report is scored on."""

from __future__ import annotations

import re

import pytest

from dialogue.eval.noise import AsrNoiser, french_number_words, numbers_to_words

LINES = [
    "Bonjour, il y a un nid-de-poule profond au 14 rue de la République à Marseille !",
    "C'est pour signaler un lampadaire cassé, ça fait trois jours.",
    "Oui, rappelez-moi au 06 21 43 65 87 s'il vous plaît.",
    "Je ne sais pas, je suis perdue, que quelqu'un passe voir.",
]


def test_same_seed_and_key_give_the_same_noise_across_instances() -> None:
    first, second = AsrNoiser(seed=7), AsrNoiser(seed=7)
    assert [first.noisy(line, f"k{i}") for i, line in enumerate(LINES)] == [
        second.noisy(line, f"k{i}") for i, line in enumerate(LINES)
    ]
    assert first.confidence("k1") == second.confidence("k1")


def test_other_seeds_give_other_noise() -> None:
    outputs = {tuple(AsrNoiser(seed=seed).noisy(line, "key") for line in LINES) for seed in range(10)}
    assert len(outputs) > 1


def test_output_looks_like_a_transcript() -> None:
    noiser = AsrNoiser(seed=1)
    for index, line in enumerate(LINES):
        noisy = noiser.noisy(line, str(index))
        assert noisy == noisy.lower()
        assert not re.search(r"[0-9,.!?;:«»]", noisy), noisy
        assert noisy.strip() and "  " not in noisy


def test_numbers_are_spoken_and_phone_numbers_go_by_pairs() -> None:
    assert numbers_to_words("au 14 bis") == "au quatorze bis"
    assert numbers_to_words("06 21 43 65 87") == "zéro six vingt et un quarante trois soixante cinq quatre vingt sept"
    assert numbers_to_words("+33 4 86 00 10 20") == "zéro quatre quatre vingt six zéro zéro dix vingt"
    assert french_number_words(71) == "soixante et onze"
    assert french_number_words(80) == "quatre vingt"
    assert french_number_words(97) == "quatre vingt dix sept"
    assert french_number_words(1987) == "mille neuf cent quatre vingt sept"
    assert french_number_words(200) == "deux cent"
    with pytest.raises(ValueError):
        french_number_words(-1)


def test_protected_report_values_survive_every_seed() -> None:
    line = "Bonjour, c'est au 3 bis rue Mignet, Aix-en-Provence, le lampadaire est cassé."
    for seed in range(40):
        noisy = AsrNoiser(seed=seed, drop_rate=0.9, substitution_rate=1.0).noisy(
            line, "p", protected=["rue Mignet", "3 bis", "Aix-en-Provence"]
        )
        for phrase in ("trois bis", "rue mignet", "aix-en-provence"):
            assert phrase in noisy, noisy


def test_heavy_rates_do_substitute_and_drop() -> None:
    noisy = AsrNoiser(seed=3, substitution_rate=1.0, drop_rate=1.0, hesitation_rate=0.0, truncation_rate=1.0).noisy(
        "Bonjour, c'est la rue, il y a un trou.", "x"
    )
    assert noisy.startswith("jour ")
    assert "c'est" not in noisy and " la " not in f" {noisy} " and "il y a" not in noisy


def test_commands_are_not_speech() -> None:
    assert AsrNoiser().noisy("/no_input", "k") == "/no_input"


def test_confidence_is_in_the_noisy_range() -> None:
    values = [AsrNoiser(seed=5).confidence(f"k{i}") for i in range(50)]
    assert all(0.6 <= v <= 0.8 for v in values)
    assert len(set(values)) > 5
