"""What people decide, each decision with its audit entry: reports validated, corrected then validated, or
rejected by a supervisor; call-back requests worked by an agent.

Every decision names the version of the record the person saw. If someone else changed it since, the decision
raises Conflict and changes nothing (two supervisors on one report: the second is told, nobody is overwritten).
Audit entries are only ever added: this module has no way to change or delete one, and the retention purge only
blanks the personal values in them (callback numbers) when it erases the report's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from signalements.checks import check_aware, check_required, check_text
from signalements.errors import Conflict, InvalidRecord, InvalidTransition, NotFound
from signalements.models import (
    CALLBACK_STATUSES,
    STATUS_AWAITING,
    STATUS_REJECTED,
    STATUS_VALIDATED,
    AuditEntry,
    CallbackRequest,
    Report,
)
from signalements.store import NON_HUMAN_REVIEWERS, Store
from signalements.views import ReportView
from signalements.webhooks import enqueue, report_decided

Decision = Literal["validate", "correct", "reject"]

# What a supervisor may correct, with each value's limit; booleans are given as bool.
TEXT_FIELDS = {
    "category": 64,
    "category_other_words": 10_000,
    "place": 10_000,
    "street_number": 32,
    "street_name": 255,
    "commune": 128,
    "landmark": 10_000,
    "description": 10_000,
    "callback_number": 32,
}
REQUIRED_FIELDS = {"category", "place", "description"}
FLAG_FIELDS = ("danger", "callback_consent", "street_verified")
PERSONAL_FIELDS = ("callback_number",)  # blanked in the audit trail when the report's own is erased
REDACTED = "[effacé]"


@dataclass(frozen=True)
class AuditView:
    id: int
    at: datetime
    actor: str
    action: str
    changes: dict[str, list[Any]]
    note: str | None

    @classmethod
    def of(cls, row: AuditEntry) -> AuditView:
        return cls(row.id, row.at, row.actor, row.action, dict(row.changes), row.note)


@dataclass(frozen=True)
class CallbackView:
    id: int
    call_id: str
    requested_at: datetime
    reason: str
    number: str | None
    status: str
    note: str | None
    handled_by: str | None
    handled_at: datetime | None
    version: int

    @classmethod
    def of(cls, row: CallbackRequest, call_public_id: str) -> CallbackView:
        return cls(
            row.id,
            call_public_id,
            row.requested_at,
            row.reason,
            row.number,
            row.status,
            row.note,
            row.handled_by,
            row.handled_at,
            row.version,
        )


def check_person(actor: str) -> str:
    name = check_required("reviewer", actor, 64)
    if name.lower() in NON_HUMAN_REVIEWERS:
        raise InvalidRecord(f"reviewer {name!r} is not a person: a human validates reports")
    return name


def checked_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The corrected values, each checked as the store checks a new report's."""
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name in TEXT_FIELDS:
            checked[name] = check_text(name, value, TEXT_FIELDS[name], required=name in REQUIRED_FIELDS)
        elif name in FLAG_FIELDS:
            if not isinstance(value, bool) and not (name == "street_verified" and value is None):
                raise InvalidRecord(f"{name} must be true or false")
            checked[name] = value
        else:
            raise InvalidRecord(f"{name} is not a report field that can be corrected")
    return checked


