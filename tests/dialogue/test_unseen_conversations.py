"""The unseen-callers set loads with the project's loader and every call says what it expects.

This is a loader check only: playing the set against Rasa and deciding on pass marks is left to the team
(`python -m dialogue.evaluate --conversations tests/dialogue/unseen/conversations.yaml --skip-utterances`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from dialogue.eval.dataset import Conversation, load_conversation_file, taxonomy_codes
from dialogue.knowledge import fold

UNSEEN = Path(__file__).resolve().parent / "unseen" / "conversations.yaml"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def conversations() -> tuple[Conversation, ...]:
    # With the taxonomy codes the loader also rejects an unknown category.
    return load_conversation_file(UNSEEN, taxonomy_codes())


def test_the_set_holds_forty_calls_with_unique_ids(conversations: tuple[Conversation, ...]) -> None:
    assert len(conversations) == 40
    assert len({c.id for c in conversations}) == 40


def test_every_call_has_an_expected_outcome(conversations: tuple[Conversation, ...]) -> None:
    for conversation in conversations:
        assert conversation.expect.outcomes, conversation.id
        assert conversation.turns, conversation.id
        if "report_saved" in conversation.expect.outcomes:
            assert conversation.expect.report is not None, conversation.id
            assert "category" in conversation.expect.report.fields, conversation.id


def test_the_mix_matches_the_brief(conversations: tuple[Conversation, ...]) -> None:
    tags = Counter(t for c in conversations for t in c.tags)
    assert tags["out-of-scope"] >= 6
    assert tags["emergency"] >= 3
    assert tags["handoff"] >= 3
    assert tags["silence"] + tags["unintelligible"] >= 3
    reports = [c for c in conversations if c.expect.report is not None]
    assert len(reports) >= 25
    categories = {str(r.expect.report.fields["category"]) for r in reports if r.expect.report}
    codes = taxonomy_codes()
    assert codes is not None
    assert categories == set(codes)


def test_no_line_is_in_the_training_data(conversations: tuple[Conversation, ...]) -> None:
    # The set is only worth something while it stays unseen: a long line found in the training data is a leak.
    training = " ".join(fold(p.read_text(encoding="utf-8")) for p in (REPO / "dialogue" / "data").rglob("*.yml"))
    lines = [fold(t.say) for c in conversations for t in c.turns]
    leaked = [line for line in lines if len(line.split()) >= 6 and f" {line} " in f" {training} "]
    assert leaked == []
