"""The understanding step (dialogue.understanding): one utterance -> one frame, read once, with real components
(taxonomy, gazetteer, the French spaCy pipeline)."""

from __future__ import annotations

import pytest

from dialogue.knowledge import default_gazetteer, default_taxonomy, fold
from dialogue.normalize import expand_chat_shorthand
from dialogue.understanding import Frame, Heard, Understanding, asks_for_person, describe

UNDERSTAND = Understanding(default_taxonomy(), default_gazetteer())


def frame(text: str, intent: str = "inform") -> Frame:
    return UNDERSTAND(Heard(intent, text, 0.9, 0.9))


def test_a_command_is_not_parsed() -> None:
    assert frame("/no_input", "/no_input").category is None


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("c'est au quatre vingt dix sept avenue de toulon", "97"),
        ("au soixante et onze cours lieutaud", "71"),
        ("devant le cent vingt deux rue sainte", "122"),
        ("au deux cent trente et un chemin du littoral", "231"),
        ("au dix neuf bis rue d'italie", "19 bis"),
    ],
)
def test_compound_number_words_are_read_whole(said: str, number: str) -> None:
    assert frame(said).place.street_number == number


def test_a_name_keeps_its_number_words() -> None:
    place = frame("au douze avenue du onze novembre mille neuf cent dix huit").place
    # The date stays in the name ("avenue du 11 novembre 1918"): it is not read as the house number.
    assert place.street_number == "12" and place.street_name is not None and "1918" in place.street_name


@pytest.mark.parametrize(
    "said",
    ["juste derrière l'église à château neuf le rouge", "c'est sur le parking de la poste de chateau neuf le rouge"],
)
def test_the_neuf_of_a_split_chateauneuf_stays_in_the_commune_s_name(said: str) -> None:
    assert frame(said).place.commune == "Châteauneuf-le-Rouge"


@pytest.mark.parametrize(
    ("said", "number", "commune"),
    [
        ("non c'est au quatorze pas au quatre", "14", None),
        ("pas au six, au seize", "16", None),
        ("c'est pas à aubagne c'est à gemenos", None, "Gémenos"),
        ("non pas à vitrolles mais à marignane", None, "Marignane"),
    ],
)
def test_a_value_inside_a_negation_gives_way_to_the_other(said: str, number: str | None, commune: str | None) -> None:
    understood = frame(said)
    if number:
        assert understood.street_number_said == number
    if commune:
        assert understood.place.commune == commune


@pytest.mark.parametrize(
    ("said", "commune"),
    [("à la siotat", "La Ciotat"), ("aux penne mirabeau", "Les Pennes-Mirabeau"), ("à sénas", "Sénas")],
)
def test_a_bent_commune_is_heard_by_sound(said: str, commune: str) -> None:
    assert frame(said).place.commune == commune


def test_ordinary_words_are_not_heard_as_communes() -> None:
    assert frame("il y a un très grand trou").place.commune is None


@pytest.mark.parametrize(
    ("said", "answer"),
    [
        ("oui", True),
        ("non merci", False),
        ("ouais allez-y", True),
        ("c'est pas loin du stade", None),  # a place, not a "no"
        ("non c'est au 12 rue de la paix", False),  # opens with the answer
    ],
)
def test_a_yes_or_no_answers_only_when_it_is_the_answer(said: str, answer: bool | None) -> None:
    assert frame(said).answer is answer


@pytest.mark.parametrize(
    ("said", "danger"),
    [
        ("je pense pas que ce soit dangereux", False),
        ("dangereux non pas vraiment", False),
        ("ça craint rien", False),
        ("oui pour les deux roues c'est dangereux", True),
        ("c'est pas loin du stade", None),
    ],
)
def test_the_danger_answer_follows_the_negation_scope(said: str, danger: bool | None) -> None:
    assert frame(said).danger_answer is danger


@pytest.mark.parametrize(
    "said",
    [
        "je veux parler avec quelqu'un",
        "passez moi un conseiller s'il vous plaît",
        "un humain",
        "j'en ai marre de parler à une machine",
        "je voudrais avoir une vraie personne",
    ],
)
def test_requests_for_a_person(said: str) -> None:
    assert frame(said).asks_for_person


@pytest.mark.parametrize(
    "said",
    [
        "il y a personne qui ramasse les poubelles",
        "quelqu'un est passé et a tout cassé",
        "le monsieur d'en face s'est garé sur le trottoir",
        "vous pouvez passer voir le trou",
    ],
)
def test_ordinary_words_are_no_request_for_a_person(said: str) -> None:
    assert not asks_for_person(frame(said).text.lower().replace("'", " "))
    assert not frame(said).asks_for_person


@pytest.mark.parametrize(
    "said",
    [
        "ça sent fort le gaz dans tout le quartier",
        "il y a un câble électrique par terre qui fait des étincelles",
        "un monsieur est coincé sous la voiture",
        "il y a un blessé",
        "l'eau rentre chez les gens",
        "les poubelles brûlent au pied de l'immeuble",
    ],
)
def test_immediate_danger_to_people(said: str) -> None:
    assert frame(said).emergency


@pytest.mark.parametrize("said", ["un enfant a glissé sur les feuilles", "il y a de la fumée qui sort de la bouche"])
def test_a_possible_danger_to_people_is_asked_about(said: str) -> None:
    understood = frame(said)
    assert understood.maybe_emergency and not understood.emergency


@pytest.mark.parametrize(
    "said",
    ["un trou dangereux pour les vélos", "le garde-corps est arraché on pourrait tomber", "le lampadaire brûlé"],
)
def test_an_ordinary_hazard_is_no_emergency(said: str) -> None:
    understood = frame(said)
    assert not understood.emergency and not understood.maybe_emergency


@pytest.mark.parametrize(
    ("said", "described"),
    [
        ("oui bonjour euh je vous appelle car le banc est cassé", "le banc est cassé"),
        ("Bonjour, j'aimerais signaler un dépôt sauvage rue Sainte", "un dépôt sauvage rue Sainte"),
        ("le feu est en panne", "le feu est en panne"),
    ],
)
def test_the_description_leaves_out_the_opening_words(said: str, described: str) -> None:
    assert describe(said) == described


@pytest.fixture(scope="module")
def with_streets(tmp_path_factory: pytest.TempPathFactory) -> Understanding:
    """The understanding as the action server builds it when a street base was imported (the BAN-format sample)."""
    from pathlib import Path

    from dialogue.places import PlaceResolver
    from dialogue.streets import StreetIndex
    from signalements import Store
    from signalements.streets import import_ban_csv

    sample = Path(__file__).resolve().parents[1] / "fixtures" / "ban" / "adresses-13-sample.csv"
    url = f"sqlite:///{tmp_path_factory.mktemp('streets') / 'callbot.db'}"
    store = Store(url, b"understanding-test-key-0123456789")
    store.migrate()
    import_ban_csv(sample, store)
    store.close()
    gazetteer = default_gazetteer()
    return Understanding(default_taxonomy(), gazetteer, PlaceResolver(gazetteer, StreetIndex.from_store(url)))


def test_a_bent_street_snaps_to_the_official_name(with_streets: Understanding) -> None:
    understood = with_streets(Heard("inform", "au trois cours bel sunce treize mille un", 0.9, 0.8))
    assert understood.street_verified is True
    assert understood.place.street_name == "Cours Belsunce" and understood.place.street_number == "3"
    assert understood.place.commune == "Marseille 1er"


def test_a_street_not_in_the_base_keeps_the_callers_words_unverified(with_streets: Understanding) -> None:
    understood = with_streets(Heard("inform", "au 5 impasse des glycines fanées à marseille", 0.9, 0.8))
    assert understood.street_verified is False
    assert understood.place.street_name is not None and "Glycines" in understood.place.street_name


def test_without_a_street_base_nothing_is_verified() -> None:
    assert frame("au 3 cours belsunce à marseille").street_verified is None


@pytest.mark.parametrize(
    ("said", "emergency"),
    [
        ("aucun blessé heureusement, le mur a juste lâché", False),
        ("personne n'est blessé mais la branche bloque la route", False),
        ("ce n'est pas un fil électrique, c'est celui de la fibre", False),
        ("l'eau du caniveau ne rentre pas dans les maisons", False),
        ("un câble électrique arraché traîne sur le bitume", True),
        ("mon voisin est blessé à la jambe", True),
        ("elle est tombée et elle respire plus", True),
    ],
)
def test_emergency_words_are_read_with_their_negation(said: str, emergency: bool) -> None:
    assert frame(said).emergency is emergency


def test_a_yes_given_with_a_phone_number_answers_the_call_back() -> None:
    assert frame("oui au 06 11 22 33 44").answers_about_callback()
    assert frame("ouais rappelez moi demain").answers_about_callback()
    # Two answers in one line: the yes is about the question, the call-back comes after.
    assert not frame("un peu oui et rappelez-moi au 06 11 22 33 44").answers_about_callback()
    assert not frame("oui c'est dangereux").answers_about_callback()


def test_a_marseille_postal_code_gives_the_arrondissement_not_a_number() -> None:
    place = frame("au 3 rue Paradis 13006").place
    assert (place.street_number, place.street_name, place.commune) == ("3", "rue Paradis", "Marseille 6e")
    # Another commune's code is dropped from the street's name, the commune comes from its name.
    place = frame("avenue Jean Moulin 13600 la ciotat").place
    assert (place.street_name, place.commune) == ("avenue Jean Moulin", "La Ciotat")


def test_a_bare_number_after_devant_is_a_house_number() -> None:
    place = frame("c'est devant le cinquante deux").place
    assert (place.street_number, place.landmark) == ("52", None)


@pytest.mark.parametrize(
    ("said", "little"),
    [
        ("un lampadaire", True),
        ("je voudrais signaler un abribus cassé", True),
        ("le banc est cassé et les planches traînent par terre", False),
        ("la poubelle déborde depuis trois jours sur le trottoir", False),
    ],
)
def test_a_line_that_only_names_the_problem_says_little(said: str, little: bool) -> None:
    assert frame(said, "report_problem").says_little is little


def test_sounds_are_not_plain_words() -> None:
    assert frame("il clignote depuis hier").plain_words
    assert not frame("blorg zutik").plain_words


@pytest.mark.parametrize(
    ("said", "danger"),
    [
        # Run-on lines parse badly: the word order says the negation's scope.
        ("oh non je crois pas que ce soit dangereux, il suffit de faire le tour", False),
        ("dangereux non pas trop mais c'est moche", False),
        ("y a pas de lumière le soir c'est dangereux", True),
    ],
)
def test_a_negation_next_to_the_danger_word_in_a_run_on_line(said: str, danger: bool) -> None:
    assert frame(said).danger is danger


@pytest.mark.parametrize(
    ("said", "answer"),
    [
        ("Non, pas vraiment, c'est juste un peu de boue.", False),
        ("Le soir on ne voit rien du tout. Oui, je crois bien que oui.", True),
        ("Oui, mais seulement quand il pleut.", True),
    ],
)
def test_the_answer_opens_or_concludes_the_line(said: str, answer: bool) -> None:
    assert frame(said).answer is answer


