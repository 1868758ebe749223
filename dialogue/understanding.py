"""One understanding step per caller utterance: what was heard (+ confidences) -> a Frame.

The frame holds every field value the line carries, each read once: numbers normalised once for the whole line,
negation scope from the dependency parse (dialogue.negation), places against the gazetteer and the street base
(dialogue.places), the taxonomy for the category, and the kind of line (yes/no, correction, request for a person,
immediate danger, out of scope, goodbye). The conversation (dialogue.conversation) decides from frames only; it
never reads the words again.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from dialogue.knowledge import Gazetteer, Taxonomy, contains_phrase, fold
from dialogue.lexicon import (
    HYPOTHETICAL,
    SET_ALIGHT,
    burnt_out,
    describes_problem,
    emergency_evidence,
    is_private_property,
    names_other_service,
    possible_emergency_evidence,
)
from dialogue.negation import parse, polarity_of, said_plainly
from dialogue.normalize import (
    FOLDED_STREET_TYPES,
    Place,
    danger_answer,
    expand_chat_shorthand,
    find_phone_number,
    find_separate_street_number,
    find_street_number,
    free_text_landmark,
    is_unsure,
    landmark_in_a_quarter,
    looks_unintelligible,
    mentions_danger,
    near_landmark,
    place_words_beside_communes,
    places_something,
    repair_asr_slips,
    sounds_like_correction,
    spoken_to_digits,
    with_commune_spelled,
    yes_or_no,
)
from dialogue.places import PlaceResolver

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
# Asking for a person takes someone to ask for and, unless the line is that alone, a verb of asking:
# "il y a personne qui passe" or "quelqu'un est tombé" are no such request.
_PERSON_ASKED = re.compile(
    r"\b(un|une|a un|a une|le|la|l|au|votre|vos|des|d un|d une|avec un|avec une)\s?"
    r"(humain|humaine|etre humain|conseiller|conseillere|conseillers|agent|agents|operateur|operatrice|standard|"
    r"standardiste|personne|monsieur|dame|collegue|responsable|vrai|vraie|vraie personne|vrai personne|interlocuteur)"
    r"\b|\bquelqu un\b"
)
# "Y a-t-il quelqu'un qui pourrait me renseigner ?": asking whether a person is there to help, not a risk
# ("il y a quelqu'un qui peut tomber").
_SOMEONE_THERE = re.compile(
    r"\b(?:il y a|y a t il|y a|y aurait il|il y aurait)\s+(?:bien\s+|pas\s+|vraiment\s+)?quelqu un\b"
    r"(?=.{0,50}?\b(?:(?:qui (?:peut|pourrait|puisse|pourra|saurait)|pour) (?:(?:me|m|nous) (?:parler|repondre|"
    r"renseigner|aider|ecouter|expliquer|rappeler)|parler|(?:suivre|prendre|traiter|regarder) (?:mon|ma|mes|notre))"
    r"|(?:a|avec) qui (?:je |on )?(?:peux |pourrais |puisse |peut |pourrait )?parler|de vive voix)\b)"
)
_ASKED_WITHIN = 25  # characters between the asking words and the person asked for
_REFUSED_WITHIN = 20  # characters between a refusal and the machine refused
_ASKING = re.compile(
    r"\b(parler|parle|causer|discuter|passer|passez|passe moi|passes moi|transferer|transferez|transfere|mettre en "
    r"relation|mettez moi|joindre|avoir|veux|voudrais|voulais|aimerais|prefere|prefererais|souhaite|souhaiterais|"
    r"demande|besoin|rappeler par)\b"
)
_MACHINE_WORDS = (
    r"robots?|bots?|ia|machines?|repondeurs?|ordinateurs?|automates?|serveur vocal|intelligence artificielle"
)
_MACHINE = re.compile(rf"\b({_MACHINE_WORDS})\b")
# Where the caller lives or works, said before a commune: "j'habite à", "je bosse à", "je suis de".
_LIVES_IN = re.compile(
    r"\b(?:j habite|j habitais|je vis|je travaille|je bosse|je suis de|je suis originaire de)(?: pas)?"
    r"(?: a| au| aux| sur| vers| du cote de)?\b"
)
_PEOPLE = (
    r"(?:vrai |vraie |vrais |vraies |etre |etres )?"
    r"(?:personnes?|humains?|humaines?|quelqu un|gens|conseill\w+|agents?)(?: humaine?s?| physiques?| reelles?)?"
)
# "Une machine ou un humain ?" and the other way round: which one the caller is talking to.
_MACHINE_OR_PERSON = re.compile(
    rf"\b(?:{_MACHINE_WORDS}) ou (?:a |avec )?(?:un |une |des )?{_PEOPLE}\b"
    rf"|\b{_PEOPLE} ou (?:a |avec )?(?:un |une |des )?(?:{_MACHINE_WORDS})\b"
)
# The bot named as the machine, a word or two after the question's opening: "vous êtes bien un robot ?", not a
# machine of the caller's own ("rappelez-moi, c'est un fixe avec répondeur").
_ASKS_IF_MACHINE = re.compile(
    r"\b(?:est ce que|est ce qu|vous etes|c est|t es|(?:je|on) parle a|(?:je suis|on est) en train de parler a"
    rf"|suis je)(?:(?: (?!avec\b)\w+){{0,2}}|(?: \w+){{1,4}} ou(?: a)?(?: un| une)?) (?:{_MACHINE_WORDS})\b"
    # "vous êtes bien humain ?", "t'es une vraie personne ou pas": the other way round, at the end of the line
    r"|\b(?:vous etes|t es|c est)(?: pas)?(?: bien| vraiment)?(?: un| une)?(?: vrai| vraie)?"
    r" (?:humain|humaine|etre humain|personne)(?: ou pas| hein| non| la)?$"
)
# One wanted, whichever: "c'est pas possible d'avoir une machine ou un humain qui comprend".
_HAVING_ONE = re.compile(
    rf"\b(?:avoir|parler a|passer|joindre|tomber sur) (?:un |une )?(?:vrai |vraie )?(?:{_MACHINE_WORDS}) ou\b"
)
_REFUSING_MACHINE = re.compile(r"\b(pas|marre|plus|jamais|refuse|deteste|horreur)\b")
# The caller takes the request back in the same breath and goes on with the bot: "passez-moi quelqu'un... non,
# laissez tomber, je vous explique", "tant pis, c'est pour un trou". Not "ils ont laissé tomber des gravats" (a past
# tense), "laissez tomber le questionnaire", "tant pis j'attends" (the request stands).
_REQUEST_WITHDRAWN = re.compile(
    r"(?<!\ba )(?<!\bont )(?<!\bai )(?<!\bavez )(?<!\bas )(?<!\bavait )(?<!\bavaient )"
    r"\b(?:laiss(?:ez|e) tomber|tant pis|finalement (?:non|pas)|oubli(?:ez|e) (?:ca|cela)|bon non|ah non)\b"
)
_GOES_ON_WITH_THE_BOT = re.compile(
    r"\b(?:je vais|on va|je veux bien|allez) (?:le )?(?:faire|continuer|dire|expliquer)(?: vite)? avec vous\b"
    r"|\b(?:je|on) (?:fais|fait|continue|le fais|le fait|ferai|le ferai) (?:vite )?avec vous\b"
    r"|\bje vous (?:le |l )?(?:dis|explique|raconte)\b|\ballez (?:je|j|on)\b|\bc est pour\b"
)
_CLAUSE_OPENS = re.compile(r"\b(?:c est|est ce|vous etes|je parle)\b")
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
_WILL_CALL_ELSEWHERE = (
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
# A field named after "what is not right?" ("le lieu", "le numéro"): the caller wants it asked again.
_FIELD_NAMES = (
    ("category", ("probleme", "categorie", "type")),
    ("place", ("lieu", "adresse", "rue", "endroit", "commune", "ville")),
    ("callback", ("numero", "telephone", "rappel", "rappeler")),
    ("danger", ("danger", "dangereux")),
)
_HESITATIONS = {"euh", "heu", "hum", "hmm", "bah", "ben", "beh", "bon"}
# Words the danger of the problem is said with; their negation is read from the parse.
DANGER_KEYS = frozenset(
    {
        *("danger", "dangers", "dangereux", "dangereuse", "dangereuses", "grave", "graves", "accident", "accidents"),
        *("risque", "risques", "risquent", "risquer", "risquait", "craint", "crains", "craindre"),
    }
)
# Where a line starts with words that only open the call ("allô oui bonjour, c'est pour vous dire que ..."):
# the description starts after them.
# Where a clause may start in a run-on line: punctuation, or a word that opens one ("hein alors c'est pour ...").
# Words of a caller speaking of themselves: an opening made of them is the caller's story, not the problem.
_ABOUT_ONESELF = frozenset("je j moi me m mon ma mes nous on allo bonjour bonsoir oui ouais".split())
_CLAUSE_STARTS = re.compile(r"(?<=[,.;:!?…])\s*|\s(?=(?:hein|alors|donc|bref|du coup|en fait|voila|bon)\b)")
# "Je rentre du marché et c'est pour un banc": what the call is for, after the caller's story.
_CALL_IS_FOR = re.compile(r"\bc['\u2019]est pour\b", re.IGNORECASE)
_PREAMBLE = re.compile(
    r"^(?:(?:oui|ouais|ouai|salut|allo|alors|bonjour|bonsoir|madame|monsieur|euh|heu|ben|bah|voila|bon|hein|eh|oh|ah|ve|ecoutez|"
    r"excusez moi|pardon|dites|vous savez|tu sais|vous voyez)\s+)*"
    r"(?:(?:je vous appelle|j appelle|je vous telephone|je telephone|c est|je voulais|je voudrais|j aimerais|"
    r"je viens)\s+(?:parce que|parce qu|car|pour|vous)?\s*(?:vous\s+(?!savez|voyez))?"
    r"(?:signaler|dire|declarer|faire un signalement|un signalement)?\s*(?:que|qu|d un|d une|pour)?\s*)?"
    r"(?:(?:vous savez|tu sais|vous voyez)\s+)?"
)
# A value said inside a negation ("pas au 4", "pas à Aix") in a line that gives another one: the other one counts.
_NEGATED_VALUE = re.compile(
    r"\bpas (?:a|au|aux|dans|en|sur|le|la|les|du|des|rue|avenue|av|boulevard|bd|chemin|ch|cours|allee|place|"
    r"impasse|numero|un|une)\b(?: [\w]+){1,5}?"
    # ... up to the right value or the caller's own "I got it wrong": "pas rue X, en fait, rue Y"
    r"(?=\s*(?:,|\.|;|mais|c est|plutot|je me (?:suis|trompe)|je voulais dire|je veux dire|$))"
    # "pas quatorze, quarante": a number taken back right before the right one
    r"|\bpas \d+(?: bis| ter)?(?=[ ,.;]+\d)"
    # "c'est pas Gardanne, c'est Meyreuil": a bare name taken back before the right one
    r"|\bc est pas(?: [\w]+){1,4}?(?=\s*(?:,|\.|;)?\s*(?:c est|mais|plutot)\b)"
)


# Where something is, said in words ("pas loin du stade", "en face de la boulangerie"): a place, whatever "pas"
# it holds.
_LOCATIVE = re.compile(
    r"\b(loin|pres|a cote|en face|devant|derriere|au coin|au bout|en haut|en bas|au niveau|a l angle|juste apres|"
    r"juste avant)\s+(du|de la|de l|des|d|de|le|la|les)?\s*[a-z]{3,}"
)


@dataclass(frozen=True)
class Heard:
    """One caller turn as the action server receives it."""

    intent: str
    text: str
    nlu_confidence: float
    asr_confidence: float | None = None
    caller_number: str | None = None

    @property
    def is_command(self) -> bool:
        """/no_input and other commands of the voice channel: never doubted, never parsed."""
        return self.intent.startswith("/") or self.text.startswith("/")


@dataclass(frozen=True)
class Found:
    """A value the line gives, with the words it was read from."""

    value: str
    evidence: str


@dataclass(frozen=True)
class Frame:
    """Everything one utterance says, read once. Booleans are None when the line says nothing either way."""

    heard: Heard
    text: str  # the line with the recogniser's et/est slips repaired
    category: Found | None = None
    affirmed_category: str | None = None  # the problem named outside any negation ("pas le trottoir" names none)
    plausible_problem: bool = False  # a problem is described, whether or not the taxonomy names it
    wants_to_report: bool = False
    description: str | None = None  # the line without its opening words
    says_little: bool = False  # the problem named and no more ("un lampadaire", "le feu tricolore")
    plain_words: bool = False  # most of its words are everyday French (not sounds, not bent names)
    content_words: int = 0  # words that say something (nouns, verbs, adjectives...), not yes, no or fillers
    lone_number: str | None = None  # a short line's only number ("vingt-deux", "le 12 bis"), never a phone number
    place: Place = field(default_factory=Place)
    street_verified: bool | None = None  # the street was found in the street base (None: no base, or no street)
    separate_street_number: str | None = None  # "devant le numéro 25", said apart from a street
    street_number_said: str | None = None  # any street number cue ("c'est au 14")
    free_landmark: str | None = None  # the line as a place description nobody's parser knows
    place_beside_commune: str | None = None  # the line's pieces that place something, the commune's left out
    commune_of_landmark: bool = False  # the commune is the one a well-known place named stands in, not said
    danger: bool | None = None  # the line states the problem is (not) a danger for passers-by
    danger_answer: bool | None = None  # the line as an answer to "is it dangerous?"
    names_danger: bool = False  # the danger is said in words ("dangereux", "un risque"), not only guessed from facts
    yes_no: bool | None = None  # a plain yes or no
    answer: bool | None = None  # a yes or no that answers the pending question (not a "pas" inside other content)
    phone_number: str | None = None
    callback: bool | None = None  # a call back accepted or declined in words ("rappelez-moi", "sur ce numéro")
    correction: bool = False
    addition: str | None = None  # "mettez aussi qu'il manque une planche": words to add to the description
    names_field: str | None = None  # "le lieu", "le numéro": which field the caller points at
    emergency: bool = False  # immediate danger to people
    burns_only: bool = False  # the emergency is only "ça brûle": a fire, or the skin after caterpillars or nettles
    maybe_emergency: bool = False  # someone may be in danger: ask one direct question
    hazard_to_passers_by: bool = False  # "dangereux pour les vélos", "un peu": a hazard, nobody in danger now
    speaks_of_what_could_happen: bool = False  # "un bus pourrait le toucher": a risk, not a danger now
    asks_if_machine: bool = False  # "est-ce que je parle à un robot ?": a question about the bot, not a request
    holds_on: bool = False  # "attendez", "j'entends mal": the caller needs a moment or the question again
    private_property: bool = False
    other_service: bool = False
    out_of_scope: bool = False
    asks_for_person: bool = False
    goodbye: bool = False
    will_call_elsewhere: bool = False
    unsure: bool = False
    unintelligible: bool = False

    @property
    def intent(self) -> str:
        return self.heard.intent

    @property
    def asr_confidence(self) -> float | None:
        return self.heard.asr_confidence

    @property
    def nlu_confidence(self) -> float:
        return self.heard.nlu_confidence

    @property
    def is_command(self) -> bool:
        return self.heard.is_command

    def with_intent(self, intent: str) -> Frame:
        return replace(self, heard=replace(self.heard, intent=intent))

    def carries_content(self) -> bool:
        """Whether the line gives a report field besides a yes or no."""
        return bool(self.phone_number or self.describes_something())

    def describes_something(self) -> bool:
        """Whether the line names a problem or a place: then a "pas" inside it is no answer to a yes/no question
        (a phone number, on the other hand, often follows the "oui" to the callback question)."""
        return bool(
            self.category
            or not self.place.is_empty()
            or self.separate_street_number
            or self.street_number_said
            or _LOCATIVE.search(fold(self.text))
        )

    def answers_about_callback(self) -> bool:
        """A yes tied to a call-back ("oui rappelez-moi au 06...", "oui au 06..."): it answers that, not a question
        about danger. "Un peu oui, et rappelez-moi" gives two answers."""
        words = spoken_to_digits_folded(self.text).split()
        about_callback = self.phone_number or any(w.startswith("rappel") for w in words)
        if self.danger is not None or not about_callback:
            return False
        yes = next((i for i, w in enumerate(words) if w in _YES_WORDS), None)
        if yes is None:
            return False
        following = words[yes + 1 : yes + 4]
        for word in following:
            if word in ("et", "mais"):
                return False
            if word[:1].isdigit() or word.startswith("rappel") or word in ("numero", "telephone"):
                return True
        return False


class Understanding:
    """text + confidences -> Frame, with the taxonomy, the gazetteer and the street base it reads against."""

    def __init__(self, taxonomy: Taxonomy, gazetteer: Gazetteer, places: PlaceResolver | None = None) -> None:
        self.taxonomy = taxonomy
        self.gazetteer = gazetteer
        self.places = places or PlaceResolver(gazetteer)
        # "Je voulais dire Meyreuil, pas Gardanne": a commune named right after "pas" is taken back.
        aliases = "|".join(re.escape(alias) for alias, _ in gazetteer.aliases_longest_first(quarters=False))
        self._commune_taken_back = re.compile(rf"\bpas (?:a |au |aux |a la |de |d )?(?:{aliases})\b")
        # Words of the names of communes and quarters: what a caller may start, stop and say again whole.
        self._name_words = frozenset(
            word for alias, _ in gazetteer.aliases_longest_first() for word in alias.split() if len(word) >= 5
        )

    def __call__(self, heard: Heard) -> Frame:
        if heard.is_command:
            return Frame(heard=heard, text=heard.text)
        # Hesitation sounds carry nothing and split what belongs together ("au numéro euh deux cent quatre-vingt").
        text = " ".join(_HESITATION_SOUNDS.sub(" ", repair_asr_slips(expand_chat_shorthand(heard.text))).split())
        text = _without_false_starts(text, self._name_words)
        text = text or heard.text
        # "Le gymnase, euh, comment on l'appelle": the caller looking for a name says no part of it.
        text = " ".join(_NAME_FORGOTTEN.sub(" , ", text).split())
        # "31 av. Jean Jaurès": the abbreviation's full stop ends no sentence.
        text = _ABBREVIATION_STOP.sub(r"\1", text)
        # "bd Chave / av Foch": a slash before a second street names a corner.
        text = _CORNER_SLASH.sub(" à l'angle de ", text)
        text = self.places.with_split_communes_joined(text)
        # The caller's words as said go into the description; the places are read with split names joined.
        as_said, text = text, self.places.with_split_names_joined(text)
        folded = fold(text)
        # Numbers become digits once, for every reader of numbers (number words inside names are kept).
        said = spoken_to_digits(text)
        # A value said inside a negation ("c'est pas au 18, c'est au 28") is not where the problem is.
        affirmed = _without_negations(_said_once(said), self._commune_taken_back)
        place, verified = self._place(affirmed)
        place = self._commune_not_lived_in(affirmed, place)
        standing_in = self.gazetteer.landmark_commune(affirmed) if place.landmark and not place.commune else None
        if standing_in:
            place = replace(place, commune=standing_in)  # "au parc Borély": Marseille, unless one is known already
        if place.landmark and not place.street_name and self._known_street(place.landmark):
            # "Des sacs qui traînent autour du cours Julien": a well-known place that is a street is where, as a street.
            kind, name = place.landmark.split(" ", 1)
            place = replace(place, street_name=f"{kind.lower()} {name}", landmark=None)
        # "Je suis en voiture, ça capte mal": words about the call itself describe no problem.
        about_the_problem = _without_line_talk(as_said)
        if not about_the_problem and yes_or_no(_ALLO_OUI.sub(" ", text)) is None:
            # "Allô, allô oui, ça capte mal ici": nothing but the call itself; the "oui" of "allô oui" answers no
            # question ("oui, allô, ça capte mal" does).
            return Frame(heard=heard, text=text, holds_on=True)
        something_else = list(_SOMETHING_ELSE.finditer(_fold_in_place(about_the_problem)))
        if something_else:
            # "Merci pour le banc réparé l'an dernier. Cette fois c'est autre chose": what came
            # before is not this call's problem.
            about_the_problem = about_the_problem[something_else[-1].end() :].strip(" ,.;:!?…")
        # "La Fare-les-Oliviers" names no tree: the street's and the commune's names are set aside.
        commune_said = " ".join(self.places.words_naming(text, place.commune, bent=True)) if place.commune else None
        unnamed = _without_name(_without_name(about_the_problem, place.street_name), commune_said)
        category = self._category_beside(unnamed, place.landmark)
        if place.street_name and not place.landmark:
            # "Avenue X, devant la poste", "le gymnase du quartier, rue Y": what the problem is near,
            # or a public place named beside the street, narrows a long street.
            place = replace(place, landmark=near_landmark(affirmed) or self._landmark_beside(affirmed, place))
        if place.landmark:
            place = replace(place, landmark=with_commune_spelled(place.landmark, place.commune))
        yes_no = yes_or_no(text)
        phone = find_phone_number(said)
        doc = parse(text)
        description = self._from_the_problem(describe(about_the_problem), category)
        # "Allô oui pardon, ça a coupé, euh, dangereux non": the answer is what is left once the call is talked of.
        answered = " ".join(_ALLO_OUI.sub(" ", about_the_problem).split()) or text
        nlu_emergency = heard.intent == "emergency"
        burnt = burnt_out(text)
        emergency = said_plainly(doc, lambda words: emergency_evidence(words, nlu_emergency, burnt))
        burns_only = emergency and not said_plainly(
            doc, lambda words: emergency_evidence(words, nlu_emergency, burnt, burning=False)
        )
        # "Je parle à un robot ou à une vraie personne ?" asks about the bot; "pas moyen d'avoir une machine ou un
        # humain qui comprend ?" asks for one.
        asks_if_machine = bool(_ASKS_IF_MACHINE.search(folded) and not _HAVING_ONE.search(folded))
        frame = Frame(
            heard=heard,
            text=text,
            category=category,
            affirmed_category=self.taxonomy.match(affirmed),
            plausible_problem=category is not None or any(contains_phrase(folded, w) for w in PROBLEM_WORDS),
            wants_to_report=any(contains_phrase(folded, w) for w in WANTS_TO_REPORT),
            description=description,
            # Whether it says little is read from what the call is for; the story before it stays in the description.
            says_little=says_little(_what_the_call_is_for(description)),
            plain_words=in_plain_words(doc),
            content_words=count_content_words(doc),
            place=place,
            commune_of_landmark=bool(standing_in),
            street_verified=verified,
            separate_street_number=_last_said(find_separate_street_number, affirmed, alone=_bare_number)
            if not place.street_number
            else None,
            street_number_said=_last_said(find_street_number, affirmed, alone=_bare_number),
            lone_number=None if phone else _lone_number(affirmed),
            # "Elle a dû brûler, c'est une carcasse": a line that names the problem and places nothing is no place.
            free_landmark=free_text_landmark(text) if category is None or places_something(text) else None,
            place_beside_commune=(
                place_words_beside_communes(
                    text, self.gazetteer, self.places.words_naming(text, place.commune, bent=True)
                )
                or (None if place.street_name else landmark_in_a_quarter(text, self.gazetteer, place.commune))
                if place.commune
                else None
            ),
            danger=self._danger(answered, doc if answered == text else parse(answered)),
            names_danger=bool(_DANGER_NAMED.search(folded)),
            yes_no=yes_no,
            phone_number=phone,
            callback=None if phone else callback_said(fold(said)),
            correction=heard.intent == "correct" or sounds_like_correction(text),
            addition=_added_detail(text),
            names_field=_named_field(folded),
            emergency=emergency,
            burns_only=burns_only,
            # Worth one question: a negation two clauses up a run-on line ("je sais pas si c'est vous ... elle trouve
            # que ça sent bizarre") does not rule it out; "je crois pas que quelqu'un soit blessé" does.
            maybe_emergency=not emergency and said_plainly(doc, possible_emergency_evidence, max_clauses=1),
            speaks_of_what_could_happen=HYPOTHETICAL.search(folded) is not None,
            hazard_to_passers_by=_HAZARD_TO_PASSERS_BY.search(folded) is not None,
            holds_on=_HOLD_ON.search(folded) is not None,
            asks_if_machine=asks_if_machine,
            private_property=is_private_property(text),
            # "La place de la mairie" is where the problem is, not a question for the town hall.
            other_service=names_other_service(
                self._topics_of(_without_place(self._beyond_set_aside(text), place), category, place),
                category is not None,
                not place.is_empty(),
            ),
            asks_for_person=asks_for_person(_MACHINE_OR_PERSON.sub(" , ", folded) if asks_if_machine else folded),
            goodbye=says_goodbye(folded),
            will_call_elsewhere=any(contains_phrase(folded, w) for w in _WILL_CALL_ELSEWHERE),
            unsure=is_unsure(text),
            unintelligible=looks_unintelligible(text),
        )
        frame = replace(frame, out_of_scope=self._out_of_scope(frame), answer=_answering(yes_no, folded, frame))
        frame = replace(frame, danger_answer=self._danger_answer(frame))
        if frame.maybe_emergency and (frame.danger_answer is False or frame.answer is False):
            # "Non, elle est par terre, elle bouge plus": the caller has just said nobody is at risk.
            frame = replace(frame, maybe_emergency=False)
        return frame

    def _topics_of(self, text: str, category: Found | None, place: Place) -> str:
        """The words that may name another service's topic: "je suis taxi, je passe devant l'abribus" names the
        caller's trade beside a thing of the street ("je suis en bus et le chauffeur..." keeps its bus); "devant
        l'Alcazar, la bibliothèque" at a street's address names a kind of place, not the library's service."""
        folded = fold(text)
        if category is not None:
            folded = _OWN_WAY.sub(" , ", folded)
        if place.street_name:
            kinds = self.gazetteer.landmark_words
            folded = " ".join(word for word in folded.split() if word not in kinds)
        return folded

    def _beyond_set_aside(self, text: str) -> str:
        """ "C'était pour ma facture, mais ça c'est pas vous ; par contre y a une grille bouchée": what the caller sets
        aside before "par contre" is not what this call is for, when a problem in the street follows."""
        marks = list(_SET_ASIDE.finditer(_fold_in_place(text)))
        after = text[marks[-1].end() :] if marks else ""
        if after and self.taxonomy.match(after) is not None and describes_problem(after):
            return after
        return text

    def _from_the_problem(self, description: str | None, category: Found | None) -> str | None:
        """The description from the clause that names the problem: "je suis à la retraite moi hein alors c'est pour
        une voiture" describes "une voiture" (and says little: the caller is asked for more)."""
        if not description or category is None:
            return description
        start = 0
        for mark in _CLAUSE_STARTS.finditer(description):
            if self.taxonomy.match(description[: mark.start()]) is not None:
                break  # the problem is named before this clause: keep it
            if self.taxonomy.match(description[mark.start() :]) == category.value:
                start = mark.start()
        if start and _ABOUT_ONESELF.isdisjoint(fold(description[:start]).split()):
            return description  # "Capot ouvert, roues crevées": what comes first describes the problem too
        return describe(description[start:].strip(" ,.;:!?…")) if start else description

    def _kind_of_place(self, landmark: str) -> str | None:
        """The kind of place a landmark is, said first: "toilettes publiques du port" are toilets."""
        padded = f" {fold(landmark)} "
        said = [(padded.find(f" {kind} "), kind) for kind in self.gazetteer.landmark_words if f" {kind} " in padded]
        return min(said)[1] if said else None

    def _known_street(self, landmark: str) -> bool:
        """A landmark the gazetteer knows whose name is a street's ("Cours Mirabeau")."""
        words = fold(landmark).split()
        known = self.gazetteer.named_landmark(landmark) == landmark
        return known and len(words) > 1 and words[0] in FOLDED_STREET_TYPES

    def _category_beside(self, text: str, landmark: str | None) -> Found | None:
        """The problem named in the line, not by a landmark's own name: "la plage Lumière, les poubelles
        débordent" is about bins. The name is set aside only when the problem read came from it alone and the rest of
        the line names one ("devant la mairie lampadaire cassé" keeps its street light, whatever the landmark took)."""
        category = self._category(text)
        if category is not None and self._only_where(text, category):
            return None
        found = _words_in(text, fold(landmark or "").split())
        if category is None or found is None:
            return category
        rest = self._category(f"{text[: found.start()]} , {text[found.end() :]}")
        said_as_where = _SAID_AS_WHERE.search(f"{fold(text[: found.start()])} ") is not None
        from_the_landmark = self.taxonomy.match(landmark or "") == category.value
        if said_as_where and from_the_landmark and rest:
            # "Près de l'arrêt de bus il y a un nid de poule": the place is where, the hole what.
            return Found(rest.value, text)
        kind = self._kind_of_place(landmark or "")
        if (
            said_as_where
            and kind in _AREAS
            and self.taxonomy.match(kind or "") == category.value
            and rest is None
            and not (describes_problem(text) or _DAMAGED.search(fold(text)))
        ):
            # "Un souci au fond du jardin public": the kind of place says where the problem is, not what it is.
            return None
        # The landmark's own name: its words without the kinds of place it names ("aire de jeux", "plage").
        name = f" {fold(landmark or '')} "
        for place_kind in sorted(self.gazetteer.landmark_words, key=len, reverse=True):
            name = name.replace(f" {place_kind} ", " ")
        if not name.strip() or self.taxonomy.match(name) != category.value:
            return category
        return Found(rest.value, text) if rest else category

    def _only_where(self, text: str, category: Found) -> bool:
        """ "Je me promène avec mon chien dans le jardin": a kind of place said as where, the only word that gave the
        problem, with nothing described wrong: no problem named yet."""
        folded = fold(text)
        if describes_problem(text) or _DAMAGED.search(folded) or not _CALLER_GOING_ABOUT.search(folded):
            return False
        spans = {
            where.span()
            for where in _AREA_AS_WHERE.finditer(folded)
            if self.taxonomy.match(where.group(1)) == category.value
        }
        if not spans:
            return False
        # Every such place at once: "au parc Borély, dans le jardin" names two, and no problem.
        rest = _AREA_AS_WHERE.sub(lambda where: " , " if where.span() in spans else where.group(0), folded)
        return self._category(rest) is None

    def _category(self, text: str) -> Found | None:
        """The problem named, not the one the caller takes back: "c'est pas le lampadaire, c'est le feu" and "un
        problème d'éclairage, non pardon, le feu tricolore" name the traffic light."""
        # "Ils ont mis le feu aux poubelles": a fire set is no traffic light; what burnt says the problem.
        unhazarded = SET_ALIGHT.sub(" , ", _OWN_WAY.sub(" , ", _FOR_WHOM.sub(" , ", _fold_in_place(text))))
        # What follows a thing taken back is what the caller meant: "le banc, non pas le banc, la fontaine".
        kept = _NOT_THIS_ONE.sub(" , pardon , ", unhazarded)
        # A weak word after the caller's "pardon" ("pardon, un scooter va s'y tuer") does not undo a problem named.
        # "Des encombrants et des tags, mais le plus urgent c'est le frigo": the problem the caller puts first.
        # What the caller names next, a few words at most: "c'est surtout le trou, y a aussi des tags"; the first
        # pointer that names one.
        for main in _MAIN_PROBLEM.finditer(_fold_in_place(kept)):
            named = re.split(r"[.;,]", kept[main.end() :].lstrip(" ,"), maxsplit=1)[0].split()[:_MAIN_PROBLEM_WORDS]
            first = self.taxonomy.match(" ".join(named))
            if first:
                return Found(first, text)
        for main in _MAIN_PROBLEM_BEFORE.finditer(_fold_in_place(kept)):
            if not _RATED_LOWER.search(_fold_in_place(kept)):
                break  # "un arbre tombé sur un lampadaire, c'est le plus dangereux" rates the whole, not one thing
            # "Le nid de poule c'est le plus gênant, les tags c'est moins urgent": the thing rated, said before.
            named = re.split(r"[.;,:]", kept[: main.start()])[-1].split()[-_MAIN_PROBLEM_WORDS:]
            first = self.taxonomy.match(" ".join(named))
            if first:
                return Found(first, text)
        second = _SECOND_PROBLEM.search(_fold_in_place(kept))
        before = kept[: second.start()] if second else ""
        if second and second.group("also") and describes_problem(kept[second.end() :]):
            before = ""
        # Only a problem described before it ("la vitre est explosée"), not a thing or a place ("les voitures").
        described = before and (describes_problem(before) or _DAMAGED.search(fold(before)))
        said_first = self._category(before) if described else None
        if said_first:
            # "L'abribus a la vitre explosée, et en plus ils ont tagué le panneau": the problem said first is the
            # call's; the one added after is a second report.
            return Found(said_first.value, text)
        strong = _last_said(lambda said: self.taxonomy.match(said, weak=False), kept, clause=True)
        code = strong or _last_said(self.taxonomy.match, kept, clause=True) or self.taxonomy.match(unhazarded)
        return Found(code, text) if code else None

    def _place(self, said: str) -> tuple[Place, bool | None]:
        """The place in the line (numbers as digits); a value said inside a negation ("pas au 4, au 14") gives way
        to the other."""
        place = self._place_after_self_correction(said)
        spans = _negated_spans(said, self._commune_taken_back)
        if spans:
            without = self.places.parse(_without_negations(said, self._commune_taken_back))
            negated = [fold(said[start:end]) for start, end in spans]
            place = Place(
                _unless_negated(place.street_number, negated) or without.street_number,
                _unless_negated(place.street_name, negated) or without.street_name,
                _unless_negated(place.commune, negated) or without.commune,
                place.landmark or without.landmark,
            )
        put_right = _NUMBER_PUT_RIGHT.search(spoken_to_digits_folded(said))
        if (
            put_right
            and place.street_name
            and put_right.group(3) in (place.street_number, (find_street_number(said) or "").split(" ")[0])
        ):
            # "au 28 avenue d'Odessa... *82 pas 28": the number said again and taken back was the house's.
            number = f"{put_right.group(1)} {put_right.group(2)}" if put_right.group(2) else put_right.group(1)
            place = replace(place, street_number=number)
        if place.street_name and not place.street_number:
            place = replace(place, street_number=_number_after_street(said, place.street_name))
        return self.places.verify(place)

    def _commune_not_lived_in(self, said: str, place: Place) -> Place:
        """ "C'est à Aubagne. Je bosse à La Penne, je confonds": the commune the caller lives or works in is not
        where the problem is when the line names another."""
        folded = _fold_in_place(said)
        lived = list(_LIVES_IN.finditer(folded))
        if not lived or not place.commune:
            return place
        masked = said
        for found in reversed(lived):
            named = self.places.parse(said[found.end() : found.end() + 40]).commune
            if named != place.commune:
                continue
            tail = folded[found.end() :]
            words = self.places.words_naming(said[found.end() :], named)
            size = len(" ".join(words)) if words and tail.lstrip().startswith(" ".join(words)) else 0
            cut = found.end() + (len(tail) - len(tail.lstrip())) + size
            masked = f"{masked[: found.start()]} , {masked[cut:]}"
        if masked == said:
            return place
        other = self.places.parse(masked).commune
        return replace(place, commune=other) if other and other != place.commune else place

    def _landmark_beside(self, said: str, place: Place) -> str | None:
        """A public place the line names besides its street (the street's own words left out)."""
        folded, street = _fold_in_place(said), fold(place.street_name or "")
        at = folded.find(street) if street else -1
        if at < 0:
            return None
        rest = f"{said[:at]} , {said[at + len(street) :]}"
        landmark = self.places.parse(rest).landmark
        if landmark and any(contains_phrase(fold(landmark), word) for word in self.gazetteer.landmark_words):
            return landmark
        return None

    def _place_after_self_correction(self, said: str) -> Place:
        """ "Au 22, non pardon, au 32": what follows the caller's own correction wins, the rest of the line fills
        what it does not say."""
        place = self.places.parse(said)
        # The last correction that says something: "au 5, ah non pardon, au 15, je me suis trompé" is at 15.
        for mark in reversed(list(_SELF_CORRECTION.finditer(_fold_in_place(said)))):
            before = said[: mark.start()]
            number_before = re.search(r"\d\W*$", before) or self.places.parse(before).street_number
            if mark.group(0) in ("non", "nan") and not number_before:
                continue  # "trois voitures rue X, non quatre": a count put right, no house number taken back
            if (
                not _house_number_just_before(spoken_to_digits_folded(before))
                and not self.places.parse(said[mark.end() :]).street_name
            ):
                number_before = None  # "au 12 rue Paradis, deux voitures, euh non, trois": the count put right
            tail = said[mark.end() :]
            corrected = self.places.parse(tail)
            # "au 45 avenue de la Jarre, non pardon, au 54": the number said again alone is the house number.
            number = (
                corrected.street_number
                or (find_street_number(tail) if number_before or place.street_name else None)
                or (_bare_number(tail) if number_before else None)
            )
            if corrected.is_empty() and not number:
                continue
            return Place(
                number or place.street_number,
                corrected.street_name or place.street_name,
                corrected.commune or place.commune,
                corrected.landmark or place.landmark,
            )
        return place

    def _danger(self, text: str, doc: Any) -> bool | None:
        # "Ouais grave": the young caller's "totally", a yes that says nothing of danger by itself.
        totally = _YES_TOTALLY.sub(r"\1", text)
        if totally != text:
            return self._danger(totally, parse(totally))
        compared = _COMPARED_DANGER.sub(" , ", text)
        if compared != text:
            # "Le trou, c'est moins grave que le banc": a comparison between problems says nothing of their danger.
            return self._danger(compared, parse(compared))
        folded = fold(text)
        turned = list(_TURNED_ROUND.finditer(text.lower()))
        if turned and _opening_answer(text) is not None:
            # "Non... enfin si, un peu, pour les vélos": the caller's second thought is the answer.
            tail = fold(text[turned[-1].end() :])
            second = self._danger(tail, parse(tail))
            second = second if second is not None else _opening_answer(tail)
            if second is not None:
                return second
        unsure = _UNSURE_FIRST.search(folded)
        after_doubt = folded[unsure.end() :].split() if unsure else []
        if (
            after_doubt[:1] in (["non"], ["nan"], ["oui"], ["ouais"], ["bof"])
            and after_doubt[:2] != ["non", "plus"]
            and not {"ou", "mais", "sauf"} & set(after_doubt)
            and not _HARM_SAID.search(" ".join(after_doubt))
        ):
            # "Dangereux, je sais pas moi, non pas vraiment": the doubt is thought aloud, the answer follows it
            # ("je sais pas, non, mais quelqu'un pourrait tomber" is still read whole).
            tail = " ".join(after_doubt)
            settled = self._danger(tail, parse(tail))
            settled = settled if settled is not None else _opening_answer(tail)
            if settled is not None:
                return settled
        if _NOT_YET.search(folded) and _HARM_DONE.search(folded) and mentions_danger(text) is not False:
            # "Non, pas d'accident pour l'instant", "personne n'est tombé pour le moment": a harm not done yet is
            # the danger the caller reports.
            return True
        contrast = _CONTRAST.split(text)
        before, after = " ".join(contrast[:-1]), contrast[-1]
        if len(contrast) > 1 and mentions_danger(before) is None and _DANGER_NAMED.search(fold(after)):
            # "Pour l'instant non, mais quand il pleut c'est dangereux": the danger is named only after the "but",
            # which is the caller's conclusion ("pas dangereux, mais on peut tomber" keeps its first verdict).
            return self._danger(after, parse(after))
        echoed = _after_echoed_question(text)
        if echoed is not None:
            # "Dangereux ? Bof, non": the question's word said back states nothing; the answer is what follows.
            said = self._danger(echoed, parse(echoed))
            if said is not None:
                return said
            opening = _opening_answer(echoed)
            return opening if opening is not None else yes_or_no(echoed)
        opening = _opening_answer(text)
        stated = mentions_danger(text)
        polarity = polarity_of(doc, DANGER_KEYS)
        if opening is False and polarity is not True and (stated is not None or polarity is not None):
            # "Pas vraiment, on fait attention c'est tout", "dangereux ? non, à part les échardes": the no opens the
            # answer, the rest says how small.
            return False
        if stated is None or polarity is None:
            return stated if stated is not None else polarity
        # The parse knows the scope of a negation the patterns cannot see ("je pense pas que ce soit dangereux").
        return polarity if stated else False

    def _danger_answer(self, frame: Frame) -> bool | None:
        """The line as an answer to "is it dangerous?": what it says of the danger, else its yes or no; a line that
        gives something else ("c'est pas loin de l'école") does not answer it."""
        if frame.danger is not None:
            return frame.danger
        if frame.answer is not None:
            return frame.answer
        if not frame.describes_something():
            return danger_answer(frame.text)
        # "Bah, pas trop, il y a juste une flaque": the answer stands alone before what the caller goes on to say;
        # said without a pause ("bah un peu oui les voitures passent vite"), it still opens the line.
        opens_with = _opening_answer(frame.text)
        if opens_with is not None:
            return opens_with
        clauses = _CLAUSE_END.split(frame.text)
        for end in range(1, min(len(clauses), 3)):
            opening = " ".join(clauses[:end])
            if len([w for w in fold(opening).split() if w not in _HESITATIONS]) > _ENOUGH_CONTENT_WORDS:
                break
            answer = danger_answer(opening)
            if answer is not None:
                return answer
        return None

    def _out_of_scope(self, frame: Frame) -> bool:
        """Private property ("le robinet de ma cuisine goutte"), or another service's topic (taxes, neighbours' noise,
        documents, timetables) without a problem in the street described."""
        if frame.private_property:
            found = self.taxonomy.by_code(frame.category.value) if frame.category else None
            return not (found and found.covers_private_property)
        return frame.other_service


