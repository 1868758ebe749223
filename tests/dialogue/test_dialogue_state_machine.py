"""The conversation state machine (dialogue.conversation) without Rasa: the decisions the actions make."""

from __future__ import annotations

from typing import Any

import pytest

from dialogue.conversation import (
    Knowledge,
    Outcome,
    handle_fallback,
    handle_goodbye,
    handle_hold_on,
    handle_no_input,
    handle_out_of_scope,
    handle_report_turn,
    handle_request_human,
    holds_on,
    summary,
)
from dialogue.knowledge import default_gazetteer, default_taxonomy
from dialogue.slots import PENDING
from dialogue.understanding import Frame, Heard, Understanding

KNOWLEDGE = Knowledge(default_taxonomy(), default_gazetteer())
UNDERSTAND = Understanding(KNOWLEDGE.taxonomy, KNOWLEDGE.gazetteer)


def understood(intent: str, text: str, nlu: float = 0.95, asr: float | None = 0.9, caller: str | None = None) -> Frame:
    """What the action server hands the state machine: the line, understood once."""
    return UNDERSTAND(Heard(intent, text, nlu, asr, caller))


def turn(
    slots: dict[str, Any], intent: str, text: str, nlu: float = 0.95, asr: float | None = 0.9, caller: str | None = None
) -> Outcome:
    outcome = handle_report_turn(understood(intent, text, nlu, asr, caller), slots, KNOWLEDGE)
    slots.update(outcome.slots)
    return outcome


def test_one_sentence_fills_category_place_and_description() -> None:
    slots: dict[str, Any] = {}
    text = "il y a un nid de poule en face du 14 ter rue de rome sur marseille"
    outcome = turn(slots, "report_problem", text, caller="+33612345678")
    assert slots["category"] == "chaussee_trottoirs" and slots["description"] == text
    assert slots["place"] == "14 ter rue de Rome, Marseille"
    assert slots["caller_number"] == "06 12 34 56 78"
    assert outcome.said[0].response == "utter_ask_danger"


def test_confirmation_saves_and_denial_asks_what_to_correct() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un banc cassé au 3 avenue du prado marseille c'est pas dangereux")
    assert slots["danger"] is False
    assert turn(slots, "deny", "non").said[0].response == "utter_read_back"
    assert turn(slots, "deny", "non").said[0].response == "utter_ask_correction"
    outcome = turn(slots, "inform", "le lieu")
    assert outcome.said[0].response == "utter_ask_place" and slots["street_name"] is None
    turn(slots, "inform", "5 rue paradis à marseille")
    assert slots["place"] == "5 rue Paradis, Marseille" and slots["category"] == "mobilier_urbain"
    assert turn(slots, "affirm", "oui").save_report


def test_nothing_wrong_after_all_reads_the_report_back_again() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un banc cassé au 3 avenue du prado marseille c'est pas dangereux")
    turn(slots, "deny", "non")
    assert turn(slots, "deny", "non").said[0].response == "utter_ask_correction"
    again = turn(slots, "affirm", "ah si si c'est bon en fait")
    assert [s.response for s in again.said] == ["utter_read_back"] and again.handoff_reason is None
    assert turn(slots, "affirm", "oui").save_report


def test_a_yes_that_says_the_street_again_confirms() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un banc cassé au 3 av du prado à marseille, pas dangereux")
    turn(slots, "deny", "non")
    assert turn(slots, "affirm", "oui, 3 av du Prado c'est ça").save_report


def test_a_number_or_a_street_said_twice_is_said_once() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un lampadaire éteint")
    turn(slots, "inform", "c'est boulevard baille euh boulevard baille au cent douze cent douze à marseille")
    assert slots["street_name"] == "boulevard Baille" and slots["street_number"] == "112"


def test_correction_of_the_number_keeps_the_street() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "des tags au 12 rue paradis à marseille pas de danger")
    turn(slots, "deny", "non")
    outcome = turn(slots, "correct", "non c'est au 14")
    assert slots["street_number"] == "14" and slots["street_name"] == "rue Paradis"
    assert "14 rue Paradis" in outcome.said[0].variables["summary"]


def test_low_asr_confidence_does_not_open_a_report() -> None:
    slots: dict[str, Any] = {}
    outcome = turn(slots, "report_problem", "il y a des tags", asr=0.2)
    assert outcome.said[0].response == "utter_not_understood" and not slots.get("category")
    outcome = turn(slots, "report_problem", "il y a des tags", asr=0.2)
    assert outcome.handoff_reason == "low_confidence"


def test_unknown_words_do_not_open_a_report_even_if_nlu_is_sure() -> None:
    slots: dict[str, Any] = {}
    outcome = turn(slots, "report_problem", "blorg zutik pataflop", nlu=0.97)
    assert outcome.said[0].response == "utter_not_understood" and not slots.get("category")


def test_other_category_keeps_the_callers_words() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "je vous appelle pour un problème")
    turn(slots, "inform", "le mur du stade est en train de s'effondrer")
    assert slots["category"] == "autre"
    assert slots["category_other_words"] == "le mur du stade est en train de s'effondrer"
    assert "effondrer" in summary(slots, KNOWLEDGE.taxonomy)


def test_emergency_words_win_over_the_report() -> None:
    outcome = turn({}, "report_problem", "un câble électrique arraché traîne sur le bitume")
    assert outcome.handoff_reason == "emergency" and outcome.said[0].response == "utter_emergency"


def test_out_of_scope_words_do_not_start_a_report() -> None:
    slots: dict[str, Any] = {}
    outcome = turn(slots, "report_problem", "je voudrais payer ma facture")
    assert outcome.said[0].response == "utter_out_of_scope" and not slots.get("category")


def test_fallback_still_accepts_an_answer_to_the_pending_question() -> None:
    slots: dict[str, Any] = {"category": "proprete", "pending_question": "place"}
    outcome = handle_fallback(understood("nlu_fallback", "12 rue sainte marseille", 0.3, 0.9), slots, KNOWLEDGE)
    assert outcome.slots["street_name"] == "rue Sainte" and outcome.said[0].response == "utter_ask_danger"


def test_silence_twice_ends_or_hands_over() -> None:
    empty: dict[str, Any] = {}
    first = handle_no_input(understood("no_input", "/no_input", 1.0), empty, KNOWLEDGE)
    assert first.said[0].response == "utter_reask_problem" and not first.hangup
    empty.update(first.slots)
    second = handle_no_input(understood("no_input", "/no_input", 1.0), empty, KNOWLEDGE)
    assert second.hangup and second.handoff_reason is None
    started: dict[str, Any] = {"category": "proprete", "pending_question": "place", "reprompt_count": 1}
    assert handle_no_input(understood("no_input", "/no_input", 1.0), started, KNOWLEDGE).handoff_reason == "no_input"


def test_repeated_out_of_scope_ends_with_a_low_confidence_handoff() -> None:
    from dialogue.conversation import handle_out_of_scope

    slots: dict[str, Any] = {}
    reasons = []
    for _ in range(3):
        outcome = handle_out_of_scope(understood("out_of_scope", "blorg zutik", 0.99, 0.9), slots, KNOWLEDGE)
        slots.update(outcome.slots)
        reasons.append(outcome.handoff_reason)
    assert reasons == [None, None, "low_confidence"] and not slots.get("category")


def test_affirm_intent_without_a_yes_does_not_transfer() -> None:
    slots: dict[str, Any] = {"pending_question": "offer_human"}
    assert turn(slots, "affirm", "frmbl grzt plouk").handoff_reason is None
    assert turn(slots, "affirm", "oui je veux bien").handoff_reason == "out_of_scope"


def test_a_person_asked_for_in_own_words_after_the_offer_is_the_callers_request() -> None:
    from dialogue.conversation import handle_request_human

    said = "j'y comprends rien moi à ces appareils, mettez-moi avec une vraie personne"
    offered: dict[str, Any] = {"pending_question": "offer_human"}
    outcome = handle_request_human(understood("request_human", said), offered, KNOWLEDGE)
    assert outcome.handoff_reason == "caller_request"
    outcome = handle_request_human(understood("request_human", "oui d'accord"), offered, KNOWLEDGE)
    assert outcome.handoff_reason == "out_of_scope"  # the offer accepted: the agent learns why it was made


