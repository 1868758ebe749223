"""Normalisation of what callers say: numbers, addresses, communes, landmarks, phone numbers, categories."""

from __future__ import annotations

import pytest

from dialogue.knowledge import default_gazetteer, default_taxonomy, fold
from dialogue.normalize import (
    danger_answer,
    find_commune,
    find_phone_number,
    find_street_number,
    format_place,
    looks_unintelligible,
    parse_place,
    place_words_beside_communes,
    repair_asr_slips,
    spoken_to_digits,
    yes_or_no,
)

GAZETTEER = default_gazetteer()


def test_spoken_numbers_become_digits() -> None:
    assert spoken_to_digits("quatorze ter rue de rome") == "14 ter rue de rome"


@pytest.mark.parametrize(
    ("said", "number", "street", "commune"),
    [
        ("quatorze ter rue de rome sur marseille", "14 ter", "rue de Rome", "Marseille"),
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
    place = parse_place("devant l'école frédéric mistral à aubagne", default_gazetteer())
    assert place.landmark == "école Frédéric Mistral" and place.commune == "Aubagne"
    assert format_place(place) == "école Frédéric Mistral, Aubagne"


def test_commune_inside_a_street_name_is_not_the_commune() -> None:
    assert parse_place("c'est rue d'aubagne", default_gazetteer()).commune is None


def test_bare_number_correction() -> None:
    assert find_street_number("non c'est au quatorze") == "14"
    assert find_street_number("non le 12 bis") == "12 bis"
    assert find_street_number("non c'est à aubagne") is None


@pytest.mark.parametrize(
    "said",
    [
        "06 21 43 65 87",
        "0621436587",
        "+33621436587",
        "06.21.43.65.87",
        "mon numéro c'est le 06 21 43 65 87",
        "zéro six vingt-et-un quarante-trois soixante-cinq quatre-vingt-sept",
        "zero six deux un quatre trois six cinq huit sept",
    ],
)
def test_phone_numbers(said: str) -> None:
    assert find_phone_number(said) == "06 21 43 65 87"


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("rappelez-moi au 07 98 76 54 32, euh non pardon, 07 98 76 54 23", "07 98 76 54 23"),
        (
            "zéro six onze vingt-deux trente-trois quarante-quatre, enfin non, zéro six onze vingt-deux trente-trois "
            "quarante-cinq",
            "06 11 22 33 45",
        ),
        # only the last group said again: it replaces the group it takes back
        ("le 04 91 11 22 33, non pardon 34", "04 91 11 22 34"),
        # a correction that names no number keeps the one said
        ("le 06 55 44 33 22, enfin c'est mon portable", "06 55 44 33 22"),
    ],
)
def test_a_phone_number_taken_back_and_said_again(said: str, number: str) -> None:
    assert find_phone_number(said) == number


def test_a_postal_code_said_digit_by_digit_is_one_code() -> None:
    assert spoken_to_digits("au numéro trente un trois zéro zéro huit") == "au numéro 30 13008"
    assert spoken_to_digits("un trois zéro un deux") == "13012"


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
        ("le feu tricolore ne marche plus", "signalisation"),
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
        ("avenue jean moulin numéro quarante", "40", "avenue Jean Moulin"),
        ("boulevard longchamp au 9 ter", "9 ter", "boulevard Longchamp"),
    ],
)
def test_small_and_trailing_street_numbers(said: str, number: str, street: str) -> None:
    place = parse_place(said, default_gazetteer())
    assert (place.street_number, place.street_name) == (number, street)


