"""Negation scope from the dependency parse: which words of an utterance a negation applies to.

Word lists cannot say whether "dangereux" is negated in "je pense pas que ce soit dangereux" (the negation is on
another verb), "ça craint rien" (the negation is the object) or "dangereux ? non, pas vraiment" (it comes after).
The French spaCy pipeline (fr_core_news_md: dependencies and word vectors) gives the structure; the rules below read
it. Its lemmatizer is left out: its tables cost 140 MB of the action server's memory, and the few words read here
are listed in their inflected forms.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from dialogue.knowledge import fold

PIPELINE = "fr_core_news_md"
# Words that negate what they attach to ("pas", "jamais", "rien de dangereux", "sans danger", "aucun risque").
NEGATORS = frozenset({"pas", "jamais", "rien", "aucun", "aucune", "nullement", "guere", "sans", "ni", "non"})
AFFIRMERS = frozenset({"si", "oui", "ouais"})
# Relations a negation travels along, from a verb down to what it governs ("il y a pas de danger": "danger" is the
# object of the negated "a"; "je crois pas que ce soit grave": "grave" is the complement of the negated "crois").
# Coordination does not carry it: "il y a pas de lumière et c'est dangereux".
_SCOPE_RELATIONS = frozenset(
    {"obj", "obl", "obl:arg", "obl:mod", "nmod", "ccomp", "xcomp", "amod", "acl", "cop", "nsubj", "advmod", "det"}
)
# Fillers that do not count as content in a short answer.
_FILLERS = frozenset({"euh", "heu", "ben", "bah", "bon", "alors", "hein", "voila", "ah", "oh", "eh", "mais", "hum"})
# Words that start another clause: a negation before them does not reach past them.
# "le soir on distingue rien, c'est dangereux": "c'est" opens a clause the "rien" before it does not reach.
_DETERMINERS = frozenset({"la", "une", "cette", "chaque", "toute", "aucune", "quelque"})
_CLAUSE_BREAKS = frozenset({"mais", "et", "car", "parce", "puisque", "donc", "sinon", "c"})
_lock = threading.Lock()
_pipeline: Any = None


def pipeline() -> Any:
    """The French spaCy pipeline, loaded once per process (a few seconds; entities and lemmas left out)."""
    global _pipeline
    with _lock:
        if _pipeline is None:
            import spacy

            _pipeline = spacy.load(PIPELINE, exclude=["ner", "lemmatizer"])
        return _pipeline


def parse(text: str) -> Any:
    return pipeline()(text)


def _is_negator(token: Any) -> bool:
    return fold(token.text) in NEGATORS


def _negates_structurally(token: Any) -> bool:
    if fold(token.text) == "rien" and token.dep_ == "obj":
        # "on distingue rien, c'est dangereux": an object "rien" negates its verb, not a clause said after it
        # ("rien de dangereux" is read from the word order).
        return False
    if fold(token.text) == "rien" and token.dep_.startswith("nsubj"):
        # "Rien n'est cassé" says nothing is; in "on distingue rien c'est dangereux" the parser takes the object of
        # "distingue" for the subject of "dangereux": as a subject "rien" negates only with its "ne".
        following = token.doc[token.i + 1] if token.i + 1 < len(token.doc) else None
        return following is not None and fold(following.text) in ("ne", "n")
    # "non" is an answer, not a modifier: "non attendez, si, c'est dangereux" says yes. It counts only in short
    # answers (below).
    if _is_negator(token) and fold(token.text) != "non":
        return True
    # "Personne n'est blessé": "personne" with a "ne" on its verb is nobody, not a person.
    return fold(token.text) == "personne" and any(fold(c.text) in ("ne", "n") for c in token.head.children)


def _negated_by_structure(token: Any, max_clauses: int | None = None) -> bool:
    """A negator among the token's dependents, its head's (up the allowed relations), or its head is one; with
    `max_clauses`, not from further up than that many clauses with their own subject."""
    node = token
    clauses = 0
    for _ in range(6):  # heads are shallow in spoken lines; the bound keeps odd parses cheap
        if any(_negates_structurally(child) for child in node.children if child.i != token.i):
            return True
        if node.head.i == node.i or node.dep_ not in _SCOPE_RELATIONS:
            return False
        if node.dep_ == "ccomp" and any(child.dep_.startswith("nsubj") for child in node.children):
            clauses += 1
            if max_clauses is not None and clauses > max_clauses:
                return False
        node = node.head
        if _negates_structurally(node):
            return True
    return False


def _negated_in_short_answer(doc: Any, token: Any) -> bool:
    """Elliptic answers ("dangereux ? non", "non, pas vraiment dangereux", "dangereux non pas trop"): in a line of a
    few words, a negator beside the word negates it unless a "si"/"oui" overrides it."""
    words = [t for t in doc if not t.is_punct and fold(t.text) not in _FILLERS]
    if len(words) > 6:
        return False
    folded = [fold(t.text) for t in words]
    if any(w in AFFIRMERS for w in folded):
        return False
    return any(_is_negator(t) and abs(t.i - token.i) <= 3 for t in words)


def _negated_nearby(doc: Any, token: Any) -> bool:
    """A negator just before the word with only grammar words between ("pas que ce soit dangereux"), or just after
    a word that opens the line ("dangereux non pas vraiment"): run-on spoken lines parse badly, and there the word
    order says what the tree does not. "Pas de lumière, c'est dangereux" has a content word between."""
    for index in range(token.i - 1, max(-1, token.i - 6), -1):
        before = doc[index]
        if (_is_negator(before) and fold(before.text) != "non") or _nobody(doc, before):
            return True
        grammar = before.is_stop or before.is_punct or before.dep_.startswith("aux")  # "n'a été blessé"
        if not grammar or fold(before.text) in _CLAUSE_BREAKS:
            break
    # Spoken French drops the "ne": "ça craint rien", "ça risque pas" negate the verb right before the negator.
    following = [t for t in doc[token.i + 1 : token.i + 3] if fold(t.text) not in _FILLERS]
    if following and fold(following[0].text) in ("rien", "pas", "jamais") and token.pos_ in ("VERB", "AUX"):
        return True
    opens_line = all(t.is_punct or fold(t.text) in _FILLERS for t in doc[: token.i])
    if opens_line:
        for after in doc[token.i + 1 : token.i + 4]:
            if _is_negator(after):
                return True
            if not (after.is_punct or fold(after.text) in _FILLERS):
                break
    return False


def _nobody(doc: Any, token: Any) -> bool:
    """ "personne n'est", "rien ne", "y a personne": nobody, nothing, read from the word order alone."""
    if fold(token.text) not in ("personne", "rien"):
        return False
    following = doc[token.i + 1] if token.i + 1 < len(doc) else None
    if following is not None and fold(following.text) in ("ne", "n"):
        return True
    # "Personne de blessé", "rien de cassé" (not "la personne de l'accueil").
    previous = fold(doc[token.i - 1].text) if token.i > 0 else ""
    if following is not None and fold(following.text) in ("de", "d") and previous not in _DETERMINERS:
        return True
    # Spoken French drops the "ne": "(il) y a personne", "y a rien" say nobody, nothing ("y a une personne" does not).
    before = [fold(t.text) for t in doc[max(0, token.i - 2) : token.i]]
    if before == ["y", "a"]:
        return True
    # ... and "heureusement personne est blessé", "personne a été touché": "personne" right before its verb's
    # auxiliary with nothing to make it a noun ("une vieille personne est tombée", "la personne a glissé").
    named_before = token.i > 0 and (doc[token.i - 1].pos_ in ("DET", "ADJ", "NUM") or previous in _DETERMINERS)
    before_its_verb = following is not None and (following.pos_ == "AUX" or fold(following.text) in ("s", "se"))
    return fold(token.text) == "personne" and before_its_verb and not named_before


def is_negated(doc: Any, token: Any, max_clauses: int | None = None) -> bool:
    return (
        _negated_by_structure(token, max_clauses) or _negated_in_short_answer(doc, token) or _negated_nearby(doc, token)
    )


def polarity_of(doc: Any, keys: Iterable[str]) -> bool | None:
    """True when a word among `keys` (folded words) is said plainly, False when every one said is negated, None when
    none is said."""
    wanted = frozenset(keys)
    found = [t for t in doc if fold(t.text) in wanted]
    if not found:
        return None
    return any(not is_negated(doc, token) for token in found)


Span = tuple[int, int]


def folded_words(doc: Any) -> tuple[str, list[tuple[int, int, Any]]]:
    """The parsed words folded and joined by single spaces, with where each token stands in that text."""
    parts: list[str] = []
    index: list[tuple[int, int, Any]] = []
    position = 0
    for token in doc:
        word = fold(token.text)
        if not word:
            continue
        index.append((position, position + len(word), token))
        parts.append(word)
        position += len(word) + 1
    return " ".join(parts), index


def said_plainly(doc: Any, find: Callable[[str], list[Span]], max_clauses: int | None = None) -> bool:
    """Whether some words that `find` locates in the folded line are said, not denied: "ce n'est pas un câble
    électrique", "personne n'est blessé" or "l'eau rentre pas chez les gens" deny what the words would say. A
    negation the words need to say it ("il respire plus", "elle se relève pas") is no denial."""
    text, index = folded_words(doc)
    for start, end in find(text):
        inside = [token for a, b, token in index if a < end and b > start]
        kept = " ".join(fold(t.text) for t in inside if not _negates_structurally(t))
        if not find(kept):
            return True  # the negation is part of what is said
        positions = {token.i for token in inside}
        anchors = [t for t in inside if t.head.i == t.i or t.head.i not in positions]
        if not any(is_negated(doc, token, max_clauses) for token in anchors):
            return True
    return False


def is_common_word(word: str) -> bool:
    """A word of everyday French (one the pipeline has a vector for), as opposed to a name or a bent one."""
    return bool(pipeline().vocab.has_vector(word))
