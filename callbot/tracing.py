"""OpenTelemetry traces of the caller turns: where the time between the caller's words and the bot's answer goes.

One trace per caller turn, its root span `turn` (call id, channel, turn index, outcome) and one child per stage:
`asr` (the recognition of the turn), `dialogue` (a Rasa round trip), `tts` (a message synthesised, with the time
to its first audio). There is no span for the whole call: a span is exported only once it ends, so a call span
would show up in Jaeger or Tempo only after the caller hung up, and the whole call would be one huge trace where
a slow turn is hard to find. Each turn is a short trace of its own instead, and carries the call id (search
`callbot.call_id=…` to list a call's turns) and a link to the call's previous turn.

No personal data goes into a span: our own random call id, never the caller's number; counts and timings, never
what was said (nor exception messages, which may quote it).

Exported over OTLP/HTTP (protobuf) in batches, from the SDK's own thread, when `tracing.otlp_endpoint` is set;
otherwise every span is the API's no-op one: nothing is recorded, no thread runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from importlib import metadata
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Span, SpanContext, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from asr.transcript import Transcript
from callbot.config import TracingSettings
from dialogue.client import DialogueReply

log = logging.getLogger(__name__)

# A collector that is down or slow must cost a call nothing: spans leave from the SDK's thread, and an export
# gives up after this long (retries included), dropping its batch.
EXPORT_TIMEOUT_S = 2.0
TRACES_PATH = "/v1/traces"
# The OTLP exporter logs every failed batch; _OneComplaint says it once per outage instead.
EXPORTER_LOGGER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"

CALL_ID = "callbot.call_id"
CHANNEL = "callbot.channel"  # voice or text
TRANSPORT = "callbot.transport"  # sip or webrtc (voice only)
TURN_INDEX = "callbot.turn.index"
OUTCOME = "callbot.turn.outcome"

_tracer: trace.Tracer = trace.NoOpTracer()


def package_version() -> str:
    try:
        return metadata.version("metropole-callbot")
    except metadata.PackageNotFoundError:
        return "unknown"


def traces_url(endpoint: str) -> str:
    """The collector's traces URL from the configured base (http://collector:4318), or that URL itself."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


class Tracing:
    """What `start_tracing` set up; `shutdown` exports what is left (bounded) and turns tracing off."""

    def __init__(self, provider: TracerProvider | None = None, exporter: _OneComplaint | None = None) -> None:
        self._provider = provider
        self._exporter = exporter

    @property
    def enabled(self) -> bool:
        return self._provider is not None

    async def shutdown(self) -> None:
        global _tracer
        if self._provider is None:
            return
        _tracer = trace.NoOpTracer()
        if self._exporter is not None:
            self._exporter.closing = True
        # Blocking (the last batch is sent, EXPORT_TIMEOUT_S at most): off the event loop.
        await asyncio.to_thread(self._provider.shutdown)
        self._provider = None


def start_tracing(settings: TracingSettings, exporter: SpanExporter | None = None) -> Tracing:
    """Spans exported to `settings.otlp_endpoint` (or to `exporter`, for tests); a no-op when neither is given."""
    global _tracer
    if exporter is None:
        if settings.otlp_endpoint is None:
            return Tracing()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        url = traces_url(settings.otlp_endpoint)
        exporter = OTLPSpanExporter(endpoint=url, timeout=EXPORT_TIMEOUT_S)
        logging.getLogger(EXPORTER_LOGGER).setLevel(logging.CRITICAL)
    else:
        url = type(exporter).__name__
    version = package_version()
    resource = Resource.create({SERVICE_NAME: settings.service_name, SERVICE_VERSION: version})
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)  # the server shuts it down, in order
    quiet = _OneComplaint(exporter, url)
    provider.add_span_processor(BatchSpanProcessor(quiet))
    _tracer = provider.get_tracer("callbot", version)
    log.info("tracing: a trace per caller turn, exported to %s", url)
    return Tracing(provider, quiet)


class _OneComplaint(SpanExporter):
    """The exporter, but a collector that stops answering is logged once (and once again when it is back), not
    at every batch; and while the server stops, a collector already found down is not waited for again."""

    def __init__(self, exporter: SpanExporter, where: str) -> None:
        self._exporter = exporter
        self._where = where
        self._failing = False
        self.closing = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.closing and self._failing:
            return SpanExportResult.FAILURE
        try:
            result = self._exporter.export(spans)
        except Exception:  # a bug or an odd failure in the exporter: the spans are lost, nothing else
            result = SpanExportResult.FAILURE
        failing = result is not SpanExportResult.SUCCESS
        if failing and not self._failing:
            log.warning("tracing: cannot export spans to %s; they are dropped until it answers", self._where)
        elif self._failing and not failing:
            log.info("tracing: spans exported to %s again", self._where)
        self._failing = failing
        return result

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def _nanoseconds(at: datetime | None) -> int | None:
    return None if at is None else round(at.timestamp() * 1_000_000) * 1000


class Stage:
    """A stage's span, as the code of that stage sees it."""

    def __init__(self, span: Span) -> None:
        self.span = span
        self._started = time.monotonic()
        self._heard = False

    def set(self, name: str, value: AttributeValue) -> None:
        self.span.set_attribute(name, value)

    def first_audio(self, source: str) -> None:
        """The synthesis queued its first audio on the line (`source`: prepared, cache or stream)."""
        if not self._heard:
            self._heard = True
            self.span.set_attributes(
                {"tts.source": source, "tts.first_audio_ms": round((time.monotonic() - self._started) * 1000)}
            )


