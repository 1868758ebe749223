"""Report workflow: awaiting_validation -> validated | rejected, by a person, once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from signalements import InvalidRecord, InvalidTransition, NotFound, ReportDraft, Store
from tests.signalements.conftest import T0

DRAFT = ReportDraft(
    category="eclairage_public",
    place="avenue du Prado",
    description="lampadaire éteint",
    danger=False,
    callback_consent=False,
    callback_number=None,
)


def opened(store: Store, call_id: str) -> str:
    store.open_call(call_id, "sip", None, T0)
    return call_id


def test_validation_records_who_when_and_note(store: Store) -> None:
    report_id = store.save_report(opened(store, "call"), DRAFT)
    validated = store.validate_report(report_id, "agent.durand", "transmis au service", at=T0)
    assert (validated.status, validated.reviewed_by, validated.reviewed_at, validated.review_note) == (
        "validated",
        "agent.durand",
        T0,
        "transmis au service",
    )
    assert store.get_report(report_id) == validated


def test_rejection_needs_a_note(store: Store) -> None:
    report_id = store.save_report(opened(store, "call"), DRAFT)
    with pytest.raises(InvalidRecord, match="note"):
        store.reject_report(report_id, "agent.durand", "  ")
    rejected = store.reject_report(report_id, "agent.durand", "hors périmètre", at=T0 + timedelta(days=1))
    assert rejected.status == "rejected" and rejected.review_note == "hors périmètre"


@pytest.mark.parametrize("first", ["validate", "reject"])
@pytest.mark.parametrize("second", ["validate", "reject"])
def test_a_decided_report_cannot_change_again(store: Store, first: str, second: str) -> None:
    report_id = store.save_report(opened(store, "call"), DRAFT)
    getattr(store, f"{first}_report")(report_id, "agent.a", "motif")
    with pytest.raises(InvalidTransition, match="already"):
        getattr(store, f"{second}_report")(report_id, "agent.b", "motif")
    assert store.get_report(report_id).reviewed_by == "agent.a"


@pytest.mark.parametrize("reviewer", ["bot", "Callbot", "rasa", "  "])
def test_a_bot_never_validates(store: Store, reviewer: str) -> None:
    report_id = store.save_report(opened(store, "call"), DRAFT)
    with pytest.raises(InvalidRecord, match="reviewer"):
        store.validate_report(report_id, reviewer, None)
    assert store.get_report(report_id).status == "awaiting_validation"


def test_unknown_report(store: Store) -> None:
    with pytest.raises(NotFound):
        store.validate_report(12345, "agent.a", None)
