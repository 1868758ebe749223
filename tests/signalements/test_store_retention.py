"""Retention: old transcripts deleted, old callback numbers and pseudonyms cleared, reports kept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from signalements import InvalidRecord, ReportDraft, Store
from tests.signalements.conftest import T0

NOW = T0 + timedelta(days=400)


def _call(store: Store, call_id: str, at_days_ago: int) -> int:
    started = NOW - timedelta(days=at_days_ago)
    store.open_call(call_id, "sip", "+33600000000", started)
    store.add_turn(call_id, "caller", "mon numéro est le 06 00 00 00 00", started, started)
    store.add_handoff(call_id, "caller_request", None, True, {"callback_number": "0600000000"}, started)
    return store.save_report(
        call_id, ReportDraft("voirie", "rue", "trou", False, True, "0600000000"), created_at=started
    )


def test_purge_applies_both_limits(store: Store) -> None:
    old_report = _call(store, "old", at_days_ago=380)
    middle_report = _call(store, "middle", at_days_ago=60)
    recent_report = _call(store, "recent", at_days_ago=2)

    result = store.purge_expired(NOW, transcript_days=30, report_days=365)

    assert result.turns_deleted == 2 and result.handoff_fields_cleared == 2
    assert result.callback_numbers_cleared == 1 and result.caller_pseudonyms_cleared == 1
    old, middle, recent = (store.get_call(c) for c in ("old", "middle", "recent"))
    assert old.turns == [] and middle.turns == [] and len(recent.turns) == 1
    assert old.handoffs[0].fields == {} and recent.handoffs[0].fields != {}
    assert store.get_report(old_report).callback_number is None
    assert store.get_report(middle_report).callback_number == "0600000000"
    assert store.get_report(recent_report).callback_number == "0600000000"
    assert old.summary.caller_pseudonym is None and middle.summary.caller_pseudonym is not None
    assert store.get_report(old_report).description == "trou"  # the report itself stays

    again = store.purge_expired(NOW, transcript_days=30, report_days=365)
    assert (
        again.turns_deleted,
        again.handoff_fields_cleared,
        again.callback_numbers_cleared,
        again.caller_pseudonyms_cleared,
    ) == (0, 0, 0, 0)


def test_purge_refuses_negative_days(store: Store) -> None:
    with pytest.raises(InvalidRecord):
        store.purge_expired(NOW, transcript_days=-1, report_days=365)
