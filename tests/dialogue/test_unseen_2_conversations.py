"""The second unseen-callers set parses with the project's loader and every call states what it expects.

Loader check only: playing the calls against Rasa is a measurement, not a unit test
(`python -m dialogue.evaluate --conversations tests/dialogue/unseen/conversations-2.yaml --skip-utterances --eager`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from dialogue.eval.dataset import Conversation, load_conversation_file, taxonomy_codes

SECOND_SET = Path(__file__).resolve().parent / "unseen" / "conversations-2.yaml"


@pytest.fixture(scope="module")
def calls() -> tuple[Conversation, ...]:
    # Passing the taxonomy codes makes the loader reject a category that does not exist.
    return load_conversation_file(SECOND_SET, taxonomy_codes())


def test_forty_calls_with_distinct_ids(calls: tuple[Conversation, ...]) -> None:
    assert len(calls) == 40
    assert len({call.id for call in calls}) == len(calls)


def test_every_call_has_turns_and_an_expected_outcome(calls: tuple[Conversation, ...]) -> None:
    for call in calls:
        assert call.turns, call.id
        assert call.expect.outcomes, call.id
        if "report_saved" in call.expect.outcomes:
            assert call.expect.report is not None, call.id
            assert "category" in call.expect.report.fields, call.id
        else:
            assert call.expect.report is None, call.id


def test_reports_cover_every_category_and_the_mix_holds(calls: tuple[Conversation, ...]) -> None:
    tags = Counter(tag for call in calls for tag in call.tags)
    assert tags["out-of-scope"] == 6
    assert tags["emergency"] == 3
    assert tags["handoff"] == 3
    reports = [call.expect.report for call in calls if call.expect.report is not None]
    assert len(reports) == 25
    codes = taxonomy_codes()
    assert codes is not None
    assert {str(report.fields["category"]) for report in reports} == set(codes)


def test_emergencies_and_handoff_requests_name_their_reason(calls: tuple[Conversation, ...]) -> None:
    reasons = {"emergency": "emergency", "handoff": "caller_request"}
    for call in calls:
        for tag, reason in reasons.items():
            if tag in call.tags:
                assert call.expect.outcomes == frozenset({"handoff"}), call.id
                assert call.expect.handoff_reason == reason, call.id
