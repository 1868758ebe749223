"""What the dialogue knows about the world: the report taxonomy and the Métropole's places.

Both are YAML files that non-developers edit (config/taxonomy.yaml, dialogue/gazetteer.yaml); they are loaded once
and matched against the caller's words after `fold` (lower case, no accents, no punctuation).
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TAXONOMY = REPO_ROOT / "config" / "taxonomy.yaml"
DEFAULT_GAZETTEER = Path(__file__).resolve().parent / "gazetteer.yaml"
OTHER_CATEGORY = "autre"


class KnowledgeError(Exception):
    """A taxonomy or gazetteer file is missing or malformed; the message names the file and the entry."""


def fold(text: str) -> str:
    """Lower case, accents removed, anything but letters and digits turned into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", bare).split())


def contains_phrase(folded_text: str, folded_phrase: str) -> bool:
    """Whole-word match of a folded phrase inside folded text."""
    return f" {folded_phrase} " in f" {folded_text} "


def stem_word(word: str) -> str:
    """Plural and feminine endings dropped, as callers (and the ASR) vary them: "passages" -> "passage",
    "cassées" -> "casse". Applied to both sides of a match, so it only has to be consistent, not linguistic."""
    if len(word) > 3 and word[-1] in "sx" and not word.endswith("ss"):
        word = word[:-1]
    if len(word) > 3 and word.endswith("ee"):
        word = word[:-1]
    return word


def stem(text: str) -> str:
    """`fold`, then every word stemmed."""
    return " ".join(stem_word(w) for w in fold(text).split())


_OF_THE = re.compile(r"(?<= )(?:du|de la|de l|des|d)(?= )")


def _category_words(text: str) -> str:
    """`stem`, and "du", "de la", "des" all "de": "le câble du téléphone" says "câble de téléphone"; a thing and
    what it is said to be, said close ("le trottoir il est tout cassé" also says "trottoir cassé")."""
    words = _OF_THE.sub("de", f" {stem(text)} ").strip()
    close = _SAID_TO_BE.sub(r"\1 \2", words)
    return words if close == words else f"{words} , {close}"


# "le banc (il) est (complètement) cassé": the noun, the copula, adverbs, the attribute.
_SAID_TO_BE = re.compile(
    # not after a possessive: "mon pneu il est crevé" is the caller's own tyre, no street's problem
    r"(?<!\bmon )(?<!\bma )(?<!\bmes )(?<!\bnotre )(?<!\bnos )(?<!\bton )(?<!\bta )"
    r"\b([a-z]{3,}) (?:(?:il|elle|ils|elles) )?(?:est|sont|etait|etaient|a ete|ont ete)"
    r"(?: (?:tout|toute|toutes|tous|completement|vraiment|tres|bien|super|trop|deja))* ([a-z]{3,})\b"
)


@dataclass(frozen=True)
class Category:
    code: str
    label: str
    examples: tuple[str, ...]
    synonyms: tuple[str, ...]  # stemmed (see `stem`)
    weak_synonyms: tuple[str, ...] = ()  # generic words that name this category only when nothing else does
    # Words that name the problem itself and win over the object it is on ("des graffitis sur la fontaine").
    problem_synonyms: tuple[str, ...] = ()
    covers_private_property: bool = False  # e.g. tags: the city also cleans private façades seen from the street