_YES_TOTALLY = re.compile(r"(?:^|(?<=[,.;!?]))\s*(oui|ouais|ouai|carrément|carrement|clair)\s+grave\b", re.IGNORECASE)
# A yes or no turned round in the same answer; "enfin si on veut" is no yes.
_TURNED_ROUND = re.compile(
    # the yes or no stands alone ("enfin si, un peu"), not as a conjunction ("enfin si les gens font attention")
    r"\b(?:enfin|bon|ou plutôt|ou plutot|quoique|à la réflexion|a la reflexion)\W+"
    r"(?=(?:si|oui|non)(?:\s*(?:[,.;!?…]|$)|\s+(?:quand m[eê]me|un peu|assez|carrément|vraiment)\b))"
)
# Harm or care said after the answer ("non, les gens tombent dedans"): the line is read whole, not by its "non".
_HARM_SAID = re.compile(r"\b(?:tomb\w*|bless\w*|attention|profond\w*|dangere\w*|risqu\w*|glisse\w*|chut\w*|mal)\b")
_UNSURE_FIRST = re.compile(
    r"\b(?:je (?:ne )?sais (?:pas|plus)|j sais pas|chais pas|j en sais rien)(?: moi| trop| hein| bien)*\b"
)
_COMPARED_DANGER = re.compile(r"\bmoins (?:grave|graves|dangereu\w*)\b", re.IGNORECASE)
_NOT_YET = re.compile(r"\b(?:pour l instant|pour le moment|pas encore|jusqu a present|jusqu ici|pour l heure)\b")
_HARM_DONE = re.compile(
    r"\b(?:accident\w*|tombe\w*|blesse\w*|renverse\w*|mort|morts|casse la figure|"
    r"(?:s est|se sont|se soit|se faire|s etait) (?:fait|faits|faite) (?:du )?mal)\b"
)
# The caller asks for a moment or cannot hear: nothing is answered yet.
_HOLD_ON = re.compile(
    r"\b(?:attendez|attends|un instant|une seconde|deux secondes|une minute|quittez pas|"
    r"(?:je vous|j) entends? (?:mal|pas|plus|rien)|je vous entends? tres mal)\b"
)
_DANGER_NAMED = re.compile(r"\b(?:danger\w*|risque\w*|perilleu\w*)\b")
_ECHOED_DANGER_WORDS = frozenset({"danger", "dangereux", "dangereuse", "dangereuses"})
# "que": the South's emphatic "oh que oui", "que non".
_BEFORE_AN_ANSWER = frozenset(
    {"ah", "oh", "eh", "alors", "quoi", "comment", "hein", "ecoutez", "vous", "savez", "que", "pardon", "allo"}
)
_OPENING_NO = (
    ("non",),
    ("nan",),
    ("bof",),
    ("pas", "vraiment"),
    ("pas", "trop"),
    ("pas", "du", "tout"),
    ("du", "tout"),
    ("pas", "tellement"),
    ("pas", "specialement"),
    ("pas", "particulierement"),
    ("absolument", "pas"),
)
_OPENING_YES = (("oui",), ("ouais",), ("si",), ("un", "peu"), ("assez",), ("tres",), ("carrement",))