class Turn:
    """The trace of one caller turn: the root span `turn`, and its stages as children, which may run in other
    tasks (the speaker's, an answer prepared at a pause). The root ends once its owner is done with it (`end`, or
    leaving `with turn:`) and no stage or queued message holds it any more."""

    def __init__(self, span: Span, started: datetime | None) -> None:
        self.span = span
        self.started = started  # the caller's first word: which turn of the listener this is
        self.outcome: str | None = None  # answered, handoff, ended, dialogue_unavailable, error, cancelled
        self._holds = 1  # the owner's, given back by end()
        self._owned = True
        self.ended = False

    def __enter__(self) -> Turn:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if error is not None and self.outcome is None:
            self.outcome = "cancelled" if isinstance(error, asyncio.CancelledError) else "error"
        self.end()

    def end(self) -> None:
        """The owner is done (the answer is queued): the root ends with the last stage."""
        if self._owned:
            self._owned = False
            self.release()

    def hold(self) -> None:
        self._holds += 1

    def release(self) -> None:
        self._holds -= 1
        if self._holds <= 0:
            self.close("answered")

    def close(self, outcome: str) -> None:
        """End the root now, whatever still holds it (the call is over)."""
        if not self.ended:
            self.ended = True
            self.span.set_attribute(OUTCOME, self.outcome or outcome)
            self.span.end()

    @contextlib.contextmanager
    def stage(self, name: str, attributes: Mapping[str, AttributeValue] | None = None) -> Iterator[Stage]:
        """A child span around one stage; the turn stays open until it ends."""
        span = _tracer.start_span(name, trace.set_span_in_context(self.span), attributes=attributes)
        self.hold()
        try:
            yield Stage(span)
        except asyncio.CancelledError:  # cut short (barge-in, hang-up): not a failure
            span.set_attribute("callbot.cancelled", True)
            raise
        except BaseException as error:
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))  # the type only: messages may quote
            raise
        finally:
            span.end()
            self.release()

    def record(
        self, name: str, start: datetime, end: datetime, attributes: Mapping[str, AttributeValue] | None = None
    ) -> None:
        """A stage that has already happened, timed by whoever did it (the recognition, by the listener)."""
        context = trace.set_span_in_context(self.span)
        span = _tracer.start_span(name, context, attributes=attributes, start_time=_nanoseconds(start))
        span.end(end_time=_nanoseconds(end))


class CallTrace:
    """The turn traces of one call or chat."""

    def __init__(self, call_id: str, channel: str) -> None:
        """`call_id`: our 32-hex id (never the transport's); `channel`: sip, webrtc or text."""
        self.call_id = call_id
        self._attributes: dict[str, AttributeValue] = {CALL_ID: call_id}
        if channel == "text":
            self._attributes[CHANNEL] = "text"
        else:
            self._attributes.update({CHANNEL: "voice", TRANSPORT: channel})
        self._turns = 0
        self._previous: SpanContext | None = None
        self._open: list[Turn] = []

    def turn(self, started: datetime | None = None) -> Turn:
        """A new turn's trace, from `started` (the caller's first word; None: now)."""
        self._turns += 1
        links = [Link(self._previous)] if self._previous is not None else None
        span = _tracer.start_span(
            "turn",
            otel_context.Context(),  # a trace of its own, whatever is current
            attributes={**self._attributes, TURN_INDEX: self._turns},
            links=links,
            start_time=_nanoseconds(started),
        )
        if span.get_span_context().is_valid:
            self._previous = span.get_span_context()
        turn = Turn(span, started)
        self._open = [*(kept for kept in self._open if not kept.ended), turn]
        return turn

    def close(self) -> None:
        """The call is over: the turns still open end now (one never answered, a message never synthesised)."""
        for turn in self._open:
            turn.close("abandoned")
        self._open = []


@contextlib.contextmanager
def stage(turn: Turn | None, name: str, attributes: Mapping[str, AttributeValue] | None = None) -> Iterator[Stage]:
    """`turn.stage(...)`, or nothing traced when there is no turn (the greeting, a reprompt after silence)."""
    if turn is None:
        yield Stage(trace.INVALID_SPAN)
        return
    with turn.stage(name, attributes) as traced:
        yield traced


def release(turn: Turn | None) -> None:
    if turn is not None:
        turn.release()


def recognition(transcript: Transcript) -> dict[str, AttributeValue]:
    """The `asr` span's attributes: how much was heard and how sure the recogniser is, not what it heard."""
    return {
        "asr.audio_seconds": round(transcript.audio_seconds, 3),
        "asr.confidence": round(transcript.confidence, 3),
        "asr.words": len(transcript.text.split()),
    }


def note_reply(traced: Stage, reply: DialogueReply | None) -> None:
    """The `dialogue` span's result: what kind of answer, not its words."""
    if reply is None:
        traced.span.set_status(Status(StatusCode.ERROR, "dialogue unavailable"))
        return
    traced.span.set_attributes(
        {"dialogue.messages": len(reply.texts), "dialogue.expects": reply.expects, "dialogue.hangup": reply.hangup}
    )
    if reply.handoff_reason is not None:
        traced.set("dialogue.handoff", reply.handoff_reason)


def turn_outcome(reply: DialogueReply | None, over: bool) -> str:
    """A turn's outcome: how the bot answered it."""
    if reply is None:
        return "dialogue_unavailable"
    if reply.handoff_reason is not None:
        return "handoff"
    return "ended" if over else "answered"