@pytest.mark.parametrize(
    "said",
    [
        "les piétons doivent descendre marcher sur la chaussée",
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
    place = parse_place("à martigues une branche sur le quai près du miroir aux oiseaux", gazetteer)
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
        ("on voit de l'eau qui sort sous le trottoir", "eau_assainissement"),
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


# -- round 2: kinds of errors found by the unseen-caller tester ---------------------------------------------------


@pytest.mark.parametrize(
    "said",
    [
        "zéro sept, quatre-vingt-quatre, vingt-six, soixante-sept, quarante-cinq",
        "zéro sept. Quatre-vingt-quatre. Vingt-six. Soixante-sept. Quarante-cinq.",
        "zéro sept quatre vingt quatre vingt six soixante sept quarante cinq",
        "zéro, sept, huit, quatre, deux, six, six, sept, quatre, cinq",
        "0 7 8 4 2 6 6 7 4 5",
        "plus trente-trois, sept, quatre-vingt-quatre, vingt-six, soixante-sept, quarante-cinq",
        "+33 7 84 26 67 45",
        "zéro zéro trente-trois sept quatre-vingt-quatre vingt-six soixante-sept quarante-cinq",
        "c'est le zéro sept quatre-vingt-quatre euh vingt-six soixante-sept et quarante-cinq",
        "07-84-26-67-45",
        "j'habite au 12, mon numéro c'est le 07 84 26 67 45",
    ],
)
def test_phone_numbers_in_every_spoken_form(said: str) -> None:
    assert find_phone_number(said) == "07 84 26 67 45"


@pytest.mark.parametrize("said", ["j'ai quatre-vingt-onze ans", "au 12 rue de Rome", "zéro six douze"])
def test_what_is_not_a_phone_number(said: str) -> None:
    assert find_phone_number(said) is None


@pytest.mark.parametrize(
    "said",
    [
        "oui pourquoi pas",
        "volontiers",
        "ben oui",
        "ouais",
        "bah ouais",
        "d'accord",
        "allez-y",
        "bien sûr",
        "si vous voulez",
        "ah si",
        "pas de souci",
        "aucun problème, rappelez-moi",
        "ok ça marche",
        "oui mais pas avant dix heures",
        "ça me va",
    ],
)
def test_everyday_yes(said: str) -> None:
    assert yes_or_no(said) is True


@pytest.mark.parametrize(
    "said",
    [
        "non ça ira",
        "pas la peine",
        "non merci c'est bon",
        "non c'est bon",
        "ça ira merci",
        "nan laissez tomber",
        "sans façon",
        "je préfère pas",
        "c'est pas ça",
        "pas d'accord",
        "ne me rappelez pas",
        "non non pas besoin",
    ],
)
def test_everyday_no(said: str) -> None:
    assert yes_or_no(said) is False


@pytest.mark.parametrize("said", ["je sais pas", "merci", "oui enfin non", "la rue est en pente"])
def test_neither_yes_nor_no(said: str) -> None:
    assert yes_or_no(said) is None


@pytest.mark.parametrize(
    ("said", "number", "street"),
    [
        ("rue des Trois Mages", None, "rue des Trois Mages"),
        ("au quarante-deux bis rue des trois mages", "42 bis", "rue des Trois Mages"),
        ("impasse des quatre vents", None, "impasse des Quatre Vents"),
        ("numéro trente boulevard des deux ponts", "30", "boulevard des Deux Ponts"),
        ("place des quatre dauphins", None, "place des Quatre Dauphins"),
        ("le lampadaire du quatre ter chemin des grives", "4 ter", "chemin des Grives"),
        ("avenue Jean Jaurès, au numéro trente", "30", "avenue Jean Jaurès"),
    ],
)
def test_number_words_in_names_stay_words(said: str, number: str | None, street: str) -> None:
    place = parse_place(said, default_gazetteer())
    assert (place.street_number, place.street_name) == (number, street)


@pytest.mark.parametrize(
    ("said", "street"),
    [
        ("boulevard du onze novembre mille neuf cent dix-huit", "boulevard du 11 Novembre 1918"),
        # a year said short after a month is the 1900s, as on the plaques
        ("rue du dix neuf mars soixante deux", "rue du 19 Mars 1962"),
        ("c'est l'avenue du 8 mai 45 à Vitrolles", "avenue du 8 Mai 1945"),
        ("rue du premier mai", "rue du 1er Mai"),
        ("rue de mai", "rue de Mai"),
    ],
)
def test_a_date_in_a_street_name_is_written_as_the_plaques_write_it(said: str, street: str) -> None:
    assert parse_place(said, default_gazetteer()).street_name == street


def test_number_words_in_names_are_not_digits() -> None:
    assert spoken_to_digits("square des Milles") == "square des Milles"
    assert spoken_to_digits("aux trois lucs au douze") == "aux trois lucs au 12"
    assert spoken_to_digits("j'ai quatre-vingt-onze ans") == "j'ai 91 ans"


@pytest.mark.parametrize(
    ("said", "landmark"),
    [
        ("devant le lycée Rimbaud", "lycée Rimbaud"),
        ("juste à côté de la mairie de Septèmes", "mairie de Septèmes"),
        ("sur le parking du Mugel.", "parking du Mugel"),
        ("vers le stade", "stade"),
        ("au parking de la gare", "parking de la gare"),
        ("à la piscine municipale", "piscine municipale"),
        ("le vieux stade de Trets, je connais pas le nom de la rue", "vieux stade de Trets"),
        ("en face de l'école Frédéric Mistral", "école Frédéric Mistral"),
        ("au parc longchamp", "parc Longchamp"),
        ("à l'orange vélodrome", "Orange Vélodrome"),
        ("près du vélodrome", "stade Vélodrome"),
    ],
)
def test_landmarks_keep_the_name_without_the_prepositions(said: str, landmark: str) -> None:
    assert parse_place(said, default_gazetteer()).landmark == landmark


@pytest.mark.parametrize(
    "said",
    ["c'est en haut", "sait en haut", "dans la rue sait en haut", "je connais pas le nom de la rue moi", "la rue là"],
)
def test_vague_words_are_not_a_street(said: str) -> None:
    assert parse_place(said, default_gazetteer()).street_name is None


def test_a_mere_kind_of_place_after_a_determiner_is_not_a_landmark() -> None:
    assert parse_place("la pendule de la place est arrêtée", default_gazetteer()).landmark is None


@pytest.mark.parametrize(
    ("said", "commune"),
    [
        ("aux Pennes-Mirabeau", "Les Pennes-Mirabeau"),
        ("aux Pennes", "Les Pennes-Mirabeau"),
        ("à Septèmes", "Septèmes-les-Vallons"),
        ("en face de la mairie de Septèmes", "Septèmes-les-Vallons"),
        ("au Rove", "Le Rove"),
        ("à la Ciotat", "La Ciotat"),
        ("à Port-de-Bouc svp", "Port-de-Bouc"),
        ("à Lançon", "Lançon-Provence"),
        ("à la Roque-d'Anthéron", "La Roque-d'Anthéron"),
        ("à Peyrolles", "Peyrolles-en-Provence"),
        ("à Noailles", "Marseille"),
        ("aux Milles près de l'aérodrome", "Aix-en-Provence"),
        ("à la Gavotte, s'il vous plaît", "Les Pennes-Mirabeau"),
        ("aux Trois-Lucs", "Marseille"),
        ("à la piscine municipale de Vitrolles", "Vitrolles"),
        # A named commune wins over a quarter's.
        ("la Gavotte, côté Septèmes", "Septèmes-les-Vallons"),
        # In a street's name, a commune is not the commune.
        ("route de Gémenos", None),
    ],
)
def test_communes_with_articles_short_names_and_quarters(said: str, commune: str | None) -> None:
    assert parse_place(said, default_gazetteer()).commune == commune


def test_every_commune_of_the_metropole_is_known() -> None:
    gazetteer = default_gazetteer()
    assert len(gazetteer.communes) == 92
    for name, _ in gazetteer.communes:
        assert parse_place(f"c'est à {name}", gazetteer).commune == name, name


def test_place_line_does_not_repeat_the_commune_of_a_landmark() -> None:
    place = parse_place("en face de la mairie de Septèmes", default_gazetteer())
    assert format_place(place) == "mairie de Septèmes"
    place = parse_place("sur le parking de la gare à la Ciotat", default_gazetteer())
    assert format_place(place) == "parking de la gare, La Ciotat"


@pytest.mark.parametrize(
    ("said", "danger"),
    [
        ("les camions font des vagues sur le trottoir", True),
        ("on se fait arroser en passant", True),
        ("un petit peu", True),
        ("faut faire gaffe surtout le soir", True),
        ("c'est glissant quand il pleut", True),
        ("bof", False),
        ("pas tellement", False),
        ("non, elle est par terre, elle bouge plus", False),
    ],
)
def test_everyday_answers_about_the_danger(said: str, danger: bool) -> None:
    from dialogue.normalize import danger_answer

    assert danger_answer(said) is danger


@pytest.mark.parametrize(
    "said",
    [
        "ah non c'est à Fos",
        "attendez non, c'est au 14",
        "je me suis trompée de boulevard",
        "c'est pas à Aix, c'est aux Milles",
    ],
)
def test_corrections_are_recognised(said: str) -> None:
    from dialogue.normalize import sounds_like_correction

    assert sounds_like_correction(said)


@pytest.mark.parametrize("said", ["oui c'est dangereux", "la rue est en pente", "bien sûr"])
def test_answers_are_not_corrections(said: str) -> None:
    from dialogue.normalize import sounds_like_correction

    assert not sounds_like_correction(said)


@pytest.mark.parametrize(
    ("text", "street"),
    [
        ("boulevard Baille elles débordent", "boulevard Baille"),
        ("cours Lieutaud vraiment c'est plein", "cours Lieutaud"),
        ("rue Paradis le trottoir est défoncé", "rue Paradis"),
        ("boulevard Chave où les poubelles traînent", "boulevard Chave"),
        ("rue Jean Roque", "rue Jean Roque"),
        ("la rue Saint Pierre mais bon", "rue Saint Pierre"),
        ("rue du 4 septembre", "rue du 4 Septembre"),
    ],
)
def test_a_street_name_stops_where_the_caller_goes_on(text: str, street: str) -> None:
    assert parse_place(text, GAZETTEER).street_name == street


def test_a_commune_named_inside_a_street_is_not_its_commune() -> None:
    assert parse_place("rue Jean Roque", GAZETTEER).commune is None
    assert parse_place("rue Jean Roque à Marseille", GAZETTEER).commune == "Marseille"
    assert parse_place("12 rue sainte marseille", GAZETTEER).street_name == "rue Sainte"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("rue Consolat, devant le neuf", "9"),
        ("rue Consolat en face du 12", "12"),
        ("rue Consolat devant le numéro dix-sept à Marseille", "17"),
    ],
)
def test_a_number_after_the_street_is_its_number(text: str, number: str) -> None:
    place = parse_place(text, GAZETTEER)
    assert place.street_name == "rue Consolat" and place.street_number == number