def _after_echoed_question(text: str) -> str | None:
    """What follows the question's own word when the caller opens by saying it back ("dangereux, bah non")."""
    words = [w for w in re.split(r"[\s,.!?;…]+", text) if w]
    while words and fold(words[0]) in _HESITATIONS | _BEFORE_AN_ANSWER:
        words.pop(0)
    if len(words) < 2 or fold(words[0]) not in _ECHOED_DANGER_WORDS:
        return None
    return " ".join(words[1:])


def _opening_answer(text: str) -> bool | None:
    """The yes or no a line opens with, after fillers and the question's own word said back ("dangereux ? bah
    non, ..."); None when it opens with anything else ("je pense pas que ...", "les voitures ...")."""
    words = [w for w in fold(text).split() if w not in _HESITATIONS]
    while words and (words[0] in _BEFORE_AN_ANSWER or words[0] in _ECHOED_DANGER_WORDS):
        words.pop(0)
    for phrases, answer in ((_OPENING_NO, False), (_OPENING_YES, True)):
        if any(tuple(words[: len(phrase)]) == phrase for phrase in phrases):
            # "Bof, ... on y trébuche, oui un peu quand même": the caller concedes at the end.
            return True if answer is False and _CONCEDED_YES.search(" ".join(words[1:])) else answer
    return None


