"""Street names as the recogniser bends them, snapped to the official names of the Base Adresse Nationale.

`phonetic_key` writes a name the way French sounds it, so that spellings a speech recogniser confuses ("bel sunce"
and "Belsunce", "republique" and "République") get the same key. `StreetIndex` holds the streets (imported into the
`streets` table by `signalements.streets.import_ban_csv`) and `match` finds the official street a caller named.

Scores are 0-100: 100 for the same phonetic key, else the best rapidfuzz ratio of the keys and of the folded names,
or 88 when the heard name starts or ends a longer official one ("boulevard de la Libération" for "boulevard de la
Libération Général de Monsabert", "corniche Kennedy" for "corniche Président John Fitzgerald Kennedy"); minus 10
when the caller said another street type, minus 4 when the official name has none ("La Canebière"). A street snaps
at MIN_SCORE (85) and above, and only when no other street scores as well (with no commune: nearly as well).
"""

from __future__ import annotations

import heapq
import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from dialogue.knowledge import fold

if TYPE_CHECKING:
    from sqlalchemy import Engine

# Tuned on tests/fixtures/ban/adresses-13-sample.csv: 119 of 121 bent names of its streets score 86 or more (nine in
# ten 100; the two others say a number in words, which dialogue.normalize turns into digits first), while 67
# streets it lacks score 83.3 at most against it, nine in ten 75 or less (leaving aside, by design, the same name
# with another type and the end of a longer name).
MIN_SCORE = 85.0
# With no commune, the best street must beat the next one (another name, or the same name in another commune) by
# this much: "rue de la République" is in a dozen communes, and guessing one would be worse than saying nothing.
MARGIN_WITHOUT_COMMUNE = 5.0
PARTIAL_SCORE = 88.0  # the heard name is the start or the end of the official one
MIN_PARTIAL_KEY = 6  # shorter heard keys ("jan" for "Jean") start or end too many names
OTHER_TYPE_PENALTY = 10.0  # "rue X" heard, "avenue X" found
NO_TYPE_PENALTY = 4.0  # "rue de la Canebière" heard, "La Canebière" found
# Candidates for a fuzzy match: the streets sharing enough of the heard key's sound triples. A bent sound spoils
# at most three triples. Triples found in more than this share of the streets ("s1t" of "saint") are not counted.
COMMON_TRIPLE_SHARE = 0.03
MAX_FUZZY_CANDIDATES = 100  # those sharing the most triples are scored
# A commune with up to this many streets is searched whole (rapidfuzz compares thousands of names in a millisecond);
# beyond (all communes, or a big city), through the sound triples.
WHOLE_BLOCK_LIMIT = 3000
MARSEILLE = "marseille"

# Street types as folded words, and the type each one means ("bd" is a boulevard).
STREET_TYPES: dict[str, str] = {
    "rue": "rue",
    "rues": "rue",
    "avenue": "avenue",
    "av": "avenue",
    "ave": "avenue",
    "boulevard": "boulevard",
    "bd": "boulevard",
    "bld": "boulevard",
    "bvd": "boulevard",
    "chemin": "chemin",
    "ch": "chemin",
    "traverse": "traverse",
    "trav": "traverse",
    "impasse": "impasse",
    "imp": "impasse",
    "allee": "allee",
    "allees": "allee",
    "place": "place",
    "pl": "place",
    "placette": "placette",
    "cours": "cours",
    "cour": "cours",  # the recogniser drops the silent s
    "quai": "quai",
    "route": "route",
    "rte": "route",
    "montee": "montee",
    "passage": "passage",
    "esplanade": "esplanade",
    "corniche": "corniche",
    "square": "square",
    "lotissement": "lotissement",
    "residence": "residence",
    "voie": "voie",
    "sentier": "sentier",
    "parvis": "parvis",
    "promenade": "promenade",
    "rond point": "rond point",
    "rondpoint": "rond point",
}
_TWO_WORD_TYPES = {t for t in STREET_TYPES if " " in t}
# Articles and particles: callers and the recogniser drop, add and swap them ("rue république", "rue de la
# république", "rue république de la").
ARTICLES = frozenset({"de", "du", "des", "la", "le", "les", "l", "d", "au", "aux"})

