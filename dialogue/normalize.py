"""Turning what a caller said (as transcribed) into report fields: digits, addresses, communes, phone numbers.

Pure functions, no Rasa: the custom actions call them and the unit tests exercise them directly.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from text_to_num import alpha2digit

from dialogue.knowledge import Gazetteer, contains_phrase, fold, stem
from dialogue.negation import is_common_word
from dialogue.streets import ARTICLES, phonetic_key

# Stressed pronouns and possessives: they end a street name or a place ("rue ... moi je", "... ses").
_PRONOUNS = {"moi", "toi", "lui", "eux", "nous", "vous", "leur", "ses"}

STREET_TYPES = (
    "rue",
    "avenue",
    "av",
    "boulevard",
    "bd",
    "bld",
    "bvd",
    "chemin",
    "ch",
    "chem",
    "place",
    "allée",
    "allee",
    "allées",
    "impasse",
    "imp",
    "cours",
    "cour",  # the recogniser drops the silent s of "cours"
    "quai",
    "traverse",
    "trav",
    "montée",
    "montee",
    "route",
    "rte",
    "passage",
    "esplanade",
    "corniche",
    "square",
    "lotissement",
    "résidence",
    "residence",
    "voie",
    "sentier",
    "parvis",
    "promenade",
    "rond-point",
)
STREET_TYPE_CANONICAL = {
    "cour": "cours",
    "av": "avenue",
    "bd": "boulevard",
    "bld": "boulevard",
    "bvd": "boulevard",
    "ch": "chemin",
    "chem": "chemin",
    "rte": "route",
    "imp": "impasse",
    "trav": "traverse",
    "allee": "allée",
    "montee": "montée",
    "residence": "résidence",
}
# Words that end a street name or a landmark when they follow it.
STOP_WORDS = {
    "à",
    "a",
    "dans",
    "sur",
    "vers",
    "c'est",
    "c",
    "il",
    "ils",
    "elle",
    "y",
    "qui",
    "et",
    "près",
    "pres",
    "devant",
    "pas",
    "mais",
    "euh",
    "ben",
    "bah",
    "voilà",
    "voila",
    "depuis",
    "commune",
    "ville",
    "quartier",
    "juste",
    "en",
    "au",
    "aux",
    "sa",
    "ça",
    "ca",
    "donc",
    "alors",
    "parce",
    "car",
    "où",
    "ou",
    "merci",
    "s'il",
    "est",
    "sont",
    "était",
    "etait",
    "ont",
    "fait",
    "ne",
    "n'",
    "se",
    "s'",
    "va",
    "vont",
    "on",
    "que",
    "avec",
    "pour",
    "tout",
    "toute",
    "tous",
    "encore",
    "toujours",
    "plus",
    "là",
    "qu'",
    "j'",
    "je",
    "y'a",
    "sait",
    *_PRONOUNS,
    "ces",
    "cest",
    "sest",
    "haut",
    "bas",
    "là-bas",
    "ici",
    ",",
    ".",
    "?",
    "!",
    ";",
    ":",
}
# Words that end a street's name besides STOP_WORDS: the caller goes on about the problem ("boulevard Baille
# elles débordent", "rue Paradis le trottoir est défoncé", "cours Lieutaud vraiment c'est plein").
STREET_NAME_ENDS = {
    "c'",  # "au 5 bd Chave c'est bien ça": "c'est" comes out of the tokens as "c'" and "est"
    *("ah", "oh", "hein", "bah"),  # "boulevard X ah oui c'est dangereux": an interjection opens the next thought
    *("après", "apres", "derrière", "derriere"),  # "route de X après le pont": where on it
    "elles",
    "tu",
    "lequel",
    "laquelle",
    "dont",
    "quand",
    "lorsque",
    "comme",
    "si",
    "puis",
    "ensuite",
    "aussi",
    "vraiment",
    "très",
    "tres",
    "trop",
    "complètement",
    "completement",
    "hier",
    "aujourd'hui",
    "maintenant",
    "ce",
    "cet",
    "cette",
    "avait",
    "avaient",
    "sera",
    "ya",
    "fuit",
    "déborde",
    "débordent",
    "deborde",
    "debordent",
    "coule",
    "coulent",
    "bloque",
    "bloquent",
    "traîne",
    "traînent",
    "traine",
    "trainent",
    "pue",
    "gêne",
    "empêche",
    "tombe",
    "tombé",
    "tombée",
    "cassé",
    "cassée",
    "cassés",
    "cassées",
    "abîmé",
    "abîmée",
    "éteint",
    "éteinte",
    "marche",
    "fonctionne",
    "penche",
    "bouché",
    "bouchée",
    "inondé",
    "inondée",
    "derrière",
    "derriere",
    "entre",
    "côté",
    "numéro",
    "numero",
    "n°",
    "vers",
    "voici",
    "hein",
    "quoi",
    "enfin",
    "bref",
    "oui",
    "non",
    "ouais",
}
# After a name word (not after "de"), a determiner starts what is said about the street, not its name.
_DETERMINERS_AFTER_NAME = {"le", "la", "les", "l'", "un", "une", "mon", "ma", "mes", "son", "ses", "notre", "leur"}
# "rue Jean Roque": after a given name or title, a commune's or quarter's name is the surname, not the commune.
# "au coin de la rue Paul et Jean Bart": two streets at a corner, not one name.
_CORNER_WORDS = frozenset({"coin", "angle", "croisement", "entre", "carrefour"})
_GIVEN_NAMES_AND_TITLES = {
    "jean",
    "pierre",
    "paul",
    "louis",
    "jacques",
    "joseph",
    "henri",
    "charles",
    "françois",
    "francois",
    "marcel",
    "andré",
    "andre",
    "jules",
    "émile",
    "emile",
    "victor",
    "albert",
    "édouard",
    "edouard",
    "léon",
    "leon",
    "georges",
    "michel",
    "marie",
    "anne",
    "antoine",
    "étienne",
    "etienne",
    "auguste",
    "saint",
    "sainte",
    "général",
    "general",
    "maréchal",
    "marechal",
    "docteur",
    "abbé",
    "abbe",
    "président",
    "president",
    "commandant",
    "capitaine",
    "colonel",
    "lieutenant",
    "professeur",
    "père",
    "frère",
}
LOWER_PARTICLES = {"de", "du", "des", "la", "le", "les", "l'", "d'", "et", "sur", "en", "aux", "au"}
REPETITION_SUFFIXES = {"bis", "ter", "quater"}
# Street types that are also common nouns: after a determiner ("sur la route", "une place") they name a street
# only when a complement follows ("la route de Gémenos", "la place du Marché").
AMBIGUOUS_STREET_TYPES = {
    "cour",  # "la cour de l'école"
    "route",
    "place",
    "chemin",
    "cours",
    "passage",
    "voie",
    "square",
    "résidence",
    "residence",
    "promenade",
    "sentier",
    "montée",
    "montee",
    "quai",
    "parvis",
    "traverse",
    "esplanade",
    "lotissement",
    "corniche",
    "allée",
    "allee",
    "rond-point",
    "impasse",
}
DETERMINERS = {
    "la",
    "le",
    "l'",
    "une",
    "un",
    "les",
    "des",
    "cette",
    "ce",
    "cet",
    "sa",
    "son",
    "ma",
    "mon",
    "notre",
    "votre",
    "leur",
    "toute",
    "tout",
    "du",
    "même",
    "meme",
    "grande",
    "grand",
    "petite",
    "petit",
}
COMPLEMENT_STARTS = {"de", "du", "des", "d'", "d"}
_PLACE_PREPOSITIONS = {"sur", "dans", "vers", "par"}
# alpha2digit leaves "un", "deux", "trois" as words (they are usually not numbers); before a street type or after
# "au"/"numéro" they are street numbers ("au deux place Morgan").
_SMALL_NUMBERS = {"un": "1", "une": "1", "deux": "2", "trois": "3"}
STREET_TYPE_PATTERN = "|".join(sorted({re.escape(t) for t in STREET_TYPES}, key=len, reverse=True))
_SMALL_BEFORE_STREET = re.compile(
    rf"(?<![\w-])(un|deux|trois)\b(?=(?:\s+(?:bis|ter|quater))?\s+(?:{STREET_TYPE_PATTERN})\b)", re.IGNORECASE
)
_SMALL_AFTER_CUE = re.compile(r"\b(au|numéro|numero|n°)\s+(un|deux|trois)\b(?!\s*(?:cent|mille|-))", re.IGNORECASE)
_NUMBER_CUES_BEFORE_STREET = {"au", "numero", "n", "le", "du"}
_DIGIT_GROUPS = re.compile(r"\+?\d+")
# A number word after "des", "les", "aux", "du"... is part of a name ("rue des Trois Frères", "square des Milles",
# "les Trois-Lucs"), unless a street type follows it: then it is the street number ("du quatre ter chemin des Grives").
_NUMBER_WORD = (
    r"(?:zéro|zero|une?|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|treize|quatorze|quinze|seize|"
    r"vingts?|trente|quarante|cinquante|soixante|cents?|milles?)"
)
_NAME_NUMBER = re.compile(
    # "au niveau du neuf", "en face du douze": after a cue of place, "du" leads a house number, not a name.
    r"(?<!niveau )(?<!face )(?<!pres )(?<!près )(?<!cote )(?<!côté )(?<!hauteur )"
    rf"(?<![\w'])(?:(des|les|aux|du|de|d')\s*({_NUMBER_WORD}(?:(?:[\s-]+et)?[\s-]+{_NUMBER_WORD})*)\b"
    rf"(?!(?:\s+(?:bis|ter|quater))?\s+(?:{STREET_TYPE_PATTERN})\b)"
    # "du vingt sixième centenaire": the number goes on into an ordinal, which text2num joins to it.
    r"(?![\s-]+\w+i[eè]me\b)"
    # "château neuf le rouge": the Châteauneuf of a place name, written in two words by the recogniser.
    rf"|(ch[aâ]teau)[\s-]+(neuf)\b(?!(?:\s+(?:bis|ter|quater))?\s+(?:{STREET_TYPE_PATTERN})\b))",
    re.IGNORECASE,
)
_KEPT_MARK = "qqnamenumberqq"
# Landmarks: words that place a landmark rather than name it (dropped from its front), determiners that may start
# one ("le vieux cimetière"), and common words that stay lower case in its name.
_LANDMARK_LEADING = {
    "devant",
    "derriere",
    "en",
    "face",
    "a",
    "cote",
    "proximite",
    "jusqu",
    "jusque",
    "pres",
    "pas",
    "loin",
    "au",
    "aux",
    "niveau",
    "de",
    "du",
    "des",
    "d",
    "l",
    "la",
    "le",
    "les",
    "sur",
    "vers",
    "juste",
    "dans",
    "un",
    "une",
    "par",
    "apres",
    "avant",
    "long",
    "c",
    "est",
    "sait",
    *_PRONOUNS,
    "cest",
    "euh",
    "ben",
    "bah",
    "alors",
    "la bas",
    "dessous",
    "dessus",
    "ce",
    "cet",
    "cette",
    "mon",
    "ma",
    "notre",
    "votre",
    "ici",
}
_LANDMARK_DETERMINERS = {"le", "la", "l", "les", "du", "un", "une", "ce", "cet", "cette"}
# Kinds of place a commune has one of, or one that everybody means: "la mairie", "la poste", "le stade" say which.
_ONE_PER_COMMUNE = {
    *("mairie", "poste", "gare", "eglise", "stade", "cimetiere", "piscine", "salle des fetes", "mediatheque"),
    *("bibliotheque", "hotel de ville", "capitainerie", "commissariat", "caserne", "boulodrome", "port"),
}
# Adjectives that come before the kind of place ("le vieux cimetière"); after it they start a name ("collège Vieux
# Port").
_PRE_NOUN_ADJECTIVES = {
    "vieux",
    "vieil",
    "vieille",
    "grand",
    "grande",
    "petit",
    "petite",
    "nouveau",
    "nouvel",
    "nouvelle",
    "ancien",
    "ancienne",
    "gros",
    "grosse",
}
# Adjectives that can qualify a kind of place ("la piscine municipale", "le vieux cimetière").
_LANDMARK_ADJECTIVES = _PRE_NOUN_ADJECTIVES | {
    "municipal",
    "municipale",
    "municipaux",
    "public",
    "publique",
    "publics",
    "communal",
    "communale",
    "principal",
    "principale",
    "central",
    "centrale",
    "sportif",
    "sportive",
    "commercial",
    "commerciale",
    "haut",
    "bas",
    "neuf",
    "neuve",
    "intercommunal",
    "intercommunale",
}
_LANDMARK_COMMON_NOUNS = {
    "bus",
    "tram",
    "metro",
    "jeux",
    "enfants",
    "quartier",
    "ville",
    "centre",
    "sortie",
    "entree",
    "rue",
    "bout",
    "angle",
    "coin",
    "croisement",
    "face",
    "cote",
    "skate",
    "foot",
    "football",
    "tennis",
    "boules",
    "petanque",
    "velo",
    "velos",
    "voitures",
    "sport",
    "sports",
    "loisirs",
    "animaux",
    "chiens",
    "mer",
    "plage",
    "port",
    "pompiers",
    "police",
    "sante",
    "culture",
    "culturel",
    "social",
    "sociale",
}
FOLDED_STREET_TYPES = {fold(t) for t in STREET_TYPES}
# Nouns after which "de X" names where a thing is, not a street ("le quartier de Saint-Just").
_PLACE_NOUNS = ("quartier", "secteur", "cote", "commune", "ville", "centre", "village", "sortie", "entree")
_PHONE_SEPARATOR = r"[\s.,;:/\-]+"
_FILLERS_BETWEEN_DIGITS = re.compile(
    r"(?<=\d)(?:[\s,.;]*\b(?:euh|heu|hum|hmm|ben|bah|et|puis|pardon|voila)\b)+(?=[\s,.;]*\d)", re.IGNORECASE
)
_DIGIT_RUN = re.compile(rf"\+?\d+(?:{_PHONE_SEPARATOR}\+?\d+)*")
_SMALL_AFTER_DIGITS = re.compile(rf"(\d{_PHONE_SEPARATOR})(un|une|deux|trois)\b", re.IGNORECASE)
_SMALL_BEFORE_DIGITS = re.compile(rf"\b(un|une|deux|trois)({_PHONE_SEPARATOR}\d)", re.IGNORECASE)


@dataclass(frozen=True)
class Place:
    street_number: str | None = None
    street_name: str | None = None
    commune: str | None = None
    landmark: str | None = None

    def is_empty(self) -> bool:
        return not (self.street_number or self.street_name or self.commune or self.landmark)


# The recogniser mixes up "et" and "est": "soixante est un" is 61, "il et cassé" is "il est cassé".
_TENS_EST = re.compile(r"\b(vingt|trente|quarante|cinquante|soixante) est (un|une|onze)\b", re.IGNORECASE)
_SUBJECT_ET = re.compile(
    r"\b(il|elle|ils|elles|ça|ca|qui|tout|c')\s*et\b(?!\s+(?:le|la|les|l'|un|une|des|du|de|mon|ma|mes|moi|lui|nous|vous|puis|là)\b)",
    re.IGNORECASE,
)


# Sounds, not words: no vowel ("gnn", "frrr", "kss"), a letter held three times ("brrr", "zzz"); known acronyms
# ("RTM", "SNCF") are words.
_NOT_A_WORD = re.compile(r"^[^aeiouyàâäéèêëîïôöùûü\d]+$|(\w)\1\1")
_ACRONYMS = {"rtm", "sncf", "hlm", "sms", "rn", "rd", "st", "ste", "bd", "pv", "wc", "cb", "tv", "mr", "mme", "dr", "n"}
_SOUNDS = {"mmh", "hmm", "hum", "pff", "bzz", "tss", "psst", "grr", "gnn", "tchac", "tchak", "kss", "pfff", "zzz"}


def looks_unintelligible(text: str) -> bool:
    """Most of the line is sounds rather than words ("gnn frrr ouais kss"): nothing in it can be trusted, whatever
    confidence the recogniser or the NLU gives."""
    words = [w for w in re.findall(r"[^\W\d_]+", text.lower()) if w not in {"l", "d", "j", "c", "s", "qu"}]
    if not words:
        return False
    odd = [w for w in words if w not in _ACRONYMS and (w in _SOUNDS or _NOT_A_WORD.search(w))]
    return len(odd) * 2 > len(words)


# Chat shorthand ("c pa grave", "jsp", "ya un trou") written out, so that every reader sees the words. Only whole
# words; "c" and "g" only before another word, and not after "bâtiment", "escalier"...
CHAT_SHORTHAND = {
    "nn": "non",
    "nan": "non",
    "pa": "pas",
    "jsp": "je sais pas",
    "chai pas": "je sais pas",
    "chais pas": "je sais pas",
    "jpense": "je pense",
    "jcrois": "je crois",
    "jveux": "je veux",
    "jpeux": "je peux",
    "chui": "je suis",
    "jsuis": "je suis",
    "ya": "il y a",
    "ct": "c'était",
    "bcp": "beaucoup",
    "tt": "tout",
    "ts": "tous",
    "tjrs": "toujours",
    "tjs": "toujours",
    "ds": "dans",
    "pr": "pour",
    "pk": "pourquoi",
    "pq": "pourquoi",
    "qd": "quand",
    "dc": "donc",
    "vs": "vous",
    "qqn": "quelqu'un",
    "qq1": "quelqu'un",
    "qqch": "quelque chose",
    "ptet": "peut-être",
    "ptêt": "peut-être",
    "mtn": "maintenant",
    "auj": "aujourd'hui",
    "ajd": "aujourd'hui",
    "slt": "salut",
    "bjr": "bonjour",
    "bsr": "bonsoir",
    "mrc": "merci",
    "mci": "merci",
    "dacc": "d'accord",
    "dac": "d'accord",
    "dak": "d'accord",
    "oki": "ok",
    "okk": "ok",
    "koi": "quoi",
    "ke": "que",
    "rdc": "rez-de-chaussée",
}
_CHAT_SHORTHAND = re.compile(
    r"(?<![\w'-])(" + "|".join(sorted(map(re.escape, CHAT_SHORTHAND), key=len, reverse=True)) + r")(?![\w'-])",
    re.IGNORECASE,
)
_CHAT_LETTERS = {"c": "c'est", "g": "j'ai"}
_CHAT_LETTER = re.compile(r"(?<![\w'-])([cg])(?= [a-zàâçéèêëîïôûù])", re.IGNORECASE)
_LETTER_NAMES = re.compile(r"(?:batiment|bat|bloc|entree|escalier|porte|lettre|allee|immeuble|residence)$")


def expand_chat_shorthand(text: str) -> str:
    """ "nn c pa dangereux" -> "non c'est pas dangereux": a typed line's shorthand written out."""
    expanded = _CHAT_SHORTHAND.sub(lambda m: CHAT_SHORTHAND[m.group(1).lower()], text)

    def letter_word(match: re.Match[str]) -> str:
        before = fold(expanded[: match.start()]).split()
        if before and _LETTER_NAMES.search(before[-1]):
            return match.group(0)  # "bâtiment C", "escalier G"
        return _CHAT_LETTERS[match.group(1).lower()]

    return _CHAT_LETTER.sub(letter_word, expanded)