# A yes that closes a line after a hedge ("... oui un peu quand même", "... si quand même"); a closing "non" is
# often a tag question ("c'est dangereux non ?"), so only a yes turns the answer round.
_CONCEDED_YES = re.compile(r"\b(?:oui|ouais|si)(?: un peu| assez| quand meme| finalement| en fait)+(?: hein| quoi)?$")


def mumbled(text: str) -> bool:
    """ "Euh… mmh": hesitation sounds only, no word said."""
    return not any(c.isalnum() for c in _HESITATION_SOUNDS.sub(" ", text))


def describe(text: str) -> str | None:
    """The caller's description: the line without the words that only open or close the call ("svp", "merci")."""
    text = _CLOSING_COURTESY.sub("", text) or text
    words = text.split()
    folded_words = [fold(w) for w in words]
    opening = _PREAMBLE.match(" ".join(w for w in folded_words if w))
    if not opening or not opening.group(0).strip():
        return text.strip() or None
    # Count the folded words the preamble took and drop as many from the caller's own words.
    taken = len(opening.group(0).split())
    kept: list[str] = []
    seen = 0
    for word, folded in zip(words, folded_words, strict=True):
        seen += len(folded.split())
        if seen > taken:
            kept.append(word)
    described = " ".join(kept).strip(" ,.;")
    return described or text.strip() or None


