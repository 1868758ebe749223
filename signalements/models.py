"""ORM models: calls, their turns, the reports (signalements) and the hand-offs to a human.

Every timestamp is timezone-aware UTC in Python (stored as timestamptz on PostgreSQL, as UTC text on SQLite).
Enumerations are strings with CHECK constraints, so adding a value is a simple migration on both engines.
Any schema change here needs an Alembic revision in signalements/migrations/versions (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

CHANNELS = ("sip", "webrtc", "text")
SPEAKERS = ("caller", "bot", "system")
STATUS_AWAITING = "awaiting_validation"
STATUS_VALIDATED = "validated"
STATUS_REJECTED = "rejected"
REPORT_STATUSES = (STATUS_AWAITING, STATUS_VALIDATED, STATUS_REJECTED)
ROLES = ("superviseur", "agent", "admin")
CALLBACK_STATUSES = ("pending", "done", "no_answer")
DELIVERY_STATUSES = ("pending", "delivered", "dead")
WEBHOOK_EVENTS = (
    "report.created",
    "report.validated",
    "report.rejected",
    "call.handoff",
    "callback.requested",
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes only; converted to UTC on the way in, returned as UTC on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to the store: pass a timezone-aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite keeps no zone: what we wrote was UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), dict[str, Any]: JSON()}


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint(_in_list("channel", CHANNELS), name="channel"),
        Index("ix_calls_started_at_id", "started_at", "id"),
        Index("ix_calls_outcome_started_at", "outcome", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(128), unique=True)  # our call id (also Rasa's sender id)
    channel: Mapped[str] = mapped_column(String(16))
    caller_pseudonym: Mapped[str | None] = mapped_column(String(64))  # HMAC-SHA256 hex, never the number
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    node: Mapped[str | None] = mapped_column(String(64))  # the callbot instance that took the call
    # the report fields as the dialogue collected them, turn by turn (what a crash mid-call must not lose)
    collected_fields: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # measured by the session, written when the call closes (the dashboard's figures)
    cpu_seconds: Mapped[float | None] = mapped_column(Float)  # the server's and its children's share
    reply_latencies_ms: Mapped[list[int] | None] = mapped_column(JSON)  # end of caller speech -> bot's first sound
    mean_asr_confidence: Mapped[float | None] = mapped_column(Float)  # over the caller's recognised turns

    turns: Mapped[list[Turn]] = relationship(
        back_populates="call", order_by="Turn.seq", cascade="all, delete-orphan", passive_deletes=True
    )
    reports: Mapped[list[Report]] = relationship(
        back_populates="call", order_by="Report.id", cascade="all, delete-orphan", passive_deletes=True
    )
    handoffs: Mapped[list[Handoff]] = relationship(
        back_populates="call", order_by="Handoff.id", cascade="all, delete-orphan", passive_deletes=True
    )


class Turn(Base):
    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("call_id", "seq"),
        CheckConstraint(_in_list("speaker", SPEAKERS), name="speaker"),
        Index("ix_turns_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    seq: Mapped[int]  # 1, 2, 3... within the call, in the order written
    speaker: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    asr_confidence: Mapped[float | None] = mapped_column(Float)
    intent: Mapped[str | None] = mapped_column(String(64))
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    # the recogniser's words with their confidences, [[word, confidence], ...] (supervisors see the doubtful ones)
    words: Mapped[list[Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]

    call: Mapped[Call] = relationship(back_populates="turns")


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint(_in_list("status", REPORT_STATUSES), name="status"),
        CheckConstraint("callback_number IS NULL OR callback_consent", name="callback_needs_consent"),
        Index("ix_reports_status_created_at", "status", "created_at"),
        Index("ix_reports_created_at", "created_at"),
        Index("ix_reports_call_id", "call_id"),
        Index("ix_reports_category", "category"),  # the queue's filter choices (DISTINCT) and filters
        Index("ix_reports_commune", "commune"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(64))
    category_other_words: Mapped[str | None] = mapped_column(Text)
    place: Mapped[str] = mapped_column(Text)
    street_number: Mapped[str | None] = mapped_column(String(32))
    street_name: Mapped[str | None] = mapped_column(String(255))
    street_verified: Mapped[bool | None] = mapped_column(Boolean)  # found in the street base; None: not checked
    commune: Mapped[str | None] = mapped_column(String(128))
    landmark: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    danger: Mapped[bool] = mapped_column(Boolean)
    callback_consent: Mapped[bool] = mapped_column(Boolean)
    callback_number: Mapped[str | None] = mapped_column(String(32))  # in clear, only with consent
    status: Mapped[str] = mapped_column(String(24), default=STATUS_AWAITING)
    created_at: Mapped[datetime]
    reviewed_by: Mapped[str | None] = mapped_column(String(128))
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(Text)
    # bumped by every change: a supervisor's action names the version they saw, a stale one is a conflict
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    call: Mapped[Call] = relationship(back_populates="reports")


class Handoff(Base):
    __tablename__ = "handoffs"
    __table_args__ = (Index("ix_handoffs_call_id", "call_id"), Index("ix_handoffs_at", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(String(255))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    fields: Mapped[dict[str, Any]]  # what the dialogue had collected, for the human agent

    call: Mapped[Call] = relationship(back_populates="handoffs")


class Street(Base):
    """A street of the Base Adresse Nationale in one commune (for Marseille, one arrondissement).

    Written only by `signalements.streets.import_ban_csv`, read by the dialogue's street matcher.
    """

    __tablename__ = "streets"
    __table_args__ = (
        UniqueConstraint("insee_code", "name"),
        Index("ix_streets_commune", "commune"),
        Index("ix_streets_phonetic_key", "phonetic_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune: Mapped[str] = mapped_column(String(128))  # the gazetteer's official name, "Marseille 1er" in Marseille
    postcode: Mapped[str] = mapped_column(String(5))
    insee_code: Mapped[str] = mapped_column(String(5))
    name: Mapped[str] = mapped_column(String(255))  # BAN nom_voie, as written there
    folded_name: Mapped[str] = mapped_column(String(255))  # lower case, no accents: for lookups
    phonetic_key: Mapped[str] = mapped_column(String(255))
    numbers: Mapped[str] = mapped_column(Text)  # house numbers with their rep, sorted: "1 3 5 12bis"
    lat: Mapped[float | None] = mapped_column(Float)  # mean of the addresses' positions
    lon: Mapped[float | None] = mapped_column(Float)


class Account(Base):
    """A named person who uses the console (passwords hashed with argon2id, never stored in clear)."""

    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint(_in_list("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # wrong passwords since the last good one
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A login: the browser holds the token, the store only its SHA-256 (a stolen database opens nothing)."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]  # the earlier of the absolute and the idle limit, moved on by each request

    account: Mapped[Account] = relationship()


class AuditEntry(Base):
    """Who did what to a report, when, and what changed. Written once, never updated (the store has no method
    for it); outlives the report's personal data, whose values are blanked here when the report's are."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_report_id", "report_id"), Index("ix_audit_entries_at", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))  # the account's name at the time
    action: Mapped[str] = mapped_column(String(32))  # validated, corrected, rejected, callback_done...
    report_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: the entry outlives the report
    callback_id: Mapped[int | None] = mapped_column(Integer)
    changes: Mapped[dict[str, Any]]  # {"field": [before, after]}
    note: Mapped[str | None] = mapped_column(Text)


