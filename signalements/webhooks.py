"""Webhooks for integrators: subscriptions, and the durable queue of signed POSTs to deliver (Standard Webhooks).

An event is queued by `enqueue`, called inside the store transaction that makes it happen (a report saved,
validated or rejected, a handoff, a call-back request): the delivery rows are committed exactly when the change
is, so no event is lost if the process stops, and none is sent for a change that was rolled back.

    webhooks = Webhooks(store)
    created = webhooks.add("https://gmao.example/hooks", ["report.validated"], now=now)   # created.secret: once
    for due in webhooks.claim_due(now, limit=8):          # callbot.webhooks.WebhookSender does this
        ... POST due.body ...; webhooks.delivered(due, at, 200) or webhooks.failed(due, at, 500, "HTTP 500")

Claiming is safe with several callbot instances on one PostgreSQL: rows are picked with FOR UPDATE SKIP LOCKED
and leased (their `next_attempt_at` moved `lease_s` ahead, longer than an attempt can last) before the
transaction commits, so no other instance takes them; SQLite has one writer at a time. An attempt that never
reports back (a killed process) leaves its lease to expire and the row is attempted again: delivery is at least
once, and receivers deduplicate on `webhook-id` (the message id, the same for every attempt of one message).

Payloads carry ids, types, times, category, commune, status and reasons; never a callback number, what a caller
said, or the caller's pseudonym. Integrators fetch details through the API.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from signalements.checks import check_aware
from signalements.errors import InvalidRecord, InvalidTransition, NotFound
from signalements.models import (
    DELIVERY_STATUSES,
    WEBHOOK_EVENTS,
    CallbackRequest,
    Handoff,
    Report,
    WebhookDelivery,
    WebhookSubscription,
)

if TYPE_CHECKING:
    from signalements.store import Store

log = logging.getLogger(__name__)

# Waits after the 1st, 2nd... failed attempt; after the attempt that follows the last wait fails, the message is
# dead (kept, shown in the console, sent again only when a person asks).
RETRY_SCHEDULE_S: tuple[float, ...] = (10, 30, 120, 600, 3600, 6 * 3600)
JITTER = 0.1  # each wait is lengthened by up to this fraction, so that retries of many messages spread out
LEASE_S = 60.0  # how long a claimed attempt keeps its row (far longer than the sender's HTTP timeout)
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MAX_URL_CHARS = 2000
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class SubscriptionView:
    id: int
    url: str
    events: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None
    pending: int = 0
    delivered: int = 0
    dead: int = 0

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def shown_url(self) -> str:
        """The URL without its query string (which may hold the integrator's own token)."""
        base, question, _ = self.url.partition("?")
        return base + ("?…" if question else "")


@dataclass(frozen=True)
class NewSubscription:
    subscription: SubscriptionView
    secret: str  # shown once to whoever subscribed: the store keeps it to sign, no page or list shows it


@dataclass(frozen=True)
class DeliveryView:
    id: int
    subscription_id: int
    message_id: str
    event_type: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: WebhookDelivery) -> DeliveryView:
        return cls(
            row.id,
            row.subscription_id,
            row.message_id,
            row.event_type,
            row.status,
            row.attempts,
            row.created_at,
            row.next_attempt_at,
            row.last_attempt_at,
            row.last_status_code,
            row.last_error,
            row.delivered_at,
        )


@dataclass(frozen=True)
class DueDelivery:
    """A claimed attempt: what to send where, and the lease that says the row is still this attempt's."""

    id: int
    subscription_id: int
    url: str
    secret: str
    message_id: str
    event_type: str
    body: bytes
    attempts: int  # before this one
    lease_until: datetime