def test_a_landmark_stops_before_what_follows_it() -> None:
    assert parse_place("dans le parc Miremont vers les jeux d'enfants", GAZETTEER).landmark == "parc Miremont"
    assert parse_place("au marché de la Plaine à Noailles", GAZETTEER).landmark == "marché de la Plaine, Noailles"


@pytest.mark.parametrize(
    "said",
    [
        "non pas vraiment euh dangereux",
        "ben non c'est pas vraiment dangereux",
        "pas spécialement",
        "c'est pas spécialement dangereux",
        "euh non pas du tout dangereux",
    ],
)
def test_a_negated_danger_with_fillers_is_no_danger(said: str) -> None:
    assert danger_answer(said) is False


@pytest.mark.parametrize(
    ("heard", "repaired"),
    [
        ("soixante est un boulevard", "soixante et un boulevard"),
        ("au vingt est un", "au vingt et un"),
        ("le banc il et cassé", "le banc il est cassé"),
        ("le banc et la poubelle", "le banc et la poubelle"),
    ],
)
def test_et_and_est_slips_are_repaired(heard: str, repaired: str) -> None:
    assert repair_asr_slips(heard) == repaired


def test_a_number_with_an_est_slip_is_read() -> None:
    assert parse_place("au soixante est un boulevard chave", GAZETTEER).street_number == "61"