def test_a_short_line_diet_is_sure_of_is_a_yes_or_no() -> None:
    assert UNDERSTAND(Heard("affirm", "tout juste", 0.95, 0.9)).answer is True
    assert UNDERSTAND(Heard("affirm", "tout juste", 0.5, 0.9)).answer is None


def test_hesitations_do_not_split_a_number_from_its_cue() -> None:
    assert frame("rue de la palud euh au numéro euh cent quatre vingt").place.street_number == "180"


@pytest.mark.parametrize(
    ("said", "asks"),
    [
        ("bonjour, une personne de mon immeuble voulait que je vous signale un trou devant l'entrée", False),
        ("c'est un vrai danger ce trou, pas besoin de me rappeler", False),
        ("j'aimerais vraiment parler à une personne s'il vous plaît", True),
    ],
)
def test_a_person_is_asked_for_only_right_after_the_asking_words(said: str, asks: bool) -> None:
    assert frame(said).asks_for_person is asks


def test_nobody_at_risk_is_no_reason_to_ask_about_danger_to_people() -> None:
    assert not frame("non, il est par terre, il bouge plus").maybe_emergency


@pytest.mark.parametrize(
    ("said", "commune"),
    [
        ("au 5 rue d'Italie (6e)", "Marseille 6e"),
        ("rue de la loge dans le deuxième", "Marseille 2e"),
    ],
)
def test_an_arrondissement_written_after_the_address_or_said_as_an_ordinal(said: str, commune: str) -> None:
    place = frame(said).place
    assert place.commune == commune and place.street_name is not None and "6e" not in place.street_name


def test_nobody_hurt_in_a_long_line_is_no_emergency() -> None:
    said = "non, la grue est pas tombée, personne n'est blessé, mais elle grince fort depuis hier"
    assert not frame(said).emergency


def test_someone_trapped_without_a_verb_is_an_emergency() -> None:
    assert frame("le mur s'est écroulé et y a un homme coincé dessous").emergency


def test_a_bridge_or_a_fountain_is_a_place() -> None:
    assert frame("des graffitis sur le pont de la voie ferrée").place.landmark is not None
    assert frame("la fontaine des quatre saisons fuit").place.landmark is not None


def test_the_callers_own_correction_inside_a_line_wins() -> None:
    said = "c'est au douze rue des lilas euh non pardon au vingt et un rue des lilas à aubagne"
    place = frame(said).place
    assert (place.street_number, place.street_name, place.commune) == ("21", "rue des Lilas", "Aubagne")
    assert frame("au 8 pardon au 18").street_number_said == "18"


def test_a_no_that_opens_the_danger_answer_wins_over_what_follows() -> None:
    assert frame("non, juste un peu glissant quand il pleut").danger is False
    assert frame("dangereux bah non pas trop, on doit juste y prêter attention").danger is False


@pytest.mark.parametrize(
    "said",
    [
        "c'est pas le lampadaire, c'est le feu tricolore bloqué au rouge",
        "un souci d'éclairage, non pardon, le panneau de signalisation est plié",
    ],
)
def test_the_problem_the_caller_takes_back_is_not_the_category(said: str) -> None:
    found = frame(said, "report_problem").category
    assert found is not None and found.value == "signalisation"


def test_a_landmark_stops_where_the_sentence_goes_on_and_a_door_is_no_landmark() -> None:
    assert frame("au rond-point il y a plus de lumière").place.landmark != "rond-point Il"
    assert frame("le lampadaire devant chez moi est éteint").place.landmark is None


def test_not_knowing_how_the_machine_works_is_no_request_for_a_person() -> None:
    said = "excusez moi je comprends pas bien comment marche votre machine, c'est pour un trou"
    assert not frame(said).asks_for_person
    assert frame("j'ai horreur des robots").asks_for_person


def test_the_first_arrondissement_and_a_small_number_after_a_cue_of_place() -> None:
    assert frame("au 4 rue de la république dans le premier").place.commune == "Marseille 1er"
    heard = frame("boulevard des dames au niveau du neuf")
    assert "9" in (heard.place.street_number, heard.separate_street_number)
    # After "du" without a cue of place, a number word is part of a name.
    assert frame("avenue du huit mai 1945 à aubagne").place.street_number is None


@pytest.mark.parametrize(
    ("text", "number", "street"),
    [
        ("les deux réverbères devant le 31 av. Jean Jaurès à Cassis sont morts", "31", "avenue Jean Jaurès"),
        ("un trou au 7 bd. de la Libération à Aubagne", "7", "boulevard de la Libération"),
        ("au 5 ch. des Oliviers à Trets", "5", "chemin des Oliviers"),
    ],
)
def test_a_street_type_abbreviated_with_a_full_stop_is_read_whole(text: str, number: str, street: str) -> None:
    place = UNDERSTAND(Heard("inform", text, 0.9, 0.9)).place
    assert (place.street_number, place.street_name) == (number, street)


@pytest.mark.parametrize(
    ("text", "commune"),
    [
        ("le lampadaire de la place est mort au bagne", "Aubagne"),  # the recogniser split the name
        ("un trou boulevard de la libération à gé menos", "Gémenos"),
        ("non c'est pas gardanne c'est meyreuil", "Meyreuil"),  # the name taken back is not the place
    ],
)
def test_a_commune_split_by_the_recogniser_or_taken_back(text: str, commune: str) -> None:
    assert UNDERSTAND(Heard("inform", text, 0.9, 0.9)).place.commune == commune


@pytest.mark.parametrize(
    ("typed", "danger"),
    [("nn c pa grave du tout", False), ("ouais c dangereux pr les vélos", True), ("jsp, ptet pas", False)],
)
def test_chat_shorthand_is_read_as_the_words_it_stands_for(typed: str, danger: bool) -> None:
    assert frame(typed).danger_answer is danger


def test_a_letter_after_building_words_stays_a_letter() -> None:
    assert expand_chat_shorthand("bâtiment c escalier g, au fond") == "bâtiment c escalier g, au fond"
    assert expand_chat_shorthand("g trouvé ça ds la rue") == "j'ai trouvé ça dans la rue"


@pytest.mark.parametrize(
    ("said", "danger"),
    [
        ("dangereux, hmm, je vois pas trop, non", False),
        ("dangereuse ? ah ben oui quand même", True),
        ("dangereux alors là franchement non", False),
    ],
)
def test_the_question_word_repeated_then_the_answer(said: str, danger: bool) -> None:
    assert frame(said).danger_answer is danger


def test_an_answer_opening_the_line_is_counted_without_its_fillers() -> None:
    said = "Bah euh un peu oui, les camions frôlent les piétons qui sortent du marché."
    assert frame(said).danger_answer is True


@pytest.mark.parametrize(
    ("said", "near"),
    [
        ("boulevard de la Corderie, juste en face de la boulangerie qui a fermé", "en face de la boulangerie"),
        ("rue Sainte à côté du théâtre", "à côté du théâtre"),
        ("avenue de Toulon devant chez moi", None),
        ("rue de Lodi, en face du 30 rue de Lodi", None),
    ],
)
def test_what_the_problem_is_near_is_kept_beside_the_street(said: str, near: str | None) -> None:
    place = frame(said).place
    assert place.street_name is not None and place.landmark == near


def test_an_article_before_a_street_word_is_no_house_number() -> None:
    place = frame("je vous appelle pour un passage piéton tout effacé").place
    assert place.street_number is None and place.street_name is None


def test_a_street_word_after_a_preposition_and_its_article_names_the_street() -> None:
    assert frame("il y a une fuite sur le cours Sextius ici à Aix").place.street_name == "cours Sextius"
    assert frame("sur le chemin il y a des cailloux partout").place.street_name is None


@pytest.mark.parametrize(
    "said", ["je voulais dire Meyreuil, pas Gardanne", "euh meyreuil pas gardanne", "c'est pas à Gardanne, à Meyreuil"]
)
def test_a_commune_taken_back_after_the_right_one(said: str) -> None:
    assert frame(said).place.commune == "Meyreuil"


def test_a_street_type_heard_without_its_silent_s() -> None:
    place = frame("au quinze cour gimon à salon").place
    assert (place.street_number, place.street_name) == ("15", "cours Gimon")
    assert frame("dans la cour de la crèche il y a des rats").place.street_name is None


def test_a_public_place_named_beside_the_street_is_kept_as_its_landmark() -> None:
    place = frame("des tags sur le mur du gymnase Ruffi, boulevard de Paris").place
    assert place.street_name == "boulevard de Paris" and place.landmark and "gymnase Ruffi" in place.landmark
    assert frame("un trou au 12 rue de Rome, ça fait peur").place.landmark is None


@pytest.mark.parametrize(
    "said",
    [
        "Pas vraiment, il faut faire gaffe en passant",
        "ah non ça risque rien, c'est seulement laid",
        "les gens ralentissent pas mais dangereux non",
        "comment ? dangereux ? euh non pas trop, on contourne",
    ],
)
def test_a_no_that_opens_or_closes_the_danger_answer_outweighs_facts_that_suggest_a_risk(said: str) -> None:
    assert frame(said).danger_answer is False


def test_a_no_that_corrects_something_else_says_nothing_of_the_danger() -> None:
    assert frame("non, c'est à Allauch pas à Plan-de-Cuques").danger is None


@pytest.mark.parametrize(
    ("said", "commune"),
    [
        ("boulevard Chave, 5e, devant le lycée", "Marseille 5e"),
        ("au 3 rue Curiol (Noailles, 1er) depuis hier", "Marseille 1er"),
        ("c'est le 13e", "Marseille 13e"),
        ("le 3e lampadaire après le pont", None),
        ("au 5e étage, rue Breteuil", None),
    ],
)
def test_an_arrondissement_said_as_an_ordinal_alone(said: str, commune: str | None) -> None:
    assert frame(said).place.commune == commune


def test_stones_fallen_on_the_road_are_a_roadway_problem() -> None:
    assert frame("des cailloux ont roulé du talus jusqu'au milieu de la route").category is not None
    assert frame("des cailloux ont roulé du talus jusqu'au milieu de la route").category.value == "chaussee_trottoirs"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("said", "emergency", "maybe"),
    [
        ("les chenilles partout, leurs poils ça brûle la peau des petits", False, False),
        ("ça brûle derrière les immeubles, on voit les flammes", True, False),
        ("si jamais la branche lâche sur quelqu'un ce sera un drame", False, False),
        ("un fil pend du poteau au-dessus de l'arrêt de bus", False, True),
        ("un fil pend jusqu'au sol devant l'arrêt de bus", True, False),
    ],
)
def test_emergency_words_said_of_the_skin_as_a_possibility_or_of_a_cable_only_hanging(
    said: str, emergency: bool, maybe: bool
) -> None:
    understood = frame(said)
    assert (understood.emergency, understood.maybe_emergency) == (emergency, maybe)


