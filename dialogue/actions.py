"""Custom actions of the Rasa project, served by rasa-sdk in the callbot's environment:
    python -m rasa_sdk --actions dialogue.actions --port 5055

Each Rasa rule maps one intent to one action here; the decisions live in dialogue.conversation (pure functions).
"""

from __future__ import annotations

import abc
import binascii
import importlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from dialogue.conversation import (
    Knowledge,
    Outcome,
    Thresholds,
    handle_emergency,
    handle_fallback,
    handle_goodbye,
    handle_hold_on,
    handle_no_input,
    handle_offer_answer,
    handle_offer_callback,
    handle_out_of_scope,
    handle_report_turn,
    handle_request_human,
    holds_on,
    in_context,
)
from dialogue.knowledge import OTHER_CATEGORY, default_gazetteer, default_taxonomy
from dialogue.slots import (
    CALLBACK_OFFER,
    CALLBACK_WHEN,
    CALLER_NUMBER,
    COMMUNE_SKIPPED,
    DESCRIPTION_WANTED,
    OFFER_QUESTIONS,
    PENDING,
    QUESTIONS_ASKED,
    REPORT_SLOTS,
    REPROMPTS,
    answered,
    expected_answer,
    previewable,
    report_fields,
)
from dialogue.understanding import Frame, Heard, Understanding

log = logging.getLogger(__name__)

Handler = Callable[[Frame, dict[str, Any], Knowledge], Outcome]
SLOT_NAMES = (
    *REPORT_SLOTS,
    CALLER_NUMBER,
    PENDING,
    REPROMPTS,
    COMMUNE_SKIPPED,
    DESCRIPTION_WANTED,
    QUESTIONS_ASKED,
    "emergency_checked",
    CALLBACK_OFFER,
    CALLBACK_WHEN,
)


def knowledge() -> Knowledge:
    return Knowledge(default_taxonomy(), default_gazetteer(), Thresholds.from_environment())


_understanding_lock = threading.Lock()
_understanding: Understanding | None = None


def understanding() -> Understanding:
    """The understanding step, built once per process: the taxonomy, the gazetteer, and the street base of the
    store when one was imported (`callbot places import`)."""
    global _understanding
    with _understanding_lock:
        if _understanding is None:
            from dialogue.places import PlaceResolver

            gazetteer = default_gazetteer()
            _understanding = Understanding(default_taxonomy(), gazetteer, PlaceResolver(gazetteer, street_index()))
        return _understanding


def street_index() -> Any:
    """The streets imported into the store, or None when there are none (or the store cannot be read)."""
    try:
        from dialogue.streets import StreetIndex

        index = StreetIndex.from_store(database_url())
    except Exception as error:  # no street base is a degraded mode, not a failure: places keep the caller's words
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        log.warning("street base unavailable (%s): streets are kept as heard, unverified", reason)
        return None
    return index if len(index) else None


def latest_metadata(tracker: Tracker) -> dict[str, Any]:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata")
            return metadata if isinstance(metadata, dict) else {}
    return {}


def heard_from(tracker: Tracker) -> Heard:
    message = tracker.latest_message or {}
    intent = message.get("intent") or {}
    metadata = latest_metadata(tracker)
    asr = metadata.get("asr_confidence")
    caller = metadata.get("caller_number")
    return Heard(
        intent=str(intent.get("name") or ""),
        text=str(message.get("text") or ""),
        nlu_confidence=float(intent.get("confidence") or 0.0),
        asr_confidence=float(asr) if isinstance(asr, int | float) else None,
        caller_number=str(caller) if caller else None,
    )


def emit(outcome: Outcome, dispatcher: CollectingDispatcher) -> list[EventType]:
    for say in outcome.said:
        dispatcher.utter_message(response=say.response, **say.variables)
    if outcome.handoff_reason:
        dispatcher.utter_message(json_message={"callbot": {"action": "handoff", "reason": outcome.handoff_reason}})
    if outcome.callback_number:
        dispatcher.utter_message(json_message={"callbot": {"callback_number": outcome.callback_number}})
    if outcome.hangup:
        dispatcher.utter_message(json_message={"callbot": {"action": "hangup"}})
    return [SlotSet(name, value) for name, value in outcome.slots.items()]