def repair_asr_slips(text: str) -> str:
    """Undo the recogniser's slips before anything reads the words: et/est, and a street's name that starts "En"
    cut after its "d'" ("rue d'en doume" is the rue d'Endoume)."""
    repaired = _TENS_EST.sub(r"\1 et \2", _NAME_CUT_AFTER_EN.sub(r"\1 d'en\2", _AVENUE_SPLIT.sub("l'avenue ", text)))
    return _SUBJECT_ET.sub(lambda m: f"{m.group(1)} est" if not m.group(1).endswith("'") else "c'est", repaired)


# "l'avenue des Chartreux" heard as "la venue des chartreux": the article took the avenue's first letter.
# Unless said as someone's coming ("depuis la venue des pompiers", "on attend la venue du dépanneur").
_AVENUE_SPLIT = re.compile(
    r"\b(?<!\bdepuis )(?<!\bapres )(?<!\baprès )(?<!\bavant )(?<!\battend )(?<!\battends )(?<!\battendre )"
    r"(?<!\battendons )(?<!\battendent )(?<!\blors de )(?<!\bpour )(?<!\bsans )(?<!\bjusqu a )(?<!\bjusqu'à )"
    r"la venue (?=(?:de|du|des)\b|d['\u2019](?!une?\b))",
    re.IGNORECASE,
)
_NAME_CUT_AFTER_EN = re.compile(
    rf"\b({STREET_TYPE_PATTERN}) d(?:'|\u2019| )en (?!(?:haut|bas|face|bordure|direction|ville|dessous|dessus)\b)"
    r"([^\W\d_]{3,})",
    re.IGNORECASE,
)


def _small_number_before_street(match: re.Match[str]) -> str:
    """ "deux place Morgan" is a house number; "un passage piéton", "pour une place de parking" are an article,
    unless nothing but a place cue comes before ("au un rue ...", "un rue ..." opening the line)."""
    word = match.group(1)
    if word.lower() in ("un", "une"):
        before = fold(match.string[: match.start()]).split()
        if before and before[-1] not in _NUMBER_CUES_BEFORE_STREET:
            return word
    return _SMALL_NUMBERS[word.lower()]


def spoken_to_digits(text: str) -> str:
    """French number words become digits: "douze bis rue" -> "12 bis rue" (text2num's alpha2digit). Number words
    that belong to a name stay words: "rue des Trois Frères", "les Milles", "boulevard du Huit Mai"."""
    prepared = re.sub(r"\bzero\b", "zéro", _TENS_EST.sub(r"\1 et \2", text), flags=re.IGNORECASE)
    kept: list[str] = []

    def keep(match: re.Match[str]) -> str:
        before, number = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        kept.append(number)
        return f"{before} {_KEPT_MARK}{len(kept) - 1}x"

    prepared = _NAME_NUMBER.sub(keep, prepared)
    try:
        converted = str(alpha2digit(prepared, "fr"))
    except Exception:  # text2num raises on odd inputs; digits are a nicety, never a reason to fail a turn
        converted = prepared
    converted = _SMALL_BEFORE_STREET.sub(_small_number_before_street, converted)
    converted = _SMALL_AFTER_CUE.sub(lambda m: f"{m.group(1)} {_SMALL_NUMBERS[m.group(2).lower()]}", converted)
    converted = _POSTAL_DIGIT_BY_DIGIT.sub(_joined_postal_code, converted)
    return re.sub(rf"{_KEPT_MARK}(\d+)x", lambda m: kept[int(m.group(1))], converted)


# "un trois zéro zéro quatre" comes out of text2num as "1 3 004": a postal code of the département said digit by
# digit, whatever number came before it ("au cent vingt, un trois...").
_POSTAL_DIGIT_BY_DIGIT = re.compile(r"(?<![\d.])1 3 ((?:\d ?){3})(?![\d.])")


def _joined_postal_code(match: re.Match[str]) -> str:
    rest = match.group(1).replace(" ", "")
    return f"13{rest}{' ' if match.group(0).endswith(' ') else ''}" if len(rest) == 3 else match.group(0)


def _tokens(text: str) -> list[str]:
    """Lower-case words, apostrophes kept on the word they elide ("l'école" -> "l'", "école")."""
    lowered = spoken_to_digits(text).lower().replace("\u2019", "'")
    lowered = re.sub(r"(\b\w+')", r"\1 ", lowered)
    return re.findall(r"[\w'-]+|[+,.;:?!]", lowered)


def _join(tokens: list[str]) -> str:
    text = ""
    for token in tokens:
        text += token if (not text or text.endswith("'")) else " " + token
    return text


def format_street_name(tokens: list[str]) -> str:
    """'rue de la république' -> 'rue de la République'; street types and particles stay lower case."""
    words = []
    for index, token in enumerate(tokens):
        if index == 0:
            words.append(STREET_TYPE_CANONICAL.get(token, token))
        elif token in {"d", "l"}:
            words.append(token + "'")
        elif token in LOWER_PARTICLES:
            words.append(token)
        elif token in _SAINT_AS_HEARD and index + 1 < len(tokens) and tokens[index + 1] not in LOWER_PARTICLES:
            words.append("Saint")
        elif token in _TITLES_WRITTEN_SHORT and index + 1 < len(tokens) and tokens[index - 1] in {"du", "de"}:
            words.append(_TITLES_WRITTEN_SHORT[token])  # "avenue du Mal Foch": the marshal's title as written short
        else:
            words.append("-".join(part[:1].upper() + part[1:] for part in token.split("-")))
    return _join(_spelled_out(words))


_TITLES_WRITTEN_SHORT = {"mal": "Maréchal", "gal": "Général", "pdt": "Président", "cdt": "Commandant"}
# "Saint" before a name, as a recogniser writes its sound ("chemin de sein jean").
_SAINT_AS_HEARD = frozenset({"sein", "sain", "ceint"})


