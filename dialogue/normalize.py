"""Turning what a caller said (as transcribed) into report fields: digits, addresses, communes, phone numbers.

Pure functions, no Rasa: the custom actions call them and the unit tests exercise them directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from text_to_num import alpha2digit

from dialogue.knowledge import Gazetteer, contains_phrase, fold

STREET_TYPES = (
    "rue", "avenue", "av", "boulevard", "bd", "bld", "chemin", "place", "allée", "allee", "allées", "impasse",
    "cours", "quai", "traverse", "montée", "montee", "route", "passage", "esplanade", "corniche", "square",
    "lotissement", "résidence", "residence", "voie", "sentier", "parvis", "promenade", "rond-point",
)
STREET_TYPE_CANONICAL = {"av": "avenue", "bd": "boulevard", "bld": "boulevard", "allee": "allée",
                         "montee": "montée", "residence": "résidence"}
# Words that end a street name or a landmark when they follow it.
STOP_WORDS = {
    "à", "a", "dans", "sur", "vers", "c'est", "c", "il", "ils", "elle", "y", "qui", "et", "près", "pres", "devant",
    "pas", "mais", "euh", "ben", "bah", "voilà", "voila", "depuis", "commune", "ville", "quartier", "juste",
    "en", "au", "aux", "sa", "ça", "ca", "donc", "alors", "parce", "car", "où", "ou", "merci", "s'il",
    "est", "sont", "était", "etait", "ont", "fait", "ne", "n'", "se", "s'", "va", "vont", "on", "que", "avec",
    "pour", "tout", "toute", "tous", "encore", "toujours", "plus", "là", "qu'", "j'", "je", "y'a",
    ",", ".", "?", "!", ";", ":",
}
LOWER_PARTICLES = {"de", "du", "des", "la", "le", "les", "l'", "d'", "et", "sur", "en", "aux", "au"}
REPETITION_SUFFIXES = {"bis", "ter", "quater"}
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
        return str(alpha2digit(prepared, "fr"))
    except Exception:  # text2num raises on odd inputs; digits are a nicety, never a reason to fail a turn
        return text


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
    for alias, name in gazetteer.aliases_longest_first():
        for match in re.finditer(rf"(?:^| )({re.escape(alias)})(?= |$)", folded):
            before = folded[: match.start(1)].split()
            if before and before[-1] in {"de", "d", "du", "des"} and len(before) >= 2:
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
        name = [token]
        for offset, follower in enumerate(tokens[index + 1 :], start=index + 1):
            if follower in STOP_WORDS and len(name) > 1:
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
        return number, format_street_name(name)
    return None, None


def _starts_with_commune(tokens: list[str], gazetteer: Gazetteer) -> bool:
    head = fold(" ".join(tokens[:6]))
    if re.match(r"\d{1,2} ?(e|eme|er) arrondissement", head):
        return True
    return any(head == alias or head.startswith(alias + " ") for alias, _ in gazetteer.aliases_longest_first())


def find_street_number(text: str) -> str | None:
    """A bare number as in a correction: "non c'est au 14", "le 12 bis"."""
    folded = fold(spoken_to_digits(text))
    match = re.search(r"\b(?:au|le|numero|n|c est|cest) (\d{1,4})(?: (bis|ter|quater))?\b", folded)
    if not match:
        return None
    return f"{match.group(1)} {match.group(2)}" if match.group(2) else match.group(1)


def find_landmark(text: str, gazetteer: Gazetteer) -> str | None:
    """"devant l'école jules ferry" or "au rond-point de la gare": from a landmark cue (or a kind of place after
    à/au/sur) up to the next stop word or commune."""
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


def spell_phone_number(number: str) -> str:
    """For the read-back: pairs of digits are what French speakers expect ("06 12 34 56 78")."""
    return number


AFFIRM_WORDS = ("oui", "ouais", "ouai", "d accord", "exactement", "c est ca", "tout a fait", "bien sur",
                "absolument", "ok", "okay", "volontiers", "affirmatif", "correct", "parfait", "voila", "exact",
                "je veux bien", "allez y", "vas y", "c est bon", "ca marche", "entendu", "evidemment", "ouaip",
                "ouep", "carrement", "si", "bien entendu", "d acc")
DENY_WORDS = ("non", "nan", "pas du tout", "aucun", "aucune", "jamais", "pas vraiment", "negatif", "pas besoin",
              "surtout pas", "laissez tomber", "non merci")


def yes_or_no(text: str) -> bool | None:
    """True/False when the answer is clearly yes or no; None when it is neither or both."""
    folded = fold(text)
    yes = any(contains_phrase(folded, w) for w in AFFIRM_WORDS)
    no = any(contains_phrase(folded, w) for w in DENY_WORDS) or contains_phrase(folded, "pas")
    if yes and not no:
        return True
    if no and not yes:
        return False
    return None


def mentions_danger(text: str) -> bool | None:
    """Whether the caller said unprompted that it is (or is not) dangerous."""
    folded = fold(text)
    if re.search(r"\b(pas|aucun|sans|non) (de |du |vraiment |tres |trop )?(danger|dangereux|dangereuse|risque)",
                 folded):
        return False
    if re.search(r"\b(danger|dangereux|dangereuse|risque de tomber|on peut tomber|quelqu un va se)", folded):
        return True
    return None