class _HandlerAction(Action, abc.ABC):  # type: ignore[misc]
    """Base of the actions that delegate to a handler; abstract so rasa-sdk does not register it."""

    action_name = ""
    handler: Handler

    @abc.abstractmethod
    def name(self) -> str: ...

    def given(self, tracker: Tracker) -> dict[str, Any]:
        """Slot values the message itself brings (a command's metadata), before the handler reads the slots."""
        return {}

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return self.respond(understanding()(heard_from(tracker)), dispatcher, tracker)

    def respond(self, frame: Frame, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """The turn for a line already understood."""
        slots = {name: tracker.get_slot(name) for name in SLOT_NAMES} | self.given(tracker)
        frame = in_context(frame, slots)
        handler = type(self).handler
        if slots.get(PENDING) in OFFER_QUESTIONS and not isinstance(self, ActionOfferCallback):
            handler = handle_offer_answer  # the call-back offer takes every answer, whatever DIET read
        if holds_on(frame, slots.get(PENDING)):
            handler = handle_hold_on  # whatever DIET read: "attendez" asks for a moment
        outcome = handler(frame, slots, knowledge())
        after = {**slots, **outcome.slots}
        # The fields so far go with every reply: the callbot stores them at once, so a crash loses none; and
        # the kind of answer the next question calls for, so its end of turn can wait the right time.
        pending = after.get(PENDING)
        control: dict[str, object] = {"fields": report_fields(after), "expects": expected_answer(pending)}
        if previewable(pending) and not outcome.save_report:
            control["previewable"] = True
        if answered(slots.get(PENDING), pending):
            control["answered"] = True
        dispatcher.utter_message(json_message={"callbot": control})
        if outcome.save_report:
            return emit(outcome, dispatcher) + save_and_close(tracker, {**slots, **outcome.slots}, dispatcher)
        return emit(outcome, dispatcher)


class ActionReportTurn(_HandlerAction):
    action_name = "action_report_turn"
    handler = staticmethod(handle_report_turn)

    def name(self) -> str:
        return self.action_name


class ActionFallback(_HandlerAction):
    action_name = "action_fallback"
    handler = staticmethod(handle_fallback)

    def name(self) -> str:
        return self.action_name


class ActionNoInput(_HandlerAction):
    action_name = "action_no_input"
    handler = staticmethod(handle_no_input)

    def name(self) -> str:
        return self.action_name


class ActionOutOfScope(_HandlerAction):
    action_name = "action_out_of_scope"
    handler = staticmethod(handle_out_of_scope)

    def name(self) -> str:
        return self.action_name


class ActionEmergency(_HandlerAction):
    action_name = "action_emergency"
    handler = staticmethod(handle_emergency)

    def name(self) -> str:
        return self.action_name


class ActionRequestHuman(_HandlerAction):
    action_name = "action_request_human"
    handler = staticmethod(handle_request_human)

    def name(self) -> str:
        return self.action_name


class ActionGoodbye(_HandlerAction):
    action_name = "action_goodbye"
    handler = staticmethod(handle_goodbye)

    def name(self) -> str:
        return self.action_name


class ActionOfferCallback(_HandlerAction):
    """/offer_callback from the callbot: nobody can take the call now, offer a call back. Its metadata says why
    (callback_reason) and when agents will call (callback_when, in words)."""

    action_name = "action_offer_callback"
    handler = staticmethod(handle_offer_callback)

    def name(self) -> str:
        return self.action_name

    def given(self, tracker: Tracker) -> dict[str, Any]:
        metadata = latest_metadata(tracker)
        return {CALLBACK_OFFER: metadata.get("callback_reason"), CALLBACK_WHEN: metadata.get("callback_when")}


class ActionRepeat(Action):  # type: ignore[misc]
    """Say again what the bot said in its last turn (texts only, never the control payloads)."""

    def name(self) -> str:
        return "action_repeat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        frame = understanding()(heard_from(tracker))
        if frame.carries_content():
            # "06 29 84 51 37… non pardon, 06 29 84 51 73": a "pardon" inside an answer asks for nothing again
            return ActionReportTurn().respond(frame, dispatcher, tracker)
        texts = last_bot_texts(tracker.events)
        if not texts:
            dispatcher.utter_message(response="utter_ask_problem")
        for text in texts:
            dispatcher.utter_message(text=text)
        return []


def last_bot_texts(events: list[dict[str, Any]]) -> list[str]:
    """Bot texts between the previous user message and the current one (the "repeat" request itself)."""
    users_seen = 0
    texts: list[str] = []
    for event in reversed(events):
        kind = event.get("event")
        if kind == "user":
            users_seen += 1
            if users_seen == 2:
                break
        elif kind == "bot" and users_seen == 1 and event.get("text"):
            texts.append(str(event["text"]))
    return list(reversed(texts))


# -- saving the report ------------------------------------------------------------------------------------------

_store_lock = threading.Lock()
_store: Any = None


def pseudonym_key_from_environment() -> bytes:
    """CALLBOT_PSEUDONYM_KEY: hex (64 digits from the callbot) or, failing that, the raw text's bytes."""
    raw = os.environ.get("CALLBOT_PSEUDONYM_KEY", "")
    try:
        key = binascii.unhexlify(raw)
        if len(key) >= 16:
            return key
    except (binascii.Error, ValueError):
        pass
    return raw.encode()


def database_url() -> str:
    return os.environ.get("CALLBOT_DATABASE_URL", "sqlite:///var/callbot.sqlite3")


def report_store() -> Any:
    """The signalements Store, opened on first use from CALLBOT_DATABASE_URL and CALLBOT_PSEUDONYM_KEY."""
    global _store
    with _store_lock:
        if _store is None:
            from signalements import Store  # the storage package is only needed when a report is saved

            _store = Store(database_url(), pseudonym_key_from_environment())
        return _store


def report_draft(slots: dict[str, Any]) -> Any:
    from signalements import ReportDraft

    category = slots.get("category") or OTHER_CATEGORY
    consent = bool(slots.get("callback_consent"))
    return ReportDraft(
        category=category,
        place=slots.get("place") or "",
        description=slots.get("description") or slots.get("category_other_words") or "",
        danger=bool(slots.get("danger")),
        callback_consent=consent,
        callback_number=slots.get("callback_number") if consent else None,
        street_number=slots.get("street_number"),
        street_name=slots.get("street_name"),
        street_verified=slots.get("street_verified"),
        commune=slots.get("commune"),
        landmark=slots.get("landmark"),
        category_other_words=slots.get("category_other_words") if category == OTHER_CATEGORY else None,
    )


def save_and_close(tracker: Tracker, slots: dict[str, Any], dispatcher: CollectingDispatcher) -> list[EventType]:
    try:
        report_id = int(report_store().save_report(tracker.sender_id, report_draft(slots)))
    except Exception:  # any storage failure: the caller must still reach a human, with the fields
        log.exception("saving the report of %s failed", tracker.sender_id)
        dispatcher.utter_message(response="utter_save_failed")
        dispatcher.utter_message(json_message={"callbot": {"action": "handoff", "reason": "technical"}})
        return [SlotSet("pending_question", None)]
    dispatcher.utter_message(response="utter_report_saved", reference=str(report_id))
    dispatcher.utter_message(json_message={"callbot": {"report_id": report_id}})
    dispatcher.utter_message(json_message={"callbot": {"action": "hangup"}})
    return [SlotSet("pending_question", None), SlotSet("report_id", report_id)]


# The language pipeline takes seconds to load: start at once, beside rasa-sdk's own start (which is longer), so the
# first caller's turn does not wait for it. It reads the street base through SQLAlchemy, imported here first: a
# request thread importing it while the warm-up does would find it half-initialised (a circular-import error).
importlib.import_module("signalements.models")
threading.Thread(target=understanding, name="understanding-warm-up", daemon=True).start()