def emergency_turn(slots: dict[str, Any], text: str) -> Outcome:
    from dialogue.conversation import handle_emergency

    outcome = handle_emergency(understood("emergency", text, 0.97, 0.9), slots, KNOWLEDGE)
    slots.update(outcome.slots)
    return outcome


def test_a_dangerous_answer_read_as_emergency_fills_the_danger_field() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "le feu tricolore ne marche plus au 3 avenue de toulon à aubagne")
    assert slots["pending_question"] == "danger"
    outcome = emergency_turn(slots, "oui c'est très dangereux les voitures passent au rouge")
    assert outcome.handoff_reason is None and slots["danger"] is True
    assert slots["pending_question"] == "callback_consent"


def test_a_real_emergency_read_as_emergency_hands_over() -> None:
    outcome = emergency_turn({}, "il y a une odeur de gaz très forte dans la cage d'escalier")
    assert outcome.handoff_reason == "emergency" and outcome.said[0].response == "utter_emergency"


def test_a_risk_in_a_first_sentence_is_a_report_whose_danger_is_asked_unless_said_in_words() -> None:
    slots: dict[str, Any] = {}
    outcome = emergency_turn(slots, "les buissons cachent le stop on ne voit pas les voitures qui arrivent")
    assert outcome.handoff_reason is None and slots["category"] == "espaces_verts_arbres"
    assert slots.get("danger") is None  # a fact that suggests a risk; the caller is asked
    slots = {}
    emergency_turn(slots, "les buissons cachent le stop, c'est dangereux, on ne voit pas les voitures")
    assert slots["danger"] is True


@pytest.mark.parametrize(
    ("answer", "danger"),
    [
        ("oui les enfants passent sur la chaussée", True),
        ("non attendez si en fait c'est dangereux", True),
        ("non c'est pas bien méchant", False),
        ("euh oui on ne peut pas passer", True),
    ],
)
def test_danger_answers(answer: str, danger: bool) -> None:
    slots: dict[str, Any] = {
        "category": "proprete",
        "street_name": "rue Sainte",
        "commune": "Marseille",
        "pending_question": "danger",
    }
    turn(slots, "inform", answer)
    assert slots["danger"] is danger


def test_one_sentence_report_with_low_nlu_confidence_keeps_its_place() -> None:
    slots: dict[str, Any] = {}
    outcome = turn(slots, "inform", "un grand trou dans la chaussée au 40 boulevard chave à marseille", nlu=0.3)
    assert slots["category"] == "chaussee_trottoirs" and slots["place"] == "40 boulevard Chave, Marseille"
    assert outcome.said[0].response == "utter_ask_danger"


def test_out_of_scope_read_by_the_nlu_but_a_street_problem_is_a_report() -> None:
    from dialogue.conversation import handle_out_of_scope

    slots: dict[str, Any] = {}
    outcome = handle_out_of_scope(
        understood("out_of_scope", "la pendule de la place est arrêtée", 0.8, 0.9), slots, KNOWLEDGE
    )
    slots.update(outcome.slots)
    assert slots["category"] == "autre" and outcome.said[0].response == "utter_ask_place"


def test_private_leak_is_out_of_scope_and_accepting_the_adviser_keeps_the_reason() -> None:
    from dialogue.conversation import handle_request_human

    slots: dict[str, Any] = {}
    outcome = turn(slots, "report_problem", "j'ai de l'eau qui fuit sous l'évier de la cuisine")
    assert outcome.said[0].response == "utter_out_of_scope" and not slots.get("category")
    human = handle_request_human(understood("request_human", "oui passez-moi quelqu'un", 0.9, 0.9), slots, KNOWLEDGE)
    assert human.handoff_reason == "out_of_scope"
    assert (
        handle_request_human(understood("request_human", "un conseiller", 0.9), {}, KNOWLEDGE).handoff_reason
        == "caller_request"
    )


def test_a_common_noun_route_in_an_answer_keeps_the_street() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "une branche en travers du trottoir au 5 rue de la loge à marseille")
    turn(slots, "affirm", "oui on doit marcher sur la chaussée pour la contourner")
    assert slots["street_name"] == "rue de la Loge" and slots["danger"] is True


def test_correcting_the_street_name_keeps_the_number() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un trou au 18 rue de rome sur marseille pas de danger")
    turn(slots, "deny", "non")
    turn(slots, "deny", "non")
    turn(slots, "correct", "non c'est rue de lodi pas rue de rome")
    assert slots["street_name"] == "rue de Lodi" and slots["street_number"] == "18"


def test_a_corrected_phone_number_does_not_become_a_street_number() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un banc cassé au 60 avenue de la corse à marseille pas de danger")
    turn(slots, "affirm", "oui rappelez-moi au 06 11 22 33 44")
    turn(slots, "correct", "non le bon numéro c'est le 06 11 22 33 55")
    assert slots["street_number"] == "60" and slots["callback_number"] == "06 11 22 33 55"


def test_asking_to_report_without_details_asks_what_happened() -> None:
    outcome = turn({}, "inform", "oui bonjour je voudrais faire un signalement")
    assert outcome.said[0].response == "utter_ask_problem"


def test_a_phone_number_given_early_is_kept_for_the_callback() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un lampadaire éteint au 4 rue d'italie, marseille")
    turn(slots, "affirm", "un peu oui et rappelez-moi au 06 10 20 30 40")
    assert slots["danger"] is True and slots["callback_number"] == "06 10 20 30 40"
    assert slots["callback_consent"] is True and slots["pending_question"] == "confirm"


# -- round 2: kinds of errors found by the unseen-caller tester ---------------------------------------------------


def test_a_landmark_said_in_passing_does_not_replace_the_named_one() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "des tags partout devant le collège Vieux Port")
    turn(slots, "inform", "à Marseille")
    assert slots["landmark"] == "collège Vieux Port"
    turn(slots, "affirm", "oui un peu, les gamins passent par là pour aller au collège.")
    assert slots["landmark"] == "collège Vieux Port" and slots["place"] == "collège Vieux Port, Marseille"
    assert slots["danger"] is True


def test_a_later_street_does_not_overwrite_the_place_unless_asked_or_corrected() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un banc cassé au 8 rue de Rome sur Marseille")
    turn(slots, "inform", "oui c'est dangereux, des enfants jouent rue Paradis à côté")
    assert slots["street_name"] == "rue de Rome" and slots["danger"] is True


def test_a_weaker_commune_does_not_replace_an_arrondissement() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un trou au 3 avenue du Prado dans le 8e arrondissement")
    assert slots["commune"] == "Marseille 8e"
    turn(slots, "correct", "non c'est bien à Marseille")
    assert slots["commune"] == "Marseille 8e"


def test_a_correction_answering_the_danger_question_is_not_its_answer() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "le feu tricolore ne marche plus au 3 avenue Jean Jaurès à Martigues")
    assert slots["pending_question"] == "danger"
    outcome = turn(slots, "deny", "ah non c'est à Port-de-Bouc, pas à Martigues")
    assert slots["commune"] == "Port-de-Bouc" and slots.get("danger") is None
    assert outcome.said[0].response == "utter_ask_danger"
    turn(slots, "affirm", "oui")
    assert slots["danger"] is True


def test_a_correction_answering_the_callback_question_is_not_its_answer() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "des tags au 12 rue Paradis à Marseille, pas dangereux")
    assert slots["pending_question"] == "callback_consent"
    outcome = turn(slots, "correct", "non pardon c'est au 14")
    assert slots["street_number"] == "14" and slots.get("callback_consent") is None
    assert outcome.said[0].response == "utter_ask_callback_consent"


def test_no_to_the_danger_question_about_a_fallen_branch_is_no_danger() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "une grosse branche a chuté devant le 2 square Labadié à Marseille")
    outcome = turn(slots, "deny", "non, elle est par terre, elle bouge plus")
    assert outcome.handoff_reason is None and slots["danger"] is False


def test_a_public_place_without_a_street_is_a_place() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "le banc est tout cassé")
    outcome = turn(slots, "dont_know", "c'est au vieux stade de Trets, je connais pas le nom de la rue")
    assert slots["landmark"] == "vieux stade de Trets" and slots["commune"] == "Trets"
    assert outcome.said[0].response == "utter_ask_danger"