@pytest.mark.parametrize("said", ["ah d'accord non ça ira merci", "ah bon non c'est pas la peine"])
def test_an_acknowledgement_before_a_no_is_a_no(said: str) -> None:
    assert yes_or_no(said) is False


@pytest.mark.parametrize(
    ("said", "sounds"),
    [("gnn frrr kss", True), ("mmh bzz tchac", True), ("la rtm", False), ("euh non", False), ("au 12 bd chave", False)],
)
def test_sounds_are_told_from_words(said: str, sounds: bool) -> None:
    assert looks_unintelligible(said) is sounds


def test_a_place_named_after_its_quarter_keeps_the_name_as_said() -> None:
    from dialogue.knowledge import default_gazetteer
    from dialogue.normalize import find_landmark

    gazetteer = default_gazetteer()
    assert find_landmark("le bateau est amarré devant la gare de l'estaque", gazetteer) == "gare de l'Estaque"
    # A place and a quarter said apart stay two things.
    assert find_landmark("au gymnase à la pointe rouge", gazetteer) == "gymnase, Pointe Rouge"


@pytest.mark.parametrize(
    ("said", "commune"),
    [
        # Split or bent by the recogniser: found by sound, and a longer name wins over a shorter one inside it.
        ("derrière la gare de château neuf les martigues", "Châteauneuf-les-Martigues"),
        ("sur le port de la siotat", "La Ciotat"),
        ("c'est aux penne mirabeau", "Les Pennes-Mirabeau"),
        ("saint vic toret vers l'aéroport", "Saint-Victoret"),
        # A commune that says which way, or where the caller lives, gives way to the one where the problem is.
        ("au bout du chemin à Rognac, côté Berre", "Rognac"),
        ("moi j'habite Trets mais le trou il est à Rousset", "Rousset"),
        ("la route direction Cassis", "Cassis"),
        # A one-word name with a letter bent, after "à": its spelling is close though its sound changed.
        ("le banc du square à gardane", "Gardanne"),
        ("un trou sur la route à pelisanne", "Pélissanne"),
        # A commune said plainly is not overruled by a longer quarter's name elsewhere in the line.
        ("c'est à Cassis, tout près de la chapelle Sainte-Marguerite", "Cassis"),
    ],
)
def test_communes_bent_split_or_said_as_a_direction(said: str, commune: str) -> None:
    assert find_commune(said, GAZETTEER) == commune


