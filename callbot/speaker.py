"""The bot's voice on one call: messages are synthesised and played back to back, and stop at once when told.

`say()` queues a message and returns; one task synthesises each message in turn and queues its audio on the
line as it comes (fixed prompts from the synthesiser's cache, other text chunk by chunk), so the next message
is ready before the current one ends and a reply has no holes. `interrupt()` (the caller cut in, pressed a
key, hung up) cancels the synthesis under way, drops the audio not yet sent and every message still queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from callbot import tracing
from callbot.audio import AudioPort
from tts.stream import Synthesizer

log = logging.getLogger(__name__)

# The next message is synthesised once the line has at most this much audio left to play: enough to have it
# ready in time (a sentence takes well under a second), little enough that a barge-in wastes little work and
# the transcript does not list messages the caller never had a chance to hear.
LOOKAHEAD_S = 1.5


class PreparedSpeech:
    """A message synthesised ahead (during the caller's pause): its chunks are kept as they come, and played from
    the first one on as soon as the answer is given, the rest following as it is synthesised."""

    def __init__(self, chunks: AsyncGenerator[bytes]) -> None:
        self._chunks: list[bytes] = []
        self._more = asyncio.Event()
        self._finished = False
        self._failure: BaseException | None = None
        self._task = asyncio.create_task(self._pull(chunks), name="tts-ahead")

    async def _pull(self, chunks: AsyncGenerator[bytes]) -> None:
        try:
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    self._chunks.append(chunk)
                    self._more.set()
        except Exception as error:  # given to whoever plays it
            self._failure = error
        finally:
            self._finished = True
            self._more.set()

    async def chunks(self) -> AsyncIterator[bytes]:
        index = 0
        while True:
            if index < len(self._chunks):
                index += 1
                yield self._chunks[index - 1]
                continue
            if self._finished:
                if self._failure is not None:
                    raise self._failure
                return
            self._more.clear()
            await self._more.wait()

    def cancel(self) -> None:
        self._task.cancel()

    async def closed(self) -> None:
        """Until the synthesis is over (finished or cancelled)."""
        await asyncio.gather(self._task, return_exceptions=True)


@dataclass(frozen=True)
class Message:
    text: str
    interruptible: bool
    prepared: PreparedSpeech | None = None  # its audio, already being synthesised
    turn: tracing.Turn | None = None  # the caller turn it answers: that trace waits for its synthesis


class Speaker:
    def __init__(
        self,
        audio: AudioPort,
        synthesizer: Synthesizer,
        before_speaking: Callable[[str], Awaitable[None]],
        on_error: Callable[[BaseException], None],
        on_audio: Callable[[], None] | None = None,
    ) -> None:
        """`before_speaking(text)` runs before a message's first sound (the transcript is written first);
        `on_error` hears of a message that could not be spoken (a mute call must end, not go on in silence);
        `on_audio` of each message's first audio on the line."""
        self._audio = audio
        self._synthesizer = synthesizer
        self._before_speaking = before_speaking
        self._on_error = on_error
        self._on_audio = on_audio or (lambda: None)
        self._queue: deque[Message] = deque()
        self._current: Message | None = None
        self._work: asyncio.Task[None] | None = None
        self._synthesis: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.interruptions = 0

    def start(self) -> None:
        self._work = asyncio.create_task(self._run(), name="speaker")

    async def close(self) -> None:
        self.interrupt(force=True)
        if self._work is not None:
            self._work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._work

    def say(
        self,
        text: str,
        interruptible: bool = True,
        prepared: PreparedSpeech | None = None,
        turn: tracing.Turn | None = None,
    ) -> None:
        if turn is not None:
            turn.hold()
        self._queue.append(Message(text, interruptible, prepared, turn))
        self._idle.clear()
        self._wake.set()

    @property
    def speaking(self) -> bool:
        """A message is being synthesised or played, or waits its turn."""
        return not self._idle.is_set()

    @property
    def saying(self) -> str | None:
        """The message being synthesised or played (the last one, until the line has played it out)."""
        return self._current.text if self._current is not None and self.speaking else None

    @property
    def interruptible(self) -> bool:
        """Whether the caller's voice may cut what is being said now (the disclosure and farewells may not)."""
        return self._current is None or self._current.interruptible

    def interrupt(self, force: bool = False) -> bool:
        """Stop now: what is playing, what is being synthesised, what is queued. False if nothing was cut
        (silent already, or an uninterruptible message and not `force`)."""
        if not self.speaking or not (force or self.interruptible):
            return False
        self.interruptions += 1
        for message in self._queue:  # never to be synthesised: their turns' traces need not wait
            tracing.release(message.turn)
        self._queue.clear()
        self._audio.clear_playback()
        if self._synthesis is not None:
            self._synthesis.cancel()
        return True

    async def wait_done(self) -> None:
        """Until everything said is played out (or cut)."""
        await self._idle.wait()

    # ---- the one task that speaks ------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self._until_needed()
                if not self._queue:  # interrupted meanwhile
                    break
                message = self._queue.popleft()
                self._current = message
                synthesis = asyncio.create_task(self._speak(message), name="speaker-message")
                self._synthesis = synthesis
                try:
                    await asyncio.wait({synthesis})  # an interrupt cancels the message, not this task
                except asyncio.CancelledError:
                    synthesis.cancel()
                    raise
                finally:
                    self._synthesis = None
                    tracing.release(message.turn)
                if not synthesis.cancelled() and synthesis.exception() is not None:
                    self._queue.clear()
                    self._on_error(synthesis.exception())  # type: ignore[arg-type]
            # Everything queued has been synthesised: idle once the line has played it out (or it was cut).
            played = asyncio.create_task(self._audio.wait_played())
            woken = asyncio.create_task(self._wake.wait())
            try:
                await asyncio.wait({played, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                played.cancel()
                woken.cancel()
            if not self._queue:
                self._current = None
                self._idle.set()

    async def _until_needed(self) -> None:
        while self._queue:
            ahead = self._audio.playback_pending() - LOOKAHEAD_S
            if ahead <= 0:
                return
            await asyncio.sleep(max(0.02, ahead))

    async def _speak(self, message: Message) -> None:
        await self._before_speaking(message.text)
        with tracing.stage(message.turn, "tts") as traced:
            await self._synthesise(message, traced)

    async def _synthesise(self, message: Message, traced: tracing.Stage) -> None:
        rate = self._audio.sample_rate
        if message.prepared is not None:
            first = True
            try:
                async for chunk in message.prepared.chunks():
                    self._audio.play(chunk)
                    if first:
                        self._first_audio(traced, "prepared")
                        first = False
            finally:
                message.prepared.cancel()  # cut short (a barge-in): the rest is not synthesised for nothing
            return
        if self._synthesizer.cached(message.text, rate):
            self._audio.play(await self._synthesizer.render(message.text, rate))
            self._first_audio(traced, "cache")
            return
        first = True
        async with contextlib.aclosing(self._synthesizer.stream(message.text, rate)) as chunks:
            async for chunk in chunks:
                self._audio.play(chunk)
                if first:
                    self._first_audio(traced, "stream")
                    first = False

    def _first_audio(self, traced: tracing.Stage, source: str) -> None:
        traced.first_audio(source)
        self._on_audio()