@pytest.mark.parametrize("answer", ["au stade", "à la piscine municipale", "au parking de la gare"])
def test_a_generic_public_place_then_the_commune(answer: str) -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "une branche est tombée")
    assert turn(slots, "inform", answer).said[0].response == "utter_ask_commune"
    turn(slots, "inform", "à Miramas")
    assert slots["commune"] == "Miramas" and slots["landmark"] and slots["pending_question"] == "danger"


@pytest.mark.parametrize("answer", ["c'est en haut", "sait en haut là-bas", "je sais pas trop où exactement"])
def test_vague_answers_to_the_place_question_are_asked_again(answer: str) -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un gros morceau de mur est tombé sur le trottoir cette nuit")
    outcome = turn(slots, "inform", answer)
    assert outcome.said[0].response == "utter_not_understood" and not slots.get("street_name")
    assert not slots.get("landmark")


def test_phone_number_said_in_words_with_commas() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un lampadaire éteint au 15 avenue des Chutes-Lavie à Marseille, pas dangereux")
    turn(slots, "affirm", "oui pourquoi pas")
    assert slots["pending_question"] == "callback_number"
    turn(slots, "inform", "zéro sept, quatre-vingt-quatre, vingt-six, soixante-sept, quarante-cinq")
    assert slots["callback_number"] == "07 84 26 67 45" and slots["pending_question"] == "confirm"


@pytest.mark.parametrize(("answer", "consent"), [("volontiers", True), ("non ça ira", False), ("pas la peine", False)])
def test_everyday_answers_to_the_callback_question(answer: str, consent: bool) -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "des tags au 3 rue de Rome sur Marseille, pas dangereux", caller="0611223344")
    turn(slots, "inform", answer)
    assert slots["callback_consent"] is consent


def test_a_no_thanks_read_as_goodbye_keeps_the_report_going() -> None:
    from dialogue.conversation import handle_goodbye

    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "des tags au 3 rue de Rome sur Marseille, pas dangereux")
    outcome = handle_goodbye(understood("goodbye", "non merci c'est bon", 0.8, 0.9), slots, KNOWLEDGE)
    slots.update(outcome.slots)
    assert not outcome.hangup and slots["callback_consent"] is False
    outcome = handle_goodbye(understood("goodbye", "oui merci au revoir", 0.8, 0.9), slots, KNOWLEDGE)
    assert outcome.save_report


def test_a_plain_goodbye_still_hangs_up() -> None:
    from dialogue.conversation import handle_goodbye

    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "des tags au 3 rue de Rome sur Marseille, pas dangereux")
    assert handle_goodbye(understood("goodbye", "bon ben au revoir", 0.9, 0.9), slots, KNOWLEDGE).hangup


def test_a_yes_read_as_a_request_for_a_person_answers_the_question() -> None:
    from dialogue.conversation import handle_request_human

    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "des tags au 3 rue de Rome sur Marseille, pas dangereux", caller="0611223344")
    outcome = handle_request_human(understood("request_human", "allez-y", 0.7, 0.9), slots, KNOWLEDGE)
    slots.update(outcome.slots)
    assert outcome.handoff_reason is None and slots["callback_consent"] is True
    outcome = handle_request_human(
        understood("request_human", "je veux parler avec quelqu'un", 0.9, 0.9), slots, KNOWLEDGE
    )
    assert outcome.handoff_reason == "caller_request"


def test_an_information_question_about_a_facility_is_out_of_scope() -> None:
    slots: dict[str, Any] = {}
    outcome = turn(slots, "report_problem", "la déchetterie de Saint-Loup elle reprend les encombrants le dimanche ?")
    assert outcome.said[0].response == "utter_out_of_scope" and not slots.get("category")


def test_a_quarter_names_the_commune() -> None:
    slots: dict[str, Any] = {}
    outcome = turn(slots, "report_problem", "une voiture brûlée au 12 rue Fontaine des Lices aux Milles")
    assert slots["commune"] == "Aix-en-Provence" and outcome.said[0].response == "utter_ask_danger"


def test_the_commune_answer_adds_to_the_place_without_losing_it() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un trou au 12 rue de la République")
    turn(slots, "inform", "à Aubagne, rue de la République")
    assert (slots["street_number"], slots["commune"]) == ("12", "Aubagne")
    slots = {}
    turn(slots, "report_problem", "un banc cassé devant l'école Frédéric Mistral")
    turn(slots, "inform", "à Aubagne, c'est boulevard Lakanal")
    assert slots["landmark"] == "école Frédéric Mistral" and slots["street_name"] == "boulevard Lakanal"


def test_a_yes_the_nlu_could_not_place_still_answers_the_read_back() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "des tags au 3 rue de Rome sur Marseille, pas dangereux")
    turn(slots, "deny", "non merci")
    assert slots["pending_question"] == "confirm"
    outcome = handle_fallback(understood("nlu_fallback", "c'est sa", 0.3, 0.7), slots, KNOWLEDGE)
    assert outcome.save_report


def test_no_thanks_goodbye_after_the_out_of_scope_answer_ends_the_call() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "y a une erreur dans mon avis de taxe foncière")
    assert slots["pending_question"] == "offer_human"
    assert turn(slots, "deny", "non tant pis au euh revoir").hangup


REPORT_OPENINGS = {
    "start": [],
    "place": [("report_problem", "il y a un nid de poule")],
    "commune": [("report_problem", "il y a un nid de poule rue paradis")],
    "danger": [("report_problem", "il y a un nid de poule au 12 rue paradis à marseille")],
    "callback": [("report_problem", "il y a un nid de poule au 12 rue paradis à marseille"), ("deny", "non")],
    "confirm": [
        ("report_problem", "il y a un nid de poule au 12 rue paradis à marseille pas dangereux"),
        ("deny", "non"),
    ],
}


@pytest.mark.parametrize("stage", sorted(REPORT_OPENINGS))
@pytest.mark.parametrize("intent", ["inform", "affirm", "deny", "goodbye", "out_of_scope", "nlu_fallback"])
def test_two_badly_heard_turns_hand_over_at_every_stage(stage: str, intent: str) -> None:
    """A stray "ouais" or "non" in noise answers nothing: reprompt once, then hand over."""
    handlers = {"goodbye": handle_goodbye, "out_of_scope": handle_out_of_scope, "nlu_fallback": handle_fallback}
    slots: dict[str, Any] = {}
    for opening_intent, text in REPORT_OPENINGS[stage]:
        turn(slots, opening_intent, text)
    handler = handlers.get(intent, handle_report_turn)
    consent_before = slots.get("callback_consent")
    first = handler(understood(intent, "gnn ouais le machin là-bas kss", 0.9, 0.25), slots, KNOWLEDGE)
    slots.update(first.slots)
    assert first.said[0].response == "utter_not_understood" and not first.save_report and not first.hangup
    assert slots.get("callback_consent") is consent_before
    second = handler(understood(intent, "euh non bzz", 0.9, 0.2), slots, KNOWLEDGE)
    assert second.handoff_reason == "low_confidence" and not second.save_report


@pytest.mark.parametrize("stage", sorted(REPORT_OPENINGS))
def test_unsure_nlu_on_noise_and_silence_count_together(stage: str) -> None:
    slots: dict[str, Any] = {}
    for opening_intent, text in REPORT_OPENINGS[stage]:
        turn(slots, opening_intent, text)
    first = handle_out_of_scope(understood("out_of_scope", "blorg zutik", 0.3, 0.9), slots, KNOWLEDGE)
    slots.update(first.slots)
    assert first.said[0].response == "utter_not_understood"
    second = handle_no_input(understood("no_input", "/no_input", 1.0, None), slots, KNOWLEDGE)
    assert second.handoff_reason is not None or second.hangup


def test_a_number_given_to_the_commune_question_is_the_streets() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "il y a un nid de poule rue loubon")
    turn(slots, "inform", "devant le numéro dix-sept")
    assert slots["street_number"] == "17" and not slots.get("landmark")
    assert slots["place"] == "17 rue Loubon"


def test_a_number_after_the_street_in_an_answer() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "il y a un nid de poule")
    turn(slots, "inform", "rue Consolat, devant le neuf")
    assert slots["street_number"] == "9" and slots["street_name"] == "rue Consolat"