@dataclass(frozen=True)
class Taxonomy:
    categories: tuple[Category, ...]

    def by_code(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def label(self, code: str) -> str:
        category = self.by_code(code)
        return category.label if category else code

    def mentions(self, code: str, text: str) -> bool:
        """Whether the text says any word of that category, weak ones included."""
        category = self.by_code(code)
        if category is None:
            return False
        padded = f" {_category_words(text)} "
        words = (*category.problem_synonyms, *category.synonyms, *category.weak_synonyms)
        return any(f" {word} " in padded for word in words)

    @cached_property
    def _pests_nesting(self) -> re.Pattern[str] | None:
        """Pests said living somewhere ("plein de", "infesté de" before a pest's word), built once per taxonomy."""
        pests = self.by_code(PESTS)
        words = "|".join(re.escape(word) for word in (*pests.problem_synonyms, *pests.synonyms)) if pests else ""
        return re.compile(rf" {_NESTING} (?:\w+ ){{0,3}}(?:{words}) ") if words else None

    def _pests_in(self, padded: str) -> bool:
        """ "Le cèdre est couvert de cocons": pests said living in a tree are the problem, not the tree."""
        if self._pests_nesting is None or _TREE_TROUBLE.search(padded):
            return False  # "un pin couché sur la route, couvert de chenilles": the tree is the problem
        return self._pests_nesting.search(padded) is not None

    def match(self, text: str, weak: bool = True) -> str | None:
        """Code of the category named first in the text ("une branche cassée sur le trottoir": the branch);
        at the same place the longest synonym wins ("feu rouge" over "feu"). A word naming the problem itself
        wins over any object ("des tags sur la fontaine", "l'eau monte sur la chaussée"). Weak synonyms ("grille",
        "voiture") count only when no other synonym is heard ("la grille de l'avaloir": the drain), and not at all
        with `weak` False."""
        padded = f" {_category_words(text)} "
        surfaces: list[tuple[int, int, str]] = []  # surfaces said as where: as weak as a weak synonym
        for strength in ("problem", "synonym", "weak") if weak else ("problem", "synonym"):
            best: tuple[bool, int, int, str] | None = None
            for category in self.categories:
                words = {
                    "problem": category.problem_synonyms,
                    "synonym": category.synonyms,
                    "weak": category.weak_synonyms,
                }[strength]
                for synonym in words:
                    position = padded.find(f" {synonym} ")
                    if position < 0:
                        continue
                    if strength == "synonym" and (
                        (synonym in SURFACES and _LOCATIVE_BEFORE.search(padded[: position + 1]))
                        or (synonym in TREES and (_IN_OR_ON.search(padded[: position + 1]) or self._pests_in(padded)))
                    ):
                        surfaces.append((position, -len(synonym), category.code))
                        continue
                    key = (False, position, -len(synonym), category.code)
                    if best is None or key < best:
                        best = key
            if strength == "weak" or (strength == "synonym" and not weak):
                for surface in surfaces:
                    if best is None or (True, *surface) < best:
                        best = (True, *surface)
            if best:
                return best[3]
        return None


PESTS = "nuisibles"
# A tree's own trouble, said beside its pests, is the problem: fallen, leaning, dead, a branch about to fall.
_TREE_TROUBLE = re.compile(
    r" (?:tombe|tombee|tomber|couche|couchee|penche|penchee|menace|mort|morte|abattre|abattu|branche|deracine|"
    r"casse|cassee|fendu|fendue) "
)
# How pests are said to live in a tree: a nest of them, a tree full of them, "infesté de", "envahi par".
_NESTING = r"(?:nid|plein|pleine|infeste|infestee|infestes|envahi|envahie|envahis|colonise|colonisee|couvert|couverte)"
# A surface or a tree said as where the problem is ("l'eau déborde sur la chaussée", "des gravats sur le trottoir",
# "dans les pins, des nids de chenilles") names the problem only when nothing else does: the water, the rubble, the
# caterpillars are what is wrong.
SURFACES = frozenset(stem_word(word) for word in ("trottoir", "chaussee", "route", "bitume", "voirie"))
# Trees count as where only after a word of space: "des arbres" may be the trees' own problem ("la taille des haies").
TREES = frozenset(
    stem_word(word)
    for word in ("arbre", "arbres", "pin", "pins", "platane", "platanes", "olivier", "oliviers", "haie", "haies")
)
_IN_OR_ON = re.compile(r"\b(?:sur|dans|dan|sous|entre|au pied de|au milieu de)(?: la| le| l| les)? $")
_LOCATIVE_BEFORE = re.compile(
    # after _category_words, "du", "de la" and "des" all read "de", and "dans" reads "dan"
    r"\b(?:sur|de|dans|dan|au bord|le long|en bord|au milieu|par dessus)(?: de)?(?: la| le| l| les)? $"
)


@dataclass(frozen=True)
class Gazetteer:
    communes: tuple[tuple[str, tuple[str, ...]], ...]  # (official name, folded aliases)
    landmark_cues: tuple[str, ...]
    landmark_words: tuple[str, ...]
    landmarks: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name said back, stemmed aliases)
    quarters: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (commune, folded names of its quarters)
    # Things whose name starts like a kind of place ("camping-car"): never a landmark.
    not_landmarks: tuple[str, ...] = ()
    heard_as: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (commune, everyday words that sound like it)
    landmark_communes: tuple[tuple[str, str], ...] = ()  # (landmark's name, the commune it stands in)

    def landmark_commune(self, text: str) -> str | None:
        """The commune of the well-known place named in `text`, if it stands in one ("parc Borély": Marseille)."""
        found = self._landmark_said(text)
        return next((commune for name, commune in self.landmark_communes if found and name == found[1]), None)

    def _landmark_said(self, text: str) -> tuple[str, str] | None:
        """(stemmed alias, name) of the well-known place named in `text`, the longest alias winning."""
        padded = f" {stem(text)} "
        found = [
            (len(alias), alias, name) for name, aliases in self.landmarks for alias in aliases if f" {alias} " in padded
        ]
        if not found:
            return None
        _, alias, name = max(found)
        return alias, name

    def named_landmark(self, text: str) -> str | None:
        """A well-known place named in the text, the longest alias winning: its full name when the caller said
        part of it ("le miroir aux oiseaux" -> "Miroir aux oiseaux", "saint charles" -> "gare Saint-Charles"), else
        the caller's own words, capitalised ("au parc longchamp" -> "parc Longchamp", not "palais Longchamp")."""
        found = self._landmark_said(text)
        if found is None:
            return None
        alias, name = found
        if f" {alias} " in f" {stem(name)} " or re.sub(r"^(l|la|le|les) ", "", alias) in stem(name):
            return name
        return _callers_words(text, alias) or name

    def aliases_longest_first(self, quarters: bool = True) -> list[tuple[str, str]]:
        """(folded alias, commune) pairs: communes' names, and with `quarters` the quarters' names too."""
        pairs = [(alias, name) for name, aliases in self.communes for alias in aliases]
        if quarters:
            pairs += [(alias, name) for name, aliases in self.quarters for alias in aliases]
        return sorted(pairs, key=lambda pair: -len(pair[0]))

    def quarter_aliases_longest_first(self) -> list[tuple[str, str]]:
        pairs = [(alias, name) for name, aliases in self.quarters for alias in aliases]
        return sorted(pairs, key=lambda pair: -len(pair[0]))