def test_ordinary_words_sound_like_no_commune() -> None:
    assert find_commune("le réverbère reste allumé en plein jour devant chez nous", GAZETTEER) is None
    assert find_commune("ça se voit à peine, à droite en montant", GAZETTEER) is None


def test_the_place_words_beside_a_commune_are_its_landmark() -> None:
    said = "alors c'est à Trets, je sais plus le nom, juste après le pont, sur la petite route"
    assert place_words_beside_communes(said, GAZETTEER) == "pont sur la petite route"
    assert place_words_beside_communes("c'est à Trets", GAZETTEER) is None  # nothing beside the commune
    assert place_words_beside_communes("devant la pharmacie", GAZETTEER) is None  # no commune set apart


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("zéro six onze vingt deux trente trois quarante quatre ah non quarante cinq", "06 11 22 33 45"),
        ("04 42 10 20 30, non pardon, 31", "04 42 10 20 31"),
        # Only a group of the same length is replaced: "cinq" does not replace "cinquante".
        ("06 11 22 33 44 non 5", "06 11 22 33 44"),
    ],
)
def test_a_phone_group_taken_back_is_replaced(said: str, number: str | None) -> None:
    assert find_phone_number(said) == number


def test_a_place_whose_name_runs_into_a_known_place_is_one_place() -> None:
    from dialogue.normalize import find_landmark

    said = "les barrières du parking de l'hôtel de ville sont couchées"
    assert find_landmark(said, GAZETTEER) == "parking de l'Hôtel de Ville"