def test_a_quarter_is_context_and_never_replaces_a_named_landmark() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "il y a des poubelles renversées au marché des Capucins")
    turn(slots, "inform", "à Noailles")
    assert slots["landmark"] == "marché des Capucins, Noailles" and slots["commune"] == "Marseille"


def test_a_detail_near_the_problem_adds_to_the_named_place() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un banc abîmé au parc Miremont")
    outcome = turn(slots, "inform", "près du kiosque")
    assert slots["landmark"] == "parc Miremont, kiosque"
    assert outcome.said[0].response == "utter_ask_commune"


def test_the_place_said_first_stays_with_the_port_as_context() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un lampadaire éteint")
    turn(slots, "inform", "près de la capitainerie, sur le port de Cassis")
    assert slots["landmark"].startswith("capitainerie") and slots["commune"] == "Cassis"


def test_declining_the_adviser_while_naming_the_other_service_ends_politely() -> None:
    slots: dict[str, Any] = {}
    first = handle_out_of_scope(understood("out_of_scope", "je voudrais payer mes impôts", 0.9, 0.9), slots, KNOWLEDGE)
    slots.update(first.slots)
    outcome = turn(slots, "deny", "ah bon non c'est pas la peine je contacterai les impôts au revoir")
    assert outcome.hangup and outcome.said[0].response == "utter_goodbye" and outcome.handoff_reason is None


@pytest.mark.parametrize("stage", sorted(REPORT_OPENINGS))
def test_sounds_heard_with_confidence_are_still_not_understood(stage: str) -> None:
    """Noise the recogniser and DIET are sure of ("gnn frrr kss") fills nothing and hands over at the second."""
    slots: dict[str, Any] = {}
    for opening_intent, text in REPORT_OPENINGS[stage]:
        turn(slots, opening_intent, text)
    before = dict(slots)
    first = turn(slots, "inform", "gnn frrr kss", nlu=0.9, asr=0.9)
    assert first.said[0].response == "utter_not_understood"
    assert all(slots.get(name) == before.get(name) for name in ("landmark", "street_name", "category", "danger"))
    second = handle_out_of_scope(understood("out_of_scope", "mmh bzz tchac", 0.9, 0.9), slots, KNOWLEDGE)
    assert second.handoff_reason == "low_confidence"


@pytest.mark.parametrize(
    "said", ["non merci je vais appeler la mairie", "bon non c'est pas la peine je les appelerai demain"]
)
def test_declining_the_adviser_to_call_elsewhere_ends_the_call(said: str) -> None:
    slots: dict[str, Any] = {}
    first = handle_out_of_scope(understood("out_of_scope", "je voudrais payer mes impôts", 0.9, 0.9), slots, KNOWLEDGE)
    slots.update(first.slots)
    assert turn(slots, "deny", said).hangup


def test_a_problem_only_named_gets_one_question_about_what_is_wrong() -> None:
    slots: dict[str, Any] = {}
    asked = turn(slots, "report_problem", "un lampadaire")
    assert asked.said[0].response == "utter_ask_description" and slots["pending_question"] == "description"
    # The answer needs no problem vocabulary: it is what the caller saw.
    turn(slots, "inform", "il reste allumé en plein jour")
    assert "allumé en plein jour" in slots["description"]
    assert slots["pending_question"] == "place"


def test_a_described_problem_is_not_asked_again() -> None:
    slots: dict[str, Any] = {}
    asked = turn(slots, "report_problem", "le lampadaire est cassé, il penche et les fils dépassent du socle")
    assert asked.said[0].response == "utter_ask_place"


def test_the_commune_twice_answered_with_something_else_waits_for_the_validator() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "il y a un nid de poule au 8 rue paradis")
    assert slots["pending_question"] == "commune"
    first = turn(slots, "affirm", "oui oui")
    assert first.said[0].response == "utter_not_understood"
    second = turn(slots, "deny", "non merci")
    assert second.handoff_reason is None and slots["commune_skipped"] is True
    assert slots["pending_question"] == "danger"


def test_a_house_number_said_with_the_commune_belongs_to_the_street() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "il y a un nid de poule rue paradis")
    turn(slots, "inform", "à marseille devant le 40")
    assert (slots["street_number"], slots["street_name"]) == ("40", "rue Paradis")


def test_an_answer_about_danger_is_no_landmark() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "le lampadaire est cassé")
    turn(slots, "deny", "non non ça va c'est pas dangereux du tout")
    assert not slots.get("landmark") and slots["pending_question"] == "place"


def test_the_commune_is_asked_twice_not_at_every_turn() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "il y a un nid de poule au 8 rue paradis")
    assert slots["pending_question"] == "commune"
    turn(slots, "inform", "il est très profond, c'est dangereux")
    assert slots["pending_question"] == "commune"
    turn(slots, "affirm", "oui rappelez moi au 06 12 34 56 78")
    assert slots["pending_question"] == "confirm"


def test_refusing_the_offered_adviser_but_asking_for_a_person_is_the_callers_request() -> None:
    from dialogue.conversation import handle_request_human

    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "j'ai de l'eau qui fuit sous l'évier de la cuisine")
    text = "non pas un automate, je veux un conseiller en chair et en os"
    assert handle_request_human(understood("request_human", text, 0.9), slots, KNOWLEDGE).handoff_reason == (
        "caller_request"
    )


def test_a_no_at_the_read_back_that_carries_the_right_number_applies_it() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un banc cassé au 7 avenue du prado marseille c'est pas dangereux")
    turn(slots, "deny", "non")
    assert slots["pending_question"] == "confirm" and slots["street_number"] == "7"
    outcome = turn(slots, "deny", "non ça va pas c'est pas au sept c'est au dix sept")
    assert slots["street_number"] == "17" and outcome.said[0].response == "utter_read_back"


def test_a_number_corrected_in_reply_to_another_question_is_applied_and_the_question_stays() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "le trottoir est défoncé au 4 boulevard baille dans le cinquième")
    assert slots["pending_question"] == "danger"
    outcome = turn(slots, "deny", "non, au 40, pas au 4")
    assert slots["street_number"] == "40" and slots.get("danger") is None
    assert outcome.said[0].response == "utter_ask_danger"


def test_an_answer_that_stands_alone_before_more_words_answers_the_danger_question() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "le trottoir est défoncé au 4 boulevard baille dans le cinquième")
    turn(slots, "inform", "Bah, pas trop, il y a juste une grosse flaque devant le portail.")
    assert slots["danger"] is False and slots["pending_question"] == "callback_consent"


def test_what_is_wrong_said_with_a_pas_is_the_description_and_a_no_moves_on() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "les conteneurs")
    assert slots["pending_question"] == "description"
    outcome = turn(slots, "inform", "pas ramassés")
    assert "pas ramassés" in slots["description"] and outcome.said[0].response == "utter_ask_place"
    slots = {}
    turn(slots, "report_problem", "les conteneurs")
    outcome = turn(slots, "deny", "non")
    assert [say.response for say in outcome.said] == ["utter_ask_place"]


def test_the_callers_first_words_before_the_problem_are_no_failure_but_later_ones_are() -> None:
    slots: dict[str, Any] = {}
    text = "allô bonjour madame, excusez-moi de vous embêter, c'est ma nièce qui m'a dit de vous appeler"
    assert [say.response for say in turn(slots, "inform", text).said] == ["utter_ask_problem"]
    assert not slots.get("reprompt_count")
    again = turn(slots, "inform", "oui alors voilà hein comme je vous disais")
    assert again.said[0].response == "utter_not_understood"


def test_a_street_type_written_short_is_a_street_and_its_words_are_no_commune() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "une voiture épave sans plaques depuis des semaines")
    turn(slots, "inform", "au 12 rte de st antoine")
    assert slots["street_name"] == "route de Saint Antoine" and slots["street_number"] == "12"
    assert slots.get("commune") is None


def test_a_street_without_its_number_is_asked_for_it_once() -> None:
    slots: dict[str, Any] = {}
    outcome = turn(slots, "report_problem", "le lampadaire est éteint boulevard baille à marseille")
    assert outcome.said[0].response == "utter_ask_street_number"
    turn(slots, "inform", "euh le quarante et un")
    assert slots["street_number"] == "41" and slots["place"] == "41 boulevard Baille, Marseille"
    assert slots["pending_question"] == "danger"


