"""One call, one CallSession: listen, understand, answer, hand over, hang up.

The media path, one stage each: leg (SIP/RTP, WebRTC) → Listener (voice activity → recogniser → end of
turn) → Conversation (dialogue, store) → Speaker (synthesiser → leg). ``run`` greets, then handles one event
at a time (a caller turn, a key press, silence, the caller hanging up) until the dialogue ends the call or
hands it to a human. Interruptions act at once, whatever the bot is doing: the caller's voice cuts an
interruptible message (barge-in), a key cuts any message and is handled immediately, a hang-up ends it all.
Every turn is written to the store as it happens, so a crash loses nothing already said.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from asr.endpointing import AdaptiveEndOfTurn, EndOfTurn
from asr.stream import Recognizer
from callbot import tracing
from callbot.audio import AudioPort
from callbot.config import Settings, resolve_path
from callbot.conversation import NO_INPUT_MESSAGE, Conversation, utc_now
from callbot.energy import CpuMeter
from callbot.hours import OpeningHours, spoken_next_opening
from callbot.listener import CallerTurn, Listener, VoiceSettings
from callbot.logs import CALL_ID
from callbot.metrics import CallMetrics
from callbot.recording import CallRecorder
from callbot.speaker import PreparedSpeech, Speaker
from dialogue.client import DialogueReply, DialogueService
from signalements import Store, StoreWriter
from tts.stream import Synthesizer

log = logging.getLogger(__name__)


class CallLeg(Protocol):
    """What a transport (SIP, WebRTC) gives a session."""

    @property
    def call_id(self) -> str: ...

    @property
    def caller_number(self) -> str | None: ...

    @property
    def audio(self) -> AudioPort: ...

    @property
    def dtmf(self) -> asyncio.Queue[str]: ...

    @property
    def ended(self) -> asyncio.Event: ...

    @property
    def ended_by(self) -> str | None:
        """Who ended the line first: "caller", "bot", "shutdown" or "media_timeout" (None while it lasts)."""

    async def hangup(self) -> None: ...

    async def transfer(self, target_uri: str, headers: dict[str, str]) -> bool: ...


QUIET_CHECK_S = 0.25  # while someone speaks, how often the wait for silence looks again

# The call's outcome when the bot did not end it itself.
OUTCOME_WHEN_ENDED_BY = {"caller": "caller_hung_up", "shutdown": "shutdown", "media_timeout": "media_timeout"}


@dataclass
class Preview:
    """An answer prepared during the silence that may end the caller's turn."""

    text: str  # what the caller had said at the pause
    answer: asyncio.Task[DialogueReply | None]
    first_audio: PreparedSpeech | None = None
    trace: tracing.Turn | None = None  # the caller turn's trace


@dataclass
class CallServices:
    """Process-wide resources shared by every call."""

    settings: Settings
    asr: Recognizer
    tts: Synthesizer
    dialogue: DialogueService
    store: Store
    writer: StoreWriter
    metrics: CallMetrics = field(default_factory=lambda: CallMetrics())
    end_of_turn: EndOfTurn | None = None  # None: AdaptiveEndOfTurn with the settings' vad.end_of_turn
    cpu_meter: CpuMeter | None = None  # shares the server's CPU time among the calls (None: not measured)
    clock: Callable[[], datetime] = utc_now  # the time for the opening hours (tests set another day)
    opening_hours: OpeningHours | None = None  # None: built from settings.transfer at the first handoff


