"""The generated NLU corpus: dialogue/corpus.py writes dialogue/data/nlu_generated.yml, a Rasa 3.x NLU file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dialogue import corpus
from dialogue.knowledge import DEFAULT_TAXONOMY, fold, load_taxonomy

INTENTS = {
    "report_problem",
    "inform",
    "correct",
    "affirm",
    "deny",
    "dont_know",
    "greet",
    "goodbye",
    "thank",
    "repeat",
    "request_human",
    "emergency",
    "out_of_scope",
}


def examples(text: str) -> dict[str, list[str]]:
    data = yaml.safe_load(text)
    return {str(block["intent"]): [line[2:] for line in str(block["examples"]).splitlines()] for block in data["nlu"]}


@pytest.fixture(scope="module")
def committed() -> dict[str, list[str]]:
    return examples(corpus.OUTPUT_FILE.read_text(encoding="utf-8"))


def test_the_committed_file_is_what_the_generator_writes() -> None:
    assert corpus.main(["--check"]) == 0, "run `python -m dialogue.corpus` and commit dialogue/data/nlu_generated.yml"


def test_the_file_is_a_rasa_nlu_file_without_entity_markup() -> None:
    data = yaml.safe_load(corpus.OUTPUT_FILE.read_text(encoding="utf-8"))
    assert data["version"] == "3.1"
    assert set(data) == {"version", "nlu"}
    for block in data["nlu"]:
        assert set(block) == {"intent", "examples"}
        lines = str(block["examples"]).splitlines()
        assert all(line.startswith("- ") and line[2:].strip() == line[2:] and line[2:] for line in lines)
        # "[text](entity)" and "{...}" are Rasa's entity syntax.
        assert not [line for line in lines if re.search(r"[\[\](){}]", line)]


def test_every_intent_has_its_share(committed: dict[str, list[str]]) -> None:
    assert set(committed) == INTENTS
    for intent, lines in committed.items():
        # Each intent gets its target, give or take what deduplication removed.
        target = corpus.TARGETS[intent]
        assert 0.8 * target <= len(lines) <= target, f"{intent}: {len(lines)} lines for {target}"
    assert sum(len(lines) for lines in committed.values()) <= corpus.MAX_EXAMPLES
    # The report and the answers carry the vocabulary: they get the most lines.
    biggest = max(len(lines) for lines in committed.values())
    assert len(committed["report_problem"]) == len(committed["inform"]) == biggest


def test_no_line_is_said_twice_or_under_two_intents(committed: dict[str, list[str]]) -> None:
    owners: dict[str, list[str]] = {}
    for intent, lines in committed.items():
        for line in lines:
            owners.setdefault(fold(line), []).append(intent)
    assert {key: intents for key, intents in owners.items() if len(intents) > 1} == {}


def test_no_line_repeats_a_hand_written_one(committed: dict[str, list[str]]) -> None:
    hand_written = {fold(line) for lines in corpus.hand_written_lines().values() for line in lines}
    assert [line for lines in committed.values() for line in lines if fold(line) in hand_written] == []


def test_every_taxonomy_category_is_reported(committed: dict[str, list[str]]) -> None:
    taxonomy = load_taxonomy(DEFAULT_TAXONOMY)
    reported = {taxonomy.match(line) for line in committed["report_problem"]}
    assert {c.code for c in taxonomy.categories} <= reported


def test_about_half_the_lines_are_written_as_the_recogniser_writes(committed: dict[str, list[str]]) -> None:
    lines = [line for lines in committed.values() for line in lines]
    spoken = [line for line in lines if line == line.lower() and not re.search(r"[.,?!]", line)]
    assert 0.35 <= len(spoken) / len(lines) <= 0.65


def test_generation_is_deterministic() -> None:
    assert corpus.generate() == corpus.generate()


def test_the_corpus_follows_the_taxonomy(tmp_path: Path) -> None:
    taxonomy = yaml.safe_load(DEFAULT_TAXONOMY.read_text(encoding="utf-8"))
    taxonomy["categories"].insert(
        0, {"code": "plages", "label": "plages", "synonyms": ["parasol", "cabine de plage", "douche de plage"]}
    )
    edited = tmp_path / "taxonomy.yaml"
    edited.write_text(yaml.safe_dump(taxonomy, allow_unicode=True), encoding="utf-8")
    lines = corpus.generate(taxonomy_path=edited, targets={"report_problem": 600})["report_problem"]
    assert any(re.search(r"parasol|cabine de plage|douche de plage", line) for line in lines)


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (71, "soixante et onze"),
        (80, "quatre-vingts"),
        (91, "quatre-vingt-onze"),
        (97, "quatre-vingt-dix-sept"),
        (21, "vingt et un"),
        (122, "cent vingt-deux"),
        (200, "deux cents"),
        (203, "deux cent trois"),
    ],
)
def test_numbers_are_said_in_french(number: int, words: str) -> None:
    assert corpus.french_number(number) == words