def test_the_number_question_takes_a_landmark_or_an_i_dont_know_and_is_never_asked_again() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "le lampadaire est éteint boulevard baille à marseille")
    turn(slots, "inform", "juste en face de la boulangerie")
    assert slots["landmark"] and "boulangerie" in slots["landmark"] and slots["pending_question"] == "danger"
    slots = {}
    turn(slots, "report_problem", "le lampadaire est éteint boulevard baille à marseille")
    outcome = turn(slots, "dont_know", "ah ça je sais pas")
    assert [say.response for say in outcome.said] == ["utter_ask_danger"]
    assert not slots.get("reprompt_count")


def test_no_number_question_for_a_full_address_or_a_landmark() -> None:
    slots: dict[str, Any] = {}
    assert turn(slots, "report_problem", "un trou au 9 boulevard baille à marseille").said[0].response == (
        "utter_ask_danger"
    )
    slots = {}
    outcome = turn(slots, "report_problem", "un trou devant la gare de l'estaque")
    assert slots["landmark"] and outcome.said[0].response != "utter_ask_street_number"


def test_what_a_street_is_near_is_kept_and_a_square_is_not_asked_its_number() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un lampadaire qui grésille avenue de la Timone à côté de la pharmacie")
    assert slots["landmark"] == "à côté de la pharmacie"
    assert slots["place"] == "avenue de la Timone, à côté de la pharmacie"
    slots = {}
    outcome = turn(slots, "report_problem", "des sacs poubelle éventrés place Castellane à Marseille")
    assert slots["street_name"] == "place Castellane" and outcome.said[0].response == "utter_ask_danger"


def test_a_yes_at_the_read_back_that_repeats_a_value_as_it_stands_confirms() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un banc sans dossier au 7 rue Sainte à Marseille")
    turn(slots, "deny", "non")
    turn(slots, "deny", "non merci")
    assert slots["pending_question"] == "confirm"
    outcome = turn(slots, "affirm", "oui c'est ça, au sept")
    assert outcome.save_report


def test_a_house_number_said_to_another_question_is_the_streets_and_its_yes_answers_nothing() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "une plaque d'égout qui bouge avenue des Chartreux à Marseille")
    turn(slots, "dont_know", "aucune idée")
    assert slots["pending_question"] == "danger"
    outcome = turn(slots, "inform", "euh le numéro ça doit être le soixante oui soixante")
    assert slots["street_number"] == "60" and slots.get("danger") is None
    assert outcome.said[0].response == "utter_ask_danger"


def test_a_house_number_corrected_while_another_question_is_pending_is_applied() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un trottoir défoncé au 31 rue Consolat à Marseille")
    assert slots["pending_question"] == "danger"
    turn(slots, "correct", "oh la la je me suis trompée, c'est pas le 31 c'est le 37, et oui c'est dangereux")
    assert slots["street_number"] == "37" and slots["danger"] is True


def test_it_is_right_confirms_the_read_back() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un banc sans dossier au 7 rue Sainte à Marseille")
    turn(slots, "deny", "non")
    turn(slots, "deny", "non merci")
    assert turn(slots, "thank", "C'est bien cela, merci").save_report


def test_a_problem_the_taxonomy_does_not_name_is_kept_in_the_callers_words_after_two_asks() -> None:
    slots: dict[str, Any] = {}
    opening = "bonsoir quelqu'un a tendu une chaîne en travers du sentier, impossible d'y circuler"
    asked = turn(slots, "inform", opening)
    assert [s.response for s in asked.said] == ["utter_ask_problem"] and slots["description"]
    # The caller answers the problem question with the place: asked once more, then the bot goes on.
    turn(slots, "inform", "c'est derrière le stade à Vitrolles")
    assert slots["pending_question"] == "problem" and slots["questions_asked"]["problem"] == 2
    turn(slots, "inform", "euh je sais pas comment dire")
    assert slots["category"] == "autre" and "chaîne" in slots["category_other_words"]
    assert slots["pending_question"] != "problem"


def test_the_commune_is_asked_twice_at_most() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un lampadaire éteint au 12 avenue des Acacias")
    for _ in range(3):
        if slots.get("pending_question") == "commune":
            turn(slots, "inform", "euh attendez")
    assert slots["questions_asked"]["commune"] == 2 and slots["pending_question"] != "commune"


def test_a_yes_about_what_could_happen_at_the_emergency_question_is_the_reports_danger() -> None:
    slots: dict[str, Any] = {}
    asked = turn(slots, "report_problem", "un câble pend tout bas sur le trottoir au 3 rue Tapis Vert à Marseille")
    assert [s.response for s in asked.said] == ["utter_ask_emergency"]
    outcome = turn(slots, "affirm", "oui un peu, un bus pourrait le toucher")
    assert outcome.handoff_reason is None and slots["danger"] is True
    # A plain yes to the same question hands over with the 112 advice.
    slots = {}
    turn(slots, "report_problem", "un câble pend tout bas sur le trottoir au 3 rue Tapis Vert à Marseille")
    assert turn(slots, "affirm", "oui").handoff_reason == "emergency"


@pytest.mark.parametrize(
    "answer", ["oui, dangereux pour les poussettes surtout", "oui un peu", "oui c'est risqué pour les cyclistes"]
)
def test_a_hazard_to_whoever_passes_at_the_emergency_question_is_the_reports_danger(answer: str) -> None:
    slots: dict[str, Any] = {}
    asked = turn(slots, "report_problem", "un câble pend tout bas sur le trottoir au 3 rue Tapis Vert à Marseille")
    assert [s.response for s in asked.said] == ["utter_ask_emergency"]
    outcome = turn(slots, "affirm", answer)
    assert outcome.handoff_reason is None and slots["danger"] is True


def test_a_hazard_answer_that_also_says_someone_is_hurt_hands_over() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un câble pend tout bas sur le trottoir au 3 rue Tapis Vert à Marseille")
    outcome = turn(slots, "affirm", "oui dangereux pour les passants, un monsieur est tombé il se relève pas")
    assert outcome.handoff_reason == "emergency" and outcome.said[0].response == "utter_emergency"


def test_nobody_hurt_said_without_its_ne_is_no_emergency() -> None:
    slots: dict[str, Any] = {}
    outcome = turn(slots, "report_problem", "un arbre est tombé sur la route, heureusement personne est blessé")
    assert outcome.handoff_reason is None and slots["category"] == "espaces_verts_arbres"
    slots = {}
    outcome = turn(slots, "report_problem", "un arbre est tombé sur la route, une personne est blessée")
    assert outcome.handoff_reason == "emergency" and outcome.said[0].response == "utter_emergency"


def test_a_caller_asking_for_a_moment_hears_the_question_again_without_a_reprompt() -> None:
    slots: dict[str, Any] = {"pending_question": "problem"}
    frame = understood("out_of_scope", "attendez que je trouve mes lunettes")
    assert holds_on(frame)
    outcome = handle_hold_on(frame, slots, KNOWLEDGE)
    assert [s.response for s in outcome.said] == ["utter_reask_problem"]
    assert outcome.handoff_reason is None and not outcome.slots.get("reprompt_count")


def test_a_problem_named_after_the_offer_of_an_adviser_goes_on_as_a_report() -> None:
    slots: dict[str, Any] = {"pending_question": "offer_human"}
    outcome = turn(slots, "affirm", "voilà y a un grand platane qui perd ses branches sur le trottoir")
    assert outcome.handoff_reason is None and slots["category"] == "espaces_verts_arbres"


def test_a_caller_asking_whether_the_bot_is_a_machine_is_told_and_asked_again() -> None:
    frame = understood("request_human", "attendez, c'est un robot qui me répond ?")
    assert holds_on(frame)
    outcome = handle_hold_on(frame, {"pending_question": "problem"}, KNOWLEDGE)
    assert [s.response for s in outcome.said] == ["utter_automated", "utter_reask_problem"]
    assert outcome.handoff_reason is None


def test_a_place_answer_naming_a_commune_keeps_the_callers_words_for_where_in_it() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un gros rocher est tombé sur la chaussée")
    outcome = turn(slots, "inform", "c'est sur Roquevaire, en haut de la côte, après le grand virage")
    assert slots["commune"] == "Roquevaire" and "grand virage" in slots["landmark"]
    assert outcome.said[0].response == "utter_ask_danger"  # the place question is not asked again


