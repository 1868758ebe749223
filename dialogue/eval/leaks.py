"""What counts as an evaluation line showing up outside its set.

A figure measured on lines that shaped the work measures nothing new, so no run of five words said in an evaluation
set (the held-out set under dialogue/eval/, the unseen and blind sets under tests/dialogue/) may stand anywhere else,
and no whole evaluation line of six words or more may stand in the training data. The repository-wide leak test and
the corpus generator (which drops a draw that happens to repeat one) share this one definition.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from dialogue.knowledge import default_gazetteer, fold

REPO = Path(__file__).resolve().parents[2]
EVALUATION_SETS = (
    "dialogue/eval/conversations.yaml",
    "dialogue/eval/utterances.yaml",
    "dialogue/eval/examples",
    "tests/dialogue/unseen",
    "tests/dialogue/blind",
)
RUN = 5  # words: shorter runs are everyone's phrases ("il y a un"), longer ones are someone's line
# A run is someone's line when three of its words carry meaning; "il y a un nid", "c'est pas la peine" or a
# phone number in pairs are everyone's.
MIN_CONTENT_WORDS = 3
# A whole line this long, even of everyone's words ("non pas la peine de me rappeler"), is someone's line.
MIN_LINE_WORDS = 6
FUNCTION_WORDS = frozenset(
    """a ai al as au aux avec c ca ce ces cet cette d dans de des du elle elles en est et etait eu il ils j je l la
    le les leur lui m ma mais me mes moi mon n ne ni nous on ont ou par pas pour qu que qui s sa se ses si son
    sont sur t ta te tes toi ton tu un une vous vos votre y oui non euh ben bah bon alors voila hein tout tres
    plus bien fait faire avoir etre va vais peu ici la depuis devant derriere avant apres pendant chez vers entre
    contre sous sans bonjour bonsoir allo merci monsieur madame zero deux trois quatre cinq six sept huit neuf dix
    onze douze treize quatorze quinze seize vingt trente quarante cinquante soixante cent cents mille""".split()
)


def is_evaluation_file(path: Path, repo: Path = REPO) -> bool:
    relative = path.resolve().relative_to(repo).as_posix()
    return any(relative == s or relative.startswith(f"{s}/") for s in EVALUATION_SETS)


def evaluation_files(repo: Path = REPO) -> list[Path]:
    found: list[Path] = []
    for name in EVALUATION_SETS:
        root = repo / name
        candidates = [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
        found += [p for p in candidates if p.is_file() and p.suffix in (".yaml", ".yml")]
    return found


def said_lines(node: object) -> Iterator[str]:
    """Every line a caller says in an evaluation file: conversation turns, their noisy versions, utterances."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("say", "noisy", "text") and isinstance(value, str):
                yield value
            elif key == "turns" and isinstance(value, list):
                yield from (turn for turn in value if isinstance(turn, str))
                yield from said_lines(value)
            else:
                yield from said_lines(value)
    elif isinstance(node, list):
        for item in node:
            yield from said_lines(item)


def runs(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + RUN]) for i in range(len(words) - RUN + 1)}


def is_someones_line(run: tuple[str, ...]) -> bool:
    content = [w for w in run if w not in FUNCTION_WORDS and not w.isdigit()]
    if len(content) < MIN_CONTENT_WORDS:
        return False
    # "à port saint louis du": a commune's official name is the gazetteer's, as a real street's name is the BAN's
    # (the run's function words kept inside the name: "port saint louis du rhone").
    core = list(run)
    while core and (core[0] in FUNCTION_WORDS or core[0].isdigit()):
        core.pop(0)
    while core and (core[-1] in FUNCTION_WORDS or core[-1].isdigit()):
        core.pop()
    return not any(f" {' '.join(core)} " in f" {name} " for name in _commune_names())


@cache
def _commune_names() -> tuple[str, ...]:
    return tuple(fold(name) for name, _ in default_gazetteer().communes)


@dataclass(frozen=True)
class EvaluationWords:
    """The evaluation sets' runs (each with the file it comes from) and their long lines, folded."""

    runs: dict[tuple[str, ...], str]
    lines: frozenset[str]

    def repeated_in(self, text: str) -> bool:
        folded = fold(text)
        if runs(folded.split()) & self.runs.keys():
            return True
        padded = f" {folded} "
        return any(f" {line} " in padded for line in self.lines)


def evaluation_words(repo: Path = REPO) -> EvaluationWords:
    found: dict[tuple[str, ...], str] = {}
    lines: set[str] = set()
    for path in evaluation_files(repo):
        for line in said_lines(yaml.safe_load(path.read_text(encoding="utf-8"))):
            words = fold(line).split()
            if len(words) >= MIN_LINE_WORDS:
                lines.add(" ".join(words))
            for run in runs(words):
                if is_someones_line(run):
                    found.setdefault(run, path.relative_to(repo).as_posix())
    return EvaluationWords(runs=found, lines=frozenset(lines))
