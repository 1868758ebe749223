"""The console's reads: the validation queue, the calls, transcript search, the dashboard's figures, exports.

Lists are paged by keyset (the last row's sort key), not by offset: a page costs the same on the thousandth
page as on the first, and rows arriving meanwhile do not shift the next page. Every list has an index behind it
(signalements.models), so a page stays fast with hundreds of thousands of calls (benchmarks/console.py).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, func, or_, select

from signalements.checks import check_aware
from signalements.errors import InvalidRecord
from signalements.models import CHANNELS, REPORT_STATUSES, Call, Handoff, Report, Turn
from signalements.store import Store
from signalements.views import ReportView

MAX_PAGE = 500
OUTCOMES_DONE = (
    "report_saved",
    "transferred",
    "completed",
    "callback_requested",
)  # the caller got what they called for


@dataclass(frozen=True)
class QueueFilter:
    status: str = "awaiting_validation"
    category: str | None = None
    commune: str | None = None
    danger: bool | None = None
    channel: str | None = None


@dataclass(frozen=True)
class QueueItem:
    report: ReportView
    channel: str


@dataclass(frozen=True)
class CallFilter:
    start: datetime | None = None
    end: datetime | None = None
    outcome: str | None = None
    handoff_reason: str | None = None
    channel: str | None = None
    max_confidence: float | None = None  # calls whose mean recognition confidence is below this


@dataclass(frozen=True)
class CallRow:
    call_id: str
    channel: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    mean_asr_confidence: float | None
    report_count: int
    handoff_reasons: list[str]


@dataclass(frozen=True)
class SearchHit:
    call_id: str
    seq: int
    speaker: str
    text: str
    started_at: datetime


@dataclass
class Figures:
    """One period's dashboard figures."""

    calls: int = 0
    reports: int = 0
    validated: int = 0
    rejected: int = 0
    handoffs: dict[str, int] = field(default_factory=dict)
    completed_share: float | None = None  # of the calls that ended
    median_asr_confidence: float | None = None
    latency_p50_ms: int | None = None
    latency_p95_ms: int | None = None
    cpu_seconds_per_call: float | None = None
    calls_measured: int = 0  # calls with a CPU figure


ItemT = TypeVar("ItemT")