_CLOSING_COURTESY = re.compile(
    r"[\s,.;!]*(?<!\bde la )(?<!\bdu )(?<!\bde )\b"
    r"(?:svp|stp|s'il vous pla[iî]t|s il vous pla[iî]t|s'il te pla[iî]t|merci(?: beaucoup| d'avance)?)"
    r"[\s.!]*$",
    re.IGNORECASE,
)
# Parts of speech that carry what a caller describes.
_CONTENT_POS = frozenset({"NOUN", "PROPN", "ADJ", "VERB", "ADV", "NUM"})
_ENOUGH_CONTENT_WORDS = 3


def spoken_to_digits_folded(text: str) -> str:
    return fold(spoken_to_digits(text))


def in_plain_words(doc: Any) -> bool:
    """Most words of the line are everyday French: the pipeline has a vector for them."""
    words = [t for t in doc if t.is_alpha]
    return bool(words) and sum(1 for t in words if t.has_vector) * 2 > len(words)


# "Mettez aussi qu'il y a un frigo", "précisez que c'est le deuxième", "il faut ajouter que ...": the caller asks
# for words to be added to the report; what follows "que" is the addition.
_ADDITION = re.compile(
    r"(?<!\bai )(?<!\bavez )(?<!\ba )(?<!\best )"
    r"\b(?:r?ajout|mett|précis|precis|not|écri|ecri|indiqu)(?:ez|er)\s+(?:aussi\s+|également\s+|egalement\s+)?"
    r"(?:que\s+|qu')(?P<added>.{3,})",
    re.IGNORECASE,
)


# "J'ai oublié, il y a aussi une flaque": something else there, told on top of the problem.
_ALSO_THERE = re.compile(
    r"\b(?:il y a|il y'a|y a|ya|y'a) (?:aussi|également|egalement|en plus)\s+(?P<added>.{3,})", re.IGNORECASE
)


def _added_detail(text: str) -> str | None:
    if text.rstrip().endswith("?"):
        return None  # "c'est noté que vous allez venir ?" asks, adds nothing
    match = _ADDITION.search(text) or _ALSO_THERE.search(text)
    return match.group("added").strip(" .,!") if match else None


def count_content_words(doc: Any) -> int:
    """Words of the line that say something: "pas ramassés" has one, "non merci" and "euh ben non" none."""
    return sum(
        1
        for t in doc
        if t.pos_ in _CONTENT_POS
        and not t.is_stop
        and fold(t.text) not in _HESITATIONS
        and fold(t.text) not in _OPENING_ANSWERS
        and fold(t.text) not in _YES_WORDS
    )


def _what_the_call_is_for(description: str | None) -> str | None:
    marks = list(_CALL_IS_FOR.finditer(description or ""))
    return (description or "")[marks[-1].end() :] if marks else description