def test_the_description_starts_at_the_clause_that_names_the_problem() -> None:
    said = "oui bonsoir excusez-moi je suis seule à la maison ce soir hein alors c'est pour une poubelle"
    understood = frame(said)
    assert understood.description == "une poubelle" and understood.says_little
    kept = frame("le banc est cassé, alors les mamies peuvent plus s'asseoir")
    assert kept.description == "le banc est cassé, alors les mamies peuvent plus s'asseoir"


@pytest.mark.parametrize(
    ("said", "danger"),
    [
        # The question's word said back states nothing: the answer is what follows it.
        ("dangereux ? bof, je dirais non", False),
        ("dangereux euh ça risque rien je pense", False),
        ("dangereux ? oh oui assez", True),
        # "y a personne" says nobody, the "ne" dropped as people speak.
        ("non non y a personne en danger c'est juste l'eau", False),
        ("il y a une personne en danger", True),
    ],
)
def test_danger_after_the_question_word_said_back(said: str, danger: bool) -> None:
    assert frame(said).danger is danger


def test_a_street_name_names_no_problem() -> None:
    # "Pierre" in a street's name is no stone on the road; the words outside the name still count.
    assert frame("c'est rue du Chanoine Pierre au coin").category is None
    assert frame("le lampadaire est éteint rue des Lilas").category is not None


def test_a_corner_places_the_problem_on_its_street() -> None:
    place = frame("boulevard Longchamp à l'angle de la rue Consolat").place
    assert place.street_name == "boulevard Longchamp"
    assert place.landmark is not None and "Consolat" in place.landmark.title()


@pytest.mark.parametrize(
    ("said", "landmark"),
    [
        ("des affiches partout sur le mur de la mairie à Cabriès", "mairie"),
        ("le stade de Trets", "stade de Trets"),
        ("un nid de guêpes dans un arbre du parking du gymnase à Cassis", "parking du gymnase"),
    ],
)
def test_a_public_place_said_without_a_cue(said: str, landmark: str) -> None:
    assert frame(said).place.landmark == landmark


def test_a_landmark_ends_on_its_communes_official_name() -> None:
    place = frame("devant la poste de sausset les pin").place
    assert place.commune == "Sausset-les-Pins" and place.landmark == "poste de Sausset-les-Pins"


def test_a_yes_about_what_could_happen_is_said_as_possible() -> None:
    assert frame("oui un peu, un bus pourrait l'accrocher").speaks_of_what_could_happen
    assert not frame("oui il est allongé par terre").speaks_of_what_could_happen


@pytest.mark.parametrize(
    ("said", "danger"),
    [
        # The answer opens a run-on line with no pause to split it.
        ("ben un peu oui la nuit on n y voit goutte", True),
        ("du tout !", False),
        # A harm not done yet is the danger the caller reports ("pas encore" of an accident or a fall).
        ("non y a pas encore eu d'accident mais ça va arriver", True),
        ("pas dangereux pour le moment non", False),
        # A misparsed "rien" before "c'est dangereux" does not reach it.
        ("la nuit on distingue rien c'est dangereux pour les vélos", True),
    ],
)
def test_danger_answers_of_run_on_lines(said: str, danger: bool) -> None:
    assert frame(said).danger_answer is danger


def test_the_fire_brigades_number_before_a_street_is_an_address() -> None:
    assert not frame("c'est le 18 boulevard de la Libération").maybe_emergency
    assert frame("il faut appeler le 18 vite").maybe_emergency or frame("il faut appeler le 18 vite").emergency


def test_a_weak_word_after_pardon_does_not_undo_the_problem_named() -> None:
    said = "le nid de poule devant la boulangerie pardon hein mais une moto va finir dedans"
    assert frame(said).category is not None and frame(said).category.value == "chaussee_trottoirs"  # type: ignore[union-attr]


def test_a_house_number_said_again_alone_after_a_self_correction() -> None:
    place = frame("au 27 rue Paradis, non pardon, au 72").place
    assert place.street_name == "rue Paradis" and place.street_number == "72"


@pytest.mark.parametrize(
    ("said", "number"),
    [
        # the number taken back by the next one, with or without a "pardon"
        ("la grille de l'égout devant le dix-huit euh non dix-neuf rue Sainte", "19"),
        ("vers le 7 non c'est au 9 boulevard Chave", "9"),
        # the caller's last words say the mistake, not the value: the correction before them counts
        ("au 3 boulevard Baille, oh non excusez-moi au 13, je me suis trompé", "13"),
        # the house number said after its street, and a postal code after it
        ("avenue Foch, le vingt-six", "26"),
        ("boulevard Chave le 48 13005", "48"),
        ("rue Paradis au numéro cent vingt un trois zéro zéro six", "120"),
    ],
)
def test_a_house_number_corrected_or_said_after_its_street(said: str, number: str) -> None:
    assert frame(said).place.street_number == number


def test_a_date_after_a_street_is_no_house_number() -> None:
    assert frame("rue de Rome, le 14 juillet il y avait du monde").place.street_number is None


def test_a_phone_number_names_no_arrondissement() -> None:
    place = frame("rappelez-moi au zéro six douze treize quatorze quinze seize").place
    assert place.commune is None


def test_the_house_number_fifteen_is_not_the_ambulance() -> None:
    said = "12 avenue des Olives, non pardon, c'est le 15, je me suis trompée"
    assert frame(said).place.street_number == "15" and not frame(said).maybe_emergency
    assert frame("appelez le 15 il respire mal").emergency or frame("appelez le 15 il respire mal").maybe_emergency


def test_a_stair_rail_is_street_furniture_and_an_access_ramp_is_the_road() -> None:
    assert frame("la rampe de l'escalier public est descellée").category.value == "mobilier_urbain"  # type: ignore[union-attr]
    assert frame("la rampe d'accès au parking est pleine de trous").category.value == "chaussee_trottoirs"  # type: ignore[union-attr]


def test_words_about_the_call_itself_describe_no_problem() -> None:
    talk = frame("allô, oui, je suis dans le bus, ça capte pas")
    assert talk.category is None and talk.description is None
    both = frame("je suis au volant et il y a une grosse branche en travers du chemin")
    assert both.category is not None and both.category.value == "espaces_verts_arbres"
    assert both.description is not None and both.description.startswith("il y a une grosse branche")


def test_a_slash_between_two_streets_is_a_corner() -> None:
    place = frame("le feu au carrefour bd Chave / av Foch ne marche plus").place
    assert place.street_name == "boulevard Chave" and place.landmark is not None and "foch" in place.landmark.lower()


def test_a_public_place_named_after_its_commune_keeps_the_name() -> None:
    assert frame("des tags sur l'école de la Bédoule à Roquefort").place.landmark == "école de la Bédoule"


@pytest.mark.parametrize(
    ("said", "holds"),
    [
        ("attendez je cherche mes lunettes", True),
        ("une seconde je sors de la voiture", True),
        ("je vous entends très mal", True),
        ("un lampadaire éteint au 3 rue Paradis", False),
    ],
)
def test_a_caller_asking_for_a_moment(said: str, holds: bool) -> None:
    assert frame(said).holds_on is holds


def test_a_landmark_ending_on_a_quarter_keeps_it() -> None:
    # "Marthe" and "Marseille" share a short sound key; the letters are too far apart to be the same name.
    landmark = frame("derrière le gymnase de Sainte Marthe, Marseille quatorze").place.landmark
    assert landmark is not None and "Marthe" in landmark


@pytest.mark.parametrize(
    ("said", "emergency"),
    [
        # Nobody hurt, with the auxiliaries between ("n'a été") or "de" ("personne de blessé").
        ("l'arbre est tombé sur la clôture, par chance personne n'a été blessée", False),
        ("personne de blessé heureusement, juste la voiture", False),
        ("une personne a été blessée par la branche", True),
    ],
)
def test_nobody_hurt_is_no_emergency(said: str, emergency: bool) -> None:
    assert frame(said).emergency is emergency


def test_asking_whether_the_bot_is_a_machine_is_no_request_for_a_person() -> None:
    asked = frame("allô, vous êtes un robot ?")
    assert asked.asks_if_machine and not asked.asks_for_person
    refused = frame("je veux pas parler à une machine")
    assert refused.asks_for_person


def test_a_commune_corrected_in_passing_leaves_the_problem_named_first() -> None:
    line = "le feu rouge est en panne à Rognac, enfin non, à Berre. La lumière clignote depuis hier."
    found = frame(line).category
    assert found is not None and found.value == "signalisation"
    # Said in the clause after the correction, the problem is the corrected one.
    assert frame("un lampadaire, non pardon, le feu rouge").category.value == "signalisation"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("said", "danger"),
    [
        ("les camions frôlent les gens, c'est chaud pour les enfants", True),
        ("c'est vraiment chaud de passer là à vélo", True),
        ("il fait chaud aujourd'hui", None),
    ],
)
def test_risky_said_the_marseille_way(said: str, danger: bool | None) -> None:
    assert frame(said).danger is danger


@pytest.mark.parametrize(
    ("said", "callback"),
    [
        ("oui, sur ce numéro", True),
        ("vous pouvez me rappeler sur le même numéro", True),
        ("oui rappelez-moi", True),
        ("ne me rappelez pas", False),
        ("non non pas la peine de me rappeler", False),
        ("rappelez moi pas merci", False),
        ("je sais pas trop, oui rappelez-moi", True),  # the yes after the "pas" turns it back
        ("c'est sur le numéro 12 de la rue", None),  # a house number, not the caller's
        ("non merci", None),
    ],
)
def test_a_call_back_accepted_or_declined_in_words_is_read_whatever_was_asked(said: str, callback: bool | None) -> None:
    assert frame(said).callback is callback


@pytest.mark.parametrize(
    ("said", "street", "commune", "number"),
    [
        # Marseille's postal code said after the street, in the ways callers say it once words are digits.
        ("au quarante boulevard national treize cent trois", "boulevard National", "Marseille 3e", "40"),
        ("au neuf rue d'isly treize zéro zéro six", "rue d'Isly", "Marseille 6e", "9"),
        ("rue du rouet dans le treize huit", "rue du Rouet", None, None),
        ("boulevard de paris treize zéro zéro deux", "boulevard de Paris", "Marseille 2e", None),
        # Before a street type such a number is the house's.
        ("au mille trois cent trois avenue de saint antoine", "avenue de Saint Antoine", None, "1303"),
    ],
)
def test_a_marseille_postal_code_said_after_the_street_is_the_arrondissement(
    said: str, street: str, commune: str | None, number: str | None
) -> None:
    place = frame(said).place
    assert (place.street_name, place.street_number) == (street, number)
    if commune is not None:
        assert place.commune == commune


def test_a_street_taken_back_with_its_type_abbreviated_gives_way_to_the_next() -> None:
    place = frame("Au 8 av Foch à Aubagne, ah non attendez, pas av Foch, av Jean Jaurès, au 8 toujours").place
    assert (place.street_number, place.street_name, place.commune) == ("8", "avenue Jean Jaurès", "Aubagne")