@pytest.mark.parametrize(
    ("said", "street", "commune"),
    [
        ("au 5 avenue paul cézanne gardane", "avenue Paul Cézanne", "Gardanne"),
        ("onze boulevard gambetta la siotat", "boulevard Gambetta", "La Ciotat"),
        ("rue jean roque", "rue Jean Roque", None),  # after a given name, only a commune's full name cuts
        ("avenue du 8 mai 1945", "avenue du 8 Mai 1945", None),
    ],
)
def test_a_commune_bent_at_the_end_of_the_line_ends_the_street_name_without_a(
    said: str, street: str, commune: str | None
) -> None:
    place = parse_place(said, GAZETTEER)
    assert place.street_name == street
    if commune is not None:
        assert place.commune == commune


@pytest.mark.parametrize(
    ("said", "category"),
    [
        ("sur le trottoir, de l'eau stagne près du caniveau", "eau_assainissement"),
        ("un tas de gravats sur le trottoir", "proprete"),
        ("de l'eau partout sur la chaussée", "eau_assainissement"),
        ("un souci sur le trottoir", "chaussee_trottoirs"),  # the surface alone still names the problem
        ("le trottoir est défoncé", "chaussee_trottoirs"),
        ("un trou sur la chaussée", "chaussee_trottoirs"),
    ],
)
def test_a_surface_said_as_where_names_the_problem_only_when_nothing_else_does(said: str, category: str) -> None:
    assert default_taxonomy().match(said) == category


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("zéro sept dix onze douze soixante et un euh non pardon pas soixante et un soixante deux", "07 10 11 12 62"),
        ("06 20 30 40 50 non pas 50 mais 55", "06 20 30 40 55"),
        ("zéro six vingt trente quarante cinquante cinquante", "06 20 30 40 50"),  # a group said twice is no repair
    ],
)
def test_a_phone_number_group_named_again_and_taken_back_is_replaced(said: str, number: str) -> None:
    assert find_phone_number(said) == number


@pytest.mark.parametrize(
    ("said", "commune"),
    [
        ("les tags sont sur la mairie du seizième", "Marseille 16e"),  # a service named by its arrondissement
        ("devant le commissariat des 15e et 16e", "Marseille 15e"),
    ],
)
def test_names_that_hold_a_number_or_an_arrondissement_name_the_commune(said: str, commune: str) -> None:
    assert find_commune(said, GAZETTEER) == commune


def test_a_number_after_chateau_is_still_a_house_number_before_a_street() -> None:
    assert spoken_to_digits("c'est au château, neuf rue des lilas") == "c'est au château, 9 rue des lilas"
    assert spoken_to_digits("au château neuf chemin des oliviers") == "au château 9 chemin des oliviers"
    assert spoken_to_digits("à château neuf le rouge") == "à château neuf le rouge"


def test_a_floor_of_a_public_building_names_no_arrondissement() -> None:
    assert find_commune("au deuxième étage de la mairie", GAZETTEER) is None


def test_a_number_running_into_an_ordinal_is_one_ordinal_and_written_short_in_a_landmark() -> None:
    assert spoken_to_digits("devant le square du trente deuxième régiment") == "devant le square du 32ème régiment"
    assert spoken_to_digits("boulevard du huit mai") == "boulevard du huit mai"
    place = parse_place("au jardin du vingt cinquième anniversaire à gardanne", GAZETTEER)
    assert place.landmark == "jardin du 25e Anniversaire" and place.commune == "Gardanne"


@pytest.mark.parametrize(
    ("said", "landmark", "commune"),
    [
        ("au hameau des Borrels à Vitrolles", "hameau des Borrels", "Vitrolles"),
        ("la tour de l'horloge à Lambesc", "tour de l'horloge", "Lambesc"),
        ("c'est au rond point sur la sortie de Rognes", "rond point sur la sortie de Rognes", "Rognes"),
    ],
)
def test_kinds_of_village_places_are_landmarks_written_in_lower_case_but_their_names(
    said: str, landmark: str, commune: str
) -> None:
    place = parse_place(said, GAZETTEER)
    assert (place.landmark, place.commune) == (landmark, commune)


