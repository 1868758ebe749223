"""Turning what a caller said (as transcribed) into report fields: digits, addresses, communes, phone numbers.

Pure functions, no Rasa: the custom actions call them and the unit tests exercise them directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from text_to_num import alpha2digit

from dialogue.knowledge import Gazetteer, contains_phrase, fold, stem

STREET_TYPES = (
    "rue",
    "avenue",
    "av",
    "boulevard",
    "bd",
    "bld",
    "chemin",
    "place",
    "allée",
    "allee",
    "allées",
    "impasse",
    "cours",
    "quai",
    "traverse",
    "montée",
    "montee",
    "route",
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
    "av": "avenue",
    "bd": "boulevard",
    "bld": "boulevard",
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
    ",",
    ".",
    "?",
    "!",
    ";",
    ":",
}
LOWER_PARTICLES = {"de", "du", "des", "la", "le", "les", "l'", "d'", "et", "sur", "en", "aux", "au"}
REPETITION_SUFFIXES = {"bis", "ter", "quater"}
# Street types that are also common nouns: after a determiner ("sur la route", "une place") they name a street
# only when a complement follows ("la route de Gémenos", "la place du Marché").
AMBIGUOUS_STREET_TYPES = {
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
# alpha2digit leaves "un", "deux", "trois" as words (they are usually not numbers); before a street type or after
# "au"/"numéro" they are street numbers ("au deux place Morgan").
_SMALL_NUMBERS = {"un": "1", "une": "1", "deux": "2", "trois": "3"}
_STREET_TYPE_PATTERN = "|".join(sorted({re.escape(t) for t in STREET_TYPES}, key=len, reverse=True))
_SMALL_BEFORE_STREET = re.compile(
    rf"(?<![\w-])(un|deux|trois)\b(?=(?:\s+(?:bis|ter|quater))?\s+(?:{_STREET_TYPE_PATTERN})\b)", re.IGNORECASE
)
_SMALL_AFTER_CUE = re.compile(r"\b(au|numéro|numero|n°)\s+(un|deux|trois)\b(?!\s*(?:cent|mille|-))", re.IGNORECASE)
_DIGIT_GROUPS = re.compile(r"\+?\d+")


@dataclass(frozen=True)
class Place:
    street_number: str | None = None
    street_name: str | None = None
    commune: str | None = None
    landmark: str | None = None

    def is_empty(self) -> bool:
        return not (self.street_number or self.street_name or self.commune or self.landmark)


def spoken_to_digits(text: str) -> str:
    """French number words become digits: "douze bis rue" -> "12 bis rue" (text2num's alpha2digit)."""
    prepared = re.sub(r"\bzero\b", "zéro", text, flags=re.IGNORECASE)
    try:
        converted = str(alpha2digit(prepared, "fr"))
    except Exception:  # text2num raises on odd inputs; digits are a nicety, never a reason to fail a turn
        return text
    converted = _SMALL_BEFORE_STREET.sub(lambda m: _SMALL_NUMBERS[m.group(1).lower()], converted)
    return _SMALL_AFTER_CUE.sub(lambda m: f"{m.group(1)} {_SMALL_NUMBERS[m.group(2).lower()]}", converted)


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
        else:
            words.append("-".join(part[:1].upper() + part[1:] for part in token.split("-")))
    return _join(words)


def find_commune(text: str, gazetteer: Gazetteer) -> str | None:
    """Commune named in the text, "Marseille 8e" for an arrondissement; a commune right after "de"/"d'" is
    taken as part of a street name ("rue d'Aubagne" is in Marseille) and skipped."""
    arrondissement = find_arrondissement(text)
    if arrondissement:
        return arrondissement
    folded = fold(spoken_to_digits(text))
    # Exact names first, then with endings dropped as the ASR drops them ("septème les vallons").
    for haystack, normal in ((folded, str), (stem(folded), stem)):
        for alias, name in gazetteer.aliases_longest_first():
            for match in re.finditer(rf"(?:^| )({re.escape(normal(alias))})(?= |$)", haystack):
                before = haystack[: match.start(1)].split()
                if (
                    before
                    and before[-1] in {"de", "d", "du", "des"}
                    and len(before) >= 2
                    and before[-2] not in {"quartier", "secteur", "cote", "commune", "ville", "pres", "vers"}
                ):
                    continue
                return name
    return None


def find_arrondissement(text: str) -> str | None:
    folded = fold(spoken_to_digits(text))
    patterns = (
        r"\bmarseille (\d{1,2})(?: ?(?:e|eme|er|ere))?\b",
        r"\b(\d{1,2}) ?(?:e|eme|er|ere)? arrondissement\b",
        r"\b(?:dans le|le) (\d{1,2}) ?(?:e|eme|er|ere)\b",
    )
    words = {"premier": 1}
    folded = re.sub(r"\bpremier\b", "1 er", folded) if "arrondissement" in folded or "marseille" in folded else folded
    for pattern in patterns:
        match = re.search(pattern, folded)
        if match and 1 <= int(match.group(1)) <= 16:
            number = int(match.group(1))
            return f"Marseille {number}{'er' if number == words['premier'] else 'e'}"
    return None


def find_street(text: str, gazetteer: Gazetteer | None = None) -> tuple[str | None, str | None]:
    """(street number with bis/ter, street name) or (None, None): "douze bis rue de la république à marseille"
    -> ("12 bis", "rue de la République")."""
    tokens = _tokens(text)
    for index, token in enumerate(tokens):
        if token not in STREET_TYPES or index + 1 >= len(tokens):
            continue
        if tokens[index + 1] in STOP_WORDS or tokens[index + 1] in REPETITION_SUFFIXES:
            continue  # "la route pour l'éviter", "la rue est inondée": a common noun, not a street name
        if (
            token in AMBIGUOUS_STREET_TYPES
            and index > 0
            and tokens[index - 1] in DETERMINERS
            and tokens[index + 1] not in COMPLEMENT_STARTS
        ):
            continue
        name = [token]
        for offset, follower in enumerate(tokens[index + 1 :], start=index + 1):
            if follower in STOP_WORDS:
                break
            if gazetteer and len(name) > 1 and name[-1] not in LOWER_PARTICLES | {"d", "l"}:
                if _starts_with_commune(tokens[offset:], gazetteer):
                    break
            name.append(follower)
        while name and name[-1] in LOWER_PARTICLES:
            name.pop()
        if len(name) < 2:
            continue
        number = None
        before = [t for t in tokens[max(0, index - 4) : index] if t not in {",", "."}]
        if before and before[-1] in REPETITION_SUFFIXES and len(before) >= 2 and before[-2].isdigit():
            number = f"{before[-2]} {before[-1]}"
        elif before and before[-1].isdigit():
            number = before[-1]
        elif before and re.fullmatch(r"\d+(bis|ter)", before[-1]):
            digits, suffix = re.fullmatch(r"(\d+)(bis|ter)", before[-1]).groups()  # type: ignore[union-attr]
            number = f"{digits} {suffix}"
        if number is None:
            number = _number_after(tokens[index + len(name) :])
        return number, format_street_name(name)
    return None, None


def _starts_with_commune(tokens: list[str], gazetteer: Gazetteer) -> bool:
    head = fold(" ".join(tokens[:6]))
    if re.match(r"\d{1,2} ?(e|eme|er) arrondissement", head):
        return True
    return any(head == alias or head.startswith(alias + " ") for alias, _ in gazetteer.aliases_longest_first())


def _number_after(tokens: list[str]) -> str | None:
    """ "avenue Jean Jaurès, au numéro 30": a number given after the street name, with a cue word."""
    words = [t for t in tokens if t not in {",", "."}]
    return find_street_number(" ".join(words[:3]), cues=("au",)) or find_street_number(
        " ".join(words)[:80], cues=("numero", "n")
    )


def find_street_number(text: str, cues: tuple[str, ...] = ("au", "le", "numero", "n", "c est", "cest")) -> str | None:
    """A bare number as in a correction: "non c'est au 14", "le 12 bis"; never part of a phone number."""
    if find_phone_number(text):
        return None
    folded = fold(spoken_to_digits(text))
    cue = "|".join(re.escape(c) for c in cues)
    match = re.search(rf"\b(?:{cue}) ([1-9]\d{{0,3}})(?: (bis|ter|quater))?\b(?! ?\d)", folded)
    if not match:
        return None
    return f"{match.group(1)} {match.group(2)}" if match.group(2) else match.group(1)


def find_landmark(text: str, gazetteer: Gazetteer) -> str | None:
    """ "devant l'école jules ferry" or "au rond-point de la gare": from a landmark cue (or a kind of place after
    à/au/sur) up to the next stop word or commune."""
    named = gazetteer.named_landmark(text)
    if named:
        return named
    tokens = _tokens(text)
    folded_tokens = [fold(t) for t in tokens]
    for start in range(len(tokens)):
        rest = " ".join(t for t in folded_tokens[start:] if t)
        cue = next((c for c in gazetteer.landmark_cues if rest.startswith(c + " ")), None)
        if cue is None and folded_tokens[start] in {"a", "au", "sur", "vers", "pres"}:
            following = " ".join(t for t in folded_tokens[start + 1 : start + 4] if t)
            if any(contains_phrase(following, w) for w in gazetteer.landmark_words):
                cue = folded_tokens[start]
        if cue is None:
            continue
        cue_length = len(cue.split())
        span = tokens[start : start + cue_length]
        for token in tokens[start + cue_length :]:
            if token in STOP_WORDS - {"au", "aux", "en"} and len(span) > cue_length + 1:
                break
            span.append(token)
        if _ends_in_commune(span, gazetteer):
            span = _strip_commune(span, gazetteer)
        if len(span) > cue_length:
            return _join(span)
    return None


def _ends_in_commune(span: list[str], gazetteer: Gazetteer) -> bool:
    return find_commune(_join(span[-4:]), gazetteer) is not None


def _strip_commune(span: list[str], gazetteer: Gazetteer) -> list[str]:
    for cut in range(len(span) - 1, 0, -1):
        tail = fold(_join(span[cut:]))
        if any(tail == alias for alias, _ in gazetteer.aliases_longest_first()):
            head = span[:cut]
            while head and head[-1] in {"à", "a"}:
                head.pop()
            return head
    return span


def parse_place(text: str, gazetteer: Gazetteer) -> Place:
    number, street = find_street(text, gazetteer)
    landmark = find_landmark(text, gazetteer) if street is None else None
    return Place(street_number=number, street_name=street, commune=find_commune(text, gazetteer), landmark=landmark)


def format_place(place: Place) -> str:
    """One line for the report and the read-back: "12 bis rue de la République, Marseille"."""
    parts = []
    street = " ".join(p for p in (place.street_number, place.street_name) if p)
    if street:
        parts.append(street)
    if place.landmark:
        parts.append(place.landmark)
    if place.commune:
        parts.append(place.commune)
    return ", ".join(parts)


def find_phone_number(text: str) -> str | None:
    """A French phone number in any usual spoken or written form, as "06 12 34 56 78"."""
    digits_text = re.sub(r"\bplus\b", "+", spoken_to_digits(text), flags=re.IGNORECASE)
    joined = re.sub(r"(?<=\d)[ .\-/]+(?=\d)", "", digits_text)
    for group in _DIGIT_GROUPS.findall(joined):
        digits = group
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


AFFIRM_WORDS = (
    "oui",
    "ouais",
    "ouai",
    "d accord",
    "exactement",
    "c est ca",
    "tout a fait",
    "bien sur",
    "absolument",
    "ok",
    "okay",
    "volontiers",
    "affirmatif",
    "correct",
    "parfait",
    "voila",
    "exact",
    "je veux bien",
    "allez y",
    "vas y",
    "c est bon",
    "ca marche",
    "entendu",
    "evidemment",
    "ouaip",
    "ouep",
    "carrement",
    "si",
    "bien entendu",
    "d acc",
)
DENY_WORDS = (
    "non",
    "nan",
    "pas du tout",
    "aucun",
    "aucune",
    "jamais",
    "pas vraiment",
    "negatif",
    "pas besoin",
    "surtout pas",
    "laissez tomber",
    "non merci",
)


# ASR homophones of the small words yes/no answers are made of ("c'est ça" heard as "sait sa").
_HOMOPHONES = {"sa": "ca", "sait": "c est", "ses": "c est", "sest": "c est", "cest": "c est", "ouai": "ouais"}


def yes_or_no(text: str) -> bool | None:
    """True/False when the answer is clearly yes or no; None when it is neither or both."""
    folded = " ".join(_HOMOPHONES.get(w, w) for w in fold(text).split())
    yes = any(contains_phrase(folded, w) for w in AFFIRM_WORDS)
    no = any(contains_phrase(folded, w) for w in DENY_WORDS) or contains_phrase(folded, "pas")
    if yes and not no:
        return True
    if no and not yes:
        return False
    return None


_NO_DANGER = re.compile(
    r"\b(pas|aucun|aucune|sans|non|rien de|ni) (de |d |du |vraiment |tres |trop |si |encore |immediat |grand )*"
    r"(danger|dangereux|dangereuse|risque|grave|mechant|urgent)"
    r"|\bc est pas (bien )?(grave|mechant|urgent)\b|\bca gene (juste|seulement)\b|\bpas pour l instant\b"
)
_DANGER = re.compile(
    r"\b(danger|dangereux|dangereuse|dangereuses|risque|risques|risquee?)\b"
    r"|\b(peut|peuvent|pourrait|pourraient|va|vont|risque|risquent|faillit|failli|manque) (de )?(se )?"
    r"(tomber|blesser|tordre|trebucher|glisser|casser|faire mal|faire renverser|prendre)"
    r"|\b(se|s) (blesser|tordre la cheville|faire mal|faire renverser|casser la figure|est tordu la cheville)"
    r"|\b(trebuche|trebuchent|glisse|glissent|tombe dedans|tombent dedans|accident|accidents)\b"
    r"|\bon (ne )?voit (plus|pas|rien)\b|\b(obliges?|oblige|doivent|doit) (de )?(passer|marcher|descendre)"
    r"|\b(marchent|marche|passent|passe) (sur|par) la (route|chaussee)\b|\bpas de visibilite\b"
)


def mentions_danger(text: str) -> bool | None:
    """Whether the caller said that it is (or is not) a danger for passers-by (the report's yes/no field, not an
    emergency): "les gens doivent marcher sur la route" is a danger, "pas de danger immédiat" is not."""
    folded = fold(text)
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
    if words and words[0] in {"non", "nan"}:
        return False
    return None