class CallSession:
    def __init__(
        self,
        leg: CallLeg,
        channel: str,
        services: CallServices,
        on_turn: Callable[[str, str], None] | None = None,
    ) -> None:
        """`on_turn(who, text)`: each turn as it is recorded, "bot" or "caller" (a transport that shows captions)."""
        self.leg = leg
        self._on_turn = on_turn
        self.channel = channel
        self.services = services
        self.settings = services.settings
        # Our own id: the transport's (a SIP Call-ID) is chosen by the caller and may repeat or carry anything.
        self.call_id = uuid.uuid4().hex
        self.trace = tracing.CallTrace(self.call_id, channel)
        self._turn: tracing.Turn | None = None  # the trace of the caller turn being answered
        self._paused_turn: tracing.Turn | None = None  # the trace of a turn whose answer was prepared at a pause
        self.conversation = Conversation(
            self.call_id,
            channel,
            leg.caller_number,
            services.dialogue,
            services.store,
            services.writer,
            services.settings.database.node_name(),
        )
        self.outcome: str | None = None  # set when the bot ends the call; otherwise the leg says who did
        # caller turns, key presses, NO_INPUT_MESSAGE, None once the caller hung up, in the order they
        # happened; or the error that stopped a stage (a deaf or mute call must end, not go on in silence)
        self._events: asyncio.Queue[CallerTurn | str | BaseException | None] = asyncio.Queue()
        self.recorder = self._recorder()  # None unless recording.enabled (then the greeting says so)
        audio = self.recorder or leg.audio
        self.speaker = Speaker(
            audio, services.tts, self._before_speaking, self._events.put_nowait, on_audio=self._audio_started
        )
        vad = services.settings.vad
        self.listener = Listener(
            audio,
            services.asr,
            services.end_of_turn or AdaptiveEndOfTurn(**vad.end_of_turn.model_dump()),
            VoiceSettings(
                aggressiveness=vad.aggressiveness,
                start_ms=vad.start_ms,
                max_turn_s=vad.max_turn_s,
                min_dbfs=vad.min_dbfs,
                barge_in_min_dbfs=vad.barge_in_min_dbfs,
            ),
            bot_speaking=lambda: self.speaker.speaking,
            on_onset=self._caller_cut_in,
            on_turn=self._caller_turn,
            on_unintelligible=lambda: self._events.put(NO_INPUT_MESSAGE),
            on_tentative_end=self._tentative_end,
            on_resumed=self._resumed,
        )
        self.listener.preview = services.settings.vad.preview  # the greeting's question may be answered ahead
        self._preview: Preview | None = None  # the answer being prepared at the caller's pause
        self._taking_back: asyncio.Task[None] | None = None  # a previewed answer being rewound
        self._last_said: list[str] = []  # the bot's last reply, for the repeat key
        self.barge_ins = 0  # the caller's voice cut the bot (not keys or hang-ups)
        self._turn_speech_ended: float | None = None  # when the caller turn being answered ended
        self._prepared_audio: PreparedSpeech | None = None  # the committed preview's first message
        self.reply_latencies_ms: list[int] = []  # each answered turn: end of the caller's speech to first sound

    # ---- the conversation -------------------------------------------------------------------------

    async def run(self) -> None:
        CALL_ID.set(self.call_id)  # every log line of this call, in this task and those it starts, names it
        metrics = self.services.metrics
        metrics.calls_total += 1
        metrics.calls_active += 1
        if self.services.cpu_meter is not None:
            self.services.cpu_meter.register(self.call_id)
        log.info("call %s started (%s call id %r)", self.call_id, self.channel, self.leg.call_id)
        await self.conversation.open()
        self.speaker.start()
        helpers = [
            asyncio.create_task(self.listener.run(), name=f"listen-{self.call_id}"),
            asyncio.create_task(self._pump_keys(), name=f"keys-{self.call_id}"),
            asyncio.create_task(self._watch_hangup(), name=f"hangup-{self.call_id}"),
        ]
        for task in helpers:
            task.add_done_callback(self._helper_done)
        try:
            async with asyncio.timeout(self.settings.call.max_duration_s):
                await self._converse()
        except TimeoutError:
            self.outcome = "too_long"
            self.speaker.interrupt(force=True)
            await self._say(self.settings.prompts.call_too_long, interruptible=False)
            await self._hangup()
        except Exception:
            log.exception("call %s: session failed", self.call_id)
            self.outcome = "error"
            with contextlib.suppress(Exception):
                self.speaker.interrupt(force=True)
                await self._say(self.settings.prompts.technical_problem, interruptible=False)
            await self._hangup()
        finally:
            for task in helpers:
                task.cancel()
            metrics.calls_active -= 1
            metrics.caller_frames_total += self.listener.frames_heard
            metrics.recognised_frames_total += self.listener.frames_to_recogniser
            metrics.caller_frames_dropped_total += self.leg.audio.frames_dropped
            metrics.barge_ins_total += self.barge_ins
            if self.outcome is None:
                self.outcome = OUTCOME_WHEN_ENDED_BY.get(self.leg.ended_by or "caller", "caller_hung_up")
            metrics.record_outcome(self.outcome)
            # Recorded before anything that can wait: a server stopping cancels this task, and the call must
            # not stay open in the store (queuing a write never waits, so the cancellation cannot cut it).
            await self.conversation.close(self.outcome, self._cpu_seconds(), self.reply_latencies_ms)
            log.info("call %s ended: %s", self.call_id, self.outcome)
            await asyncio.gather(*helpers, return_exceptions=True)
            await self.speaker.close()
            await self._drop_previews()
            self.trace.close()
            if self.recorder is not None:  # last: the call is closed in the store, encoding takes a while
                await self.recorder.finish()

    async def _converse(self) -> None:
        # The charter: the caller hears at once that an automated assistant answers; not interruptible.
        await self._say(self.settings.prompts.greeting, interruptible=False)
        if self.recorder is not None:
            await self._say(self.settings.prompts.recording_notice, interruptible=False)
        while not self.leg.ended.is_set():
            event = await self._next_event()
            if event is None:  # the caller hung up
                return
            if isinstance(event, BaseException):
                raise event
            if isinstance(event, CallerTurn):
                self._turn_speech_ended = event.speech_ended
                with self._traced(event) as turn:
                    reply = await self._answer(event)
                    over = await self._conclude(reply)
                    turn.outcome = tracing.turn_outcome(reply, over)
                if over:
                    return
                continue
            if event == NO_INPUT_MESSAGE:
                self._turn_speech_ended = None
                await self._settle_previews()
                reply = await self.conversation.ask_after_silence()
            elif event == self.settings.transfer.on_dtmf:
                if await self._handoff("dtmf"):
                    return
                continue  # nobody can take the call: a call back is offered, the conversation goes on
            elif event == self.settings.call.repeat_dtmf and self._last_said:
                for text in self._last_said:
                    self.speaker.say(text)
                continue
            else:  # another key: nothing to do
                continue
            if await self._conclude(reply):
                return

    async def _conclude(self, reply: DialogueReply | None) -> bool:
        """Act on the dialogue's reply; True when the call is over for the bot."""
        if reply is None:  # the dialogue is unreachable
            await self._handoff("technical")
            return True
        return await self._act_on(reply)

    @contextlib.contextmanager
    def _traced(self, turn: CallerTurn) -> Iterator[tracing.Turn]:
        """The caller turn's trace, with its recognition, while it is answered (what is said meanwhile is part
        of it: the trace ends once that is synthesised)."""
        trace = self._turn_trace(turn)
        self._paused_turn = None
        trace.record("asr", turn.started_at, turn.ended_at, tracing.recognition(turn.transcript))
        self._turn = trace
        try:
            with trace:
                yield trace
        finally:
            self._turn = None

    def _turn_trace(self, turn: CallerTurn) -> tracing.Turn:
        """A caller turn's trace: the one opened when its answer was prepared at a pause, else a new one."""
        if self._paused_turn is None or self._paused_turn.started != turn.started_at:
            self._paused_turn = self.trace.turn(turn.started_at)
        return self._paused_turn

    def _recorder(self) -> CallRecorder | None:
        """The recorder of this call's audio, when recording is on (if it cannot start, the call goes on
        unrecorded, and the greeting does not say it is recorded)."""
        recording = self.settings.recording
        if not recording.enabled:
            return None
        try:
            return CallRecorder(self.leg.audio, resolve_path(recording.directory), self.call_id)
        except (OSError, ValueError) as error:
            log.error("call %s: cannot record the call: %s", self.call_id, error)
            return None

    async def _next_event(self) -> CallerTurn | str | BaseException | None:
        """The next thing to react to, at once (a key press mid-sentence acts mid-sentence); NO_INPUT_MESSAGE
        once both sides have been silent for `no_input_timeout_s`."""
        loop = asyncio.get_running_loop()
        quiet_since: float | None = None
        while True:
            if self.listener.caller_speaking or self.speaker.speaking:
                quiet_since, wait = None, QUIET_CHECK_S  # the silence has not started: look again shortly
            else:
                quiet_since = loop.time() if quiet_since is None else quiet_since
                wait = quiet_since + self.settings.vad.no_input_timeout_s - loop.time()
                if wait <= 0:
                    return NO_INPUT_MESSAGE
            try:
                return await asyncio.wait_for(self._events.get(), wait)
            except TimeoutError:
                continue

    def _helper_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._events.put_nowait(task.exception())

    async def _pump_keys(self) -> None:
        while True:
            key = await self.leg.dtmf.get()
            if key in (self.settings.transfer.on_dtmf, self.settings.call.repeat_dtmf):
                self.speaker.interrupt(force=True)  # the key acts now, not after the sentence
            await self._events.put(key)

    async def _watch_hangup(self) -> None:
        await self.leg.ended.wait()
        self.speaker.interrupt(force=True)
        await self._events.put(None)

    async def _caller_turn(self, turn: CallerTurn) -> None:
        self.services.metrics.caller_turns_total += 1
        text, confidence = turn.transcript.text, turn.transcript.confidence
        words = [(word.word, word.confidence) for word in turn.transcript.words]
        await self.conversation.record_caller(text, turn.started_at, turn.ended_at, confidence, words)
        self._turn_said("caller", text)
        await self._events.put(turn)

    def _caller_cut_in(self) -> None:
        """The caller started speaking: barge-in, if the bot is saying something it may be cut in."""
        if self.settings.vad.barge_in and self.speaker.interrupt():
            self.barge_ins += 1
            log.info("call %s: barge-in", self.call_id)

    async def _answer(self, turn: CallerTurn) -> DialogueReply | None:
        """The dialogue's answer to a caller turn: the one prepared at the pause if the caller said nothing
        more, else asked now (a preview made obsolete is taken back first)."""
        preview, self._preview = self._preview, None
        if preview is not None and preview.text == turn.transcript.text:
            reply = await preview.answer
            if reply is not None:
                await self.conversation.commit(reply)
                self._prepared_audio = preview.first_audio
        else:
            if preview is not None:
                self._take_back(preview)
            await self._settle_previews()
            with tracing.stage(self._turn, "dialogue") as traced:
                reply = await self.conversation.ask(turn.transcript.text, turn.transcript.confidence)
                tracing.note_reply(traced, reply)
        if reply is not None:
            self.services.metrics.reply_latency.observe(time.monotonic() - turn.speech_ended)
        return reply

    def _tentative_end(self, turn: CallerTurn) -> None:
        """The caller paused long enough to have finished: prepare the answer (dialogue, first audio) while
        the silence confirms it. Nothing is said or recorded before the end of the turn."""
        if self._preview is not None or self.leg.ended.is_set():
            return
        self.services.metrics.previews_total += 1
        trace = self._turn_trace(turn)
        # Only after the take-backs already under way (not one of this preview: that one waits for us).
        answer = asyncio.create_task(self._prepare(turn, self._taking_back, trace))
        preview = Preview(turn.transcript.text, answer, trace=trace)
        self._preview = preview

    async def _prepare(
        self, turn: CallerTurn, after: asyncio.Task[None] | None, trace: tracing.Turn
    ) -> DialogueReply | None:
        if after is not None:
            await asyncio.wait({after})
        with trace.stage("dialogue", {"dialogue.preview": True}) as traced:
            reply = await self.conversation.preview(turn.transcript.text, turn.transcript.confidence)
            tracing.note_reply(traced, reply)
        preview = self._preview
        if reply is not None and reply.texts and preview is not None and preview.answer is asyncio.current_task():
            preview.first_audio = PreparedSpeech(self._synthesise(reply.texts[0], trace))
            if reply.answered:
                self.listener.end_turn_soon()  # the caller gave what was asked: done, not pausing
        return reply

    async def _synthesise(self, text: str, trace: tracing.Turn) -> AsyncGenerator[bytes]:
        """The audio of `text`, chunk by chunk; a fixed line comes whole from the synthesiser's cache, other text
        is not put in it (answers vary: they would push the fixed lines out)."""
        tts, rate = self.services.tts, self.leg.audio.sample_rate
        with trace.stage("tts", {"tts.ahead": True}):
            if tts.cached(text, rate):
                yield await tts.render(text, rate)
                return
            async with contextlib.aclosing(tts.stream(text, rate)) as chunks:
                async for chunk in chunks:
                    yield chunk

    def _resumed(self) -> None:
        """The caller went on speaking: the prepared answer is taken back."""
        preview, self._preview = self._preview, None
        if preview is not None:
            self._take_back(preview)

    def _take_back(self, preview: Preview) -> None:
        self.services.metrics.previews_taken_back_total += 1
        earlier = self._taking_back

        async def take_back() -> None:
            if earlier is not None:
                await earlier
            if preview.first_audio is not None:
                preview.first_audio.cancel()
            # Let the dialogue finish the message (cancelling the request would not stop Rasa), then rewind.
            if await preview.answer is not None:
                with tracing.stage(preview.trace, "dialogue", {"dialogue.rewind": True}):
                    await self.conversation.rewind()

        self._taking_back = asyncio.create_task(take_back())

    async def _drop_previews(self) -> None:
        """The call is over: answers still being prepared or taken back are of no use to anyone."""
        pending: list[asyncio.Task[Any]] = [t for t in (self._taking_back,) if t is not None]
        speech = [self._prepared_audio]
        if self._preview is not None:
            pending.append(self._preview.answer)
            speech.append(self._preview.first_audio)
        for task in pending:
            task.cancel()
        for prepared in speech:
            if prepared is not None:
                prepared.cancel()
        await asyncio.gather(*pending, *(p.closed() for p in speech if p is not None), return_exceptions=True)

    async def _settle_previews(self) -> None:
        """Until every taken-back preview is rewound: the dialogue must see the turns in order."""
        while self._taking_back is not None and not self._taking_back.done():
            await asyncio.wait({self._taking_back})

    # Why a call back was offered in this call (outside_hours, transfer_failed, no_transfer), None until it is.
    _callback_offer: str | None = None

    async def _act_on(self, reply: DialogueReply) -> bool:
        """Speak the reply and carry out what it asks; True when the call is over for the bot."""
        self.listener.expects = reply.expects
        self.listener.preview = reply.previewable and self.settings.vad.preview
        if reply.report_id is not None:
            self.outcome = "report_saved"
        if reply.callback_number is not None and self._callback_offer is not None:
            # In the queue before the caller hears that it is noted (the writes keep their order).
            await self.conversation.record_callback(self._callback_offer, reply.callback_number)
            self.outcome = "callback_requested"
        if reply.texts:
            self._last_said = list(reply.texts)
        prepared, self._prepared_audio = self._prepared_audio, None
        for index, text in enumerate(reply.texts):
            await self._say(text, prepared=prepared if index == 0 else None)
        if reply.handoff_reason is not None:
            return await self._handoff(reply.handoff_reason)
        if reply.hangup:
            if self.outcome is None:  # not a report saved, a call back requested or declined
                self.outcome = "completed"
            await self._hangup()
            return True
        return False

    async def _handoff(self, reason: str) -> bool:
        """Hand the caller to a human, with what was collected so far. When nobody can take the call (outside the
        opening hours, no agents' line, the transfer failed), a call back is offered instead of a dead end: the
        dialogue asks, and the conversation goes on (False). True when the call is over for the bot."""
        prompts = self.settings.prompts
        target = self.settings.transfer.uri
        if self._callback_offer is not None:
            # A person asked for again while a call back is offered (key 0, words): the offer's question stands.
            for text in self._last_said:
                self.speaker.say(text)
            return False
        self.services.metrics.handoffs_total += 1
        if reason != "dtmf":
            await self._finish_speaking()  # the reply that leads to it is heard first (or the caller hangs up)
        if self.leg.ended.is_set():
            # The caller hung up first (e.g. during the reply): nobody to transfer, but the request stays on record.
            await self.conversation.record_handoff(reason, target, False)
            return True
        # A dialogue that failed cannot hold a conversation about a call back: the technical apology, as ever.
        offer = None if reason == "technical" else self._nobody_available()
        succeeded = attempted = False
        if target is not None and offer is None:
            await self._say(prompts.transferring, interruptible=False)
            if reason != "dtmf":  # a key asks for a person now: the PBX moves the call during the announcement
                await self._finish_speaking()
            attempted = True
            succeeded = await self.leg.transfer(target, {"X-Callbot-Call-Id": self.call_id})
            if not succeeded and reason != "technical":
                offer = "transfer_failed"
        if succeeded:
            self.outcome = "transferred"
        else:
            self.outcome = "transfer_failed" if attempted else "handoff_unavailable"
            if offer is not None and not self.leg.ended.is_set():
                reply = await self.conversation.offer_callback(offer, self._when_agents_call())
                if reply is not None and reply.texts:
                    self._callback_offer = offer
                    # The handoff as it stands, with the report's fields so far, whatever the caller answers.
                    await self.conversation.record_handoff(reason, target, False)
                    return await self._act_on(reply)
            apology = prompts.technical_problem if reason == "technical" else prompts.transfer_failed
            await self._say(apology, interruptible=False)
        await self._hangup()
        # Once the line is closed: asking a dialogue that is down for the fields takes its whole timeout,
        # which the caller would otherwise hear as silence before the apology.
        await self.conversation.record_handoff(reason, target, succeeded)
        return True

    def _opening_hours(self) -> OpeningHours:
        if self.services.opening_hours is None:  # shared by the calls: built once
            self.services.opening_hours = OpeningHours.from_settings(self.settings.transfer)
        return self.services.opening_hours

    def _nobody_available(self) -> str | None:
        """Why no agent can take the call now (outside_hours, no_transfer: no agents' line), None if one may."""
        if not self._opening_hours().is_open(self.services.clock()):
            return "outside_hours"
        return "no_transfer" if self.settings.transfer.uri is None else None

    def _when_agents_call(self) -> str:
        return spoken_next_opening(self._opening_hours(), self.services.clock())

    async def _hangup(self) -> None:
        if not self.leg.ended.is_set():
            await self._finish_speaking()
        await self.leg.hangup()

    # ---- speaking ---------------------------------------------------------------------------------

    async def _say(self, text: str, interruptible: bool = True, prepared: PreparedSpeech | None = None) -> None:
        """Queue the bot's words; the Speaker plays them after what is already queued."""
        if self.leg.ended.is_set():
            return
        self.speaker.say(text, interruptible=interruptible, prepared=prepared, turn=self._turn)

    async def _finish_speaking(self) -> None:
        """Until what the bot said has been heard, or the line closed."""
        done = asyncio.create_task(self.speaker.wait_done())
        ended = asyncio.create_task(self.leg.ended.wait())
        try:
            await asyncio.wait({done, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            done.cancel()
            ended.cancel()

    async def _before_speaking(self, text: str) -> None:
        """Each message is in the transcript (and safe from a crash) before the caller hears it."""
        await self.conversation.record_bot(text, utc_now())
        self._turn_said("bot", text)

    def _turn_said(self, who: str, text: str) -> None:
        if self._on_turn is not None:
            try:
                self._on_turn(who, text)
            except Exception:  # a caption lost must not end the call
                log.exception("call %s: on_turn failed", self.call_id)

    def _audio_started(self) -> None:
        if self._turn_speech_ended is not None:  # the first sound of the answer to a caller turn
            latency = time.monotonic() - self._turn_speech_ended
            self.services.metrics.first_audio_latency.observe(latency)
            self.reply_latencies_ms.append(min(3_599_999, max(0, round(latency * 1000))))
            self._turn_speech_ended = None

    def _cpu_seconds(self) -> float | None:
        """The call is over: its share of the server's CPU time (None when nothing measures it)."""
        meter = self.services.cpu_meter
        return None if meter is None else meter.unregister(self.call_id)
