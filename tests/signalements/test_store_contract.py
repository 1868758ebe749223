"""The Store's write and read contract, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from signalements import InvalidRecord, NotFound, ReportDraft, Store
from tests.signalements.conftest import T0


def draft(**changes: object) -> ReportDraft:
    values: dict[str, object] = dict(
        category="voirie_nid_de_poule",
        place="12 rue Sainte, Marseille 7e",
        description="un gros trou sur la chaussée",
        danger=True,
        callback_consent=True,
        callback_number="0612345678",
        street_number="12",
        street_name="rue Sainte",
        street_verified=True,
        commune="Marseille",
        landmark="devant la boulangerie",
    )
    values.update(changes)
    return ReportDraft(**values)  # type: ignore[arg-type]


def record_call(store: Store, call_id: str = "call-1", started: datetime = T0) -> None:
    store.open_call(call_id, "sip", "+33612345678", started)
    store.add_turn(
        call_id, "bot", "Bonjour, vous parlez à un assistant automatique.", started, started + timedelta(seconds=3)
    )
    store.add_turn(
        call_id,
        "caller",
        "il y a un nid de poule",
        started + timedelta(seconds=4),
        started + timedelta(seconds=6),
        asr_confidence=0.82,
        intent="report_problem",
        intent_confidence=0.97,
    )
    store.add_turn(
        call_id, "system", "transfer requested", started + timedelta(seconds=7), started + timedelta(seconds=7)
    )


def test_call_with_turns_handoff_and_report_reads_back(store: Store) -> None:
    record_call(store)
    store.add_handoff(
        "call-1",
        "caller_request",
        "sip:agent@127.0.0.1",
        False,
        {"category": "voirie_nid_de_poule", "danger": True},
        T0 + timedelta(seconds=8),
    )
    report_id = store.save_report("call-1", draft(), created_at=T0 + timedelta(seconds=9))
    store.close_call("call-1", "transfer_failed", T0 + timedelta(seconds=10))

    call = store.get_call("call-1")
    assert call.summary.channel == "sip"
    assert call.summary.outcome == "transfer_failed"
    assert call.summary.started_at == T0 and call.summary.ended_at == T0 + timedelta(seconds=10)
    assert [(t.seq, t.speaker) for t in call.turns] == [(1, "bot"), (2, "caller"), (3, "system")]
    caller_turn = call.turns[1]
    assert (caller_turn.text, caller_turn.asr_confidence, caller_turn.intent, caller_turn.intent_confidence) == (
        "il y a un nid de poule",
        0.82,
        "report_problem",
        0.97,
    )
    assert caller_turn.started_at.tzinfo is not None and caller_turn.started_at.utcoffset() == timedelta(0)
    [handoff] = call.handoffs
    assert (handoff.reason, handoff.target, handoff.succeeded) == ("caller_request", "sip:agent@127.0.0.1", False)
    assert handoff.fields == {"category": "voirie_nid_de_poule", "danger": True}
    [report] = call.reports
    assert report.id == report_id and report.status == "awaiting_validation"
    assert (report.street_number, report.street_name, report.commune, report.landmark) == (
        "12",
        "rue Sainte",
        "Marseille",
        "devant la boulangerie",
    )
    assert report.street_verified is True and report.to_json()["place"]["street_verified"] is True
    assert report.callback_number == "0612345678" and report.callback_consent
    assert store.get_report(report_id) == report
    assert call.to_json()["reports"][0]["place"]["commune"] == "Marseille"


def test_timestamps_in_other_zones_are_stored_as_the_same_instant_in_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    started = datetime(2026, 11, 23, 10, 30, tzinfo=paris)
    store.open_call("zoned", "webrtc", None, started)
    summary = store.get_call("zoned").summary
    assert summary.started_at == T0
    assert summary.started_at.tzinfo == UTC
    assert summary.caller_pseudonym is None


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(InvalidRecord, match="timezone-aware"):
        store.open_call("naive", "sip", None, datetime(2026, 1, 1, 12, 0))


@pytest.mark.parametrize(
    ("field", "value"), [("speaker", "robot"), ("asr_confidence", 1.5), ("intent_confidence", -0.1)]
)
def test_bad_turns_are_refused_with_a_clear_error(store: Store, field: str, value: object) -> None:
    record_call(store)
    arguments: dict[str, object] = {"speaker": "caller", field: value}
    with pytest.raises(InvalidRecord, match=field.split("_")[0]):
        store.add_turn("call-1", text="x", started_at=T0, ended_at=T0, **arguments)  # type: ignore[arg-type]
    assert len(store.get_call("call-1").turns) == 3


def test_bad_channel_and_unknown_call(store: Store) -> None:
    with pytest.raises(InvalidRecord, match="channel"):
        store.open_call("c", "fax", None, T0)
    with pytest.raises(NotFound):
        store.add_turn("nobody", "caller", "allo", T0, T0)
    with pytest.raises(NotFound):
        store.close_call("nobody", "completed", T0)
    with pytest.raises(NotFound):
        store.get_call("nobody")
    with pytest.raises(NotFound):
        store.get_report(999)


def test_open_call_twice_keeps_one_call(store: Store) -> None:
    store.open_call("dup", "sip", "0611111111", T0)
    store.open_call("dup", "sip", "0611111111", T0 + timedelta(minutes=1))
    page = store.list_calls()
    assert page.total == 1 and page.items[0].started_at == T0


def test_a_report_for_a_call_nobody_recorded_is_refused(store: Store) -> None:
    with pytest.raises(NotFound):
        store.save_report("made-up-call-id", draft())
    assert store.list_reports().total == 0 and store.list_calls().total == 0


def test_callback_number_is_dropped_without_consent(store: Store) -> None:
    store.open_call("c", "text", None, T0)
    report_id = store.save_report("c", draft(callback_consent=False, callback_number="0699999999"))
    assert store.get_report(report_id).callback_number is None


def test_report_needs_category_place_and_description(store: Store) -> None:
    store.open_call("c", "text", None, T0)
    for missing in ("category", "place", "description"):
        with pytest.raises(InvalidRecord, match=missing):
            store.save_report("c", draft(**{missing: "  "}))
    assert store.list_reports().total == 0


def test_list_calls_is_paginated_newest_first_and_filtered_by_since(store: Store) -> None:
    for minute in range(7):
        store.open_call(f"call-{minute}", "sip", None, T0 + timedelta(minutes=minute))
    store.add_turn("call-6", "bot", "Bonjour", T0, T0)
    first = store.list_calls(limit=3)
    second = store.list_calls(limit=3, offset=3)
    third = store.list_calls(limit=3, offset=6)
    assert [c.call_id for c in first.items] == ["call-6", "call-5", "call-4"]
    assert [c.call_id for c in second.items] == ["call-3", "call-2", "call-1"]
    assert [c.call_id for c in third.items] == ["call-0"]
    assert first.total == 7 and first.items[0].turn_count == 1 and first.items[1].turn_count == 0
    recent = store.list_calls(since=T0 + timedelta(minutes=5))
    assert [c.call_id for c in recent.items] == ["call-6", "call-5"] and recent.total == 2
    with pytest.raises(InvalidRecord):
        store.list_calls(limit=0)


def test_list_reports_filters_by_status_and_since(store: Store) -> None:
    for i in range(4):
        store.open_call(f"c{i}", "text", None, T0)
    ids = [store.save_report(f"c{i}", draft(), created_at=T0 + timedelta(hours=i)) for i in range(4)]
    store.validate_report(ids[0], "agent.martin", None)
    store.reject_report(ids[1], "agent.martin", "doublon")
    awaiting = store.list_reports(status="awaiting_validation")
    assert [r.id for r in awaiting.items] == [ids[3], ids[2]] and awaiting.total == 2
    assert [r.id for r in store.list_reports(status="rejected").items] == [ids[1]]
    assert [r.id for r in store.list_reports(since=T0 + timedelta(hours=2)).items] == [ids[3], ids[2]]
    assert [r.id for r in store.list_reports(limit=1, offset=1).items] == [ids[2]]
    with pytest.raises(InvalidRecord, match="status"):
        store.list_reports(status="done")


def test_handoff_fields_that_are_not_json_keep_their_text(store: Store) -> None:
    record_call(store)
    store.add_handoff("call-1", "emergency", None, True, {"when": T0}, T0)
    assert store.get_call("call-1").handoffs[0].fields == {"when": str(T0)}


def test_collected_fields_follow_the_dialogue_turn_by_turn(store: Store) -> None:
    store.open_call("c", "sip", None, T0, node="node-a")
    store.update_fields("c", {"category": "voirie"})
    store.update_fields("c", {"category": "voirie", "commune": "Marseille 3e"})
    assert store.get_call("c").collected_fields == {"category": "voirie", "commune": "Marseille 3e"}
    with pytest.raises(NotFound):
        store.update_fields("unknown", {"category": "voirie"})


def test_a_restart_closes_only_its_own_calls_left_open(store: Store) -> None:
    store.open_call("left-open", "sip", None, T0, node="node-a")
    store.open_call("closed", "sip", None, T0, node="node-a")
    store.close_call("closed", "completed", T0 + timedelta(minutes=1))
    store.open_call("other-node", "sip", None, T0, node="node-b")
    store.open_call("after-start", "sip", None, T0 + timedelta(hours=2), node="node-a")
    restart = T0 + timedelta(hours=1)
    assert store.close_interrupted_calls("node-a", restart, restart) == 1
    assert store.get_call("left-open").summary.outcome == "interrupted"
    assert store.get_call("left-open").summary.ended_at == restart
    assert store.get_call("closed").summary.outcome == "completed"
    assert store.get_call("other-node").summary.outcome is None
    assert store.get_call("after-start").summary.outcome is None
