"""Lexical evidence about the kind of call (dialogue.lexicon + the frame's out_of_scope): an emergency
is not a mere danger, other services' requests and private property are out of scope, street problems are not."""

from __future__ import annotations

import pytest

from dialogue.knowledge import default_gazetteer, default_taxonomy
from dialogue.lexicon import is_emergency, is_private_property
from dialogue.understanding import Heard, Understanding

UNDERSTAND = Understanding(default_taxonomy(), default_gazetteer())


def is_out_of_scope(text: str) -> bool:
    return UNDERSTAND(Heard("inform", text, 1.0)).out_of_scope


@pytest.mark.parametrize(
    "said",
    [
        "ça sent le gaz dans la montée",
        "ça sent vraiment très fort le gaz au deuxième",  # the words between the smell and the gas vary
        "une odeur bizarre de gaz vers les boîtes aux lettres",
        "il y a une fuite de gaz devant la boulangerie",
        "un câble électrique traîne au sol depuis l'orage",
        "les fils qui pendent du poteau touchent le sol",
        "un cycliste s'est fait renverser au carrefour",
        "une dame est tombée dans l'escalier elle saigne",
        "mon voisin est tombé sur le trottoir il se relève pas",
        "les conteneurs sont en feu",
        "l'eau des égouts rentre dans les rez-de-chaussée",
        "les caves de la résidence sont inondées",
        "le pin est tombé sur une voiture et il y a quelqu'un dedans",
    ],
)
def test_immediate_emergencies(said: str) -> None:
    assert is_emergency(said)


@pytest.mark.parametrize(
    "said",
    [
        "oui c'est dangereux les scooters roulent trop vite",
        "on ne voit plus les piétons quand on tourne",
        "quelqu'un pourrait se blesser avec la plaque",
        "le panneau a été renversé par un camion",
        "la borne incendie laisse couler de l'eau sur le trottoir",
        "la rue est inondée à chaque orage",
        "c'est urgent le trou est énorme",
    ],
)
def test_dangers_that_are_not_emergencies(said: str) -> None:
    assert not is_emergency(said)


def test_weak_words_need_the_nlu_to_agree() -> None:
    assert not is_emergency("au secours")
    assert is_emergency("au secours", nlu_says_emergency=True)
    assert not is_emergency("le trou est vraiment dangereux", nlu_says_emergency=True)


@pytest.mark.parametrize(
    "said",
    [
        "ma taxe foncière a encore augmenté",
        "je comprends pas ma facture d'eau",
        "les voisins du troisième font la fête chaque nuit",
        "le chien de la voisine aboie dès qu'on passe",
        "quel jour on sort les encombrants dans le quartier",
        "jusqu'à quelle heure la déchetterie est ouverte",
        "j'ai perdu mon permis de conduire",
        "c'est pour l'inscription de mon fils à la cantine",
        "j'ai une fuite d'eau dans ma salle de bain",
        "la chasse d'eau fuit chez moi",
        "ma chaudière fait un bruit bizarre",
        "j'ai eu une contravention devant la poste",
        "le tram est toujours en retard le matin",
        "je voudrais l'acte de décès de mon père",
        "de l'eau goutte du plafond de ma cuisine",
        "les scooters font un bruit d'enfer dans la rue toute la nuit",
    ],
)
def test_out_of_scope_requests(said: str) -> None:
    assert is_out_of_scope(said)


@pytest.mark.parametrize(
    "said",
    [
        "devant chez moi le lampadaire clignote",
        "les poubelles n'ont pas été ramassées dans la rue depuis lundi",
        "un trou énorme à côté de l'abribus",
        "le banc devant la médiathèque est cassé",
        "le mur du stade est en train de s'effondrer",
        "des tags sur la porte de mon garage",
        "une voiture est garée devant mon garage depuis hier",
        "l'arbre menace de tomber sur la route",
        "la plaque d'égout fait du bruit elle bouge quand on roule dessus",
    ],
)
def test_street_problems_are_in_scope(said: str) -> None:
    assert not is_out_of_scope(said)


def test_private_property_is_not_the_street_in_front_of_it() -> None:
    assert is_private_property("une fuite sous l'évier")
    assert is_private_property("le plafond coule dans mon appartement")
    assert not is_private_property("en face de chez moi la route est défoncée")
    assert not is_private_property("au bout de la rue de chez nous")


@pytest.mark.parametrize(
    "said",
    [
        "non, elle est par terre, elle bouge plus",
        "le poteau il bouge plus du tout",
        "l'arbre a mal supporté le mistral",
        "il y a un rat mort sur le trottoir",
    ],
)
def test_injury_words_about_things_are_not_emergencies(said: str) -> None:
    assert not is_emergency(said)
    assert not is_emergency(said, nlu_says_emergency=True)