def test_a_call_back_accepted_while_the_commune_is_asked_is_taken_and_the_commune_asked_again() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un banc arraché devant le 8 boulevard longchamp", caller="+33611223344")
    assert slots["pending_question"] == "commune"
    outcome = turn(slots, "affirm", "oui vous pouvez me rappeler sur ce numéro")
    assert slots["callback_consent"] is True and slots["callback_number"] == "06 11 22 33 44"
    assert outcome.said[-1].response == "utter_ask_commune"


def test_a_danger_denied_with_non_mais_corrects_no_problem() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "des sacs de plâtre vidés devant le 8 boulevard longchamp")
    assert slots["category"] == "proprete" and slots["pending_question"] == "commune"
    turn(slots, "deny", "non c'est pas dangereux mais ça encombre le trottoir")
    assert slots["category"] == "proprete" and slots["danger"] is False


def test_words_that_may_mean_danger_get_the_direct_question_before_the_out_of_scope_answer() -> None:
    # A neighbour is an out-of-scope topic; a strange smell that stings may be gas: safety is asked first.
    line = "mon voisin est passé me dire que ça sent bizarre en bas de l'immeuble, ça pique un peu la gorge"
    slots: dict[str, Any] = {}
    outcome = handle_out_of_scope(understood("out_of_scope", line), slots, KNOWLEDGE)
    slots.update(outcome.slots)
    assert outcome.said[0].response == "utter_ask_emergency"
    assert turn(slots, "affirm", "oui il y a des gens qui toussent").handoff_reason == "emergency"


def test_a_problem_the_taxonomy_does_not_name_goes_on_in_the_caller_s_words_after_two_asks() -> None:
    slots: dict[str, Any] = {}
    first = "bonjour il y a une banderole géante accrochée en travers de la rue près du stade qui claque au vent"
    assert turn(slots, "report_problem", first).said[0].response == "utter_ask_problem"
    assert slots["description"]  # kept, though the line also says where
    turn(slots, "inform", "une banderole")
    outcome = turn(slots, "inform", "ben elle fait du bruit c'est tout")
    assert outcome.handoff_reason is None and slots["category"] == "autre"
    assert slots["category_other_words"] == slots["description"]


@pytest.mark.parametrize("after_no", [False, True])
def test_a_detail_to_add_at_the_read_back_joins_the_description_and_the_report_is_read_again(after_no: bool) -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un banc cassé au 3 avenue du prado marseille c'est pas dangereux")
    assert turn(slots, "deny", "non").said[0].response == "utter_read_back"
    if after_no:
        assert turn(slots, "deny", "non").said[0].response == "utter_ask_correction"
    outcome = turn(slots, "deny", "non, notez aussi qu'il manque deux planches au dossier")
    assert outcome.said[0].response == "utter_read_back"
    assert slots["description"].endswith("; il manque deux planches au dossier")
    assert slots["place"] == "3 avenue du Prado, Marseille" and slots["category"] == "mobilier_urbain"
    assert turn(slots, "affirm", "oui").save_report


def test_a_place_every_street_has_asks_for_the_street_once_and_not_knowing_it_goes_on() -> None:
    slots: dict[str, Any] = {}
    opening = "une voiture abandonnée depuis des semaines sur le parking en bas de chez moi à la Duranne"
    assert turn(slots, "report_problem", opening).said[0].response == "utter_reask_place"
    assert turn(slots, "dont_know", "je sais pas le nom de la rue").said[0].response == "utter_ask_danger"
    # Saying the same place again keeps the place given, and goes on.
    again: dict[str, Any] = {}
    turn(again, "report_problem", opening)
    assert turn(again, "inform", "ben c'est en bas de chez moi je vous dis").said[0].response == "utter_ask_danger"
    assert again["landmark"] == slots["landmark"]
    # A named place is found without its street.
    named: dict[str, Any] = {}
    said = turn(
        named, "report_problem", "une voiture abandonnée depuis des semaines sur le parking de la gare à gardanne"
    )
    assert said.said[0].response == "utter_ask_danger"
    # Given as the answer to the place question, it is asked about once too.
    asked: dict[str, Any] = {}
    dumped = "il y a un vieux matelas et une armoire jetés sur le trottoir"
    assert turn(asked, "report_problem", dumped).said[0].response == "utter_ask_place"
    assert turn(asked, "inform", "devant le garage de ma résidence").said[0].response == "utter_reask_place"
    assert turn(asked, "dont_know", "aucune idée").said[0].response != "utter_reask_place"


def test_a_problem_named_by_a_strong_word_replaces_one_guessed_from_a_weak_word() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "allô je suis dans la rue y a les camions")
    assert slots["category"] == "stationnement_vehicule" and slots[PENDING] == "description"
    turn(slots, "inform", "oui c'est pour des tags")
    assert slots["category"] == "tags_graffitis"
    # Details that still speak of the first problem's object keep it ("vitres cassées" names street furniture).
    car: dict[str, Any] = {}
    turn(car, "report_problem", "c'est pour une voiture qui est abandonnée")
    turn(car, "inform", "la voiture a une vitre cassée et des pneus à plat")
    assert car["category"] == "stationnement_vehicule"
    # Named by its own word first, the problem stays what it was whatever the details say.
    kept: dict[str, Any] = {}
    turn(kept, "report_problem", "un lampadaire")
    turn(kept, "inform", "sa tête pend vers le trottoir")
    assert kept["category"] == "eclairage_public"


@pytest.mark.parametrize(
    "answer",
    [
        "oui alors c'est le zéro six... ah non en fait c'est pas la peine de me rappeler",
        "oui rappelez-moi euh non laissez tomber",
    ],
)
def test_a_call_back_taken_back_in_the_same_line_is_declined(answer: str) -> None:
    slots: dict[str, Any] = {}
    turn(
        slots,
        "report_problem",
        "un banc cassé au 3 avenue du prado marseille c'est pas dangereux",
        caller="+33612345678",
    )
    assert slots[PENDING] == "callback_consent"
    turn(slots, "affirm", answer)
    assert slots["callback_consent"] is False and slots["callback_number"] is None


def test_silence_to_the_direct_question_about_danger_hands_over_with_the_advice() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "inform", "ma voisine est venue me dire que ça sent bizarre en bas et que ça pique un peu")
    assert slots[PENDING] == "emergency_check"
    for expected in ("utter_ask_emergency", None):
        outcome = handle_no_input(understood("no_input", "/no_input"), slots, KNOWLEDGE)
        slots.update(outcome.slots)
        if expected:
            assert outcome.said[0].response == expected
    assert outcome.handoff_reason == "emergency" and outcome.said[0].response == "utter_emergency"


def test_a_yes_with_a_detail_to_add_saves_the_report_with_it() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un banc cassé au 3 avenue du prado marseille c'est pas dangereux")
    turn(slots, "deny", "non")
    outcome = turn(slots, "affirm", "oui c'est ça, et notez que les vis traînent par terre")
    assert outcome.save_report and slots["description"].endswith("; les vis traînent par terre")


def test_a_no_to_the_direct_question_about_an_out_of_scope_line_gets_the_out_of_scope_answer() -> None:
    slots: dict[str, Any] = {}
    line = "le voisin d'en face fait griller des sardines tous les soirs, ça sent le brûlé jusque chez nous"
    outcome = handle_out_of_scope(understood("out_of_scope", line), slots, KNOWLEDGE)
    slots.update(outcome.slots)
    assert outcome.said[0].response == "utter_ask_emergency"
    assert turn(slots, "deny", "non non personne").said[0].response == "utter_out_of_scope"


def test_an_address_with_words_around_it_is_no_description() -> None:
    slots: dict[str, Any] = {}
    turn(
        slots,
        "inform",
        "bonjour madame je vous appelle car je demeure au 12 rue de la république à marseille depuis vingt ans",
    )
    assert slots.get("description") is None and slots[PENDING] == "problem"


def test_a_yes_to_the_danger_question_stands_beside_a_house_number_put_right() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "le potelet est couché au 16 rue d'italie, marseille")
    assert slots[PENDING] == "danger"
    said = "oui un peu. Et excusez-moi, ah et je me suis trompé, le bon numéro c'est le 61, pas le 16."
    turn(slots, "affirm", said)
    assert slots["danger"] is True and slots["street_number"] == "61" and slots[PENDING] == "callback_consent"