@dataclass(frozen=True)
class KeysetPage(Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None  # the key after which the next page starts; None on the last page


def _cursor(at: datetime, row_id: int) -> str:
    return f"{at.isoformat()}~{row_id}"


def _parse_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    at_text, _, id_text = cursor.partition("~")
    try:
        # a row id as this module writes it (int() would also take "1_0", " 7" or a number no column holds)
        if not (id_text.isascii() and id_text.isdigit() and len(id_text) <= 10 and int(id_text) < 2**31):
            raise ValueError(id_text)
        return check_aware("cursor", datetime.fromisoformat(at_text)), int(id_text)
    except (ValueError, OverflowError, InvalidRecord):  # OverflowError: year 1 or 9999 moved to UTC
        raise InvalidRecord("the page cursor is not one this console gave") from None


def _bounded(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRecord(f"limit must be between 1 and {MAX_PAGE}")
    return limit


def percentile(values: list[int], quantile: float) -> int | None:
    """Nearest-rank percentile (the one /metrics uses)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


class ConsoleQueries:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -- reports -------------------------------------------------------------------------------------------

    def queue(self, where: QueueFilter, *, after: str | None = None, limit: int = 50) -> KeysetPage[QueueItem]:
        """Reports of one status with the filters; awaiting ones oldest first (the order they are worked in),
        decided ones newest first."""
        if where.status not in REPORT_STATUSES:
            raise InvalidRecord(f"status must be one of {', '.join(REPORT_STATUSES)}")
        oldest_first = where.status == "awaiting_validation"
        query = select(Report, Call.public_id, Call.channel).join(Call).where(Report.status == where.status)
        if where.category:
            query = query.where(Report.category == where.category)
        if where.commune:
            query = query.where(Report.commune == where.commune)
        if where.danger is not None:
            query = query.where(Report.danger == where.danger)
        if where.channel:
            if where.channel not in CHANNELS:
                raise InvalidRecord(f"channel must be one of {', '.join(CHANNELS)}")
            query = query.where(Call.channel == where.channel)
        key = _parse_cursor(after)
        if key is not None:
            at, row_id = key
            if oldest_first:
                query = query.where(or_(Report.created_at > at, and_(Report.created_at == at, Report.id > row_id)))
            else:
                query = query.where(or_(Report.created_at < at, and_(Report.created_at == at, Report.id < row_id)))
        order = (Report.created_at, Report.id) if oldest_first else (Report.created_at.desc(), Report.id.desc())
        limit = _bounded(limit)
        with self._store.reading() as session:
            rows = list(session.execute(query.order_by(*order).limit(limit + 1)))
            items = [
                QueueItem(ReportView.of(report, public_id), channel) for report, public_id, channel in rows[:limit]
            ]
        last = items[-1].report if len(rows) > limit else None
        return KeysetPage(items, _cursor(last.created_at, last.id) if last else None)

    def awaiting_count(self) -> int:
        with self._store.reading() as session:
            return session.scalar(select(func.count(Report.id)).where(Report.status == "awaiting_validation")) or 0

    def report_choices(self) -> tuple[list[str], list[str]]:
        """The categories and communes that reports carry, for the queue's filters."""
        with self._store.reading() as session:
            categories = session.scalars(select(Report.category).distinct().order_by(Report.category))
            communes = session.scalars(
                select(Report.commune).where(Report.commune.is_not(None)).distinct().order_by(Report.commune)
            )
            return list(categories), [c for c in communes if c]

    # -- calls ---------------------------------------------------------------------------------------------

    def calls(self, where: CallFilter, *, before: str | None = None, limit: int = 50) -> KeysetPage[CallRow]:
        """Calls, newest first, with the filters."""
        query = self._filtered_calls(select(Call), where)
        key = _parse_cursor(before)
        if key is not None:
            at, row_id = key
            query = query.where(or_(Call.started_at < at, and_(Call.started_at == at, Call.id < row_id)))
        limit = _bounded(limit)
        with self._store.reading() as session:
            calls = list(session.scalars(query.order_by(Call.started_at.desc(), Call.id.desc()).limit(limit + 1)))
            page = calls[:limit]
            ids = [call.id for call in page]
            counted = session.execute(
                select(Report.call_id, func.count(Report.id)).where(Report.call_id.in_(ids)).group_by(Report.call_id)
            )
            report_counts: dict[int, int] = {call_id: count for call_id, count in counted}
            reasons: dict[int, list[str]] = {}
            for call_id, reason in session.execute(
                select(Handoff.call_id, Handoff.reason).where(Handoff.call_id.in_(ids)).order_by(Handoff.id)
            ):
                reasons.setdefault(call_id, []).append(reason)
            rows = [
                CallRow(
                    c.public_id,
                    c.channel,
                    c.started_at,
                    c.ended_at,
                    c.outcome,
                    c.mean_asr_confidence,
                    report_counts.get(c.id, 0),
                    reasons.get(c.id, []),
                )
                for c in page
            ]
            last = page[-1] if len(calls) > limit else None
            # inside the session: its rows expire when it ends
            next_cursor = _cursor(last.started_at, last.id) if last else None
        return KeysetPage(rows, next_cursor)

    @staticmethod
    def _filtered_calls(query: Select[Any], where: CallFilter) -> Select[Any]:
        if where.start is not None:
            query = query.where(Call.started_at >= check_aware("start", where.start))
        if where.end is not None:
            query = query.where(Call.started_at < check_aware("end", where.end))
        if where.outcome:
            query = query.where(Call.outcome == where.outcome)
        if where.channel:
            if where.channel not in CHANNELS:
                raise InvalidRecord(f"channel must be one of {', '.join(CHANNELS)}")
            query = query.where(Call.channel == where.channel)
        if where.max_confidence is not None:
            query = query.where(Call.mean_asr_confidence < where.max_confidence)
        if where.handoff_reason:
            query = query.where(
                select(Handoff.id).where(Handoff.call_id == Call.id, Handoff.reason == where.handoff_reason).exists()
            )
        return query

    def outcomes_and_reasons(self) -> tuple[list[str], list[str]]:
        with self._store.reading() as session:
            outcomes = session.scalars(select(Call.outcome).where(Call.outcome.is_not(None)).distinct())
            reasons = session.scalars(select(Handoff.reason).distinct())
            return sorted(o for o in outcomes if o), sorted(reasons)

    def search(self, words: str, *, start: datetime, end: datetime, limit: int = 100) -> list[SearchHit]:
        """Turns said in [start, end) that contain `words` (case-insensitive for A-Z), newest first."""
        term = words.strip()
        if not 2 <= len(term) <= 200:
            raise InvalidRecord("search for 2 to 200 characters")
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped.lower()}%"
        # SQLite's LIKE ignores case as far as its lower() does (ASCII letters): lower() would only cost a call per
        # turn, a third of a 31-day search's time (benchmarks/console.py)
        searched = Turn.text if self._store.backend == "sqlite" else func.lower(Turn.text)
        query = (
            select(Call.public_id, Turn.seq, Turn.speaker, Turn.text, Turn.started_at)
            .join(Call)
            .where(
                Turn.started_at >= check_aware("start", start),
                Turn.started_at < check_aware("end", end),
                searched.like(pattern, escape="\\"),
            )
            .order_by(Turn.started_at.desc())
            .limit(_bounded(limit))
        )
        with self._store.reading() as session:
            return [SearchHit(*row) for row in session.execute(query)]

    # -- the dashboard -------------------------------------------------------------------------------------

    def figures(self, start: datetime, end: datetime) -> Figures:
        """The dashboard's figures for calls and decisions in [start, end)."""
        start, end = check_aware("start", start), check_aware("end", end)
        figures = Figures()
        with self._store.reading() as session:
            calls = session.execute(
                select(  # whether a call ended, not when: parsing a week of timestamps was a fifth of the time
                    Call.outcome,
                    Call.ended_at.is_not(None),
                    Call.mean_asr_confidence,
                    Call.reply_latencies_ms,
                    Call.cpu_seconds,
                ).where(Call.started_at >= start, Call.started_at < end)
            )
            ended = done = 0
            confidences: list[float] = []
            latencies: list[int] = []
            cpu: list[float] = []
            for outcome, call_ended, confidence, call_latencies, cpu_seconds in calls:
                figures.calls += 1
                if call_ended:
                    ended += 1
                    done += outcome in OUTCOMES_DONE
                if confidence is not None:
                    confidences.append(confidence)
                latencies += [int(v) for v in call_latencies or ()]
                if cpu_seconds is not None:
                    cpu.append(cpu_seconds)
            figures.completed_share = done / ended if ended else None
            figures.median_asr_confidence = statistics.median(confidences) if confidences else None
            figures.latency_p50_ms = percentile(latencies, 0.5)
            figures.latency_p95_ms = percentile(latencies, 0.95)
            figures.calls_measured = len(cpu)
            figures.cpu_seconds_per_call = sum(cpu) / len(cpu) if cpu else None
            figures.reports = (
                session.scalar(select(func.count(Report.id)).where(Report.created_at >= start, Report.created_at < end))
                or 0
            )
            decided = Counter(
                session.scalars(select(Report.status).where(Report.reviewed_at >= start, Report.reviewed_at < end))
            )
            figures.validated, figures.rejected = decided["validated"], decided["rejected"]
            by_reason = session.execute(
                select(Handoff.reason, func.count(Handoff.id))
                .where(Handoff.at >= start, Handoff.at < end)
                .group_by(Handoff.reason)
                .order_by(func.count(Handoff.id).desc())
            )
            figures.handoffs = {reason: count for reason, count in by_reason}
        return figures

    def calls_by_hour(self, start: datetime, hours: int = 24) -> list[int]:
        """Calls started in each of the `hours` hours from `start`."""
        start = check_aware("start", start)
        counts = [0] * hours
        with self._store.reading() as session:
            for (started,) in session.execute(
                select(Call.started_at).where(
                    Call.started_at >= start, Call.started_at < start + timedelta(hours=hours)
                )
            ):
                index = int((started - start).total_seconds() // 3600)
                if 0 <= index < hours:
                    counts[index] += 1
        return counts

    # -- exports -------------------------------------------------------------------------------------------

    def export_reports(self, start: datetime, end: datetime, *, with_numbers: bool) -> Iterator[list[Any]]:
        """A header then one row per report created in [start, end), oldest first."""
        yield [
            "id", "appel", "canal", "cree_le", "statut", "categorie", "lieu", "numero", "voie", "voie_verifiee",
            "commune", "repere", "description", "danger", "rappel_accepte", "numero_rappel", "decide_par",
            "decide_le", "note",
        ]  # fmt: skip
        query = (
            select(  # columns, not Report rows: building a month of objects took half the time
                Report.id, Call.public_id, Call.channel, Report.created_at, Report.status, Report.category,
                Report.place, Report.street_number, Report.street_name, Report.street_verified, Report.commune,
                Report.landmark, Report.description, Report.danger, Report.callback_consent, Report.callback_number,
                Report.reviewed_by, Report.reviewed_at, Report.review_note,
            )
            .join(Call)
            .where(Report.created_at >= check_aware("start", start), Report.created_at < check_aware("end", end))
            .order_by(Report.created_at, Report.id)
        )  # fmt: skip
        with self._store.reading() as session:
            for report in session.execute(query.execution_options(yield_per=500)):
                yield [
                    report.id, report.public_id, report.channel, report.created_at.isoformat(), report.status,
                    report.category, report.place, report.street_number, report.street_name, report.street_verified,
                    report.commune, report.landmark, report.description, report.danger, report.callback_consent,
                    report.callback_number if with_numbers else None, report.reviewed_by,
                    report.reviewed_at.isoformat() if report.reviewed_at else None, report.review_note,
                ]  # fmt: skip

    def export_calls(self, start: datetime, end: datetime) -> Iterator[list[Any]]:
        yield [
            "appel", "canal", "debut", "fin", "duree_s", "issue", "tours", "signalements", "transferts",
            "confiance_moyenne", "cpu_s", "latence_p50_ms",
        ]  # fmt: skip
        turns = select(func.count(Turn.id)).where(Turn.call_id == Call.id).correlate(Call).scalar_subquery()
        reports = select(func.count(Report.id)).where(Report.call_id == Call.id).correlate(Call).scalar_subquery()
        handoffs = select(func.count(Handoff.id)).where(Handoff.call_id == Call.id).correlate(Call).scalar_subquery()
        # columns, not Call rows: building 30,000 objects (and decoding their collected fields) took most of the time
        query = (
            select(
                Call.public_id, Call.channel, Call.started_at, Call.ended_at, Call.outcome, turns, reports, handoffs,
                Call.mean_asr_confidence, Call.cpu_seconds, Call.reply_latencies_ms,
            )
            .where(Call.started_at >= check_aware("start", start), Call.started_at < check_aware("end", end))
            .order_by(Call.started_at, Call.id)
        )  # fmt: skip
        with self._store.reading() as session:
            for (
                public_id, channel, started_at, ended_at, outcome, turn_count, report_count, handoff_count,
                confidence, cpu_seconds, latencies,
            ) in session.execute(query.execution_options(yield_per=500)):  # fmt: skip
                duration = (ended_at - started_at).total_seconds() if ended_at else None
                yield [
                    public_id, channel, started_at.isoformat(), ended_at.isoformat() if ended_at else None,
                    round(duration, 1) if duration is not None else None, outcome, turn_count, report_count,
                    handoff_count, confidence, cpu_seconds, percentile(list(latencies or []), 0.5),
                ]  # fmt: skip