def says_little(description: str | None) -> bool:
    """A description of a few words that names the thing more than it says what is wrong ("un lampadaire", "abribus
    cassé"): worth one question for more. The caller's doubt says nothing of what is wrong ("je crois", "je pense")."""
    if not description:
        return True
    content = [
        t
        for t in parse(description)
        if t.pos_ in _CONTENT_POS
        and not t.is_stop
        and fold(t.text) not in _HESITATIONS
        and fold(t.lemma_) not in _DOUBT_VERBS
    ]
    return len(content) < _ENOUGH_CONTENT_WORDS


_DOUBT_VERBS = frozenset({"croire", "penser", "savoir", "supposer", "sembler"})


_SOMEONE_TO_ASK = re.compile(
    r"\b(?:services?|vive voix|humains?|robots?|machines?|quelqu un|s il vous plait|svp|police|interlocut\w*)\b"
)


def words_of_asking(text: str) -> bool:
    """Whether the line has a verb of asking or someone to ask for: DIET's request for a person is believable then
    ("vous pouvez me passer le service technique"), not in a line that only describes."""
    folded = fold(text)
    return bool(_ASKING.search(folded) or _PERSON_ASKED.search(folded) or _SOMEONE_TO_ASK.search(folded))


def asks_for_person(folded: str) -> bool:
    """ "Passez-moi un conseiller", "un humain s'il vous plaît", "pas un robot", "je voudrais une vraie personne";
    not when taken back later in the line ("passez-moi quelqu'un, ah non, laissez tomber"), unless asked again."""
    withdrawn = [m for m in _REQUEST_WITHDRAWN.finditer(folded) if _goes_on_with_the_bot(folded[m.end() :])]
    if not withdrawn:
        return _asks_for_person_in(folded)
    if _asks_for_person_in(folded[withdrawn[-1].end() :]):
        return True
    if _asks_for_person_in(folded[: withdrawn[0].start()]):
        return False
    return _asks_for_person_in(folded)


def _goes_on_with_the_bot(rest: str) -> bool:
    """After taking a request back, the caller goes on: says so, or describes the problem."""
    return bool(_GOES_ON_WITH_THE_BOT.search(rest) or describes_problem(rest))


def _asks_for_person_in(folded: str) -> bool:
    content = [w for w in folded.split() if w not in _HESITATIONS]
    refusals = [m.end() for m in _REFUSING_MACHINE.finditer(folded)]
    if any(
        0 <= m.start() - end <= _REFUSED_WITHIN and not _CLAUSE_OPENS.search(folded[end : m.start()])
        for m in _MACHINE.finditer(folded)
        for end in refusals
    ):
        # "pas un robot", "marre de cette machine"; not "je sais pas comment marche votre machine", nor "je sais plus,
        # c'est un robot ?" (the machine opens a clause of its own)
        return True
    if _SOMEONE_THERE.search(folded):
        return True
    if not _PERSON_ASKED.search(folded):
        return False
    if re.search(r"\bquelqu un (est|a|s est|qui|se)\b|\bpersonne (ne|n|qui)\b", folded):
        return False  # "quelqu'un est tombé", "personne ne passe": about someone, not asking for someone
    if len(content) <= 5:
        return True
    # In a longer line the person is what the caller asks for, right after the asking words ("passez-moi une
    # personne"), not anywhere ("ma voisine, une personne handicapée, voulait vous signaler").
    asked_at = [m.end() for m in _ASKING.finditer(folded)]
    return any(0 <= m.start() - end <= _ASKED_WITHIN for m in _PERSON_ASKED.finditer(folded) for end in asked_at)


def says_goodbye(folded: str) -> bool:
    """ "Au revoir", also with a hesitation inside ("au euh revoir")."""
    content = " ".join(w for w in folded.split() if w not in _HESITATIONS)
    return any(contains_phrase(content, w) for w in GOODBYE_WORDS)


def _named_field(folded: str) -> str | None:
    for name, words in _FIELD_NAMES:
        if any(contains_phrase(folded, w) for w in words):
            return name
    return None


def _negated_spans(said: str, also: re.Pattern[str] | None = None) -> list[tuple[int, int]]:
    folded = _fold_in_place(said)
    spans = [m.span() for m in _NEGATED_VALUE.finditer(folded)]
    if also is not None:
        spans += [m.span() for m in also.finditer(folded) if not any(a <= m.start() < b for a, b in spans)]
    return sorted(spans)


# A call back named: the verb, or the number the caller is on ("sur ce numéro", not "sur le numéro 12").
_CALLBACK_CUE = re.compile(
    r"\b(?:rappel(?:ez|er|le|les|lez)|recontact(?:ez|er))\b"
    r"|\b(?:sur|a|au) (?:ce|le meme|mon|le) (?:numero|portable|telephone|fixe)\b(?! \d)"
)
# Declined: a negation in the few words before the cue, or right after the verb ("ne me rappelez pas", "pas la
# peine de me rappeler", "inutile de rappeler", "rappelez moi pas"); a yes after the negation turns it back.
_CALLBACK_NEGATIONS = frozenset({"pas", "ne", "n", "inutile", "non", "jamais", "degun"})  # degun: nobody (Provence)
_CALLBACK_TURNS_BACK = frozenset({"oui", "si", "mais", "ouais"})
# "Rappelez-moi pas" declines; a "pas" that opens a complement does not ("rappelez-moi, pas la peine de laisser
# un message", "rappelez-moi pas avant midi").
_CALLBACK_DECLINED_AFTER = re.compile(
    r"^(?: \w+)?? (?:pas|jamais)\b"
    r"(?! (?:la peine|besoin|de|d|la|le|les|des|un|une|avant|apres|trop|tard|tot|que|qu|si|en|sur|au|a)\b)"
    r"|\b(?:pas la peine|pas besoin|inutile) (?:de|d) (?:me |nous )?(?:rappel|recontact)"
)
# "Oui rappelez-moi ... euh non, laissez tomber": taken back later in the line.
_TAKEN_BACK = re.compile(
    r"\b(?:laiss\w* tomber|finalement non|non finalement|non en fait|en fait non)\b"
    # "pas la peine", "non merci" end the line: "pas la peine de laisser un message" is about something else.
    r"|\b(?:pas la peine|inutile|non merci)(?: de me rappeler| de rappeler)?\s*$"
)


def callback_said(folded: str) -> bool | None:
    """A call back accepted (True) or declined (False) in words, whatever question was pending; None: not said."""
    cue = _CALLBACK_CUE.search(folded)
    if cue is None:
        return None
    if _CALLBACK_DECLINED_AFTER.search(folded[cue.end() :]) or _TAKEN_BACK.search(folded[cue.end() :]):
        return False
    declined = False
    for word in folded[: cue.start()].split()[-5:]:
        declined = True if word in _CALLBACK_NEGATIONS else False if word in _CALLBACK_TURNS_BACK else declined
    return not declined


def _lone_number(said: str) -> str | None:
    """The only number of a short line, with its bis/ter: "euh le vingt-deux" -> "22"."""
    words = fold(said).split()
    numbers = [i for i, word in enumerate(words) if re.fullmatch(r"[1-9]\d{0,3}", word)]
    if len(words) > 6 or len(numbers) != 1:
        return None
    at = numbers[0]
    suffix = words[at + 1] if at + 1 < len(words) and words[at + 1] in ("bis", "ter", "quater") else None
    return f"{words[at]} {suffix}" if suffix else words[at]


# A danger said as the place's hazard to whoever passes ("dangereux pour les vélos", "pour les gens âgés
# surtout") or hedged ("un peu"): no one in danger at this moment.
_HAZARD_TO_PASSERS_BY = re.compile(
    r"\b(?:dangereu\w*|danger|risque\w*)\b(?: \w+){0,2}? pour (?:les|des|le|la|l|un|une|nos|mes|tous|tout)\b|"
    r"\bun (?:petit )?peu(?: dangereu\w*)?\b"
)


# What a caller says about the call itself: the line, the network, where they are calling from.
_LINE_TALK = re.compile(
    # "ça capte mal ici dans la colline": where the caller is calling from goes with it
    r"\b(?:ca|sa) (?:(?:capte|gresille|coupe) (?:mal|pas|plus)|coupe(?= ?(?:la\b ?)?(?:[,.;!?]|allo\b|$)))"
    r"(?: (?:ici|la haut|la bas|la))?"
    r"(?:,? (?:dans|sur|sous|en) (?:la |le |les |l |un |une |mon |ma )?\w+)?\b|"
    r"\b(?:ca|sa) passe mal\b|\bje (?:capte|capte rien|capte pas)\b|"
    # "ça a coupé, euh, dangereux non" talks of the line; "ça a coupé la route" of the problem
    r"\b(?:ca|sa) (?:a|vient de) coupe\b(?! (?:la|le|les|l|un|une|des|du|de|mon|ma|tout|net|court|en|au|aux|a)\b)|"
    r"\b(?:pas|plus|peu) de (?:reseau|batterie)\b|\bje (?:vous )?(?:entends|entend) (?:mal|pas|rien|plus)\b|"
    r"\bvous m entendez\b|\bje suis (?:en voiture|au volant|dans (?:le|mon) (?:bus|train|metro|tram|camion)|"
    r"dans (?:la|ma) voiture)\b|"
    r"\bla ligne (?:est mauvaise|coupe|gresille)\b"
)


def _without_line_talk(text: str) -> str:
    """The line without the caller's words about the call (positions kept by folding in place)."""
    talk = list(_LINE_TALK.finditer(_fold_in_place(text)))
    if not talk:
        return text
    kept = text
    for found in reversed(talk):
        kept = f"{kept[: found.start()]} , {kept[found.end() :]}"
    # "Allô, oui, là, ça capte mal": nothing but the call's openings is left.
    kept = _LEFT_OPEN.sub("", kept)
    return kept if set(fold(kept).split()) - _CALL_OPENINGS else ""


_ALLO_OUI = re.compile(r"\ball[oô]\W+(?:oui|ouais)\b", re.IGNORECASE)
_LEFT_OPEN = re.compile(r"^[\s,.;]*(?:(?:et|mais|donc|puis)\b[\s,]*)?", re.IGNORECASE)