@pytest.mark.parametrize(
    "said",
    ["un papi est par terre il bouge plus", "ma fille est tombée elle a très mal", "je suis tombé j'ai mal"],
)
def test_injury_words_about_a_person_are_emergencies(said: str) -> None:
    assert is_emergency(said)


@pytest.mark.parametrize(
    "said",
    [
        "la déchetterie de Château-Gombert est ouverte le dimanche ?",
        "je voudrais savoir si la déchetterie reprend les vieux matelas",
        "où est-ce que je peux jeter mes gravats ?",
        "comment on fait pour se débarrasser d'un vieux frigo",
        "les encombrants passent quel jour dans ma rue",
        "à quelle heure ouvre la déchetterie d'Aubagne",
        "le parc Borély il est ouvert le lundi ?",
        "est-ce que vous prenez les pneus à la déchetterie",
    ],
)
def test_information_questions_naming_a_facility_or_waste_are_out_of_scope(said: str) -> None:
    assert is_out_of_scope(said)


@pytest.mark.parametrize(
    "said",
    [
        "il y a un dépôt sauvage devant la déchetterie fermée",
        "les encombrants traînent devant la déchetterie depuis une semaine",
        "le lampadaire est éteint depuis dimanche",
        "la poubelle déborde, quand est-ce que vous passez ?",
    ],
)
def test_problems_near_a_facility_stay_reports(said: str) -> None:
    assert not is_out_of_scope(said)


@pytest.mark.parametrize(
    ("said", "category"),
    [
        ("des graffitis sur la fontaine de la Rotonde", "tags_graffitis"),
        ("le banc du square est tagué", "tags_graffitis"),
        ("la rue est inondée", "eau_assainissement"),
        ("l'eau monte sur la chaussée", "eau_assainissement"),
        ("une fontaine cassée", "mobilier_urbain"),
        ("un trou dans la chaussée", "chaussee_trottoirs"),
    ],
)
def test_a_problem_word_wins_over_the_object_it_is_on(said: str, category: str) -> None:
    assert default_taxonomy().match(said) == category


@pytest.mark.parametrize(
    "said",
    ["l'interphone de mon immeuble il est cassé", "linterphone de l'immeuble ne marche plus"],
)
def test_a_private_buildings_equipment_is_out_of_scope(said: str) -> None:
    assert is_out_of_scope(said)


def test_the_street_below_ones_building_is_not_private() -> None:
    assert not is_private_property("le trottoir en bas de mon immeuble est défoncé")


@pytest.mark.parametrize(
    "text",
    [
        "l'eau a commencé à monter dans les garages du lotissement",
        "le caniveau déborde et l'eau est en train d'entrer chez les voisins",
        "ça déborde, l'eau va bientôt rentrer dans les maisons",
    ],
)
def test_water_coming_into_homes_in_any_tense_is_an_emergency(text: str) -> None:
    assert is_emergency(text)


@pytest.mark.parametrize("text", ["l'eau monte dans toute la rue", "l'eau ruisselle tout le long du trottoir"])
def test_water_in_the_street_alone_is_no_emergency(text: str) -> None:
    assert not is_emergency(text)


@pytest.mark.parametrize(
    "text",
    [
        "le petit du voisin il est tombé dans le trou des travaux, il bouge plus",
        "un gosse est tombé dans la fouille il arrive pas à sortir",
        "la dame du deuxième elle est tombée dans l'escalier de la place, elle a la cheville toute tordue",
        "ça sent drôlement les oeufs pourris dans la montée",
        "depuis l'orage l'eau passait sous les portes des garages",
        "il y a déjà quinze centimètres dans le salon",
    ],
)
def test_dangers_said_the_way_people_say_them_are_emergencies(text: str) -> None:
    assert is_emergency(text)


@pytest.mark.parametrize(
    "text",
    [
        "la poubelle sent l'oeuf pourri",
        "ça pue l'oeuf pourri près de la bouche d'égout",
        "la branche elle bouge plus",
        "le lampadaire il a la tête tordue",
        "le trou est profond quelqu'un pourrait tomber dedans",
    ],
)
def test_the_same_words_about_things_or_a_mere_risk_are_not(text: str) -> None:
    assert not is_emergency(text)


def test_the_way_that_leads_home_is_the_street() -> None:
    assert not is_private_property("la route qui monte chez moi est pleine de trous")
    assert is_private_property("j'ai une fuite chez moi sous l'évier")


@pytest.mark.parametrize(
    ("said", "category"),
    [
        # "du", "de la", "des" say what "de" says in a category's words
        ("le fil du téléphone traîne par terre", "autre"),
        ("la bouche de l'égout déborde", "eau_assainissement"),
    ],
)
def test_a_category_is_named_whatever_article_follows_de(said: str, category: str) -> None:
    assert default_taxonomy().match(said) == category