# Rewrites applied in order to the folded, joined name. Upper case and digits stand for sounds: C "ch", U "ou",
# E "eu", W "oi", O "o/au/eau", Y the glide of "fille", 1 "in/ain/un", 2 "an/en", 3 "on".
_NOT_NASAL = r"(?![aeiouUEWOY123mn])"  # a vowel or another m/n after "an", "in", "on": not a nasal vowel
_SOUND_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"ph", "f"),
        (r"sch|sh", "C"),
        (r"ch(?=r)", "k"),  # "christophe"
        (r"ch", "C"),
        (r"qu|q|ck", "k"),
        (r"c(?=[eiy])", "s"),
        (r"c", "k"),
        (r"gu(?=[eiy])", "g"),
        (r"ge(?=[aou])", "j"),  # "georges"
        (r"g(?=[eiy])", "j"),
        (r"gn", "n"),
        (r"h", ""),
        (r"w", "v"),
        (r"(?<=[aeiou])ill|(?<=[aeiou])il$", "i"),  # "caillols" as "cayols", "meyreuil" as "mereuil"
        (r"ill", "iY"),  # "famille"
        (r"y", "i"),
        (r"(?<=[aeiou])s(?=[aeiou])", "z"),  # one s between vowels sounds z, "ss" stays s
        (r"t(?=ion)", "s"),  # "libération"
        (r"eau|au", "O"),
        (r"oeu|eu", "E"),
        (rf"oin{_NOT_NASAL}", "W1"),
        (r"oi", "W"),
        (r"ou", "U"),
        (rf"ien{_NOT_NASAL}", "i1"),  # "julien"
        (rf"ean{_NOT_NASAL}", "2"),  # "jean"
        (r"ea", "a"),  # "jeanne"
        (rf"(?:ain|aim|ein|in|im|un|um){_NOT_NASAL}", "1"),
        (rf"(?:an|am|en|em){_NOT_NASAL}", "2"),
        (rf"(?:on|om){_NOT_NASAL}", "3"),
        (r"ai|ei|ez$", "e"),
        (r"o", "O"),
        (r"(?<=[123])k$", ""),  # "blanc", "banc"
        (r"x(?!$)", "ks"),
        (r"(.)\1+", r"\1"),  # doubled letters sound once
    )
)
_SILENT_ENDINGS = "estxdzp"  # "paradis", "saint", "croix", "pierre", "loup": not heard at the end


def _words(folded: str) -> list[str]:
    return folded.split()


def _street_type(words: Sequence[str]) -> tuple[str | None, int]:
    """The street type a name starts with, and how many words it takes ("rond point" takes two)."""
    if len(words) >= 2 and f"{words[0]} {words[1]}" in _TWO_WORD_TYPES:
        return STREET_TYPES[f"{words[0]} {words[1]}"], 2
    if words and words[0] in STREET_TYPES:
        return STREET_TYPES[words[0]], 1
    return None, 0


def _core_words(folded: str) -> list[str]:
    """The words that name the street: the leading type and articles dropped (all of them if nothing is left)."""
    words = _words(folded)
    start = 0
    while start < len(words):
        if words[start] in ARTICLES:
            start += 1
            continue
        _, type_words = _street_type(words[start:])
        if not type_words:
            break
        start += type_words
    core = [w for w in words[start:] if w not in ARTICLES]
    return core or words


def fold_street_name(text: str) -> str:
    """Lower case, no accents, no punctuation: the form names are compared and stored in (`folded_name`)."""
    # fold() turns what it cannot decompose into spaces: spell the ligatures out first.
    return fold(text.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("Æ", "ae"))


def _sound(joined: str) -> str:
    key = joined
    for pattern, replacement in _SOUND_RULES:
        key = pattern.sub(replacement, key)
    while len(key) > 2 and key[-1] in _SILENT_ENDINGS:
        key = key[:-1]
    return key


def phonetic_key(text: str) -> str:
    """A French phonetic key: "cours bel sunce" and "Cours Belsunce" both give "bels1".

    Accents are folded, the street type and the articles dropped, homophone spellings merged and the words joined,
    so a name the recogniser split in two gets the key of the joined name.
    """
    # The cedilla is a sound: "ç" is "s" before folding makes it a "c".
    return _sound("".join(_core_words(fold_street_name(text.replace("ç", "s").replace("Ç", "s")))))


@dataclass(frozen=True)
class StreetRecord:
    name: str  # official (BAN nom_voie)
    commune: str  # the gazetteer's official name; "Marseille 8e" for an arrondissement
    postcode: str
    numbers: frozenset[str] = frozenset()  # "12", "12bis"
    lat: float | None = None
    lon: float | None = None


@dataclass  # not frozen: dialogue.places' StreetMatch protocol declares plain (settable) attributes
class StreetMatch:
    name: str
    commune: str
    postcode: str
    score: float  # 0-100, see the module's docstring
    number_known: bool | None  # None: no number given, or no house numbers on record for the street
    lat: float | None
    lon: float | None


@dataclass(frozen=True)
class _Block:
    indices: list[int]  # into StreetIndex.records
    keys: list[str]
    cores: list[str]


@dataclass(frozen=True)
class _Heard:
    key: str
    core: str
    street_type: str | None
    number: str | None


