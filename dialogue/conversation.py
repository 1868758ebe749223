"""The report conversation as a pure state machine: (slots, what the caller said) -> (slot changes, bot output).

Rasa rules route each intent to one custom action (dialogue/actions.py); the action calls a handler here. Keeping
the decisions out of Rasa's policies makes them deterministic, testable without a model, and lets one place combine
the ASR and NLU confidences with lexical checks against the taxonomy and the gazetteer (DIET alone is over-confident
out of domain).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from dialogue.knowledge import OTHER_CATEGORY, Gazetteer, Taxonomy, contains_phrase, fold
from dialogue.lexicon import is_emergency as _lexical_emergency
from dialogue.lexicon import is_private_property, names_other_service
from dialogue.normalize import (
    Place,
    danger_answer,
    find_phone_number,
    find_separate_street_number,
    find_street_number,
    format_place,
    free_text_landmark,
    is_quarter,
    looks_unintelligible,
    mentions_danger,
    normalize_caller_number,
    parse_place,
    sounds_like_correction,
    yes_or_no,
)

# Slots the report is made of (names fixed in CONTRACTS.md) and the bookkeeping ones.
REPORT_SLOTS = (
    "category",
    "category_other_words",
    "place",
    "street_number",
    "street_name",
    "commune",
    "landmark",
    "description",
    "danger",
    "callback_consent",
    "callback_number",
)
PENDING = "pending_question"
REPROMPTS = "reprompt_count"
CALLER_NUMBER = "caller_number"

# Words that make a free-text problem plausible when no taxonomy synonym matched ("autre" category).
PROBLEM_WORDS = (
    "casse",
    "cassee",
    "casses",
    "abime",
    "abimee",
    "degrade",
    "degradee",
    "panne",
    "en panne",
    "hors service",
    "marche plus",
    "marche pas",
    "fonctionne plus",
    "fonctionne pas",
    "bloque",
    "bloquee",
    "tombe",
    "tombee",
    "effondre",
    "effondree",
    "arrache",
    "arrachee",
    "arrete",
    "arretee",
    "dangereux",
    "dangereuse",
    "mur",
    "cloture",
    "grillage",
    "escalier",
    "rampe",
    "odeur",
    "chantier",
    "travaux",
    "fuite",
    "trou",
    "sale",
    "degat",
    "degats",
    "vandalise",
    "vandalisme",
    "abandonne",
    "tordu",
    "tordue",
    "penche",
    "decolle",
    "rouille",
    "fissure",
    "menace de",
    "s effondre",
    "pend",
    "pendent",
    "deborde",
    "bouche",
    "s allume plus",
    "eteint",
)
# "J'appelle pour faire un signalement": the caller has not said what yet, but a report is wanted.
WANTS_TO_REPORT = (
    "signaler",
    "signale",
    "signalement",
    "signalements",
    "probleme",
    "souci",
    "declarer",
    "reclamation",
    "un truc",
    "quelque chose",
    "voie publique",
    "dans la rue",
    "dans ma rue",
)

# Questions a yes or a no answers.
YES_NO_QUESTIONS = ("danger", "callback_consent", "confirm", "anything_else")
# Words that ask for a person ("je veux parler à quelqu'un", "passez-moi une dame").
HUMAN_WORDS = (
    "humain",
    "humaine",
    "personne",
    "conseiller",
    "conseillere",
    "agent",
    "operateur",
    "operatrice",
    "standard",
    "standardiste",
    "quelqu un",
    "une dame",
    "un monsieur",
    "vrai",
    "vraie",
    "collegue",
    "responsable",
    "parler",
    "passer",
    "passez",
    "transferer",
    "en relation",
    "robot",
    "machine",
)
GOODBYE_WORDS = (
    "au revoir",
    "bonne journee",
    "bonne soiree",
    "bonne fin de journee",
    "bonne nuit",
    "a bientot",
    "a plus",
    "a la prochaine",
    "je raccroche",
    "je vous laisse",
    "salut",
    "ciao",
    "adieu",
    "bye",
)


@dataclass(frozen=True)
class Thresholds:
    """Below these the caller's words are not trusted enough to fill the report (configurable by env vars)."""

    min_asr: float = 0.45
    min_nlu: float = 0.5
    min_combined: float = 0.3

    @classmethod
    def from_environment(cls) -> Thresholds:
        def read(name: str, default: float) -> float:
            raw = os.environ.get(name)
            try:
                return float(raw) if raw else default
            except ValueError:
                return default

        return cls(
            read("DIALOGUE_MIN_ASR_CONFIDENCE", cls.min_asr),
            read("DIALOGUE_MIN_NLU_CONFIDENCE", cls.min_nlu),
            read("DIALOGUE_MIN_COMBINED_CONFIDENCE", cls.min_combined),
        )


