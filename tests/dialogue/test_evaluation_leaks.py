"""No evaluation line leaks into the project: no run of five words said in an evaluation set stands anywhere else
in the repository (code, training data, word lists, tests, docs).

A figure measured on lines that shaped the work measures nothing new: the sets (dialogue/eval/, the unseen and
blind sets under tests/dialogue/) only keep their worth while nothing outside them repeats their words.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import yaml

from dialogue.knowledge import fold

REPO = Path(__file__).resolve().parents[2]
RUN = 5  # words: shorter runs are everyone's phrases ("il y a un"), longer ones are someone's line
# A run is someone's line when three of its words carry meaning; "il y a un nid", "c'est pas la peine" or a
# phone number in pairs are everyone's.
MIN_CONTENT_WORDS = 3
FUNCTION_WORDS = frozenset(
    """a ai al as au aux avec c ca ce ces cet cette d dans de des du elle elles en est et etait eu il ils j je l la
    le les leur lui m ma mais me mes moi mon n ne ni nous on ont ou par pas pour qu que qui s sa se ses si son
    sont sur t ta te tes toi ton tu un une vous vos votre y oui non euh ben bah bon alors voila hein tout tres
    plus bien fait faire avoir etre va vais peu ici la depuis devant derriere avant apres pendant chez vers entre
    contre sous sans bonjour bonsoir allo merci monsieur madame zero deux trois quatre cinq six sept huit neuf dix
    onze douze treize quatorze quinze seize vingt trente quarante cinquante soixante cent cents mille""".split()
)
EVALUATION_SETS = (
    "dialogue/eval/conversations.yaml",
    "dialogue/eval/utterances.yaml",
    "dialogue/eval/examples",
    "tests/dialogue/unseen",
    "tests/dialogue/blind",
)
# Scanned as text: everything the repository tracks or would track, except binary and lock files.
SKIPPED_SUFFIXES = {".wav", ".gz", ".png", ".jpg", ".lock", ".tar", ".zip", ".onnx", ".pyc"}


def repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    return [REPO / name for name in listed if name and (REPO / name).is_file()]


def is_evaluation_file(path: Path) -> bool:
    relative = path.relative_to(REPO).as_posix()
    return any(relative == s or relative.startswith(f"{s}/") for s in EVALUATION_SETS)


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
    return sum(1 for w in run if w not in FUNCTION_WORDS and not w.isdigit()) >= MIN_CONTENT_WORDS


def evaluation_runs() -> dict[tuple[str, ...], str]:
    found: dict[tuple[str, ...], str] = {}
    for path in repository_files():
        if is_evaluation_file(path) and path.suffix in (".yaml", ".yml"):
            for line in said_lines(yaml.safe_load(path.read_text(encoding="utf-8"))):
                for run in runs(fold(line).split()):
                    if is_someones_line(run):
                        found.setdefault(run, path.relative_to(REPO).as_posix())
    return found


def test_the_evaluation_sets_are_found() -> None:
    sources = set(evaluation_runs().values())
    assert any(s.startswith("tests/dialogue/unseen/") for s in sources)
    assert any(s.startswith("dialogue/eval/") for s in sources)


def test_no_run_of_five_evaluation_words_stands_elsewhere_in_the_repository() -> None:
    wanted = evaluation_runs()
    leaks: list[str] = []
    for path in repository_files():
        if is_evaluation_file(path) or path.suffix in SKIPPED_SUFFIXES or path == Path(__file__):
            continue
        try:
            words = fold(path.read_text(encoding="utf-8")).split()
        except UnicodeDecodeError:
            continue
        for run in runs(words) & wanted.keys():
            leaks.append(f"{path.relative_to(REPO)}: '{' '.join(run)}' (from {wanted[run]})")
    assert sorted(leaks) == [], "\n".join(sorted(leaks)[:80])