# -- checks -------------------------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def check_url(url: str) -> str:
    """An http(s) URL with a host and without credentials or fragment; refused with InvalidRecord otherwise."""
    if not isinstance(url, str):
        raise InvalidRecord("url must be a string")
    url = url.strip()
    if not url or len(url) > MAX_URL_CHARS:
        raise InvalidRecord(f"url must be 1 to {MAX_URL_CHARS} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise InvalidRecord("url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError as error:
        raise InvalidRecord(f"url is not valid: {error}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidRecord("url must start with http:// or https://")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidRecord("url must not hold credentials (user:password@): the signature authenticates us")
    if not parts.hostname:
        raise InvalidRecord("url must name a host")
    if port == 0:
        raise InvalidRecord("url must not name port 0")
    if parts.fragment or url.endswith("#"):
        raise InvalidRecord("url must not have a fragment (#...)")
    return url


def check_events(events: Iterable[str]) -> list[str]:
    if isinstance(events, str):
        events = events.split(",")
    chosen: list[str] = []
    for event in events:
        name = event.strip() if isinstance(event, str) else event
        if name not in WEBHOOK_EVENTS:
            raise InvalidRecord(f"unknown event {name!r}: choose among {', '.join(WEBHOOK_EVENTS)}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise InvalidRecord(f"name at least one event among {', '.join(WEBHOOK_EVENTS)}")
    return chosen


# -- events: queued inside the transaction that makes them happen -------------------------------------------


def _utc_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def envelope(event_type: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The Standard Webhooks payload: the event type, when it happened, and its data."""
    return {"type": event_type, "timestamp": _utc_text(at), "data": data}


def body_of(payload: dict[str, Any]) -> bytes:
    """The bytes sent (and signed): the same for every attempt of a message."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def enqueue(session: Session, event_type: str, data: dict[str, Any], at: datetime) -> int:
    """Queue the event for every active subscription that wants it, in the caller's transaction. Returns how
    many deliveries were queued (none when nobody subscribed)."""
    if event_type not in WEBHOOK_EVENTS:
        raise InvalidRecord(f"unknown webhook event {event_type!r}")
    when = check_aware("at", at)
    subscriptions = session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.disabled_at.is_(None)).order_by(WebhookSubscription.id)
    )
    wanted = [s for s in subscriptions if event_type in (s.events or [])]
    if not wanted:
        return 0
    payload = envelope(event_type, data, when)
    now = datetime.now(UTC)
    for subscription in wanted:
        session.add(
            WebhookDelivery(
                subscription_id=subscription.id,
                message_id=f"msg_{uuid.uuid4().hex}",
                event_type=event_type,
                payload=payload,
                status="pending",
                attempts=0,
                created_at=when,
                next_attempt_at=min(when, now),
            )
        )
    return len(wanted)


def report_created(report: Report, call_public_id: str) -> dict[str, Any]:
    return {
        "report_id": report.id,
        "call_id": call_public_id,
        "category": report.category,
        "commune": report.commune,
        "danger": report.danger,
        "status": report.status,
        "created_at": _utc_text(report.created_at),
    }


def report_decided(report: Report, call_public_id: str, action: str) -> dict[str, Any]:
    """A person's decision: its kind (validated, corrected, rejected) and when; not the note, which is free
    text and may name someone."""
    assert report.reviewed_at is not None
    return {
        "report_id": report.id,
        "call_id": call_public_id,
        "category": report.category,
        "commune": report.commune,
        "status": report.status,
        "decision": action,
        "decided_at": _utc_text(report.reviewed_at),
        "version": report.version,
    }


def call_handoff(handoff: Handoff, call_public_id: str) -> dict[str, Any]:
    return {
        "handoff_id": handoff.id,
        "call_id": call_public_id,
        "reason": handoff.reason,
        "succeeded": handoff.succeeded,
        "at": _utc_text(handoff.at),
    }


def callback_requested(request: CallbackRequest, call_public_id: str) -> dict[str, Any]:
    return {
        "callback_id": request.id,
        "call_id": call_public_id,
        "reason": request.reason,
        "status": request.status,
        "requested_at": _utc_text(request.requested_at),
    }


def purge_delivered(session: Session, before: datetime) -> int:
    """Retention: delivered messages created before `before` go (pending and dead ones stay: not done yet)."""
    result = session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.status == "delivered", WebhookDelivery.created_at < before)
    )
    count = getattr(result, "rowcount", 0)
    return int(count) if count and count > 0 else 0


# -- subscriptions and the queue ----------------------------------------------------------------------------