@dataclass(frozen=True)
class Heard:
    """One caller turn as the action server sees it."""

    intent: str
    text: str
    nlu_confidence: float
    asr_confidence: float | None = None
    caller_number: str | None = None


@dataclass(frozen=True)
class Say:
    response: str  # a response of domain.yml
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    said: list[Say] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    handoff_reason: str | None = None
    hangup: bool = False
    save_report: bool = False  # the action stores the report, then says the reference and hangs up


@dataclass(frozen=True)
class Knowledge:
    taxonomy: Taxonomy
    gazetteer: Gazetteer
    thresholds: Thresholds = Thresholds()


def is_trusted(heard: Heard, thresholds: Thresholds) -> bool:
    """ASR and NLU confidences combined: either one too low, or their product too low, means doubt."""
    asr = 1.0 if heard.asr_confidence is None else heard.asr_confidence
    if heard.intent.startswith("/") or heard.text.startswith("/"):
        return True
    return (
        asr >= thresholds.min_asr
        and heard.nlu_confidence >= thresholds.min_nlu
        and (asr * heard.nlu_confidence >= thresholds.min_combined)
    )


def badly_heard(heard: Heard, thresholds: Thresholds) -> bool:
    """The ASR confidence alone is too low to act on the words, or they are sounds rather than words (commands like
    /no_input are never doubted)."""
    if heard.intent.startswith("/") or heard.text.startswith("/"):
        return False
    if looks_unintelligible(heard.text):
        return True
    return heard.asr_confidence is not None and heard.asr_confidence < thresholds.min_asr


def has_lexical_evidence(heard: Heard, knowledge: Knowledge) -> bool:
    """The words name a problem of the taxonomy or a place: DIET's doubt about the intent does not matter then,
    as long as the ASR heard them well enough."""
    asr_ok = heard.asr_confidence is None or heard.asr_confidence >= knowledge.thresholds.min_asr
    if not asr_ok or is_out_of_scope(heard.text, knowledge):
        return False
    if knowledge.taxonomy.match(heard.text) is not None:
        return True
    return not parse_place(heard.text, knowledge.gazetteer).is_empty()


def is_emergency(text: str, nlu_says_emergency: bool = False) -> bool:
    return _lexical_emergency(text, nlu_says_emergency)


def is_out_of_scope(text: str, knowledge: Knowledge) -> bool:
    """Private property ("une fuite sous mon évier"), or another service's topic (taxes, neighbours' noise,
    documents, timetables) without a problem in the street described."""
    category = knowledge.taxonomy.match(text)
    if is_private_property(text):
        found = knowledge.taxonomy.by_code(category) if category else None
        return not (found and found.covers_private_property)
    return names_other_service(text, category is not None)


def report_in_progress(slots: dict[str, Any]) -> bool:
    return any(slots.get(name) not in (None, "") for name in ("category", "place", "street_name", "landmark"))


def _with_caller_number(slots: dict[str, Any], heard: Heard) -> dict[str, Any]:
    updates: dict[str, Any] = {}
    if not slots.get(CALLER_NUMBER) and heard.caller_number:
        number = normalize_caller_number(heard.caller_number)
        if number:
            updates[CALLER_NUMBER] = number
    return updates


