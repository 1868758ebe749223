"""The caller's audio on one call, turned into turns: leg → voice activity → recogniser → end of turn.

Every 20 ms frame the leg gives is read and counted; voice activity opens a turn (and tells the session at
once, for barge-in), the recogniser gets the audio only while someone speaks, and at each pause the end-of-turn
policy sets how much silence ends this turn. Nothing here waits on the recogniser per frame: `push` never
blocks, so the loop keeps pace with the line however busy the recognisers are.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from asr.endpointing import EndOfTurn
from asr.stream import Hypothesis, Recognizer, RecognizerStream
from asr.transcript import Transcript, join_transcripts
from asr.vad import TurnDetector, TurnEvent
from audio import frame_bytes
from callbot.audio import AudioPort

log = logging.getLogger(__name__)

UNINTELLIGIBLE_MIN_S = 0.5  # a voiced turn this long without a recognised word counts as unintelligible


@dataclass(frozen=True)
class CallerTurn:
    transcript: Transcript
    started_at: datetime
    ended_at: datetime
    speech_ended: float  # monotonic time the caller stopped speaking (before the closing silence)


@dataclass(frozen=True)
class VoiceSettings:
    aggressiveness: int = 2
    start_ms: int = 160
    max_turn_s: float = 20.0
    min_dbfs: float = -50.0  # quieter voiced audio is line noise
    barge_in_min_dbfs: float = -38.0  # while the bot speaks: its own echo comes back quieter than a caller


class Listener:
    def __init__(
        self,
        audio: AudioPort,
        recognizer: Recognizer,
        end_of_turn: EndOfTurn,
        settings: VoiceSettings,
        *,
        bot_speaking: Callable[[], bool],
        on_onset: Callable[[], None],
        on_turn: Callable[[CallerTurn], Awaitable[None]],
        on_unintelligible: Callable[[], Awaitable[None]],
        on_tentative_end: Callable[[CallerTurn], None] | None = None,
        on_resumed: Callable[[], None] | None = None,
    ) -> None:
        """`on_tentative_end(turn)`: at a pause, when `preview` is on, the turn as if it ended there (the
        session may start answering it); `on_resumed()`: the caller went on after all."""
        self._audio = audio
        self._recognizer = recognizer
        self._end_of_turn = end_of_turn
        self._settings = settings
        self._bot_speaking = bot_speaking
        self._on_onset = on_onset
        self._on_turn = on_turn
        self._on_unintelligible = on_unintelligible
        self._on_tentative_end = on_tentative_end
        self._on_resumed = on_resumed
        self.preview = False  # whether the answer to this turn may be tried at a pause (dialogue says)
        self.expects = "free"  # what the dialogue's last question calls for (dialogue.slots.expected_answer)
        self.frames_heard = 0  # every frame the leg gave
        self.frames_to_recogniser = 0
        self._tentative = False  # the turn is paused at a tentative end, its answer being prepared
        self._pauses = 0  # tentative ends so far: a piece recognised late answers only for its own pause
        self._detector = TurnDetector(
            sample_rate=audio.sample_rate,
            aggressiveness=settings.aggressiveness,
            start_ms=settings.start_ms,
            end_silence_ms=end_of_turn.silence_ms("free", ""),
            max_turn_s=settings.max_turn_s,
            min_dbfs=settings.min_dbfs,
        )

    @property
    def caller_speaking(self) -> bool:
        return self._detector.in_speech

    @property
    def ended_after_ms(self) -> float:
        """The silence that ended the last turn."""
        return self._detector.ended_after_ms

    def end_turn_soon(self) -> None:
        """The answer prepared at this pause shows the dialogue has what it asked: a shorter silence ends the turn
        (at once if it has already lasted that long). Nothing if the caller went on meanwhile."""
        shorter = self._end_of_turn.answered_silence_ms(self.expects)
        if self._tentative and shorter is not None and shorter < self._detector.end_silence_ms:
            self._detector.end_silence_ms = shorter

    async def run(self) -> None:
        audio, detector = self._audio, self._detector
        feed = _RecognitionFeed(self._recognizer.open_stream(audio.sample_rate))
        frame_size = frame_bytes(audio.sample_rate)
        turn_started = datetime.now(UTC)
        held: list[Transcript] = []  # pieces of the current turn recognised at pauses
        try:
            while True:
                frame = await audio.read_frame()
                if frame is None:
                    return
                self.frames_heard += 1
                if not detector.in_speech:
                    # The bot's own voice comes back on many lines: only a caller louder than it cuts in.
                    speaking = self._bot_speaking()
                    detector.min_dbfs = self._settings.barge_in_min_dbfs if speaking else self._settings.min_dbfs
                event = detector.push(frame)
                if event is TurnEvent.SPEECH_START:
                    turn_started = datetime.now(UTC)
                    detector.end_silence_ms = self._end_of_turn.silence_ms(self.expects, "")
                    self._on_onset()
                    pre_roll = detector.pre_roll()
                    feed.push(pre_roll)
                    self.frames_to_recogniser += len(pre_roll) // frame_size
                elif event is TurnEvent.SPEECH_END:
                    speech_ended = time.monotonic() - detector.ended_after_ms / 1000
                    pieces, started = held, turn_started
                    held, self._tentative = [], False
                    backlog_s = feed.stream.backlog_seconds

                    async def close(
                        last: Transcript,
                        pieces: list[Transcript] = pieces,
                        started: datetime = started,
                        ended: float = speech_ended,
                        backlog_s: float = backlog_s,
                    ) -> None:
                        await self._close_turn(join_transcripts([*pieces, last]), started, ended, backlog_s)

                    # Beside the loop: the caller's next frames are read (and barge-in heard) meanwhile.
                    feed.close_utterance(close)
                elif detector.in_speech:
                    feed.push(frame)
                    self.frames_to_recogniser += 1
                    if event is TurnEvent.PAUSE:
                        # The words so far; while an earlier pause's cut is still being recognised they cannot be
                        # asked, but this pause is cut all the same, after it (its answer prepared if the pieces
                        # hold words). None otherwise: the recogniser is behind, no adaptation, no answer ahead.
                        cutting = feed.cutting
                        heard = await feed.partial_soon()
                        if heard is not None:
                            detector.end_silence_ms = self._end_of_turn.silence_ms(self.expects, heard)
                        elif not cutting:
                            continue
                        if (heard or cutting) and self.preview and self._on_tentative_end is not None:
                            # Close the recognition here, so the answer can be prepared during the silence
                            # that confirms the end; if the caller goes on, the next piece joins this one. Beside
                            # the loop, as at the end of a turn: waiting here for a busy recogniser would hold
                            # back the frames that tell when the turn ends.
                            self._tentative = True
                            self._pauses += 1
                            feed.close_utterance(
                                functools.partial(
                                    self._paused,
                                    pieces=held,
                                    started=turn_started,
                                    ended=time.monotonic() - detector.silence_ms / 1000,
                                    pause=self._pauses,
                                )
                            )
                    elif event is TurnEvent.RESUME and self._tentative:
                        self._tentative = False
                        if self._on_resumed is not None:
                            self._on_resumed()
        finally:
            await feed.close()

    async def _paused(
        self, piece: Transcript, *, pieces: list[Transcript], started: datetime, ended: float, pause: int
    ) -> None:
        """The words up to a pause are recognised: they join the turn's pieces, and the turn as if it ended there
        goes to the session, unless the caller went on or the turn ended meanwhile."""
        pieces.append(piece)
        words = join_transcripts(pieces)
        if self._tentative and pause == self._pauses and words.text and self._on_tentative_end is not None:
            self._on_tentative_end(CallerTurn(words, started, datetime.now(UTC), ended))

    async def _close_turn(
        self, transcript: Transcript, started: datetime, speech_ended: float, backlog_s: float = 0.0
    ) -> None:
        # Sizes, confidence and timings only: the words themselves go to the store, not to the logs.
        log.info(
            "caller turn of %.1f s, %d words, confidence %.2f, ended by %.0f ms of silence, recognised %.0f ms after"
            " the speech (%.1f s of it still to decode at the end of the turn)",
            transcript.audio_seconds,
            len(transcript.text.split()),
            transcript.confidence,
            self._detector.ended_after_ms,
            (time.monotonic() - speech_ended) * 1000,
            backlog_s,
        )
        if transcript.text:
            await self._on_turn(CallerTurn(transcript, started, datetime.now(UTC), speech_ended))
        elif transcript.audio_seconds >= UNINTELLIGIBLE_MIN_S:
            await self._on_unintelligible()  # someone spoke but no word came out: re-ask now


PARTIAL_WAIT_S = 0.2  # at a pause, how long the loop waits for the words so far before it goes on without them
CLOSE_WAIT_S = 10.0  # at hang-up, how long the last turn may take to be recognised


class _RecognitionFeed:
    """The recogniser as the listening loop sees it: nothing here makes the loop wait long.

    Closing an utterance (the recogniser's finish) runs beside the loop; audio pushed meanwhile is held back and
    given to the recogniser once that utterance is cut, so it goes to the next one, in order.
    """

    def __init__(self, stream: RecognizerStream) -> None:
        self.stream = stream
        self._held: list[bytes] = []
        self._closing: asyncio.Task[None] | None = None

    @property
    def cutting(self) -> bool:
        """An utterance is being closed (recognised to its end) beside the loop."""
        return self._busy

    @property
    def _busy(self) -> bool:
        if self._closing is not None and self._closing.done() and not self._closing.cancelled():
            failure = self._closing.exception()
            if failure is not None:  # a recogniser that failed stops the listening, as it would inline
                raise failure
        return self._closing is not None and not self._closing.done()

    def push(self, pcm: bytes) -> None:
        if self._busy:
            self._held.append(pcm)
            return
        self._release(self._held)
        self._held = []
        self.stream.push(pcm)

    def _release(self, frames: list[bytes]) -> None:
        for pcm in frames:
            self.stream.push(pcm)

    def close_utterance(self, then: Callable[[Transcript], Awaitable[None]]) -> None:
        """Cut the utterance after everything pushed so far, and hand its transcript to `then`."""
        _ = self._busy  # raises the previous closing's failure, if any
        previous, mine = self._closing, self._held
        self._held = []  # what comes from now on belongs to the next utterance

        async def close() -> None:
            if previous is not None:
                await asyncio.wait({previous})
            self._release(mine)
            await then(await self.stream.finish())

        self._closing = asyncio.create_task(close(), name="listener-close-turn")
        # Its failure is raised at the next push or close; a listener stopped before either (the server stopping
        # with recognition still queued) must not leave "Task exception was never retrieved" behind.
        self._closing.add_done_callback(_mark_retrieved)

    async def partial_soon(self) -> str | None:
        """The words so far, or None if the recogniser cannot say within PARTIAL_WAIT_S (it is behind)."""
        if self._busy:
            return None
        asking = asyncio.create_task(self.stream.partial())
        done, _ = await asyncio.wait({asking}, timeout=PARTIAL_WAIT_S)
        if not done:
            asking.add_done_callback(_ignore_outcome)  # finishes in the background; nobody needs it now
            return None
        return asking.result().text

    async def close(self) -> None:
        if self._closing is not None:  # the caller's last words before hanging up still reach the record
            try:
                await asyncio.wait_for(asyncio.shield(self._closing), CLOSE_WAIT_S)
            except TimeoutError:
                log.warning("the last caller turn was not recognised within %.0f s", CLOSE_WAIT_S)
                self._closing.cancel()
            except Exception as error:  # the recogniser went away first (the server stopping): the call ends anyway
                log.warning("the last caller turn could not be recognised: %s", error)
        self.stream.close()


def _mark_retrieved(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


def _ignore_outcome(task: asyncio.Task[Hypothesis]) -> None:
    if not task.cancelled():
        task.exception()