_LEADING_NUMBER = re.compile(r"\s*(\d+(?: ?(?:bis|ter|quater|[a-h]))?)\s+", re.IGNORECASE)


def _split_house_number(heard: str) -> tuple[str | None, str]:
    """ "12 bis rue Paradis" -> ("12 bis", "rue Paradis"): a number is split off only before a street type."""
    found = _LEADING_NUMBER.match(heard)
    if found and _street_type(_words(fold_street_name(heard[found.end() :])))[1]:
        return found.group(1), heard[found.end() :]
    return None, heard


def normalise_house_number(number: str) -> str:
    """ "12 bis", "12 BIS", "12bis" -> "12bis", as the street base writes them."""
    return fold(number).replace(" ", "")


def _city(folded_commune: str) -> str:
    """Marseille's arrondissements are one city to a caller."""
    return MARSEILLE if folded_commune.startswith(MARSEILLE + " ") else folded_commune


def _sound_triples(key: str) -> set[str]:
    padded = f"^{key}$"
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def _starting_with(sorted_keys: list[tuple[str, int]], prefix: str) -> Iterator[int]:
    for position in range(bisect_left(sorted_keys, (prefix, -1)), len(sorted_keys)):
        key, index = sorted_keys[position]
        if not key.startswith(prefix):
            return
        yield index


