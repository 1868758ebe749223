"""Normalisation of what callers say: numbers, addresses, communes, landmarks, phone numbers, categories."""

from __future__ import annotations

import pytest

from dialogue.knowledge import default_gazetteer, default_taxonomy, fold
from dialogue.normalize import (
    find_phone_number,
    find_street_number,
    format_place,
    parse_place,
    spoken_to_digits,
    yes_or_no,
)


def test_spoken_numbers_become_digits() -> None:
    assert spoken_to_digits("douze bis rue de la république") == "12 bis rue de la république"


@pytest.mark.parametrize(
    ("said", "number", "street", "commune"),
    [
        ("douze bis rue de la république à marseille", "12 bis", "rue de la République", "Marseille"),
        ("euh il y a un trou au 3 avenue du prado marseille 8e", "3", "avenue du Prado", "Marseille 8e"),
        ("trente-deux boulevard de la libération aix", "32", "boulevard de la Libération", "Aix-en-Provence"),
        ("12 rue d'aubagne marseille", "12", "rue d'Aubagne", "Marseille"),
        ("le lampadaire du 4 ter chemin des grives a plan de cuques", "4 ter", "chemin des Grives",
         "Plan-de-Cuques"),
        ("rue paradis dans le premier arrondissement", None, "rue Paradis", "Marseille 1er"),
    ],
)
def test_addresses(said: str, number: str | None, street: str, commune: str) -> None:
    place = parse_place(said, default_gazetteer())
    assert (place.street_number, place.street_name, place.commune) == (number, street, commune)


def test_landmark_and_commune() -> None:
    place = parse_place("devant l'école jules ferry à aubagne", default_gazetteer())
    assert place.landmark == "devant l'école jules ferry" and place.commune == "Aubagne"
    assert format_place(place) == "devant l'école jules ferry, Aubagne"


def test_commune_inside_a_street_name_is_not_the_commune() -> None:
    assert parse_place("c'est rue d'aubagne", default_gazetteer()).commune is None


def test_bare_number_correction() -> None:
    assert find_street_number("non c'est au quatorze") == "14"
    assert find_street_number("non le 12 bis") == "12 bis"
    assert find_street_number("non c'est à aubagne") is None


@pytest.mark.parametrize(
    "said",
    ["06 12 34 56 78", "0612345678", "+33612345678", "06.12.34.56.78", "mon numéro c'est le 06 12 34 56 78",
     "zéro six douze trente-quatre cinquante-six soixante-dix-huit",
     "zero six un deux trois quatre cinq six sept huit"],
)
def test_phone_numbers(said: str) -> None:
    assert find_phone_number(said) == "06 12 34 56 78"


@pytest.mark.parametrize("said", ["douze", "06 12 34", "au 14 rue paradis", "0012345678999"])
def test_not_phone_numbers(said: str) -> None:
    assert find_phone_number(said) is None


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("il y a un nid-de-poule", "chaussee_trottoirs"),
        ("le lampadaire clignote", "eclairage_public"),
        ("un dépôt sauvage d'encombrants", "proprete"),
        ("des tags sur la façade", "tags_graffitis"),
        ("le banc est cassé", "mobilier_urbain"),
        ("une branche est tombée", "espaces_verts_arbres"),
        ("le feu tricolore est en panne", "signalisation"),
        ("la bouche d'égout est bouchée", "eau_assainissement"),
        ("une épave abandonnée", "stationnement_vehicule"),
        ("un nid de guêpes", "nuisibles"),
        ("bonjour madame", None),
    ],
)
def test_category_matching(said: str, code: str | None) -> None:
    assert default_taxonomy().match(said) == code


def test_every_taxonomy_example_matches_its_category() -> None:
    taxonomy = default_taxonomy()
    for category in taxonomy.categories:
        for example in category.examples:
            assert taxonomy.match(example) == category.code, example


def test_yes_no_and_fold() -> None:
    assert yes_or_no("oui c'est ça") is True
    assert yes_or_no("non pas du tout") is False
    assert yes_or_no("euh") is None
    assert fold("Élagage d'Été !") == "elagage d ete"
