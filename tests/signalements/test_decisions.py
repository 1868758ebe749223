"""Decisions: validate, correct then validate, reject, each audited, a stale version a conflict; call-backs."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from signalements import InvalidRecord, InvalidTransition, NotFound, ReportDraft, ReportView, Store
from signalements.decisions import AuditView, Decisions
from signalements.errors import Conflict
from signalements.models import AuditEntry
from tests.signalements.conftest import T0

DRAFT = ReportDraft(
    category="voirie_nid_de_poule",
    place="12 rue Sainte, Marseille 7e",
    description="un gros trou sur la chaussée",
    danger=False,
    callback_consent=True,
    callback_number="0612345678",
    street_number="12",
    street_name="rue Sainte",
    commune="Marseille",
    street_verified=True,
)
AT = T0 + timedelta(hours=2)


@pytest.fixture
def decisions(store: Store) -> Decisions:
    return Decisions(store)


def new_report(store: Store, call_id: str = "call-1", draft: ReportDraft = DRAFT) -> int:
    store.open_call(call_id, "sip", None, T0)
    return store.save_report(call_id, draft, created_at=T0 + timedelta(minutes=5))


def all_audit_entries(store: Store) -> list[tuple[Any, ...]]:
    with store.reading() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.report_id, r.callback_id, r.actor, r.action, r.changes, r.note, r.at) for r in rows]


# -- validate, correct, reject -----------------------------------------------------------------------------


def test_validate_records_who_when_and_bumps_the_version(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    before = store.get_report(report_id)
    assert before.version == 1

    validated = decisions.decide(report_id, "validate", "m.durand", version=1, note=" vu ", at=AT)

    assert validated == replace(
        before, status="validated", reviewed_by="m.durand", reviewed_at=AT, review_note="vu", version=2
    )
    assert store.get_report(report_id) == validated
    assert decisions.audit(report_id) == [AuditView(1, AT, "m.durand", "validated", {}, "vu")]


def test_a_correction_audits_only_the_fields_that_change(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    before = store.get_report(report_id)

    corrected = decisions.decide(
        report_id,
        "correct",
        "m.durand",
        version=1,
        changes={
            "place": "14 rue Sainte, Marseille 7e",
            "street_number": "14",
            "description": "un gros trou sur la chaussée",  # the same
            "commune": "  Marseille  ",  # the same once trimmed
            "danger": True,
            "street_verified": None,
            "landmark": "",  # was None: no change
        },
        at=AT,
    )

    assert corrected == replace(
        before,
        place="14 rue Sainte, Marseille 7e",
        street_number="14",
        danger=True,
        street_verified=None,
        status="validated",
        reviewed_by="m.durand",
        reviewed_at=AT,
        version=2,
    )
    assert store.get_report(report_id) == corrected
    [entry] = decisions.audit(report_id)
    assert (entry.action, entry.actor, entry.at, entry.note) == ("corrected", "m.durand", AT, None)
    assert entry.changes == {
        "place": ["12 rue Sainte, Marseille 7e", "14 rue Sainte, Marseille 7e"],
        "street_number": ["12", "14"],
        "danger": [False, True],
        "street_verified": [True, None],
    }


def test_a_correction_that_changes_nothing_is_a_validation(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    decisions.decide(
        report_id, "correct", "m.durand", version=1, changes={"category": DRAFT.category, "danger": False}, at=AT
    )
    [entry] = decisions.audit(report_id)
    assert (entry.action, entry.changes) == ("validated", {})
    assert store.get_report(report_id).status == "validated"


def test_withdrawn_consent_drops_the_callback_number(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    corrected = decisions.decide(
        report_id, "correct", "m.durand", version=1, changes={"callback_consent": False}, at=AT
    )
    assert (corrected.callback_consent, corrected.callback_number) == (False, None)
    assert decisions.audit(report_id)[0].changes == {
        "callback_consent": [True, False],
        "callback_number": ["0612345678", None],
    }


def test_withdrawn_consent_drops_a_number_given_in_the_same_correction(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    corrected = decisions.decide(
        report_id,
        "correct",
        "m.durand",
        version=1,
        changes={"callback_consent": False, "callback_number": "0700000000"},
        at=AT,
    )
    assert (corrected.callback_consent, corrected.callback_number) == (False, None)
    # the trail says what the number was before, not the value that never took effect
    assert decisions.audit(report_id)[0].changes == {
        "callback_consent": [True, False],
        "callback_number": ["0612345678", None],
    }


def test_a_number_without_consent_is_no_change(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store, draft=replace(DRAFT, callback_consent=False, callback_number=None))
    decisions.decide(report_id, "correct", "m.durand", version=1, changes={"callback_number": "0700000000"}, at=AT)
    assert store.get_report(report_id).callback_number is None
    [entry] = decisions.audit(report_id)
    assert (entry.action, entry.changes) == ("validated", {})


def test_a_correction_can_change_the_number_with_consent(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    corrected = decisions.decide(
        report_id, "correct", "m.durand", version=1, changes={"callback_number": " 0700000000 "}, at=AT
    )
    assert corrected.callback_number == "0700000000"
    assert decisions.audit(report_id)[0].changes == {"callback_number": ["0612345678", "0700000000"]}


BAD_CORRECTIONS: list[tuple[dict[str, Any], str]] = [
    ({"status": "rejected"}, "status is not a report field"),
    ({"version": 7}, "version is not a report field"),
    ({"reviewed_by": "a.martin"}, "reviewed_by is not a report field"),
    ({"id": 99}, "id is not a report field"),
    ({"call_id": 2}, "call_id is not a report field"),
    ({"danger": "oui"}, "danger must be true or false"),
    ({"danger": 1}, "danger must be true or false"),
    ({"callback_consent": None}, "callback_consent must be true or false"),
    ({"street_verified": "yes"}, "street_verified must be true or false"),
    ({"place": "   "}, "place must not be empty"),
    ({"category": None}, "category is required"),
    ({"description": 42}, "description must be a string"),
    ({"street_number": "1" * 33}, "street_number is longer than 32"),
    ({"commune": "x" * 129}, "commune is longer than 128"),
    ({"place": "rue Paradis", "danger": "non"}, "danger must be true or false"),
]


def test_bad_corrections_are_refused_and_change_nothing(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    before = store.get_report(report_id)
    for changes, message in BAD_CORRECTIONS:
        with pytest.raises(InvalidRecord, match=message):
            decisions.decide(report_id, "correct", "m.durand", version=1, changes=changes, at=AT)
    assert store.get_report(report_id) == before
    assert decisions.audit(report_id) == []


def test_changes_are_ignored_unless_correcting(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    validated = decisions.decide(report_id, "validate", "m.durand", version=1, changes={"place": "ailleurs"}, at=AT)
    assert validated.place == DRAFT.place
    assert decisions.audit(report_id)[0].changes == {}


def test_a_rejection_needs_a_note(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    for note in (None, "", "   "):
        with pytest.raises(InvalidRecord, match="note"):
            decisions.decide(report_id, "reject", "m.durand", version=1, note=note, at=AT)
    assert store.get_report(report_id).status == "awaiting_validation"
    assert decisions.audit(report_id) == []


def test_reject_with_a_note(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    rejected = decisions.decide(report_id, "reject", "m.durand", version=1, note="doublon du 12", at=AT)
    assert (rejected.status, rejected.review_note, rejected.reviewed_by, rejected.version) == (
        "rejected",
        "doublon du 12",
        "m.durand",
        2,
    )
    assert rejected.callback_number == "0612345678"  # a rejection changes no field
    assert decisions.audit(report_id) == [AuditView(1, AT, "m.durand", "rejected", {}, "doublon du 12")]


def test_unknown_decision_report_and_naive_time(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    with pytest.raises(InvalidRecord, match="unknown decision"):
        decisions.decide(report_id, "approve", "m.durand", version=1, at=AT)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        decisions.decide(report_id + 1, "validate", "m.durand", version=1, at=AT)
    with pytest.raises(InvalidRecord, match="timezone-aware"):
        decisions.decide(report_id, "validate", "m.durand", version=1, at=AT.replace(tzinfo=None))
    assert store.get_report(report_id).status == "awaiting_validation"
    assert all_audit_entries(store) == []


def test_a_non_human_reviewer_is_refused(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    for actor in ("bot", "Callbot", "RASA", "system", "action_server", "  ", "", "x" * 65):
        with pytest.raises(InvalidRecord, match="reviewer"):
            decisions.decide(report_id, "validate", actor, version=1, at=AT)
    assert store.get_report(report_id).status == "awaiting_validation"
    assert decisions.audit(report_id) == []


# -- versions and conflicts --------------------------------------------------------------------------------


def test_a_stale_version_is_a_conflict_and_changes_nothing(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    before = store.get_report(report_id)
    for decision in ("validate", "correct", "reject"):
        for version in (0, 2, 99):
            with pytest.raises(Conflict, match=f"report {report_id} changed since you read it"):
                decisions.decide(
                    report_id, decision, "m.durand", version=version, changes={"place": "x"}, note="motif", at=AT
                )
    assert store.get_report(report_id) == before
    assert decisions.audit(report_id) == []


@pytest.mark.parametrize("first", ["validate", "correct", "reject"])
def test_a_second_decision_on_a_decided_report(store: Store, decisions: Decisions, first: Any) -> None:
    for second in ("validate", "correct", "reject"):
        second_decision_on_a_decided_report(store, decisions, first, second)


def second_decision_on_a_decided_report(store: Store, decisions: Decisions, first: Any, second: Any) -> None:
    report_id = new_report(store, f"call-{second}")
    decided = decisions.decide(
        report_id, first, "m.durand", version=1, changes={"place": "rue Paradis"}, note="motif", at=AT
    )
    later = AT + timedelta(minutes=1)

    # made on the form the first person also saw: a conflict naming who decided
    with pytest.raises(Conflict) as conflict:
        decisions.decide(report_id, second, "a.martin", version=1, changes={"place": "x"}, note="motif", at=later)
    action = {"validate": "validated", "correct": "corrected", "reject": "rejected"}[first]
    assert str(conflict.value) == (f"report {report_id} was {action} by m.durand at {AT.isoformat()} since you read it")
    # made on the decided report's version: not a transition the workflow allows
    with pytest.raises(InvalidTransition, match=f"already {decided.status}"):
        decisions.decide(report_id, second, "a.martin", version=2, changes={"place": "x"}, note="motif", at=later)
    # the integrators' API (no version)
    with pytest.raises(InvalidTransition, match="already"):
        decisions.decide(report_id, second, "a.martin", version=None, changes={"place": "x"}, note="motif", at=later)

    assert store.get_report(report_id) == decided
    assert [entry.actor for entry in decisions.audit(report_id)] == ["m.durand"]


def test_the_audit_trail_keeps_each_reports_entries_in_order(store: Store, decisions: Decisions) -> None:
    first = new_report(store, "call-1")
    second = new_report(store, "call-2")
    third = new_report(store, "call-3")
    decisions.decide(second, "reject", "a.martin", version=1, note="hors périmètre", at=AT + timedelta(minutes=3))
    decisions.decide(first, "correct", "m.durand", version=1, changes={"danger": True}, at=AT + timedelta(minutes=1))
    store.validate_report(third, "j.dupont", at=AT)

    assert decisions.audit(first) == [
        AuditView(2, AT + timedelta(minutes=1), "m.durand", "corrected", {"danger": [False, True]}, None)
    ]
    assert decisions.audit(second) == [
        AuditView(1, AT + timedelta(minutes=3), "a.martin", "rejected", {}, "hors périmètre")
    ]
    assert decisions.audit(third) == [AuditView(3, AT, "j.dupont", "validated", {}, None)]
    assert [(r[0], r[3]) for r in all_audit_entries(store)] == [
        (second, "rejected"),
        (first, "corrected"),
        (third, "validated"),
    ]
    assert decisions.audit(12345) == []


def test_the_json_apis_validate_and_reject_still_work_and_are_audited(store: Store, decisions: Decisions) -> None:
    validated_id = new_report(store, "call-1")
    rejected_id = new_report(store, "call-2")

    validated = store.validate_report(validated_id, "m.durand", "transmis", at=AT)
    rejected = store.reject_report(rejected_id, "a.martin", "doublon", at=AT + timedelta(minutes=1))

    assert (validated.status, validated.version, validated.reviewed_at) == ("validated", 2, AT)
    assert (rejected.status, rejected.version, rejected.review_note) == ("rejected", 2, "doublon")
    assert decisions.audit(validated_id) == [AuditView(1, AT, "m.durand", "validated", {}, "transmis")]
    assert decisions.audit(rejected_id) == [
        AuditView(2, AT + timedelta(minutes=1), "a.martin", "rejected", {}, "doublon")
    ]
    # a console form opened before the API's validation is now stale
    with pytest.raises(Conflict, match=r"validated by m\.durand"):
        decisions.decide(validated_id, "reject", "j.dupont", version=1, note="non", at=AT)


def test_the_json_api_without_a_time_uses_now(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    validated = store.validate_report(report_id, "m.durand")
    assert validated.reviewed_at is not None and validated.reviewed_at > T0
    [entry] = decisions.audit(report_id)
    assert entry.at == validated.reviewed_at


def _race(decide: Any, count: int) -> tuple[list[ReportView], list[Exception]]:
    """`count` threads making one decision each at the same moment."""
    start = threading.Barrier(count)
    won: list[ReportView] = []
    lost: list[Exception] = []

    def run(i: int) -> None:
        start.wait()
        try:
            won.append(decide(i))
        except (Conflict, InvalidTransition) as refusal:
            lost.append(refusal)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return won, lost


def test_two_people_deciding_one_report_at_once_exactly_one_wins(store: Store, decisions: Decisions) -> None:
    for round_ in range(5):
        report_id = new_report(store, f"call-{round_}")

        def decide(i: int, report_id: int = report_id) -> ReportView:
            if i == 0:
                return decisions.decide(report_id, "reject", "m.durand", version=1, note="doublon", at=AT)
            return decisions.decide(report_id, "correct", "a.martin", version=1, changes={"danger": True}, at=AT)

        won, lost = _race(decide, 2)

        assert len(won) == 1 and len(lost) == 1
        assert isinstance(lost[0], Conflict)
        assert store.get_report(report_id) == won[0]
        assert won[0].version == 2
        [entry] = decisions.audit(report_id)
        assert entry.actor == won[0].reviewed_by
        assert won[0].danger is (won[0].status == "validated")


def test_api_validations_racing_on_one_report_exactly_one_wins(store: Store, decisions: Decisions) -> None:
    report_id = new_report(store)
    won, lost = _race(lambda i: store.validate_report(report_id, f"agent.{i}", at=AT), 4)
    assert len(won) == 1 and len(lost) == 3
    assert all(isinstance(refusal, InvalidTransition) for refusal in lost)
    assert [entry.actor for entry in decisions.audit(report_id)] == [won[0].reviewed_by]


# -- call-back requests ------------------------------------------------------------------------------------


def callback_call(store: Store, call_id: str = "call-cb") -> str:
    store.open_call(call_id, "sip", "+33612345678", T0)
    return call_id


def test_request_callback_waits_in_the_queue_oldest_first(store: Store, decisions: Decisions) -> None:
    call_id = callback_call(store)
    other = callback_call(store, "call-other")
    late = store.request_callback(call_id, "outside_hours", " 0612345678 ", T0 + timedelta(minutes=9))
    early = store.request_callback(other, "transfer_failed", None, T0 + timedelta(minutes=1))
    middle = store.request_callback(call_id, "no_transfer", "0699999999", T0 + timedelta(minutes=5))

    queue = decisions.callbacks()
    assert [c.id for c in queue] == [early, middle, late]
    first = queue[0]
    assert (first.call_id, first.requested_at, first.reason, first.number, first.status) == (
        "call-other",
        T0 + timedelta(minutes=1),
        "transfer_failed",
        None,
        "pending",
    )
    assert (first.note, first.handled_by, first.handled_at, first.version) == (None, None, None, 1)
    assert queue[2].number == "0612345678"
    assert [c.id for c in decisions.callbacks(limit=2)] == [early, middle]


@pytest.mark.parametrize(
    ("call_id", "reason", "number", "error"),
    [
        ("nobody", "outside_hours", None, NotFound),
        ("call-cb", "", None, InvalidRecord),
        ("call-cb", "x" * 33, None, InvalidRecord),
        ("call-cb", "outside_hours", "0" * 33, InvalidRecord),
        ("call-cb", "outside_hours", 612345678, InvalidRecord),
    ],
)
def test_request_callback_refuses_bad_requests(
    store: Store, decisions: Decisions, call_id: str, reason: str, number: Any, error: type[Exception]
) -> None:
    callback_call(store)
    with pytest.raises(error):
        store.request_callback(call_id, reason, number, T0)
    with pytest.raises(InvalidRecord, match="timezone-aware"):
        store.request_callback("call-cb", "outside_hours", None, T0.replace(tzinfo=None))
    assert decisions.callbacks(status=None) == []


def test_close_callback_done_and_no_answer_are_audited_in_order(store: Store, decisions: Decisions) -> None:
    call_id = callback_call(store)
    callback_id = store.request_callback(call_id, "outside_hours", "0612345678", T0)

    tried = decisions.close_callback(callback_id, "no_answer", "a.martin", version=1, note="messagerie", at=AT)
    assert (tried.status, tried.handled_by, tried.handled_at, tried.note, tried.version) == (
        "no_answer",
        "a.martin",
        AT,
        "messagerie",
        2,
    )
    assert decisions.callbacks() == []
    assert decisions.callbacks(status="no_answer") == [tried]

    later = AT + timedelta(hours=1)
    done = decisions.close_callback(callback_id, "done", "j.dupont", version=2, note=None, at=later)
    assert (done.status, done.handled_by, done.handled_at, done.note, done.version) == (
        "done",
        "j.dupont",
        later,
        None,
        3,
    )
    assert decisions.callbacks(status="done") == [done]
    assert decisions.callbacks(status=None) == [done]
    assert decisions.callbacks(status="no_answer") == []

    assert all_audit_entries(store) == [
        (None, callback_id, "a.martin", "callback_no_answer", {"status": ["pending", "no_answer"]}, "messagerie", AT),
        (None, callback_id, "j.dupont", "callback_done", {"status": ["no_answer", "done"]}, None, later),
    ]


def test_close_callback_with_a_stale_version_is_a_conflict(store: Store, decisions: Decisions) -> None:
    callback_id = store.request_callback(callback_call(store), "outside_hours", "0612345678", T0)
    decisions.close_callback(callback_id, "done", "a.martin", version=1, note="rappelé", at=AT)

    with pytest.raises(Conflict, match=f"call-back {callback_id} was marked done by a.martin"):
        decisions.close_callback(callback_id, "no_answer", "j.dupont", version=1, note="rien", at=AT)

    [view] = decisions.callbacks(status=None)
    assert (view.status, view.handled_by, view.note, view.version) == ("done", "a.martin", "rappelé", 2)
    assert len(all_audit_entries(store)) == 1


@pytest.mark.parametrize(
    ("status", "actor", "error", "message"),
    [
        ("pending", "a.martin", InvalidRecord, "done or no_answer"),
        ("rejected", "a.martin", InvalidRecord, "done or no_answer"),
        ("done", "bot", InvalidRecord, "not a person"),
        ("done", " ", InvalidRecord, "reviewer"),
    ],
)
def test_close_callback_refuses_bad_outcomes_and_actors(
    store: Store, decisions: Decisions, status: str, actor: str, error: type[Exception], message: str
) -> None:
    callback_id = store.request_callback(callback_call(store), "outside_hours", None, T0)
    with pytest.raises(error, match=message):
        decisions.close_callback(callback_id, status, actor, version=1, note=None, at=AT)
    assert [c.status for c in decisions.callbacks()] == ["pending"]
    assert all_audit_entries(store) == []


def test_close_callback_unknown_and_bad_filters(store: Store, decisions: Decisions) -> None:
    with pytest.raises(NotFound):
        decisions.close_callback(42, "done", "a.martin", version=1, note=None, at=AT)
    with pytest.raises(InvalidRecord, match="status must be one of"):
        decisions.callbacks(status="closed")


def test_two_agents_closing_one_callback_at_once_exactly_one_wins(store: Store, decisions: Decisions) -> None:
    callback_id = store.request_callback(callback_call(store), "outside_hours", None, T0)
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def close(actor: str, status: str) -> None:
        start.wait()
        try:
            outcomes.append(decisions.close_callback(callback_id, status, actor, version=1, note=None, at=AT))
        except Conflict as conflict:
            outcomes.append(conflict)

    threads = [
        threading.Thread(target=close, args=("a.martin", "done")),
        threading.Thread(target=close, args=("j.dupont", "no_answer")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(outcomes) == 2 and len(conflicts) == 1
    [view] = decisions.callbacks(status=None)
    assert view.version == 2 and len(all_audit_entries(store)) == 1
