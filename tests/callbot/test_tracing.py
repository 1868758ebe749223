"""Traces of the caller turns: what a real server sends to a real OTLP/HTTP receiver, for a text chat and a phone call,
and that a collector that is down costs the conversation nothing.

The receiver decodes what it gets with the OTLP protobuf messages (as a collector would), so the span tree, the
resource and every attribute are checked as Jaeger or Tempo would see them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from callbot import tracing
from callbot.config import TracingSettings, load_settings
from callbot.speaker import Speaker
from tests.callbot.test_speaker import PacedAudio
from tests.support.callbot_process import CallbotProcess
from tests.support.sip_peers import free_port
from tts.fake import FakeSynthesizer

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def settings(endpoint: str | None = None) -> TracingSettings:
    return load_settings(environ={}).tracing.model_copy(update={"otlp_endpoint": endpoint, "service_name": "test"})


# ---- the helper, with the SDK's in-memory exporter ----------------------------------------------------------


async def test_without_an_endpoint_nothing_is_recorded_and_no_thread_runs() -> None:
    before = {thread.name for thread in threading.enumerate()}
    started = tracing.start_tracing(settings(None))
    assert not started.enabled
    turn = tracing.CallTrace("0" * 32, "sip").turn()
    with turn, turn.stage("dialogue") as traced:
        traced.set("dialogue.messages", 1)
    assert not turn.span.is_recording() and not turn.span.get_span_context().is_valid
    assert {thread.name for thread in threading.enumerate()} == before
    await started.shutdown()


def test_the_endpoint_is_the_collector_base_or_its_traces_url() -> None:
    assert tracing.traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert tracing.traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert tracing.traces_url("https://otel.example/v1/traces") == "https://otel.example/v1/traces"


async def test_the_turn_ends_with_the_last_message_synthesised_for_it() -> None:
    exporter = InMemorySpanExporter()
    started = tracing.start_tracing(settings(), exporter)
    try:
        audio, tts = PacedAudio(), FakeSynthesizer(seconds_per_char=0.01, chunk_delay=0.2)
        speaker = Speaker(audio, tts, lambda text: asyncio.sleep(0), lambda error: None)
        speaker.start()
        call = tracing.CallTrace("a" * 32, "webrtc")
        with call.turn(datetime.now(UTC) - timedelta(seconds=2)) as turn:
            turn.record("asr", datetime.now(UTC) - timedelta(seconds=2), datetime.now(UTC))
            with turn.stage("dialogue"):
                await asyncio.sleep(0.01)
            speaker.say("Une première phrase de la réponse.", turn=turn)
            speaker.say("Et une seconde.", turn=turn)
            turn.outcome = "answered"
        assert not turn.ended, "the root waits for the messages queued for it"
        await asyncio.wait_for(speaker.wait_done(), 10)
        assert turn.ended
        second = call.turn()
        speaker.say("Un message coupé par le correspondant.", turn=second)
        speaker.say("Et celui qui attendait derrière.", turn=second)
        second.end()
        await asyncio.sleep(0.05)
        speaker.interrupt()  # barge-in: the message under way is cut, the next one dropped
        await asyncio.sleep(0.05)
        assert second.ended
        await speaker.close()
    finally:
        await started.shutdown()
    spans = exporter.get_finished_spans()
    roots = [span for span in spans if span.name == "turn"]
    assert len(roots) == 2
    first, cut = roots
    children = [span for span in spans if span.parent is not None and span.parent.span_id == first.context.span_id]
    assert [span.name for span in children] == ["asr", "dialogue", "tts", "tts"]
    assert all(span.context.trace_id == first.context.trace_id for span in children)
    assert first.end_time is not None and first.end_time >= max(span.end_time or 0 for span in children)
    assert first.attributes is not None and first.attributes[tracing.CHANNEL] == "voice"
    assert first.attributes[tracing.TRANSPORT] == "webrtc" and first.attributes[tracing.OUTCOME] == "answered"
    tts_spans = [span for span in children if span.name == "tts"]
    assert all(span.attributes and span.attributes["tts.first_audio_ms"] >= 0 for span in tts_spans)
    assert cut.context.trace_id != first.context.trace_id  # a trace per turn
    assert [link.context.span_id for link in cut.links] == [first.context.span_id]  # the call's previous turn
    cut_tts = [span for span in spans if span.parent is not None and span.parent.span_id == cut.context.span_id]
    assert len(cut_tts) == 1 and cut_tts[0].attributes and cut_tts[0].attributes["callbot.cancelled"] is True


async def test_a_turn_left_open_ends_with_the_call() -> None:
    exporter = InMemorySpanExporter()
    started = tracing.start_tracing(settings(), exporter)
    try:
        call = tracing.CallTrace("b" * 32, "sip")
        call.turn(datetime.now(UTC))  # prepared at a pause, never finished
        call.close()
    finally:
        await started.shutdown()
    (root,) = exporter.get_finished_spans()
    assert root.attributes is not None and root.attributes[tracing.OUTCOME] == "abandoned"


class Unreachable(SpanExporter):
    def __init__(self) -> None:
        self.calls = 0

    def export(self, spans: Any) -> SpanExportResult:
        self.calls += 1
        return SpanExportResult.FAILURE if self.calls < 4 else SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def test_a_collector_down_is_logged_once_and_once_more_when_it_is_back(caplog: pytest.LogCaptureFixture) -> None:
    exporter = tracing._OneComplaint(Unreachable(), "http://collector")
    with caplog.at_level(logging.INFO, logger="callbot.tracing"):
        results = [exporter.export([]) for _ in range(5)]
    assert results.count(SpanExportResult.FAILURE) == 3
    assert [record.levelname for record in caplog.records] == ["WARNING", "INFO"]


# ---- a real server, a real receiver -------------------------------------------------------------------------


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    links: list[str]
    start_ns: int
    end_ns: int


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind is not None else None


@dataclass
class OtlpReceiver:
    """An OTLP/HTTP traces endpoint on 127.0.0.1 (POST /v1/traces, protobuf), in a thread of its own."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    content_types: set[str] = field(default_factory=set)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                receiver.content_types.add(self.headers["Content-Type"])
                receiver.receive(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def receive(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            self.resources.append({a.key: _value(a.value) for a in resource_spans.resource.attributes})
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        ReceivedSpan(
                            span.name,
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                            {a.key: _value(a.value) for a in span.attributes},
                            [link.span_id.hex() for link in span.links],
                            span.start_time_unix_nano,
                            span.end_time_unix_nano,
                        )
                    )

    def turns(self, call_id: str) -> list[ReceivedSpan]:
        return sorted(
            (s for s in self.spans if s.name == "turn" and s.attributes.get(tracing.CALL_ID) == call_id),
            key=lambda span: span.attributes[tracing.TURN_INDEX],
        )

    def children(self, root: ReceivedSpan) -> list[ReceivedSpan]:
        found = [s for s in self.spans if s.parent_id == root.span_id]
        assert all(s.trace_id == root.trace_id for s in found)
        return sorted(found, key=lambda span: span.start_ns)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    found = OtlpReceiver()
    found.start()
    yield found
    found.stop()


def traced_callbot(dialogue_server: Any, workdir: Path, endpoint: str, batch_delay_ms: int) -> CallbotProcess:
    return CallbotProcess(
        workdir,
        env_overrides={
            "CALLBOT_DIALOGUE_MODE": "external",
            "CALLBOT_DIALOGUE_URL": dialogue_server.url,
            "CALLBOT_DIALOGUE_TOKEN": dialogue_server.token,
            "CALLBOT_DIALOGUE_TIMEOUT_S": "30",
            "CALLBOT_VAD_NO_INPUT_TIMEOUT_S": "60",
            "CALLBOT_TRACING_OTLP_ENDPOINT": endpoint,
            "CALLBOT_TRACING_SERVICE_NAME": "callbot-under-test",
            "OTEL_BSP_SCHEDULE_DELAY": str(batch_delay_ms),  # the SDK's batch delay (5 s by default)
        },
    )


CHAT = [
    "bonjour il y a un nid de poule au 8 boulevard baille à marseille",
    "non pas vraiment",
    "mon numéro c'est le 06 12 34 56 78",
]
PERSONAL = ["poule", "baille", "marseille", "vraiment", "numéro", "06 12", "0612345678", "+33612345678"]


def assert_nothing_personal(spans: list[ReceivedSpan]) -> None:
    for span in spans:
        for key, value in span.attributes.items():
            text = str(value).lower()
            assert not any(word in text for word in PERSONAL), (span.name, key, value)


def chat(callbot: CallbotProcess, messages: list[str]) -> tuple[str, list[float]]:
    """A chat conversation over HTTP: its id and how long each answer took."""
    status, opened = callbot.post("/chat/sessions")
    assert status == 201, opened
    session = str(opened["session"])
    took = []
    for text in messages:
        started = time.monotonic()
        status, reply = callbot.post(f"/chat/sessions/{session}/messages", {"text": text})
        took.append(time.monotonic() - started)
        assert status == 200 and reply["messages"], reply
    return session, took


@pytest.mark.e2e
@pytest.mark.timeout(900)  # the Rasa server's start and a call, on a machine that may be busy
async def test_a_chat_and_a_call_send_a_trace_per_turn(
    dialogue_server: Any, receiver: OtlpReceiver, tmp_path: Path
) -> None:
    # Nothing leaves before the stop: what the receiver gets, the server's stop flushed.
    callbot = traced_callbot(dialogue_server, tmp_path / "callbot", receiver.url, batch_delay_ms=600_000)
    await asyncio.to_thread(callbot.start)
    call_id = None
    try:
        session, _ = await asyncio.to_thread(chat, callbot, CHAT)
        if shutil.which("baresip") is not None:
            call_id = await place_a_call(callbot, tmp_path)
        assert not receiver.spans
    finally:
        assert await asyncio.to_thread(callbot.stop) == 0, callbot.tail_log()

    turns = receiver.turns(session)
    assert [turn.attributes[tracing.TURN_INDEX] for turn in turns] == [1, 2, 3]
    assert len({turn.trace_id for turn in turns}) == 3, "one trace per turn"
    for index, turn in enumerate(turns):
        assert turn.parent_id == "", "a turn is the root of its trace"
        assert HEX32.match(turn.attributes[tracing.CALL_ID])
        assert turn.attributes[tracing.CHANNEL] == "text"
        assert turn.attributes[tracing.OUTCOME] in ("answered", "ended", "handoff")
        assert turn.links == ([] if index == 0 else [turns[index - 1].span_id])
        (dialogue,) = receiver.children(turn)
        assert dialogue.name == "dialogue" and dialogue.attributes["dialogue.messages"] >= 1
        assert turn.start_ns <= dialogue.start_ns and dialogue.end_ns <= turn.end_ns
    assert {"service.name": "callbot-under-test"}.items() <= receiver.resources[0].items()
    assert receiver.resources[0]["service.version"] == tracing.package_version()
    assert receiver.content_types == {"application/x-protobuf"}
    if call_id is not None:
        a_call_is_traced(receiver, call_id)
    assert_nothing_personal(receiver.spans)


async def place_a_call(callbot: CallbotProcess, tmp_path: Path) -> str:
    """A SIP call from a phone number, with a French sentence after the greeting; its call id."""
    from tests.e2e.conftest import RATE, caller_wav, render
    from tests.support.sip_peers import run_baresip_call

    greeting = await render(load_settings(environ={}).prompts.greeting)
    speak_at = len(greeting) / RATE + 2.0  # after the greeting, which the caller cannot interrupt
    # A long silence after the sentence: on a loaded machine the recogniser lags, and a turn recognised after
    # the hang-up is never answered (nor traced).
    microphone = caller_wav(tmp_path, "stp_fr_07.wav", lead_s=speak_at, tail_s=25.0)
    result = await run_baresip_call(
        f"sip:bot@127.0.0.1:{callbot.sip_port}",
        microphone,
        tmp_path / "baresip",
        duration_s=int(speak_at + 30),
        user="0612345678",
    )
    assert "Call established" in result.output, result.output[-2000:]
    page: Any = await asyncio.to_thread(callbot.api, "/api/calls?limit=1")
    return str(page["items"][0]["call_id"])


def a_call_is_traced(receiver: OtlpReceiver, call_id: str) -> None:
    """The call's caller turn: recognised, answered by the dialogue, the answer synthesised."""
    turns = receiver.turns(call_id)
    assert turns, f"no turn of call {call_id}: {[s.attributes for s in receiver.spans if s.name == 'turn']}"
    turn = turns[0]
    assert turn.parent_id == "" and turn.attributes[tracing.CHANNEL] == "voice"
    assert turn.attributes[tracing.TRANSPORT] == "sip"
    assert turn.attributes[tracing.OUTCOME] in ("answered", "ended", "handoff")
    stages = receiver.children(turn)
    names = [stage.name for stage in stages]
    assert names[0] == "asr" and "dialogue" in names and "tts" in names, names
    asr = stages[0]
    assert asr.attributes["asr.audio_seconds"] > 0.5 and 0 < asr.attributes["asr.confidence"] <= 1
    assert asr.start_ns == turn.start_ns  # the turn starts with the caller's first word
    for stage in stages:
        if stage.name == "tts" and "tts.first_audio_ms" in stage.attributes:  # queued within the synthesis
            assert 0 <= stage.attributes["tts.first_audio_ms"] <= (stage.end_ns - stage.start_ns) / 1e6 + 1
    assert any("tts.first_audio_ms" in stage.attributes for stage in stages), [s.attributes for s in stages]
    assert turn.end_ns >= max(stage.end_ns for stage in stages)


@pytest.mark.e2e
@pytest.mark.timeout(900)
async def test_a_collector_that_is_down_costs_the_chat_nothing(dialogue_server: Any, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    callbot = traced_callbot(dialogue_server, tmp_path / "callbot", closed, batch_delay_ms=100)
    await asyncio.to_thread(callbot.start)
    try:
        for _ in range(2):  # batches fail meanwhile (every 100 ms)
            _, took = await asyncio.to_thread(chat, callbot, CHAT[:2])
            assert max(took) < 5, took
        await asyncio.sleep(1)
    finally:
        stopping = time.monotonic()
        assert await asyncio.to_thread(callbot.stop) == 0, callbot.tail_log()
        stop_s = time.monotonic() - stopping
    log = callbot.log_path.read_text(errors="replace")
    assert log.count("tracing: cannot export spans") == 1, log[-3000:]
    assert "opentelemetry.exporter" not in log and "Failed to export" not in log, log[-3000:]
    assert stop_s < 15, stop_s
