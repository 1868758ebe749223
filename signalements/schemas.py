"""The JSON API's shapes as pydantic models: the handlers serialise through them, validate request bodies with
them, and the OpenAPI document (callbot.web.openapi) is generated from them. One source of truth.

Responses are built from the Store's views (`Report.from_view(view)`), keeping the field names and shapes the
integrators already read (see signalements.api). Timestamps are ISO 8601 with the UTC offset written out
("2026-11-23T18:09:40.024612+00:00"), as `datetime.isoformat` writes them.

Errors are RFC 9457 problem details (`Problem`), served as application/problem+json; the `error` member repeats
`detail` for the clients written before problem+json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from signalements.http_input import BIGINT_MAX, query_datetime, query_int
from signalements.views import CallDetail as CallDetailView
from signalements.views import CallSummary as CallSummaryView
from signalements.views import HandoffView, Page, ReportView, TurnView

PROBLEM_CONTENT_TYPE = "application/problem+json"

Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-23T18:09:40.024612+00:00"]}),
]
ReportStatus = Literal["awaiting_validation", "validated", "rejected"]
Channel = Literal["sip", "webrtc", "text"]
Speaker = Literal["caller", "bot", "system"]


class Response(BaseModel):
    """A response body: every field is always present (null when unknown)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True, frozen=True)


class Place(Response):
    text: str = Field(description="the place as the caller said it")
    street_number: str | None
    street_name: str | None
    street_verified: bool | None = Field(description="found in the street base; null: no base, or no street")
    commune: str | None
    landmark: str | None


class Callback(Response):
    consent: bool = Field(description="the caller agreed to be called back")
    number: str | None = Field(description="the number to call back, only with consent")


class Review(Response):
    by: str | None = Field(description="the person who decided")
    at: Timestamp | None
    note: str | None


class Report(Response):
    """A report (signalement) the bot took, and a person's decision on it."""

    id: int
    call_id: str
    status: ReportStatus
    category: str
    category_other_words: str | None = Field(description="the caller's words when no category fitted")
    place: Place
    description: str
    danger: bool
    callback: Callback
    created_at: Timestamp
    review: Review
    version: int = Field(description="incremented by each change")

    @classmethod
    def from_view(cls, view: ReportView) -> Report:
        return cls(
            id=view.id,
            call_id=view.call_id,
            status=view.status,  # type: ignore[arg-type]  # checked by the model
            category=view.category,
            category_other_words=view.category_other_words,
            place=Place(
                text=view.place,
                street_number=view.street_number,
                street_name=view.street_name,
                street_verified=view.street_verified,
                commune=view.commune,
                landmark=view.landmark,
            ),
            description=view.description,
            danger=view.danger,
            callback=Callback(consent=view.callback_consent, number=view.callback_number),
            created_at=view.created_at,
            review=Review(by=view.reviewed_by, at=view.reviewed_at, note=view.review_note),
            version=view.version,
        )


class Turn(Response):
    """One utterance of a call: the caller's (as recognised), the bot's, or a system note."""

    seq: int
    speaker: Speaker
    text: str
    started_at: Timestamp
    ended_at: Timestamp
    asr_confidence: float | None
    intent: str | None
    intent_confidence: float | None
    words: list[tuple[str, float]] | None = Field(description="the recogniser's [word, confidence] pairs")

    @classmethod
    def from_view(cls, view: TurnView) -> Turn:
        return cls(
            seq=view.seq,
            speaker=view.speaker,  # type: ignore[arg-type]
            text=view.text,
            started_at=view.started_at,
            ended_at=view.ended_at,
            asr_confidence=view.asr_confidence,
            intent=view.intent,
            intent_confidence=view.intent_confidence,
            words=view.words,
        )


class Handoff(Response):
    """A transfer to the agents (or its attempt), with what the dialogue had collected."""

    id: int
    at: Timestamp
    reason: str
    target: str | None
    succeeded: bool
    fields: dict[str, Any]

    @classmethod
    def from_view(cls, view: HandoffView) -> Handoff:
        return cls(
            id=view.id, at=view.at, reason=view.reason, target=view.target, succeeded=view.succeeded, fields=view.fields
        )


class CallSummary(Response):
    """A call (or a chat: channel "text") without its content."""

    call_id: str
    channel: Channel
    caller_pseudonym: str | None = Field(description="a keyed hash of the caller's number (hex), never the number")
    started_at: Timestamp
    ended_at: Timestamp | None
    outcome: str | None
    turn_count: int
    report_count: int
    handoff_count: int
    cpu_seconds: float | None
    reply_latencies_ms: list[int] | None
    mean_asr_confidence: float | None

    @classmethod
    def from_view(cls, view: CallSummaryView) -> CallSummary:
        return cls(**_summary_fields(view))


def _summary_fields(view: CallSummaryView) -> dict[str, Any]:
    return {
        "call_id": view.call_id,
        "channel": view.channel,
        "caller_pseudonym": view.caller_pseudonym,
        "started_at": view.started_at,
        "ended_at": view.ended_at,
        "outcome": view.outcome,
        "turn_count": view.turn_count,
        "report_count": view.report_count,
        "handoff_count": view.handoff_count,
        "cpu_seconds": view.cpu_seconds,
        "reply_latencies_ms": view.reply_latencies_ms,
        "mean_asr_confidence": view.mean_asr_confidence,
    }


