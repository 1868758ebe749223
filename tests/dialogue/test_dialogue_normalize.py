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
        ("le lampadaire du 4 ter chemin des grives a plan de cuques", "4 ter", "chemin des Grives", "Plan-de-Cuques"),
        ("rue paradis dans le premier arrondissement", None, "rue Paradis", "Marseille 1er"),
    ],
)
def test_addresses(said: str, number: str | None, street: str, commune: str) -> None:
    place = parse_place(said, default_gazetteer())
    assert (place.street_number, place.street_name, place.commune) == (number, street, commune)


def test_landmark_and_commune() -> None:
    place = parse_place("devant l'école jules ferry à aubagne", default_gazetteer())
    assert place.landmark == "école Jules Ferry" and place.commune == "Aubagne"
    assert format_place(place) == "école Jules Ferry, Aubagne"


def test_commune_inside_a_street_name_is_not_the_commune() -> None:
    assert parse_place("c'est rue d'aubagne", default_gazetteer()).commune is None


def test_bare_number_correction() -> None:
    assert find_street_number("non c'est au quatorze") == "14"
    assert find_street_number("non le 12 bis") == "12 bis"
    assert find_street_number("non c'est à aubagne") is None


@pytest.mark.parametrize(
    "said",
    [
        "06 12 34 56 78",
        "0612345678",
        "+33612345678",
        "06.12.34.56.78",
        "mon numéro c'est le 06 12 34 56 78",
        "zéro six douze trente-quatre cinquante-six soixante-dix-huit",
        "zero six un deux trois quatre cinq six sept huit",
    ],
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


@pytest.mark.parametrize(
    ("said", "number", "street"),
    [
        ("au deux place de la mairie", "2", "place de la Mairie"),
        ("c'est au trois bis rue thiers", "3 bis", "rue Thiers"),
        ("au vingt-deux rue paradis", "22", "rue Paradis"),
        ("deux cent trois avenue du prado", "203", "avenue du Prado"),
        ("avenue jean moulin au numéro quarante", "40", "avenue Jean Moulin"),
        ("boulevard longchamp au 9 ter", "9 ter", "boulevard Longchamp"),
    ],
)
def test_small_and_trailing_street_numbers(said: str, number: str, street: str) -> None:
    place = parse_place(said, default_gazetteer())
    assert (place.street_number, place.street_name) == (number, street)


@pytest.mark.parametrize(
    "said",
    [
        "les piétons doivent marcher sur la route pour passer",
        "la rue est complètement dans le noir",
        "on a du mal à traverser la place avec la poussette",
        "il y a une place handicapé occupée",
    ],
)
def test_common_nouns_are_not_street_names(said: str) -> None:
    assert parse_place(said, default_gazetteer()).street_name is None


def test_streets_that_look_like_common_nouns() -> None:
    gazetteer = default_gazetteer()
    assert parse_place("sur la route de la gineste", gazetteer).street_name == "route de la Gineste"
    assert parse_place("c'est chemin du vallon", gazetteer).street_name == "chemin du Vallon"


def test_named_landmarks_and_clipped_communes() -> None:
    gazetteer = default_gazetteer()
    place = parse_place("une branche sur le quai devant le miroir aux oiseaux à martigues", gazetteer)
    assert place.landmark == "Miroir aux oiseaux" and place.commune == "Martigues" and place.street_name is None
    # The caller's own name for a place is kept: it may not be the same place ("parc" vs "palais Longchamp").
    assert parse_place("près de la bonne mère", gazetteer).landmark == "Bonne Mère"
    assert parse_place("au parc longchamp", gazetteer).landmark == "parc Longchamp"
    assert parse_place("vers saint charles", gazetteer).landmark == "gare Saint-Charles"
    assert parse_place("à septème les vallon", gazetteer).commune == "Septèmes-les-Vallons"


def test_phone_numbers_are_not_street_numbers() -> None:
    assert find_street_number("non le bon numéro c'est le 06 11 22 33 55") is None
    assert find_street_number("non c'est au 14 bis") == "14 bis"


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("c'est un problème de propreté", "proprete"),
        ("la grille de l'avaloir est bouchée", "eau_assainissement"),
        ("la grille du square est cassée", "mobilier_urbain"),
        ("les passages piétons sont effacés", "signalisation"),
        ("ils ont tagué le portail", "tags_graffitis"),
        ("une voiture a défoncé le potelet", "mobilier_urbain"),
        ("des voitures garées sur le trottoir", "stationnement_vehicule"),
        ("le poteau d'éclairage penche", "eclairage_public"),
        ("la borne de recharge des voitures électriques ne marche plus", "autre"),
        ("un olivier est mort sur le rond-point", "espaces_verts_arbres"),
        ("on voit de l'eau qui sort du trottoir", "eau_assainissement"),
    ],
)
def test_category_strength_and_endings(said: str, code: str) -> None:
    assert default_taxonomy().match(said) == code


@pytest.mark.parametrize(("said", "answer"), [("c'est sa", True), ("oui sait sa", True), ("non c'est pas sa", False)])
def test_yes_no_with_asr_homophones(said: str, answer: bool) -> None:
    assert yes_or_no(said) is answer


def test_danger_answer_prefers_what_is_said_of_the_danger() -> None:
    from dialogue.normalize import danger_answer, mentions_danger

    assert danger_answer("non attendez si c'est dangereux") is True
    assert danger_answer("oui mais pas de danger immédiat") is False
    assert danger_answer("oui on ne peut pas passer") is True
    assert mentions_danger("le trou est large") is None