# Words kept lower case when a landmark is said back in the caller's words.
_LOWER_IN_NAMES = {"de", "du", "des", "la", "le", "les", "l", "d", "aux", "au", "et", "sur", "en"}
_KINDS_OF_PLACE = {
    "parc",
    "jardin",
    "square",
    "stade",
    "gare",
    "place",
    "port",
    "plage",
    "palais",
    "marche",
    "metro",
    "hopital",
    "eglise",
    "cathedrale",
    "fort",
    "musee",
    "centre",
    "commercial",
    "cours",
    "rond",
    "point",
}


def _callers_words(text: str, stemmed_alias: str) -> str | None:
    """The words of `text` that `stemmed_alias` matched, without a leading article, capitalised as a name."""
    words = re.findall(r"[^\W_]+", text)
    stems = [stem(w) for w in words]
    wanted = stemmed_alias.split()
    for start in range(len(stems) - len(wanted) + 1):
        if stems[start : start + len(wanted)] == wanted:
            span = words[start : start + len(wanted)]
            while len(span) > 1 and fold(span[0]) in {"l", "la", "le", "les"}:
                span = span[1:]
            out = [
                w.lower()
                if (i == 0 and fold(w) in _KINDS_OF_PLACE) or fold(w) in _LOWER_IN_NAMES
                else w[:1].upper() + w[1:]
                for i, w in enumerate(span)
            ]
            return " ".join(out)
    return None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise KnowledgeError(f"{path}: {error}") from error
    if not isinstance(data, dict):
        raise KnowledgeError(f"{path}: expected a mapping at the top level")
    return data


def _words_of(synonyms: Any) -> tuple[str, ...]:
    return tuple(f for f in (_category_words(str(s)) for s in synonyms) if f)