def find_commune(text: str, gazetteer: Gazetteer) -> str | None:
    """Commune named in the text, "Marseille 8e" for an arrondissement, else the commune of a quarter named
    ("à Noailles" -> Marseille). A commune right after "de" in a street name is part of the name ("rue d'Aubagne"
    is in Marseille) and skipped; after a public place it is the commune ("la mairie de Septèmes")."""
    arrondissement = find_arrondissement(text)
    if arrondissement:
        return arrondissement
    # "aux Milles", "au Rove": the article merged with the preposition is the one of the name.
    folded = re.sub(r"\bau(x?)\b", lambda m: "a les" if m.group(1) else "a le", fold(spoken_to_digits(text)))
    heard = _commune_by_name(folded, gazetteer)
    bent = _commune_by_sound(fold(text).split(), gazetteer)  # number words kept: "château neuf"
    if bent and (heard is None or (len(bent[1]) > len(heard[1]) and heard[0] != bent[0] and _inside(heard, bent))):
        # "château neuf les martigues": a longer name the recogniser split or bent wins over a shorter one inside it
        # (not over a commune named elsewhere in the line: "à Allauch, vers la colline de Saint-Just").
        return bent[0]
    if heard:
        return heard[0]
    return _commune_by_spelling(fold(text).split(), gazetteer)


_AT = frozenset({"a", "sur", "en"})  # "à marignan": the word after says where
_SPELLED_CLOSE = 85  # rapidfuzz ratio of a heard word and a one-word commune's name ("marignan", "marignane")


def _commune_by_spelling(words: list[str], gazetteer: Gazetteer) -> str | None:
    """A one-word commune's name with a letter or two bent, right after "à" ("à marignan" -> Marignane): its sound
    may change more than its spelling (a final "e" sounded)."""
    names = [(alias, name) for alias, name in gazetteer.aliases_longest_first(quarters=False) if " " not in alias]
    for before, word in itertools.pairwise(words):
        if before not in _AT or len(word) < 5:
            continue
        best = process.extractOne(word, [alias for alias, _ in names], scorer=fuzz.ratio, score_cutoff=_SPELLED_CLOSE)
        if best:
            return names[best[2]][1]
    return None


def _inside(shorter: tuple[str, tuple[str, ...]], longer: tuple[str, tuple[str, ...]]) -> bool:
    return bool({stem(word) for word in shorter[1]} & {stem(word) for word in longer[1]})


def _commune_by_name(folded: str, gazetteer: Gazetteer) -> tuple[str, tuple[str, ...]] | None:
    """The commune an alias names, with the alias's words."""
    towards: tuple[str, tuple[str, ...]] | None = None
    for aliases in (gazetteer.aliases_longest_first(quarters=False), gazetteer.quarter_aliases_longest_first()):
        # Exact names first, then with endings dropped as the ASR drops them ("septème les vallons").
        for haystack, normal in ((folded, str), (stem(folded), stem)):
            for alias, name in aliases:
                for match in re.finditer(rf"(?:^| )({re.escape(normal(alias))})(?= |$)", haystack):
                    before = haystack[: match.start(1)].split()
                    if _inside_street_name(before, gazetteer):
                        continue
                    if before[-2:] in _TOWARDS or before[-1:] in _TOWARDS:
                        # "à Istres, côté Miramas": a direction, unless no other commune is said ("la Gavotte, côté
                        # Septèmes": a quarter on that commune's side)
                        towards = towards or (name, tuple(alias.split()))
                        continue
                    return name, tuple(alias.split())
        if towards:
            return towards
    return None


_SOUND_WINDOWS = (4, 3, 2)  # words a commune's name may take once the recogniser split it
_MIN_SOUND = 5  # shorter keys match too many ordinary words
_FUZZY_SOUND = 90  # rapidfuzz ratio of two keys of 7 sounds or more ("saint vi toret", "saint victoret")


@functools.lru_cache(maxsize=4)  # one gazetteer in production; keyed by value, so a new one never reads an old index
def _commune_sounds(gazetteer: Gazetteer) -> dict[str, str]:
    """Phonetic keys of the communes' and quarters' names (joined, and word by word, for the silent letters inside
    a joined name), communes first."""
    index: dict[str, str] = {}
    for alias, name in (*gazetteer.aliases_longest_first(quarters=False), *gazetteer.quarter_aliases_longest_first()):
        for key in _sound_keys(alias.split()):
            if len(key) >= _MIN_SOUND:
                index.setdefault(key, name)
    return index


def _sound_keys(words: list[str]) -> tuple[str, str]:
    return phonetic_key(" ".join(words)), "".join(phonetic_key(word) for word in words if word not in ARTICLES)


_SPELLING_CLOSE = 75  # rapidfuzz ratio of the heard and the official name, spaces left out


def with_commune_spelled(landmark: str, commune: str | None) -> str:
    """ "gare de Cassi" in Cassis -> "gare de Cassis": a landmark's name ending on its commune's name as the
    recogniser bent it ends on the official name."""
    if not commune:
        return landmark
    official = "Marseille" if commune.startswith("Marseille") else commune
    wanted = {key for key in _sound_keys(fold(official).split()) if len(key) >= 3}
    words, official_words = landmark.split(), fold(official).split()
    # The name at the end first ("gare de Cassi"), then inside ("gare de Vitrolle Aéroport").
    for end in range(len(words), 1, -1):
        for size in range(min(4, end - 1), 0, -1):
            kept, tail, after = words[: end - size], fold(" ".join(words[end - size : end])).split(), words[end:]
            if tail[0] in ARTICLES or tail == official_words or not wanted & set(_sound_keys(tail)):
                continue
            if fuzz.ratio("".join(tail), "".join(official_words)) < _SPELLING_CLOSE:
                continue  # a short key shared by chance ("Marthe" and "Marseille"): the letters must be close too
            name = official
            if kept and official_words[0] in ARTICLES and fold(kept[-1]) == official_words[0]:
                kept = kept[:-1]  # "de la Ciota" -> "de La Ciotat"
            if kept and official_words[0] in {"le", "les"} and fold(kept[-1]) in {"du", "des", "au", "aux"}:
                name = official.split(" ", 1)[1]  # "la poste des penne" -> "des Pennes-Mirabeau"
            return " ".join([*kept, name, *after])
    return landmark


def _commune_by_sound(words: list[str], gazetteer: Gazetteer) -> tuple[str, tuple[str, ...]] | None:
    """A commune or quarter whose name a few words sound like ("la siotat", "les penne mirabeau"), with the words
    it took."""
    index = _commune_sounds(gazetteer)
    for size in _SOUND_WINDOWS:
        for start in range(len(words) - size + 1):
            window = words[start : start + size]
            articles = next((i for i, word in enumerate(window) if word not in ARTICLES), size)
            # A name right after its street type is the street's ("rue St Savournin"); after "de" a quarter may
            # still say where ("boulevard de Sainte-Marguerite" is in Marseille).
            named_street = window[0] in FOLDED_STREET_TYPES and window[1:2] not in (["de"], ["du"], ["des"], ["d"])
            if named_street or _inside_street_name(words[: start + articles], gazetteer):
                continue  # "avenue de Marseille", "rue St Savournin": the name of a street, not where it is
            if all(word in _FUNCTION_WORDS for word in window):
                continue  # "ça a au moins" sounds like Les Camoins, and says nothing of a place
            # Word by word with the elided articles kept: "cas d'olive" is Cadolive.
            elided = "".join(phonetic_key(word) for word in window) if "d" in window[1:-1] else ""
            for key in (*_sound_keys(window), elided):
                if len(key) < _MIN_SOUND:
                    continue
                if key in index:
                    return index[key], tuple(window)
                if len(key) >= 7:
                    best = process.extractOne(key, index.keys(), scorer=fuzz.ratio, score_cutoff=_FUZZY_SOUND)
                    if best:
                        return index[best[0]], tuple(window)
    return None


_FUNCTION_WORDS = frozenset(
    "ca a au aux a la le les l un une des de du d en y il elle on ils elles qui que qu ne pas plus moins est et ou "
    "c s se ce cet cette si bien tres trop peu tout".split()
)
# Words before a commune that say which way, not where ("côté Miramas", "vers Aubagne", "direction Aix"), or where
# the caller lives ("moi j'habite Pélissanne, mais c'est à Lançon").
TOWARDS_WORDS = frozenset({"cote", "vers", "direction"})  # one word each: also where a commune heard by sound is not
_TOWARDS = (
    *([word] for word in sorted(TOWARDS_WORDS)),
    *(["pres", "de"], ["pres", "d"], ["limite"], ["sortie", "de"]),
    *(["habite"], ["habite", "a"], ["habite", "sur"], ["habite", "en"], ["habitons"], ["habitons", "a"]),
)


def _inside_street_name(before: list[str], gazetteer: Gazetteer) -> bool:
    """Whether a name after these (folded) words completes a street's name: "avenue de" + "Marseille", not
    "la mairie de" + "Septèmes" nor "quartier de" + "Saint-Just"; right after its type ("rue" + "Saint-Savournin")."""
    if before and before[-1] in FOLDED_STREET_TYPES and before[-1] not in {"place", "route"}:
        return True
    if not before or before[-1] not in {"de", "d", "du", "des"} or len(before) < 2:
        return False
    recent = before[-6:-1]
    street_at = max((i for i, word in enumerate(recent) if word in FOLDED_STREET_TYPES), default=-1)
    if street_at < 0:
        return False
    after_street = " ".join(recent[street_at + 1 :])
    return not any(contains_phrase(after_street, word) for word in (*gazetteer.landmark_words, *_PLACE_NOUNS))


def find_arrondissement(text: str) -> str | None:
    folded = fold(spoken_to_digits(text))
    patterns = (
        r"\bmarseille (\d{1,2})(?: ?(?:e|eme|er|ere))?\b",
        r"\b(\d{1,2}) ?(?:e|eme|er|ere)? arrondissement\b",
        r"\bdans le (\d{1,2}) ?(?:e|eme|er|ere)\b",
        # "c'est le 13e", but not "le 3e lampadaire" (an ordinal before a noun)
        r"\ble (\d{1,2}) ?(?:e|eme|er|ere)\b(?= *$| (?:a|au|aux|pres|vers|du|quartier|pas|non|oui|marseille|c|je|on|il"
        r"|elle|et|mais|voila|hein|merci|s il)\b)",
        # "la mairie du 13e", "le commissariat des 13e et 14e": Marseille's services are named by arrondissement.
        r"\b(?:mairie|secteur|commissariat)(?: de secteur)? (?:du|des) (\d{1,2}) ?(?:e|eme|er|ere)\b(?! age\b)",
    )
    words = {"premier": 1}
    folded = re.sub(r"\bpremier\b", "1 er", folded) if "arrondissement" in folded or "marseille" in folded else folded
    folded = re.sub(r"\bdans le premier\b", "dans le 1 er", folded)
    # Ordinals under three stay words after text2num ("dans le deuxième").
    folded = re.sub(r"\b(deuxieme|second|seconde)\b", "2e", folded)
    for pattern in patterns:
        match = re.search(pattern, folded)
        if match and 1 <= int(match.group(1)) <= 16:
            # "dans le quatrième, non, le cinquième": the arrondissement the caller puts right is the one meant.
            put_right = _ARRONDISSEMENT_PUT_RIGHT.match(folded, match.end())
            number = (
                int(put_right.group(1)) if put_right and 1 <= int(put_right.group(1)) <= 16 else int(match.group(1))
            )
            return f"Marseille {number}{'er' if number == words['premier'] else 'e'}"
    return None


_ARRONDISSEMENT_PUT_RIGHT = re.compile(
    r"\W*(?:non|pardon|plutot|enfin|euh)(?:\W+(?:non|pardon|plutot|enfin|euh))*"
    r"\W+(?:dans )?le (\d{1,2}) ?(?:e|eme|er|ere)\b"
    # the ordinal stands for the arrondissement, not for the 2nd light or floor: nothing or a place word follows
    r"(?=\s*$|\s*[,.;]|\s+(?:devant|pres|vers|dans|quartier|arrondissement|marseille|c|je|et|mais|voila|"
    r"hein|rue|avenue|boulevard|bd|chemin|place|oui|non)\b)"
)


def ordinal_arrondissement(text: str) -> str | None:
    """ "boulevard Chave, 5e, près du lycée", "(Noailles, 1er)": an ordinal standing alone between punctuation is
    Marseille's arrondissement (read on the text as written: folding drops the punctuation)."""
    alone = _ORDINAL_ALONE.search(spoken_to_digits(text).lower())
    if alone and 1 <= int(alone.group(1)) <= 16:
        number = int(alone.group(1))
        return f"Marseille {number}{'er' if number == 1 else 'e'}"
    return None


_ORDINAL_ALONE = re.compile(r"(?:^|[,(;]\s*)(\d{1,2}) ?(?:e|è|ème|eme|er|ère|ere)\s*(?=[,).;]|$)")


_DESCRIBING_ENDINGS = ("é", "ée", "és", "ées", "ie", "ise", "eux", "euse", "ante", "ant", "ale", "elle", "ive")


