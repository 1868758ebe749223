"""The names of the dialogue's slots: what a report is made of, and the conversation's bookkeeping.

A module of names only, so that the telephony process can read a dialogue's fields without importing the
dialogue's understanding (its lexicons and language pipeline).
"""

from __future__ import annotations

from typing import Any

# The report's fields, as Rasa slots (domain.yml) and as the store's report draft.
REPORT_SLOTS = (
    "category",
    "category_other_words",
    "place",
    "street_number",
    "street_name",
    "street_verified",
    "commune",
    "landmark",
    "description",
    "danger",
    "callback_consent",
    "callback_number",
)


def report_fields(slots: dict[str, Any]) -> dict[str, Any]:
    """The report's fields among `slots`, as they may be stored: the callback number only with consent (the
    dialogue also holds the caller's number, to offer a call back on it, which must not reach the store)."""
    fields = {name: slots.get(name) for name in REPORT_SLOTS if slots.get(name) is not None}
    if fields.get("callback_consent") is not True:
        fields.pop("callback_number", None)
    return fields


PENDING = "pending_question"  # the question the bot asked last
REPROMPTS = "reprompt_count"  # turns in a row not understood
CALLER_NUMBER = "caller_number"  # the caller id, in the spoken format
COMMUNE_SKIPPED = "commune_skipped"  # the caller does not know the commune: not asked again
DESCRIPTION_WANTED = "description_wanted"  # the problem was only named: ask once what is wrong with it
QUESTIONS_ASKED = "questions_asked"  # how many times each question was asked: a caller is not asked forever
# A person was wanted and none can take the call now: the callbot asks the dialogue to offer a call back
# (OFFER_CALLBACK_MESSAGE, with the reason and when agents call back in its metadata).
CALLBACK_OFFER = "callback_offer"  # why: outside_hours, transfer_failed or no_transfer
CALLBACK_WHEN = "callback_when"  # when, as the callbot words it ("à partir de lundi 8 heures 30", "dès que possible")
CALLBACK_REASONS = ("outside_hours", "transfer_failed", "no_transfer")
OFFER_CALLBACK_MESSAGE = "/offer_callback"  # a command: the session strips a leading "/" from the caller's words
# The offer's questions: would you like a call back, at the line's number, at which number.
OFFER_QUESTIONS = ("offer_callback", "offer_callback_known", "offer_callback_number")


# Questions a yes or a no answers.
YES_NO_QUESTIONS = (
    "danger",
    "callback_consent",
    "confirm",
    "anything_else",
    "emergency_check",
    "offer_human",
    "offer_callback",
    "offer_callback_known",
)
PLACE_QUESTIONS = ("place", "street_number", "commune")
NUMBER_QUESTIONS = ("callback_number", "offer_callback_number")


# Answering these may save the report or close the call: never tried ahead of the caller's end of turn.
NOT_PREVIEWABLE = ("confirm", "correction", "anything_else", *OFFER_QUESTIONS)


def previewable(pending: object) -> bool:
    """Whether the answer to the pending question may be computed ahead and taken back (dialogue rewind)."""
    return pending not in NOT_PREVIEWABLE


def answered(before: object, after: object) -> bool:
    """Whether a line answered the yes/no, number or place question asked `before` and the dialogue went on to one
    the caller cannot be half-way through already (not the house number after a street, nor the number after
    "oui, rappelez-moi"): said at a pause, such a line is done."""
    closed = expected_answer(before) in ("yes_no", "number", "place")
    return closed and after != before and after not in (*PLACE_QUESTIONS, *NUMBER_QUESTIONS)


def expected_answer(pending: object) -> str:
    """What kind of answer the pending question calls for ("yes_no", "number", "place" or "free"): the voice
    session waits longer for the end of a phone number or an address than for a yes."""
    if pending in YES_NO_QUESTIONS:
        return "yes_no"
    if pending in NUMBER_QUESTIONS:
        return "number"
    if pending in PLACE_QUESTIONS:
        return "place"
    return "free"