class Webhooks:
    """Subscriptions and deliveries over one Store. `schedule`, `jitter` and `lease_s` are for tests."""

    def __init__(
        self,
        store: Store,
        *,
        schedule: Sequence[float] = RETRY_SCHEDULE_S,
        jitter: float = JITTER,
        lease_s: float = LEASE_S,
    ) -> None:
        if not all(s >= 0 for s in schedule) or jitter < 0 or lease_s <= 0:
            raise ValueError("waits, jitter and lease must be positive")
        self._store = store
        self.schedule = tuple(float(s) for s in schedule)
        self.jitter = jitter
        self.lease_s = lease_s

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1

    # subscriptions

    def add(self, url: str, events: Iterable[str], *, now: datetime) -> NewSubscription:
        row = WebhookSubscription(
            url=check_url(url),
            events=check_events(events),
            secret=new_secret(),
            created_at=check_aware("now", now),
            disabled_at=None,
        )
        with self._store.writing() as session:
            session.add(row)
            session.flush()
            view = _subscription_view(row, {})
        log.info("webhook subscription %d added for %s (%s)", view.id, _host(view.url), ", ".join(view.events))
        return NewSubscription(view, row.secret)

    def subscriptions(self) -> list[SubscriptionView]:
        """Every subscription, active first, each with its deliveries counted by status."""
        with self._store.reading() as session:
            counts: dict[int, dict[str, int]] = {}
            for sub_id, status, count in session.execute(
                select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count()).group_by(
                    WebhookDelivery.subscription_id, WebhookDelivery.status
                )
            ):
                counts.setdefault(sub_id, {})[status] = count
            rows = session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))
            views = [_subscription_view(row, counts.get(row.id, {})) for row in rows]
        return sorted(views, key=lambda v: (not v.active, v.id))

    def disable(self, subscription_id: int, *, now: datetime) -> SubscriptionView:
        """No more events for it; its messages not yet delivered are given up (dead, with the reason)."""
        when = check_aware("now", now)
        with self._store.writing() as session:
            row = session.get(WebhookSubscription, subscription_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no webhook subscription {subscription_id}")
            if row.disabled_at is None:
                row.disabled_at = when
                pending = session.scalars(
                    select(WebhookDelivery).where(
                        WebhookDelivery.subscription_id == row.id, WebhookDelivery.status == "pending"
                    )
                )
                for delivery in pending:
                    delivery.status, delivery.last_error = "dead", "subscription disabled"
            view = _subscription_view(row, {})
        log.info("webhook subscription %d disabled", subscription_id)
        return view

    # the queue (the sender's side)

    def claim_due(self, now: datetime, limit: int) -> list[DueDelivery]:
        """Up to `limit` pending messages whose time has come, leased to the caller until now + lease_s."""
        when = check_aware("now", now)
        due_condition = (
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= when,
            WebhookSubscription.disabled_at.is_(None),
        )
        with self._store.reading() as session:  # most polls find nothing: no write transaction for them
            first = select(WebhookDelivery.id).join(WebhookSubscription).where(*due_condition).limit(1)
            if session.scalar(first) is None:
                return []
        lease_until = when + timedelta(seconds=self.lease_s)
        claimed: list[DueDelivery] = []
        with self._store.writing() as session:
            rows = session.execute(
                select(WebhookDelivery, WebhookSubscription.url, WebhookSubscription.secret)
                .join(WebhookSubscription)
                .where(*due_condition)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(max(1, limit))
                .with_for_update(skip_locked=True, of=WebhookDelivery)
            )
            for delivery, url, secret in rows:
                delivery.next_attempt_at = lease_until
                claimed.append(
                    DueDelivery(
                        delivery.id,
                        delivery.subscription_id,
                        url,
                        secret,
                        delivery.message_id,
                        delivery.event_type,
                        body_of(delivery.payload),
                        delivery.attempts,
                        lease_until,
                    )
                )
        return claimed

    def delivered(self, due: DueDelivery, *, at: datetime, status_code: int) -> None:
        """The receiver answered 2xx: done (even if the lease ran out meanwhile: the receiver has it)."""
        when = check_aware("at", at)
        with self._store.writing() as session:
            row = session.get(WebhookDelivery, due.id, with_for_update=True)
            if row is None or row.status == "delivered":
                return
            row.attempts += 1
            row.status, row.delivered_at, row.last_attempt_at = "delivered", when, when
            row.last_status_code, row.last_error = status_code, None

    def failed(self, due: DueDelivery, *, at: datetime, status_code: int | None, error: str) -> DeliveryView | None:
        """The attempt failed: the next one after the schedule's wait (with jitter), or dead after the last.
        None when the row is no longer this attempt's (its lease ran out and another attempt took it)."""
        when = check_aware("at", at)
        with self._store.writing() as session:
            row = session.get(WebhookDelivery, due.id, with_for_update=True)
            if row is None or row.status != "pending" or row.next_attempt_at != due.lease_until:
                return None
            row.attempts += 1
            row.last_attempt_at, row.last_status_code = when, status_code
            row.last_error = (error or "failed")[:MAX_ERROR_CHARS]
            if row.attempts >= self.max_attempts:
                row.status = "dead"
            else:
                row.next_attempt_at = when + timedelta(seconds=self.backoff(row.attempts))
            return DeliveryView.of(row)

    def backoff(self, failures: int) -> float:
        """The wait after `failures` failed attempts (1 = the first), jitter included."""
        wait = self.schedule[min(failures, len(self.schedule)) - 1]
        return wait * (1 + random.uniform(0, self.jitter))

    def release(self, due: DueDelivery, *, now: datetime) -> bool:
        """An attempt given up before it finished (the sender stops): the message is due again at once, with
        no attempt counted. False when the row is no longer this attempt's."""
        when = check_aware("now", now)
        with self._store.writing() as session:
            row = session.get(WebhookDelivery, due.id, with_for_update=True)
            if row is None or row.status != "pending" or row.next_attempt_at != due.lease_until:
                return False
            row.next_attempt_at = when
            return True

    # what people see and do

    def deliveries(
        self, *, subscription_id: int | None = None, status: str | None = None, limit: int = 50
    ) -> list[DeliveryView]:
        """The delivery log, newest first."""
        query = select(WebhookDelivery)
        if subscription_id is not None:
            query = query.where(WebhookDelivery.subscription_id == subscription_id)
        if status is not None:
            if status not in DELIVERY_STATUSES:
                raise InvalidRecord(f"status must be one of {', '.join(DELIVERY_STATUSES)}")
            query = query.where(WebhookDelivery.status == status)
        query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        with self._store.reading() as session:
            return [DeliveryView.of(row) for row in session.scalars(query.limit(max(1, min(limit, 1000))))]

    def dead(self, *, limit: int = 100) -> list[DeliveryView]:
        return self.deliveries(status="dead", limit=limit)

    def get(self, delivery_id: int) -> DeliveryView:
        with self._store.reading() as session:
            row = session.get(WebhookDelivery, delivery_id)
            if row is None:
                raise NotFound(f"no webhook delivery {delivery_id}")
            return DeliveryView.of(row)

    def retry(self, delivery_id: int, *, now: datetime) -> DeliveryView:
        """A dead message gets one more attempt now (dead again if it fails: press again once the receiver is
        fixed). Refused for a message that is not dead or whose subscription is disabled."""
        when = check_aware("now", now)
        with self._store.writing() as session:
            row = session.get(WebhookDelivery, delivery_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no webhook delivery {delivery_id}")
            if row.status != "dead":
                raise InvalidTransition(f"webhook delivery {delivery_id} is {row.status}: only a dead one is retried")
            if row.subscription.disabled_at is not None:
                raise InvalidTransition(f"the subscription of webhook delivery {delivery_id} is disabled")
            row.status, row.next_attempt_at = "pending", when
            view = DeliveryView.of(row)
        log.info("webhook delivery %d (%s) queued again by hand", delivery_id, view.message_id)
        return view


def _subscription_view(row: WebhookSubscription, counts: dict[str, int]) -> SubscriptionView:
    return SubscriptionView(
        row.id,
        row.url,
        tuple(row.events or ()),
        row.created_at,
        row.disabled_at,
        counts.get("pending", 0),
        counts.get("delivered", 0),
        counts.get("dead", 0),
    )


def _host(url: str) -> str:
    return urlsplit(url).hostname or "?"