def find_street(text: str, gazetteer: Gazetteer | None = None) -> tuple[str | None, str | None]:
    """(street number with bis/ter, street name) or (None, None): "quatorze ter rue de rome sur marseille"
    -> ("14 ter", "rue de Rome")."""
    tokens = _tokens(text)
    for index, token in enumerate(tokens):
        if token not in STREET_TYPES or index + 1 >= len(tokens):
            continue
        if tokens[index + 1] in STOP_WORDS or tokens[index + 1] in REPETITION_SUFFIXES:
            continue  # "la route pour l'éviter", "la rue est inondée": a common noun, not a street name
        if tokens[index + 1] == token:
            continue  # "avenue avenue des Chartreux": the type said twice, the name follows the second
        if index >= 3 and tokens[index - 3] in {"nom", "numéro", "numero"} and tokens[index - 2] in {"de", "du"}:
            continue  # "je connais pas le nom de la rue X": the caller does not name it
        if (
            token in AMBIGUOUS_STREET_TYPES
            and index > 0
            and tokens[index - 1] in DETERMINERS
            and tokens[index + 1] not in COMPLEMENT_STARTS
            and not (token not in ("route", "place") and index > 1 and tokens[index - 2] in _PLACE_PREPOSITIONS)
            # "sur la route sézanne": a word no dictionary has is a name, unless it is shaped as a participle or an
            # adjective ("la route goudronnée", "la voie ferrée")
            and (
                is_common_word(fold(tokens[index + 1]))
                or not tokens[index + 1].isalpha()
                or tokens[index + 1].endswith(_DESCRIBING_ENDINGS)
            )
            # "les bancs du cours Julien": a course is seldom "of" something, the street often is
            and not (
                token == "cours"
                and tokens[index - 1] == "du"
                and tokens[index + 1] not in DETERMINERS
                and not _NOT_A_NAME.match(fold(tokens[index + 1]))
                and not (gazetteer and gazetteer.named_landmark(f"cours {tokens[index + 1]}"))
            )
        ):
            continue  # "le cours est fini", "une place de libre"; but "sur le cours Pasteur" names it
        if token == "cour" and index > 0 and tokens[index - 1] in DETERMINERS:
            continue  # "la cour de l'école": a yard; only "au 12 cour Pelletan" is the street
        if token == "passage" and fold(tokens[index + 1]) in _CROSSING_KINDS:
            continue  # "un camion sur le passage piéton, rue X": a crossing, the street comes after
        name = [token]
        for offset, follower in enumerate(tokens[index + 1 :], start=index + 1):
            following = tokens[offset + 1] if offset + 1 < len(tokens) else ""
            at_a_corner = not _CORNER_WORDS.isdisjoint(tokens[max(0, index - 4) : index])
            given_names = name[-1] in _GIVEN_NAMES_AND_TITLES and following in _GIVEN_NAMES_AND_TITLES
            if follower == "et" and given_names and not at_a_corner:
                name.append(follower)  # "avenue Pierre et Marie Curie": two given names, one street
                continue
            town_hall = [fold(w) for w in name[-2:]]
            if town_hall == ["de", "ville"] and len(name) > 2 and fold(name[-3]) == "hotel":
                break  # "place de l'Hôtel de Ville de Gardanne": the name ends with the town hall's
            if (
                (follower in STOP_WORDS and not (follower == "ville" and town_hall == ["hotel", "de"]))
                or follower in STREET_NAME_ENDS
                or follower == "direction"
            ):
                break  # "direction Martigues" is where the road goes; "place de l'Hôtel de Ville" goes on
            after_name_word = len(name) > 1 and name[-1] not in LOWER_PARTICLES | {"d", "l", "d'", "l'"}
            year = _COMMEMORATED.get((fold(name[-2]), fold(name[-1])), "") if len(name) > 1 else ""
            if year.endswith(follower) and len(follower) == 2:
                name.append(year)  # "avenue du huit mai quarante cinq" is the 8 Mai 1945
                continue
            if after_name_word and (follower in _DETERMINERS_AFTER_NAME or (follower.isdigit() and len(follower) < 4)):
                break  # "rue Paradis le trottoir...", "avenue du Prado 2"; "rue du 4 Septembre", "... Mai 1945" go on
            if gazetteer and after_name_word:
                # After a given name only a commune's full name cuts ("rue Sainte Marseille", not "rue Jean Roque").
                if _starts_with_commune(tokens[offset:], gazetteer, name[-1] in _GIVEN_NAMES_AND_TITLES):
                    break
                # Not after a given name ("rue Jean Roque") nor a number ("cours du quatre septembre").
                bent_name_may_end = name[-1] not in _GIVEN_NAMES_AND_TITLES and not _is_number(name[-1])
                if bent_name_may_end and _ends_with_bent_commune(tokens[offset:], gazetteer):
                    break
            name.append(follower)
        while name and name[-1] in LOWER_PARTICLES:
            name.pop()
        if len(name) < 2:
            continue
        number = None
        before = [t for t in tokens[max(0, index - 4) : index] if t not in {",", "."} and t != token]
        if before and before[-1] in REPETITION_SUFFIXES and len(before) >= 2 and before[-2].isdigit():
            number = f"{before[-2]} {before[-1]}"
        elif before and before[-1].isdigit() and before[-2:-1] not in (["des"], ["les"]):
            number = before[-1]  # not "les cinq avenues": a count in a name
        elif before and re.fullmatch(r"\d+(bis|ter)", before[-1]):
            digits, suffix = re.fullmatch(r"(\d+)(bis|ter)", before[-1]).groups()  # type: ignore[union-attr]
            number = f"{digits} {suffix}"
        if number is None:
            number = _number_after(tokens[index + len(name) :])
        return number, format_street_name(_dates_in_digits(_elisions_apart(name, gazetteer)))
    return None, None


def _elisions_apart(name: list[str], gazetteer: Gazetteer | None) -> list[str]:
    """ "rue daubagne": a commune's name glued to the "d'" before it, set apart ("rue d'Aubagne")."""
    if gazetteer is None:
        return name
    communes = _one_word_communes(gazetteer)
    apart: list[str] = []
    for index, token in enumerate(name):
        folded = fold(token)
        if index and folded[:1] == "d" and folded[1:2] in set("aeiouy") and folded[1:] in communes:
            apart += ["d", token[1:]]
        else:
            apart.append(token)
    return apart


@functools.lru_cache(maxsize=4)
def _one_word_communes(gazetteer: Gazetteer) -> frozenset[str]:
    return frozenset(alias for alias, _ in gazetteer.aliases_longest_first(quarters=False) if " " not in alias)


# After "du cours", a day, a time or a verb: the course of a lesson, not a street ("revenait du cours samedi").
_NOT_A_NAME = re.compile(
    r"(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|hier|demain|aujourd|ce|cet|cette|tout|tous|et|"
    r"ou|quand|puis|alors|donc|\w+(?:ent|ez|ons|ait|aient|ais))$"
)
_CROSSING_KINDS = frozenset({"pieton", "pietons", "pietonnier", "protege", "cloute", "cloutes", "a"})


# Dates the streets of France commemorate, with their year: a caller says the year short ("huit mai quarante
# cinq"); two other digits after the date are a house number ("rue du quatre septembre, trente deux").
_COMMEMORATED = {
    (day, month): year
    for days, month, year in (
        (("8", "huit"), "mai", "1945"),
        (("11", "onze"), "novembre", "1918"),
        (("19", "dix neuf"), "mars", "1962"),
        (("18", "dix huit"), "juin", "1940"),
        (("24", "vingt quatre"), "avril", "1915"),
        (("4", "quatre"), "septembre", "1870"),
        (("14", "quatorze"), "juillet", "1789"),
        (("22", "vingt deux"), "aout", "1944"),
        (("28", "vingt huit"), "aout", "1944"),
    )
    for day in (days[0], days[1].split()[-1])
}
MONTHS = frozenset(
    {
        "janvier",
        "fevrier",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "aout",
        "septembre",
        "octobre",
        "novembre",
        "decembre",
    }
)


def _is_day_word(word: str) -> bool:
    return word.isdigit() or str(alpha2digit(word, "fr", threshold=0)).isdigit()


def _dates_in_digits(name: list[str]) -> list[str]:
    """A date in a street's name is written as the plaques write it: "du huit mai" -> "du 8 mai", "du premier mai"
    -> "du 1er mai"."""
    out: list[str] = []
    for token in name:
        if fold(token) in MONTHS and out:
            run = len(out)
            while run > 0 and (_is_day_word(out[run - 1]) or out[run - 1] == "premier"):
                run -= 1
            if run < len(out) and run > 0 and out[run - 1] in {"du", "au"}:
                said = " ".join(out[run:])
                day = "1er" if said == "premier" else str(alpha2digit(said, "fr", threshold=0))
                if day.isdigit() or day == "1er":
                    out[run:] = [day]
        out.append(token)
    return out


def _starts_with_commune(tokens: list[str], gazetteer: Gazetteer, full_names_only: bool = False) -> bool:
    head = fold(" ".join(tokens[:6]))
    if re.match(r"\d{1,2} ?(e|eme|er) arrondissement", head):
        return True
    return any(
        (head == alias or head.startswith(alias + " ")) and (not full_names_only or alias == fold(name))
        for alias, name in gazetteer.aliases_longest_first(quarters=not full_names_only)
    )


def _is_number(word: str) -> bool:
    return word.isdigit() or spoken_to_digits(word).isdigit()


def _ends_with_bent_commune(tokens: list[str], gazetteer: Gazetteer) -> bool:
    """The last words of the line, after a street's name with no "à" between, are a commune's name a letter or two
    bent ("avenue jean moulin vitrolle"): a street's name does not end on a commune's unless after "de"."""
    words = [token for token in tokens if token not in {",", ".", ";", "!", "?"}]
    if not 1 <= len(words) <= 4 or len(heard := fold(" ".join(words))) < 5:
        return False
    names = [alias for alias, _ in gazetteer.aliases_longest_first(quarters=False)]
    return process.extractOne(heard, names, scorer=fuzz.ratio, score_cutoff=_SPELLED_CLOSE) is not None


def _number_after(tokens: list[str]) -> str | None:
    """ "avenue Jean Jaurès, au numéro 30": a number given after the street name, with a cue word."""
    if (
        tokens
        and re.fullmatch(r"[1-9]\d{0,3}", tokens[0])
        and (len(tokens) == 1 or _ENDS_A_NUMBER.fullmatch(tokens[1]))
        and not (len(tokens) > 2 and tokens[1] in ("a", "à") and tokens[2].isdigit())  # a count: "3 à 4 voitures"
    ):
        # "bd Michelet 212, 8e", "rue de Rome 12 à Marseille": the number written after the name, as on an envelope
        return f"{tokens[0]} {tokens[1]}" if tokens[1:2] in (["bis"], ["ter"]) else tokens[0]
    words = [t for t in tokens if t not in {",", "."}]
    return find_street_number(" ".join(words[:4]), cues=NEAR_NUMBER_CUES) or find_street_number(
        " ".join(words)[:80], cues=("numero", "n")
    )


_ENDS_A_NUMBER = re.compile(r"[,.;!?]|a|à|dans|bis|ter|\d{1,2}(?:e|er|ème|eme)|13\d{3}", re.IGNORECASE)


# "devant le neuf", "en face du 12": where a street number is said apart from the street's name.
NEAR_NUMBER_CUES = (
    "au",
    "devant le",
    "en face du",
    "pres du",
    "a cote du",
    "au niveau du",
    "juste devant le",
    "vers le",
    "a hauteur du",
    "a la hauteur du",
)


def find_separate_street_number(text: str) -> str | None:
    """A street number said alone or after the street: "devant le numéro dix-sept", "au 9", "le numéro 12"."""
    # "n°6" folds to "n 6".
    cues = tuple(f"{c} {word}" for c in (*NEAR_NUMBER_CUES, "le") for word in ("numero", "n"))
    cues += (*NEAR_NUMBER_CUES, "numero", "c est au")
    return find_street_number(text, cues=cues)


def find_street_number(text: str, cues: tuple[str, ...] = ("au", "le", "numero", "n", "c est", "cest")) -> str | None:
    """A bare number as in a correction: "non c'est au 14", "le 12 bis"; never part of a phone number."""
    if find_phone_number(text):
        return None
    folded = fold(spoken_to_digits(text))
    cue = "|".join(re.escape(c) for c in cues)
    # Not a group of a longer number, unless that is the postal code said next ("le 40, 13013").
    match = re.search(rf"\b(?:{cue}) ([1-9]\d{{0,3}})(?: (bis|ter|quater))?\b(?! ?(?!13\d{{3}}\b)\d)", folded)
    if not match:
        return None
    return f"{match.group(1)} {match.group(2)}" if match.group(2) else match.group(1)