def _current(slots: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    return {**slots, **updates}


def _place_updates(slots: dict[str, Any], place: Place, replace_street: bool) -> dict[str, Any]:
    updates: dict[str, Any] = {}
    if place.street_name:
        updates["street_name"] = place.street_name
        updates["street_number"] = place.street_number
        if replace_street:
            updates["landmark"] = None
    if place.landmark:
        updates["landmark"] = place.landmark
    if place.commune:
        updates["commune"] = place.commune
    merged = _current(slots, updates)
    if updates:
        updates["place"] = (
            format_place(
                Place(
                    merged.get("street_number"),
                    merged.get("street_name"),
                    merged.get("commune"),
                    merged.get("landmark"),
                )
            )
            or None
        )
    return updates


def _plausible_problem(text: str, knowledge: Knowledge) -> bool:
    folded = fold(text)
    return knowledge.taxonomy.match(text) is not None or any(contains_phrase(folded, w) for w in PROBLEM_WORDS)


def extract(heard: Heard, slots: dict[str, Any], knowledge: Knowledge, trusted: bool) -> dict[str, Any]:
    """Every report field the caller's sentence gives, whatever was asked (callers answer in any order). A field
    already filled changes only on an answer to its question or a correction, never for a weaker value."""
    pending = slots.get(PENDING)
    text = heard.text
    correcting = heard.intent == "correct" or sounds_like_correction(text)
    updates: dict[str, Any] = {}
    category = knowledge.taxonomy.match(text)
    if category and (
        not slots.get("category")
        or pending in ("problem", "correction")
        or (correcting and category != slots.get("category"))
    ):
        updates.update(
            category=category, description=text, category_other_words=text if category == OTHER_CATEGORY else None
        )
    elif (
        not slots.get("category")
        and pending == "problem"
        and trusted
        and heard.intent not in ("affirm", "deny")
        and _plausible_problem(text, knowledge)
    ):
        updates.update(category=OTHER_CATEGORY, description=text, category_other_words=text)
    elif (
        not slots.get("category")
        and heard.intent == "report_problem"
        and trusted
        and _plausible_problem(text, knowledge)
    ):
        updates.update(category=OTHER_CATEGORY, description=text, category_other_words=text)

    updates.update(_place_from(heard, slots, knowledge, trusted, correcting))
    # "Ah non c'est à Fos-sur-Mer" in reply to the danger question corrects the commune: its "non" is not an answer.
    corrected_other = pending not in (None, "problem", "place", "commune", "correction", "confirm") and _corrects(
        slots, updates
    )

    if pending == "danger":
        answer = mentions_danger(text) if corrected_other else danger_answer(text)
        if answer is not None:
            updates["danger"] = answer
    else:
        danger = mentions_danger(text)
        if danger is not None and (slots.get("danger") is None or pending in ("confirm", "correction")):
            updates["danger"] = danger

    number = find_phone_number(text)
    # Ten digits are a phone number whatever was asked: callers give it when it comes to mind.
    if number and (
        pending in ("callback_consent", "callback_number", "confirm", "correction") or report_in_progress(slots)
    ):
        updates.update(callback_consent=True, callback_number=number)
    elif corrected_other:
        pass
    elif pending == "callback_consent":
        answer = _yes_no(heard)
        if answer is True:
            updates.update(callback_consent=True, callback_number=slots.get(CALLER_NUMBER))
        elif answer is False:
            updates.update(callback_consent=False, callback_number=None)
    elif pending == "callback_number" and (heard.intent in ("deny", "dont_know") or yes_or_no(text) is False):
        updates.update(callback_consent=False, callback_number=None)
    if pending == "commune" and heard.intent == "dont_know" and "commune" not in updates:
        updates["commune_skipped"] = True
    return updates


def _place_from(
    heard: Heard, slots: dict[str, Any], knowledge: Knowledge, trusted: bool, correcting: bool
) -> dict[str, Any]:
    """Place fields from this turn. Before any place is known, whatever is heard; after, only in an answer to the
    place or commune question, at the read-back or in a correction, and a landmark never for a weaker one ("au
    lycée" said in passing does not replace "lycée Rimbaud")."""
    pending = slots.get(PENDING)
    text = heard.text
    reviewing = pending in ("correction", "confirm") or heard.intent == "correct"
    may_change = reviewing or correcting or pending in ("place", "commune")
    place = parse_place(text, knowledge.gazetteer)
    same_street = fold(place.street_name or "") == fold(slots.get("street_name") or "")
    if place.street_name and not place.street_number and (reviewing or correcting or same_street):
        # "non c'est boulevard Chave, pas boulevard Baille": only the name changes, the number stays.
        place = Place(slots.get("street_number"), place.street_name, place.commune, place.landmark)
    number = find_separate_street_number(text) if not place.street_number else None
    known_street = place.street_name or slots.get("street_name")
    if number and known_street and (not slots.get("street_number") or place.street_name or reviewing or correcting):
        # "rue Loubon, devant le neuf", or "devant le numéro vingt-cinq" to the next question: the street's number,
        # not a landmark called "numéro 25".
        bare_number = place.landmark and re.fullmatch(r"(?:numero |n )?\d+(?: bis| ter)?", fold(place.landmark))
        place = Place(number, known_street, place.commune, None if bare_number else place.landmark)
        same_street = True
    has_place = bool(slots.get("street_name") or slots.get("landmark"))
    street_ok = bool(place.street_name) and (
        not has_place or may_change or (same_street and bool(place.street_number) and not slots.get("street_number"))
    )
    old_landmark = slots.get("landmark")
    landmark_ok = bool(place.landmark) and (
        not has_place
        or reviewing
        or (
            may_change
            and landmark_strength(place.landmark, knowledge.gazetteer)
            >= landmark_strength(old_landmark, knowledge.gazetteer)
        )
    )
    if (
        place.landmark
        and not landmark_ok
        and may_change
        and old_landmark
        and fold(place.landmark) not in fold(old_landmark)
    ):
        # "à Noailles", "près des jeux d'enfants" after "marché des Capucins": context added, never a replacement.
        place = Place(place.street_number, place.street_name, place.commune, f"{old_landmark}, {place.landmark}")
        landmark_ok = True
    commune_ok = bool(place.commune) and (
        not slots.get("commune") or (may_change and not _weaker_commune(place.commune, slots.get("commune")))
    )
    accepted = Place(
        place.street_number if street_ok else None,
        place.street_name if street_ok else None,
        place.commune if commune_ok else None,
        place.landmark if landmark_ok else None,
    )
    if not accepted.is_empty():
        # A new street replaces a landmark only in a correction; in an answer it adds to it.
        return _place_updates(slots, accepted, replace_street=bool(accepted.street_name) and (reviewing or correcting))
    if place.is_empty() and (reviewing or correcting):
        number = find_street_number(text)
        if number and slots.get("street_name") and number != slots.get("street_number"):
            updates = {"street_number": number}
            merged = _current(slots, updates)
            updates["place"] = format_place(
                Place(number, merged.get("street_name"), merged.get("commune"), merged.get("landmark"))
            )
            return updates
    if place.is_empty() and pending == "place" and trusted and heard.intent != "dont_know":
        # No street nor known kind of place: keep the caller's words as the landmark, if they say something.
        landmark = free_text_landmark(text)
        if landmark:
            return _place_updates(slots, Place(landmark=landmark), replace_street=False)
    return {}


def landmark_strength(landmark: str | None, gazetteer: Gazetteer | None = None) -> int:
    """0 none, 1 a kind of place alone ("lycée", "stade") or a mere quarter ("Noailles"), 2 a named place ("lycée
    Rimbaud", "gare Saint-Charles")."""
    if not landmark:
        return 0
    if gazetteer is not None and is_quarter(landmark, gazetteer):
        return 1
    return 2 if any(word[:1].isupper() for word in landmark.split()) else 1


def _weaker_commune(new: str | None, old: Any) -> bool:
    """ "Marseille" after "Marseille 8e": the arrondissement says more."""
    return bool(new) and isinstance(old, str) and old != new and old.startswith(f"{new} ")


def _corrects(slots: dict[str, Any], updates: dict[str, Any]) -> bool:
    """Whether the updates change a report field that already had a value (a correction, not an addition)."""
    return any(
        slots.get(name) not in (None, "")
        and updates.get(name) not in (None, "")
        and fold(str(updates[name])) != fold(str(slots[name]))
        for name in ("category", "street_name", "street_number", "commune", "landmark")
    )


def _yes_no(heard: Heard) -> bool | None:
    """Yes/no from the words, not from the intent: DIET labels gibberish "affirm" with high confidence, and a
    yes must never save a report or transfer a call by accident."""
    return yes_or_no(heard.text)


def next_question(slots: dict[str, Any], taxonomy: Taxonomy, rephrase: bool = False) -> tuple[str, Say]:
    """The first missing field and how to ask for it; the read-back when nothing is missing."""
    prefix = "utter_reask_" if rephrase else "utter_ask_"
    if not slots.get("category"):
        return "problem", Say(prefix + "problem")
    if not (slots.get("street_name") or slots.get("landmark")):
        return "place", Say(prefix + "place")
    if not slots.get("commune") and not slots.get("commune_skipped"):
        return "commune", Say(prefix + "commune")
    if slots.get("danger") is None:
        return "danger", Say(prefix + "danger")
    if slots.get("callback_consent") is None:
        if slots.get(CALLER_NUMBER):
            return "callback_consent", Say(prefix + "callback_known", {"number": slots[CALLER_NUMBER]})
        return "callback_consent", Say(prefix + "callback_consent")
    if slots.get("callback_consent") and not slots.get("callback_number"):
        return "callback_number", Say(prefix + "callback_number")
    return "confirm", Say(
        "utter_read_back" if not rephrase else "utter_reask_read_back", {"summary": summary(slots, taxonomy)}
    )


def summary(slots: dict[str, Any], taxonomy: Taxonomy) -> str:
    category = slots.get("category") or OTHER_CATEGORY
    what = f"« {slots.get('category_other_words')} »" if category == OTHER_CATEGORY else taxonomy.label(category)
    where = slots.get("place") or "lieu non précisé"
    danger = "avec un danger" if slots.get("danger") else "sans danger immédiat"
    callback = (
        f"rappel au {slots['callback_number']}"
        if slots.get("callback_consent") and slots.get("callback_number")
        else "sans rappel"
    )
    return f"{what}, {where}, {danger}, {callback}"


def ask_next(slots: dict[str, Any], updates: dict[str, Any], knowledge: Knowledge, rephrase: bool = False) -> Outcome:
    pending, question = next_question(_current(slots, updates), knowledge.taxonomy, rephrase)
    return Outcome(said=[question], slots={**updates, PENDING: pending})


def handle_report_turn(heard: Heard, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """report_problem, inform, correct, affirm, deny, dont_know, greet, thank: the core of the conversation."""
    base = _with_caller_number(slots, heard)
    slots = _current(slots, base)
    pending = slots.get(PENDING)
    if is_emergency(heard.text):
        return handoff_emergency(base)
    if badly_heard(heard, knowledge.thresholds):
        # Words the recogniser itself doubts answer nothing, whatever the question: a stray "ouais" in noise
        # must not accept a callback or save a report, and the second such turn hands over.
        return handle_not_understood(heard, slots, knowledge, base)
    # The answer to the offer of an adviser comes first: "non c'est pas la peine, j'appellerai les impôts" names
    # the other service again but declines.
    if pending == "offer_human":
        answer = _yes_no(heard)
        if answer is True:
            return handoff("out_of_scope", base)
        if answer is False and knowledge.taxonomy.match(heard.text) is None:
            if says_goodbye(heard.text) or names_other_service(heard.text, False) or _will_call_elsewhere(heard.text):
                # "Non tant pis, au revoir", "non j'appellerai les impôts": nothing else to report either.
                return Outcome(said=[Say("utter_goodbye")], slots=base, hangup=True)
            return Outcome(said=[Say("utter_anything_to_report")], slots={**base, PENDING: "anything_else"})
    if not report_in_progress(slots) and is_out_of_scope(heard.text, knowledge):
        return _answer_out_of_scope(heard, slots, knowledge, base)
    trusted = is_trusted(heard, knowledge.thresholds) or has_lexical_evidence(heard, knowledge)

    if pending == "anything_else" and _yes_no(heard) is False and knowledge.taxonomy.match(heard.text) is None:
        return Outcome(said=[Say("utter_goodbye")], slots=base, hangup=True)

    if not trusted and pending in (None, "problem", "anything_else", "offer_human"):
        # Doubtful words must not open a report: ask again rather than guess.
        return handle_not_understood(heard, slots, knowledge, base)
    updates = extract(heard, slots, knowledge, trusted)
    if pending == "confirm" and not _changes_report(updates):
        answer = _yes_no(heard)
        if answer is True:
            return Outcome(slots={**base, REPROMPTS: 0}, save_report=True)
        if answer is False:
            return Outcome(said=[Say("utter_ask_correction")], slots={**base, PENDING: "correction", REPROMPTS: 0})
    if pending == "correction" and not _changes_report(updates):
        cleared = _clear_named_field(heard.text)
        if cleared:
            return ask_next(slots, {**base, **cleared, REPROMPTS: 0}, knowledge)

    if not _changes_report(updates) and not _acceptable_without_content(heard, pending, trusted):
        return handle_not_understood(heard, slots, knowledge, base)
    return ask_next(slots, {**base, **updates, REPROMPTS: 0}, knowledge)


def _will_call_elsewhere(text: str) -> bool:
    folded = fold(text)
    return any(
        contains_phrase(folded, w)
        for w in (
            "appellerai",
            "appelerai",
            "rappellerai",
            "rappelerai",
            "contacterai",
            "je vais appeler",
            "je vais rappeler",
            "je vais contacter",
            "je vais voir avec",
            "je vais me debrouiller",
        )
    )


def _acceptable_without_content(heard: Heard, pending: Any, trusted: bool) -> bool:
    """A turn that fills nothing but needs no reprompt: "bonjour", "oui j'ai un problème à signaler"."""
    if heard.intent in ("greet", "thank") and trusted:
        return True
    opening = pending in (None, "problem", "anything_else")
    folded = fold(heard.text)
    wants_to_report = any(contains_phrase(folded, w) for w in WANTS_TO_REPORT)
    return (
        opening
        and trusted
        and (
            heard.intent == "affirm" or (heard.intent not in ("deny", "out_of_scope", "dont_know") and wants_to_report)
        )
    )


def _changes_report(updates: dict[str, Any]) -> bool:
    return any(name in REPORT_SLOTS or name == "commune_skipped" for name in updates)


def _clear_named_field(text: str) -> dict[str, Any]:
    """ "le lieu" / "le numéro" after "qu'est-ce qui n'est pas correct": forget that field and ask it again."""
    folded = fold(text)
    if any(contains_phrase(folded, w) for w in ("probleme", "categorie", "type")):
        return {"category": None, "category_other_words": None, "description": None}
    if any(contains_phrase(folded, w) for w in ("lieu", "adresse", "rue", "endroit", "commune", "ville")):
        return {n: None for n in ("place", "street_number", "street_name", "commune", "landmark")}
    if any(contains_phrase(folded, w) for w in ("numero", "telephone", "rappel", "rappeler")):
        return {"callback_consent": None, "callback_number": None}
    if any(contains_phrase(folded, w) for w in ("danger", "dangereux")):
        return {"danger": None}
    return {}


def handle_not_understood(
    heard: Heard, slots: dict[str, Any], knowledge: Knowledge, base: dict[str, Any] | None = None
) -> Outcome:
    """Reprompt once with a rephrased question, then hand over (low confidence)."""
    base = base if base is not None else _with_caller_number(slots, heard)
    slots = _current(slots, base)
    count = int(slots.get(REPROMPTS) or 0) + 1
    if count >= 2:
        return handoff("low_confidence", base)
    outcome = _reask(slots, base, knowledge)
    outcome.said.insert(0, Say("utter_not_understood"))
    outcome.slots[REPROMPTS] = count
    return outcome


def _reask(slots: dict[str, Any], base: dict[str, Any], knowledge: Knowledge) -> Outcome:
    pending = slots.get(PENDING)
    if pending == "offer_human":
        return Outcome(said=[Say("utter_reask_offer_human")], slots={**base, PENDING: pending})
    if pending == "correction":
        return Outcome(said=[Say("utter_ask_correction")], slots={**base, PENDING: pending})
    return ask_next(slots, base, knowledge, rephrase=True)


def handle_fallback(heard: Heard, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """nlu_fallback: the words may still answer the pending question (a street, a number, yes/no)."""
    base = _with_caller_number(slots, heard)
    current = _current(slots, base)
    if is_emergency(heard.text):
        return handoff_emergency(base)
    asr_ok = heard.asr_confidence is None or heard.asr_confidence >= knowledge.thresholds.min_asr
    opening = current.get(PENDING) in (None, "problem")
    if (
        asr_ok
        and not report_in_progress(current)
        and current.get(PENDING) in (None, "problem", "anything_else")
        and is_out_of_scope(heard.text, knowledge)
    ):
        return _answer_out_of_scope(heard, slots, knowledge, base)
    if asr_ok and current.get(PENDING) in (*YES_NO_QUESTIONS, "offer_human") and yes_or_no(heard.text) is not None:
        # "C'est sa" (c'est ça) at the read-back: a yes or no DIET could not place still answers the question.
        return handle_report_turn(_as_intent(heard, "inform"), slots, knowledge)
    # DIET unsure, but the words themselves may answer: a taxonomy term to open a report, or the pending field.
    if asr_ok and (not opening or knowledge.taxonomy.match(heard.text) is not None):
        updates = extract(heard, current, knowledge, trusted=False)
        if _changes_report(updates):
            return ask_next(current, {**base, **updates, REPROMPTS: 0}, knowledge)
    return handle_not_understood(heard, current, knowledge, base)


def handle_no_input(heard: Heard, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """Silence: reprompt once, then hand over if a report was started, else end the call politely."""
    base = _with_caller_number(slots, heard)
    slots = _current(slots, base)
    count = int(slots.get(REPROMPTS) or 0) + 1
    if count >= 2:
        if report_in_progress(slots):
            return handoff("no_input", base)
        return Outcome(said=[Say("utter_no_input_goodbye")], slots={**base, REPROMPTS: count}, hangup=True)
    outcome = _reask(slots, base, knowledge)
    outcome.slots[REPROMPTS] = count
    return outcome


def handle_out_of_scope(heard: Heard, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """DIET read "out of scope"; the words decide: a problem in the street goes on as a report."""
    base = _with_caller_number(slots, heard)
    current = _current(slots, base)
    if is_emergency(heard.text):
        return handoff_emergency(base)
    if badly_heard(heard, knowledge.thresholds):
        # Badly heard words are not understood, not a request for another service.
        return handle_not_understood(heard, slots, knowledge, base)
    if report_in_progress(current):
        # An answer DIET misread while a report is under way: try it as one, else as a yes/no or a reprompt.
        updates = extract(heard, current, knowledge, trusted=False)
        if _changes_report(updates):
            return ask_next(current, {**base, **updates, REPROMPTS: 0}, knowledge)
        return handle_report_turn(heard, slots, knowledge)
    if current.get(PENDING) == "offer_human":
        return handle_report_turn(heard, slots, knowledge)
    if not is_out_of_scope(heard.text, knowledge) and (
        has_lexical_evidence(heard, knowledge) or _plausible_problem(heard.text, knowledge)
    ):
        return handle_report_turn(_as_intent(heard, "report_problem"), slots, knowledge)
    if not is_trusted(heard, knowledge.thresholds) and not is_out_of_scope(heard.text, knowledge):
        # DIET's unsure "out of scope" on words naming nothing is noise, not a request for another service.
        return handle_not_understood(heard, slots, knowledge, base)
    return _answer_out_of_scope(heard, slots, knowledge, base)


def _answer_out_of_scope(heard: Heard, slots: dict[str, Any], knowledge: Knowledge, base: dict[str, Any]) -> Outcome:
    if _current(slots, base).get(PENDING) == "offer_human":
        # Already told what this service does: out-of-domain again counts as not understood.
        return handle_not_understood(heard, slots, knowledge, base)
    return Outcome(said=[Say("utter_out_of_scope")], slots={**base, PENDING: "offer_human"})


def _as_intent(heard: Heard, intent: str) -> Heard:
    return Heard(intent, heard.text, heard.nlu_confidence, heard.asr_confidence, heard.caller_number)


def handle_emergency(heard: Heard, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """DIET read an emergency: hand over only if the words confirm one (gas, live wire, someone hurt, water in
    homes); "c'est dangereux, les voitures passent vite" is an answer about the report's danger field."""
    base = _with_caller_number(slots, heard)
    if is_emergency(heard.text, nlu_says_emergency=True):
        return handoff_emergency(base)
    intent = "inform" if report_in_progress(_current(slots, base)) else "report_problem"
    return handle_report_turn(_as_intent(heard, intent), slots, knowledge)


def handoff_emergency(base: dict[str, Any]) -> Outcome:
    outcome = handoff("emergency", base)
    outcome.said = [Say("utter_emergency")]
    return outcome


def handle_request_human(heard: Heard, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    base = _with_caller_number(slots, heard)
    pending = _current(slots, base).get(PENDING)
    if (
        pending in YES_NO_QUESTIONS
        and yes_or_no(heard.text) is not None
        and not any(contains_phrase(fold(heard.text), w) for w in HUMAN_WORDS)
    ):
        # "Allez-y", "si vous voulez" answer the question; DIET sometimes reads them as a request for a person.
        return handle_report_turn(_as_intent(heard, "inform"), slots, knowledge)
    # Accepting the adviser offered after an out-of-scope request keeps that reason for the agent.
    reason = "out_of_scope" if pending == "offer_human" else "caller_request"
    return handoff(reason, base)


def handle_goodbye(heard: Heard, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """Hang up, unless a report is under way and the words answer its question ("non merci c'est bon" to the
    callback question, "oui merci au revoir" to the read-back): a report is never dropped on a misread intent."""
    base = _with_caller_number(slots, heard)
    current = _current(slots, base)
    if badly_heard(heard, knowledge.thresholds) and not says_goodbye(heard.text):
        return handle_not_understood(heard, slots, knowledge, base)
    if report_in_progress(current) and current.get(PENDING) not in (None, "anything_else"):
        if not says_goodbye(heard.text) or (current.get(PENDING) == "confirm" and yes_or_no(heard.text) is True):
            return handle_report_turn(_as_intent(heard, "inform"), slots, knowledge)
    return Outcome(said=[Say("utter_goodbye")], slots=base, hangup=True)


def says_goodbye(text: str) -> bool:
    """ "Au revoir", also with a hesitation inside ("au euh revoir")."""
    folded = " ".join(w for w in fold(text).split() if w not in ("euh", "heu", "hum", "hmm"))
    return any(contains_phrase(folded, w) for w in GOODBYE_WORDS)


def handoff(reason: str, base: dict[str, Any]) -> Outcome:
    return Outcome(said=[Say("utter_handoff")], slots={**base, PENDING: None}, handoff_reason=reason)
