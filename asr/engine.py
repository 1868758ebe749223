"""Vosk recognition for every call on one shared thread pool, so the event loop never runs Vosk."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from asr.decoder import Decoder
from asr.model import SpeechModel
from asr.recognizer_pool import RecognizerPool
from asr.stream import Hypothesis
from asr.transcript import Transcript
from audio import SAMPLE_WIDTH

log = logging.getLogger(__name__)

# A new recogniser's first 4.5 s utterance: 1.66 s CPU; after 1 s of other speech 0.96 s, 2 s 0.85, 4 s 0.78, 8 s 0.80
# (Korean demo model, 2026-12-06): a few seconds warm what any speech needs, the rest depends on the words.
PREWARM_SPEECH_S = 3.0
_MAX_JOB_BLOCKS = 10  # a stream that fell behind decodes at most 1 s per job, so the others get their turn


class VoskRecognizer:
    """Owns the thread pool every call's audio is decoded on, and the recognisers kept between utterances.

    A Vosk decoding call runs on one thread (Kaldi here has no intra-op threads), so `workers` is the number
    of streams decoding at once: the cores given to recognition.
    """

    def __init__(
        self,
        model: SpeechModel,
        workers: int,
        *,
        idle_recognizers: int | None = None,
        linger_s: float = 60.0,
        max_backlog_s: float = 10.0,
        after_free: Callable[[], object] | None = None,
    ) -> None:
        """`idle_recognizers` (default: `workers`) stay ready when no one speaks; more are freed after `linger_s`.

        `after_free` runs once idle recognisers are freed (callbot.memory.release_free_memory gives the memory
        back to the system). A stream more than `max_backlog_s` behind is logged and counted in `overflows`;
        its audio is kept.
        """
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if max_backlog_s <= 0:
            raise ValueError(f"max_backlog_s must be positive, got {max_backlog_s}")
        self.model = model
        self.max_backlog_s = max_backlog_s
        self.overflows = 0  # streams that went over max_backlog_s
        keep = workers if idle_recognizers is None else idle_recognizers
        self.recognizers = RecognizerPool(model, keep, linger_s, after_free)
        self._after_free = after_free
        self._warm_speech = b""  # what fresh recognisers are warmed on (prewarm)
        self._warm_rate = model.sample_rate
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asr")
        self._tidy_due: asyncio.TimerHandle | None = None  # one tidy at a time: due, or running (_tidying)
        self._tidy_loop: asyncio.AbstractEventLoop | None = None
        self._tidying = False
        self._closed = False

    def open_stream(self, input_rate: int) -> VoskStream:
        return VoskStream(self, input_rate)

    async def prewarm(self, count: int, speech: bytes = b"", sample_rate: int = 8000) -> None:
        """Build `count` recognisers ahead of the first calls (off the event loop) and decode `speech` (PCM16 at
        `sample_rate`) through each: a new recogniser expands its decoding graph as it decodes, so its first
        utterance costs 2-5x the CPU of a used one's (benchmarks/asr_speed.py); a first round of callers
        speaking at once must not pay it. The first PREWARM_SPEECH_S of any speech warm the part every utterance
        needs (more speech helped no further); the words themselves are expanded as callers say them, so new words
        still cost about three times what the same audio costs again. None: built only. The same speech warms
        the fresh recognisers that replace grown ones after a burst."""
        self._warm_speech = speech[: int(PREWARM_SPEECH_S * sample_rate) * SAMPLE_WIDTH]
        self._warm_rate = sample_rate
        # Without speech a replacement would be as cold as a new one: grown ones are then kept.
        self.recognizers.refresh_grown = bool(self._warm_speech)
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self.executor, self._add_fresh) for _ in range(count)))

    def _add_fresh(self) -> None:
        """In a pool thread: build a recogniser, warm it, then put it in the pool, out of every stream's reach
        until it is warm."""
        recognizer = self.recognizers.build()
        # Decoded as a caller's utterance is and closed the same way, in a pool of its own.
        aside = RecognizerPool(self.model, keep=1, linger_s=0.0)
        Decoder(aside, self.model.sample_rate, self._warm_rate, lease=recognizer).finish(self._warm_speech)
        if not self._closed:  # else the pool was cleared: this one is freed here
            self.recognizers.adopt(recognizer)

    def close(self) -> None:
        """Stop the pool once running jobs end; streams fail from then on."""
        self._closed = True
        if self._tidy_due is not None:
            self._tidy_due.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.recognizers.clear()

    def _recognizer_released(self) -> None:
        """On the loop, after a stream gave a recogniser back: tidy the pool once it has lingered."""
        if self._closed or self._tidying or not self.recognizers.untidy:
            return
        loop = asyncio.get_running_loop()
        if self._tidy_due is not None and self._tidy_loop is loop:
            return  # already due
        self._tidy_loop = loop
        self._tidy_due = loop.call_later(self.recognizers.linger_s, self._tidy)

    def _tidy(self) -> None:
        self._tidy_due = None
        if self._closed:
            return
        try:
            job = asyncio.get_running_loop().run_in_executor(self.executor, self._tidy_once)
        except RuntimeError:
            return  # engine closed
        self._tidying = True
        job.add_done_callback(self._tidied)

    def _tidy_once(self) -> bool:
        """In a pool thread: free the surplus that lingered, then replace one grown recogniser that lingered by
        a fresh warmed one (one per job: the calls' decoding jobs queue between them). True if one was."""
        self.recognizers.evict_stale()
        grown = self.recognizers.take_grown()
        if grown is None:
            return False
        del grown  # the last reference: Vosk frees it before its replacement is built
        self._add_fresh()
        if self._after_free is not None:
            self._after_free()
        return True

    def _tidied(self, job: asyncio.Future[bool]) -> None:
        self._tidying = False
        if job.cancelled() or self._closed:
            return
        error = job.exception()
        if error is not None:
            log.error("tidying the recogniser pool failed: %r", error)
        elif job.result():
            self._tidy()  # the next grown one, as a new job behind the calls' queued ones
            return
        self._recognizer_released()  # the younger ones, later


@dataclass
class _Decode:
    pcm: bytearray  # whole blocks


@dataclass
class _Finish:
    pcm: bytes  # the utterance's last bytes, up to a block
    done: asyncio.Future[Transcript]


@dataclass
class _Barrier:
    done: asyncio.Future[Hypothesis]


@dataclass
class _Release:
    pass


_Work = _Decode | _Finish | _Barrier | _Release


@dataclass
class _Counters:
    pushed: int = 0
    decoded: int = 0
    overflow: int = 0  # bytes pushed while more than max_backlog_s behind
    warned: bool = False


class VoskStream:
    """A RecognizerStream on Vosk: push() queues work, a task per stream runs it on the pool, in order.

    Whole 100 ms blocks go to the pool as soon as they are complete; one job at a time per stream keeps
    the decoding order, and a thread round trip per 20 ms frame would be wasted.
    """

    def __init__(self, engine: VoskRecognizer, input_rate: int) -> None:
        if input_rate <= 0:
            raise ValueError(f"input_rate must be positive, got {input_rate}")
        self.input_rate = input_rate
        self._engine = engine
        self._decoder = Decoder(engine.recognizers, engine.model.sample_rate, input_rate)
        self._block = self._decoder.block_bytes
        self._open = bytearray()  # pushed, not a whole block yet
        self._work: deque[_Work] = deque()
        self._pump: asyncio.Task[None] | None = None
        self._hypothesis = Hypothesis()
        self._hypothesis_at = 0  # decoded_bytes when _hypothesis was taken
        self._count = _Counters()
        self._error: BaseException | None = None
        self._closed = False

    @property
    def pushed_bytes(self) -> int:
        return self._count.pushed

    @property
    def decoded_bytes(self) -> int:
        return self._count.decoded

    @property
    def overflow_bytes(self) -> int:
        return self._count.overflow

    @property
    def backlog_seconds(self) -> float:
        return (self._count.pushed - self._count.decoded) / SAMPLE_WIDTH / self.input_rate

    @property
    def cpu_seconds(self) -> float:
        """CPU time the pool spent on this stream (recogniser construction included)."""
        return self._decoder.cpu_seconds

    def push(self, pcm: bytes) -> None:
        if len(pcm) % SAMPLE_WIDTH:
            raise ValueError(f"PCM16 needs an even number of bytes, got {len(pcm)}")
        self._check_usable()
        self._count.pushed += len(pcm)
        self._open += pcm
        whole = len(self._open) - len(self._open) % self._block
        if whole:
            self._queue_blocks(self._open[:whole])
            del self._open[:whole]
            self._start_pump()
        if self.backlog_seconds > self._engine.max_backlog_s:
            self._note_overflow(len(pcm))

    async def feed(self, pcm: bytes) -> None:
        """Transition only, for callers that still await it: push() now, so this returns at once."""
        self.push(pcm)

    async def partial(self) -> Hypothesis:
        self._check_usable()
        if self._pump is None and self._hypothesis_at == self._count.decoded:
            return self._hypothesis  # nothing decoded since: no trip to the pool
        done: asyncio.Future[Hypothesis] = asyncio.get_running_loop().create_future()
        self._work.append(_Barrier(done))
        self._start_pump()
        return await done

    async def finish(self) -> Transcript:
        self._check_usable()
        done: asyncio.Future[Transcript] = asyncio.get_running_loop().create_future()
        self._work.append(_Finish(bytes(self._open), done))
        self._open.clear()
        self._start_pump()
        return await done

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._fail_waiting(RuntimeError("AsrStream is closed"))
        self._open.clear()
        self._work.append(_Release())
        try:
            self._start_pump()
        except RuntimeError:
            # No running loop: nothing can be in flight either, so the recogniser is given back here.
            if self._pump is None:
                self._decoder.release()

    def _queue_blocks(self, pcm: bytearray) -> None:
        last = self._work[-1] if self._work else None  # never the job in flight: that one left the queue
        if isinstance(last, _Decode) and len(last.pcm) + len(pcm) <= _MAX_JOB_BLOCKS * self._block:
            last.pcm += pcm
        else:
            self._work.append(_Decode(bytearray(pcm)))

    def _start_pump(self) -> None:
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._work:
                item = self._work.popleft()
                try:
                    await self._do(loop, item)
                except Exception as error:
                    if not isinstance(item, _Release):
                        self._error = error
                        _fail(item, error)
                        self._fail_waiting(error)
        finally:
            self._pump = None

    async def _do(self, loop: asyncio.AbstractEventLoop, item: _Work) -> None:
        if isinstance(item, _Decode):
            pcm = bytes(item.pcm)
            await loop.run_in_executor(self._engine.executor, self._decoder.feed, pcm)
            self._count.decoded += len(pcm)
        elif isinstance(item, _Finish):
            transcript = await loop.run_in_executor(self._engine.executor, self._decoder.finish, item.pcm)
            self._count.decoded += len(item.pcm)
            self._hypothesis, self._hypothesis_at = Hypothesis(), self._count.decoded
            if not item.done.done():
                item.done.set_result(transcript)
            self._engine._recognizer_released()
        elif isinstance(item, _Barrier):
            if self._hypothesis_at != self._count.decoded:
                decoded = self._count.decoded
                self._hypothesis = await loop.run_in_executor(self._engine.executor, self._decoder.hypothesis)
                self._hypothesis_at = decoded
            if not item.done.done():
                item.done.set_result(self._hypothesis)
        else:
            await loop.run_in_executor(self._engine.executor, self._decoder.release)
            self._engine._recognizer_released()

    def _fail_waiting(self, error: BaseException) -> None:
        for item in self._work:
            _fail(item, error)
        # A release still runs: the recogniser goes back to the pool whatever happened.
        self._work = deque(item for item in self._work if isinstance(item, _Release))

    def _note_overflow(self, size: int) -> None:
        self._count.overflow += size
        if not self._count.warned:
            self._count.warned = True
            self._engine.overflows += 1
            log.warning(
                "ASR stream %.1f s behind (limit %.0f s): audio kept, decoded late; more workers needed",
                self.backlog_seconds,
                self._engine.max_backlog_s,
            )

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError("AsrStream is closed")
        if self._error is not None:
            raise RuntimeError("AsrStream failed") from self._error


def _fail(item: _Work, error: BaseException) -> None:
    if isinstance(item, _Finish | _Barrier) and not item.done.done():
        item.done.set_exception(error)


AsrEngine = VoskRecognizer  # the name callbot/server.py, the benchmarks and the tests know
AsrStream = VoskStream