def find_landmark(text: str, gazetteer: Gazetteer) -> str | None:
    """A public place named as the place of the problem: "devant l'école frédéric mistral" -> "école Frédéric Mistral",
    "au parking de la gare", "le vieux stade de Trets" -> "vieux stade de Trets". Starts at a landmark cue,
    at à/au/sur/vers/près before a kind of place, or at a determiner right before one; ends at the next stop word or
    commune ("à Aubagne"); the cue's prepositions are dropped, the name kept."""
    named = gazetteer.named_landmark(text)
    if named:
        before = re.search(rf"\b(\w+) {re.escape(fold(named))}\b", fold(text))
        if before and before.group(1) in _PRE_NOUN_ADJECTIVES and not fold(named).startswith(before.group(1)):
            named = f"{before.group(1)} {named}"  # "le vieux port de Cassis": the adjective is the name's
    described = _described_landmark(text, gazetteer)
    if named and described and len(described.split()) > len(named.split()) and fold(named) in fold(described):
        return described  # "le collège Vieux-Port" is not the Vieux-Port
    if named and described and fold(named) not in fold(described) and fold(described) not in fold(named):
        # "près de la capitainerie, sur le port de Cassis", "au gymnase à la Pointe-Rouge": the place said
        # first, or any place besides a mere quarter, is the more precise one; the other stays as context.
        folded = fold(text)
        described_at = folded.find(fold(described))
        named_at = folded.find(fold(named).split()[-1].rstrip("sx"))  # "la calanque" for "Les Calanques"
        link_pattern = rf"\b{re.escape(fold(described))} (de l|de la|du|des|de|d) {re.escape(fold(named))}\b"
        joined = re.search(link_pattern, folded)
        if joined:
            # "la gare de la Blancarde": one name, as said, not a place and its quarter.
            link = {"de l": "de l'", "d": "d'"}.get(joined.group(1), joined.group(1) + " ")
            return f"{described} {link}{named}".replace("' ", "'")
        overlapping = _overlapping(described, named, folded)
        if overlapping:
            return overlapping
        if is_quarter(named, gazetteer) or (0 <= described_at < named_at):
            return f"{described}, {named}"
    return named or described


def _overlapping(described: str, named: str, folded_text: str) -> str | None:
    """ "le parking de l'hôtel de ville": a place whose name ends where a known place's name begins is one place,
    said as one ("parking de l'Hôtel de Ville"), not two."""
    described_words, named_words = fold(described).split(), fold(named).split()
    for size in range(min(len(described_words), len(named_words)) - 1, 0, -1):
        if described_words[-size:] != named_words[:size]:
            continue
        if contains_phrase(folded_text, " ".join(described_words + named_words[size:])):
            return " ".join([described, *named.split()[size:]])
    return None


def is_quarter(name: str | None, gazetteer: Gazetteer) -> bool:
    """A quarter's name ("Noailles"): context for the place, weaker than any named place in it."""
    return bool(name) and any(fold(name or "") == alias for alias, _ in gazetteer.quarter_aliases_longest_first())


_WORK_SHIFT = re.compile(r"(?:\w+ )?(?:le |la |mon |du )?poste (?:de|du) (?:nuit|jour|matin|soir|apres midi)\b")
_NUMBERED_PARTS = frozenset(
    {"batiment", "bat", "bloc", "escalier", "entree", "porte", "tour", "numero", "immeuble", "quai", "voie", "ligne",
     "terminal", "sortie", "niveau", "moins", "hall", "secteur", "zone", "lot", "salle", "tranche"}
)  # fmt: skip


def _described_landmark(text: str, gazetteer: Gazetteer) -> str | None:
    tokens = _tokens(text)
    # "garé" folds to "gare": a parked car is at no railway station.
    folded_tokens = [_PARTICIPLE if t.lower() in _PARKED else fold(t) for t in tokens]
    for start in range(len(tokens)):
        rest = " ".join(t for t in folded_tokens[start:] if t)
        cue = next((c for c in gazetteer.landmark_cues if rest.startswith(c + " ")), None)
        # "un arbre à terre devant l'école": fallen, the place is what follows
        fallen = folded_tokens[start : start + 2] == ["a", "terre"]
        if cue is None and folded_tokens[start] in {"a", "au", "aux", "sur", "vers", "pres"} and not fallen:
            if _has_done(tokens, start):
                continue
            if _kind_of_place_follows([t for t in folded_tokens[start + 1 : start + 7] if t], gazetteer):
                cue = folded_tokens[start]
        # A terse answer may open on the kind of place ("stade de Cuges"), unless it is a commune's name ("Port de
        # Bouc").
        opens_line = (
            start == 0
            and any(rest == w or rest.startswith(w + " ") for w in gazetteer.landmark_words)
            and not any(rest == a or rest.startswith(a + " ") for a, _ in gazetteer.aliases_longest_first(False))
        )
        if cue is None and (folded_tokens[start] in _LANDMARK_DETERMINERS or opens_line):
            next_words = [t for t in folded_tokens[start + (0 if opens_line else 1) : start + 5] if t]
            while next_words and next_words[0] in _LANDMARK_ADJECTIVES:
                next_words.pop(0)
            head = " ".join(next_words[:4])
            if any(head == w or head.startswith(w + " ") for w in gazetteer.landmark_words):
                cue = folded_tokens[start]
        if cue is None:
            continue
        head_words = " ".join(t for t in folded_tokens[start : start + 3] if t) + " "
        if any(f" {thing} " in f" {head_words}" for thing in gazetteer.not_landmarks):
            continue  # "les camping-cars": a thing, not a place
        if _WORK_SHIFT.match(" ".join(t for t in folded_tokens[start : start + 5] if t)):
            continue  # "en rentrant du poste de nuit": a shift at work, not the post office
        # In tokens, not words: "rond-point" is one token and two words of the cue "sur le rond point".
        cue_length = _tokens_covering(folded_tokens, start, len(cue.split()))
        span = tokens[start : start + cue_length]
        # After a determiner the kind of place comes at once; after a cue, maybe another word first ("devant la").
        least = cue_length + (0 if cue in _LANDMARK_DETERMINERS or opens_line else 1)
        for position, token in enumerate(tokens[start + cue_length :], start=start + cue_length):
            # "au parc Borély un banc a été arraché": an indefinite article opens what is there, not the name; after
            # "bâtiment", "bloc" or "escalier" it is the number ("devant le bâtiment un").
            numbered = bool(span) and fold(span[-1]) in _NUMBERED_PARTS
            ends = (
                token in STOP_WORDS - {"au", "aux", "en"}
                or token in STREET_NAME_ENDS
                or (token in ("un", "une") and not numbered)
            )
            # A subject pronoun opens the next clause ("au carrefour ils marchent plus"): never part of the name.
            if (ends and len(span) >= least) or fold(token) in _SUBJECT_PRONOUNS or _way_on(tokens, position):
                break
            span.append(token)
        if _ends_in_commune(span, gazetteer):
            stripped = _strip_commune(span, gazetteer)
            # "l'école de la Bédoule": the commune's name is the place's own when the rest is a bare kind of place.
            bare = fold(clean_landmark(stripped, gazetteer) or "") in gazetteer.landmark_words
            span = span if bare else stripped
        cleaned = clean_landmark(span, gazetteer)
        # After a mere determiner, a kind of place alone ("la pendule de la place") does not say which one, unless
        # there is one of it ("le mur de la mairie").
        determined = cue in _LANDMARK_DETERMINERS or opens_line
        if cleaned and (len(span) > cue_length or opens_line):
            # "sur une place", "un parking": any one, not a place anybody could find
            any_one = len(cleaned.split()) == 1 and f" {fold(_join(span))} ".endswith(
                (f" un {fold(cleaned)} ", f" une {fold(cleaned)} ")
            )
            if not any_one and (not determined or len(cleaned.split()) > 1 or fold(cleaned) in _ONE_PER_COMMUNE):
                return cleaned
    return None


_PARTICIPLE = "_participle_"
# Only the accent tells these participles from a kind of place once folded ("garé" and "gare").
_PARKED = frozenset({"garé", "garée", "garés", "garées"})
# Words that open a clause as its subject ("au carrefour il marche plus"): one list for where a landmark's name ends.
_CLAUSE_SUBJECTS = frozenset({"il", "ils", "elle", "elles", "on", "ca", "je", "j", "qui", "y"})
# "degun" is Marseille's "nobody" ("degun répond").
_SUBJECT_PRONOUNS = _CLAUSE_SUBJECTS | {"tu", "nous", "vous", "degun", "quelqu"}


# Parts of a place said before it: "au fond du parking", "sur le bord de la route".
_PARTS_OF_A_PLACE = frozenset(
    "fond bout milieu bas haut pied bord bords abords sortie entree coin niveau debut fin dessus dessous centre cote "
    "angle long arriere devant derriere gauche droite nord sud est ouest hauteur extremite coeur interieur exterieur "
    "beau".split()
)
# "au premier rond-point", "sur le 2e parking": which one, counted.
_COUNTED = re.compile(r"(?:\d+(?:er|re|e|eme|ieme)?|\w+ieme|premier|premiere|dernier|derniere|second|seconde)")


def _kind_of_place_follows(words: list[str], gazetteer: Gazetteer) -> bool:
    """Whether a kind of place comes at once after a preposition ("sur le petit parking", "au fond du parking"),
    not after another noun ("des conteneurs à ordures sur le parking": the "à" makes the bin's name)."""
    position = 0
    for _ in range(3):
        while position < len(words) and (
            words[position] in _LANDMARK_DETERMINERS
            or words[position] in _LANDMARK_ADJECTIVES
            or _COUNTED.fullmatch(words[position])
        ):
            position += 1
        head = " ".join(words[position:])
        if any(head == w or head.startswith(w + " ") for w in gazetteer.landmark_words):
            return True
        if position < len(words) and words[position] in _PARTS_OF_A_PLACE:
            position += 1
            while position < len(words) and words[position] in {"de", "du", "des", "d", "l", "la", "le", "les"}:
                position += 1
            continue
        return False
    return False


# Nouns in "é" that follow the preposition "à": "à côté de", "à proximité".
_NOUNS_IN_E = frozenset({"cote", "proximite", "entree", "extremite", "moitie", "hauteur"})


def _has_done(tokens: list[str], position: int) -> bool:
    """The verb "a" before a past participle ("ça a explosé vers la gare"), not the preposition "à"."""
    if tokens[position] != "a" or position + 1 >= len(tokens):
        return False
    following = tokens[position + 1].lower()
    return following.endswith(("é", "ée", "és", "ées")) and fold(following) not in _NOUNS_IN_E


def _tokens_covering(folded_tokens: list[str], start: int, words: int) -> int:
    count, covered = 0, 0
    while covered < words and start + count < len(folded_tokens):
        covered += len(folded_tokens[start + count].split())
        count += 1
    return max(count, 1)


def _way_on(tokens: list[str], position: int) -> bool:
    """Where a landmark's name ends because the way on starts: "direction Fos", "en sortant de la zone"."""
    token = fold(tokens[position])
    following = fold(tokens[position + 1]) if position + 1 < len(tokens) else ""
    return token == "direction" or (token == "en" and following.endswith("ant"))


def clean_landmark(tokens: list[str], gazetteer: Gazetteer) -> str | None:
    """The name of a landmark without the words that placed it ("devant la", "à côté de", "vers") nor trailing
    punctuation, capitalised: ["devant", "le", "lycée", "rimbaud", "."] -> "lycée Rimbaud"."""
    words = [t for t in tokens if t not in {",", ".", ";", ":", "?", "!"}]
    while words and fold(words[0]) in _LANDMARK_LEADING:
        words.pop(0)
    while words and (words[-1] in LOWER_PARTICLES | {"d", "l", "à", "a", "et"} or fold(words[-1]) in _LANDMARK_LEADING):
        words.pop()
    if not words:
        return None
    common = (set(gazetteer.landmark_words) | _LANDMARK_ADJECTIVES | _LANDMARK_COMMON_NOUNS) - _PRE_NOUN_ADJECTIVES
    out: list[str] = []
    in_name = False  # once a proper name starts, its words are all capitalised ("collège Vieux Port")
    for word in words:
        folded = fold(word)
        leading_adjective = folded in _PRE_NOUN_ADJECTIVES and all(fold(w) in _PRE_NOUN_ADJECTIVES for w in out)
        # "rond point": a kind of place said in two words stays lower case as a whole.
        second_word = bool(out) and f"{fold(out[-1])} {folded}" in common
        if word in LOWER_PARTICLES | {"d'", "l'", "d", "l", "à", "a", "au", "aux"} or (
            not in_name and (not out or leading_adjective or folded in common or second_word)
        ):
            out.append(word)
        else:
            in_name = True
            out.append("-".join(part[:1].upper() + part[1:] for part in word.split("-")))
    # "le 26ème centenaire" is written "26e", as the arrondissements are.
    return re.sub(r"\b(\d+)(?:ème|eme|è)\b", r"\1e", _join(_spelled_out(out)))


# Abbreviations typed in names, written out as the official names have them ("la fac St Charles").
SPELLED_OUT = {"st": "Saint", "ste": "Sainte", "fac": "faculté", "univ": "université"}


def _spelled_out(words: list[str]) -> list[str]:
    return [SPELLED_OUT.get(word.lower().rstrip("."), word) for word in words]


def _ends_in_commune(span: list[str], gazetteer: Gazetteer) -> bool:
    return find_commune(_join(span[-4:]), gazetteer) is not None


