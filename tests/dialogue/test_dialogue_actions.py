"""The action server's actions, run in process with rasa-sdk's own tracker and dispatcher."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from dialogue.actions import ActionFallback, ActionRepeat

ASKED = "Acceptez-vous qu'un agent vous rappelle si besoin ?"
SLOTS: dict[str, Any] = {
    "category": "proprete",
    "description": "des sacs éventrés",
    "street_number": "3",
    "street_name": "rue Paradis",
    "commune": "Marseille",
    "place": "3 rue Paradis, Marseille",
    "danger": False,
    "pending_question": "callback_consent",
}


def repeat(text: str) -> CollectingDispatcher:
    events = [{"event": "user", "text": "non"}, {"event": "bot", "text": ASKED}, {"event": "user", "text": text}]
    message = {"text": text, "intent": {"name": "repeat", "confidence": 0.8}, "metadata": {"asr_confidence": 0.9}}
    tracker = Tracker("test-repeat", SLOTS, message, events, False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionRepeat().run(dispatcher, tracker, {}))
    return dispatcher


def test_a_request_to_repeat_says_the_last_question_again() -> None:
    said = repeat("pardon vous pouvez répéter")
    assert [m.get("text") for m in said.messages] == [ASKED]


def test_a_pardon_inside_an_answer_is_the_answer() -> None:
    said = repeat("oui au 06 11 22 33 44, non pardon, au 06 11 22 33 45")
    responses = [m.get("response") for m in said.messages if m.get("response")]
    assert ASKED not in [m.get("text") for m in said.messages] and "utter_read_back" in responses


def fallback(text: str, slots: dict[str, Any]) -> list[str]:
    message = {"text": text, "intent": {"name": "nlu_fallback", "confidence": 0.3}, "metadata": {"asr_confidence": 0.9}}
    tracker = Tracker("test-fallback", slots, message, [{"event": "user", "text": text}], False, None, {}, "")
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionFallback().run(dispatcher, tracker, {}))
    handoffs = [m["custom"]["callbot"] for m in dispatcher.messages if m.get("custom")]
    said = [m["response"] for m in dispatcher.messages if m.get("response")]
    return said + [f"handoff:{c['reason']}" for c in handoffs if c.get("action") == "handoff"]


def test_a_caller_asking_for_a_moment_is_no_misunderstanding_whatever_no_they_mumble() -> None:
    asked_once = {"pending_question": "problem", "questions_asked": {"problem": 1}, "reprompt_count": 1}
    said = fallback("hmm patientez une seconde euh non", asked_once)
    assert not any(r.startswith("handoff") for r in said) and any("problem" in r for r in said)
    # Asked a yes/no question, the same "non" answers it.
    danger_asked = {**SLOTS, "pending_question": "danger", "danger": None}
    assert "utter_ask_callback_consent" in fallback("attendez euh non", danger_asked)


def test_a_request_or_an_answer_said_while_asking_for_a_moment_is_heard() -> None:
    asked_once = {"pending_question": "problem", "questions_asked": {"problem": 1}}
    assert "handoff:caller_request" in fallback("hmm attendez non passez-moi plutôt un conseiller", asked_once)
    number_asked = {**SLOTS, "pending_question": "callback_number", "callback_consent": True}
    assert "utter_read_back" in fallback("ah attendez non finalement je veux pas qu'on me rappelle", number_asked)


def test_a_yes_while_looking_for_the_house_number_holds_on() -> None:
    number_asked = {**SLOTS, "street_number": None, "pending_question": "street_number", "danger": None}
    said = fallback("attendez oui je cherche le numéro", number_asked)
    assert said == ["utter_reask_street_number"]


def test_it_burns_after_caterpillars_is_the_skin_and_elsewhere_a_fire() -> None:
    asked = {**SLOTS, "pending_question": "danger", "danger": None}
    stinging = {**asked, "category": "nuisibles", "description": "des chenilles processionnaires sous les pins"}
    said = fallback("ah oui c'est dangereux pour les petits, ça brûle", stinging)
    assert "handoff:emergency" not in said and "utter_ask_callback_consent" in said
    bins = {**asked, "category": "proprete", "description": "des poubelles renversées"}
    assert "handoff:emergency" in fallback("ah oui c'est dangereux, ça brûle", bins)


def test_it_burns_after_caterpillars_stays_a_fire_when_the_caller_says_what_burns() -> None:
    asked = {**SLOTS, "pending_question": "danger", "danger": None}
    stinging = {**asked, "category": "nuisibles", "description": "des chenilles processionnaires sous les pins"}
    assert "handoff:emergency" in fallback("oh là ça brûle dans la colline, il y a de la fumée", stinging)


def test_it_burns_after_caterpillars_said_of_a_thing_is_a_fire() -> None:
    stinging = {
        **SLOTS,
        "pending_question": "danger",
        "danger": None,
        "category": "nuisibles",
        "description": "des chenilles processionnaires sous les pins",
    }
    assert "handoff:emergency" in fallback("les buissons ça brûle", stinging)