def test_a_commune_said_with_au_keeps_its_name_over_a_bent_one_near_it() -> None:
    from dialogue.places import PlaceResolver

    place = PlaceResolver(GAZETTEER).parse("vers saint canadet, un hameau, au puy sainte réparade")
    assert place.commune == "Le Puy-Sainte-Réparade"


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("zéro six onze vingt deux trente trois quarante quatre, ah non, le dernier c'est un cinq", "06 11 22 33 45"),
        ("06 11 22 33 44 euh le dernier chiffre c'est 9 pas 4", "06 11 22 33 49"),
        ("06 11 22 33 48, non le dernier c'est zéro", "06 11 22 33 40"),
        # the digit said wrong is not the number's last one: nothing is put right
        ("06 11 22 33 44 le dernier c'est 9 pas 7", "06 11 22 33 44"),
    ],
)
def test_the_last_digit_of_a_phone_number_put_right(said: str, number: str) -> None:
    assert find_phone_number(said) == number


@pytest.mark.parametrize(
    ("said", "repaired"),
    [
        ("au douze boulevard d en trecasteaux", "au douze boulevard d'entrecasteaux"),
        ("la rue d'en dourme", "la rue d'endourme"),
        ("la rue d'en haut est dans le noir", "la rue d'en haut est dans le noir"),
        ("il a peur d'en parler", "il a peur d'en parler"),
    ],
)
def test_a_street_name_cut_after_its_d_en_is_joined(said: str, repaired: str) -> None:
    assert repair_asr_slips(said) == repaired


@pytest.mark.parametrize(
    ("said", "street"),
    [
        ("au 4 avenue pierre et marie curie, istres", "avenue Pierre et Marie Curie"),
        ("sur la route de berre après le rond-point", "route de Berre"),
        ("rue jean et puis les voitures garées", "rue Jean"),
    ],
)
def test_where_a_street_name_goes_on_and_where_it_ends(said: str, street: str) -> None:
    assert parse_place(said, GAZETTEER).street_name == street


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("06 12 34 56 78, non le dernier c'est neuf", "06 12 34 56 79"),
        ("06 12 34 56 78 le dernier c'est un cinq pas un huit", "06 12 34 56 75"),
    ],
)
def test_the_last_digit_put_right_in_words(said: str, number: str) -> None:
    assert find_phone_number(said) == number


def test_two_streets_at_a_corner_are_not_one_name() -> None:
    assert parse_place("au coin de la rue paul et jean bart", GAZETTEER).street_name == "rue Paul"


def test_avant_inside_a_name_stays() -> None:
    assert parse_place("chemin de l'avant port", GAZETTEER).street_name == "chemin de l'Avant Port"


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("zéro six quatre vingt quatre vingt douze trente trente", "06 80 92 30 30"),
        ("zéro six vingt et un quarante sept quatre vingt quatre vingt treize", "06 21 47 80 93"),
        ("zéro six douze trente quatre cinquante six soixante dix huit", "06 12 34 56 78"),
    ],
)
def test_quatre_vingt_said_twice_is_read_as_the_ten_digits(said: str, number: str) -> None:
    assert find_phone_number(said) == number


def test_an_avenue_whose_first_letter_went_to_the_article() -> None:
    place = parse_place(spoken_to_digits(repair_asr_slips("sur la venue des chartreux au douze")), GAZETTEER)
    assert (place.street_number, place.street_name) == ("12", "avenue des Chartreux")


def test_an_avenue_said_as_the_answer_where() -> None:
    place = parse_place(spoken_to_digits(repair_asr_slips("c'est la venue de la capelette au dix")), GAZETTEER)
    assert (place.street_number, place.street_name) == ("10", "avenue de la Capelette")
