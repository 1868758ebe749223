"""Read-side records returned by the Store, detached from the ORM, each with its JSON form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from signalements.models import Call, Handoff, Report, Turn


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class ReportDraft:
    """What the dialogue collected; `Store.save_report` turns it into a report awaiting validation."""

    category: str
    place: str
    description: str
    danger: bool
    callback_consent: bool
    callback_number: str | None = None  # kept only when callback_consent is true
    street_number: str | None = None
    street_name: str | None = None
    commune: str | None = None
    landmark: str | None = None
    category_other_words: str | None = None
    street_verified: bool | None = None  # found in the street base (None: no base, or no street)


@dataclass(frozen=True)
class TurnView:
    seq: int
    speaker: str
    text: str
    started_at: datetime
    ended_at: datetime
    asr_confidence: float | None
    intent: str | None
    intent_confidence: float | None
    words: list[tuple[str, float]] | None = None  # the recogniser's words and their confidences

    @classmethod
    def of(cls, row: Turn) -> TurnView:
        return cls(
            row.seq,
            row.speaker,
            row.text,
            row.started_at,
            row.ended_at,
            row.asr_confidence,
            row.intent,
            row.intent_confidence,
            [(str(word), float(confidence)) for word, confidence in row.words] if row.words else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "speaker": self.speaker,
            "text": self.text,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "asr_confidence": self.asr_confidence,
            "intent": self.intent,
            "intent_confidence": self.intent_confidence,
            "words": [list(pair) for pair in self.words] if self.words is not None else None,
        }


@dataclass(frozen=True)
class HandoffView:
    id: int
    at: datetime
    reason: str
    target: str | None
    succeeded: bool
    fields: dict[str, Any]

    @classmethod
    def of(cls, row: Handoff) -> HandoffView:
        return cls(row.id, row.at, row.reason, row.target, row.succeeded, dict(row.fields))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": _iso(self.at),
            "reason": self.reason,
            "target": self.target,
            "succeeded": self.succeeded,
            "fields": self.fields,
        }


@dataclass(frozen=True)
class ReportView:
    id: int
    call_id: str
    status: str
    category: str
    category_other_words: str | None
    place: str
    street_number: str | None
    street_name: str | None
    street_verified: bool | None
    commune: str | None
    landmark: str | None
    description: str
    danger: bool
    callback_consent: bool
    callback_number: str | None
    created_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None
    version: int = 1  # a change names the version it was made on (a stale one is a conflict)

    @classmethod
    def of(cls, row: Report, call_public_id: str) -> ReportView:
        return cls(
            row.id,
            call_public_id,
            row.status,
            row.category,
            row.category_other_words,
            row.place,
            row.street_number,
            row.street_name,
            row.street_verified,
            row.commune,
            row.landmark,
            row.description,
            row.danger,
            row.callback_consent,
            row.callback_number,
            row.created_at,
            row.reviewed_by,
            row.reviewed_at,
            row.review_note,
            row.version,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "call_id": self.call_id,
            "status": self.status,
            "category": self.category,
            "category_other_words": self.category_other_words,
            "place": {
                "text": self.place,
                "street_number": self.street_number,
                "street_name": self.street_name,
                "street_verified": self.street_verified,
                "commune": self.commune,
                "landmark": self.landmark,
            },
            "description": self.description,
            "danger": self.danger,
            "callback": {"consent": self.callback_consent, "number": self.callback_number},
            "created_at": _iso(self.created_at),
            "review": {"by": self.reviewed_by, "at": _iso(self.reviewed_at), "note": self.review_note},
            "version": self.version,
        }


@dataclass(frozen=True)
class CallSummary:
    call_id: str
    channel: str
    caller_pseudonym: str | None
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    turn_count: int
    report_count: int
    handoff_count: int
    cpu_seconds: float | None = None
    reply_latencies_ms: list[int] | None = None
    mean_asr_confidence: float | None = None

    @classmethod
    def of(cls, row: Call, turn_count: int, report_count: int, handoff_count: int) -> CallSummary:
        return cls(
            row.public_id,
            row.channel,
            row.caller_pseudonym,
            row.started_at,
            row.ended_at,
            row.outcome,
            turn_count,
            report_count,
            handoff_count,
            row.cpu_seconds,
            list(row.reply_latencies_ms) if row.reply_latencies_ms is not None else None,
            row.mean_asr_confidence,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "channel": self.channel,
            "caller_pseudonym": self.caller_pseudonym,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "outcome": self.outcome,
            "turn_count": self.turn_count,
            "report_count": self.report_count,
            "handoff_count": self.handoff_count,
            "cpu_seconds": self.cpu_seconds,
            "reply_latencies_ms": self.reply_latencies_ms,
            "mean_asr_confidence": self.mean_asr_confidence,
        }


@dataclass(frozen=True)
class CallDetail:
    summary: CallSummary
    turns: list[TurnView]
    handoffs: list[HandoffView]
    reports: list[ReportView]
    collected_fields: dict[str, Any] | None = None  # the report as far as the dialogue got

    def to_json(self) -> dict[str, Any]:
        return {
            **self.summary.to_json(),
            "collected_fields": self.collected_fields,
            "turns": [t.to_json() for t in self.turns],
            "handoffs": [h.to_json() for h in self.handoffs],
            "reports": [r.to_json() for r in self.reports],
        }


ItemT = TypeVar("ItemT", CallSummary, ReportView)


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    items: list[ItemT]
    total: int  # matching rows, all pages together
    limit: int
    offset: int
    # When rows follow this page: the key (time, row id) of its last item, where the next page starts
    next_after: tuple[datetime, int] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "items": [item.to_json() for item in self.items],
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
        }


@dataclass(frozen=True)
class PurgeResult:
    turns_deleted: int = 0
    handoff_fields_cleared: int = 0
    callback_numbers_cleared: int = 0
    caller_pseudonyms_cleared: int = 0
    audit_values_redacted: int = 0
    audit_entries_deleted: int = 0
    sessions_deleted: int = 0