def test_the_words_of_a_caller_looking_for_a_name_are_no_part_of_it() -> None:
    assert frame("devant le gymnase euh comment il s'appelle déjà à miramas").place.landmark == "gymnase"
    assert "dire" not in (frame("devant la crèche euh comment dire la crèche municipale").place.landmark or "dire")


@pytest.mark.parametrize(
    ("said", "asks"),
    [
        ("bonjour je comprends plus rien c'est une machine ? bon je vous explique pour le trottoir", False),
        ("je veux plus parler à une machine", True),
        ("pas de robot s'il vous plaît", True),
    ],
)
def test_asking_whether_it_is_a_machine_is_not_refusing_it(said: str, asks: bool) -> None:
    assert frame(said).asks_for_person is asks


@pytest.mark.parametrize(
    ("said", "danger"),
    [
        ("pour l'instant non, mais quand il pleut ça devient dangereux", True),
        ("il y a des trous partout, mais rien de dangereux", False),
        ("pas vraiment dangereux, mais on peut glisser dessus", False),  # the verdict first, then a nuance
        ("je dirais pas que c'est dangereux mais la nuit on voit mal", False),
        ("ça fait longtemps, pas pour aujourd'hui, mais si un vélo passe là c'est risqué", True),
    ],
)
def test_after_a_but_the_caller_concludes_on_the_danger(said: str, danger: bool) -> None:
    assert frame(said).danger is danger


def test_a_possible_danger_two_clauses_below_a_negation_is_asked_about() -> None:
    line = (
        "je sais pas si je dois appeler ici mon fils il revient du collège "
        "il affirme que ça sent bizarre près des garages"
    )
    assert frame(line).maybe_emergency
    assert not frame("je crois pas que quelqu'un soit blessé").maybe_emergency


@pytest.mark.parametrize(
    ("said", "callback"),
    [
        ("oui rappelez-moi euh non laissez tomber", False),
        ("oui rappelez moi, ah et puis non merci", False),
        ("oui vous pouvez me rappeler, non merci pour tout", True),  # thanks for the rest, not a take-back
        ("rappelez moi pas", False),
        ("vous me rappelez pas hein", False),
        ("oui rappelez-moi, pas besoin de me laisser un mot sur le répondeur", True),
        ("rappelez-moi pas avant dix heures", True),
        ("rappelez moi pas la peine de me rappeler en fait", False),
    ],
)
def test_a_call_back_taken_back_later_in_the_line(said: str, callback: bool) -> None:
    assert frame(said).callback is callback


@pytest.mark.parametrize(
    ("said", "danger"),
    [
        ("oh que oui un gamin à vélo il va se faire mal là-dedans", True),
        ("ah que non on le voit de loin", False),
        # A hedge first, then the caller concedes: the concession is the answer.
        ("dangereux bof les gens du quartier le connaissent mais oui un peu quand même", True),
        ("bof non pas vraiment", False),
    ],
)
def test_an_emphatic_or_conceded_answer_about_the_danger(said: str, danger: bool) -> None:
    assert frame(said).danger_answer is danger


def test_a_way_out_blocked_for_walking_is_no_one_trapped() -> None:
    blocked = "depuis la pluie le sentier est emporté, mes voisines âgées peuvent plus sortir à pied"
    assert not (frame(blocked).emergency or frame(blocked).maybe_emergency)
    assert frame("mon voisin est tombé dans le regard il peut plus sortir").emergency


def test_a_time_said_in_passing_is_no_question_about_timetables() -> None:
    assert not frame("oui je vous l'ai dit tout à l'heure").out_of_scope


@pytest.mark.parametrize(
    ("said", "described"),
    [
        ("bonjour euh j'appelle pour l'éclairage", "l'éclairage"),
        ("oh vé bonjour je vous appelle pour la fontaine qui coule plus", "la fontaine qui coule plus"),
    ],
)
def test_the_opening_words_are_left_out_of_the_description(said: str, described: str) -> None:
    assert describe(said) == described


@pytest.mark.parametrize(
    ("said", "category"),
    [
        ("ce n'est pas un souci d'éclairage, c'est le trou juste devant", "chaussee_trottoirs"),
        ("c'est pas un problème de propreté c'est le platane qui penche", "espaces_verts_arbres"),
    ],
)
def test_the_problem_a_caller_says_it_is_not_of_gives_way(said: str, category: str) -> None:
    found = frame(said).category
    assert found is not None and found.value == category


def test_a_problem_said_less_serious_than_another_says_nothing_of_the_danger() -> None:
    assert frame("je préfère signaler le lampadaire, le graffiti c'est moins grave").danger is None
    assert frame("c'est encore plus dangereux quand il pleut").danger is True


def test_who_a_danger_is_for_names_no_problem() -> None:
    assert frame("risqué ? ah oui, surtout pour les motos").category is None
    found = frame("la voiture garée en double file c'est dangereux pour les enfants").category
    assert found is not None and found.value == "stationnement_vehicule"


def test_a_way_blocked_by_rising_water_is_still_asked_about() -> None:
    assert frame("mes parents peuvent plus sortir à pied de chez eux, l'eau arrive aux marches").maybe_emergency


def test_what_a_danger_is_for_leaves_the_problem_named_between() -> None:
    found = frame("attention c'est dangereux, le candélabre penche pour les passants").category
    assert found is not None and found.value == "eclairage_public"


def test_a_size_said_with_pas_is_no_correction() -> None:
    assert not frame("c'est pas un gros trou, c'est juste qu'il est profond").correction
    assert frame("c'est pas au 8, c'est au 18").correction


@pytest.mark.parametrize(
    ("said", "category"),
    [
        ("c'est pour un lampadaire, enfin non, le feu tricolore ne passe plus au vert", "signalisation"),
        ("je vous appelle pour le trou euh non pas le trou hein les tags sur le mur de l'école", "tags_graffitis"),
        # the one the caller puts first
        ("des tags sur la façade et un vieux canapé sur le trottoir, le plus urgent c'est le canapé", "proprete"),
    ],
)
def test_the_problem_the_caller_settles_on_wins(said: str, category: str) -> None:
    found = frame(said).category
    assert found is not None and found.value == category


def test_a_house_number_said_again_alone_after_a_correction_is_the_number() -> None:
    place = frame("boulevard de la libération à marseille au numéro cinquante euh non pardon quinze quinze").place
    assert place.street_number == "15"


@pytest.mark.parametrize(
    ("said", "answer"),
    [("ouais... enfin non, laissez tomber", False), ("non... enfin si, rappelez-moi", True), ("oui oui", True)],
)
def test_the_answer_a_caller_settles_on_is_the_answer(said: str, answer: bool) -> None:
    assert frame(said).answer is answer


@pytest.mark.parametrize(
    "said",
    [
        "est-ce qu'il y a quelqu'un chez vous qui pourrait me renseigner sur ma demande",
        "y a-t-il quelqu'un à qui parler au service de la voirie",
    ],
)
def test_asking_whether_someone_is_there_to_speak_to_is_asking_for_a_person(said: str) -> None:
    assert asks_for_person(fold(said))


@pytest.mark.parametrize(
    "said",
    ["il y a quelqu'un qui peut venir voir le trou", "il y a quelqu'un qui peut tomber dans ce trou"],
)
def test_someone_to_come_or_at_risk_is_no_request_for_a_person(said: str) -> None:
    assert not asks_for_person(fold(said))


def test_an_earlier_problem_set_aside_names_neither_the_problem_nor_its_description() -> None:
    found = frame("merci pour le banc que vous avez réparé l'an dernier, cette fois c'est autre chose.")
    assert found.category is None and found.description is None
    named = frame("l'an passé c'était le banc, là c'est autre chose, un nid de guêpes dans le platane")
    assert named.category is not None and named.category.value == "nuisibles"


def test_a_subject_pronoun_ends_a_landmark() -> None:
    assert frame("les feux au carrefour ils sont tous éteints à istres").place.landmark is None


@pytest.mark.parametrize(
    ("said", "landmark"),
    [
        ("la fontaine devant la poste des penne mirabeau", "poste des Pennes-Mirabeau"),
        ("les grilles arrachées devant le stade de vitrolle nord", "stade de Vitrolles Nord"),
        ("devant le lycée st exupéry à marignane", "lycée Saint Exupéry"),
        ("trois camping-cars garés sur le parking de la plage à sausset", "parking de la plage"),
    ],
)
def test_a_landmark_is_named_as_its_signs_name_it(said: str, landmark: str) -> None:
    assert frame(said).place.landmark == landmark


def test_an_adjective_before_a_known_place_stays_with_it() -> None:
    landmark = frame("les bancs du Vieux-Port de Cassis sont tous cassés").place.landmark
    assert landmark is not None and fold(landmark).startswith("vieux port")


def test_a_known_place_said_first_is_kept_before_one_said_in_the_singular() -> None:
    landmark = frame("au parking du stade à cassis, en descendant vers la calanque").place.landmark
    assert landmark is not None and landmark.startswith("parking du stade")


def test_a_landmark_s_own_name_names_no_problem() -> None:
    found = frame("au jardin des lumières à aix les bennes débordent de partout").category
    assert found is not None and found.value == "proprete"


def test_a_square_named_after_the_town_hall_asks_nothing_of_it() -> None:
    assert not frame("le cadran solaire sur la place de la mairie à trets est tout arrêté").out_of_scope


def test_a_caller_who_is_retired_asks_nothing_of_the_pension_office() -> None:
    assert not frame("je suis retraité, et il y a des rats dans le square").out_of_scope
    assert frame("ma retraite n'est pas arrivée ce mois-ci").out_of_scope


def test_to_work_is_no_bump_in_the_road() -> None:
    assert frame("je bosse juste à côté et j'ai vu un souci").category is None
    bumps = frame("il y a des bosses partout sur la chaussée").category
    assert bumps is not None and bumps.value == "chaussee_trottoirs"


def test_a_commune_s_name_right_after_a_street_type_is_the_street_s() -> None:
    place = frame("12 rue St Savournin, Marseille 1er").place
    assert place.street_name == "rue Saint Savournin" and place.commune == "Marseille 1er"


def test_help_for_others_is_no_request_for_a_person() -> None:
    assert not asks_for_person(fold("il y aurait quelqu'un qui pourrait aider les mamies à traverser, c'est dangereux"))
    assert asks_for_person(fold("il y a quelqu'un avec qui je peux parler"))


def test_something_else_in_a_doubt_sets_nothing_aside() -> None:
    found = frame("un lampadaire qui penche, ou c'est autre chose, j'en sais rien").category
    assert found is not None and found.value == "eclairage_public"


def test_the_main_problem_is_the_one_named_right_after() -> None:
    found = frame("y a un trou sur le trottoir le plus urgent c'est qu'on vienne avant qu'une moto tombe").category
    assert found is not None and found.value == "chaussee_trottoirs"
    named = frame("c'est surtout le banc cassé y a aussi un peu de tags").category
    assert named is not None and named.value == "mobilier_urbain"


