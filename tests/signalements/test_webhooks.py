"""Webhooks in the store: events queued in the transaction that makes them (none for a change rolled back),
minimal payloads, subscriptions checked, claims exclusive between instances, the retry schedule, dead letters
and their retry, the delivery log, retention. SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

import signalements.store as store_module
import signalements.webhooks
from signalements import InvalidRecord, InvalidTransition, NotFound, ReportDraft, Store
from signalements.decisions import Decisions
from signalements.models import WEBHOOK_EVENTS, Report, WebhookDelivery
from signalements.webhooks import RETRY_SCHEDULE_S, Webhooks, body_of, check_url
from tests.signalements.conftest import PSEUDONYM_KEY, T0

CALLBACK_NUMBER = "0612345678"
CALLER_NUMBER = "+33491234567"
DESCRIPTION = "un gros trou devant chez Mme Martin"
DRAFT = ReportDraft(
    category="voirie_nid_de_poule",
    place="12 rue de la République",
    description=DESCRIPTION,
    danger=True,
    callback_consent=True,
    callback_number=CALLBACK_NUMBER,
    commune="Marseille 2e",
)
URL = "https://gmao.example.org/hooks/callbot"


def open_call(store: Store, call_id: str = "call-1") -> None:
    store.open_call(call_id, "sip", CALLER_NUMBER, T0)


def rows(store: Store) -> list[WebhookDelivery]:
    with store.reading() as session:
        found = list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        session.expunge_all()  # read as they are now, after the transaction
        return found


def data_of(row: WebhookDelivery) -> dict[str, Any]:
    data: dict[str, Any] = row.payload["data"]
    return data


@pytest.fixture
def webhooks(store: Store) -> Webhooks:
    return Webhooks(store, jitter=0)


# -- subscriptions ------------------------------------------------------------------------------------------


def test_a_subscription_gets_a_secret_shown_once(webhooks: Webhooks) -> None:
    created = webhooks.add(URL, ["report.validated", "call.handoff", "report.validated"], now=T0)
    assert created.secret.startswith("whsec_")
    assert len(base64.b64decode(created.secret.removeprefix("whsec_"), validate=True)) >= 24
    assert created.subscription.events == ("report.validated", "call.handoff")
    other = webhooks.add(URL, ["report.created"], now=T0)
    assert other.secret != created.secret
    listed = webhooks.subscriptions()
    assert [s.id for s in listed] == [created.subscription.id, other.subscription.id]
    assert created.secret not in repr(listed)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://gmao.example.org/x", "http"),
        ("javascript:alert(1)", "http"),
        ("https://user:pass@gmao.example.org/x", "credentials"),
        ("https://token@gmao.example.org/x", "credentials"),
        ("https:///nohost", "host"),
        ("https://gmao.example.org:99999/x", "not valid"),
        ("https://gmao.example.org/x y", "spaces"),
        ("https://gmao.example.org/x#frag", "fragment"),
        ("", "1 to"),
        ("https://x.org/" + "a" * 2000, "1 to"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(webhooks: Webhooks, url: str, why: str) -> None:
    with pytest.raises(InvalidRecord, match=why):
        webhooks.add(url, ["report.created"], now=T0)
    assert webhooks.subscriptions() == []


def test_good_urls_pass() -> None:
    assert check_url(" http://127.0.0.1:8080/hook?token=abc ") == "http://127.0.0.1:8080/hook?token=abc"
    assert check_url("https://[::1]/hook") == "https://[::1]/hook"


@pytest.mark.parametrize("events", [[], ["report.deleted"], ["report.created", "*"], [""]])
def test_unknown_events_are_refused(webhooks: Webhooks, events: list[str]) -> None:
    with pytest.raises(InvalidRecord, match="event"):
        webhooks.add(URL, events, now=T0)


def test_the_url_shown_hides_the_query(webhooks: Webhooks) -> None:
    webhooks.add(URL + "?token=s3cret", ["report.created"], now=T0)
    assert webhooks.subscriptions()[0].shown_url == URL + "?…"


# -- events: in the same transaction, with minimal data -----------------------------------------------------


def test_each_event_is_queued_for_the_subscriptions_that_want_it(store: Store, webhooks: Webhooks) -> None:
    everything = webhooks.add(URL, WEBHOOK_EVENTS, now=T0).subscription.id
    decided_only = webhooks.add(URL + "/2", ["report.validated", "report.rejected"], now=T0).subscription.id
    disabled = webhooks.add(URL + "/3", WEBHOOK_EVENTS, now=T0).subscription.id
    webhooks.disable(disabled, now=T0)
    open_call(store)
    first = store.save_report("call-1", DRAFT, created_at=T0 + timedelta(minutes=1))
    second = store.save_report("call-1", DRAFT, created_at=T0 + timedelta(minutes=2))
    decisions = Decisions(store)
    decisions.decide(
        first, "correct", "m.durand", version=1, changes={"commune": "Marseille 3e"}, at=T0 + timedelta(hours=1)
    )
    decisions.decide(
        second, "reject", "m.durand", version=1, note="doublon signalé par M. Martin", at=T0 + timedelta(hours=2)
    )
    store.add_handoff("call-1", "emergency", "sip:agents@pbx", True, {"callback_number": CALLBACK_NUMBER}, T0)
    callback_id = store.request_callback("call-1", "outside_hours", CALLBACK_NUMBER, T0 + timedelta(minutes=3))

    queued = rows(store)
    assert [(r.subscription_id, r.event_type) for r in queued] == [
        (everything, "report.created"),
        (everything, "report.created"),
        (everything, "report.validated"),
        (decided_only, "report.validated"),
        (everything, "report.rejected"),
        (decided_only, "report.rejected"),
        (everything, "call.handoff"),
        (everything, "callback.requested"),
    ]
    assert all(r.status == "pending" and r.attempts == 0 for r in queued)
    assert len({r.message_id for r in queued}) == len(queued)
    created, validated, rejected = data_of(queued[0]), data_of(queued[2]), data_of(queued[4])
    assert queued[0].payload["type"] == "report.created"
    assert queued[0].payload["timestamp"] == "2026-11-23T09:31:00Z"
    assert created == {
        "report_id": first,
        "call_id": "call-1",
        "category": "voirie_nid_de_poule",
        "commune": "Marseille 2e",
        "danger": True,
        "status": "awaiting_validation",
        "created_at": "2026-11-23T09:31:00Z",
    }
    assert validated["decision"] == "corrected" and validated["commune"] == "Marseille 3e"
    assert validated["status"] == "validated" and validated["decided_at"] == "2026-11-23T10:30:00Z"
    assert rejected["status"] == "rejected" and rejected["decision"] == "rejected"
    assert data_of(queued[6]) == {
        "handoff_id": 1,
        "call_id": "call-1",
        "reason": "emergency",
        "succeeded": True,
        "at": "2026-11-23T09:30:00Z",
    }
    assert data_of(queued[7])["callback_id"] == callback_id
    assert data_of(queued[7])["reason"] == "outside_hours"
    # Nothing personal: no number, nothing said, no pseudonym, no supervisor's note, no agent's target.
    pseudonym = store.pseudonymise(CALLER_NUMBER)
    assert pseudonym
    for row in queued:
        body = body_of(row.payload).decode()
        for personal in (CALLBACK_NUMBER, "Martin", "République", pseudonym, "m.durand", "sip:agents"):
            assert personal not in body, (row.event_type, personal)


def test_no_subscription_no_delivery(store: Store) -> None:
    open_call(store)
    store.save_report("call-1", DRAFT, created_at=T0)
    assert rows(store) == []


def test_a_report_rolled_back_makes_no_delivery(
    store: Store, webhooks: Webhooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    webhooks.add(URL, ["report.created"], now=T0)
    open_call(store)
    real_enqueue = signalements.webhooks.enqueue
    queued: list[int] = []

    def enqueue_then_fail(session: Any, *args: Any) -> int:
        queued.append(real_enqueue(session, *args))  # queued in the report's transaction...
        raise RuntimeError("the database went away before the commit")  # ...which then fails

    monkeypatch.setattr(store_module, "enqueue", enqueue_then_fail)
    with pytest.raises(RuntimeError):
        store.save_report("call-1", DRAFT, created_at=T0)
    assert queued == [1]
    with store.reading() as session:
        assert session.scalars(select(Report)).all() == []
    assert rows(store) == []

    monkeypatch.setattr(store_module, "enqueue", real_enqueue)
    store.save_report("call-1", DRAFT, created_at=T0)
    assert [r.event_type for r in rows(store)] == ["report.created"]


def test_a_refused_decision_or_an_unknown_call_makes_no_delivery(store: Store, webhooks: Webhooks) -> None:
    webhooks.add(URL, WEBHOOK_EVENTS, now=T0)
    with pytest.raises(NotFound):
        store.save_report("nobody", DRAFT, created_at=T0)
    with pytest.raises(NotFound):
        store.add_handoff("nobody", "dtmf", None, False, {}, T0)
    open_call(store)
    report_id = store.save_report("call-1", DRAFT, created_at=T0)
    decisions = Decisions(store)
    decisions.decide(report_id, "validate", "m.durand", version=1, at=T0)
    with pytest.raises(InvalidTransition):
        decisions.decide(report_id, "reject", "l.petit", version=None, note="non", at=T0)
    assert [r.event_type for r in rows(store)] == ["report.created", "report.validated"]


# -- the queue ------------------------------------------------------------------------------------------------


def queue_one(store: Store, webhooks: Webhooks, call_id: str = "call-1") -> None:
    open_call(store, call_id)
    store.add_handoff(call_id, "dtmf", None, True, {}, T0)


def test_claims_lease_the_rows(store: Store, webhooks: Webhooks) -> None:
    webhooks.add(URL, ["call.handoff"], now=T0)
    queue_one(store, webhooks)
    now = T0 + timedelta(seconds=1)
    [due] = webhooks.claim_due(now, 10)
    assert due.url == URL and due.event_type == "call.handoff" and due.attempts == 0
    assert json.loads(due.body)["data"]["reason"] == "dtmf"
    assert due.lease_until == now + timedelta(seconds=webhooks.lease_s)
    assert webhooks.claim_due(now, 10) == []  # leased
    assert webhooks.claim_due(due.lease_until - timedelta(seconds=1), 10) == []
    # The attempt never reported back (its process was killed): the lease runs out, the row is due again.
    [again] = webhooks.claim_due(due.lease_until, 10)
    assert again.message_id == due.message_id and again.body == due.body
    # The first attempt's late failure no longer owns the row; the second's outcome counts.
    assert webhooks.failed(due, at=due.lease_until, status_code=500, error="HTTP 500") is None
    webhooks.delivered(again, at=again.lease_until, status_code=204)
    [row] = rows(store)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 204)


def test_the_retry_schedule_then_dead_then_retried_by_hand(store: Store) -> None:
    webhooks = Webhooks(store, schedule=(10, 30, 120), jitter=0)
    webhooks.add(URL, ["call.handoff"], now=T0)
    queue_one(store, webhooks)
    now = T0
    waits = []
    for attempt in range(1, 5):
        [due] = webhooks.claim_due(now, 1)
        assert due.attempts == attempt - 1
        outcome = webhooks.failed(due, at=now, status_code=503, error="HTTP 503")
        assert outcome is not None and outcome.attempts == attempt
        if attempt < 4:
            assert outcome.status == "pending"
            waits.append((outcome.next_attempt_at - now).total_seconds())
            assert webhooks.claim_due(outcome.next_attempt_at - timedelta(microseconds=1), 1) == []
            now = outcome.next_attempt_at
    assert waits == [10, 30, 120]
    assert outcome is not None and outcome.status == "dead" and outcome.last_error == "HTTP 503"
    assert webhooks.claim_due(now + timedelta(days=1), 1) == []
    [dead] = webhooks.dead()
    assert dead.id == outcome.id

    retried = webhooks.retry(dead.id, now=now + timedelta(hours=1))
    assert retried.status == "pending" and retried.next_attempt_at == now + timedelta(hours=1)
    with pytest.raises(InvalidTransition):
        webhooks.retry(dead.id, now=now)
    [due] = webhooks.claim_due(now + timedelta(hours=1), 1)
    webhooks.delivered(due, at=now + timedelta(hours=1), status_code=200)
    assert webhooks.dead() == []
    assert webhooks.get(dead.id).status == "delivered" and webhooks.get(dead.id).attempts == 5
    with pytest.raises(NotFound):
        webhooks.retry(9999, now=now)


def test_the_default_schedule_and_its_jitter(store: Store) -> None:
    assert RETRY_SCHEDULE_S == (10, 30, 120, 600, 3600, 6 * 3600)
    webhooks = Webhooks(store)
    assert webhooks.max_attempts == 7
    for failures, wait in enumerate(RETRY_SCHEDULE_S, start=1):
        drawn = [webhooks.backoff(failures) for _ in range(50)]
        assert all(wait <= d <= wait * 1.1 for d in drawn)
        assert len(set(drawn)) > 1  # spread, not all at once


def test_a_released_attempt_is_due_again_at_once_without_counting(store: Store, webhooks: Webhooks) -> None:
    webhooks.add(URL, ["call.handoff"], now=T0)
    queue_one(store, webhooks)
    [due] = webhooks.claim_due(T0, 1)
    assert webhooks.release(due, now=T0 + timedelta(seconds=2))
    assert not webhooks.release(due, now=T0 + timedelta(seconds=2))  # no longer its row
    [again] = webhooks.claim_due(T0 + timedelta(seconds=2), 1)
    assert again.attempts == 0 and again.message_id == due.message_id


def test_disabling_a_subscription_gives_up_its_messages(store: Store, webhooks: Webhooks) -> None:
    kept = webhooks.add(URL, ["call.handoff"], now=T0).subscription.id
    dropped = webhooks.add(URL + "/old", ["call.handoff"], now=T0).subscription.id
    queue_one(store, webhooks)
    webhooks.disable(dropped, now=T0)
    [due] = webhooks.claim_due(T0, 10)
    assert due.subscription_id == kept
    [dead] = webhooks.dead()
    assert dead.subscription_id == dropped and dead.last_error == "subscription disabled"
    with pytest.raises(InvalidTransition, match="disabled"):
        webhooks.retry(dead.id, now=T0)
    with pytest.raises(NotFound):
        webhooks.disable(9999, now=T0)


def test_the_delivery_log_newest_first_by_subscription(store: Store, webhooks: Webhooks) -> None:
    first = webhooks.add(URL, ["callback.requested"], now=T0).subscription.id
    second = webhooks.add(URL + "/2", ["callback.requested"], now=T0).subscription.id
    open_call(store)
    for minute in range(3):
        store.request_callback("call-1", "outside_hours", None, T0 + timedelta(minutes=minute))
    log = webhooks.deliveries(subscription_id=first)
    assert [d.subscription_id for d in log] == [first] * 3
    assert [d.created_at for d in log] == [T0 + timedelta(minutes=m) for m in (2, 1, 0)]
    assert len(webhooks.deliveries()) == 6 and len(webhooks.deliveries(limit=2)) == 2
    assert webhooks.deliveries(subscription_id=second, status="delivered") == []
    with pytest.raises(InvalidRecord):
        webhooks.deliveries(status="lost")
    counts = {s.id: (s.pending, s.delivered, s.dead) for s in webhooks.subscriptions()}
    assert counts == {first: (3, 0, 0), second: (3, 0, 0)}


def test_retention_deletes_delivered_messages_only(store: Store, webhooks: Webhooks) -> None:
    webhooks.add(URL, ["callback.requested"], now=T0)
    open_call(store)
    for minute in range(3):
        store.request_callback("call-1", "outside_hours", None, T0 + timedelta(minutes=minute))
    delivered, dead, _pending = webhooks.claim_due(T0 + timedelta(minutes=5), 3)
    webhooks.delivered(delivered, at=T0, status_code=200)
    Webhooks(store, schedule=()).failed(dead, at=T0, status_code=None, error="timeout")
    store.purge_expired(T0 + timedelta(days=89), 90, 365)
    assert len(rows(store)) == 3
    store.purge_expired(T0 + timedelta(days=91), 90, 365)
    assert sorted(r.status for r in rows(store)) == ["dead", "pending"]


def test_two_instances_never_claim_the_same_message(db_url: str) -> None:
    """Four claimers on their own Store each (two callbot instances' worth), 60 messages: each claimed once."""
    setup = Store(db_url, PSEUDONYM_KEY)
    setup.migrate()
    Webhooks(setup).add(URL, ["call.handoff"], now=T0)
    open_call(setup)
    for n in range(60):
        setup.add_handoff("call-1", "dtmf", None, True, {}, T0 + timedelta(seconds=n))
    claimed: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def claimer() -> None:
        store = Store(db_url, PSEUDONYM_KEY, busy_timeout_s=30)
        try:
            webhooks = Webhooks(store)
            while got := webhooks.claim_due(T0 + timedelta(minutes=5), 3):
                with lock:
                    claimed.extend(d.message_id for d in got)
        except BaseException as error:
            errors.append(error)
        finally:
            store.close()

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    setup.close()
    assert errors == []
    assert len(claimed) == 60 and len(set(claimed)) == 60