class Decisions:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -- reports -------------------------------------------------------------------------------------------

    def decide(
        self,
        report_id: int,
        decision: Decision,
        actor: str,
        *,
        version: int | None,
        changes: dict[str, Any] | None = None,
        note: str | None = None,
        at: datetime,
    ) -> ReportView:
        """Validate, correct then validate, or reject a report awaiting validation.

        `version`: the one the person saw (None only for the integrators' API, which has no form to go stale).
        A correction that changes nothing is recorded as a plain validation.
        """
        who = check_person(actor)
        when = check_aware("at", at)
        note_text = check_text("note", note, 10_000, required=False)
        if decision == "reject" and note_text is None:
            raise InvalidRecord("a rejection needs a note saying why")
        if decision not in ("validate", "correct", "reject"):
            raise InvalidRecord(f"unknown decision {decision!r}")
        corrected = checked_changes(changes or {}) if decision == "correct" else {}
        with self._store.writing() as session:
            row = session.get(Report, report_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no report {report_id}")
            if version is not None and row.version != version:
                raise Conflict(self._stale_message(session, report_id, row))
            if row.status != STATUS_AWAITING:
                new_status = STATUS_REJECTED if decision == "reject" else STATUS_VALIDATED
                raise InvalidTransition(
                    f"report {report_id} is already {row.status}; only a report "
                    f"awaiting validation can become {new_status}"
                )
            if not corrected.get("callback_consent", row.callback_consent):
                # No number without consent, whoever edits (before the diff: it shows the number that was kept).
                corrected["callback_number"] = None
            diff = {
                name: [getattr(row, name), value] for name, value in corrected.items() if getattr(row, name) != value
            }
            for name, (_, value) in diff.items():
                setattr(row, name, value)
            action = "rejected" if decision == "reject" else ("corrected" if diff else "validated")
            row.status = STATUS_REJECTED if decision == "reject" else STATUS_VALIDATED
            row.reviewed_by, row.reviewed_at, row.review_note = who, when, note_text
            row.version += 1
            session.add(
                AuditEntry(at=when, actor=who, action=action, report_id=report_id, changes=diff, note=note_text)
            )
            event = "report.rejected" if decision == "reject" else "report.validated"
            enqueue(session, event, report_decided(row, row.call.public_id, action), when)  # same transaction
            return ReportView.of(row, row.call.public_id)

    @staticmethod
    def _stale_message(session: Session, report_id: int, row: Report) -> str:
        last = session.scalar(
            select(AuditEntry).where(AuditEntry.report_id == report_id).order_by(AuditEntry.id.desc()).limit(1)
        )
        if last is None:
            return f"report {report_id} changed since you read it"
        return f"report {report_id} was {last.action} by {last.actor} at {last.at.isoformat()} since you read it"

    def audit(self, report_id: int) -> list[AuditView]:
        with self._store.reading() as session:
            rows = session.scalars(select(AuditEntry).where(AuditEntry.report_id == report_id).order_by(AuditEntry.id))
            return [AuditView.of(row) for row in rows]

    # -- call-back requests --------------------------------------------------------------------------------

    def callbacks(self, *, status: str | None = "pending", limit: int = 200) -> list[CallbackView]:
        """Call-back requests, oldest first (the queue is worked in the order callers asked)."""
        from signalements.models import Call

        query = select(CallbackRequest, Call.public_id).join(Call)
        if status is not None:
            if status not in CALLBACK_STATUSES:
                raise InvalidRecord(f"status must be one of {', '.join(CALLBACK_STATUSES)}")
            query = query.where(CallbackRequest.status == status)
        with self._store.reading() as session:
            rows = session.execute(
                query.order_by(CallbackRequest.requested_at, CallbackRequest.id).limit(max(1, min(limit, 1000)))
            )
            return [CallbackView.of(row, public_id) for row, public_id in rows]

    def close_callback(
        self, callback_id: int, status: str, actor: str, *, version: int, note: str | None, at: datetime
    ) -> CallbackView:
        """An agent's outcome for a call back: "done" or "no_answer" (a no-answer may be tried again later:
        it stays listed under its status)."""
        if status not in ("done", "no_answer"):
            raise InvalidRecord("a call back is either done or no_answer")
        who, when = check_person(actor), check_aware("at", at)
        note_text = check_text("note", note, 10_000, required=False)
        with self._store.writing() as session:
            row = session.get(CallbackRequest, callback_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no call-back request {callback_id}")
            if row.version != version:
                raise Conflict(f"call-back {callback_id} was marked {row.status} by {row.handled_by} since you read it")
            changes = {"status": [row.status, status]}
            row.status, row.note, row.handled_by, row.handled_at = status, note_text, who, when
            row.version += 1
            session.add(
                AuditEntry(
                    at=when,
                    actor=who,
                    action=f"callback_{status}",
                    callback_id=callback_id,
                    changes=changes,
                    note=note_text,
                )
            )
            return CallbackView.of(row, row.call.public_id)
