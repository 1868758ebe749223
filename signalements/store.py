"""The Store: every write is its own short transaction; reads feed the JSON API.

Thread-safe (one SQLAlchemy engine, one session per call). Every database failure reaches the caller as a
`StoreError` subclass: `StoreUnavailable` when the database cannot be reached, `InvalidRecord` for bad data,
`NotFound`, `InvalidTransition` for the report workflow.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import String, and_, cast, delete, func, or_, select, text, update
from sqlalchemy.orm import Session, selectinload

from signalements.checks import check_aware, check_confidence, check_required, check_text
from signalements.database import SQLITE_IMMEDIATE, build_engine, describe, normalise_url, translated_errors
from signalements.errors import InvalidRecord, NotFound
from signalements.migrations import alembic_config
from signalements.models import (
    CHANNELS,
    REPORT_STATUSES,
    SPEAKERS,
    STATUS_AWAITING,
    AuditEntry,
    Call,
    CallbackRequest,
    ConsoleSession,
    Handoff,
    Report,
    Turn,
)
from signalements.pseudonym import check_key, pseudonymise
from signalements.views import (
    CallDetail,
    CallSummary,
    HandoffView,
    Page,
    PurgeResult,
    ReportDraft,
    ReportView,
    TurnView,
)
from signalements.webhooks import call_handoff, callback_requested, enqueue, purge_delivered, report_created

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 500
# A report made by the bot waits for a person: these reviewer names are refused.
NON_HUMAN_REVIEWERS = frozenset({"bot", "callbot", "assistant", "rasa", "system", "action_server"})


def _now() -> datetime:
    return datetime.now(UTC)


def _words(words: list[tuple[str, float]] | None) -> list[list[Any]] | None:
    if words is None:
        return None
    checked: list[list[Any]] = []
    for item in words:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)) or item[1] is None:
            raise InvalidRecord("words must be [word, confidence] pairs")  # a None confidence breaks TurnView
        checked.append([item[0][:200], check_confidence("word confidence", item[1])])
    return checked[:2000]


def _json_object(value: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRecord(f"fields must be a dict, got {type(value).__name__}")
    # Slots may hold dates or other objects: keep their text rather than refusing the hand-off.
    normalised: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return normalised


def _page_bounds(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRecord(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    if offset < 0:
        raise InvalidRecord("offset must not be negative")


class Store:
    def __init__(
        self, database_url: str, pseudonym_key: bytes, *, busy_timeout_s: float = 5.0, connect_timeout_s: float = 5.0
    ) -> None:
        self._key = check_key(pseudonym_key)
        self.url = normalise_url(database_url)
        self.backend = self.url.get_backend_name()
        self._where = describe(self.url)
        self._engine = build_engine(self.url, busy_timeout_s, connect_timeout_s)
        self._write_engine = self._engine.execution_options(**{SQLITE_IMMEDIATE: True})

    def __repr__(self) -> str:
        return f"Store({self._where})"

    # -- lifecycle -------------------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the latest Alembic revision (alembic upgrade head)."""
        config = alembic_config()
        with translated_errors(self._where), self._write_engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def ping(self) -> None:
        with translated_errors(self._where), self._engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def close(self) -> None:
        self._engine.dispose()

    def pseudonymise(self, phone_number: str | None) -> str | None:
        return pseudonymise(self._key, phone_number)

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), with the database's errors as StoreErrors; for the
        store's own modules (accounts, review, console queries)."""
        with (
            translated_errors(self._where),
            Session(self._write_engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read transaction, with the database's errors as StoreErrors."""
        with translated_errors(self._where), Session(self._engine) as session, session.begin():
            yield session

    def _call_row(self, session: Session, call_id: str, *, lock: bool = False) -> Call:
        query = select(Call).where(Call.public_id == call_id)
        if lock:
            # Serialises turn numbering on PostgreSQL (SQLite writers already hold BEGIN IMMEDIATE).
            query = query.with_for_update()
        row = session.scalars(query).one_or_none()
        if row is None:
            raise NotFound(f"no call {call_id!r}")
        return row

    # -- writes (the call session and the action server) ---------------------------------------------------

    def open_call(
        self, call_id: str, channel: str, caller_number: str | None, started_at: datetime, node: str | None = None
    ) -> None:
        self.open_call_pseudonymised(call_id, channel, self.pseudonymise(caller_number), started_at, node)

    def open_call_pseudonymised(
        self, call_id: str, channel: str, caller_pseudonym: str | None, started_at: datetime, node: str | None = None
    ) -> None:
        """`open_call` with the number already pseudonymised (StoreWriter spills only this form to disk).

        Idempotent: opening a call that exists (replayed write, report saved first) leaves it as it is,
        except that a missing pseudonym is filled in.
        """
        public_id = check_required("call_id", call_id, 128)
        if channel not in CHANNELS:
            raise InvalidRecord(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}")
        pseudonym = check_text("caller_pseudonym", caller_pseudonym, 64, required=False)
        started = check_aware("started_at", started_at)
        with self.writing() as session:
            existing = session.scalars(select(Call).where(Call.public_id == public_id)).one_or_none()
            if existing is not None:
                if existing.caller_pseudonym is None:
                    existing.caller_pseudonym = pseudonym
                return
            node_name = check_text("node", node, 64, required=False)
            call = Call(public_id=public_id, channel=channel, caller_pseudonym=pseudonym, started_at=started)
            call.node = node_name
            session.add(call)

    def add_turn(
        self,
        call_id: str,
        speaker: str,
        text: str,
        started_at: datetime,
        ended_at: datetime,
        asr_confidence: float | None = None,
        intent: str | None = None,
        intent_confidence: float | None = None,
        words: list[tuple[str, float]] | None = None,
    ) -> None:
        """`words`: the recogniser's words with their confidence (0..1), for the supervisors' transcript.

        Idempotent: a turn identical to one the call has (speaker, text, start and end to the microsecond) is
        not stored again, so that replaying a write that reached the database before a crash adds nothing.
        """
        if speaker not in SPEAKERS:
            raise InvalidRecord(f"speaker must be one of {', '.join(SPEAKERS)}, got {speaker!r}")
        if not isinstance(text, str):
            raise InvalidRecord("text must be a string")
        started, ended = check_aware("started_at", started_at), check_aware("ended_at", ended_at)
        if ended < started:
            raise InvalidRecord("ended_at is before started_at")
        turn = Turn(
            speaker=speaker,
            text=text,
            started_at=started,
            ended_at=ended,
            asr_confidence=check_confidence("asr_confidence", asr_confidence),
            intent=check_text("intent", intent, 64, required=False),
            intent_confidence=check_confidence("intent_confidence", intent_confidence),
            words=_words(words),
        )
        with self.writing() as session:
            call = self._call_row(session, call_id, lock=True)
            same = select(Turn.id).where(
                Turn.call_id == call.id,
                Turn.speaker == turn.speaker,
                Turn.started_at == turn.started_at,
                Turn.ended_at == turn.ended_at,
                Turn.text == turn.text,
            )
            if session.scalar(same.limit(1)) is not None:
                log.info("turn of call %s already stored: not stored twice", call_id)
                return
            last = session.scalar(select(func.coalesce(func.max(Turn.seq), 0)).where(Turn.call_id == call.id))
            turn.call_id, turn.seq = call.id, int(last or 0) + 1
            session.add(turn)

    def close_call(
        self,
        call_id: str,
        outcome: str,
        ended_at: datetime,
        cpu_seconds: float | None = None,
        reply_latencies_ms: list[int] | None = None,
    ) -> None:
        """End the call; with what the session measured: its share of the server's CPU time (energy) and
        each reply's latency (end of the caller's speech to the bot's first sound)."""
        outcome_text = check_required("outcome", outcome, 32)
        ended = check_aware("ended_at", ended_at)
        if cpu_seconds is not None and (
            isinstance(cpu_seconds, bool) or not (isinstance(cpu_seconds, (int, float)) and 0 <= cpu_seconds < 1e7)
        ):
            raise InvalidRecord("cpu_seconds must be a non-negative number")
        latencies = None
        if reply_latencies_ms is not None:
            if not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 3_600_000 for v in reply_latencies_ms
            ):
                raise InvalidRecord("reply_latencies_ms must be whole milliseconds")
            latencies = list(reply_latencies_ms)[:10_000]
        with self.writing() as session:
            call = self._call_row(session, call_id)
            call.outcome, call.ended_at = outcome_text, ended
            call.cpu_seconds = None if cpu_seconds is None else float(cpu_seconds)
            call.reply_latencies_ms = latencies
            call.mean_asr_confidence = session.scalar(
                select(func.avg(Turn.asr_confidence)).where(
                    Turn.call_id == call.id, Turn.speaker == "caller", Turn.asr_confidence.is_not(None)
                )
            )

    def update_fields(self, call_id: str, fields: dict[str, Any]) -> None:
        """The report fields collected so far for this call (replaces the previous ones)."""
        collected = _json_object(fields)
        with self.writing() as session:
            self._call_row(session, call_id).collected_fields = collected

    def close_interrupted_calls(self, node: str, before: datetime, at: datetime) -> int:
        """Close as "interrupted" the calls `node` opened before `before` and never closed (it crashed)."""
        node_name = check_required("node", node, 64)
        cutoff, ended = check_aware("before", before), check_aware("at", at)
        with self.writing() as session:
            query = select(Call).where(Call.node == node_name, Call.ended_at.is_(None), Call.started_at < cutoff)
            calls = list(session.scalars(query))
            for call in calls:
                call.outcome, call.ended_at = "interrupted", max(ended, call.started_at)
            return len(calls)

    def add_handoff(
        self, call_id: str, reason: str, target: str | None, succeeded: bool, fields: dict[str, Any], at: datetime
    ) -> None:
        """Idempotent: a hand-off of the call with the same reason at the same instant is not stored again."""
        handoff = Handoff(
            reason=check_required("reason", reason, 32),
            target=check_text("target", target, 255, required=False),
            succeeded=bool(succeeded),
            fields=_json_object(fields),
            at=check_aware("at", at),
        )
        with self.writing() as session:
            call = self._call_row(session, call_id, lock=True)
            same = select(Handoff.id).where(
                Handoff.call_id == call.id, Handoff.reason == handoff.reason, Handoff.at == handoff.at
            )
            if session.scalar(same.limit(1)) is not None:  # a replayed write: idempotent, no second webhook
                log.info("hand-off of call %s already stored: not stored twice", call_id)
                return
            handoff.call_id = call.id
            session.add(handoff)
            session.flush()
            enqueue(session, "call.handoff", call_handoff(handoff, call.public_id), handoff.at)  # same transaction

    def request_callback(self, call_id: str, reason: str, number: str | None, at: datetime) -> int:
        """A caller who wanted a person and could not have one now asks to be called back (with consent to
        `number`, None if they gave none); it waits in the agents' call-back queue. Returns its id.

        Idempotent: the same request (reason, instant) made again returns the stored one's id."""
        request = CallbackRequest(
            reason=check_required("reason", reason, 32),
            number=check_text("number", number, 32, required=False),
            requested_at=check_aware("at", at),
            status="pending",
        )
        with self.writing() as session:
            call = self._call_row(session, call_id, lock=True)
            same = select(CallbackRequest.id).where(
                CallbackRequest.call_id == call.id,
                CallbackRequest.reason == request.reason,
                CallbackRequest.requested_at == request.requested_at,
            )
            existing = session.scalar(same.limit(1))
            if existing is not None:  # a replayed write: idempotent, no second webhook
                log.info("call-back request of call %s already stored: not stored twice", call_id)
                return int(existing)
            request.call_id = call.id
            session.add(request)
            session.flush()
            enqueue(session, "callback.requested", callback_requested(request, call.public_id), request.requested_at)
            return request.id

    def save_report(self, call_id: str, draft: ReportDraft, *, created_at: datetime | None = None) -> int:
        """Store a report awaiting human validation; returns its id.

        The call must be known (opened by the callbot): a report for a call nobody recorded is refused with
        NotFound, so that whoever reaches the action server cannot make one up. Without callback consent the
        callback number is dropped.
        """
        public_id = check_required("call_id", call_id, 128)
        created = check_aware("created_at", created_at) if created_at is not None else datetime.now(UTC)
        consent = bool(draft.callback_consent)
        number = check_text("callback_number", draft.callback_number, 32, required=False) if consent else None
        report = Report(
            category=check_required("category", draft.category, 64),
            category_other_words=check_text("category_other_words", draft.category_other_words, 10_000, required=False),
            place=check_required("place", draft.place, 10_000),
            street_number=check_text("street_number", draft.street_number, 32, required=False),
            street_name=check_text("street_name", draft.street_name, 255, required=False),
            street_verified=None if draft.street_verified is None else bool(draft.street_verified),
            commune=check_text("commune", draft.commune, 128, required=False),
            landmark=check_text("landmark", draft.landmark, 10_000, required=False),
            description=check_required("description", draft.description, 10_000),
            danger=bool(draft.danger),
            callback_consent=consent,
            callback_number=number,
            status=STATUS_AWAITING,
            created_at=created,
        )
        with self.writing() as session:
            report.call_id = self._call_row(session, public_id).id
            session.add(report)
            session.flush()
            enqueue(session, "report.created", report_created(report, public_id), created)  # same transaction
            return report.id

    # -- report workflow (supervisors) ---------------------------------------------------------------------

    def validate_report(
        self, report_id: int, reviewer: str, note: str | None = None, *, at: datetime | None = None
    ) -> ReportView:
        """The integrators' validation (no version: their API has no form to go stale); see Decisions."""
        from signalements.decisions import Decisions

        return Decisions(self).decide(report_id, "validate", reviewer, version=None, note=note, at=at or _now())

    def reject_report(
        self, report_id: int, reviewer: str, note: str | None = None, *, at: datetime | None = None
    ) -> ReportView:
        from signalements.decisions import Decisions

        return Decisions(self).decide(report_id, "reject", reviewer, version=None, note=note, at=at or _now())

    # -- reads (JSON API) ----------------------------------------------------------------------------------

    def list_calls(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        since: datetime | None = None,
        after: tuple[datetime, int] | None = None,
    ) -> Page[CallSummary]:
        """Calls, newest first; `since` keeps calls started at or after it; `after` (started_at, call row id)
        starts the page after that call (keyset: stable while calls are added)."""
        _page_bounds(limit, offset)
        conditions = [Call.started_at >= check_aware("since", since)] if since is not None else []
        keyset = []
        if after is not None:
            at, row_id = check_aware("cursor", after[0]), after[1]
            keyset.append(or_(Call.started_at < at, and_(Call.started_at == at, Call.id < row_id)))
        counts = [
            select(func.count(model.id)).where(model.call_id == Call.id).correlate(Call).scalar_subquery()
            for model in (Turn, Report, Handoff)
        ]
        with self.reading() as session:
            total = session.scalar(select(func.count(Call.id)).where(*conditions)) or 0
            rows = list(
                session.execute(
                    select(Call, *counts)
                    .where(*conditions, *keyset)
                    .order_by(Call.started_at.desc(), Call.id.desc())
                    .limit(limit + 1)
                    .offset(offset)
                )
            )
            items = [CallSummary.of(call, turns, reports, handoffs) for call, turns, reports, handoffs in rows[:limit]]
            last = rows[limit - 1][0] if len(rows) > limit else None
            next_after = (last.started_at, last.id) if last is not None else None  # read inside the session
        return Page(items, total, limit, offset, next_after)

    def get_call(self, call_id: str) -> CallDetail:
        with self.reading() as session:
            query = (
                select(Call)
                .where(Call.public_id == call_id)
                .options(selectinload(Call.turns), selectinload(Call.reports), selectinload(Call.handoffs))
            )
            call = session.scalars(query).one_or_none()
            if call is None:
                raise NotFound(f"no call {call_id!r}")
            summary = CallSummary.of(call, len(call.turns), len(call.reports), len(call.handoffs))
            return CallDetail(
                summary,
                [TurnView.of(t) for t in call.turns],
                [HandoffView.of(h) for h in call.handoffs],
                [ReportView.of(r, call.public_id) for r in call.reports],
                call.collected_fields,
            )

    def list_reports(
        self,
        *,
        status: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
        after: tuple[datetime, int] | None = None,
    ) -> Page[ReportView]:
        """Reports, newest first, optionally of one status and created at or after `since`; `after`
        (created_at, report id) starts the page after that report."""
        _page_bounds(limit, offset)
        conditions = []
        if status is not None:
            if status not in REPORT_STATUSES:
                raise InvalidRecord(f"status must be one of {', '.join(REPORT_STATUSES)}, got {status!r}")
            conditions.append(Report.status == status)
        if since is not None:
            conditions.append(Report.created_at >= check_aware("since", since))
        keyset = []
        if after is not None:
            at, row_id = check_aware("cursor", after[0]), after[1]
            keyset.append(or_(Report.created_at < at, and_(Report.created_at == at, Report.id < row_id)))
        with self.reading() as session:
            total = session.scalar(select(func.count(Report.id)).where(*conditions)) or 0
            rows = list(
                session.execute(
                    select(Report, Call.public_id)
                    .join(Call)
                    .where(*conditions, *keyset)
                    .order_by(Report.created_at.desc(), Report.id.desc())
                    .limit(limit + 1)
                    .offset(offset)
                )
            )
            items = [ReportView.of(report, public_id) for report, public_id in rows[:limit]]
        last = items[-1] if len(rows) > limit else None
        return Page(items, total, limit, offset, (last.created_at, last.id) if last is not None else None)

    def get_report(self, report_id: int) -> ReportView:
        with self.reading() as session:
            row = session.execute(select(Report, Call.public_id).join(Call).where(Report.id == report_id)).one_or_none()
            if row is None:
                raise NotFound(f"no report {report_id}")
            return ReportView.of(row[0], row[1])

    # -- retention -----------------------------------------------------------------------------------------

    def purge_expired(
        self, now: datetime, transcript_days: int, report_days: int, audit_days: int | None = None
    ) -> PurgeResult:
        """Apply the retention limits.

        Older than `transcript_days`: turns are deleted and hand-off fields emptied (they copy what the caller
        said), delivered webhook messages deleted. Older than `report_days`: reports and call-back requests lose
        their number (the audit trail's copies of it too) and calls their caller pseudonym; the reports themselves
        (the public-space record) stay. Older than `audit_days`: audit entries go. Expired console sessions go at
        once.
        """
        limits = {"transcript_days": transcript_days, "report_days": report_days, "audit_days": audit_days}
        for name, days in limits.items():
            if days is None and name == "audit_days":
                continue
            if isinstance(days, bool) or not isinstance(days, int) or days < 0:
                raise InvalidRecord(f"{name} must be a non-negative number of days")
        reference = check_aware("now", now)
        transcript_cutoff = reference - timedelta(days=transcript_days)
        report_cutoff = reference - timedelta(days=report_days)
        with self.writing() as session:
            turns = session.execute(delete(Turn).where(Turn.started_at < transcript_cutoff))
            handoffs = session.execute(
                update(Handoff)
                .where(Handoff.at < transcript_cutoff, cast(Handoff.fields, String) != "{}")
                .values(fields={})
            )
            reports = session.execute(
                update(Report)
                .where(Report.created_at < report_cutoff, Report.callback_number.is_not(None))
                .values(callback_number=None)
            )
            callbacks = session.execute(
                update(CallbackRequest)
                .where(CallbackRequest.requested_at < report_cutoff, CallbackRequest.number.is_not(None))
                .values(number=None)
            )
            calls = session.execute(
                update(Call)
                .where(Call.started_at < report_cutoff, Call.caller_pseudonym.is_not(None))
                .values(caller_pseudonym=None)
            )
            redacted = self._redact_audit(session, report_cutoff)
            audit_deleted = 0
            if audit_days is not None:
                audit_cutoff = reference - timedelta(days=audit_days)
                audit_deleted = _rowcount(session.execute(delete(AuditEntry).where(AuditEntry.at < audit_cutoff)))
            sessions = session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= reference))
            webhook_deliveries = purge_delivered(session, transcript_cutoff)
            result = PurgeResult(
                turns_deleted=_rowcount(turns),
                handoff_fields_cleared=_rowcount(handoffs),
                callback_numbers_cleared=_rowcount(reports) + _rowcount(callbacks),
                caller_pseudonyms_cleared=_rowcount(calls),
                audit_values_redacted=redacted,
                audit_entries_deleted=audit_deleted,
                sessions_deleted=_rowcount(sessions),
            )
        log.info("retention purge: %s, delivered webhook messages deleted: %d", result, webhook_deliveries)
        return result

    @staticmethod
    def _redact_audit(session: Session, cutoff: datetime) -> int:
        """Blank the personal values (callback numbers) that audit entries copied from records now past
        `report_days`; who decided what, and when, stays."""
        from signalements.decisions import PERSONAL_FIELDS, REDACTED

        old_reports = select(Report.id).where(Report.created_at < cutoff)
        old_callbacks = select(CallbackRequest.id).where(CallbackRequest.requested_at < cutoff)
        entries = session.scalars(
            select(AuditEntry).where(
                (AuditEntry.report_id.in_(old_reports)) | (AuditEntry.callback_id.in_(old_callbacks)),
                or_(*(cast(AuditEntry.changes, String).like(f"%{name}%") for name in PERSONAL_FIELDS)),
            )
        )
        count = 0
        for entry in entries:
            changes = dict(entry.changes)
            for name in PERSONAL_FIELDS:
                if name in changes and any(v not in (None, REDACTED) for v in changes[name]):
                    changes[name] = [None if v is None else REDACTED for v in changes[name]]
                    count += 1
            entry.changes = changes
        return count


def _rowcount(result: Any) -> int:
    count = getattr(result, "rowcount", 0)
    return int(count) if count and count > 0 else 0