_CALL_OPENINGS = frozenset(
    "allo oui ouais la euh bonjour bonsoir alors bon ben bah et hein madame monsieur voila attendez pardon".split()
)


def _said_once(said: str) -> str:
    """The line (numbers as digits) with what the caller said twice in a row said once: "rue Sainte, rue Sainte",
    "au 142, 142", "au 13, un trois" (the number spelled after it). Phone numbers are read from the line as said:
    their pairs may repeat."""
    once = _NUMBER_SPELLED.sub(lambda m: m.group(1) if m.group(2).replace(" ", "") == m.group(1) else m.group(0), said)
    once = _NUMBER_SAID_TWICE.sub(r"\1", once)
    return _PHRASE_SAID_TWICE.sub(lambda m: m.group(1) if re.search(r"[^\W\d]", m.group(1)) else m.group(0), once)


_NUMBER_SPELLED = re.compile(r"\b(\d{2,4})[ ,]+((?:\d ){1,3}\d)\b")
_NUMBER_SAID_TWICE = re.compile(r"\b(\d{3,4})[ ,]+\1\b")
_PHRASE_SAID_TWICE = re.compile(r"\b((?:[\w'-]+ ){1,3}[\w'-]+)[ ,]+\1\b", re.IGNORECASE)


def _number_after_street(said: str, street: str) -> str | None:
    """ "Avenue Corot, le 40", "rue X à Saint-Just au 12": the house number said after its street."""
    words = fold(street).split()
    if len(words) > 1 and words[0] in FOLDED_STREET_TYPES:
        words = words[1:]  # the type may have been said short ("av Corot")
    found = _words_in(said, words)
    if not found:
        return None
    after = said[found.end() :]
    number = find_street_number(after, cues=("le", "au", "numero", "n"))
    if number is None or re.search(rf"\b{re.escape(number)}\s+(?:{_MONTHS})\b", fold(after)):
        return None  # "le 14 juillet" is a date
    return number


_MONTHS = "janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre"


def _without_negations(said: str, also: re.Pattern[str] | None = None) -> str:
    """The line (numbers as digits) without the values said inside a negation."""
    kept = said
    for start, end in reversed(_negated_spans(kept, also)):
        kept = f"{kept[:start]} , {kept[end:]}"
    return kept


# "Au 40, euh non pardon, 14, 14": a house number said alone (and again) right after the correction.
_BARE_NUMBER = re.compile(
    r"^\W*([1-9]\d{0,3})(?:\s+\1)?(?:\s+(bis|ter|quater))?\b(?!\s*\d)"
    # then nothing, or a word of place: "vingt mètres plus loin", "trois secondes" are no house number
    r"(?=\s*$|\s*[,.;!?]|\s+(?:a|au|aux|dans|devant|pres|vers|rue|avenue|boulevard|bd|av|chemin|"
    r"route|place|impasse|allee|cours|quai|c est|voila|hein|oui|je)\b)"
)


_NUMBER_OF_A_STREET = re.compile(r"\b\d+ (?:bis |ter )?(?:" + "|".join(sorted(FOLDED_STREET_TYPES)) + r")\b")
_HOUSE_NUMBER_LAST = re.compile(r"\b(?:au|le|numero|n) \d+(?: bis| ter)?(?:\W+(?:euh|heu))*\W*$")
_COUNT_WORDS = re.compile(r"\b(?:un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|\d+)\b")


def _house_number_just_before(before: str) -> bool:
    """Whether the last number said before a correction is a house number ("au 48, euh non", "48 avenue de Toulon,
    euh non"), not a count said after it ("au 12 rue Paradis, y a deux voitures, euh non")."""
    if _HOUSE_NUMBER_LAST.search(before):
        return True
    streets = list(_NUMBER_OF_A_STREET.finditer(before))
    return bool(streets) and not _COUNT_WORDS.search(before[streets[-1].end() :])


# "82 pas 28", "c'est 82 et pas 28": a number said, then the one it replaces.
_NUMBER_PUT_RIGHT = re.compile(
    r"(?<![\d.])([1-9]\d{0,3})(?: (bis|ter))? (?:et |mais )?pas (?:le |au |du |numero )?([1-9]\d{0,3})\b(?![\d.])"
    # then the clause ends: "sept pas dix sacs" counts the bags
    r"(?=\s*$|\s*[,.;!?]|\s+(?:pardon|desole|dsl|excusez|je|c est|voila|merci)\b)"
)


def _bare_number(tail: str) -> str | None:
    found = _BARE_NUMBER.match(spoken_to_digits_folded(tail))
    if not found:
        return None
    return f"{found.group(1)} {found.group(2)}" if found.group(2) else found.group(1)


def _last_said(
    find: Callable[[str], str | None],
    said: str,
    clause: bool = False,
    alone: Callable[[str], str | None] | None = None,
) -> str | None:
    """What `find` reads in the line, from the part after the caller's last self-correction when it says it there
    (with `clause`, in the clause right after it: "à Rognac, enfin non, à Berre. Il fuit" corrects the
    commune, not the problem); `alone` reads what may stand alone right after a correction ("au 48, euh non, 38")."""
    for mark in reversed(list(_SELF_CORRECTION.finditer(_fold_in_place(said)))):
        after = said[mark.end() :]
        if clause:
            after = re.split(r"[.;]", after.lstrip(" ,"), maxsplit=1)[0]
        # A number alone puts a house number right ("au 48, euh non, 38"), not a count ("y en a trois, euh non,
        # quatre, rue Paradis").
        number_before = _house_number_just_before(spoken_to_digits_folded(said[: mark.start()]))
        corrected = find(after) or (alone(after) if alone and number_before else None)
        if corrected:
            return corrected
    return find(said)


def _without_place(text: str, place: Place) -> str:
    """The line without the street's name, nor a landmark said where the problem is ("devant la mairie"); a
    landmark the caller addresses stays ("c'est bien la mairie ?", "le numéro de la mairie")."""
    text = _without_name(text, place.street_name)
    found = _words_in(text, fold(place.landmark or "").split())
    if found and _LOCATIVE_BEFORE.search(_fold_in_place(text[: found.start()])):
        return f"{text[: found.start()]} , {text[found.end() :]}"
    return text


_LOCATIVE_BEFORE = re.compile(
    r"\b(?:devant|derriere|sur|dans|vers|pres|cote|face|niveau|long|bout|sortie|entree|coin)"
    r"(?: (?:de|du|des|d))?(?: (?:la|le|les|l))? $"
)


def _without_name(text: str, name: str | None) -> str:
    """The line without a place's name: "rue Saint-Pierre" names no stones, "rue des Lilas" no flower bed, "place de
    la Mairie" asks nothing of the town hall."""
    found = _words_in(text, fold(name or "").split())
    return f"{text[: found.start()]} , {text[found.end() :]}" if found else text


def _words_in(text: str, words: list[str]) -> re.Match[str] | None:
    """Where the folded `words` stand together in `text` (a span of the original text), if they do."""
    return re.search(r"\b" + r"\s+".join(map(re.escape, words)) + r"\b", _fold_in_place(text)) if words else None


def _fold_in_place(text: str) -> str:
    """Lower case without accents, every character where it was (so spans found here cut the original text)."""
    out = []
    for char in text.lower():
        base = unicodedata.normalize("NFKD", char)[:1]
        out.append(base if base.isalnum() or char in ",.;" else " ")
    return "".join(out)


def _unless_negated(value: str | None, negated_spans: list[str]) -> str | None:
    """The value, unless it was only said inside a negation."""
    if not value:
        return None
    key = fold(value)
    # "pas bd Pécout": a street taken back with its type abbreviated, or without it, is taken back all the same.
    words = key.split()
    name = " ".join(words[1:]) if len(words) > 1 and words[0] in FOLDED_STREET_TYPES else None
    keys = [key, name] if name else [key]
    return None if any(contains_phrase(span, k) for span in negated_spans for k in keys) else value


_NAME_FORGOTTEN = re.compile(
    r"\bcomment (?:elle|il|ça|ca|on) (?:s'appelle|s appelle|l'appelle|l appelle|la nomme|le nomme)(?: d[ée]j[àa])?\b"
    r"|\bcomment dire\b|\bj'ai oubli[ée] (?:le|son) nom\b",
    re.IGNORECASE,
)
_CONTRAST = re.compile(r"\bmais\b", re.IGNORECASE)


def _without_false_starts(text: str, names: frozenset[str]) -> str:
    """ "cours bel belsunce", "à roque roquevaire": the start of a name the caller begins again whole is dropped
    (a word of three letters or more, not a function word, that the next one, a longer name, starts with; "le gaz
    la gazinière" keeps its gas)."""
    folded = _fold_in_place(text)
    cut = [
        m.span()
        for m in _FALSE_START.finditer(folded)
        if m.group(1) not in _FUNCTION_WORDS and len(m.group(2)) >= len(m.group(1)) + 2 and m.group(2) in names
    ]
    for start, end in reversed(cut):
        text = text[:start] + text[end:]
    return text