def test_a_problem_the_taxonomy_does_not_name_is_kept_with_how_urgent_it_is_said_beside_it() -> None:
    slots: dict[str, Any] = {}
    opening = "la pendule de l'église à Lambesc est arrêtée, elle affiche midi depuis lundi, c'est pas grave mais bon"
    turn(slots, "report_problem", opening)
    assert slots["category"] == "autre" and "pendule" in slots["description"]
    assert slots["danger"] is False


def test_the_problem_put_right_by_name_beside_an_answer_about_the_danger() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "c'est pour l'éclairage devant le 9 rue sainte à marseille")
    turn(slots, "inform", "il clignote sans arrêt")
    assert slots[PENDING] == "danger"
    said = "oui la nuit c'est noir. En fait c'est pas un problème d'éclairage, c'est le feu tricolore qui clignote"
    turn(slots, "affirm", said)
    assert slots["category"] == "signalisation" and slots["danger"] is True


def test_the_house_number_is_asked_again_when_the_caller_put_the_problem_right_instead() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "des sacs d'ordures tout éventrés boulevard de la libération à marseille")
    assert slots[PENDING] == "street_number"
    turn(slots, "inform", "ah non pardon c'est pas la propreté, c'est des rats qui sortent des sacs")
    assert slots["category"] == "nuisibles" and slots[PENDING] == "street_number"
    turn(slots, "inform", "au 40")
    assert slots["street_number"] == "40"


def test_where_along_a_canal_is_asked_once() -> None:
    slots: dict[str, Any] = {}
    said = "le garde-corps au bord du canal de provence à rognes est tordu sur dix mètres, c'est pas dangereux"
    assert turn(slots, "report_problem", said).said[0].response == "utter_reask_place"
    assert turn(slots, "inform", "à côté du lavoir du village").said[0].response != "utter_reask_place"
    assert "lavoir" in slots["landmark"]


def test_the_house_number_is_asked_once_more_only_and_not_after_a_place_nearby() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "une plaque d'égout descellée avenue de toulon à marseille")
    assert slots[PENDING] == "street_number"
    turn(slots, "inform", "pas de numéro, non, c'est plutôt un lampadaire couché en fait")
    assert slots[PENDING] != "street_number"
    near: dict[str, Any] = {}
    turn(near, "report_problem", "une plaque d'égout descellée avenue de toulon à marseille")
    turn(near, "inform", "vers la boulangerie du coin")
    assert near[PENDING] != "street_number"


def test_a_yes_that_says_the_address_again_keeps_its_landmark_and_saves() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "l'avaloir déborde, l'eau descend jusqu'au stade")
    turn(slots, "inform", "au 9 rue Paradis à Gémenos")
    turn(slots, "deny", "non pas dangereux")
    turn(slots, "deny", "non merci")
    assert slots["pending_question"] == "confirm" and slots.get("landmark")
    outcome = turn(slots, "affirm", "oui, au 9 rue Paradis, c'est bien ça")
    assert outcome.save_report and slots.get("landmark")


def test_hesitation_sounds_alone_count_as_the_silence_they_are() -> None:
    empty: dict[str, Any] = {}
    first = handle_no_input(understood("no_input", "/no_input", 1.0), empty, KNOWLEDGE)
    empty.update(first.slots)
    second = handle_fallback(understood("nlu_fallback", "hmm… euh", 0.3), empty, KNOWLEDGE)
    # someone there who only hesitates is handed to a person, not hung up on
    assert second.handoff_reason == "no_input" and not second.hangup


def test_the_number_and_the_street_put_right_in_one_line_at_the_read_back() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un avaloir bouché")
    turn(slots, "inform", "au six cours lieutaud à marseille")
    turn(slots, "deny", "non")
    turn(slots, "deny", "non")
    turn(slots, "deny", "non c'est pas au six c'est au seize et c'est pas cours lieutaud c'est rue de rome")
    assert (slots["street_number"], slots["street_name"]) == ("16", "rue de Rome")


def _read_back(slots: dict[str, Any], first_line: str) -> None:
    turn(slots, "report_problem", first_line)
    turn(slots, "deny", "non")
    turn(slots, "deny", "non merci")
    assert slots[PENDING] == "confirm"


def test_a_no_that_names_the_problem_read_back_reads_it_back_again() -> None:
    slots: dict[str, Any] = {}
    _read_back(slots, "le lampadaire est éteint au 8 rue des muettes à trets")
    outcome = turn(slots, "deny", "non, le problème c'est pas les tags, c'est le lampadaire")
    assert outcome.said[0].response == "utter_read_back" and slots["category"] == "eclairage_public"


def test_something_else_there_said_at_the_read_back_joins_the_description_and_keeps_the_problem() -> None:
    slots: dict[str, Any] = {}
    _read_back(slots, "le trottoir est tout défoncé au 8 rue des muettes à trets")
    outcome = turn(slots, "inform", "ah j'oubliais, il y a aussi une flaque énorme quand il pleut")
    assert slots["category"] == "chaussee_trottoirs" and "flaque" in slots["description"]
    assert outcome.said[0].response == "utter_read_back"


def test_ouais_grave_at_the_read_back_saves_the_report_as_read() -> None:
    slots: dict[str, Any] = {}
    _read_back(slots, "un tag énorme sur le mur au 8 rue des muettes à trets")
    outcome = turn(slots, "affirm", "ouais grave")
    assert outcome.save_report and slots["danger"] is False


def test_a_line_describing_the_problem_is_not_taken_for_the_place() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "une voiture brûlée abandonnée dans le chemin à grans")
    assert slots[PENDING] == "place"
    turn(slots, "inform", "elle est là depuis des semaines, c'est une vraie carcasse")
    assert slots.get("landmark") is None and slots[PENDING] == "place"


def test_a_no_that_says_again_the_number_read_reads_back_again() -> None:
    slots: dict[str, Any] = {}
    _read_back(slots, "un tag sur le mur au 8 rue des muettes à trets")
    outcome = turn(slots, "deny", "non c'est au 8, vous avez bien dit le 8")
    assert outcome.said[0].response == "utter_read_back" and slots["street_number"] == "8"


def test_the_read_back_is_read_again_once_then_the_caller_is_asked_what_is_wrong() -> None:
    slots: dict[str, Any] = {}
    _read_back(slots, "un tag sur le mur au 8 rue des muettes à trets")
    assert turn(slots, "deny", "non c'est au 8").said[0].response == "utter_read_back"
    assert turn(slots, "deny", "non c'est au 8").said[0].response == "utter_ask_correction"


def test_a_problem_denied_at_the_read_back_is_asked_again() -> None:
    slots: dict[str, Any] = {}
    _read_back(slots, "le trottoir est défoncé au 8 rue des muettes à trets")
    outcome = turn(slots, "deny", "non, le souci c'est pas le trottoir")
    assert outcome.said[0].response != "utter_read_back"


def test_a_problem_put_right_before_an_addition_is_applied() -> None:
    slots: dict[str, Any] = {}
    _read_back(slots, "le trottoir est défoncé au 8 rue des muettes à trets")
    turn(slots, "deny", "non c'est le lampadaire qui est en panne, y a aussi des fils qui dépassent")
    assert slots["category"] == "eclairage_public"


def test_diet_asking_for_a_person_in_a_line_that_describes_is_no_request() -> None:
    slots: dict[str, Any] = {}
    described = handle_request_human(
        understood("request_human", "des sangliers qui retournent les pelouses du parc c'est autre chose"),
        slots,
        KNOWLEDGE,
    )
    assert described.handoff_reason is None
    for asked in (
        "transférez-moi",
        "vous pouvez me passer le service de la voirie",
        "de vive voix avec un humain",
        "la police municipale s'il vous plaît",
    ):
        assert handle_request_human(understood("request_human", asked), slots, KNOWLEDGE).handoff_reason


def test_a_thing_named_by_its_quarter_answers_where() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "des tags recouvrent toute la façade")
    outcome = turn(slots, "inform", "le kiosque de mazargues")
    assert slots["commune"] == "Marseille" and slots["landmark"] == "kiosque de mazargues"
    assert outcome.said[0].response == "utter_ask_danger"


