"""The report conversation as a pure state machine: (slots, what the caller said) -> (slot changes, bot output).

Rasa rules route each intent to one custom action (dialogue/actions.py); the action calls a handler here. Keeping
the decisions out of Rasa's policies makes them deterministic, testable without a model, and lets one place combine
the ASR and NLU confidences with lexical checks against the taxonomy and the gazetteer (DIET alone is over-confident
out of domain).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from typing import Any

from rapidfuzz.distance import Levenshtein

from dialogue.knowledge import OTHER_CATEGORY, Gazetteer, Taxonomy, fold
from dialogue.normalize import (
    Place,
    format_place,
    is_quarter,
    names_someones_home,
    normalize_caller_number,
    spoken_to_digits,
)
from dialogue.slots import (
    CALLBACK_OFFER,
    CALLBACK_REASONS,
    CALLBACK_WHEN,
    CALLER_NUMBER,
    COMMUNE_SKIPPED,
    DESCRIPTION_WANTED,
    PENDING,
    QUESTIONS_ASKED,
    REPORT_SLOTS,
    REPROMPTS,
    YES_NO_QUESTIONS,
)
from dialogue.streets import ARTICLES, phonetic_key
from dialogue.understanding import Frame, mumbled, owns_a_mistake, things_taken_back, words_of_asking

# Longest description kept: the first words say what the problem is; the rest is for the transcript.
MAX_DESCRIPTION = 300
# How many times a question is asked before the bot goes on without its answer: the commune and the problem twice
# (the person who validates places the street or sorts the words into a category), the street number once.
MAX_ASKS = {"commune": 2, "problem": 2, "street_number": 1}
# Words enough for a line with no category to be the caller's description of the problem ("il y a une chaîne en
# travers du chemin, on ne peut plus passer"), kept until the problem is named or the bot stops asking.
_DESCRIBING_WORDS = 5
# An address said where the place was not asked: a word or so besides it ("c'est au 12 rue X, voilà"), no story.
_WORDS_BESIDE_AN_ADDRESS = 1
# Words besides the place that say more of the problem ("des sacs de gravats, un vieux frigo").
_MORE_OF_THE_PROBLEM = 3


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
    callback_number: str | None = None  # the caller accepted a call back at this number: the callbot stores it


@dataclass(frozen=True)
class Knowledge:
    taxonomy: Taxonomy
    gazetteer: Gazetteer
    thresholds: Thresholds = Thresholds()


def is_trusted(frame: Frame, thresholds: Thresholds) -> bool:
    """ASR and NLU confidences combined: either one too low, or their product too low, means doubt."""
    if frame.is_command:
        return True
    asr = 1.0 if frame.asr_confidence is None else frame.asr_confidence
    return (
        asr >= thresholds.min_asr
        and frame.nlu_confidence >= thresholds.min_nlu
        and (asr * frame.nlu_confidence >= thresholds.min_combined)
    )


def badly_heard(frame: Frame, thresholds: Thresholds) -> bool:
    """The ASR confidence alone is too low to act on the words, or they are sounds rather than words (commands like
    /no_input are never doubted)."""
    if frame.is_command:
        return False
    if frame.unintelligible:
        return True
    return frame.asr_confidence is not None and frame.asr_confidence < thresholds.min_asr


def has_lexical_evidence(frame: Frame, knowledge: Knowledge) -> bool:
    """The words name a problem of the taxonomy or a place: DIET's doubt about the intent does not matter then,
    as long as the ASR heard them well enough."""
    asr_ok = frame.asr_confidence is None or frame.asr_confidence >= knowledge.thresholds.min_asr
    if not asr_ok or frame.out_of_scope:
        return False
    return frame.category is not None or not frame.place.is_empty()


def report_in_progress(slots: dict[str, Any]) -> bool:
    return any(slots.get(name) not in (None, "") for name in ("category", "place", "street_name", "landmark"))


def _with_caller_number(slots: dict[str, Any], frame: Frame) -> dict[str, Any]:
    updates: dict[str, Any] = {}
    if not slots.get(CALLER_NUMBER) and frame.heard.caller_number:
        number = normalize_caller_number(frame.heard.caller_number)
        if number:
            updates[CALLER_NUMBER] = number
    return updates


def _current(slots: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    return {**slots, **updates}


def _place_updates(
    slots: dict[str, Any], place: Place, replace_street: bool, verified: bool | None = None
) -> dict[str, Any]:
    updates: dict[str, Any] = {}
    if place.street_name:
        updates["street_name"] = place.street_name
        updates["street_number"] = place.street_number
        updates["street_verified"] = verified
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


def _described(slots: dict[str, Any], frame: Frame) -> str | None:
    """The description with this line's words about the problem added ("il clignote depuis une semaine" after
    "un lampadaire"), never the same words twice."""
    return _with_words(slots.get("description"), frame.description)


def _with_words(description: str | None, words: str | None) -> str | None:
    old, new = description or "", words or ""
    if not new or fold(new) in fold(old):
        return old or None
    return f"{old} ; {new}"[:MAX_DESCRIPTION] if old else new[:MAX_DESCRIPTION]


def _names_it_instead(frame: Frame, slots: dict[str, Any], knowledge: Knowledge) -> bool:
    """The line names its category by a strong word and says nothing of the report's, which came from a weak word
    only ("une voiture grise, les vitres cassées" still speaks of the car)."""
    taxonomy = knowledge.taxonomy
    by_weak_word = taxonomy.match(str(slots.get("description") or ""), weak=False) is None
    named = frame.category is not None and taxonomy.match(frame.text, weak=False) == frame.category.value
    # Said as what the call is about ("c'est pour des tags", "en fait c'est un nid de poule"), not as details of
    # the first thing ("il bloque le trottoir", "elle est devant la borne").
    reframed = _REFRAMES.match(fold(frame.text)) is not None
    return by_weak_word and named and reframed and not taxonomy.mentions(str(slots.get("category")), frame.text)


_REFRAMES = re.compile(
    r"^(?:(?:oui|ouais|non|euh|ben|bah|alors|bon|ah|enfin|pardon)\s+)*"
    r"(?:en fait |non )?(?:c est pour|c est|il s agit|j appelle pour|je vous appelle pour|je signale)\b"
)


def extract(frame: Frame, slots: dict[str, Any], knowledge: Knowledge, trusted: bool) -> dict[str, Any]:
    """Every report field the caller's sentence gives, whatever was asked (callers answer in any order). A field
    already filled changes only on an answer to its question or a correction, never for a weaker value."""
    pending = slots.get(PENDING)
    correcting = frame.correction
    updates: dict[str, Any] = {}
    category = frame.category.value if frame.category else None
    if category and (
        not slots.get("category")
        or pending in ("problem", "correction")
        # "non c'est pas dangereux mais ça bloque le trottoir" takes back no problem: its "non ... mais" is a danger's
        # "non, elle fume plus, il reste que la tôle" answers the danger question and explains it; "non, erreur de ma
        # part, c'est le feu" still puts the problem right
        or (
            correcting
            and category != slots.get("category")
            and frame.danger is None
            and not (pending == "danger" and frame.danger_answer is not None and not owns_a_mistake(frame.text))
        )
        # "non, pas de danger, et c'est pas une épave c'est des tags": the problem taken back by its own words
        or (
            correcting
            and category != slots.get("category")
            and any(
                knowledge.taxonomy.mentions(str(slots.get("category")), said) for said in things_taken_back(frame.text)
            )
        )
        # "... et pardon, c'est pas un problème de X, c'est Y": the problem put right by name, beside a danger said
        or (correcting and category != slots.get("category") and frame.names_field == "category")
        # "Y a les camions" (a weak word: a vehicle problem?), asked for more: "c'est pour des tags" names the problem.
        or (
            pending == "description"
            and category != slots.get("category")
            and _names_it_instead(frame, slots, knowledge)
        )
    ):
        replaced = slots.get("category") and category != slots.get("category")
        description = frame.description if replaced else _described(slots, frame)
        updates.update(
            category=category,
            description=description,
            category_other_words=frame.description if category == OTHER_CATEGORY else None,
        )
        if frame.says_little and slots.get(DESCRIPTION_WANTED) is None:
            updates[DESCRIPTION_WANTED] = True
    elif (
        not slots.get("category")
        and trusted
        and frame.plausible_problem
        # "Non c'est pas dangereux" answers about the danger, it describes nothing; "la tour de l'horloge est
        # arrêtée depuis des semaines, c'est pas urgent" describes, and says how urgent besides.
        and (frame.danger is None or _describes_beside_the_danger(frame))
        and ((pending == "problem" and frame.intent not in ("affirm", "deny")) or frame.intent == "report_problem")
    ):
        words = _described(slots, frame)
        updates.update(category=OTHER_CATEGORY, description=words, category_other_words=words)
    elif (
        not slots.get("category")
        and not slots.get("description")
        and trusted
        and pending in (None, "problem")
        and frame.description
        # Words enough beside the place it names: "des chiens errants ... vers la gare, ils courent après les gens"
        # describes; "au 12 rue de la Paix à Marseille" only says where.
        and frame.content_words - _place_words(frame) >= _DESCRIBING_WORDS
        # "J'habite au 12 rue de la République depuis vingt ans": an address with words around it describes
        # nothing unless they name a problem.
        and (frame.place.street_name is None or frame.plausible_problem)
        and not (frame.phone_number or (frame.danger is not None and not _describes_beside_the_danger(frame)))
        and not (frame.out_of_scope or frame.asks_for_person or frame.unintelligible)
    ):
        updates["description"] = frame.description[:MAX_DESCRIPTION]
    elif (
        pending == "description"
        and frame.description
        and frame.plain_words
        and not frame.unintelligible
        and not frame.unsure
        # "pas ramassés" says what is wrong, though it opens like a "no"
        and (frame.answer is None or frame.carries_content() or frame.content_words > 0)
    ):
        # What is wrong, as the caller says it ("il clignote orange"): its words need no problem vocabulary.
        updates["description"] = _described(slots, frame)
    elif (
        slots.get("category")
        and trusted
        and frame.plausible_problem
        and (
            pending in ("problem", "place", "commune", None)
            # asked for the number, the caller says more of the same problem ("le verre est partout sur le trottoir"),
            # not a number nor a second problem
            or (
                pending == "street_number"
                and not re.search(r"\d", spoken_to_digits(frame.text))
                and not _ANOTHER_PROBLEM.search(fold(frame.text))
                and not (
                    frame.category
                    and frame.category.value != slots.get("category")
                    and _NEW_THING.search(fold(frame.text))
                )
            )
        )
        # "Derrière le gymnase, des sacs de gravats et un frigo": a place said with more of the same problem.
        and (
            frame.place.is_empty()
            or (
                frame.category is not None
                and frame.category.value == slots.get("category")
                and frame.content_words - _place_words(frame) >= _MORE_OF_THE_PROBLEM
            )
        )
    ):
        # More words about the problem, said after it was named: they belong to the description.
        updates["description"] = _described(slots, frame)

    updates.update(_place_from(frame, slots, knowledge, trusted, correcting))
    # "Ah non c'est à Fos-sur-Mer" in reply to the danger question corrects the commune: its "non" is not an answer.
    corrected_other = pending not in (None, "problem", "place", "commune", "correction", "confirm") and _corrects(
        slots, updates
    )

    if pending == "danger":
        answer = frame.danger if corrected_other or frame.answers_about_callback() else frame.danger_answer
        if answer is None and corrected_other and frame.danger_answer:
            # "Oui un peu, ... et c'est le 48, pas le 84": a "non" may open the correction, a "oui" answers.
            answer = True
        if answer is not None:
            updates["danger"] = answer
    elif (
        frame.danger is not None
        and (frame.danger is False or frame.names_danger or pending not in (None, "problem", "description"))
        and (slots.get("danger") is None or pending in ("confirm", "correction"))
    ):
        # While the problem is being described a danger is taken only when said in words: "on trébuche dessus"
        # describes, and the caller is still asked. Said later ("un peu, les poussettes passent par la chaussée"),
        # it answers.
        updates["danger"] = frame.danger

    number = frame.phone_number
    # Ten digits are a phone number whatever was asked: callers give it when it comes to mind.
    if number and (
        pending in ("callback_consent", "callback_number", "confirm", "correction") or report_in_progress(slots)
    ):
        updates.update(callback_consent=True, callback_number=number)
    elif corrected_other:
        pass
    elif pending == "callback_consent":
        # A call back declined in words wins over the yes the line opened with ("oui ... non, pas la peine").
        consent = False if frame.callback is False else frame.answer
        if consent is True and _number_misheard(frame, slots.get(CALLER_NUMBER)):
            # "Oui, au 06 73 84 25 9…": a number said that is no phone number is asked again, not replaced by the
            # line's own number.
            updates.update(callback_consent=True, callback_number=None)
        elif consent is True:
            updates.update(callback_consent=True, callback_number=slots.get(CALLER_NUMBER))
        elif consent is False:
            updates.update(callback_consent=False, callback_number=None)
    elif pending == "callback_number" and (frame.intent in ("deny", "dont_know") or frame.answer is False):
        updates.update(callback_consent=False, callback_number=None)
    elif frame.callback is not None and slots.get("callback_consent") is None and report_in_progress(slots):
        # "Oui, sur le même numéro" while the commune was asked: the caller answered the call-back question before
        # it came; the pending question is asked again.
        consent = frame.callback
        updates.update(callback_consent=consent, callback_number=slots.get(CALLER_NUMBER) if consent else None)
    if pending == "commune" and (frame.intent == "dont_know" or frame.unsure) and "commune" not in updates:
        updates[COMMUNE_SKIPPED] = True
    return {k: v for k, v in updates.items() if k not in slots or slots.get(k) != v or k == "category"}


def _place_from(
    frame: Frame, slots: dict[str, Any], knowledge: Knowledge, trusted: bool, correcting: bool
) -> dict[str, Any]:
    """Place fields from this turn. Before any place is known, whatever is heard; after, only in an answer to the
    place or commune question, at the read-back or in a correction, and a landmark never for a weaker one ("au
    lycée" said in passing does not replace "lycée Rimbaud")."""
    pending = slots.get(PENDING)
    reviewing = pending in ("correction", "confirm") or frame.intent == "correct"
    may_change = reviewing or correcting or pending in ("place", "street_number", "commune")
    place = frame.place
    same_street = fold(place.street_name or "") == fold(slots.get("street_name") or "")
    if place.street_name and not place.street_number and (reviewing or correcting or same_street):
        # A street corrected without its number ("non, avenue X, pas rue X"): only the name changes, the number stays,
        # unless the line puts the number right too ("c'est au 14, pas au 4, et c'est avenue X").
        said = frame.street_number_said if (reviewing or correcting) else None
        place = Place(said or slots.get("street_number"), place.street_name, place.commune, place.landmark)
    number = frame.separate_street_number if not place.street_number else None
    if pending == "street_number" and not number and not place.street_number:
        number = frame.lone_number  # "vingt-deux" alone answers "à quel numéro ?"
    if not number and not place.street_number and not frame.phone_number and (_says_house_number(frame) or correcting):
        # "le numéro c'est le 30", or "je me suis trompé, c'est pas 42 c'est 48", whatever was asked
        number = frame.street_number_said
    if place.street_number and not place.street_name:
        # "à Pertuis, devant le 9" after "rue Colbert": a house number without its street is the known street's.
        number, place = place.street_number, Place(None, None, place.commune, place.landmark)
    known_street = place.street_name or slots.get("street_name")
    if number and known_street and (not slots.get("street_number") or place.street_name or reviewing or correcting):
        # A number said apart from its street ("devant le sept"), or to the next question: the street's number,
        # not a landmark called "numéro 7".
        bare_number = place.landmark and re.fullmatch(r"(?:numero |n )?\d+(?: bis| ter)?", fold(place.landmark))
        place = Place(number, known_street, place.commune, None if bare_number else place.landmark)
        same_street = True
    has_place = bool(slots.get("street_name") or slots.get("landmark"))
    # "Vers la Timone" then, whatever was asked, "au 123 boulevard Baille dans le 5e": a house and its street said
    # where only a landmark was known is where the problem is.
    volunteered = (
        bool(place.street_name and place.street_number)
        and not slots.get("street_name")
        and trusted
        and pending in ("danger", "description", "street_number")
        # a line that says where, not one that tells of someone living there ("ma voisine au 8 rue X est tombée")
        and frame.content_words - _place_words(frame) <= _WORDS_BESIDE_AN_ADDRESS
        and not frame.phone_number
        # Another commune's address is not this place's: "tags au stade de Vitrolles" then "au 24 bd X à Marignane".
        and _same_commune(place.commune, slots.get("commune"))
        # "J'habite au 5 avenue X": the caller's home is not where the problem is; "le bus 21" is no house.
        and not _OWN_HOME.search(fold(frame.text))
        and _HOUSE_NUMBER_SAID.search(fold(spoken_to_digits(frame.text))) is not None
    )
    street_ok = bool(place.street_name) and (
        not has_place
        or may_change
        or volunteered
        or (same_street and bool(place.street_number) and not slots.get("street_number"))
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
        # "à Noailles", "près du kiosque" after "marché des Capucins": context added, never a replacement.
        place = Place(place.street_number, place.street_name, place.commune, f"{old_landmark}, {place.landmark}")
        landmark_ok = True
    commune_ok = bool(place.commune) and (
        not slots.get("commune")
        # The commune of a well-known place only fills one not known yet: La Ciotat has a Vieux-Port too.
        or (
            (may_change or (volunteered and street_ok))
            and not frame.commune_of_landmark
            and not _weaker_commune(place.commune, slots.get("commune"))
        )
    )
    accepted = Place(
        place.street_number if street_ok else None,
        place.street_name if street_ok else None,
        place.commune if commune_ok else None,
        place.landmark if landmark_ok else None,
    )
    about_something_else = frame.danger is not None or frame.answer is not None or frame.phone_number is not None
    if (
        accepted.commune
        and not (accepted.street_name or accepted.landmark or has_place)
        and pending == "place"
        and trusted
        and frame.place_beside_commune
        and not _says_only_where_anything_is(frame.place_beside_commune)
        # "Ah oui, c'est au Tholonet, sur la route ...": a yes that opens a place answers nothing else.
        and frame.danger is None
        and frame.phone_number is None
    ):
        # "à Cuges, en bas de la colline, après le moulin": the commune, and the caller's words for where in it.
        accepted = Place(None, None, accepted.commune, frame.place_beside_commune)
    restated = fold(accepted.street_name or "") == fold(slots.get("street_name") or "") and (
        accepted.street_number in (None, slots.get("street_number"))
    )
    if not accepted.is_empty():
        # A new street replaces a landmark only in a correction; in an answer it adds to it.
        return _place_updates(
            slots,
            accepted,
            # "Oui, au 7 rue Paradis, c'est ça": the address said again as it stands keeps its landmark.
            replace_street=bool(accepted.street_name) and (reviewing or correcting) and not restated,
            verified=frame.street_verified,
        )
    if place.is_empty() and (reviewing or correcting):
        number = frame.street_number_said
        if number and slots.get("street_name") and number != slots.get("street_number"):
            updates = {"street_number": number}
            merged = _current(slots, updates)
            updates["place"] = format_place(
                Place(number, merged.get("street_name"), merged.get("commune"), merged.get("landmark"))
            )
            return updates
    if (
        place.is_empty()
        and pending == "place"
        and trusted
        and frame.intent != "dont_know"
        and frame.free_landmark
        and not about_something_else
        # "C'est en bas de chez moi je vous dis" asked for the street of "le parking": no better than what is known.
        and not (slots.get("landmark") and _says_only_where_anything_is(frame.free_landmark))
        # "Il est tout cassé, le dossier est arraché" asked where: more of the problem, no place at all
        and _WHERE_WORDS.search(fold(frame.text)) is not None
    ):
        # No street nor known kind of place: keep the caller's words as the landmark.
        return _place_updates(slots, Place(landmark=frame.free_landmark), replace_street=False)
    return {}


# Words that say where: a preposition of place, a side, an end, a crossing.
_WHERE_WORDS = re.compile(
    r"\b(?:devant|derriere|cote|pres|face|niveau|bout|entre|milieu|coin|angle|bord|haut|bas|sur|dans|au|aux|a|vers|"
    r"chez|sortie|entree|croisement|carrefour|ou|la bas|ici|juste apres|juste avant|apres|avant|long|pied|quartier)\b"
)


def landmark_strength(landmark: str | None, gazetteer: Gazetteer | None = None) -> int:
    """0 none, 1 a kind of place alone ("lycée", "stade") or a mere quarter ("Noailles"), 2 a named place ("lycée
    Rimbaud", "gare Saint-Charles")."""
    if not landmark:
        return 0
    if gazetteer is not None and is_quarter(landmark, gazetteer):
        return 1
    return 2 if any(word[:1].isupper() for word in landmark.split()) else 1


_OWN_HOME = re.compile(r"\b(?:j habite|mon adresse|chez moi|mon domicile|je vis|je reside)\b")
_HOUSE_NUMBER_SAID = re.compile(
    r"(?:^|\b(?:au|numero|n|le))\s*\d+(?: bis| ter)? (?:\w+ ){0,3}?(?:rue|avenue|boulevard|bd|av|chemin|"
    r"route|place|impasse|allee|cours|quai|traverse|montee|square)\b"
)


def _number_misheard(frame: Frame, own_number: Any) -> bool:
    """Six digits or more said without a phone number read in them, and not the caller's own number said with a
    slip ("vingt zéro dix-sept" for "vingt dix-sept"): a number the caller gave, heard wrong."""
    if frame.phone_number:
        return False
    if _SAME_NUMBER.search(fold(frame.text)):
        return False  # "oui, sur ce numéro, je suis dispo de 14h à 18h30"
    said = re.sub(r"\D", "", _TIMES.sub(" ", spoken_to_digits(frame.text)))
    own = re.sub(r"\D", "", str(own_number or ""))
    return len(said) >= _DIGITS_OF_A_TRY and not (own and Levenshtein.distance(said, own) <= _SLIPS_OF_THE_OWN)


_DIGITS_OF_A_TRY = 6
_SAME_NUMBER = re.compile(r"\b(?:ce|le meme|mon|celui|ce meme) (?:numero|portable|fixe|telephone|la)\b")
_TIMES = re.compile(r"\b\d{1,2} ?(?:h|heures?)(?: ?\d{1,2})?\b", re.IGNORECASE)
_SLIPS_OF_THE_OWN = 2


def _same_commune(said: str | None, known: Any) -> bool:
    """Whether a commune said may be the one known ("Marseille 5e" for "Marseille"), or one of them is unknown."""
    if not said or not isinstance(known, str) or not known:
        return True
    return said.startswith(known) or known.startswith(said)


def _weaker_commune(new: str | None, old: Any) -> bool:
    """ "Marseille" after "Marseille 8e": the arrondissement says more."""
    return bool(new) and isinstance(old, str) and old != new and old.startswith(f"{new} ")


def _describes_beside_the_danger(frame: Frame) -> bool:
    return frame.content_words - _place_words(frame) >= _DESCRIBING_WORDS


def _corrects(slots: dict[str, Any], updates: dict[str, Any]) -> bool:
    """Whether the updates change a report field that already had a value (a correction, not an addition)."""
    return any(
        slots.get(name) not in (None, "")
        and updates.get(name) not in (None, "")
        and fold(str(updates[name])) != fold(str(slots[name]))
        for name in ("category", "street_name", "street_number", "commune", "landmark")
    )


def next_question(slots: dict[str, Any], taxonomy: Taxonomy, rephrase: bool = False) -> tuple[str, Say]:
    """The first missing field and how to ask for it; the read-back when nothing is missing."""
    prefix = "utter_reask_" if rephrase else "utter_ask_"
    if not slots.get("category"):
        return "problem", Say(prefix + "problem")
    if slots.get(DESCRIPTION_WANTED):
        return "description", Say(prefix + "description")
    if not (slots.get("street_name") or slots.get("landmark")):
        return "place", Say(prefix + "place")
    if _landmark_anywhere(slots) and not times_asked(slots, _STREET_OF_PLACE):
        # "Le parking en bas de chez moi": nobody could find it; the street or a named place, once.
        return "place", Say("utter_reask_place")
    if _wants_house_number(slots):
        # A street alone may be kilometres long: its number, or what the problem is near, once.
        return "street_number", Say(prefix + "street_number")
    if (
        not slots.get("commune")
        and not slots.get(COMMUNE_SKIPPED)
        and times_asked(slots, "commune") < MAX_ASKS["commune"]
    ):
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


# Places whose numbers callers seldom know and that are small enough to find without one.
_UNNUMBERED_STREET_TYPES = frozenset(
    {"place", "placette", "square", "parvis", "esplanade", "rond-point", "rond point", "carrefour", "parking"}
)


# Places every street has: said alone, they locate nothing ("le parking", "chez mon voisin", "devant l'immeuble").
_EVERYWHERE = frozenset(
    """peu partout tout toute tous toutes ville quartier village
    parking immeuble residence batiment maison chez moi nous voisin voisine voisins mon ma mes notre nos son sa
    ses leur entree sortie cour portail garage trottoir route rue chemin coin bout bord bas haut face cote angle
    carrefour croisement virage fond milieu devant derriere pres a au aux en sur sous""".split()
)


# Asked once for the street of such a place, whichever question the place answered.
_STREET_OF_PLACE = "street_of_place"


def _landmark_anywhere(slots: dict[str, Any]) -> bool:
    landmark = str(slots.get("landmark") or "")
    if slots.get("street_name") or not landmark:
        return False
    # A canal or a river runs for kilometres: where along it is asked, as a street's number is.
    kind = [w for w in fold(landmark).split() if w not in _ALONG and w not in ARTICLES][:1]
    return _says_only_where_anything_is(landmark) or (bool(kind) and kind[0] in _LONG_PLACES)


_LONG_PLACES = frozenset("canal riviere ruisseau fleuve berge berges digue sentier voie piste".split())
_ALONG = frozenset("bord bords long rive rives abords cote".split())  # "au bord du canal" is still the canal


# Words a caller adds around a place without naming one ("je vous dis", "voilà", "hein").
_SAYING = frozenset("je j vous dis dit ai c est voila hein ben bah euh alors oui ouais non".split())


def _says_only_where_anything_is(words: str) -> bool:
    return all(word in _EVERYWHERE or word in ARTICLES or word in _SAYING for word in fold(words).split())


_ANOTHER_PROBLEM = re.compile(r"\b(?:aussi|en plus|autre|egalement)\b")
_NEW_THING = re.compile(r"\b(?:il y a|y a|ya) (?:un|une|des|deux|plein)\b")
_NUMBER_AGAIN = "street_number_again"
_READ_AGAIN = "read_back_again"  # the read-back read again once for a caller who said a value as it was read
_NO_NUMBER = re.compile(r"\b(?:pas|aucun|sans) (?:de |le |du )?numero\b")


def _number_still_wanted(frame: Frame, slots: dict[str, Any], updates: dict[str, Any]) -> bool:
    """Asked for the house number, the caller put the problem right instead: the number is asked once more (not
    after a place nearby, "pas de numéro" or "je sais pas"; a "non" that opens the correction answers nothing)."""
    return (
        not (slots.get(QUESTIONS_ASKED) or {}).get(_NUMBER_AGAIN)
        and not (updates.get("street_number") or updates.get("landmark"))
        and updates.get("category") not in (None, slots.get("category"))
        and not _NO_NUMBER.search(fold(frame.text))
        and not (frame.unsure or frame.intent == "dont_know" or (frame.answer is not None and not frame.correction))
    )


def _wants_house_number(slots: dict[str, Any]) -> bool:
    """A street without its number, once (what it is near is an answer too), unless the street is a square, a
    roundabout or a car park."""
    street = str(slots.get("street_name") or "")
    if not street or slots.get("street_number") or times_asked(slots, "street_number") >= MAX_ASKS["street_number"]:
        return False
    folded = fold(street)
    return not any(folded == kind or folded.startswith(kind + " ") for kind in _UNNUMBERED_STREET_TYPES)


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


def _place_words(frame: Frame) -> int:
    """How many words the place named in the line takes (street, landmark, commune), articles left out."""
    place = frame.place
    named = " ".join(part for part in (place.street_name, place.landmark, place.commune) if part)
    return sum(1 for word in fold(named).split() if word not in ARTICLES)


def times_asked(slots: dict[str, Any], question: str) -> int:
    return int((slots.get(QUESTIONS_ASKED) or {}).get(question, 0))


def ask_next(slots: dict[str, Any], updates: dict[str, Any], knowledge: Knowledge, rephrase: bool = False) -> Outcome:
    current = _current(slots, updates)
    described = current.get("description")
    if not current.get("category") and described and times_asked(current, "problem") >= MAX_ASKS["problem"]:
        # The caller described something the taxonomy does not name and answered the problem question with other
        # things twice: the report goes on in their own words, and a person sorts it.
        updates = {**updates, "category": OTHER_CATEGORY, "category_other_words": described}
        current = _current(slots, updates)
    pending, question = next_question(current, knowledge.taxonomy, rephrase)
    if pending == "description":
        updates = {**updates, DESCRIPTION_WANTED: False}  # asked once, answered or not
    asked = dict(current.get(QUESTIONS_ASKED) or {})
    asked[pending] = asked.get(pending, 0) + 1
    if question.response == "utter_reask_place" and _landmark_anywhere(current):
        asked[_STREET_OF_PLACE] = 1
    return Outcome(said=[question], slots={**updates, QUESTIONS_ASKED: asked, PENDING: pending})


def in_context(frame: Frame, slots: dict[str, Any]) -> Frame:
    """The line read with what the call said before: "ces saloperies, ça brûle" after processionary caterpillars is
    the skin, not a fire; "ça brûle dans la pinède", "au secours ça brûle" stay fires."""
    stinging = _STINGING.search(fold(f"{slots.get('description') or ''}"))
    said = fold(frame.text)
    if (
        frame.burns_only
        and stinging
        and _IT_BURNS_LAST.search(said)
        and _ON_SKIN.search(said)
        and not _FIRE.search(said)
    ):
        return replace(frame, emergency=False, burns_only=False)
    return frame


_STINGING = re.compile(r"\b(?:chenilles?|processionnaires?|orties?|urticant\w*|meduses?)\b")
# "ça brûle" closing the line, not followed by what burns or where.
_IT_BURNS_LAST = re.compile(r"\bca (?:brule|brulent|pique et ca brule)(?: (?:hein|quoi|aussi|les yeux|la peau))*$")
# Said of people's or animals' skin: "dangereux pour les minots, ces saloperies", "ça pique".
_ON_SKIN = re.compile(
    r"\b(?:dangereu\w*|pour les|pour le|pique\w*|gratte\w*|poils?|peau|yeux|saloperies?|allergi\w*)\b"
)
_FIRE = re.compile(r"\b(?:feu|fumee|flammes?|crame|incendie|secours|vite|pompiers?|explos\w*)\b")


def _safety_first(frame: Frame, slots: dict[str, Any], base: dict[str, Any]) -> Outcome | None:
    """Immediate danger to people comes before any question: a handoff with the 112 advice when the words say so,
    or when the caller says yes to the direct question asked when they only may ("quelqu'un est tombé")."""
    if frame.emergency:
        return handoff_emergency(base)
    # "Oui un peu, un bus pourrait le toucher" to "is someone in danger now?" says what could happen: the report's
    # danger, not an emergency (words that say one are caught above, in any turn).
    # "Oui, dangereux pour les vélos" says the same of a hazard to whoever passes, unless the line also says someone
    # may be hurt.
    hazard_only = frame.speaks_of_what_could_happen or (frame.hazard_to_passers_by and not frame.maybe_emergency)
    said_yes = frame.answer is True and not frame.answers_about_callback() and not hazard_only
    danger_now = frame.danger is True and not hazard_only
    if slots.get(PENDING) == "emergency_check" and (said_yes or danger_now):
        return handoff_emergency(base)
    return None


# The value of "emergency_checked" when the line asked about was out of scope: a "no" then gets that answer.
_CHECKED_OUT_OF_SCOPE = "out_of_scope"


def _ask_if_someone_is_in_danger(
    frame: Frame, slots: dict[str, Any], updates: dict[str, Any], out_of_scope: bool = False
) -> Outcome | None:
    """One direct question, once per call, when the words only may mean that someone is in danger now; what the
    line gave is kept."""
    if not frame.maybe_emergency or slots.get("emergency_checked"):
        return None
    checked: object = _CHECKED_OUT_OF_SCOPE if out_of_scope else True
    return Outcome(
        said=[Say("utter_ask_emergency")],
        slots={**updates, PENDING: "emergency_check", "emergency_checked": checked},
    )


def handle_report_turn(frame: Frame, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """report_problem, inform, correct, affirm, deny, dont_know, greet, thank: the core of the conversation."""
    if _mumbled(frame):
        return handle_no_input(frame, slots, knowledge)
    base = _with_caller_number(slots, frame)
    slots = _current(slots, base)
    pending = slots.get(PENDING)
    if frame.emergency:
        return handoff_emergency(base)
    if badly_heard(frame, knowledge.thresholds):
        # Words the recogniser itself doubts answer nothing, whatever the question: a stray "ouais" in noise
        # must not accept a callback or save a report, and the second such turn hands over.
        return handle_not_understood(frame, slots, knowledge, base)
    safety = _safety_first(frame, slots, base)
    if safety is not None:
        return safety
    if pending == "emergency_check":
        # Nobody in danger: on with the report, from what this line gives (often nothing but "non").
        slots = {**slots, PENDING: None}
        updates = extract(frame, slots, knowledge, is_trusted(frame, knowledge.thresholds))
        if slots.get("emergency_checked") == _CHECKED_OUT_OF_SCOPE and not _changes_report(updates):
            # Asked about a line that was out of scope ("ça sent le brûlé, le voisin fait un barbecue"): its answer.
            return _answer_out_of_scope(frame, slots, knowledge, base)
        if frame.answer is True and slots.get("danger") is None:
            updates["danger"] = True  # a yes about what could happen: a danger to report
        return ask_next(slots, {**base, **updates, REPROMPTS: 0}, knowledge)
    if frame.asks_for_person and pending != "offer_human":
        return handoff("caller_request", base)
    # The answer to the offer of an adviser comes first: a "no" that names the other service again declines.
    if pending == "offer_human" and frame.category is not None and not frame.out_of_scope:
        # "Voilà, y a une grosse branche tombée": a problem in the street after all, whatever word opens it.
        slots, pending = {**slots, PENDING: None}, None
    if pending == "offer_human":
        if frame.answer is True:
            return handoff("out_of_scope", base)  # the adviser offered, accepted
        if frame.asks_for_person:
            return handoff("caller_request", base)  # not an acceptance ("non, pas une machine, quelqu'un de vrai")
        if frame.answer is False and frame.category is None:
            if frame.goodbye or frame.other_service or frame.will_call_elsewhere:
                # Declining the adviser with a goodbye or another service named: nothing else to report either.
                return Outcome(said=[Say("utter_goodbye")], slots=base, hangup=True)
            return Outcome(said=[Say("utter_anything_to_report")], slots={**base, PENDING: "anything_else"})
    if not report_in_progress(slots) and frame.out_of_scope:
        # Words that may mean someone is in danger get the direct question before "this service does not do that":
        # a smell told only by what it is like may be gas.
        check = _ask_if_someone_is_in_danger(frame, slots, base, out_of_scope=True)
        return check if check is not None else _answer_out_of_scope(frame, slots, knowledge, base)
    trusted = is_trusted(frame, knowledge.thresholds) or has_lexical_evidence(frame, knowledge)

    if pending == "anything_else" and frame.answer is False and frame.category is None:
        return Outcome(said=[Say("utter_goodbye")], slots=base, hangup=True)

    if not trusted and pending in (None, "problem", "anything_else", "offer_human"):
        # Doubtful words must not open a report: ask again rather than guess.
        return handle_not_understood(frame, slots, knowledge, base)
    updates = extract(frame, slots, knowledge, trusted)
    check = _ask_if_someone_is_in_danger(frame, slots, {**base, **updates})
    if check is not None:
        return check
    if pending in ("confirm", "correction") and frame.addition and not _problem_named_beside(frame, knowledge):
        # What is added is not the problem read back: "y a aussi une flaque" keeps the pavement as the problem.
        updates = {k: v for k, v in updates.items() if k not in _FIELDS_NAMED["category"]}
    if pending in ("confirm", "correction") and frame.addition and not _changes_report(_changed(updates, slots)):
        # "Non, mettez aussi qu'il y a un frigo": the words join the description and the report is read back;
        # "oui, et notez que ..." saves it with them.
        described = _with_words(slots.get("description"), frame.addition)
        if pending == "confirm" and frame.answer is True:
            return Outcome(slots={**base, "description": described, REPROMPTS: 0}, save_report=True)
        return ask_next(slots, {**base, "description": described, PENDING: None, REPROMPTS: 0}, knowledge)
    if pending == "confirm" and frame.answer is True and _street_said_as_it_sounds(_changed(updates, slots), slots):
        # "Oui exact, boulevard de la Gibbe" when "boulevard de la Gibe" was read: the same street, spelt as the caller
        # means it; nothing to read again.
        return Outcome(slots={**base, **updates, REPROMPTS: 0}, save_report=True)
    # "Oui c'est bien ça, au quatorze": a value said again as it stands changes nothing and confirms.
    if pending == "confirm" and not _changes_report(_changed(updates, slots)):
        if frame.answer is True:
            return Outcome(slots={**base, REPROMPTS: 0}, save_report=True)
        if frame.answer is False or frame.yes_no is False:
            cleared = _cleared(frame)
            if cleared:
                # "Non, le lieu n'est pas bon": that field is asked again at once.
                return ask_next(slots, {**base, **cleared, REPROMPTS: 0}, knowledge)
            asked = dict(slots.get(QUESTIONS_ASKED) or {})
            if _said_as_read(frame, slots) and not asked.get(_READ_AGAIN):
                # The value said is the one read ("non, pas le trottoir, c'est la fuite d'eau" when the leak was
                # read, "non c'est au 28" when 28 was read): the caller misheard the read-back, read once again.
                again = {**base, PENDING: None, REPROMPTS: 0, QUESTIONS_ASKED: {**asked, _READ_AGAIN: 1}}
                return ask_next(slots, again, knowledge)
            return Outcome(said=[Say("utter_ask_correction")], slots={**base, PENDING: "correction", REPROMPTS: 0})
    if pending == "correction" and not _changes_report(updates):
        cleared = _cleared(frame)
        if cleared:
            return ask_next(slots, {**base, **cleared, REPROMPTS: 0}, knowledge)
        if frame.answer is True:
            # "Oui c'est bon" to "what is not right?": nothing is wrong after all; the report is read back again.
            return ask_next(slots, {**base, PENDING: None, REPROMPTS: 0}, knowledge)

    if not _changes_report(updates) and not _acceptable_without_content(frame, slots, trusted):
        return handle_not_understood(frame, slots, knowledge, base)
    if pending == "street_number" and _number_still_wanted(frame, slots, updates):
        asked_before = dict(slots.get(QUESTIONS_ASKED) or {})
        updates = {**updates, QUESTIONS_ASKED: {**asked_before, "street_number": 0, _NUMBER_AGAIN: 1}}
    return ask_next(slots, {**base, **updates, REPROMPTS: 0}, knowledge)


def _acceptable_without_content(frame: Frame, slots: dict[str, Any], trusted: bool) -> bool:
    """A turn that fills nothing but needs no reprompt: "bonjour", "oui j'ai un problème à signaler"."""
    pending = slots.get(PENDING)
    if frame.intent in ("greet", "thank") and trusted:
        return True
    # "Which street?" asked of a place already given ("le parking en bas de chez moi"): not knowing is an answer,
    # and so is saying the same place again.
    if pending == "place" and slots.get("landmark") and _says_only_where_anything_is(frame.free_landmark or "x"):
        return True
    asked_more = pending in ("description", "street_number") or (pending == "place" and slots.get("landmark"))
    if asked_more and (frame.answer is not None or frame.unsure or frame.intent == "dont_know"):
        return True  # "tell me more?", "which number?" "non" / "je sais pas": an answer too
    if pending in ("street_number", "place") and names_someones_home(frame.text):
        return True  # "devant chez ma voisine": all the caller can say of where; no misunderstanding
    if pending is None and trusted and frame.plain_words and frame.intent not in ("deny", "dont_know", "out_of_scope"):
        return True  # the caller's first words, before the problem ("excusez-moi de vous déranger..."): no failure
    opening = pending in (None, "problem", "anything_else")
    return (
        opening
        and trusted
        and (
            frame.intent == "affirm"
            or (frame.intent not in ("deny", "out_of_scope", "dont_know") and frame.wants_to_report)
        )
    )


def _says_house_number(frame: Frame) -> bool:
    words = fold(frame.text).split()
    return bool(frame.street_number_said) and ("numero" in words or "n" in words)


def _street_said_as_it_sounds(changed: dict[str, Any], slots: dict[str, Any]) -> bool:
    """Only the street's name changed, to one that sounds the same as the one read back."""
    if not set(changed) <= {"street_name", "place"} or not changed.get("street_name") or not slots.get("street_name"):
        return False
    return phonetic_key(str(changed["street_name"])) == phonetic_key(str(slots["street_name"]))


def _changed(updates: dict[str, Any], slots: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in updates.items() if slots.get(name) != value}


def _changes_report(updates: dict[str, Any]) -> bool:
    return any(name in REPORT_SLOTS or name == COMMUNE_SKIPPED for name in updates)


def _gives_named_field(frame: Frame) -> bool:
    """ "Non, c'est pas un problème de trottoir, c'est une fuite": the line names the field and gives its value."""
    given = {
        "category": frame.affirmed_category is not None,
        "place": not frame.place.is_empty(),
        "callback": frame.phone_number is not None,
        "danger": frame.danger is not None,
    }
    return given.get(frame.names_field or "", False)


def _problem_named_beside(frame: Frame, knowledge: Knowledge) -> bool:
    """Whether the line names a problem before what it adds ("non c'est le lampadaire, y a aussi …")."""
    start = frame.text.find(frame.addition or "")
    return start > 0 and knowledge.taxonomy.match(frame.text[:start]) is not None


def _said_as_read(frame: Frame, slots: dict[str, Any]) -> bool:
    """Whether the line says again a value the read-back gave (the problem, the house number, the street, the
    number to call back)."""
    said = (
        (frame.affirmed_category, slots.get("category")),
        (frame.street_number_said, slots.get("street_number")),
        (fold(frame.place.street_name or "") or None, fold(slots.get("street_name") or "")),
        (frame.phone_number, slots.get("callback_number")),
    )
    return any(value is not None and value == read for value, read in said)


_FIELDS_NAMED = {
    "category": ("category", "category_other_words", "description"),
    "place": ("place", "street_number", "street_name", "street_verified", "commune", "landmark"),
    "callback": ("callback_consent", "callback_number"),
    "danger": ("danger",),
}


def _cleared(frame: Frame) -> dict[str, Any]:
    """ "le lieu" / "le numéro" after "qu'est-ce qui n'est pas correct": forget that field and ask it again."""
    if frame.names_field is None or _gives_named_field(frame):
        return {}
    return {name: None for name in _FIELDS_NAMED[frame.names_field]}


# Questions a bare yes or no does not answer: what, where, which commune.
_NOT_ANSWERED_BY_YES_OR_NO = (None, "problem", "description", "place", "commune", "street_number", "correction")


def holds_on(frame: Frame, pending: str | None = None) -> bool:
    """ "Attendez que je trouve mes lunettes", "je vous entends mal", "est-ce que je parle à un robot ?": a line
    about the call itself that gives nothing for the report. A yes or no gives something only to a question it
    answers: "attendez euh non" asked for the problem is a caller gathering their words, asked for a call-back
    number it declines. Nor is a request, a goodbye or private property a moment asked for."""
    answers = frame.yes_no is not None and pending not in _NOT_ANSWERED_BY_YES_OR_NO
    says_what_they_want = frame.asks_for_person or frame.goodbye or frame.will_call_elsewhere or frame.private_property
    gives_something = frame.category or not frame.place.is_empty() or frame.phone_number or answers
    gives_something = gives_something or says_what_they_want
    about_the_call = frame.holds_on or (frame.asks_if_machine and not frame.asks_for_person)
    return about_the_call and not gives_something and not frame.emergency


def handle_hold_on(frame: Frame, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """The question again, plainly (after saying what answers, when asked); neither a misunderstanding (no
    reprompt counted) nor another service."""
    base = _with_caller_number(slots, frame)
    outcome = _reask(_current(slots, base), base, knowledge)
    if frame.asks_if_machine and not frame.asks_for_person:
        outcome.said.insert(0, Say("utter_automated"))
    return outcome


def handle_not_understood(
    frame: Frame, slots: dict[str, Any], knowledge: Knowledge, base: dict[str, Any] | None = None
) -> Outcome:
    """Reprompt once with a rephrased question, then hand over (low confidence)."""
    if base is None and _mumbled(frame):
        return handle_no_input(frame, slots, knowledge)
    base = base if base is not None else _with_caller_number(slots, frame)
    slots = _current(slots, base)
    count = int(slots.get(REPROMPTS) or 0) + 1
    if count >= 2 and _commune_can_wait(slots) and _clearly_said(frame, knowledge):
        return ask_next(slots, {**base, COMMUNE_SKIPPED: True, REPROMPTS: 0}, knowledge)
    if (
        _problem_in_own_words(slots)
        and not badly_heard(frame, knowledge.thresholds)
        and frame.content_words
        and not (frame.unsure or frame.intent == "dont_know")
    ):
        # Asked twice what the problem is, answered in words the taxonomy does not name: the report goes on in the
        # caller's words, these ones too (ask_next files it as "autre"), rather than a handoff.
        return ask_next(slots, {**base, "description": _described(slots, frame), REPROMPTS: 0}, knowledge)
    if count >= 2:
        return handoff("low_confidence", base)
    outcome = _reask(slots, base, knowledge)
    outcome.said.insert(0, Say("utter_not_understood"))
    outcome.slots[REPROMPTS] = count
    return outcome


def _commune_can_wait(slots: dict[str, Any]) -> bool:
    """The commune asked twice and answered with something else while the street or landmark is known: the report
    goes on without it and the person who validates it places it, rather than a handoff over one field."""
    return slots.get(PENDING) == "commune" and bool(slots.get("street_name") or slots.get("landmark"))


def _problem_in_own_words(slots: dict[str, Any]) -> bool:
    return (
        slots.get(PENDING) == "problem"
        and not slots.get("category")
        and bool(slots.get("description"))
        and times_asked(slots, "problem") >= MAX_ASKS["problem"]
    )


def _clearly_said(frame: Frame, knowledge: Knowledge) -> bool:
    """Words heard well that mean something (a yes, a no, another field), only not what was asked; noise is not."""
    if badly_heard(frame, knowledge.thresholds):
        return False
    return frame.yes_no is not None or frame.carries_content() or frame.intent in ("affirm", "deny", "dont_know")


def _reask(slots: dict[str, Any], base: dict[str, Any], knowledge: Knowledge) -> Outcome:
    pending = slots.get(PENDING)
    if pending == "offer_human":
        return Outcome(said=[Say("utter_reask_offer_human")], slots={**base, PENDING: pending})
    if pending == "correction":
        return Outcome(said=[Say("utter_ask_correction")], slots={**base, PENDING: pending})
    if pending == "emergency_check":
        return Outcome(said=[Say("utter_ask_emergency")], slots={**base, PENDING: pending})
    return ask_next(slots, base, knowledge, rephrase=True)


def handle_fallback(frame: Frame, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """nlu_fallback: the words may still answer the pending question (a street, a number, yes/no)."""
    if _mumbled(frame):
        return handle_no_input(frame, slots, knowledge)
    base = _with_caller_number(slots, frame)
    current = _current(slots, base)
    if frame.emergency:
        return handoff_emergency(base)
    asr_ok = frame.asr_confidence is None or frame.asr_confidence >= knowledge.thresholds.min_asr
    opening = current.get(PENDING) in (None, "problem")
    if asr_ok and (frame.asks_for_person or frame.maybe_emergency or current.get(PENDING) == "emergency_check"):
        return handle_report_turn(frame.with_intent("inform"), slots, knowledge)
    if (
        asr_ok
        and not report_in_progress(current)
        and current.get(PENDING) in (None, "problem", "anything_else")
        and frame.out_of_scope
    ):
        return _answer_out_of_scope(frame, slots, knowledge, base)
    if asr_ok and current.get(PENDING) in YES_NO_QUESTIONS and frame.yes_no is not None:
        # "C'est sa" (c'est ça) at the read-back: a yes or no DIET could not place still answers the question.
        return handle_report_turn(frame.with_intent("inform"), slots, knowledge)
    # DIET unsure, but the words themselves may answer: a taxonomy term to open a report, or the pending field.
    if asr_ok and (not opening or frame.category is not None):
        updates = extract(frame, current, knowledge, trusted=False)
        if _changes_report(updates):
            return ask_next(current, {**base, **updates, REPROMPTS: 0}, knowledge)
    return handle_not_understood(frame, current, knowledge, base)


def _mumbled(frame: Frame) -> bool:
    """ "Euh… mmh": hesitation sounds only (the understanding step drops them), nothing said; counted as the
    silence it is, not as words misunderstood."""
    return not frame.is_command and mumbled(frame.text)


def handle_no_input(frame: Frame, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """Silence: reprompt once, then hand over if a report was started, else end the call politely."""
    base = _with_caller_number(slots, frame)
    slots = _current(slots, base)
    count = int(slots.get(REPROMPTS) or 0) + 1
    if count >= 2:
        if slots.get(PENDING) == "emergency_check":
            # Asked twice whether someone is in danger, and silence: the safe reading, with the 112 advice.
            return handoff_emergency(base)
        if report_in_progress(slots) or not frame.is_command:
            # A report started, or someone there who only hesitates (in shock, or lost for words): a person takes it.
            return handoff("no_input", base)
        return Outcome(said=[Say("utter_no_input_goodbye")], slots={**base, REPROMPTS: count}, hangup=True)
    outcome = _reask(slots, base, knowledge)
    outcome.slots[REPROMPTS] = count
    return outcome


def handle_out_of_scope(frame: Frame, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """DIET read "out of scope"; the words decide: a problem in the street goes on as a report."""
    base = _with_caller_number(slots, frame)
    current = _current(slots, base)
    if frame.emergency:
        return handoff_emergency(base)
    if badly_heard(frame, knowledge.thresholds):
        # Badly heard words are not understood, not a request for another service.
        return handle_not_understood(frame, slots, knowledge, base)
    if frame.asks_for_person or frame.maybe_emergency or current.get(PENDING) == "emergency_check":
        return handle_report_turn(frame.with_intent("inform"), slots, knowledge)
    if report_in_progress(current):
        # An answer DIET misread while a report is under way: try it as one, else as a yes/no or a reprompt.
        updates = extract(frame, current, knowledge, trusted=False)
        if _changes_report(updates):
            return ask_next(current, {**base, **updates, REPROMPTS: 0}, knowledge)
        return handle_report_turn(frame, slots, knowledge)
    if current.get(PENDING) == "offer_human":
        return handle_report_turn(frame, slots, knowledge)
    if not frame.out_of_scope and (has_lexical_evidence(frame, knowledge) or frame.plausible_problem):
        return handle_report_turn(frame.with_intent("report_problem"), slots, knowledge)
    if not is_trusted(frame, knowledge.thresholds) and not frame.out_of_scope:
        # DIET's unsure "out of scope" on words naming nothing is noise, not a request for another service.
        return handle_not_understood(frame, slots, knowledge, base)
    return _answer_out_of_scope(frame, slots, knowledge, base)


def _answer_out_of_scope(frame: Frame, slots: dict[str, Any], knowledge: Knowledge, base: dict[str, Any]) -> Outcome:
    if _current(slots, base).get(PENDING) == "offer_human":
        # Already told what this service does: out-of-domain again counts as not understood.
        return handle_not_understood(frame, slots, knowledge, base)
    return Outcome(said=[Say("utter_out_of_scope")], slots={**base, PENDING: "offer_human"})


def handle_emergency(frame: Frame, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """DIET read an emergency: hand over when the words confirm one (gas, live wire, someone hurt, water in
    homes), ask the direct question when they only may; "ça peut être dangereux pour les vélos" is an answer
    about the report's danger field."""
    intent = "inform" if report_in_progress(_current(slots, _with_caller_number(slots, frame))) else "report_problem"
    return handle_report_turn(frame.with_intent(intent), slots, knowledge)


def handoff_emergency(base: dict[str, Any]) -> Outcome:
    outcome = handoff("emergency", base)
    outcome.said = [Say("utter_emergency")]
    return outcome


# DIET's request for a person in a line that says more than this, with no word of asking nor anyone to ask for ("des
# chiens qui traînent, c'est autre chose"): the caller is describing, not asking.
_FEW_WORDS_TO_ASK = 2


def handle_request_human(frame: Frame, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """A person is asked for when the words ask for one; DIET alone is not enough ("allez-y", "si vous voulez",
    "il y a personne qui ramasse" are no such request)."""
    base = _with_caller_number(slots, frame)
    pending = _current(slots, base).get(PENDING)
    asked = frame.asks_for_person or (
        frame.nlu_confidence >= 0.8
        and not frame.carries_content()
        and (frame.content_words <= _FEW_WORDS_TO_ASK or words_of_asking(frame.text))
        and frame.yes_no is None
        and not frame.goodbye
    )
    if not asked:
        return handle_report_turn(frame.with_intent("inform"), slots, knowledge)
    # Accepting the adviser offered after an out-of-scope request ("oui") keeps that reason for the agent; asking
    # for a person in words of one's own ("non, pas un robot, un conseiller", "je voudrais une vraie personne") is
    # the caller's request.
    accepted = frame.answer is True or (frame.answer is None and not frame.asks_for_person)
    reason = "out_of_scope" if pending == "offer_human" and accepted else "caller_request"
    if frame.emergency:
        return handoff_emergency(base)
    return handoff(reason, base)


def handle_goodbye(frame: Frame, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """Hang up, unless a report is under way and the words answer its question ("non merci c'est bon" to the
    callback question, "oui merci au revoir" to the read-back): a report is never dropped on a misread intent."""
    base = _with_caller_number(slots, frame)
    current = _current(slots, base)
    if badly_heard(frame, knowledge.thresholds) and not frame.goodbye:
        return handle_not_understood(frame, slots, knowledge, base)
    if report_in_progress(current) and current.get(PENDING) not in (None, "anything_else"):
        if not frame.goodbye or (current.get(PENDING) == "confirm" and frame.yes_no is True):
            return handle_report_turn(frame.with_intent("inform"), slots, knowledge)
    return Outcome(said=[Say("utter_goodbye")], slots=base, hangup=True)


def handoff(reason: str, base: dict[str, Any]) -> Outcome:
    """A person is needed. The channel says what happens next (a phone call is put through to an agent, a chat is
    passed on, or a call back is offered when nobody can take it): the dialogue cannot know which."""
    return Outcome(slots={**base, PENDING: None}, handoff_reason=reason)


# -- the call-back offer ----------------------------------------------------------------------------------------
# A person was wanted and none can take the call (outside opening hours, no agents' line, the transfer failed):
# the callbot sends /offer_callback and the dialogue offers a call back, confirms the number (the line's, read back,
# or one the caller gives) and says when agents will call. The callbot stores the request from the reply.

MAX_OFFER_REPROMPTS = 2
ASAP = "dès que possible"


def handle_offer_callback(frame: Frame, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """/offer_callback: offer a call back. The report in progress keeps its fields (the callbot has recorded them
    with the handoff); `slots` carry the reason and the "when" the callbot sent."""
    base = _with_caller_number(slots, frame)
    reason = slots.get(CALLBACK_OFFER) if slots.get(CALLBACK_OFFER) in CALLBACK_REASONS else "no_transfer"
    when = slots.get(CALLBACK_WHEN) if isinstance(slots.get(CALLBACK_WHEN), str) else None
    return Outcome(
        said=[Say("utter_offer_callback")],
        slots={
            **base,
            CALLBACK_OFFER: reason,
            CALLBACK_WHEN: (when or ASAP)[:100],
            PENDING: "offer_callback",
            REPROMPTS: 0,
        },
    )


def handle_offer_answer(frame: Frame, slots: dict[str, Any], knowledge: Knowledge) -> Outcome:
    """Every caller turn while the call back is offered, whatever DIET read: yes, no, a number, silence."""
    base = _with_caller_number(slots, frame)
    slots = _current(slots, base)
    pending = slots.get(PENDING)
    if frame.is_command:  # silence
        return _offer_not_answered(slots, base, said_nothing=True)
    if frame.emergency:
        outcome = _offer_not_answered(slots, base, said_nothing=True, count=False)
        outcome.said.insert(0, Say("utter_emergency"))
        return outcome
    if badly_heard(frame, knowledge.thresholds):
        return _offer_not_answered(slots, base)
    if frame.phone_number:  # "oui, au 06...", "non, plutôt au 07...": the number given is the one to call
        return _callback_accepted(slots, base, frame.phone_number)
    yes = frame.answer is True or (frame.answer is None and _asks_to_be_called(frame))
    no = frame.answer is False or (frame.answer is None and frame.goodbye)
    if pending == "offer_callback":
        if yes:
            if slots.get(CALLER_NUMBER):
                return Outcome(
                    said=[Say("utter_ask_offer_callback_known", {"number": slots[CALLER_NUMBER]})],
                    slots={**base, PENDING: "offer_callback_known", REPROMPTS: 0},
                )
            return _ask_callback_number(base)
        if no:
            return Outcome(said=[Say("utter_callback_declined")], slots={**base, PENDING: None}, hangup=True)
        if frame.asks_for_person:  # a person again: nobody can answer now; the offer stands
            return Outcome(said=[Say("utter_offer_callback_nobody_now")], slots={**base, PENDING: pending})
    elif pending == "offer_callback_known":
        if yes and slots.get(CALLER_NUMBER):
            return _callback_accepted(slots, base, str(slots[CALLER_NUMBER]))
        if frame.answer is False:  # not this number: which one?
            return _ask_callback_number(base)
        if no:
            return Outcome(said=[Say("utter_callback_declined")], slots={**base, PENDING: None}, hangup=True)
    elif pending == "offer_callback_number" and (
        no or frame.intent in ("deny", "dont_know") or frame.unsure or frame.yes_no is False
    ):
        return Outcome(said=[Say("utter_callback_declined")], slots={**base, PENDING: None}, hangup=True)
    return _offer_not_answered(slots, base)


def _asks_to_be_called(frame: Frame) -> bool:
    """ "Rappelez-moi", "je veux bien qu'on me rappelle": a yes in words of its own (not "ne me rappelez pas")."""
    words = fold(frame.text).split()
    return any(word.startswith("rappel") for word in words) and not any(w in ("pas", "jamais") for w in words)


def _ask_callback_number(base: dict[str, Any]) -> Outcome:
    return Outcome(
        said=[Say("utter_ask_callback_number")], slots={**base, PENDING: "offer_callback_number", REPROMPTS: 0}
    )


def _callback_accepted(slots: dict[str, Any], base: dict[str, Any], number: str) -> Outcome:
    when = slots.get(CALLBACK_WHEN) or ASAP
    return Outcome(
        said=[Say("utter_callback_accepted", {"number": number, "when": when})],
        slots={**base, PENDING: None, REPROMPTS: 0},
        hangup=True,
        callback_number=number,
    )


def _offer_not_answered(
    slots: dict[str, Any], base: dict[str, Any], said_nothing: bool = False, count: bool = True
) -> Outcome:
    """Ask the offer's question again, rephrased; after two turns that answer nothing, end politely without a call
    back (a caller who cannot be understood cannot give a number either)."""
    pending = slots.get(PENDING)
    reprompts = int(slots.get(REPROMPTS) or 0) + (1 if count else 0)
    if reprompts >= MAX_OFFER_REPROMPTS:
        return Outcome(said=[Say("utter_callback_not_taken")], slots={**base, PENDING: None}, hangup=True)
    if pending == "offer_callback_known" and slots.get(CALLER_NUMBER):
        question = Say("utter_reask_callback_known", {"number": slots[CALLER_NUMBER]})
    elif pending == "offer_callback_number":
        question = Say("utter_reask_callback_number")
    else:
        question = Say("utter_reask_offer_callback")
    said = [question] if said_nothing else [Say("utter_not_understood"), question]
    return Outcome(said=said, slots={**base, PENDING: pending, REPROMPTS: reprompts})
