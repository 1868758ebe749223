"""The call-back offer in the state machine (dialogue.conversation), without Rasa: what the dialogue does after the
callbot's /offer_callback, whatever the caller answers."""

from __future__ import annotations

from typing import Any

from dialogue.conversation import Outcome, handle_offer_answer, handle_offer_callback, handle_report_turn
from dialogue.slots import CALLBACK_OFFER, CALLBACK_WHEN, PENDING, expected_answer, previewable, report_fields
from tests.dialogue.test_dialogue_state_machine import KNOWLEDGE, understood

LINE = "+33491000000"


def offered(slots: dict[str, Any], reason: str = "outside_hours", caller: str | None = LINE) -> Outcome:
    """The callbot's command, its metadata already in the slots (as the action puts them)."""
    slots.update({CALLBACK_OFFER: reason, CALLBACK_WHEN: "à partir de lundi 8 heures 30"})
    outcome = handle_offer_callback(
        understood("offer_callback", "/offer_callback", 1.0, None, caller), slots, KNOWLEDGE
    )
    slots.update(outcome.slots)
    return outcome


def answer(slots: dict[str, Any], intent: str, text: str, caller: str | None = LINE, asr: float = 0.9) -> Outcome:
    outcome = handle_offer_answer(understood(intent, text, 0.95, asr, caller), slots, KNOWLEDGE)
    slots.update(outcome.slots)
    return outcome


def responses(outcome: Outcome) -> list[str]:
    return [say.response for say in outcome.said]


def test_a_handoff_leaves_the_announcement_to_the_channel() -> None:
    outcome = handle_report_turn(understood("request_human", "passez-moi un conseiller"), {}, KNOWLEDGE)
    assert outcome.handoff_reason == "caller_request" and outcome.said == []


def test_yes_then_the_line_number_confirmed() -> None:
    slots: dict[str, Any] = {"category": "eclairage_public", "place": "boulevard Baille"}
    outcome = offered(slots)
    assert responses(outcome) == ["utter_offer_callback"] and slots[PENDING] == "offer_callback"
    assert slots[CALLBACK_OFFER] == "outside_hours"
    outcome = answer(slots, "affirm", "oui")
    assert responses(outcome) == ["utter_ask_offer_callback_known"]
    assert outcome.said[0].variables == {"number": "04 91 00 00 00"}
    outcome = answer(slots, "affirm", "oui c'est ça")
    assert outcome.callback_number == "04 91 00 00 00" and outcome.hangup
    assert outcome.said[0].variables == {"number": "04 91 00 00 00", "when": "à partir de lundi 8 heures 30"}
    # The report's fields are untouched (they went with the handoff); the caller's number is no report field.
    assert report_fields(slots) == {"category": "eclairage_public", "place": "boulevard Baille"}


def test_another_number_than_the_line() -> None:
    slots: dict[str, Any] = {}
    offered(slots)
    answer(slots, "affirm", "oui")
    outcome = answer(slots, "deny", "non")
    assert responses(outcome) == ["utter_ask_callback_number"] and slots[PENDING] == "offer_callback_number"
    outcome = answer(slots, "inform", "zéro six douze trente-quatre cinquante-six soixante-dix-huit")
    assert outcome.callback_number == "06 12 34 56 78" and outcome.hangup


def test_without_a_caller_id_the_number_is_asked() -> None:
    slots: dict[str, Any] = {}
    offered(slots, "no_transfer", caller=None)
    outcome = answer(slots, "affirm", "oui je veux bien", caller=None)
    assert responses(outcome) == ["utter_ask_callback_number"]
    outcome = answer(slots, "inform", "07 11 22 33 44", caller=None)
    assert outcome.callback_number == "07 11 22 33 44"


def test_a_number_given_with_the_yes() -> None:
    slots: dict[str, Any] = {}
    offered(slots)
    outcome = answer(slots, "affirm", "oui rappelez-moi au 06 11 22 33 44")
    assert outcome.callback_number == "06 11 22 33 44" and outcome.hangup


def test_rappelez_moi_is_a_yes() -> None:
    slots: dict[str, Any] = {}
    offered(slots, caller=None)
    assert responses(answer(slots, "inform", "rappelez-moi", caller=None)) == ["utter_ask_callback_number"]


def test_no_ends_politely_without_a_request() -> None:
    slots: dict[str, Any] = {}
    offered(slots)
    outcome = answer(slots, "deny", "non merci")
    assert responses(outcome) == ["utter_callback_declined"] and outcome.hangup and outcome.callback_number is None
    assert outcome.handoff_reason is None


def test_no_number_after_all() -> None:
    slots: dict[str, Any] = {}
    offered(slots, caller=None)
    answer(slots, "affirm", "oui", caller=None)
    outcome = answer(slots, "dont_know", "je ne sais pas", caller=None)
    assert responses(outcome) == ["utter_callback_declined"] and outcome.callback_number is None


def test_silence_and_noise_are_asked_again_once_then_the_call_ends() -> None:
    slots: dict[str, Any] = {}
    offered(slots)
    outcome = answer(slots, "no_input", "/no_input")
    assert responses(outcome) == ["utter_reask_offer_callback"] and not outcome.hangup
    outcome = answer(slots, "inform", "le chat de la voisine")
    assert responses(outcome) == ["utter_callback_not_taken"] and outcome.hangup and outcome.callback_number is None


def test_badly_heard_words_accept_nothing() -> None:
    slots: dict[str, Any] = {}
    offered(slots)
    outcome = answer(slots, "affirm", "ouais", asr=0.2)
    assert responses(outcome) == ["utter_not_understood", "utter_reask_offer_callback"]
    assert outcome.callback_number is None and slots[PENDING] == "offer_callback"


def test_a_person_asked_for_again_hears_that_nobody_can_answer_now() -> None:
    slots: dict[str, Any] = {}
    offered(slots)
    outcome = answer(slots, "request_human", "je veux un conseiller")
    assert responses(outcome) == ["utter_offer_callback_nobody_now"] and slots[PENDING] == "offer_callback"


def test_an_emergency_during_the_offer_gets_the_112_advice() -> None:
    slots: dict[str, Any] = {}
    offered(slots)
    outcome = answer(slots, "emergency", "il y a un fil électrique tombé par terre qui fait des étincelles")
    assert responses(outcome)[0] == "utter_emergency" and not outcome.hangup
    assert slots[PENDING] == "offer_callback"


def test_the_offer_is_never_answered_ahead() -> None:
    assert expected_answer("offer_callback") == "yes_no" and expected_answer("offer_callback_known") == "yes_no"
    assert expected_answer("offer_callback_number") == "number"
    assert not any(previewable(q) for q in ("offer_callback", "offer_callback_known", "offer_callback_number"))


def test_a_reason_the_dialogue_does_not_know_is_no_transfer() -> None:
    slots: dict[str, Any] = {CALLBACK_OFFER: "anything", CALLBACK_WHEN: None}
    outcome = handle_offer_callback(understood("offer_callback", "/offer_callback", 1.0, None), slots, KNOWLEDGE)
    assert outcome.slots[CALLBACK_OFFER] == "no_transfer" and outcome.slots[CALLBACK_WHEN] == "dès que possible"
