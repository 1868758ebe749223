"""Places in a line, resolved against the gazetteer (communes, quarters, landmarks) and the street base.

The recogniser bends names ("la siotat", "les penne mirabeau", "cours bel sunce"): a commune not found word for
word is looked up by sound (a French phonetic key, then fuzzy matching on it), and a street snaps to the official
name in its commune when the street base (imported from the Base Adresse Nationale) has it; otherwise the caller's
words stay, marked unverified for the supervisor.
"""

from __future__ import annotations

import itertools
import re
from typing import Protocol

from rapidfuzz import fuzz, process

from dialogue.knowledge import Gazetteer, fold
from dialogue.negation import is_common_word
from dialogue.normalize import (
    SPELLED_OUT,
    STREET_TYPE_PATTERN,
    TOWARDS_WORDS,
    Place,
    ordinal_arrondissement,
    parse_place,
    spoken_to_digits,
)

# Below this similarity (0-100) of phonetic keys a window of words is not taken for a commune.
COMMUNE_MIN_SIMILARITY = 90.0
# Letters of a commune's name as written (not its sound) close enough to be that name bent: "fosse sur mer".
_BENT_NAME_SIMILARITY = 85.0
# Words that never start a commune's name as heard: a window starting with them is skipped.
_NOT_A_NAME = {
    *("rue", "avenue", "boulevard", "chemin", "de", "du", "des", "a", "au", "aux", "dans", "pas", "et", "est"),
    *("en", "sur", "c", "vers", "pres"),
}


class StreetMatch(Protocol):
    name: str
    commune: str
    number_known: bool | None


class StreetMatcher(Protocol):
    def match(self, heard_street: str, commune: str | None, number: str | None = None) -> StreetMatch | None: ...


def _sound_key(text: str) -> str:
    from dialogue.streets import phonetic_key

    key: str = phonetic_key(text)
    return key


# The Métropole's postal codes (Bouches-du-Rhône and the Var's Saint-Zacharie, 83640) as said in digits.
POSTAL_CODE = re.compile(r"\b(?:13|83)\s?\d{3}\b")
# Marseille's, 13001 to 13016, as callers say them once the words are digits: "treize mille trois" (13003),
# "treize zéro zéro trois" (13 003), "treize cent trois" (1303), "le treize treize" (13 13); never before a street
# type, where such a number is the house's.
_BEFORE_STREET_TYPE = rf"\s*(?:bis |ter )?(?:{STREET_TYPE_PATTERN})\b"
_MARSEILLE_POSTAL = re.compile(
    rf"\b13\s?0(0[1-9]|1[0-6])\b|\b13(?:(0[1-9]|1[0-6])| (1[0-6]))\b(?!{_BEFORE_STREET_TYPE})", re.IGNORECASE
)


_AT_A_COMMUNE = frozenset({"a", "au", "aux", "sur", "vers", "pres"})
# An everyday word read as the commune it sounds like: after one of these, and ending the place (the line ends, or
# one of the words after it follows): "à très au numéro six" is Trets, "à très bientôt" and "à grand bruit" are not.
_BEFORE_HEARD_AS = frozenset({"a", "sur"})
_AFTER_HEARD_AS = frozenset(
    {"au", "aux", "a", "dans", "pres", "c", "et", "y", "euh", "hein", "quoi", "voila", "merci", "numero", "derriere",
     "devant", "en", "depuis", "centre", "village", "ca", "vous", "sur", "vers", "cote", "quartier", "zone", "il",
     "elle", "ils", "elles", "on", "je", "j"}
)  # fmt: skip
# "À très au moins deux mètres": an idiom goes on after "au".
_IDIOM_AFTER_AU = frozenset({"moins", "plus", "pire", "mieux", "lieu", "final", "total", "fait", "juste", "maximum"})
_ARTICLES_BEFORE = frozenset({"au", "aux", "la", "le", "les", "l"})
# Little words around a heard name: "à vélo et la" has one word that could be a bent name, and it is everyday French.
_AT_A_NAME = frozenset("a au aux de du des d vers sur".split())
_GLUE_WORDS = frozenset("a au aux et la le les l de du des d en ou".split())
# Similarity (0-100) of the letters of pieces joined and a commune's name for the pieces to be that name.
_JOINED_CLOSE = 88.0
_WORD = re.compile(r"[^\W\d_]+")
_PHONE_PAIRS = re.compile(r"(?<![\d.])\+?\d{2}(?:[\s.]\d{2}){4}(?![\d.])")