def test_a_number_with_a_unit_after_a_correction_is_no_house_number() -> None:
    assert frame("au quinze rue de la république à aubagne, ah non, c'est dix mètres après").place.street_number == "15"


def test_two_digits_after_a_date_are_its_year_only_when_they_are() -> None:
    place = frame("au sept rue du quatorze juillet trente").place
    assert place.street_name == "rue du 14 Juillet"
    assert frame("rue du deux décembre").place.street_name == "rue du 2 Décembre"


def test_a_saint_s_name_after_a_street_type_is_no_commune() -> None:
    assert frame("au 4 av St Zacharie il y a des tags").place.commune is None


def test_a_town_hall_the_caller_addresses_still_asks_for_another_service() -> None:
    assert frame("je voudrais le numéro de la mairie de gardanne").out_of_scope


def test_a_problem_word_the_landmark_ran_over_still_names_the_problem() -> None:
    found = frame("devant la poste lampadaire cassé").category
    assert found is not None and found.value == "eclairage_public"


def test_degun_ends_a_landmark() -> None:
    landmark = frame("j'ai téléphoné au stade degun décroche").place.landmark
    assert landmark is None or "degun" not in fold(landmark)


def test_a_landmark_made_only_of_kinds_of_place_keeps_the_problem_it_names() -> None:
    found = frame("le toboggan de l'aire de jeux s'est fendu, une grosse fissure au milieu").category
    assert found is not None and found.value == "mobilier_urbain"


def test_a_street_named_of_a_quarter_still_says_the_commune() -> None:
    assert frame("le feu piéton du 12 bd de Saint-Loup ne passe plus au vert").place.commune == "Marseille"


def test_a_thing_and_what_it_is_said_to_be_name_the_problem_apart() -> None:
    found = frame("la route elle est complètement cassée").category
    assert found is not None and found.value == "chaussee_trottoirs"


def test_vous_savez_opens_the_description_and_is_not_part_of_it() -> None:
    assert describe("c'est pour, vous savez, le trottoir qui est tout cassé") == "le trottoir qui est tout cassé"


def test_a_house_number_put_right_after_the_street_s_name() -> None:
    assert frame("trente boulevard baille euh non trente deux").place.street_number == "32"


def test_a_number_written_after_the_street_s_name_is_its_house_number() -> None:
    assert frame("Tags bd Baille 140, 5e").place.street_number == "140"
    assert frame("rue paradis 3 lampadaires éteints").place.street_number is None


def test_where_the_road_goes_is_not_where_the_problem_is() -> None:
    place = frame("au rond-point direction martigues, à istres, y a des gravats").place
    assert place.commune == "Istres"
    assert frame("au bout du parking direction les milles").place.landmark == "bout du parking"


def test_a_future_after_ou_is_no_question_of_where_to_go() -> None:
    assert not frame("des tags sur le mur de l'école, c'est gratuit ou on va me le facturer ?").out_of_scope


def test_a_public_passage_padlocked_is_a_report() -> None:
    said = frame("le passage public derrière l'église est cadenassé, on peut plus passer")
    assert said.category is not None and said.category.value == "autre" and not said.out_of_scope


def test_any_parking_space_is_no_landmark_and_someone_ends_one() -> None:
    assert frame("la voiture brûlée est garée sur une place").place.landmark is None
    assert frame("devant la gare quelqu'un a cassé la vitre").place.landmark == "gare"


@pytest.mark.parametrize(
    "said",
    ["j'ai un vieux buffet, où est-ce que je vais le déposer ?", "comment on va me rembourser ma jante abîmée"],
)
def test_where_to_take_one_s_things_or_a_refund_stays_another_service(said: str) -> None:
    assert frame(said).out_of_scope


def test_one_s_own_things_said_to_be_broken_name_no_street_problem() -> None:
    assert frame("mon chat il est mort hier soir").category is None


def test_a_public_passage_full_of_litter_is_litter() -> None:
    found = frame("le passage public près de l'école il est plein de détritus").category
    assert found is not None and found.value == "proprete"


@pytest.mark.parametrize(
    "said", ["cours julien 2 à 3 scooters garés sur le trottoir", "deux bennes qui débordent avenue du prado non trois"]
)
def test_a_count_is_no_house_number(said: str) -> None:
    assert frame(said).place.street_number is None


def test_a_house_number_taken_back_right_after_it_is_said() -> None:
    said = (
        "tout le boulevard baille est noir les lampadaires au niveau du soixante "
        "euh non soixante quatre boulevard baille"
    )
    assert frame(said).place.street_number == "64"


@pytest.mark.parametrize(
    "said",
    [
        "allô, allô ? oui, ça coupe là, dans le tunnel",
        "allô vous m'entendez ? je suis dans ma voiture, ça capte mal",
    ],
)
def test_a_line_only_about_the_call_holds_on_and_answers_nothing(said: str) -> None:
    found = frame(said, "affirm")
    assert found.holds_on and found.yes_no is None and found.answer is None and found.description is None


def test_what_comes_after_the_words_about_the_line_is_still_read() -> None:
    found = frame("ça capte mal mais c'est au 9 rue de la loge")
    assert not found.holds_on and found.place.street_name == "rue de la Loge"


def test_a_thing_that_does_not_pass_is_no_talk_about_the_line() -> None:
    assert frame("le bus ça passe pas dans la rue à cause des voitures").category is not None


@pytest.mark.parametrize(("said", "danger"), [("ouais grave", None), ("carrément grave, il est dangereux", True)])
def test_grave_after_a_yes_is_the_young_callers_totally(said: str, danger: bool | None) -> None:
    found = frame(said, "affirm")
    assert found.danger is danger and found.answer is True


@pytest.mark.parametrize(
    "said",
    [
        "ma facture de l'eau a triplé, il doit y avoir une fuite quelque part",
        "nos factures ont augmenté depuis la fuite de la canalisation",
    ],
)
def test_the_callers_own_bill_is_another_service_whatever_it_hints_at(said: str) -> None:
    assert frame(said, "report_problem").out_of_scope


def test_a_leak_in_the_street_is_no_bill() -> None:
    assert not frame("une fuite d'eau sur le trottoir devant la pharmacie", "report_problem").out_of_scope


@pytest.mark.parametrize(
    ("said", "added"),
    [
        ("ah et il y a aussi des bouteilles cassées à côté", "des bouteilles cassées à côté"),
        ("j'oubliais, y a en plus un panneau tordu", "un panneau tordu"),
    ],
)
def test_something_else_there_is_an_addition(said: str, added: str) -> None:
    assert frame(said, "inform").addition == added


@pytest.mark.parametrize(
    ("said", "landmark"),
    [
        ("au parking de la piscine y a des sacs partout", "parking de la piscine"),
        ("devant le gymnase y'a un lampadaire qui clignote", "gymnase"),
    ],
)
def test_y_a_ends_a_landmark(said: str, landmark: str) -> None:
    assert frame(said, "report_problem").place.landmark == landmark


def test_a_commune_the_recogniser_cut_in_two_names_no_station() -> None:
    found = frame("un tag sur la façade du 5 rue de la paix à gare danne", "report_problem")
    assert found.place.commune == "Gardanne" and found.place.landmark is None
    assert found.category is not None and found.category.value == "tags_graffitis"


@pytest.mark.parametrize("said", ["non c'est pas la peine de me rappeler", "ça me fait de la peine de voir ça"])
def test_everyday_words_that_sound_like_a_commune_stay_words(said: str) -> None:
    assert frame(said).place.commune is None


def test_a_commune_named_is_not_replaced_by_a_landmark_that_sounds_like_another() -> None:
    found = frame("devant l'église sainte anne, à lambesc", "inform")
    assert found.place.commune == "Lambesc"


@pytest.mark.parametrize(
    ("said", "category"),
    [
        ("sur les platanes du boulevard il y a des nids de chenilles", "nuisibles"),
        ("dans l'olivier de la place y a un essaim de guêpes", "nuisibles"),
        ("le trou dans la chaussée est énorme", "chaussee_trottoirs"),
        ("le platane penche dangereusement", "espaces_verts_arbres"),
    ],
)
def test_a_tree_said_as_where_gives_way_to_what_lives_in_it(said: str, category: str) -> None:
    found = frame(said, "report_problem").category
    assert found is not None and found.value == category


def test_a_trench_badly_filled_in_is_the_roadway() -> None:
    found = frame("la tranchée du chantier a été rebouchée n'importe comment", "report_problem").category
    assert found is not None and found.value == "chaussee_trottoirs"


def test_a_line_that_names_the_problem_and_places_nothing_is_no_landmark() -> None:
    assert frame("elle est toute rouillée, c'est une épave", "inform").free_landmark is None
    assert frame("derrière la salle des fêtes, une épave", "inform").free_landmark is not None


@pytest.mark.parametrize("said", ["un banc cassé, merci d'avance", "un banc cassé svp"])
def test_courtesy_at_the_end_is_no_part_of_the_description(said: str) -> None:
    assert describe(said) == "un banc cassé"


def test_a_communes_name_names_no_problem() -> None:
    found = frame("à la fare les oliviers le trottoir est défoncé", "report_problem").category
    assert found is not None and found.value == "chaussee_trottoirs"


@pytest.mark.parametrize(
    ("said", "category"),
    [
        (
            "c'était pour ma facture de cantine, pas chez vous, par contre y a un banc cassé devant l'école",
            "mobilier_urbain",
        ),
        (
            "pour une amende à contester, c'est pas ici je crois, sinon quelqu'un a déversé des gravats au fossé",
            "proprete",
        ),
    ],
)
def test_another_service_set_aside_before_par_contre_leaves_the_report(said: str, category: str) -> None:
    found = frame(said, "report_problem")
    assert not found.out_of_scope and found.category is not None and found.category.value == category


def test_another_service_alone_stays_out_of_scope() -> None:
    assert frame("c'était pour ma facture de cantine, c'est bien chez vous ?", "report_problem").out_of_scope


@pytest.mark.parametrize(
    ("said", "street"),
    [
        ("au 3 cours bel belsunce", "cours Belsunce"),
        ("au 20 boulevard de mont de montolivet", "boulevard de Montolivet"),
    ],
)
def test_a_false_start_of_a_name_is_dropped(said: str, street: str) -> None:
    assert frame(said).place.street_name == street


@pytest.mark.parametrize("said", ["les lessives du lavoir", "le port de port-de-bouc"])
def test_function_words_and_whole_names_are_no_false_starts(said: str) -> None:
    assert frame(said).text == said


@pytest.mark.parametrize(
    "said",
    ["ça sent le gaz la gazinière du snack est ouverte", "il y a une odeur de gaz gazoduc percé je pense"],
)
def test_a_word_begun_again_is_dropped_only_before_a_name(said: str) -> None:
    found = frame(said, "report_problem")
    assert found.text == said and found.emergency


def test_pain_after_a_fall_is_no_thing_done_badly() -> None:
    assert frame("un monsieur a glissé sur le verglas, il a mal tapé sa tête", "report_problem").emergency
    assert frame("mon père est tombé dans le trou, il a mal vu son âge", "report_problem").emergency