def _strip_commune(span: list[str], gazetteer: Gazetteer) -> list[str]:
    """The landmark without the commune after it ("l'école à Aubagne"); "la mairie de Septèmes" keeps it."""
    for cut in range(len(span) - 1, 0, -1):
        tail = fold(_join(span[cut:]))
        if any(tail == alias for alias, _ in gazetteer.aliases_longest_first()):
            head = span[:cut]
            if head and head[-1] in {"de", "d'", "du", "des"}:
                return span
            while head and head[-1] in {"à", "a"}:
                head.pop()
            return head
    return span


def _named_before(text: str, street: str, gazetteer: Gazetteer) -> str | None:
    """A well-known place said before the street ("les escaliers de la gare Saint-Charles, côté boulevard
    d'Athènes"): the place, and the street its side."""
    text = " ".join(SPELLED_OUT.get(word.lower(), word) for word in text.split())  # "gare St Charles"
    named = gazetteer.named_landmark(text)
    # A kind of place in its name ("gare", "église"), not a nickname nor a quarter ("Bonne Mère", "le Panier").
    if not named or not any(contains_phrase(fold(named), kind) for kind in gazetteer.landmark_words):
        return None
    folded = fold(spoken_to_digits(text))
    named_at, street_at = folded.find(fold(named)), folded.find(fold(street).split()[-1])
    if not (0 <= named_at and named_at + len(fold(named)) < street_at):
        return None
    # Said as where ("sur les escaliers de la gare"), not as who ("la préfecture m'a dit").
    return named if _WHERE_BEFORE.intersection(folded[:named_at].split()[-5:]) else None


_WHERE_BEFORE = frozenset("sur devant derriere pres a au aux vers dans face cote niveau".split())


def parse_place(text: str, gazetteer: Gazetteer) -> Place:
    number, street = find_street(text, gazetteer)
    landmark = find_landmark(text, gazetteer) if street is None else _named_before(text, street, gazetteer)
    landmark = _trimmed_landmark(_ended_at_commune(landmark, gazetteer, text))
    if landmark and landmark.replace(" ", "").isdigit():
        # "devant le 42" names a house number, not a landmark.
        number, landmark = number or landmark, None
    commune_text = text
    if street:
        # A commune's name inside the street's ("rue Jean Roque") is not where the street is.
        folded, key = fold(spoken_to_digits(text)), fold(street)
        if key in folded:
            commune_text = folded.replace(key, " , ", 1)
    return Place(
        street_number=number, street_name=street, commune=find_commune(commune_text, gazetteer), landmark=landmark
    )


# Words that end a landmark's name when a sentence goes on ("au carrefour il marche plus"), and words that name no
# public place on their own ("devant chez moi", "devant la porte").
_LANDMARK_TAIL = _CLAUSE_SUBJECTS | {"c", "que", "et", "mais"}
_NO_PLACE = frozenset({"chez", "moi", "porte", "maison", "entree", "immeuble", "fenetre", "la", "le", "les"})


# After "<article> <noun>", a verb or its pronoun: the sentence goes on ("la vitre elle est explosée").
_SENTENCE_GOES_ON = re.compile(
    r"(?:est|sont|etait|sera|a ete|ont|elle(?! y\b)|il(?! y\b)|s|se|fait|font|marche|fuit|penche|deborde|clignote|"
    r"bouge|tombe|pend)\b"
)


def _ended_at_commune(landmark: str | None, gazetteer: Gazetteer, text: str) -> str | None:
    """ "l'école de Gémenos la grille est tombée": a landmark named by its commune ends there; what
    follows with an article is the sentence going on (a quarter of the commune goes on with it)."""
    if not landmark:
        return None
    words = landmark.split()
    # Each folded piece with the word it comes from ("Cuges-les-Pins" is three pieces of one word).
    pieces = [(piece, index) for index, word in enumerate(words) for piece in fold(word).split()]
    folded = [piece for piece, _ in pieces]
    # The words the caller said after the landmark: where the sentence goes on.
    said = fold(text)
    at_end = said.find(" ".join(folded))
    following = said[at_end + len(" ".join(folded)) :].split() if at_end >= 0 else []
    quarters = [alias for alias, _ in gazetteer.quarter_aliases_longest_first()]
    aliases = gazetteer.aliases_longest_first(quarters=False)
    for alias, commune in aliases:
        size = len(alias.split())
        for at in range(1, len(folded) - size):
            after = at + size
            if " ".join(folded[at:after]) != alias or folded[after] not in ("la", "le", "les", "l", "un", "une"):
                continue
            if any(name == commune and longer.startswith(f"{alias} {folded[after]} ") for longer, name in aliases):
                continue  # "la poste de Sausset les pin": the commune's longer name goes on
            rest = " ".join(folded[after:]) + " "
            if any(rest.startswith(f"{q} ") or rest[rest.index(" ") + 1 :].startswith(f"{q} ") for q in quarters):
                continue  # "la gare de Marseille la Blancarde"
            if pieces[after][1] == pieces[after - 1][1]:
                continue  # inside one written word
            noun = ([*folded[after + 1 :], *following] or [""])[0]
            goes_on = _SENTENCE_GOES_ON.match(" ".join([*folded[after + 2 :], *following][:2]))
            if not goes_on or not is_common_word(noun):
                continue  # "la gare d'Aix le TGV", "le stade de Marseille le Vélodrome": one name
            return " ".join(words[: pieces[after][1]])
    return landmark


def _trimmed_landmark(landmark: str | None) -> str | None:
    if not landmark:
        return None
    words = landmark.split()
    while words and fold(words[-1]) in _LANDMARK_TAIL:
        words.pop()
    if not words or all(fold(w) in _NO_PLACE for w in words) or _someones_home(words):
        return None
    return " ".join(words)


# Whose home: "chez ma tante", "chez les voisins" (a restaurant's "chez Fonfon" is a place anyone can find).
_WHOSE = frozenset({"mon", "ma", "mes", "ton", "ta", "tes", "son", "sa", "ses", "notre", "nos", "votre", "vos", "leur"})
_PEOPLE_AT_HOME = frozenset({"moi", "nous", "vous", "lui", "elle", "eux", "elles", "voisin", "voisine", "voisins"})


def _someones_home(words: list[str]) -> bool:
    folded = [fold(w) for w in words[:3]]
    if len(folded) < 2 or folded[0] != "chez":
        return False
    whose = folded[2] if folded[1] in ("le", "la", "les") and len(folded) > 2 else folded[1]
    return folded[1] in _WHOSE or whose in _PEOPLE_AT_HOME


def names_someones_home(text: str) -> bool:
    """Whether the line says where as someone's home ("devant chez ma voisine")."""
    words = fold(text).split()
    return any(_someones_home(words[at:]) for at, word in enumerate(words) if word == "chez")


def format_place(place: Place) -> str:
    """One line for the report and the read-back: "14 ter rue de Rome, Marseille"."""
    parts = []
    street = " ".join(p for p in (place.street_number, place.street_name) if p)
    if street:
        parts.append(street)
    if place.landmark:
        parts.append(place.landmark)
    # "mairie de Septèmes" already says the commune.
    if place.commune and not (place.landmark and contains_phrase(fold(place.landmark), _commune_key(place.commune))):
        parts.append(place.commune)
    return ", ".join(parts)


def _commune_key(commune: str) -> str:
    """The word that names a commune: "septemes" for Septèmes-les-Vallons, "ciotat" for La Ciotat."""
    words = [w for w in fold(commune).split() if w not in {"la", "le", "les", "l", "saint", "sainte"}]
    return words[0] if words else fold(commune)


def find_phone_number(text: str) -> str | None:
    """A French phone number in any usual spoken or written form, as "06 12 34 56 78": digits in pairs or one by
    one, said in words ("zéro six, vingt-et-un, quarante-trois..."), with any punctuation between the groups, "+33" or
    "plus trente-trois" before it. Other numbers in the sentence ("au 12, c'est le 06...") are skipped.
    "Quatre-vingt quatre-vingt-treize" reads as 84 20 13 word by word: when the line holds more digits than a phone
    number, the reading that gives exactly ten, with fewest pairs split, is the number said."""
    if len(_QUATRE_VINGT.findall(text)) >= 2 and _digits_said(text) > _PHONE_DIGITS:
        for regrouped in _regroupings(text):
            if _digits_said(regrouped) == _PHONE_DIGITS:
                return _phone_number_in(regrouped)
    return _phone_number_in(text)


_QUATRE_VINGT = re.compile(r"\bquatre[-\s]vingts?\b", re.IGNORECASE)
_PHONE_DIGITS = 10
_NUMBER_OPENING = re.compile(r"\b(?:z[ée]ro|plus trente[- ]trois)\b|\+33|\b0\d", re.IGNORECASE)


def _digits_said(text: str) -> int:
    """Digits in the part of the line that gives the number (after the caller's last "pardon")."""
    marks = list(_NUMBER_TAKEN_BACK.finditer(text))
    said = text[marks[-1].end() :] if marks else text
    opening = _NUMBER_OPENING.search(said)  # "au 12 rue X, zéro six ...": the number starts with its zero
    said = said[opening.start() :] if opening else said
    return len(re.sub(r"\D", "", re.sub(r"\+\s*33|plus trente[- ]trois", "0", spoken_to_digits(said), flags=re.I)))


def _regroupings(text: str) -> list[str]:
    """The line with a pause after some "quatre-vingt"s ("quatre-vingt, quatre-vingt-treize"), fewest pauses first."""
    ends = [match.end() for match in _QUATRE_VINGT.finditer(text)]
    readings = []
    for size in range(1, len(ends) + 1):
        for chosen in itertools.combinations(ends, size):
            regrouped = text
            for end in reversed(chosen):
                regrouped = f"{regrouped[:end]} , {regrouped[end:]}"
            readings.append(regrouped)
    return readings


def _phone_number_in(text: str) -> str | None:
    digits_text = re.sub(r"\bplus\b\s*", "+", spoken_to_digits(text), flags=re.IGNORECASE)
    digits_text = re.sub(r"\+\s+(?=\d)", "+", digits_text)
    last = _LAST_DIGIT_PUT_RIGHT.search(digits_text)
    if last:
        # "... 9 5, euh non, le dernier c'est 0 pas 5": the number said before, its last digit put right.
        number = _first_phone_number(digits_text[: last.start()])
        right, wrong = (None if g is None else _DIGIT_WORDS.get(g.lower(), g) for g in last.groups())
        if number and right and wrong in (None, number[-1]):
            return number[:-1] + right
    # "06 12 ... 37, non pardon, 06 12 ... 73": a whole number said again after the caller takes one back wins.
    for mark in reversed(list(_NUMBER_TAKEN_BACK.finditer(digits_text))):
        said_again = _first_phone_number(digits_text[mark.end() :])
        if said_again:
            return said_again
    return _first_phone_number(digits_text)


def _first_phone_number(digits_text: str) -> str | None:
    # Hesitations between the groups: "trente-quatre euh cinquante-six", "douze et trente".
    digits_text = _FILLERS_BETWEEN_DIGITS.sub(" ", digits_text)
    # "... quinze quatre-vingt-dix-neuf, ah non, quatre-vingt-dix-huit": a group taken back is replaced.
    digits_text = _GROUP_TAKEN_BACK.sub(_group_said_again, digits_text)
    # text2num leaves "un", "deux", "trois" as words when they stand alone; next to digits they are digits.
    for _ in range(3):
        digits_text = _SMALL_AFTER_DIGITS.sub(lambda m: m.group(1) + _SMALL_NUMBERS[m.group(2).lower()], digits_text)
        digits_text = _SMALL_BEFORE_DIGITS.sub(lambda m: _SMALL_NUMBERS[m.group(1).lower()] + m.group(2), digits_text)
    for run in _DIGIT_RUN.finditer(digits_text):
        groups = _DIGIT_GROUPS.findall(run.group())
        for start in range(len(groups)):
            joined = ""
            for group in groups[start:]:
                joined += group if not joined else group.lstrip("+")
                number = _as_french_number(joined)
                if number:
                    return number
                if len(joined.lstrip("+")) >= 13:
                    break
    return None