class CallbackRequest(Base):
    """A caller who wanted a person when none could take the call, to be called back by an agent."""

    __tablename__ = "callback_requests"
    __table_args__ = (
        CheckConstraint(_in_list("status", CALLBACK_STATUSES), name="status"),
        Index("ix_callback_requests_status_requested_at", "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    requested_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(32))  # outside_hours, transfer_failed, no_transfer
    number: Mapped[str | None] = mapped_column(String(32))  # given with consent; erased at retention.report_days
    status: Mapped[str] = mapped_column(String(16), default="pending")
    note: Mapped[str | None] = mapped_column(Text)
    handled_by: Mapped[str | None] = mapped_column(String(64))
    handled_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    call: Mapped[Call] = relationship()


class ApiKey(Base):
    """An integrator's key for the JSON API and Open311; the store keeps only its SHA-256."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # the integrator, e.g. "gmao-voirie"
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class WebhookSubscription(Base):
    """An integrator's URL that receives signed POSTs for some events (Standard Webhooks)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)  # among WEBHOOK_EVENTS
    secret: Mapped[str] = mapped_column(String(128))  # "whsec_" + base64: needed in clear to sign
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event for one subscription: written in the same transaction as what it reports (nothing lost),
    delivered with retries and backoff, dead after the last attempt (shown in the console)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in_list("status", DELIVERY_STATUSES), name="status"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_subscription_id", "subscription_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(64), unique=True)  # webhook-id: the receiver's dedup key
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]

    subscription: Mapped[WebhookSubscription] = relationship()