class CallDetail(CallSummary):
    """A call with its turns, handoffs and reports."""

    collected_fields: dict[str, Any] | None = Field(description="the report as far as the dialogue got")
    turns: list[Turn]
    handoffs: list[Handoff]
    reports: list[Report]

    @classmethod
    def from_detail(cls, view: CallDetailView) -> CallDetail:
        return cls(
            **_summary_fields(view.summary),
            collected_fields=view.collected_fields,
            turns=[Turn.from_view(t) for t in view.turns],
            handoffs=[Handoff.from_view(h) for h in view.handoffs],
            reports=[Report.from_view(r) for r in view.reports],
        )


class PageInfo(Response):
    total: int = Field(description="matching rows, all pages together")
    limit: int
    offset: int = Field(description="deprecated: page with next_cursor instead")
    next_cursor: str | None = Field(
        description="pass it as `cursor` to read the next page; null on the last page (opaque: do not parse it)"
    )


class CallPage(PageInfo):
    """Calls, newest first."""

    items: list[CallSummary]


class ReportPage(PageInfo):
    """Reports, newest first."""

    items: list[Report]


def call_page(page: Page[CallSummaryView], next_cursor: str | None) -> CallPage:
    items = [CallSummary.from_view(item) for item in page.items]
    return CallPage(items=items, total=page.total, limit=page.limit, offset=page.offset, next_cursor=next_cursor)


def report_page(page: Page[ReportView], next_cursor: str | None) -> ReportPage:
    items = [Report.from_view(item) for item in page.items]
    return ReportPage(items=items, total=page.total, limit=page.limit, offset=page.offset, next_cursor=next_cursor)


class ReviewBody(BaseModel):
    """A person's decision on a report. `note` is required to reject. With a console session, the reviewer is
    the logged-in person whatever `reviewer` says."""

    model_config = ConfigDict(strict=True, extra="ignore")

    reviewer: str | None = Field(default=None, description="the person deciding (required with the bearer token)")
    note: str | None = Field(default=None, description="why; required to reject")


class Health(Response):
    ready: bool
    components: dict[str, bool] = Field(description="each component's readiness (database, asr, tts, dialogue, sip)")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="about:blank: the status says it all")
    title: str = Field(description="the status's reason phrase")
    status: int
    detail: str = Field(description="what was wrong, for a person")
    error: str = Field(description="the same text as detail (kept for clients written before problem+json)")
    request_id: str | None = Field(default=None, description="on 500s: quote it to the operators, who log it")


def problem(status: int, detail: str, **extensions: Any) -> Problem:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    return Problem(title=title, status=status, detail=detail, error=detail, **extensions)


def problem_json(status: int, detail: str, **extensions: Any) -> str:
    return problem(status, detail, **extensions).model_dump_json(exclude_none=True)


# -- operations: what the OpenAPI document says of each route, next to the handlers --------------------------


@dataclass(frozen=True)
class Param:
    """A documented parameter (query, path or header); `schema` is its JSON Schema."""

    name: str
    where: Literal["query", "path", "header", "cookie"]
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False
    deprecated: bool = False
    example: str | None = None  # also what the route test puts in a path

    def openapi(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name,
            "in": self.where,
            "description": self.description,
            "required": self.required or self.where == "path",
            "schema": self.schema,
        }
        if self.deprecated:
            doc["deprecated"] = True
        if self.example is not None:
            doc["example"] = self.example
        return doc


@dataclass(frozen=True)
class IntQuery(Param):
    """An integer query parameter, read with the bounds it documents."""

    default: int = 0
    minimum: int = 0
    maximum: int = BIGINT_MAX

    def __post_init__(self) -> None:
        schema = {"type": "integer", "minimum": self.minimum, "maximum": self.maximum, "default": self.default}
        object.__setattr__(self, "schema", schema)

    def read(self, request: web.Request) -> int:
        return query_int(request, self.name, default=self.default, minimum=self.minimum, maximum=self.maximum)


@dataclass(frozen=True)
class DatetimeQuery(Param):
    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", {"type": "string", "format": "date-time"})

    def read(self, request: web.Request) -> datetime | None:
        return query_datetime(request, self.name)


@dataclass(frozen=True)
class Body:
    """A documented body: a pydantic model (JSON) or a raw schema with its media type."""

    description: str
    model: type[BaseModel] | None = None
    schema: dict[str, Any] | None = None
    media_type: str = "application/json"


@dataclass(frozen=True)
class Operation:
    """One method on one path, as the OpenAPI document shows it. `path` is an OpenAPI template
    ("/api/reports/{report_id}"); `errors` are the problem+json statuses it may answer; `security` names the
    schemes that open it (none: public; "" among them: optional)."""

    method: str
    path: str
    summary: str
    tag: str
    responses: dict[int, Body]
    parameters: tuple[Param, ...] = ()
    request: Body | None = None
    errors: tuple[int, ...] = ()
    security: tuple[str, ...] = ()
    description: str = ""
    etag: bool = False  # answers If-None-Match with 304
    operation_id: str | None = None