_FALSE_START = re.compile(r"\b([a-z]{3,}) (?:(?:de|du|d|la|le) )?(?=(\1[a-z]+)\b)")
_FUNCTION_WORDS = frozenset(
    "les des mes tes ses ces mon ton son nos vos leur par pour sur sous dans une aux car mais que qui est ont pas "
    "plus bon ben bah tout tous elle ils nous vous avec chez entre vers rue non oui saint sainte".split()
)
_HESITATION_SOUNDS = re.compile(r"\b(?:e+u+h+|h+e+u+|hu+m+|hm+|mm+h*)\b[,.]?", re.IGNORECASE)
# Who the danger is for names no problem: "dangereux ? oui, pour les voitures".
_FOR_WHOM = re.compile(
    r"\b(?:dangereu\w*|danger|risque\w*)\b"
    r"(?:\W+(?:oui|ouais|si|surtout|tres|trop|vraiment|un|peu|assez|ah|oh|bah|ben|euh|quand|meme|aussi|c|est|ca))*"
    r"\W+pour (?:les|des|le|la|l|un|une|nos|mes)\s+\w+"
)
# How the caller goes about, their own vehicle or their trade: "je suis coursier en moto", "j'étais en voiture".
_RIDING = (
    r"(?:en|a|dans ma|dans mon|sur mon|sur ma) "
    r"(?:scooter|moto|voiture|velo|trottinette|camion|camionnette|bus|taxi|mobylette|utilitaire|car)"
)
_OWN_WAY = re.compile(
    r"\b(?:je suis|j etais|on est|on etait|je passais|je roulais|je rentrais|j allais)"
    rf"(?: (?:livreur|livreuse|chauffeur|chauffeuse|taxi|routier|coursier|coursiere)(?: {_RIDING})?| {_RIDING})\b"
    r"|\b(?:mon|ma|notre) (?:scooter|moto|voiture|velo|trottinette|camion|camionnette|taxi|mobylette|utilitaire)\b"
)
# "Un trou ou c'est autre chose ?" is a doubt, not a problem set aside.
# "sinon ils vont me couper l'eau" is "otherwise": no set-aside before a future.
_SET_ASIDE = re.compile(
    r"\b(?:par contre|en revanche|mais sinon|sinon)\b(?!,? (?:ils|elles|on|je|il|elle|ca) (?:vont|va|vais)\b)"
)
_SOMETHING_ELSE = re.compile(
    r"(?<!\bou )(?<!\bsi )\bc est (?:pour )?(?:autre chose|une autre chose|un autre probleme|un autre souci)\b"
)
# How callers rate one problem above the others.
_RATINGS = r"(?:urgente?|importante?|grave|genante?|embetante?|dangereux|dangereuse)"
_MAIN_PROBLEM = re.compile(
    rf"(?:\b(?:le plus|ce qui est le plus) {_RATINGS}\b"
    r"(?: c est| ce sont| c)? "
    r"|\bc est surtout(?: pour)? |\b(?:commencez|commencons) par "
    # "on commence par le plus grave, la fuite": the caller's own pointer may pause before the thing named
    r"|\b(?:je commence|on commence|je vais commencer) par(?: le plus \w+)?[ ,:;.]+)"
    r"(?=(?:le|la|les|l|un|une|des|du|mon|ma|mes|ce|cette|ces) )"
)
_MAIN_PROBLEM_WORDS = 4
_RATED_LOWER = re.compile(r"\b(?:moins|pas grave|pas urgent|peut attendre|secondaire)\b")
_MAIN_PROBLEM_BEFORE = re.compile(
    rf" (?:c est|ce sont|c est ca|est) (?:le plus|la plus|ce qu il y a de plus) {_RATINGS}\b"
)
# A place said as where: "dans le square du quartier", "au jardin public", "près de la fontaine".
_SAID_AS_WHERE = re.compile(
    r"\b(?:dans|au|aux|(?<!\by )(?<!\bil )(?<!\bon )(?<!\bqui )a|devant|derriere|pres|vers|sur|a cote|en face)"
    r"(?: de| du| des| d)?(?: le| la| les| l)?(?: petit| petite| grand| grande| vieux| vieille)? $"
)
# Kinds of place that are areas where things go wrong, not things that break ("la fontaine", "les toilettes").
_AREAS = frozenset(
    {"parc", "jardin", "square", "place", "esplanade", "cite", "residence", "quartier", "parking", "zone industrielle"}
    | {"zone d activites", "centre commercial", "cimetiere", "plage", "port", "camping", "hameau", "lieu dit", "vallon"}
)
# The caller going about their day ("je me promène", "on passait", "j'étais"): where they were, not what is wrong.
_CALLER_GOING_ABOUT = re.compile(
    r"\b(?:je|j|on)(?: me| m)? (?:promene\w*|balade\w*|cours|courais|marche|marchais|passe|passais|suis|etais|allais"
    r"|vais|sors|sortais|rentre|rentrais|fais|faisais|joue|jouais|emmene|emmenais|promenais)\b"
)
_AREA_KINDS = "|".join(sorted(_AREAS, key=len, reverse=True))
_AREA_AS_WHERE = re.compile(rf"\b(?:dans|au|aux|sur|a|en|vers|pres du|pres de)(?: le| la| l| les)? ({_AREA_KINDS})\b")
# "En plus" adds a second problem, whatever it is; "y a aussi" adds a thing only mentioned ("y a aussi des tags"),
# not a problem described as worse ("y a aussi une fuite, la rue est inondée").
_SECOND_PROBLEM = re.compile(
    r"\b(?:et en plus|en plus de (?:ca|cela)|et puis en plus|(?P<also>(?:il )?y a aussi|et aussi))\b"
)
# Damage said of a thing, beside the problem words: "la vitre est explosée", "le verre est brisé".
_DAMAGED = re.compile(r"\b(?:explose|explosee|exploses|explosees|brise|brisee|brises|brisees|pete|petee|fissure\w*)\b")


def owns_a_mistake(text: str) -> bool:
    """The caller owns a slip of their own: "erreur de ma part", "je rectifie" ("en fait" is
    only a filler: "non en fait il est tombé sur le trottoir" explains)."""
    return _OWN_MISTAKE.search(_fold_in_place(text)) is not None


def things_taken_back(text: str) -> list[str]:
    """What the line says the problem is not: "c'est pas une épave, c'est des tags" -> ["c est pas une epave"]."""
    return [match.group(0) for match in _NOT_THIS_ONE.finditer(_fold_in_place(text))]


_OWN_MISTAKE = re.compile(
    r"\b(?:je me (?:suis )?trompe\w*|mal exprime\w*|je rectifie|je (?:voulais|veux) dire|erreur|pardon)\b"
)
# "C'est pas le lampadaire": the thing named there is not the problem.
_NOT_THIS_ONE = re.compile(
    r"\b(?:(?:c est|ce n est|c etait) pas (?:vraiment |tellement )?|non pas )"
    r"(?:un|une|le|la|l|les|des|du|de l|de la)\s+\w+"
    r"(?:\s+(?:public|publique|rouge))?"
    # "c'est pas un problème de signalisation": what the problem is not of
    r"(?:\s+(?:de|d|du|des|de la|de l)\s+\w+)?"
)
# The caller correcting themselves inside a line ("euh non", "pardon", "qu'est-ce que je dis").
_SELF_CORRECTION = re.compile(
    r"\b(?:non|nan) (?:pardon|attendez|excusez moi|plutot|en fait)\b|\bpardon\b|\bje me (?:suis )?trompe\w*\b|"
    # "un lampadaire, enfin non, le feu": taking back what was just said
    r"\benfin non\b(?! (?:merci|plus|pas)\b)|"
    r"\bqu est ce que je dis\b|\bje veux dire\b|\bje dis n importe quoi\b|"
    # "au 40 euh non 42", "52 boulevard X euh non 56": a number taken back by the next one
    r"(?<=\w )(?:non|nan)\b(?= (?:c est |au |le )?\d)"
)
_OPENING_ANSWERS = {"oui": True, "ouais": True, "ouai": True, "si": True, "non": False, "nan": False}
_CORNER_SLASH = re.compile(
    r"\s*/\s*(?=(?:av|ave|avenue|bd|boulevard|rue|chemin|ch|route|rte|impasse|allee|allée|cours|place|pl|traverse|"
    r"quai)\b)",
    re.IGNORECASE,
)
_ABBREVIATION_STOP = re.compile(r"\b(av|ave|bd|bld|bvd|rte|imp|trav|pl|st|ste|ch|chem)\.(?= ?\w)", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[,.!?;…]+\s*|\s+mais\s+")
_SENTENCE_END = re.compile(r"[.!?;…]+\s*|\s+mais\s+")
_SURE_YES_NO = 0.8
_SHORT_ANSWER_WORDS = 5
_YES_WORDS = frozenset({"oui", "ouais", "ouai", "ok", "d", "volontiers"})
_YES_NO_OPENERS = {"oui", "ouais", "ouai", "non", "nan", "si", "ok", "d", "exactement", "voila", "absolument"}


_ANSWER_TAKEN_BACK = re.compile(
    r"^\W*(?:(?:euh|ben|bah|ah|oh)\s+)*(?:oui|ouais|non|nan)\b\W+(?:\w+\W+)?(?:enfin|ah|oh|en fait|finalement|plutot)"
    r"\W+(oui|ouais|non|nan|si)\b"
)


def _answering(yes_no: bool | None, folded: str, frame: Frame) -> bool | None:
    """A yes or no answers the pending question when it opens the line, when it is the line's last sentence, or when
    the line gives nothing else: "c'est pas loin de l'école" gives a place, it does not say no."""
    taken_back = _ANSWER_TAKEN_BACK.match(folded)
    if taken_back:
        # "Oui... enfin non, c'est pas la peine": the answer the caller settles on.
        return _OPENING_ANSWERS[taken_back.group(1)]
    content = [w for w in folded.split() if w not in _HESITATIONS and w not in ("ah", "oh", "eh", "alors", "mais")]
    if content and content[0] in _YES_NO_OPENERS and yes_no is not None:
        return yes_no
    if content and content[0] in _OPENING_ANSWERS:
        # "Non, pas vraiment, c'est juste de l'eau": the answer opens the line, what follows explains it.
        return _OPENING_ANSWERS[content[0]]
    concluding = _concluding_answer(frame.text)
    if concluding is not None:
        # "On n'y voit plus rien la nuit... oui, je dirais que oui": the last sentence concludes.
        return concluding
    if yes_no is not None:
        return None if frame.describes_something() else yes_no
    # Words no list holds ("c'est bien ça", "tout juste"): a short line that DIET reads, surely, as a plain yes or no
    # is one.
    heard = frame.heard
    plain = heard.intent in ("affirm", "deny") and heard.nlu_confidence >= _SURE_YES_NO
    if plain and len(content) <= _SHORT_ANSWER_WORDS and not frame.carries_content():
        return heard.intent == "affirm"
    return None


def _concluding_answer(text: str) -> bool | None:
    """The yes or no of a line's last sentence when that sentence is a short answer of its own."""
    sentences = [s for s in _SENTENCE_END.split(text.strip(" .!?…")) if s.strip()]
    if len(sentences) < 2 or len(sentences[-1].split()) > _SHORT_ANSWER_WORDS:
        return None
    return yes_or_no(sentences[-1])