def test_a_bill_beside_a_leak_in_a_street_named_is_still_a_report() -> None:
    said = "une fuite d'eau énorme avenue du prado, ça finira sur nos factures"
    assert not frame(said, "report_problem").out_of_scope


@pytest.mark.parametrize(
    "said",
    [
        "c'est pour ma facture d'eau, sinon ils vont me couper l'eau",
        "pour un permis de construire, sinon ça va le trottoir",
    ],
)
def test_sinon_as_otherwise_sets_nothing_aside(said: str) -> None:
    assert frame(said, "report_problem").out_of_scope


def test_a_problem_named_inside_a_negation_is_not_affirmed() -> None:
    found = frame("non, le souci c'est pas le trottoir", "deny")
    assert found.affirmed_category is None


@pytest.mark.parametrize("said", ["ça coupe tout le temps la nuit", "le feu ça coupe puis ça repart"])
def test_a_thing_that_cuts_out_is_no_talk_about_the_line(said: str) -> None:
    found = frame(said)
    assert not found.holds_on and found.description is not None and "coupe" in found.description


def test_a_yes_before_the_line_talk_answers() -> None:
    found = frame("oui, allô, ça capte mal", "affirm")
    assert not found.holds_on and found.answer is True


def test_a_place_said_from_a_container_is_a_landmark() -> None:
    assert frame("vers la benne à vêtements", "inform").free_landmark == "benne à vêtements"


def test_trees_hiding_a_sign_are_the_trees_problem() -> None:
    found = frame("la taille des haies est pas faite, elles cachent le stop", "report_problem").category
    assert found is not None and found.value == "espaces_verts_arbres"


def test_an_everyday_phrase_after_a_is_no_bent_commune() -> None:
    assert frame("ils jettent leurs sacs à la barbe des voisins", "report_problem").place.commune is None


def test_carrement_grave_said_of_the_problem_is_a_danger() -> None:
    assert frame("ce trou est carrément grave", "report_problem").danger is True


def test_a_street_named_merci_keeps_its_name_in_the_description() -> None:
    assert describe("le banc de la rue de la merci") == "le banc de la rue de la merci"


@pytest.mark.parametrize(
    ("said", "asks"),
    [
        ("un conseiller s'il vous plaît... oh et puis tant pis, je vous explique", False),
        ("donnez-moi un agent, bon finalement non, c'est pour un trou", False),
        ("je voudrais un humain, non laisse tomber, je vais faire avec vous", False),
        ("tant pis, passez-moi quand même un agent", True),
        ("passez-moi un agent, des gens ont laissé tomber des cartons partout", True),
        ("passez-moi un agent, tant pis pour la musique d'attente", True),
        ("je souhaite parler à un conseiller, je peux pas continuer avec vous", True),
        ("je veux un conseiller, j'ai pas envie de faire avec vous", True),
        ("je préférerais une vraie personne sinon tant pis je raccroche", True),
        ("passez-moi un humain, laissez tomber le robot", True),
        ("je veux un humain, laissez tomber vos questions", True),
        ("passez-moi un agent, tant pis j'attendrai", True),
        ("passez-moi un agent, je vais pas tout expliquer à vous", True),
        ("passez-moi quelqu'un, ah non laissez tomber, y a un trou énorme devant chez moi", False),
    ],
)
def test_a_request_for_a_person_taken_back_in_the_same_breath_is_none(said: str, asks: bool) -> None:
    assert asks_for_person(fold(said)) is asks


@pytest.mark.parametrize(
    ("said", "emergency"),
    [
        ("le poteau d'incendie de l'école est couché sur le trottoir", False),
        ("c'est un secteur à risque d'incendie et des gens y jettent leurs gravats", False),
        ("un incendie a pris dans la pinède derrière les maisons", True),
        ("l'alarme incendie hurle dans la résidence et ça sent le brûlé", True),
        ("c'est une zone à risque d'incendie et les broussailles prennent feu", True),
        ("le feu a pris à côté du poteau incendie", True),
        ("un départ de feu dans la garrigue", True),
    ],
)
def test_fire_equipment_and_fire_risk_are_no_fire(said: str, emergency: bool) -> None:
    assert frame(said, "report_problem").emergency is emergency


def test_a_fire_hydrant_is_water_not_street_furniture() -> None:
    assert frame("le poteau incendie de la placette perd de l'eau", "report_problem").affirmed_category == (
        "eau_assainissement"
    )


@pytest.mark.parametrize(
    ("said", "commune"),
    [
        ("au quatre rue des écoles à très", "Trets"),
        ("rue des écoles à très au numéro quatre", "Trets"),
        ("le chemin du stade à grand au fond", "Grans"),
        ("merci à très vite", None),
        ("ils sont venus à grand renfort de camions", None),
        ("il a très mal au dos", None),
        ("le trou s'agrandit à grand pas", None),
        ("les sacs montent à très au moins un mètre", None),
        ("devant la boulangerie à très il y a une grille cassée", "Trets"),
        ("merci beaucoup à très", None),
        ("c'est à très", "Trets"),
    ],
)
def test_a_commune_written_as_the_everyday_word_it_sounds_like(said: str, commune: str | None) -> None:
    assert frame(said).place.commune == commune


@pytest.mark.parametrize(
    ("said", "commune"),
    [("devant le palais longchamp", "Marseille"), ("sur le plateau de l'arbois", "Aix-en-Provence")],
)
def test_a_well_known_place_says_its_commune(said: str, commune: str) -> None:
    assert frame(said).place.commune == commune


def test_a_thing_named_by_its_quarter_is_a_landmark_there() -> None:
    kiosk = frame("le kiosque de mazargues")
    assert kiosk.place.commune == "Marseille" and kiosk.place_beside_commune == "kiosque de mazargues"
    quarter = frame("le quartier de mazargues")
    assert quarter.place.commune == "Marseille" and quarter.place_beside_commune is None
    street = frame("au cinq traverse de la rose à gare danne")
    assert street.place.commune == "Gardanne" and street.place_beside_commune is None
    # A quarter's name said without its article, or in another commune, is no quarter ("Les Crottes" is Marseille's).
    assert frame("il y a des crottes de chien partout à aubagne").place_beside_commune is None
    assert frame("marseille, plutôt au nord de saint jérôme").place_beside_commune is None
    assert frame("marseille, le kiosque de mazargues").place_beside_commune == "kiosque de mazargues"


def test_a_quarter_inside_the_street_name_does_not_outweigh_the_commune_heard_after_it() -> None:
    assert frame("au neuf chemin de la pomme à mes reuil au merlan").place.commune == "Meyreuil"


def test_a_house_number_put_right_alone_before_the_commune() -> None:
    said = frame("avenue des pins au numéro soixante euh non pardon seize aux pennes mirabeau")
    assert said.place.street_number == "16" and said.street_number_said == "16"
    assert frame("devant le quarante euh non pardon quatorze").place.street_number == "14"
    assert frame("il y a deux bancs cassés non trois").street_number_said is None
    assert frame("y en a trois euh non quatre sur le trottoir de la rue de rome").street_number_said is None
    counted = frame("au dix rue de rome il y a deux bennes euh non trois sur le trottoir")
    assert counted.place.street_number == "10" and counted.street_number_said == "10"
    assert frame("au quinze, y en a trois euh non quatre").street_number_said == "15"


def test_a_house_number_said_then_the_one_it_replaces() -> None:
    typed = frame("des tags au 19 rue des orgues à gémenos. 91 pas 19", "report_problem")
    assert typed.place.street_number == "91"
    assert frame("rue des orgues il y a 3 tags pas 2", "report_problem").place.street_number is None
    assert frame("le conteneur du huit rue des orgues, cinq pas huit sacs", "report_problem").place.street_number == "8"


def test_a_parked_thing_that_does_not_move_is_a_vehicle() -> None:
    assert not frame("elle est stationnée là depuis l'été, elle bouge plus").maybe_emergency
    assert not frame("depuis des semaines elle bouge pas, les roues sont crevées").maybe_emergency
    assert frame("ma voisine est par terre, elle bouge plus").emergency
    assert frame("il est garé de travers, affalé sur son volant, il bouge plus").maybe_emergency


def test_the_town_hall_square_keeps_its_whole_name() -> None:
    assert frame("place de l'hôtel de ville à aubagne").place.street_name == "place de l'Hôtel de Ville"
    of_the_town = frame("place de l'hôtel de ville de gardanne il y a des tags").place
    assert of_the_town.street_name == "place de l'Hôtel de Ville" and of_the_town.commune == "Gardanne"


def test_saint_as_the_recogniser_writes_it_in_a_street_name() -> None:
    assert frame("au six chemin de sein marc à gémenos").place.street_name == "chemin de Saint Marc"
    assert frame("rue du sein").place.street_name == "rue du Sein"


def test_a_doubt_says_nothing_of_what_is_wrong() -> None:
    assert frame("je pense que c'est le banc cassé").says_little
    assert not frame("le banc a deux planches arrachées et une vis qui dépasse").says_little
    assert not frame("l'éclairage public clignote toute la nuit").says_little


def test_an_indefinite_article_ends_a_landmark_unless_it_numbers_a_building() -> None:
    assert frame("devant l'école une barrière est tombée").place.landmark == "école"
    assert frame("devant le bâtiment un de la résidence").place.landmark == "bâtiment Un de la Résidence"
    assert frame("à la sortie une du métro").place.landmark == "sortie Une du Métro"


def test_a_bent_commune_read_as_a_landmark_gives_way_to_the_place_after_it() -> None:
    place = frame("à gardane devant la poste").place
    assert place.commune == "Gardanne" and place.landmark == "poste"
    place = frame("à gardane au rond point du stade").place
    assert place.commune == "Gardanne" and place.landmark == "rond point du stade"
    place = frame("un platane est tombé sur la route à très devant l'église").place
    assert place.commune == "Trets" and place.landmark == "église"


def test_a_commune_split_in_four_pieces() -> None:
    assert frame("au deux rue des lilas à sept aimes les vallons").place.commune == "Septèmes-les-Vallons"


def test_a_burnt_out_wreck_is_a_vehicle() -> None:
    assert frame("une carcasse de moto rouillée au fond du parking", "report_problem").affirmed_category == (
        "stationnement_vehicule"
    )


def test_a_quarter_split_by_the_recogniser_is_not_the_commune_of_its_first_piece() -> None:
    # "puy ricard" is Puyricard, a quarter of Aix, not Le Puy-Sainte-Réparade for its "puy"; Mazargues is no Mazarin.
    assert frame("chemin des lilas à puy ricard").place.commune == "Aix-en-Provence"
    assert frame("dans le quartier de mazargues").place.commune == "Marseille"


def test_a_value_taken_back_ends_where_the_caller_says_they_got_it_wrong() -> None:
    said = "non ce n'est pas le boulevard michelet je me suis trompée c'est boulevard baille au cinq"
    assert frame(said, "deny").place.street_name == "boulevard Baille"
    said = "c'est pas le trente en fait je me suis encore gouré c'est le trente deux"
    assert frame(said, "deny").street_number_said == "32"


