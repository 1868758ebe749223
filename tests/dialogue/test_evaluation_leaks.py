"""No evaluation line leaks into the project: no run of five words said in an evaluation set stands anywhere else
in the repository (code, training data, word lists, tests, docs).

A figure measured on lines that shaped the work measures nothing new: the sets (dialogue/eval/, the unseen and
blind sets under tests/dialogue/) only keep their worth while nothing outside them repeats their words.
"""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

from dialogue.eval.leaks import REPO, evaluation_words, is_evaluation_file, runs
from dialogue.knowledge import fold

# Scanned as text: everything the repository tracks or would track, except binary and lock files.
SKIPPED_SUFFIXES = {".wav", ".gz", ".png", ".jpg", ".lock", ".tar", ".zip", ".onnx", ".pyc"}
# Official address data (a sample of the Base Adresse Nationale): a real street's name is nobody's line, and
# callers in any set name real streets.
REFERENCE_DATA = ("tests/fixtures/ban/",)
LIST_ITEM = re.compile(r"\n\s*- ")


def repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    return [REPO / name for name in listed if name and (REPO / name).is_file()]


def official_street_runs() -> set[tuple[str, ...]]:
    """Runs inside a real street's official name ("boulevard de la libération général de monsabert"): a caller
    naming that street in full and a test writing its name both say the street, not each other's line."""
    found: set[tuple[str, ...]] = set()
    for path in (REPO / REFERENCE_DATA[0]).glob("*.csv"):
        with path.open(encoding="utf-8") as sample:
            for row in csv.DictReader(sample, delimiter=";"):
                found |= runs(fold(row.get("nom_voie") or "").split())
    return found


def test_the_evaluation_sets_are_found() -> None:
    sources = set(evaluation_words().runs.values())
    assert any(s.startswith("tests/dialogue/unseen/") for s in sources)
    assert any(s.startswith("tests/dialogue/blind/") for s in sources)
    assert any(s.startswith("dialogue/eval/") for s in sources)


def test_no_run_of_five_evaluation_words_stands_elsewhere_in_the_repository() -> None:
    streets = official_street_runs()
    wanted = {run: source for run, source in evaluation_words().runs.items() if run not in streets}
    leaks: list[str] = []
    for path in repository_files():
        skipped = path.suffix in SKIPPED_SUFFIXES or path == Path(__file__) or is_evaluation_file(path)
        if skipped or path.relative_to(REPO).as_posix().startswith(REFERENCE_DATA):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        # A list item (a training example, a bullet) starts a new line of someone's: no run crosses into it.
        found = set().union(*(runs(fold(item).split()) for item in LIST_ITEM.split(text)))
        for run in found & wanted.keys():
            leaks.append(f"{path.relative_to(REPO)}: '{' '.join(run)}' (from {wanted[run]})")
    assert sorted(leaks) == [], "\n".join(sorted(leaks)[:80])


def test_a_long_evaluation_line_counts_even_in_everyones_words() -> None:
    words = evaluation_words()
    line = next(iter(words.lines))
    assert words.repeated_in(f"euh {line} voila")
    # Four words are shorter than any run or line that counts.
    assert not words.repeated_in(" ".join(line.split()[:4]))