_DIGIT = r"\d|z[ée]ro|un|deux|trois|quatre|cinq|six|sept|huit|neuf"
_LAST_DIGIT_PUT_RIGHT = re.compile(
    rf"\ble dernier(?: chiffre)?,? (?:c est |c'est |est )?(?:(?:un|1|le) (?=\d|z|[a-z]))?({_DIGIT})\b"
    rf"(?:,? (?:et )?pas (?:(?:un|1|le) (?=\d|z|[a-z]))?({_DIGIT})\b)?",
    re.IGNORECASE,
)
_DIGIT_WORDS = {**_SMALL_NUMBERS, "zero": "0", "zéro": "0", "quatre": "4", "cinq": "5", "six": "6", "sept": "7"}
_DIGIT_WORDS |= {"huit": "8", "neuf": "9"}
_NUMBER_TAKEN_BACK = re.compile(
    r"\b(?:non|nan|pardon|plutot|plutôt|je veux dire|je me suis tromp[ée]e?|excusez moi|enfin)\b", re.IGNORECASE
)
_GROUP_TAKEN_BACK = re.compile(
    r"\b(\d+)[\s,.!]+(?:(?:ah|oh|euh|ou)[\s,.!]+)?(?:non|pardon|enfin|plutot|plutôt|je veux dire)"
    r"(?:[\s,.!]+(?:c est|c'est|pardon|non|euh))*[\s,.!]+"
    # "... quatre-vingt-un, euh non pardon, pas quatre-vingt-un, quatre-vingt-deux": the group named again first
    r"(?:pas[\s,.!]+\1[\s,.!]+(?:mais[\s,.!]+)?)?(\d+)\b",
    re.IGNORECASE,
)


def _group_said_again(match: re.Match[str]) -> str:
    taken_back, said_again = match.group(1), match.group(2)
    # Only a group of the same length replaces one: "06 12 non plutôt 07 12 ..." starts over by itself.
    return said_again if len(taken_back) == len(said_again) else match.group(0)