def test_the_way_all_the_way_home_is_the_street_too() -> None:
    assert not is_private_property("la route jusqu'à chez nous est trouée de partout")


@pytest.mark.parametrize("said", ["un feu de poubelles s'est déclaré au bout de la rue", "un feu de broussailles"])
def test_a_fire_burning_is_an_emergency_not_a_traffic_light(said: str) -> None:
    assert is_emergency(said)


@pytest.mark.parametrize(
    "said",
    [
        # a car taken out, nobody shut in
        "je suis à bout, j'arrive plus à sortir ma voiture du garage avec ces épaves",
        # what does not move is the van
        "je suis excédé, une camionnette stationnée devant l'école depuis dix jours, elle bouge pas",
        # burnt long ago, not burning
        "un vélo tout brûlé est abandonné contre la grille depuis l'hiver",
    ],
)
def test_words_of_injury_or_fire_about_a_vehicle_are_no_emergency(said: str) -> None:
    assert not is_emergency(said)


@pytest.mark.parametrize(
    "said",
    [
        "le monsieur dans la voiture il bouge plus",
        "la camionnette a renversé une dame, elle bouge plus",
        "au secours, tout brûle derrière les immeubles",
    ],
)
def test_a_person_who_does_not_move_beside_a_vehicle_is_still_an_emergency(said: str) -> None:
    assert is_emergency(said)


def test_where_the_caller_notices_a_street_problem_is_not_where_it_is() -> None:
    assert not is_private_property("le réverbère clignote, on dirait une discothèque jusque dans mon salon")
    assert not is_private_property("le lampadaire neuf éclaire dans ma chambre toute la nuit")
    assert is_private_property("il y a une fuite dans ma salle de bain")


def test_at_the_traffic_light_is_a_place_and_au_feu_alone_a_cry() -> None:
    assert not is_emergency("c'est boulevard de la libération au feu en face de la pharmacie")
    assert is_emergency("au feu ! au feu ! le cabanon brûle")


@pytest.mark.parametrize(
    "said",
    [
        "le poteau est tombé sur la camionnette, le livreur il répond plus",
        "la moto a glissé et le motard il bouge plus",
    ],
)
def test_a_person_named_after_a_vehicle_is_still_asked_about(said: str) -> None:
    frame = Understanding(default_taxonomy(), default_gazetteer())(Heard("inform", said, 0.9, 0.9))
    assert frame.emergency or frame.maybe_emergency


@pytest.mark.parametrize(
    "said",
    ["vite venez la garrigue tout brûle derrière chez nous", "au feu la cabane du jardin partagé"],
)
def test_a_fire_said_after_a_noun_or_cried_is_an_emergency(said: str) -> None:
    assert is_emergency(said)


@pytest.mark.parametrize(
    "said",
    ["il y a un gros trou juste au feu", "prenez à gauche au feu puis c'est la deuxième rue"],
)
def test_at_the_lights_after_other_words_is_a_place(said: str) -> None:
    assert not is_emergency(said)


@pytest.mark.parametrize(
    "said",
    ["ça fait une semaine que la chasse d'eau de mes toilettes fuit", "je vois des fourmis partout dans ma cuisine"],
)
def test_a_home_problem_told_with_how_long_or_what_one_sees_stays_private(said: str) -> None:
    assert is_private_property(said)


def test_beside_a_home_is_the_street() -> None:
    assert not is_private_property("le lampadaire en face de ma maison ne s'allume plus")


def test_a_room_of_the_home_stays_private_beside_a_home_is_the_street() -> None:
    assert is_private_property("de la moisissure noire sur le mur à côté de ma chambre")
    assert not is_private_property("en face de ma villa le trottoir est défoncé")


@pytest.mark.parametrize(
    "said",
    [
        "la crue est montée, il y a un papi coincé dans sa voiture",
        "le pin est tombé, il y a une dame dessous",
        "le bâtiment il est en train de brûler",
    ],
)
def test_someone_caught_under_or_inside_or_a_building_burning_is_an_emergency(said: str) -> None:
    assert is_emergency(said)


@pytest.mark.parametrize(
    ("said", "emergency"),
    [
        ("non c'est le 22, j'ai mal saisi le numéro", False),
        ("le voisin a mal compris, c'est pas lui", False),
        ("le monsieur est tombé, il a mal au genou", True),
        ("ma mère a très mal, elle peut pas se lever", True),
    ],
)
def test_something_done_badly_is_no_pain(said: str, emergency: bool) -> None:
    assert is_emergency(said) is emergency
