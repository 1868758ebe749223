"""The held-out set loads, covers what the brief asks, and schema errors name the file and the entry."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from dialogue.eval.dataset import (
    DatasetError,
    load_conversation_file,
    load_conversations,
    load_default_set,
    load_utterances,
    taxonomy_codes,
)
from dialogue.knowledge import fold

REPO = Path(__file__).resolve().parents[2]


def test_the_held_out_set_is_big_and_varied_enough() -> None:
    evaluation = load_default_set()
    assert len(evaluation.utterances) >= 150
    assert len(evaluation.conversations) >= 40
    intents = Counter(u.intent for u in evaluation.utterances)
    assert intents["out_of_scope"] >= 30
    codes = taxonomy_codes()
    assert codes is not None
    assert {u.category for u in evaluation.utterances if u.category} == codes
    assert {c.expect.report.fields["category"] for c in evaluation.conversations if c.expect.report} == codes
    tags = {t for c in evaluation.conversations for t in c.tags}
    assert {
        "one-sentence",
        "bit-by-bit",
        "correction",
        "repeat",
        "handoff",
        "emergency",
        "out-of-scope",
        "silence",
        "noisy",
        "landmark",
        "elderly",
        "stressed",
    } <= tags
    communes = {c.expect.report.fields.get("commune") for c in evaluation.conversations if c.expect.report}
    assert len(communes - {None}) >= 15
    assert sum(1 for u in evaluation.utterances if u.noisy) >= 25


def test_no_held_out_line_is_in_the_training_data() -> None:
    # One training line at a time: a match across two examples is no leak.
    training = "\n".join(
        f" {fold(line)} "
        for p in (REPO / "dialogue" / "data").rglob("*.yml")
        for line in p.read_text("utf-8").splitlines()
    )
    evaluation = load_default_set()
    lines = [u.text for u in evaluation.utterances] + [t.say for c in evaluation.conversations for t in c.turns]
    # Short answers ("Oui.", "Non merci.") are everyone's words; a longer line found verbatim is a leak.
    leaked = [line for line in lines if len(fold(line).split()) >= 6 and f" {fold(line)} " in training]
    assert leaked == []


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "set.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("utterances:\n  - {id: u1, text: 'Bonjour', intent: greeting}\n", "entry 'u1': unknown intent 'greeting'"),
        ("utterances:\n  - {id: u1, intent: greet}\n", "entry 'u1': missing 'text'"),
        ("utterances:\n  - {id: u1, text: 'x', intent: greet, colour: red}\n", "entry 'u1': unknown key(s) colour"),
        (
            "utterances:\n  - {id: u1, text: 'x', intent: report_problem, category: potholes}\n",
            "entry 'u1': unknown category 'potholes'",
        ),
        (
            "utterances:\n  - {id: u1, text: 'x', intent: greet}\n  - {id: u1, text: 'y', intent: greet}\n",
            "entry 'u1': duplicate id",
        ),
        ("utterances:\n  - just a string\n", "entry #1: must be a mapping"),
        ("utterances: []\n", "'utterances' must be a non-empty list"),
        ("utterances: [\n", "invalid YAML"),
    ],
)
def test_utterance_schema_errors_name_file_and_entry(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(DatasetError) as error:
        load_utterances(path, frozenset({"proprete"}))
    assert str(path) in str(error.value)
    assert message in str(error.value)


GOOD_CONVERSATION = """
  - id: c1
    caller_number: "0611223344"
    turns:
      - "Bonjour, un lampadaire est en panne au 3 rue Sainte à Marseille."
      - {say: "Non.", for: danger}
    expect:
      outcome: report_saved
      report: {category: eclairage_public, street_number: "3", danger: false}
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('street_number: "3"', "street_number: 3", "expect.report.street_number must be a string"),
        ("outcome: report_saved", "outcome: saved", "expect.outcome must be one of"),
        ("for: danger", "for: weather", "turn #2: 'for' must be one of"),
        ('{say: "Non.", for: danger}', '{say: "Non.", if_asked: true}', "turn #2: 'if_asked'"),
        ("danger: false}", "danger: maybe}", "expect.report.danger must be true or false"),
        ("category: eclairage_public, ", "", "expect.report.category is required"),
        ('caller_number: "0611223344"', "caller_number: 611223344", "'caller_number' must be a quoted string"),
        ('{say: "Non.", for: danger}', '{say: "Non.", asr_confidence: 2}', "turn #2: 'asr_confidence'"),
    ],
)
def test_conversation_schema_errors_name_file_and_entry(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD_CONVERSATION
    path = write(tmp_path, "conversations:" + GOOD_CONVERSATION.replace(old, new))
    with pytest.raises(DatasetError) as error:
        load_conversations(path, frozenset({"eclairage_public"}))
    assert f"{path}: entry 'c1': " in str(error.value)
    assert message in str(error.value)


def test_a_good_conversation_loads(tmp_path: Path) -> None:
    (conversation,) = load_conversations(write(tmp_path, "conversations:" + GOOD_CONVERSATION))
    assert conversation.caller_number == "0611223344"
    assert conversation.turns[1].target == "danger"
    assert conversation.expect.outcomes == {"report_saved"}
    assert conversation.expect.report is not None
    assert conversation.expect.report.fields == {"category": "eclairage_public", "street_number": "3", "danger": False}


def test_a_single_conversation_file_loads_and_its_errors_name_it(tmp_path: Path) -> None:
    body = "\n".join(
        line[4:] if line.startswith("    ") else line.replace("  - ", "") for line in GOOD_CONVERSATION.splitlines()
    )
    (conversation,) = load_conversation_file(write(tmp_path, body))
    assert conversation.id == "c1"
    bad = write(tmp_path, body.replace("outcome: report_saved", "outcome: nope"))
    with pytest.raises(DatasetError, match=r"set\.yaml: entry 'c1': expect\.outcome"):
        load_conversation_file(bad)