def _as_french_number(digits: str) -> str | None:
    for prefix in ("+33", "0033", "33"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 9:
            digits = "0" + digits[len(prefix) :]
            break
    if re.fullmatch(r"0[1-9]\d{8}", digits):
        return " ".join(digits[i : i + 2] for i in range(0, 10, 2))
    return None


def normalize_caller_number(raw: str | None) -> str | None:
    """The caller id from the call ("+33612345678", "0612345678") in the spoken format, or None."""
    if not raw:
        return None
    return find_phone_number(raw)


# Yes/no answers, on folded text. Read in this order, each phrase removed once read: "I don't know" (neither), yes
# phrases made of a negation ("pourquoi pas"), no phrases made of a yes word ("pas d'accord", "non merci c'est bon"
# is a no), then plain yes words. A bare "pas" is a weak no ("je préfère pas"); "c'est bon", "allez" weak yeses.
UNSURE_WORDS = (
    "je sais pas",
    "je ne sais pas",
    "sais pas",
    "j en sais rien",
    "je sais plus",
    "aucune idee",
    "je suis pas sur",
    "je ne suis pas sur",
    "peut etre",
)
AFFIRM_WITH_NEGATION = (
    "pourquoi pas",
    "pas de souci",
    "pas de soucis",
    "pas de probleme",
    "pas de problemes",
    "aucun probleme",
    "aucun souci",
    "sans probleme",
    "sans souci",
    "ca me derange pas",
    "ca ne me derange pas",
    "ca me gene pas",
    "ca ne me gene pas",
    "je dis pas non",
    "je ne dis pas non",
    "pas d objection",
    "je demande pas mieux",
    "je ne demande pas mieux",
    "pas de refus",
)
DENY_WORDS = (
    "pas d accord",
    "c est pas ca",
    "c est pas bon",
    "c est pas correct",
    "c est pas exact",
    "c est pas juste",
    "ce n est pas ca",
    "ce n est pas correct",
    "pas correct",
    "pas exact",
    "pas tout a fait",
    "pas exactement",
    "pas vraiment",
    "pas du tout",
    "pas la peine",
    "pas besoin",
    "pas necessaire",
    "pas utile",
    "pas la peine",
    "surtout pas",
    "absolument pas",
    "certainement pas",
    "laissez tomber",
    "laisse tomber",
    "non merci",
    "ca ira",
    "ca va aller",
    "sans facon",
    "je prefere pas",
    "je prefere ne pas",
    "j aime mieux pas",
    "je veux pas",
    "je ne veux pas",
    "me rappelez pas",
    "rappelez pas",
    "c est faux",
    "negatif",
    "jamais",
    "aucun",
    "aucune",
    "nan",
    "non",
    "nope",
)
AFFIRM_WORDS = (
    "oui",
    "ouais",
    "ouaip",
    "ouep",
    "mouais",
    "yes",
    "yep",
    "volontiers",
    "bien sur",
    "bien entendu",
    "absolument",
    "evidemment",
    "carrement",
    "exactement",
    "exact",
    "tout a fait",
    "je veux bien",
    "allez y",
    "vas y",
    "allez allez",
    "d accord",
    "d acc",
    "dac",
    "ok",
    "okay",
    "entendu",
    "parfait",
    "affirmatif",
    "correct",
    "c est ca",
    "c est bien ca",
    "c est bien cela",
    "c est cela",
    "c est tout a fait ca",
    "c est exact",
    "c est juste",
    "c est correct",
    "en effet",
    "effectivement",
    "si vous voulez",
    "si vous le voulez",
    "si vous voulez bien",
    "si vous le souhaitez",
    "si vous pouvez",
    "si ca peut aider",
    "si ca vous arrange",
    "ca me va",
    "ca marche",
    "voila",
    "tres bien",
    "avec plaisir",
    "bien volontiers",
    "je veux bien oui",
    "rappelez moi",
    "appelez moi",
    "vous pouvez me rappeler",
    "vous pouvez m appeler",
)
WEAK_AFFIRM_WORDS = ("c est bon", "c est tout bon", "allez", "bon ben oui")
# Fillers before the answer itself ("ben oui", "ah si").
_ANSWER_FILLERS = {"euh", "ben", "bah", "bon", "alors", "eh", "he", "ah", "oh", "mais", "hum", "hmm", "heu", "beh"}

# ASR homophones of the small words yes/no answers are made of ("c'est ça" heard as "sait sa").
_HOMOPHONES = {"sa": "ca", "sait": "c est", "ses": "c est", "sest": "c est", "cest": "c est", "ouai": "ouais"}


def _remove_phrases(folded: str, phrases: tuple[str, ...]) -> tuple[str, bool]:
    """The text without the phrases found in it (whole words), and whether one was found."""
    found = False
    padded = f" {folded} "
    for phrase in sorted(phrases, key=len, reverse=True):
        if f" {phrase} " in padded:
            found = True
            padded = padded.replace(f" {phrase} ", " | ")
    return " ".join(padded.split()), found


# "Ah d'accord, non ça ira": the acknowledgement of what was said is no yes to the question.
_ACKNOWLEDGED_NO = re.compile(
    r"^(?:(?:ah|oh|ben|bah|euh|bon) )*(?:d accord|ok|okay|je vois|entendu|tres bien|ah bon) "
    r"(?=(?:euh |ben |bah )*(?:non|nan|pas la peine|pas besoin|ca ira|laissez tomber)\b)"
)


_BARE_DU_TOUT = re.compile(r"^(?:(?:euh|ben|bah|ah|oh|mais)\s+)*du tout\b")


def yes_or_no(text: str) -> bool | None:
    """True/False when the answer is clearly yes or no ("oui pourquoi pas", "ben ouais", "non ça ira", "pas la
    peine", "non merci c'est bon"); None when it is neither or both."""
    folded = " ".join(_HOMOPHONES.get(w, w) for w in fold(text).split())
    # "Du tout !" opening an answer is "pas du tout" without its "pas" ("rien du tout" inside a line is not).
    folded = _BARE_DU_TOUT.sub("pas du tout", folded)
    folded = _ACKNOWLEDGED_NO.sub("", folded)
    folded, _ = _remove_phrases(folded, UNSURE_WORDS)
    folded, yes = _remove_phrases(folded, AFFIRM_WITH_NEGATION)
    folded, no = _remove_phrases(folded, DENY_WORDS)
    words = [w for w in folded.split() if w != "|"]
    folded, plain_yes = _remove_phrases(folded, AFFIRM_WORDS)
    # A bare "si" is a yes only where an answer starts ("si", "ah si", "mais si"), not in "si c'est possible".
    leading = [w for w in words if w not in _ANSWER_FILLERS][:1]
    yes = yes or plain_yes or leading == ["si"]
    if yes and no:
        return None
    if no:
        return False
    weak_no = contains_phrase(folded, "pas")
    if yes:
        # "oui mais pas le soir" is a yes; "je crois pas, oui" is not clear.
        first = leading[0] if leading else ""
        return (
            True if not weak_no or first in ("oui", "ouais", "si", "ouaip", "ouep", "d", "ok", "volontiers") else None
        )
    if weak_no:
        return False
    folded, weak_yes = _remove_phrases(folded, WEAK_AFFIRM_WORDS)
    return True if weak_yes else None


_HESITATIONS = {"euh", "heu", "hum", "hmm", "bah", "ben", "beh", "bon"}
_NO_DANGER = re.compile(
    r"\b(pas|aucun|aucune|sans|non|rien de|ni) (de |d |du |vraiment |tres |trop |si |encore |immediat |grand "
    r"|specialement |particulierement |tellement |franchement |forcement |du tout |non plus |plus )*"
    r"(danger|dangereux|dangereuse|risque|grave|mechant|urgent)"
    r"|\bc est pas (bien )?(grave|mechant|urgent)\b|\bca gene (juste|seulement)\b|\bpas pour l instant\b"
    r"|\b(danger|dangereux|dangereuse) (euh )?(non|nan)\b"
)
_DANGER = re.compile(
    r"\b(danger|dangereux|dangereuse|dangereuses|risque|risques|risquee?)\b"
    r"|\b(peut|peuvent|pourrait|pourraient|va|vont|risque|risquent|faillit|failli|manque) (de )?(se )?"
    r"(tomber|blesser|tordre|trebucher|glisser|casser|faire mal|faire renverser|prendre)"
    r"|\b(se|s) (blesser|tordre la cheville|faire mal|faire renverser|casser la figure|est tordu la cheville)"
    r"|\b(trebuche|trebuchent|glisse|glissent|tombe dedans|tombent dedans|accident|accidents)\b"
    r"|\bon (ne )?voit (plus|pas|rien)\b|\b(obliges?|oblige|doivent|doit) (de )?(passer|marcher|descendre)"
    r"|\b(marchent|marche|passent|passe) (sur|par) la (route|chaussee)\b|\bpas de visibilite\b"
    r"|\b(font|fait|faire) des vagues\b|\b(eclabousse|eclaboussent|arrose|arrosent|asperge|aspergent)\b"
    r"|\bse (fait|font|faire) (arroser|eclabousser|asperger|tremper)\b"
    r"|\b(faire|fait|faut) (tres |bien )?(attention|gaffe)\b|\b(glissant|glissante|glissants|glissantes)\b"
    r"|^(un )?(petit )?peu( quand meme)?$"
    # "c'est chaud pour les piétons": risky, said the Marseille way (the weather is "il fait chaud")
    r"|\bc est (trop |tres |vraiment |super |franchement |un peu )?chaud (pour|quand|de|d|a)\b"
)


def mentions_danger(text: str) -> bool | None:
    """Whether the caller said that it is (or is not) a danger for passers-by (the report's yes/no field, not an
    emergency): "on est obligé de marcher sur la chaussée" is a danger, "pas de danger immédiat" is not; hesitations
    do not split a negation ("non pas vraiment euh dangereux")."""
    folded = " ".join(w for w in fold(text).split() if w not in _HESITATIONS)
    if _NO_DANGER.search(folded):
        return False
    if _DANGER.search(folded):
        return True
    return None


def danger_answer(text: str) -> bool | None:
    """The answer to "is it dangerous?": what the caller says of the danger first ("non attendez, si, c'est
    dangereux"), then a plain yes or no, then the first word of a mixed answer ("oui, on ne voit pas ...")."""
    said = mentions_danger(text)
    if said is not None:
        return said
    answer = yes_or_no(text)
    if answer is not None:
        return answer
    words = fold(text).split()
    while words and words[0] in {"euh", "ben", "bah", "alors", "bon", "eh", "he", "ah", "oh"}:
        words.pop(0)
    if words and words[0] in {"oui", "ouais", "si", "ouai", "assez", "plutot", "tres", "carrement"}:
        return True
    if words[:2] in (["un", "peu"], ["bien", "sur"]):
        return True
    if words and words[0] in {"non", "nan", "bof"}:
        return False
    return None


# A turn that takes back something said before: "ah non c'est à Fos", "pardon, c'est au 14", "pas à Aix, à Gardanne",
# "je me suis trompé". Fillers may come first.
_CORRECTION = re.compile(
    r"^(?:(?:ah|oh|euh|heu|ben|bah|mais|alors|oui)\s+)*(?:non|nan|pardon|attendez|attends|excusez moi|en fait|"
    r"plutot|je voulais dire|je corrige|correction|erreur)\b"
    r"|\bje me suis (?:trompe|trompee|mal exprime|mal exprimee|melange|melangee)\b|\bje me trompe\b"
    # "c'est pas au 4, c'est au 14"; not "c'est pas un gros trou, c'est juste que ..." (a size, not a value)
    r"|\b(?:c est|ce n est) pas (?:a|au|aux|dans|sur|rue|avenue|boulevard|le|la|les|l|un|une|des|du)\b"
    r"(?! (?:gros|grosse|petit|petite|grand|grande|premier|premiere|seul|seule|vrai|vraie|enorme|tres|si|trop)\b)"
    r".{0,40}\bc est\b"
    r"|\bpas (?:a|au|aux|dans) [\w ]{2,30} (?:mais|c est)\b"
)


def sounds_like_correction(text: str) -> bool:
    """Whether the caller is taking back something said earlier (the fields the turn names tell what)."""
    return _CORRECTION.search(fold(text)) is not None


# Words that say where without naming anything: "c'est en haut", "là-bas", "juste là".
_VAGUE_PLACE_WORDS = {
    "haut",
    "bas",
    "la",
    "ici",
    "juste",
    "cote",
    "endroit",
    "coin",
    "rue",
    "dedans",
    "dehors",
    "devant",
    "derriere",
    "dessus",
    "dessous",
    "loin",
    "pres",
    "pas",
    "tres",
    "bien",
    "sais",
    "connais",
    "sait",
    *_PRONOUNS,
    "cest",
    "quoi",
    "truc",
    "machin",
    "oui",
    "non",
    "ouais",
    "euh",
    "ben",
    "bah",
    "voila",
    "alors",
    "donc",
    "exactement",
    "sur",
    "nom",
    "numero",
    "plus",
    "trop",
    "vraiment",
    "meme",
    "toujours",
    "tout",
    "partout",
    "ailleurs",
    "quartier",
}


def free_text_landmark(text: str) -> str | None:
    """The caller's words as a landmark when they describe a place no parser knows ("derrière les containers du
    Lidl"); None when they only say where vaguely ("c'est en haut") or that they do not know."""
    if is_unsure(text):
        return None
    folded = fold(text).split()
    content = [w for w in folded if w not in _VAGUE_PLACE_WORDS and w not in _LANDMARK_LEADING and len(w) > 1]
    content = [w for w in content if fold(w) not in {fold(s) for s in STOP_WORDS}]
    if len(folded) < 3 or not content:
        return None
    words = [t for t in _tokens(text) if t not in {",", ".", ";", ":", "?", "!"}]
    while words and fold(words[0]) in _LANDMARK_LEADING | {"oui", "ouais", "alors", "bon", "voila"}:
        words.pop(0)
    while words and fold(words[-1]) in _LANDMARK_LEADING:
        words.pop()
    return _join(words) or None


# Words that put something somewhere: a piece of a line without one says no place ("non pardon", "je sais plus").
_LOCATIVES = frozenset(
    """sous sur devant derriere pres cote face dans apres avant entre long bord bout haut bas milieu sortie
    entree vers niveau coin angle croisement""".split()
)


def places_something(text: str) -> bool:
    """Whether a word of the line puts something somewhere ("derrière", "le long", "en face")."""
    return not _LOCATIVES.isdisjoint(fold(text).split())


# Words before "de <quarter>" that say the quarter itself or a side of it, not a thing standing in it.
_QUARTER_ITSELF = frozenset(
    {"quartier", "secteur", "cote", "centre", "coin", "village", "noyau", "alentours", "environs", "pres", "loin",
     "vers", "hauts", "haut", "bas", "cite", "zone", "habitant", "habitants", "gens", "mairie", "nord", "sud", "est",
     "ouest", "rue", "rues", "truc", "trucs", "endroit", "partie", "bout", "fond", "milieu", "entree", "sortie"}
)  # fmt: skip


def landmark_in_a_quarter(text: str, gazetteer: Gazetteer, commune: str | None) -> str | None:
    """ "L'obélisque de Mazargues", "le lavoir du Canet": a thing named by the quarter it stands in, in `commune`, is a
    landmark whole, not the quarter alone ("le quartier de Mazargues" is no landmark). The quarter is said with its
    article: "des crottes de chien" names no quarter Les Crottes."""
    for piece in re.split(r"[,.;:!?]+", text):
        folded = fold(piece)
        for alias, quarter_commune in gazetteer.quarter_aliases_longest_first():
            if quarter_commune != commune:
                continue
            article = re.match(r"(la|le|les|l) ", alias)
            bare = alias[article.end() :] if article else alias
            said_with = {"la": "de la", "le": "du", "les": "des", "l": "de l"}[article.group(1)] if article else "de|d"
            found = re.search(rf"\b(\w+) (?:{said_with}) {re.escape(bare)}\b", folded)
            if not found or found.group(1) in _QUARTER_ITSELF or re.fullmatch(STREET_TYPE_PATTERN, found.group(1)):
                continue  # "la traverse de la Rose" is a street, said as such
            # A thing: a word of everyday French as the caller wrote it (the pipeline's words keep their accents).
            said = [word for word in re.findall(r"[^\W\d_]+", piece.lower()) if fold(word) == found.group(1)]
            if any(is_common_word(word) for word in said):
                # The thing and its quarter only ("marseille l'obélisque de Mazargues" -> "obélisque de Mazargues").
                return free_text_landmark(piece[found.start() : found.end()] if len(folded) == len(piece) else piece)
    return None


def _names_a_public_place(piece: str, gazetteer: Gazetteer) -> bool:
    """ "Mur de l'école", "le parking du stade": a kind of public place said as a noun ("ça marche pas" is a verb)."""
    folded = fold(piece)
    words = folded.split()
    if len(words) > _NOUN_PHRASE_WORDS or not _SENTENCE_WORDS.isdisjoint(words) or _WORK_SHIFT.search(folded):
        return False  # "le quartier est tout noir", "en rentrant du poste de nuit": a sentence, not a place
    return any(
        re.search(rf"\b(?:le|la|les|l|du|de|des|d) {re.escape(kind)}\b", folded) for kind in gazetteer.landmark_words
    )


_NOUN_PHRASE_WORDS = 6
_SENTENCE_WORDS = frozenset("est sont etait a ont je j il elle on ils elles vois voit".split())


def place_words_beside_communes(text: str, gazetteer: Gazetteer, commune_words: tuple[str, ...] = ()) -> str | None:
    """The pieces of a line that place something and name no commune, as a landmark: "c'est à Trets. Au-dessus du
    lavoir, le long du canal" -> "Au-dessus du lavoir, le long du canal" (the commune is a field of its own)."""
    names = [alias for alias, _ in gazetteer.aliases_longest_first(quarters=False)]
    pieces = [piece for piece in re.split(r"[.;:!?,]+", text) if piece.strip()]
    if len(pieces) == 1:
        # Said in one breath, as the recogniser writes it ("c'est au tholonet, le long du chemin vers les ruines"):
        # the commune's own words set the pieces apart.
        pieces = _around_the_commune(text, gazetteer, commune_words) or pieces
        if len(pieces) == 1:
            return None
    kept = [
        piece.strip()
        for piece in pieces
        # "Portail du stade, Cadolive": a public place named beside the commune places it too.
        if (places_something(piece) or _names_a_public_place(piece, gazetteer))
        and not any(contains_phrase(fold(piece), name) for name in names)
    ]
    if not kept or len(kept) == len(pieces):
        return None  # nothing set apart from a commune's name
    return free_text_landmark(", ".join(kept))


# Words that lead into a commune's name ("c'est au Tholonet"): neither piece keeps them.
_INTO_A_COMMUNE = frozenset({"a", "au", "aux", "sur", "en", "de", "du", "dans", "vers", "pres"})
_CLAUSE_LINKS = frozenset({"et", "mais", "puis", "alors", "donc", "c", "est", "c'est"})


def _around_the_commune(text: str, gazetteer: Gazetteer, commune_words: tuple[str, ...]) -> list[str] | None:
    """The words before and after the commune's name (`commune_words`, as heard, else as found here), and the name
    itself, as three pieces; None when the commune's words are not found as said."""
    if not commune_words:
        folded = re.sub(r"\bau(x?)\b", lambda m: "a les" if m.group(1) else "a le", fold(spoken_to_digits(text)))
        found = _commune_by_name(folded, gazetteer) or _commune_by_sound(fold(text).split(), gazetteer)
        if found is None:
            return None
        commune_words = found[1]
    core = [word for word in commune_words if word not in ARTICLES] or list(commune_words)
    raw = text.split()
    owners = [index for index, token in enumerate(raw) for _ in fold(token).split()]
    words = [word for token in raw for word in fold(token).split()]
    for start in range(len(words) - len(core) + 1):
        if words[start : start + len(core)] == core or stem(" ".join(words[start : start + len(core)])) == stem(
            " ".join(core)
        ):
            first, last = owners[start], owners[start + len(core) - 1]
            before = raw[:first]
            while before and fold(before[-1]) in _INTO_A_COMMUNE:
                before.pop()
            after = raw[last + 1 :]
            while after and fold(after[0]) in _CLAUSE_LINKS:
                after.pop(0)
            pieces = [" ".join(before), " ".join(raw[first : last + 1]), " ".join(after)]
            return [piece for piece in pieces if piece]
    return None


# "devant la poste", "en face de l'église": what a street's problem is near, said after the street.
# A corner names a place by the other street: "à l'angle de la rue Consolat" is where, not an address.
_CORNER_CUES = (
    ("au", "croisement", "de"),
    ("au", "croisement", "du"),
    ("au", "croisement", "avec"),
    ("a", "l'", "intersection", "de"),
    ("a", "l'", "intersection", "du"),
    ("a", "l'", "intersection", "avec"),
)
_CORNERS = frozenset({"angle", "coin", "croisement", "intersection"})
_NEAR_CUES = (
    ("juste", "devant"),
    ("devant",),
    ("derriere",),
    ("en", "face", "de"),
    ("en", "face", "du"),
    ("en", "face", "des"),
    ("a", "cote", "de"),
    ("a", "cote", "du"),
    ("a", "cote", "des"),
    ("pres", "de"),
    ("pres", "du"),
    ("pres", "des"),
    ("au", "niveau", "de"),
    ("au", "niveau", "du"),
    ("au", "niveau", "des"),
    ("a", "l'", "angle", "de"),
    ("a", "l'", "angle", "du"),
    ("au", "coin", "de"),
    ("au", "coin", "du"),
    *_CORNER_CUES,
)
_NEAR_ARTICLES = {"la", "le", "l'", "les", "du", "des", "de", "d'"}
_NEAR_STOPS = {fold(word) for word in STOP_WORDS} | {"il", "elle", "qui", "que", "mais", "et", "ou", "c", "depuis"}
_NOT_A_LANDMARK = {"chez", "moi", "mon", "ma", "mes", "notre", "nos", "ton", "ta", "son", "sa", "ses", "leur", "lui"}
_MAX_NEAR_WORDS = 4
_CORNER_STOPS = {
    "il",
    "elle",
    "ils",
    "elles",
    "qui",
    "que",
    "qu",
    "est",
    "sont",
    "et",
    "mais",
    "depuis",
    "ca",
    "c",
    "a",
}


def near_landmark(text: str) -> str | None:
    """What the problem is near, in the caller's words ("devant la poste"), after a cue such as "devant" or "en face
    de" followed by an article; None for "devant chez moi" or a cue with nothing after it."""
    tokens = _tokens(text)
    folded = [fold(t) if not t.endswith("'") else fold(t[:-1]) + "'" for t in tokens]
    for start in range(len(tokens)):
        for cue in _NEAR_CUES:
            end = start + len(cue)
            if tuple(folded[start:end]) != cue or end >= len(tokens):
                continue
            if folded[end] not in _NEAR_ARTICLES and cue[-1] not in ("de", "du", "des"):
                continue
            corner = any(word in _CORNERS for word in cue)
            phrase: list[str] = []
            for token, word in zip(tokens[end:], folded[end:], strict=False):
                if word in _NOT_A_LANDMARK:
                    phrase = []
                    break
                # A corner's street keeps its "de la" ("à l'angle de l'avenue de la Capelette").
                stops = _CORNER_STOPS if corner else _NEAR_STOPS
                if not re.fullmatch(r"[\w'-]+", token) or (phrase and word in stops):
                    break
                phrase.append(token)
                if sum(1 for w in phrase if fold(w) not in _NEAR_ARTICLES) >= _MAX_NEAR_WORDS:
                    break
            nouns = [w for w in phrase if fold(w) not in _NEAR_ARTICLES]
            corner = any(word in _CORNERS for word in cue)
            names_address = nouns and (nouns[0][:1].isdigit() or nouns[0] in ("numero", "numéro"))
            if nouns and (names_address or (nouns[0] in STREET_TYPES and not corner)):
                continue  # "en face du 14 rue de Rome": the address itself, not something near it
            if nouns:
                return _join([*tokens[start:end], *phrase])
    return None


def is_unsure(text: str) -> bool:
    """ "Je sais pas", "aucune idée": the caller does not know the answer."""
    folded = fold(text)
    return any(contains_phrase(folded, phrase) for phrase in UNSURE_WORDS) or contains_phrase(folded, "sais plus")