# "58 rue Sainte (7e)": an arrondissement written after the address.
ARRONDISSEMENT_TAG = re.compile(r"\(\s*(\d{1,2})\s*(?:e|è|ème|eme|er|ère)\s*\)", re.IGNORECASE)


def _tagged_arrondissement(said: str) -> str | None:
    found = ARRONDISSEMENT_TAG.search(said)
    number = int(found.group(1)) if found else 0
    return f"Marseille {number}{'er' if number == 1 else 'e'}" if 1 <= number <= 16 else None


def marseille_postal_arrondissement(said: str) -> str | None:
    """ "13008" -> "Marseille 8e" (Marseille's postal codes are 13001 to 13016, one per arrondissement)."""
    found = _MARSEILLE_POSTAL.search(said)
    if not found:
        return None
    number = int(next(group for group in found.groups() if group))
    return f"Marseille {number}{'er' if number == 1 else 'e'}"


def _without_words(text: str, words: tuple[str, ...]) -> str:
    """The text with the run of (folded) `words` cut out."""
    found = re.search(r"\b" + r"\W+".join(re.escape(w) for w in words) + r"\b", fold(text))
    return f"{text[: found.start()]} , {text[found.end() :]}" if found and len(fold(text)) == len(text) else text


class PlaceResolver:
    def __init__(self, gazetteer: Gazetteer, streets: StreetMatcher | None = None) -> None:
        self.gazetteer = gazetteer
        self.streets = streets
        # Every commune alias written without spaces (at least 6 letters: a short one is too easily met by chance).
        self._joined_names = {
            alias.replace(" ", ""): name
            for name, aliases in gazetteer.communes
            for alias in aliases
            if len(alias.replace(" ", "")) >= 6
        }
        self._aliases = {alias for _, aliases in gazetteer.communes for alias in aliases}
        # Long words of the quarters' and landmarks' names ("belsunce", "longchamp", "puyricard"): a recogniser that
        # splits one ("bel sunce") wrote its sounds as two words.
        self._name_words = frozenset(
            word for _, aliases in gazetteer.landmarks for alias in aliases for word in alias.split() if len(word) >= 7
        )
        # A quarter's name is joined only from a piece no dictionary has: "mal passé" and "bonne veine" are French.
        self._quarter_words = frozenset(
            word for _, aliases in gazetteer.quarters for alias in aliases for word in alias.split() if len(word) >= 7
        )
        self._heard_as = {word: name for name, words in gazetteer.heard_as for word in words}
        self._joined_sounds = {_sound_key(joined): (joined, name) for joined, name in self._joined_names.items()}
        # (phonetic key, official name) of every commune alias worth a sound match (short aliases are too risky).
        self._commune_keys = [
            (_sound_key(alias), name) for name, aliases in gazetteer.communes for alias in aliases if len(alias) >= 5
        ]

    def parse(self, text: str) -> Place:
        # A phone number's pairs ("06 12 13 14 15") say no postal code, house number or commune.
        text = _PHONE_PAIRS.sub(" , ", text)
        # A postal code is no house number nor part of a street's name; Marseille's say the arrondissement.
        arrondissement = (
            marseille_postal_arrondissement(text) or _tagged_arrondissement(text) or ordinal_arrondissement(text)
        )
        text = ARRONDISSEMENT_TAG.sub(" , ", POSTAL_CODE.sub(" , ", _MARSEILLE_POSTAL.sub(" , ", text)))
        place = parse_place(text, self.gazetteer)
        if arrondissement and place.commune in (None, "Marseille"):
            place = Place(place.street_number, place.street_name, arrondissement, place.landmark)
        everyday = self.commune_heard_as_word(text, places_something=bool(place.street_name or place.landmark))
        if place.commune is None and everyday:
            commune, word = everyday
            return Place(place.street_number, place.street_name, commune, self._landmark_besides(text, place, (word,)))
        heard = self.commune_by_sound(text, skip=place.street_name)
        if heard is None:
            return place
        commune, window = heard
        # A commune heard by sound over more words than the one named word for word, and over some of the same
        # words, is the better reading: "aux penne mirabeau" is Les Pennes-Mirabeau, not La Penne-sur-Huveaune for
        # its "penne"; a landmark that sounds like another commune ("Sainte-Anne", Saint-Cannat) leaves the one named.
        named = self.words_naming(text, place.commune, besides=place.street_name) if place.commune else ()
        if not named or (commune != place.commune and len(window) > len(named) and set(window) & set(named)):
            place = Place(place.street_number, place.street_name, commune, self._landmark_besides(text, place, window))
        return place

    def _landmark_besides(self, text: str, place: Place, commune_words: tuple[str, ...]) -> str | None:
        """The landmark, unless it was read in the words that name the commune: "à carnou devant la mairie" is at
        the town hall, "à carnou au rond-point" at the roundabout."""
        if not place.landmark or fold(place.landmark).split()[: len(commune_words)] != list(commune_words):
            return place.landmark  # "la poste des Pennes-Mirabeau" is named by its commune
        return parse_place(_without_words(text, commune_words), self.gazetteer).landmark

    def commune_heard_as_word(self, text: str, places_something: bool = True) -> tuple[str, str] | None:
        """A commune the recogniser wrote as the everyday word it sounds like ("à très" for Trets), and that word,
        where a commune is said: after "à" or "sur", ending the place; at the end of the line only in a line that
        places something or says only that ("c'est à très"; not "merci beaucoup à très")."""
        words = fold(spoken_to_digits(text)).split()
        for index, word in enumerate(words):
            name = self._heard_as.get(word)
            if name is None or index == 0 or words[index - 1] not in _BEFORE_HEARD_AS:
                continue
            after = words[index + 1] if index + 1 < len(words) else None
            then = words[index + 2] if index + 2 < len(words) else None
            if after in ("au", "aux") and then in _IDIOM_AFTER_AU:
                continue
            said_alone = len(words) <= 4 and words[0] in ("c", "a", "sur", "cest")
            if (
                (after is None and (places_something or said_alone))
                or after in _AFTER_HEARD_AS
                or (after or "").isdigit()
            ):
                return name, word
        return None

    def words_naming(self, text: str, commune: str, besides: str | None = None, bent: bool = False) -> tuple[str, ...]:
        """The words of the line that name `commune` word for word (its longest alias found), not inside the street
        `besides` ("chemin de la Plaine" names no quarter of Marseille); with `bent`, else a few letters off."""
        padded = f" {fold(spoken_to_digits(text))} "
        if besides:
            padded = padded.replace(f" {fold(besides)} ", " | ", 1)
        found = [
            tuple(alias.split())
            for alias, name in self.gazetteer.aliases_longest_first()
            if name == commune and f" {alias} " in padded
        ]
        if not found and bent:
            # "à fosse sur mer": the words the commune was heard in, a letter or two off, name it all the same.
            words = padded.split()
            for alias, name in self.gazetteer.aliases_longest_first(quarters=False):
                size = len(alias.split())
                if name != commune or len(alias) < 5:
                    continue
                for start in range(len(words) - size + 1):
                    window = words[start : start + size]
                    if "|" not in window and fuzz.ratio(" ".join(window), alias) >= _BENT_NAME_SIMILARITY:
                        return tuple(window)
            return ()
        return max(found, key=len, default=())

    def with_split_communes_joined(self, text: str) -> str:
        """ "gare danne": a commune's name the recogniser cut in pieces, written whole before
        anything reads the line (its pieces name no station and no way to park)."""
        words = list(_WORD.finditer(text))
        for size in (4, 3, 2):  # "sept aimes les vallons": four pieces
            for start in range(len(words) - size, -1, -1):
                window = words[start : start + size]
                if any(text[a.end() : b.start()] != " " for a, b in itertools.pairwise(window)):
                    continue
                folded = [fold(w.group()) for w in window]
                if start and fold(words[start - 1].group()) in TOWARDS_WORDS:
                    continue
                if folded[0] in _NOT_A_NAME or folded[-1] in _NOT_A_NAME:
                    continue  # "à mira mas": the preposition is no piece of the name
                joined = "".join(folded)
                before = fold(words[start - 1].group()) if start else ""
                everyday = folded[0] in _ARTICLES_BEFORE and all(is_common_word(word) for word in folded[1:])
                if joined not in self._joined_names and (
                    any(word in self._aliases for word in folded) or before not in _AT_A_COMMUNE or everyday
                ):
                    # A name already said whole ("Gardanne au ...") is no piece of a bent one; pieces that only sound
                    # like a name count after "à" ("pas la peine" is no bent La Penne), and not as an article and a
                    # word of everyday French ("à la barbe de tout le monde").
                    continue
                name = self._joined_name(joined)
                if name and start and fold(words[start - 1].group()) in _ARTICLES_BEFORE:
                    name = re.sub(r"^(?:La|Le|Les) ", "", name)  # "aux pennes mira beau": the article is said
                if name and " ".join(folded) not in self._aliases:
                    return self.with_split_communes_joined(
                        f"{text[: window[0].start()]}{name}{text[window[-1].end() :]}"
                    )
        return text

    def with_split_names_joined(self, text: str) -> str:
        """ "cours bel sunce", "au palais long champ": a word of a quarter's or a landmark's name the recogniser cut in
        two, written whole ("cours belsunce")."""
        words = text.split()
        joined: list[str] = []
        index = 0
        while index < len(words):
            pair = fold(" ".join(words[index : index + 2])).split()
            whole = "".join(pair)
            before = fold(words[index - 1]) if index else ""
            # Everyday words make a quarter's name only where a name goes: "à mont olivet", not "ça s'est mal passé".
            everyday = before not in _AT_A_NAME and all(is_common_word(piece) for piece in pair)
            if len(pair) == 2 and (whole in self._name_words or (whole in self._quarter_words and not everyday)):
                joined.append("".join(pair))
                index += 2
            else:
                joined.append(words[index])
                index += 1
        return " ".join(joined) if len(joined) < len(words) else text

    def _joined_name(self, joined: str) -> str | None:
        """The commune whose name, written without spaces, these letters are, or sound like with a letter or two
        bent ("garedanne", "gardanne")."""
        if joined in self._joined_names:
            return self._joined_names[joined]
        if len(joined) < 6:
            return None
        best = process.extractOne(_sound_key(joined), self._joined_sounds.keys(), scorer=fuzz.ratio)
        if best is None or best[1] < _JOINED_CLOSE:
            return None
        spelled, name = self._joined_sounds[best[0]]
        close = abs(len(joined) - len(spelled)) <= 1 and fuzz.ratio(joined, spelled) >= _JOINED_CLOSE
        return name if close else None

    def commune_by_sound(self, text: str, skip: str | None = None) -> tuple[str, tuple[str, ...]] | None:
        """A commune named in a bent way, by the phonetic key of windows of one to four words: the commune and
        the (folded) words it was heard in."""
        # "st" is the "Saint" of the street's name as written out.
        words = [fold(SPELLED_OUT.get(word, word)) for word in fold(spoken_to_digits(text)).split()]
        if skip:
            # The street's words are no commune; its type may have been written short ("rte" for "route").
            street_words = fold(skip).split()
            for skipped in (street_words, street_words[1:]):
                found = next(
                    (i for i in range(len(words) - len(skipped) + 1) if words[i : i + len(skipped)] == skipped), None
                )
                if skipped and found is not None:
                    words = [*words[:found], "|", *words[found + len(skipped) :]]
                    break
        # A name the recogniser split ("gé menos"): the words written together are the name itself.
        for size in (3, 2):
            for start in range(len(words) - size + 1):
                window = words[start : start + size]
                towards = start > 0 and words[start - 1] in TOWARDS_WORDS
                if "|" not in window and not towards and (name := self._joined_names.get("".join(window))) is not None:
                    return name, tuple(window)
        best: tuple[float, int, str, tuple[str, ...]] | None = None
        for size in (4, 3, 2, 1):
            for start in range(len(words) - size + 1):
                window = words[start : start + size]
                if "|" in window or window[0] in _NOT_A_NAME or any(w.isdigit() for w in window):
                    continue
                if start and words[start - 1] in TOWARDS_WORDS:
                    continue  # "le rond-point direction Port-Saint-Louis": where the road goes, not where it is
                content = [word for word in window if word not in _GLUE_WORDS]
                if len(content) == 1 and is_common_word(content[0]):
                    # "un grand trou" is no bent "Grans", nor "à vélo et la piste" Velaux: one word alone, or with
                    # only little words around it, is a name only if unusual.
                    continue
                key = _sound_key(" ".join(window))
                if len(key) < 4:
                    continue
                for commune_key, name in self._commune_keys:
                    score = fuzz.ratio(key, commune_key)
                    if score >= COMMUNE_MIN_SIMILARITY and (best is None or (score, size) > best[:2]):
                        best = (score, size, name, tuple(window))
        return (best[2], best[3]) if best else None

    def verify(self, place: Place) -> tuple[Place, bool | None]:
        """The place with its street snapped to the official name when the street base knows it there; whether it
        was found (None when there is no street base or no street)."""
        if not place.street_name or self.streets is None:
            return place, None
        found = self.streets.match(place.street_name, place.commune, place.street_number)
        if found is None:
            return place, False
        commune = (
            found.commune
            if (place.commune is None or fold(found.commune).startswith(fold(place.commune)))
            else (place.commune)
        )
        return Place(place.street_number, found.name, commune, place.landmark), True