def test_a_thing_not_really_the_problem_gives_way_to_the_one_after_it() -> None:
    said = "enfin c'est pas vraiment les poubelles c'est les pigeons qui éventrent les sacs"
    assert frame(said).category is not None and frame(said).category.value == "nuisibles"  # type: ignore[union-attr]


def test_a_danger_answer_turned_round_is_the_second_thought() -> None:
    assert frame("non ça va... enfin si, les gamins peuvent tomber dedans, oui").danger is True
    assert frame("oui un peu, enfin non, pas vraiment").danger is False
    assert frame("non, enfin si on veut, c'est rien de grave").danger is not True


def test_nobody_hurt_yet_is_the_danger_reported() -> None:
    assert frame("non personne s'est fait mal pour le moment mais ça viendra").danger is True


def test_a_cut_line_said_before_the_answer_does_not_hide_it() -> None:
    assert frame("allô pardon ça a coupé, dangereux non").danger is False
    assert frame("allô oui ça a coupé").holds_on


def test_a_commune_taken_back_is_not_where_the_problem_is_wherever_else_it_is_named() -> None:
    said = "oh pardon c'est à Vitrolles pas à Marignane, moi je travaille à Marignane"
    assert frame(said).place.commune == "Vitrolles"


def test_asking_whether_the_bot_is_a_machine_or_a_person_is_no_request() -> None:
    asked = frame("je parle à une machine ou à un être humain ?", "greet")
    assert asked.asks_if_machine and not asked.asks_for_person
    assert frame("vous êtes un robot ou une personne ? passez-moi un humain").asks_for_person


def test_a_pedestrian_crossing_is_no_street() -> None:
    place = frame("un camion stationné sur le passage piéton au 12 avenue des chutes lavie").place
    assert place.street_name == "avenue des Chutes Lavie" and place.street_number == "12"


def test_a_street_said_with_du_cours() -> None:
    assert frame("les bancs du cours lieutaud sont cassés").place.street_name == "cours Lieutaud"


def test_an_arrondissement_put_right() -> None:
    assert frame("c'est dans le sixième non le septième").place.commune == "Marseille 7e"
    assert frame("dans le 6e non le lampadaire").place.commune == "Marseille 6e"


def test_a_noise_barrier_is_no_noise_complaint() -> None:
    said = "un mur anti-bruit près de la rocade a été recouvert de tags"
    assert not frame(said, "report_problem").out_of_scope


def test_pests_living_in_a_tree_are_the_problem() -> None:
    category = frame("le platane de la cour est envahi de chenilles", "report_problem").category
    assert category is not None and category.value == "nuisibles"
    category = frame("un pin est tombé sur la route", "report_problem").category
    assert category is not None and category.value == "espaces_verts_arbres"


def test_a_landmark_named_by_its_commune_ends_there() -> None:
    assert frame("devant la mairie de gardanne le panneau est tombé").place.landmark == "mairie de Gardanne"
    assert frame("devant la gare de la ciotat").place.landmark == "gare de La Ciotat"


def test_the_problem_said_first_is_the_calls_when_another_is_added() -> None:
    category = frame("le lampadaire est cassé et en plus y a des tags dessus", "report_problem").category
    assert category is not None and category.value == "eclairage_public"
    category = frame("commencez par le banc, les tags c'est moins pressé", "report_problem").category
    assert category is not None and category.value == "mobilier_urbain"


def test_a_bent_commune_names_no_problem() -> None:
    assert frame("je suis passé devant la plage à fosse sur mer", "report_problem").category is None


def test_a_night_shift_is_no_landmark() -> None:
    assert frame("je reviens du poste de nuit, le lampadaire est éteint").place.landmark is None


@pytest.mark.parametrize(
    ("said", "commune"),
    [
        ("moi j'habite pas à vitrolles j'habite à rognac mais le lampadaire c'est à vitrolles", "Vitrolles"),
        ("je suis pas de marseille je suis de gardanne mais le trou il est à marseille rue de rome", "Marseille"),
        ("c'est pas à aubagne même, c'est à la sortie d'aubagne en allant vers gemenos", "Aubagne"),
    ],
)
def test_where_the_caller_lives_or_is_from_is_not_the_place(said: str, commune: str) -> None:
    assert frame(said).place.commune == commune


def test_en_fait_after_a_street_keeps_the_street() -> None:
    assert frame("le lampadaire marche pas rue sainte en fait depuis trois jours").place.street_name == "rue Sainte"


def test_an_ordinal_that_counts_something_is_no_arrondissement_put_right() -> None:
    assert frame("dans le 9e non le 2e feu après la poste").place.commune == "Marseille 9e"
    assert frame("c'est dans le 7e enfin le 3e étage de l'immeuble").place.commune == "Marseille 7e"


def test_a_known_place_that_is_a_street_is_the_street() -> None:
    place = frame("des sacs qui traînent autour du cours Julien").place
    assert (place.street_name, place.landmark, place.commune) == ("cours Julien", None, "Marseille")
    assert frame("à la fin du cours les enfants traversent la route").place.street_name is None


def test_a_second_problem_counts_only_after_a_problem_described() -> None:
    category = frame("les voitures roulent trop vite et en plus le feu est cassé", "report_problem").category
    assert category is not None and category.value == "signalisation"
    category = frame("sur le trottoir y a aussi des crottes de chien partout", "report_problem").category
    assert category is not None and category.value == "proprete"


def test_a_name_going_on_after_the_commune_is_not_cut() -> None:
    assert frame("devant la gare d'aix le tgv il y a des encombrants").place.landmark == "gare d'Aix le Tgv"


def test_a_conditional_si_turns_no_answer_round() -> None:
    assert frame("non bon si les enfants font attention ça va").danger is not True
    assert frame("oui bon non je sais pas trop").danger is None


def test_a_tree_in_trouble_stays_a_tree_whatever_lives_in_it() -> None:
    category = frame("le pin penche sur la maison et il est plein de chenilles", "report_problem").category
    assert category is not None and category.value == "espaces_verts_arbres"


def test_what_hurts_the_eyes_is_no_harm_to_come() -> None:
    assert frame("pour l'instant non ça fait mal aux yeux c'est tout").danger is not True


def test_a_work_shift_only_is_no_place_but_a_parking_for_campers_is() -> None:
    assert frame("au parking des camping cars y a des déchets partout").place.landmark == "parking des camping Cars"


def test_no_danger_said_outright_beats_nobody_hurt_yet() -> None:
    assert frame("non, pas dangereux, personne ne s'est fait mal pour le moment").danger is False


@pytest.mark.parametrize(
    ("said", "commune"),
    [
        ("je suis à marignane, mais moi j'habite à vitrolles", "Marignane"),
        ("j'habite aubagne mais là je suis à marseille rue de rome y a un trou", "Marseille"),
    ],
)
def test_where_the_caller_stands_is_not_where_they_live(said: str, commune: str) -> None:
    assert frame(said).place.commune == commune


def test_a_day_after_du_cours_names_no_street() -> None:
    assert frame("mon fils rentrait du cours jeudi et il a vu un trou devant le collège").place.street_name is None


def test_an_ordinal_before_a_direction_puts_no_arrondissement_right() -> None:
    assert frame("c'est dans le douzième non le premier à gauche y a un trou").place.commune == "Marseille 12e"


def test_a_sentence_beside_a_commune_is_no_landmark() -> None:
    assert frame("à trets, le quartier est tout noir").place_beside_commune is None


def test_no_at_all_before_the_problem_answers_and_keeps_it() -> None:
    category = frame("non pas du tout la branche est tombée sur le trottoir", "report_problem").category
    assert category is not None and category.value == "espaces_verts_arbres"


def test_a_second_problem_only_with_en_plus() -> None:
    said = "les poubelles sont pleines et y a aussi une fuite d'eau énorme la rue est inondée"
    category = frame(said, "report_problem").category
    assert category is not None and category.value == "eau_assainissement"


def test_a_break_in_the_road_is_no_line_cut() -> None:
    assert "coupé la route" in (frame("un gros platane est tombé ça a coupé la route").description or "")


def test_a_proper_name_after_the_commune_goes_on_with_the_landmark() -> None:
    assert "Mugel" in (frame("au parc de la ciotat le mugel est plein de tags").place.landmark or "")


def test_a_burglary_with_broken_glass_stays_out_of_scope() -> None:
    assert frame("on m'a cambriolé cette nuit ils ont brisé la vitre de la porte", "report_problem").out_of_scope


def test_a_thing_only_mentioned_after_y_a_aussi_leaves_the_problem_described_first() -> None:
    said = "le banc du square est cassé et y a aussi des tags sur le kiosque"
    category = frame(said, "report_problem").category
    assert category is not None and category.value == "mobilier_urbain"


def test_the_callers_own_appointment_is_no_request_for_another_service() -> None:
    hurried = frame("je file à un rendez-vous, tout le quartier est dans le noir, plus aucun réverbère", "out_of_scope")
    assert not hurried.out_of_scope and hurried.category is not None
    assert frame("je voudrais prendre rendez-vous au service urbanisme", "out_of_scope").out_of_scope


def test_the_problem_the_caller_starts_with_after_listing_several() -> None:
    listed = frame("trois soucis : des tags, un trou et une fuite. je commence par le plus grave, la fuite")
    assert listed.category is not None and listed.category.value == "eau_assainissement"


def test_an_interjection_ends_a_streets_name() -> None:
    assert frame("c'est boulevard longchamp ah oui c'est dangereux").place.street_name == "boulevard Longchamp"


def test_someones_home_is_no_landmark_but_a_restaurant_named_chez_is() -> None:
    assert frame("le trottoir est défoncé devant chez ma tante", "report_problem").place.landmark is None
    assert frame("un tag sur le mur devant chez Fonfon", "report_problem").place.landmark == "chez Fonfon"


def test_a_kind_of_place_said_as_where_names_no_problem() -> None:
    where = frame("c'est pour un souci dans le grand parc", "report_problem")
    assert where.category is None and where.place.landmark == "grand parc"
    assert frame("l'herbe est haute dans le square", "report_problem").category is not None


@pytest.mark.parametrize(
    "said",
    [
        "on a un utilitaire garé juste devant le 30 boulevard national depuis lundi",
        "il y a un fourgon garé en double file devant le 30 boulevard national",
    ],
)
def test_a_parked_vehicle_is_at_no_station_and_the_verb_a_is_no_preposition(said: str) -> None:
    place = frame(said, "report_problem").place
    assert (place.street_number, place.street_name, place.landmark) == ("30", "boulevard National", None)


def test_a_machine_or_a_person_wanted_is_a_request_not_a_question_about_the_bot() -> None:
    wanted = frame("y a vraiment pas moyen d'avoir un ordinateur ou un humain qui me comprenne", "request_human")
    assert wanted.asks_for_person and not wanted.asks_if_machine