class StreetIndex:
    """The streets of the base in memory, blocked by commune, by phonetic key and by sound triples."""

    def __init__(self, records: Iterable[StreetRecord]) -> None:
        self.records: list[StreetRecord] = list(records)
        self._folded_names = [fold_street_name(r.name) for r in self.records]
        self._cores = [" ".join(_core_words(folded)) for folded in self._folded_names]
        self._keys = [phonetic_key(r.name) for r in self.records]
        self._types = [_street_type(_words(folded))[0] for folded in self._folded_names]
        self._communes = [fold(r.commune) for r in self.records]
        self._commune_names = {folded: r.commune for folded, r in zip(self._communes, self.records, strict=True)}
        self._by_commune: dict[str, list[int]] = {}
        for index, commune in enumerate(self._communes):
            self._by_commune.setdefault(commune, []).append(index)
        self._by_key: dict[str, list[int]] = {}
        self._by_triple: dict[str, list[int]] = {}
        for index, key in enumerate(self._keys):
            self._by_key.setdefault(key, []).append(index)
            for triple in _sound_triples(key):
                self._by_triple.setdefault(triple, []).append(index)
        # Sorted keys, and sorted reversed keys: the streets whose key starts or ends with the heard key.
        self._sorted_keys = sorted((key, index) for index, key in enumerate(self._keys))
        self._sorted_reversed_keys = sorted((key[::-1], index) for index, key in enumerate(self._keys))
        self._blocks: dict[frozenset[str], _Block] = {}  # the streets of a commune, or of Marseille, made on first use

    def __len__(self) -> int:
        return len(self.records)

    @classmethod
    def from_store(cls, database: Engine | str) -> StreetIndex:
        """Every street of the `streets` table (a SQLAlchemy engine or a database URL)."""
        from sqlalchemy import create_engine, select

        from signalements.database import normalise_url
        from signalements.models import Street

        engine = create_engine(normalise_url(database)) if isinstance(database, str) else database
        try:
            with engine.connect() as connection:
                rows = connection.execute(
                    select(Street.name, Street.commune, Street.postcode, Street.numbers, Street.lat, Street.lon)
                ).all()
        finally:
            if isinstance(database, str):
                engine.dispose()
        return cls(
            StreetRecord(name, commune, postcode, frozenset(numbers.split()), lat, lon)
            for name, commune, postcode, numbers, lat, lon in rows
        )

    def match(self, heard_street: str, commune: str | None, number: str | None = None) -> StreetMatch | None:
        """The official street the caller named ("cours bel sunce", with its type as heard) or None.

        `commune`: "Marseille" (any arrondissement; the match says which), an arrondissement (tried first, then the
        whole city), another commune, or None (any commune, but then the best must clearly beat the others).
        """
        said_number, heard_street = _split_house_number(heard_street)
        number = number or said_number
        folded = fold_street_name(heard_street)
        if not folded:
            return None
        core_words = _core_words(folded)
        heard = _Heard(
            key=phonetic_key(heard_street),
            core=" ".join(core_words),
            street_type=_street_type(_words(folded))[0],
            number=normalise_house_number(number) if number else None,
        )
        if not heard.key:
            return None
        folded_commune = fold(commune) if commune else None
        for scope in self._scopes(folded_commune):
            found = self._best(heard, scope, folded_commune)
            if found is not None:
                return found
        return None

    def _scopes(self, folded_commune: str | None) -> list[frozenset[str] | None]:
        """Where to look, in order: None means every commune."""
        if folded_commune is None:
            return [None]
        city = frozenset(c for c in self._commune_names if _city(c) == _city(folded_commune))
        if folded_commune in self._commune_names:
            return [frozenset({folded_commune}), city] if city != {folded_commune} else [city]
        return [city] if city else []

    def _block(self, scope: frozenset[str]) -> _Block:
        block = self._blocks.get(scope)
        if block is None:
            indices = sorted(chain.from_iterable(self._by_commune.get(commune, ()) for commune in scope))
            block = _Block(indices, [self._keys[i] for i in indices], [self._cores[i] for i in indices])
            self._blocks[scope] = block
        return block

    def _candidates(self, heard: _Heard, scope: frozenset[str] | None) -> set[int]:
        """Streets that may score MIN_SCORE: same key, key starting or ending with the heard key, close keys."""
        found = set(self._by_key.get(heard.key, ()))
        if len(heard.key) >= MIN_PARTIAL_KEY:
            found.update(_starting_with(self._sorted_keys, heard.key))
            found.update(_starting_with(self._sorted_reversed_keys, heard.key[::-1]))
        if scope is not None:
            found = {i for i in found if self._communes[i] in scope}
            block = self._block(scope)
            if len(block.indices) <= WHOLE_BLOCK_LIMIT:
                for heard_text, texts in ((heard.key, block.keys), (heard.core, block.cores)):
                    close = process.extract(
                        heard_text, texts, scorer=fuzz.ratio, score_cutoff=MIN_SCORE, limit=MAX_FUZZY_CANDIDATES
                    )
                    found.update(block.indices[position] for _, _, position in close)
                return found
        return found | self._sharing_triples(heard.key, scope)

    def _sharing_triples(self, key: str, scope: frozenset[str] | None) -> set[int]:
        postings = sorted((self._by_triple[t] for t in _sound_triples(key) if t in self._by_triple), key=len)
        common = max(50, int(len(self.records) * COMMON_TRIPLE_SHARE))
        rare = [p for p in postings if len(p) <= common] or postings[:2]
        shared = Counter(chain.from_iterable(rare))
        enough = max(1, min(len(rare) - 3, math.ceil(len(rare) / 2)))
        candidates = [
            (count, index)
            for index, count in shared.items()
            if count >= enough and (scope is None or self._communes[index] in scope)
        ]
        if len(candidates) > MAX_FUZZY_CANDIDATES:
            candidates = heapq.nlargest(MAX_FUZZY_CANDIDATES, candidates)
        return {index for _, index in candidates}

    def _score(self, heard: _Heard, index: int) -> float:
        key = self._keys[index]
        if key == heard.key:
            score = 100.0
        else:
            score = max(fuzz.ratio(heard.key, key), fuzz.ratio(heard.core, self._cores[index]))
            partial = key.startswith(heard.key) or key.endswith(heard.key)
            if partial and len(heard.key) >= MIN_PARTIAL_KEY:
                score = max(score, PARTIAL_SCORE)
        if heard.street_type is not None and self._types[index] != heard.street_type:
            score -= NO_TYPE_PENALTY if self._types[index] is None else OTHER_TYPE_PENALTY
        return score

    def _best(self, heard: _Heard, scope: frozenset[str] | None, folded_commune: str | None) -> StreetMatch | None:
        # One entry per street: the same name in several arrondissements is one street of Marseille.
        streets: dict[tuple[str, str], tuple[float, list[int]]] = {}
        for index in self._candidates(heard, scope):
            score = self._score(heard, index)
            street = (_city(self._communes[index]), self._folded_names[index])
            best, parts = streets.get(street, (score, []))
            streets[street] = (max(best, score), [*parts, index])
        ranked = sorted(streets.values(), key=lambda entry: entry[0], reverse=True)
        if not ranked or ranked[0][0] < MIN_SCORE:
            return None
        margin = MARGIN_WITHOUT_COMMUNE if scope is None else 0.0
        if len(ranked) > 1 and ranked[0][0] - ranked[1][0] <= margin:
            return None  # two streets fit as well: the caller's words stay, unverified
        score, parts = ranked[0]
        chosen = self._part(parts, heard.number, folded_commune)
        record = self.records[chosen]
        number_known = None if not record.numbers or heard.number is None else heard.number in record.numbers
        return StreetMatch(record.name, record.commune, record.postcode, score, number_known, record.lat, record.lon)

    def _part(self, parts: list[int], number: str | None, folded_commune: str | None) -> int:
        """Which arrondissement of a street that crosses several: the caller's, else the one with the caller's
        number, else the one with the most addresses."""
        for index in parts:
            if self._communes[index] == folded_commune:
                return index
        with_number = [i for i in parts if number is not None and number in self.records[i].numbers]
        return max(with_number or parts, key=lambda i: len(self.records[i].numbers))
