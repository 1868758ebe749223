"""Retention: old transcripts deleted, old callback numbers and pseudonyms cleared, reports kept; the audit trail's
copies of numbers blanked, old audit entries and expired console sessions deleted."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

import signalements.accounts
from signalements import InvalidRecord, PurgeResult, ReportDraft, Store
from signalements.accounts import Accounts
from signalements.decisions import Decisions
from signalements.models import AuditEntry, ConsoleSession
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


# -- the console's records: call-back requests, the audit trail, sessions -----------------------------------


def _report(store: Store, call_id: str, days_ago: int, **changes: Any) -> int:
    created = NOW - timedelta(days=days_ago)
    store.open_call(call_id, "sip", None, created)
    draft = replace(ReportDraft("voirie", "rue Paradis", "trou", False, True, "0600000000"), **changes)
    return store.save_report(call_id, draft, created_at=created)


def _audit(store: Store) -> list[tuple[Any, ...]]:
    with store.reading() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.report_id, r.callback_id, r.actor, r.action, r.changes, r.note, r.at) for r in rows]


def test_purge_clears_old_callback_request_numbers(store: Store) -> None:
    decisions = Decisions(store)
    for call_id, days_ago in (("old", 380), ("old-no-number", 370), ("recent", 2)):
        store.open_call(call_id, "sip", None, NOW - timedelta(days=days_ago))
    old = store.request_callback("old", "outside_hours", "0611111111", NOW - timedelta(days=380))
    unnumbered = store.request_callback("old-no-number", "transfer_failed", None, NOW - timedelta(days=370))
    recent = store.request_callback("recent", "outside_hours", "0622222222", NOW - timedelta(days=2))
    decisions.close_callback(old, "done", "a.martin", version=1, note="rappelé", at=NOW - timedelta(days=379))

    result = store.purge_expired(NOW, transcript_days=30, report_days=365)

    assert result.callback_numbers_cleared == 1
    assert [(c.call_id, c.number, c.status, c.note) for c in decisions.callbacks(status=None)] == [
        ("old", None, "done", "rappelé"),  # the request and its outcome stay, the number goes
        ("old-no-number", None, "pending", None),
        ("recent", "0622222222", "pending", None),
    ]
    assert [c.id for c in decisions.callbacks()] == [unnumbered, recent]
    assert store.purge_expired(NOW, transcript_days=30, report_days=365).callback_numbers_cleared == 0


def test_purge_blanks_the_numbers_the_audit_trail_copied_from_old_reports(store: Store) -> None:
    decisions = Decisions(store)
    changed = _report(store, "changed", 380)
    withdrawn = _report(store, "withdrawn", 370)
    plain = _report(store, "plain", 400)
    recent = _report(store, "recent", 10)
    at = {r: NOW - timedelta(days=d) for r, d in ((changed, 379), (withdrawn, 369), (plain, 399), (recent, 9))}
    decisions.decide(
        changed, "correct", "m.durand", version=1, changes={"callback_number": "0711111111", "danger": True},
        note="numéro corrigé", at=at[changed],
    )  # fmt: skip
    decisions.decide(withdrawn, "correct", "m.durand", version=1, changes={"callback_consent": False}, at=at[withdrawn])
    decisions.decide(plain, "validate", "a.martin", version=1, at=at[plain])
    decisions.decide(recent, "correct", "m.durand", version=1, changes={"callback_number": "0722222222"}, at=at[recent])

    result = store.purge_expired(NOW, transcript_days=30, report_days=365)

    assert (result.audit_values_redacted, result.audit_entries_deleted) == (2, 0)
    assert result.callback_numbers_cleared == 2  # "changed" and "plain"; "withdrawn" had none left
    assert _audit(store) == [
        (
            changed, None, "m.durand", "corrected",
            {"callback_number": ["[effacé]", "[effacé]"], "danger": [False, True]}, "numéro corrigé", at[changed],
        ),
        (
            withdrawn, None, "m.durand", "corrected",
            {"callback_consent": [True, False], "callback_number": ["[effacé]", None]}, None, at[withdrawn],
        ),
        (plain, None, "a.martin", "validated", {}, None, at[plain]),
        (recent, None, "m.durand", "corrected", {"callback_number": ["0600000000", "0722222222"]}, None, at[recent]),
    ]  # fmt: skip
    assert store.get_report(changed).callback_number is None and store.get_report(plain).callback_number is None
    assert store.get_report(recent).callback_number == "0722222222"

    again = store.purge_expired(NOW, transcript_days=30, report_days=365)
    assert (again.audit_values_redacted, again.callback_numbers_cleared) == (0, 0)
    assert _audit(store)[0][4] == {"callback_number": ["[effacé]", "[effacé]"], "danger": [False, True]}


def test_purge_deletes_audit_entries_older_than_audit_days(store: Store) -> None:
    decisions = Decisions(store)
    ancient = _report(store, "ancient", 800, callback_consent=False, callback_number=None)
    old = _report(store, "old", 400, callback_consent=False, callback_number=None)
    recent = _report(store, "recent", 10, callback_consent=False, callback_number=None)
    store.open_call("cb", "sip", None, NOW - timedelta(days=760))
    callback = store.request_callback("cb", "outside_hours", None, NOW - timedelta(days=760))
    decisions.close_callback(callback, "no_answer", "a.martin", version=1, note=None, at=NOW - timedelta(days=740))
    decisions.close_callback(callback, "done", "a.martin", version=2, note=None, at=NOW - timedelta(days=720))
    for report_id, days_ago in ((ancient, 799), (old, 399), (recent, 9)):
        store.reject_report(report_id, "m.durand", "doublon", at=NOW - timedelta(days=days_ago))

    kept = store.purge_expired(NOW, transcript_days=30, report_days=365)
    assert kept.audit_entries_deleted == 0 and len(_audit(store)) == 5

    result = store.purge_expired(NOW, transcript_days=30, report_days=365, audit_days=730)

    assert result.audit_entries_deleted == 2
    assert [(e[0], e[1], e[3]) for e in _audit(store)] == [
        (None, callback, "callback_done"),
        (old, None, "rejected"),
        (recent, None, "rejected"),
    ]
    assert decisions.audit(ancient) == [] and store.get_report(ancient).status == "rejected"  # the report stays
    assert store.purge_expired(NOW, 30, 365, audit_days=730).audit_entries_deleted == 0
    assert store.purge_expired(NOW, 30, 365, audit_days=0).audit_entries_deleted == 3


def test_purge_deletes_expired_console_sessions(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signalements.accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    accounts = Accounts(store)
    accounts.add("m.durand", "superviseur", "correct horse battery", now=NOW - timedelta(days=1))
    idle, lasting = timedelta(minutes=30), timedelta(hours=10)

    def log_in(ago: timedelta) -> str:
        login = accounts.log_in(
            "m.durand", "correct horse battery", NOW - ago,
            lasting=lasting, idle=idle, max_failed=5, lockout=timedelta(minutes=15),
        )  # fmt: skip
        return login.token

    expired = log_in(timedelta(hours=2))
    ends_now = log_in(idle)
    alive = log_in(timedelta(minutes=10))

    assert store.purge_expired(NOW, transcript_days=30, report_days=365).sessions_deleted == 2
    assert store.purge_expired(NOW, transcript_days=30, report_days=365).sessions_deleted == 0
    with store.reading() as session:
        assert session.scalar(select(func.count(ConsoleSession.id))) == 1
    later = NOW + timedelta(minutes=5)
    assert accounts.session(alive, later, lasting=lasting, idle=idle) is not None
    assert accounts.session(expired, later, lasting=lasting, idle=idle) is None
    assert accounts.session(ends_now, later, lasting=lasting, idle=idle) is None


def test_purge_of_an_empty_store(store: Store) -> None:
    assert store.purge_expired(NOW, transcript_days=30, report_days=365, audit_days=730) == PurgeResult()


@pytest.mark.parametrize("audit_days", [-1, True, 1.5, "730"])
def test_purge_refuses_bad_audit_days(store: Store, audit_days: object) -> None:
    with pytest.raises(InvalidRecord, match="audit_days"):
        store.purge_expired(NOW, transcript_days=30, report_days=365, audit_days=audit_days)  # type: ignore[arg-type]