def test_a_well_known_place_needs_no_commune_question() -> None:
    slots: dict[str, Any] = {}
    outcome = turn(slots, "report_problem", "au parc borély un banc a été arraché et traîne dans l'allée")
    assert slots["commune"] == "Marseille" and slots["landmark"] == "parc Borély"
    assert outcome.said[0].response == "utter_ask_danger"


def test_a_well_known_place_does_not_replace_the_commune_said() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un lampadaire éteint à la ciotat")
    turn(slots, "inform", "pas loin du stade vélodrome")
    assert slots["commune"] == "La Ciotat"


def test_a_public_place_beside_the_commune_answers_where() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "tags")
    turn(slots, "inform", "des insultes à la bombe")
    turn(slots, "inform", "Mur de l'école, Gréasque")
    assert slots["commune"] == "Gréasque" and slots["landmark"] == "mur de l'école"


def test_a_house_and_street_volunteered_after_a_landmark_are_where() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un banc cassé vers la gare saint charles")
    assert slots[PENDING] == "danger"
    turn(slots, "inform", "c'est au quarante deux boulevard national dans le premier non le troisième")
    assert slots["street_name"] == "boulevard National" and slots["street_number"] == "42"
    assert slots["commune"] == "Marseille 3e"


@pytest.mark.parametrize(
    "said",
    [
        "j'habite au 5 avenue de la libération à aubagne",  # the caller's home
        "c'est au 24 boulevard de l'europe à marignane",  # another commune
        "c'est le 06 12 34 56 78 au 4 rue paradis",  # a phone number with it
    ],
)
def test_an_address_volunteered_that_is_not_the_problems_leaves_the_place(said: str) -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "lampadaire éteint devant la mairie de gardanne")
    turn(slots, "inform", "non")
    turn(slots, "inform", said)
    assert slots["commune"] == "Gardanne" and not slots.get("street_name")


def test_a_verb_beside_the_commune_is_no_place() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "tags")
    turn(slots, "inform", "des insultes à la bombe")
    turn(slots, "inform", "à Gardanne, ça marche pas ce truc")
    assert not slots.get("landmark")


def test_a_callback_number_heard_wrong_is_asked_again_not_replaced_by_the_line() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un lampadaire éteint au 3 rue de la paix à cassis", caller="+33442000000")
    turn(slots, "inform", "non pas dangereux")
    outcome = turn(slots, "affirm", "oui rappelez-moi au zéro six douze trente quatre cinquante six sept")
    assert outcome.said[0].response == "utter_ask_callback_number" and slots["callback_number"] is None


def test_more_of_the_problem_said_with_the_place_joins_the_description() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "bonjour je suis furieux je rappelle encore pour ce dépôt sauvage")
    turn(slots, "inform", "derrière le gymnase de gémenos y a des sacs de gravats et des vieux pneus")
    assert "gravats" in slots["description"] and slots["landmark"] == "gymnase de Gémenos"


def test_someone_elses_address_told_at_the_danger_question_is_not_the_place() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un trou devant le stade de vitrolles")
    turn(slots, "inform", "oui dangereux ma voisine au huit rue des lilas est tombée dedans hier")
    assert slots["danger"] is True and not slots.get("street_name")


def test_times_beside_the_same_number_accept_the_number_known() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un lampadaire éteint au 3 rue de la paix à cassis", caller="+33442000000")
    turn(slots, "inform", "non pas dangereux")
    turn(slots, "affirm", "oui sur ce numéro je suis là de 14h à 18h30")
    assert slots["callback_number"] == "04 42 00 00 00"


def test_the_callers_own_number_said_with_a_slip_is_the_number() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un lampadaire éteint au 3 rue de la paix à cassis", caller="+33658392017")
    turn(slots, "inform", "non pas dangereux")
    turn(slots, "affirm", "oui rappelez moi au zéro six cinquante huit trente neuf vingt zéro dix sept")
    assert slots["callback_number"] == "06 58 39 20 17"


def test_a_place_answer_naming_the_problem_again_is_no_description() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "le lampadaire clignote depuis une semaine")
    turn(slots, "inform", "c'est le lampadaire devant le douze rue de rome sur marseille")
    assert slots["description"] == "le lampadaire clignote depuis une semaine"


def test_what_explains_a_danger_answer_is_no_new_problem_but_a_problem_taken_back_by_name_is() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "il y a un scooter abandonné depuis des semaines au 4 rue Sainte à Marseille")
    assert slots["category"] == "stationnement_vehicule" and slots["pending_question"] == "danger"
    turn(slots, "deny", "non il gêne personne, c'est juste des déchets autour")
    assert slots["category"] == "stationnement_vehicule" and slots["danger"] is False
    slots = {}
    turn(slots, "report_problem", "une épave de voiture au 4 rue Sainte à Marseille")
    turn(slots, "deny", "non aucun danger, et pardon c'est pas une épave, c'est un dépôt d'ordures")
    assert slots["category"] == "proprete" and slots["danger"] is False


def test_a_yes_with_the_street_said_as_it_sounds_confirms() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un lampadaire éteint au 7 boulevard de la Gibe à Marseille, pas dangereux")
    turn(slots, "deny", "non")
    assert slots["pending_question"] == "confirm" and slots["street_name"] == "boulevard de la Gibe"
    outcome = turn(slots, "affirm", "oui exact, boulevard de la Gibbe")
    assert outcome.save_report and slots["street_name"] == "boulevard de la Gibbe"
    slots = {}
    turn(slots, "report_problem", "un lampadaire éteint au 7 boulevard de la Gibe à Marseille, pas dangereux")
    turn(slots, "deny", "non")
    assert not turn(slots, "affirm", "oui, boulevard Longchamp").save_report


def test_a_problem_put_right_at_the_danger_question_is_no_danger_answer_and_a_detail_of_it_no_new_problem() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un lampadaire éteint au 4 rue Sainte à Marseille")
    turn(slots, "deny", "non excusez-moi, erreur de ma part, c'est le feu pour les piétons")
    assert slots["category"] == "signalisation" and slots.get("danger") is None
    slots = {}
    turn(slots, "report_problem", "un lampadaire éteint au 4 rue Sainte à Marseille")
    turn(slots, "deny", "non pas dangereux mais le lampadaire est couvert de tags")
    assert slots["category"] == "eclairage_public" and slots["danger"] is False


def test_more_of_the_problem_said_where_the_place_was_asked_is_no_place() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un banc cassé")
    turn(slots, "inform", "il penche beaucoup")
    assert slots["pending_question"] == "place"
    turn(slots, "inform", "le dossier est arraché et l'assise est fendue")
    assert not slots.get("landmark") and slots["pending_question"] == "place"
    assert "assise" in slots["description"]


def test_en_fait_explaining_a_danger_answer_puts_no_problem_right() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "un nid de poule au 4 rue Sainte à Marseille")
    turn(slots, "deny", "non en fait ça gêne surtout les voitures garées à côté")
    assert slots["category"] == "chaussee_trottoirs" and slots["danger"] is False


def test_more_of_the_problem_said_to_the_house_number_question_goes_to_the_description() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "bonsoir je passe devant l'abribus avenue des chartreux")
    assert slots["pending_question"] == "street_number"
    turn(slots, "inform", "le verre de la vitre est en miettes sur le trottoir")
    assert "miettes" in slots["description"]


def test_a_place_said_beside_a_bent_commune_in_one_breath_answers_the_place_question() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "je vous appelle pour un grand pin couché")
    outcome = turn(slots, "inform", "oui c'est au tolonet en haut de la côte après les oliviers")
    assert slots["commune"] == "Le Tholonet" and slots["landmark"] == "haut de la côte après les oliviers"
    assert outcome.said[0].response == "utter_ask_danger"


def test_a_second_problem_said_to_the_house_number_question_is_not_the_first_ones_description() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "bonsoir je passe devant l'abribus avenue des chartreux")
    turn(slots, "inform", "ah et en plus le réverbère d'en face est éteint")
    assert "réverbère" not in slots["description"]


def test_a_new_thing_said_to_the_house_number_question_is_not_the_first_ones_description() -> None:
    slots: dict[str, Any] = {}
    turn(slots, "report_problem", "il y a un trou rue paradis à marseille")
    turn(slots, "inform", "il y a un lampadaire tordu juste à côté")
    assert "lampadaire" not in slots["description"]