def load_taxonomy(path: Path = DEFAULT_TAXONOMY) -> Taxonomy:
    data = _read_yaml(path)
    entries = data.get("categories")
    if not isinstance(entries, list) or not entries:
        raise KnowledgeError(f"{path}: 'categories' must be a non-empty list")
    categories = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str) or not entry.get("label"):
            raise KnowledgeError(f"{path}: categories[{index}] needs a 'code' and a 'label'")
        # The label is a synonym too: a caller may say it back ("c'est un problème de propreté").
        synonyms = (
            [str(entry["label"]), *(entry.get("synonyms") or ())]
            if entry["code"] != OTHER_CATEGORY
            else list(entry.get("synonyms") or ())
        )
        categories.append(
            Category(
                code=entry["code"],
                label=str(entry["label"]),
                examples=tuple(str(e) for e in entry.get("examples") or ()),
                synonyms=tuple(dict.fromkeys(_words_of(synonyms))),
                weak_synonyms=_words_of(entry.get("weak_synonyms") or ()),
                problem_synonyms=_words_of(entry.get("problem_synonyms") or ()),
                covers_private_property=bool(entry.get("covers_private_property", False)),
            )
        )
    codes = [c.code for c in categories]
    if len(set(codes)) != len(codes):
        raise KnowledgeError(f"{path}: duplicate category codes")
    if OTHER_CATEGORY not in codes:
        raise KnowledgeError(f"{path}: the '{OTHER_CATEGORY}' category is required")
    return Taxonomy(tuple(categories))


def load_gazetteer(path: Path = DEFAULT_GAZETTEER) -> Gazetteer:
    data = _read_yaml(path)
    communes = data.get("communes")
    if not isinstance(communes, dict) or not communes:
        raise KnowledgeError(f"{path}: 'communes' must be a non-empty mapping")
    entries = []
    for name, aliases in communes.items():
        folded = {fold(str(name))} | {fold(str(a)) for a in aliases or ()}
        # "aux Pennes-Mirabeau", "au Rove": the article of a commune's name merges with the preposition.
        folded |= {re.sub(r"^(la|le|les|l) ", "", a) for a in folded if re.match(r"^(la|le|les|l) \w{3,}", a)}
        entries.append((str(name), tuple(sorted(a for a in folded if a))))
    quarters = data.get("quarters") or {}
    if not isinstance(quarters, dict) or any(str(name) not in communes for name in quarters):
        raise KnowledgeError(f"{path}: 'quarters' must map communes of 'communes' to lists of quarter names")
    quarter_entries = [
        (str(name), tuple(sorted({fold(str(q)) for q in names or ()} - {""}))) for name, names in quarters.items()
    ]
    heard_as = data.get("heard_as") or {}
    if not isinstance(heard_as, dict) or any(str(name) not in communes for name in heard_as):
        raise KnowledgeError(f"{path}: 'heard_as' must map communes of 'communes' to lists of words")
    landmarks = data.get("landmarks") or {}
    if not isinstance(landmarks, dict):
        raise KnowledgeError(f"{path}: 'landmarks' must be a mapping of name to aliases")
    landmarks_in = data.get("landmarks_in") or {}
    if not isinstance(landmarks_in, dict) or any(
        str(commune) not in communes or any(str(name) not in landmarks for name in names or ())
        for commune, names in landmarks_in.items()
    ):
        raise KnowledgeError(f"{path}: 'landmarks_in' must map communes of 'communes' to landmarks of 'landmarks'")
    named = []
    for name, aliases in landmarks.items():
        stems = {stem(str(name))} | {stem(str(a)) for a in aliases or ()}
        named.append((str(name), tuple(sorted(a for a in stems if a))))
    return Gazetteer(
        communes=tuple(entries),
        landmark_cues=tuple(fold(str(c)) for c in data.get("landmark_cues") or ()),
        landmark_words=tuple(fold(str(w)) for w in data.get("landmark_words") or ()),
        landmarks=tuple(named),
        quarters=tuple(quarter_entries),
        not_landmarks=tuple(fold(str(w)) for w in data.get("not_landmarks") or ()),
        heard_as=tuple((str(name), tuple(fold(str(w)) for w in words or ())) for name, words in heard_as.items()),
        landmark_communes=tuple(
            (str(name), str(commune)) for commune, names in landmarks_in.items() for name in names or ()
        ),
    )


@lru_cache(maxsize=1)
def default_taxonomy() -> Taxonomy:
    return load_taxonomy(Path(os.environ.get("DIALOGUE_TAXONOMY_FILE", DEFAULT_TAXONOMY)))


@lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    return load_gazetteer(Path(os.environ.get("DIALOGUE_GAZETTEER_FILE", DEFAULT_GAZETTEER)))
