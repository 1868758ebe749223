"""One call, one CallSession: listen, understand, answer, hand over, hang up.

Read top to bottom: ``run`` greets, then handles one event at a time (a caller turn, a key press, silence,
the caller hanging up) until the dialogue ends the call or hands it to a human. A second task, ``_listen``,
turns the caller's audio into turns: voice activity opens a turn, audio reaches the recogniser only while
someone speaks, and the caller speaking over the bot stops the bot (barge-in).
Every turn is written to the store as it happens, so a crash loses nothing already said.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from asr import AsrEngine, Transcript
from asr.vad import TurnDetector, TurnEvent
from callbot.audio import AudioPort
from callbot.config import Settings
from callbot.conversation import NO_INPUT_MESSAGE, Conversation, utc_now
from callbot.metrics import CallMetrics
from dialogue.client import DialogueClient, DialogueReply
from signalements import Store, StoreWriter
from tts import TtsEngine

log = logging.getLogger(__name__)

UNINTELLIGIBLE_MIN_S = 0.5  # a voiced turn this long without a recognised word counts as unintelligible


class CallLeg(Protocol):
    """What a transport (SIP today, WebRTC later) gives a session."""

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


# The call's outcome when the bot did not end it itself.
OUTCOME_WHEN_ENDED_BY = {"caller": "caller_hung_up", "shutdown": "shutdown", "media_timeout": "media_timeout"}


@dataclass
class CallServices:
    """Process-wide resources shared by every call."""

    settings: Settings
    asr: AsrEngine
    tts: TtsEngine
    dialogue: DialogueClient
    store: Store
    writer: StoreWriter
    metrics: CallMetrics = field(default_factory=lambda: CallMetrics())


@dataclass(frozen=True)
class CallerTurn:
    transcript: Transcript
    started_at: datetime
    ended_at: datetime
    speech_ended: float  # monotonic time the caller stopped speaking


class CallSession:
    def __init__(self, leg: CallLeg, channel: str, services: CallServices) -> None:
        self.leg = leg
        self.channel = channel
        self.services = services
        self.settings = services.settings
        # Our own id: the transport's (a SIP Call-ID) is chosen by the caller and may repeat or carry anything.
        self.call_id = uuid.uuid4().hex
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
        # caller turns, key presses, None once the caller hung up, in the order they happened; or the error
        # that stopped a helper task (a deaf or mute call must end, not go on in silence)
        self._events: asyncio.Queue[CallerTurn | str | BaseException | None] = asyncio.Queue()
        self._speaking = False  # the bot's audio is queued or playing
        self._interruptible = True
        self._barged_in = asyncio.Event()
        self._caller_speaking = False

    # ---- the conversation -------------------------------------------------------------------------

    async def run(self) -> None:
        metrics = self.services.metrics
        metrics.calls_total += 1
        metrics.calls_active += 1
        log.info("call %s started (%s call id %r)", self.call_id, self.channel, self.leg.call_id)
        await self.conversation.open()
        helpers = [
            asyncio.create_task(self._listen(), name=f"listen-{self.call_id}"),
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
            await self._say(self.settings.prompts.call_too_long, interruptible=False, cached=True)
            await self._hangup()
        except Exception:
            log.exception("call %s: session failed", self.call_id)
            self.outcome = "error"
            with contextlib.suppress(Exception):
                await self._say(self.settings.prompts.technical_problem, interruptible=False, cached=True)
            await self._hangup()
        finally:
            for task in helpers:
                task.cancel()
            metrics.calls_active -= 1
            if self.outcome is None:
                self.outcome = OUTCOME_WHEN_ENDED_BY.get(self.leg.ended_by or "caller", "caller_hung_up")
            metrics.record_outcome(self.outcome)
            # Recorded before anything that can wait: a server stopping cancels this task, and the call must
            # not stay open in the store (queuing a write never waits, so the cancellation cannot cut it).
            await self.conversation.close(self.outcome)
            log.info("call %s ended: %s", self.call_id, self.outcome)
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _converse(self) -> None:
        # The charter: the caller hears at once that an automated assistant answers; not interruptible.
        await self._say(self.settings.prompts.greeting, interruptible=False, cached=True)
        while not self.leg.ended.is_set():
            event = await self._next_event()
            if event is None:  # the caller hung up
                return
            if isinstance(event, BaseException):
                raise event
            if isinstance(event, CallerTurn):
                reply = await self._ask_dialogue(event)
            elif event == NO_INPUT_MESSAGE:
                reply = await self.conversation.ask_after_silence()
            else:  # a key press
                if event == self.settings.transfer.on_dtmf:
                    await self._handoff("dtmf")
                    return
                continue
            if reply is None:  # the dialogue is unreachable
                await self._handoff("technical")
                return
            if await self._act_on(reply):
                return

    async def _next_event(self) -> CallerTurn | str | BaseException | None:
        """The next thing to react to: a caller turn, a key, NO_INPUT_MESSAGE after silence, None on hang-up,
        or the error that stopped a helper task."""
        while True:
            await self.leg.audio.wait_played()
            try:
                return await asyncio.wait_for(self._events.get(), self.settings.vad.no_input_timeout_s)
            except TimeoutError:
                if not (self._caller_speaking or self._speaking):
                    return NO_INPUT_MESSAGE

    def _helper_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._events.put_nowait(task.exception())

    async def _pump_keys(self) -> None:
        while True:
            await self._events.put(await self.leg.dtmf.get())

    async def _watch_hangup(self) -> None:
        await self.leg.ended.wait()
        await self._events.put(None)

    async def _ask_dialogue(self, turn: CallerTurn) -> DialogueReply | None:
        reply = await self.conversation.ask(turn.transcript.text, turn.transcript.confidence)
        if reply is not None:
            self.services.metrics.reply_latencies.append(time.monotonic() - turn.speech_ended)
        return reply

    async def _act_on(self, reply: DialogueReply) -> bool:
        """Speak the reply and carry out what it asks; True when the call is over for the bot."""
        if reply.report_id is not None:
            self.outcome = "report_saved"
        for text in reply.texts:
            await self._say(text)
        if reply.handoff_reason is not None:
            await self._handoff(reply.handoff_reason, announce=not reply.texts)
            return True
        if reply.hangup:
            if self.outcome != "report_saved":
                self.outcome = "completed"
            await self._hangup()
            return True
        return False

    async def _handoff(self, reason: str, announce: bool = True) -> None:
        """Hand the caller to a human, with what was collected so far; end politely if nobody can take it."""
        prompts = self.settings.prompts
        target = self.settings.transfer.uri
        self.services.metrics.handoffs_total += 1
        if self.leg.ended.is_set():
            # The caller hung up first (e.g. during the reply): nobody to transfer, but the request stays on record.
            await self.conversation.record_handoff(reason, target, False)
            return
        succeeded = False
        if target is not None:
            if announce:
                await self._say(prompts.transferring, interruptible=False, cached=True)
            await self.leg.audio.wait_played()
            succeeded = await self.leg.transfer(target, {"X-Callbot-Call-Id": self.call_id})
        if succeeded:
            self.outcome = "transferred"
        else:
            self.outcome = "transfer_failed" if target is not None else "handoff_unavailable"
            apology = prompts.technical_problem if reason == "technical" else prompts.transfer_failed
            await self._say(apology, interruptible=False, cached=True)
        await self._hangup()
        # Once the line is closed: asking a dialogue that is down for the fields takes its whole timeout,
        # which the caller would otherwise hear as silence before the apology.
        await self.conversation.record_handoff(reason, target, succeeded)

    async def _hangup(self) -> None:
        if not self.leg.ended.is_set():
            await self.leg.audio.wait_played()
        await self.leg.hangup()

    # ---- speaking ---------------------------------------------------------------------------------

    async def _say(self, text: str, interruptible: bool = True, cached: bool = False) -> None:
        """Queue the bot's words on the line, sentence by sentence; the caller may cut in when interruptible."""
        if self.leg.ended.is_set():
            return
        await self.conversation.record_bot(text, utc_now())
        audio = self.leg.audio
        self._barged_in.clear()
        self._interruptible = interruptible and self.settings.vad.barge_in
        self._speaking = True
        try:
            if cached:
                audio.play(await self.services.tts.render(text, audio.sample_rate))
            else:
                # Closed on leaving, not when collected: the next sentence, if not started, is dropped at once.
                async with contextlib.aclosing(self.services.tts.synthesize(text, audio.sample_rate)) as chunks:
                    async for chunk in chunks:
                        if self._barged_in.is_set() or self.leg.ended.is_set():
                            break
                        audio.play(chunk)
            played = asyncio.create_task(audio.wait_played())
            barged = asyncio.create_task(self._barged_in.wait())
            ended = asyncio.create_task(self.leg.ended.wait())
            await asyncio.wait({played, barged, ended}, return_when=asyncio.FIRST_COMPLETED)
            for task in (played, barged, ended):
                task.cancel()
        finally:
            self._speaking = False
            self._interruptible = True

    # ---- listening --------------------------------------------------------------------------------

    async def _listen(self) -> None:
        vad = self.settings.vad
        audio = self.leg.audio
        detector = TurnDetector(
            sample_rate=audio.sample_rate,
            aggressiveness=vad.aggressiveness,
            start_ms=vad.start_ms,
            end_silence_ms=vad.end_silence_ms,
            max_turn_s=vad.max_turn_s,
        )
        stream = self.services.asr.open_stream(audio.sample_rate)
        turn_started = utc_now()
        while True:
            frame = await audio.read_frame()
            if frame is None:
                return
            event = detector.push(frame)
            if event is TurnEvent.SPEECH_START:
                turn_started = utc_now()
                self._caller_speaking = True
                if self._speaking and self._interruptible:
                    audio.clear_playback()
                    self._barged_in.set()
                await stream.feed(detector.pre_roll())
            elif event is TurnEvent.SPEECH_END:
                speech_ended = time.monotonic()
                self._caller_speaking = False
                transcript = await stream.finish()
                # Sizes and confidence only: the words themselves go to the store, not to the logs.
                log.info(
                    "call %s: caller turn of %.1f s, %d words, confidence %.2f",
                    self.call_id,
                    transcript.audio_seconds,
                    len(transcript.text.split()),
                    transcript.confidence,
                )
                if transcript.text:
                    await self._record_caller_turn(transcript, turn_started, speech_ended)
                elif transcript.audio_seconds >= UNINTELLIGIBLE_MIN_S:
                    # Someone spoke but no word came out: re-ask now rather than after the silence timeout.
                    await self._events.put(NO_INPUT_MESSAGE)
            elif detector.in_speech:
                await stream.feed(frame)

    async def _record_caller_turn(self, transcript: Transcript, started: datetime, speech_ended: float) -> None:
        ended = utc_now()
        self.services.metrics.caller_turns_total += 1
        await self.conversation.record_caller(transcript.text, started, ended, transcript.confidence)
        await self._events.put(CallerTurn(transcript, started, ended, speech_ended))