def test_the_coming_of_someone_is_no_avenue() -> None:
    place = frame("depuis la venue des éboueurs ce matin le trottoir est plein de sacs au 3 rue d'italie").place
    assert place.street_name == "rue d'Italie"


def test_the_problem_rated_first_is_the_calls_when_another_is_rated_lower() -> None:
    rated = frame("le nid de poule c'est le plus gênant, les tags c'est moins urgent", "report_problem").category
    assert rated is not None and rated.value == "chaussee_trottoirs"


@pytest.mark.parametrize(
    ("said", "category"),
    [
        ("y a la fontaine du village qui coule plus", "mobilier_urbain"),
        ("derrière la fontaine du marché il y a un trou dans la chaussée", "chaussee_trottoirs"),
    ],
)
def test_a_thing_said_as_the_subject_or_beside_the_problem_is_read_as_such(said: str, category: str) -> None:
    found = frame(said, "report_problem").category
    assert found is not None and found.value == category


def test_a_changed_appointment_is_another_services_and_a_person_or_a_robot_is_asked_about() -> None:
    assert frame("il faut reporter mon rendez-vous de mardi", "out_of_scope").out_of_scope
    asked = frame("est-ce que vous êtes une vraie dame ou un robot", "request_human")
    assert asked.asks_if_machine and not asked.asks_for_person


@pytest.mark.parametrize(
    ("said", "landmark", "commune"),
    [
        ("c'est là où il y a la pharmacie", "pharmacie", None),
        ("un pin à terre devant la crèche", "crèche", None),
        ("ça a au moins deux semaines que ça dure", None, None),
    ],
)
def test_places_after_the_verb_a_not_on_the_ground_nor_in_function_words(
    said: str, landmark: str | None, commune: str | None
) -> None:
    place = frame(said, "report_problem").place
    assert (place.landmark, place.commune) == (landmark, commune)


def test_an_appointment_beside_a_problem_in_the_street_is_no_other_services() -> None:
    said = "mon rendez-vous pour enlever le frigo a sauté et il est toujours devant l'immeuble"
    assert not frame(said, "out_of_scope").out_of_scope


def test_the_whole_rated_is_no_pointer_to_one_thing() -> None:
    whole = frame("une branche tombée sur le lampadaire c'est le plus dangereux", "report_problem").category
    assert whole is not None and whole.value == "espaces_verts_arbres"


@pytest.mark.parametrize(
    ("said", "landmark"),
    [
        ("le transformateur a brûlé vers la gare hier soir", "gare"),
        ("il y a des gravats à proximité du stade", "stade"),
    ],
)
def test_the_verb_a_before_a_participle_opens_no_landmark_and_proximity_is_a_cue(said: str, landmark: str) -> None:
    assert frame(said, "report_problem").place.landmark == landmark


def test_a_machine_of_the_callers_own_is_no_question_about_the_bot() -> None:
    own = frame("vous pouvez me rappeler, c'est une ligne fixe avec un répondeur", "inform")
    assert not own.asks_if_machine
    assert frame("dites, je suis en train de parler à une machine là ?", "inform").asks_if_machine


def test_a_place_said_beside_its_commune_in_one_breath_is_kept_apart_from_it() -> None:
    said = frame("ben c'est à trets sur le chemin qui longe la voie ferrée après la cave coopérative")
    assert said.place.commune == "Trets"
    assert said.place_beside_commune == "chemin qui longe la voie ferrée après la cave coopérative"


def test_a_place_said_near_another_is_no_topic_for_another_service() -> None:
    near = frame("au quarante boulevard de la libération juste devant la médiathèque", "report_problem")
    assert not near.out_of_scope
    assert frame("la médiathèque est fermée le lundi ?", "out_of_scope").out_of_scope


def test_an_elided_article_is_part_of_a_communes_sound() -> None:
    assert frame("un lampadaire en panne vers cas d'olive", "report_problem").place.commune == "Cadolive"


def test_a_kind_of_place_opens_a_landmark_only_right_after_its_preposition() -> None:
    bins = frame("les bacs à verre sur le parking de la salle des fêtes débordent", "report_problem").place
    assert bins.landmark == "parking de la Salle des Fêtes"
    assert frame("il y a un trou au fond du parking", "report_problem").place.landmark == "fond du parking"


@pytest.mark.parametrize(
    ("said", "category"),
    [
        ("je suis coursier à vélo et la piste cyclable est pleine de trous", "chaussee_trottoirs"),
        ("je roulais en moto ce matin", None),
        ("je suis taxi, la chaussée s'est creusée à la sortie du tunnel", "chaussee_trottoirs"),
    ],
)
def test_the_callers_own_vehicle_or_trade_names_no_problem(said: str, category: str | None) -> None:
    read = frame(said, "report_problem")
    assert (read.category.value if read.category else None) == category
    assert not read.out_of_scope and read.place.commune is None  # "à vélo" is no Velaux either


def test_a_street_type_said_twice_and_a_count_in_a_name() -> None:
    place = frame("au vingt boulevard boulevard baille").place
    assert (place.street_number, place.street_name) == ("20", "boulevard Baille")
    near = frame("devant la pharmacie des cinq avenues avenue des chartreux", "report_problem").place
    assert near.street_name == "avenue des Chartreux" and near.street_number is None


def test_a_doubt_thought_aloud_before_the_danger_answer_leaves_the_answer() -> None:
    assert frame("dangereux ? oh je sais pas moi, non, pas tellement, c'est surtout moche").danger is False
    assert frame("je sais pas trop, oui quand même pour les poussettes").danger is True


def test_what_the_call_is_for_says_whether_more_is_asked_and_the_story_before_it_stays() -> None:
    story = frame("bonjour je sors de la pharmacie et c'est pour un banc", "report_problem")
    assert story.says_little and story.description is not None and "pharmacie" in story.description
    hurt = frame("ma femme s'est foulé la cheville hier soir et c'est pour le trou du trottoir", "report_problem")
    assert hurt.description is not None and "cheville" in hurt.description
    kept = frame("Grille tordue, poteau penché, ça date d'hier", "report_problem").description
    assert kept is not None and kept.startswith("Grille tordue")


def test_as_far_as_is_no_landmark() -> None:
    assert frame("ça dégouline le long jusqu'au virage", "report_problem").place.landmark == "virage"


@pytest.mark.parametrize(
    ("said", "street", "landmark"),
    [
        ("il y a des papiers partout, cours bel sunce", "cours Belsunce", None),
        ("le platane au palais long champ a perdu une branche", None, "palais Longchamp"),
        ("les bancs sont tagués, tout près du stade de puy ricard", None, "stade de Puyricard"),
    ],
)
def test_a_word_of_a_known_name_the_recogniser_cut_in_two_is_written_whole(
    said: str, street: str | None, landmark: str | None
) -> None:
    place = frame(said, "report_problem").place
    assert (place.street_name, place.landmark) == (street, landmark)


def test_a_well_known_place_said_before_the_street_at_its_side_is_kept() -> None:
    said = "des affiches collées sur les marches devant la gare St Charles, donc côté bd d'Athènes"
    place = frame(said, "report_problem").place
    assert (place.landmark, place.street_name) == ("gare Saint-Charles", "boulevard d'Athènes")


@pytest.mark.parametrize(
    ("said", "street"),
    [
        ("un véhicule ventouse bd du Mal Juin", "boulevard du Maréchal Juin"),
        ("le trottoir est défoncé rue daubagne vers le marché", "rue d'Aubagne"),
        ("une branche est tombée en travers de la route sézanne", "route Sézanne"),
    ],
)
def test_street_names_written_short_glued_or_after_la(said: str, street: str) -> None:
    assert frame(said, "report_problem").place.street_name == street


def test_a_kind_of_place_said_as_where_the_caller_was_names_no_problem() -> None:
    assert frame("je me balade avec ma petite fille au parc borély dans le jardin", "report_problem").category is None
    fallen = frame("un arbre est tombé dans le jardin public", "report_problem").category
    assert fallen is not None and fallen.value == "espaces_verts_arbres"


def test_an_adjective_after_la_route_is_no_street_and_a_counted_place_or_a_side_opens_a_landmark() -> None:
    assert frame("sur la route goudronnée qui monte au stade", "inform").place.street_name is None
    assert frame("au deuxième rond point après la zone", "inform").place.landmark is not None
    assert frame("à droite de la mairie annexe", "inform").place.landmark is not None


@pytest.mark.parametrize(
    "said",
    [
        "oh bonne mère y a des sacs partout avenue de la république à aubagne",
        "la préfecture m'a dit de vous appeler pour un trou rue paradis",
    ],
)
def test_a_nickname_or_a_place_said_as_who_is_no_landmark_beside_the_street(said: str) -> None:
    assert frame(said, "report_problem").place.landmark is None


def test_a_quarters_name_is_joined_from_everyday_words_only_where_a_name_goes() -> None:
    said = frame("le camion a livré et ça s'est très mal passé, le trottoir est cassé", "report_problem")
    assert said.description is not None and "mal passé" in said.description


@pytest.mark.parametrize(
    ("said", "machine"),
    [("t'es un bot ?", True), ("vous êtes bien humain ?", True), ("c'est une personne âgée qui est tombée", False)],
)
def test_more_ways_to_ask_about_the_bot(said: str, machine: bool) -> None:
    assert frame(said).asks_if_machine is machine


def test_a_fire_set_is_asked_about_unless_the_caller_says_it_is_over() -> None:
    assert frame("des jeunes ont mis le feu au conteneur", "report_problem").maybe_emergency
    assert not frame("ils avaient mis le feu au conteneur hier, il reste la carcasse", "report_problem").maybe_emergency


@pytest.mark.parametrize(
    ("said", "out_of_scope"),
    [
        ("je suis en bus et la conductrice m'a mal parlé", True),
        ("je suis livreur et on m'a volé mon scooter", True),
        ("je suis taxi et je passe devant l'abribus de la place", False),
    ],
)
def test_the_callers_own_way_hides_no_other_services_topic(said: str, out_of_scope: bool) -> None:
    assert frame(said, "report_problem").out_of_scope is out_of_scope


@pytest.mark.parametrize(
    ("said", "danger"),
    [
        ("je sais pas moi, non, mais un vélo pourrait glisser dessus", True),
        ("je sais pas non plus, faut voir", None),
    ],
)
def test_a_doubt_then_an_answer_is_read_whole(said: str, danger: bool | None) -> None:
    assert frame(said).danger is danger


def test_harm_said_after_a_doubt_and_a_no_is_danger_and_a_park_with_a_problem_keeps_it() -> None:
    assert frame("je sais pas, non, des piétons glissent dessus").danger is True
    watered = frame("dans le parc y a plus d'arrosage automatique", "report_problem").category
    assert watered is not None and watered.value == "espaces_verts_arbres"


def test_a_fire_set_is_no_traffic_light() -> None:
    found = frame("des gamins ont mis le feu à la benne", "report_problem").category
    assert found is not None and found.value == "proprete"
