"""Streaming with the real voice: first sound early, later pieces behind it, barge-in, calls in parallel."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import pytest

from tests.tts.recording_voice import RecordingVoice
from tts import TtsEngine, Voice, repeatable_synthesis, speech_pieces

# One long sentence in two clauses: the first piece is the short first clause.
TWO_CLAUSES = (
    "Hello, you are speaking with the automated assistant of the city, "
    "and I can take your report about a broken street light or a damaged bench."
)
SIX_SENTENCES = "One is here. Two is here. Three is here. Four is here. Five is here. Six is here."


@pytest.fixture
def recording(voice: Voice) -> RecordingVoice:
    return RecordingVoice.of(voice)


@pytest.fixture
def engine(recording: RecordingVoice) -> Iterator[TtsEngine]:
    engine = TtsEngine(recording, workers=2, cache_size=0, synthesis=repeatable_synthesis())
    yield engine
    engine.close()


async def test_first_chunk_comes_after_one_piece(engine: TtsEngine, recording: RecordingVoice) -> None:
    pieces = speech_pieces(TWO_CLAUSES)
    assert len(pieces) == 3 and pieces[0] == "Hello,"
    stream = engine.stream(TWO_CLAUSES, 8000)
    first = await anext(stream)
    # Handed out once the first piece is synthesised, while the rest is not: the second piece started with
    # the first, the third was asked for when the first was done.
    assert first
    ended = [call.text for call in recording.calls if call.ended]
    assert ended[0] == pieces[0] and pieces[2] not in ended
    assert recording.texts == pieces[: len(recording.texts)]
    rest = [chunk async for chunk in stream]
    assert len(rest) == 2
    assert recording.texts == pieces


async def test_first_chunk_sooner_than_the_whole_text(engine: TtsEngine) -> None:
    async def first_chunk() -> float:
        began = time.perf_counter()
        async with contextlib.aclosing(engine.stream(TWO_CLAUSES, 8000)) as stream:
            await anext(stream)
        return time.perf_counter() - began

    async def whole() -> float:
        began = time.perf_counter()
        await engine.render(TWO_CLAUSES, 8000)
        return time.perf_counter() - began

    await whole()  # warm-up
    # Best of three each, so another process taking the CPU for a moment cannot decide it. "Hello," is about
    # a tenth of the speech: a margin of 2x leaves room for the fixed cost of a synthesis.
    first = min([await first_chunk() for _ in range(3)])
    total = min([await whole() for _ in range(3)])
    assert first < total / 2, (first, total)


async def test_closing_after_the_first_chunk_stops_synthesis(engine: TtsEngine, recording: RecordingVoice) -> None:
    pieces = speech_pieces(SIX_SENTENCES)
    assert len(pieces) == 6
    stream = engine.stream(SIX_SENTENCES, 8000)
    await anext(stream)
    began = time.perf_counter()
    await stream.aclose()
    assert time.perf_counter() - began < 0.05  # does not wait for the pieces being synthesised
    await engine.render("Done.", 8000)  # the pool has gone on to other work
    await asyncio.sleep(0.3)
    # Two pieces are in flight when the first is handed out (the second and third); the rest never starts.
    spoken = [text for text in recording.texts if text != "Done."]
    assert spoken == pieces[: len(spoken)] and 1 <= len(spoken) <= 3


async def test_cancelled_consumer_returns_at_once(engine: TtsEngine, recording: RecordingVoice) -> None:
    recording.gate.clear()  # the syntheses start, then hold

    async def consume() -> None:
        async with contextlib.aclosing(engine.stream(SIX_SENTENCES, 8000)) as stream:
            async for _chunk in stream:
                pass

    task = asyncio.create_task(consume())
    assert await asyncio.to_thread(recording.started.wait, 5)
    task.cancel()
    began = time.perf_counter()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - began < 0.05  # the syntheses still hold: they are not waited for
    recording.gate.set()
    await engine.render("Done.", 8000)
    # The first two pieces were in flight; nothing was asked after the cancellation.
    spoken = [text for text in recording.texts if text != "Done."]
    assert spoken == speech_pieces(SIX_SENTENCES)[: len(spoken)] and 1 <= len(spoken) <= 2


async def test_two_calls_synthesise_in_parallel(engine: TtsEngine, recording: RecordingVoice) -> None:
    one = "The bench in the park near the school has been broken for three weeks now."
    other = "The street light at the corner of the avenue stays off every night."
    streams = [[c async for c in engine.stream(text, 8000)] for text in (one, other)]  # alone, for reference
    recording.calls.clear()

    async def collect(text: str) -> list[bytes]:
        return [chunk async for chunk in engine.stream(text, 8000)]

    together = await asyncio.gather(collect(one), collect(other))
    assert list(together) == streams  # the same audio as alone: one shared ONNX session is thread-safe
    first, second = recording.calls
    assert first.thread != second.thread
    # Both were inside the voice at the same time.
    assert max(first.started, second.started) < min(first.ended, second.ended)


async def test_one_worker_serves_two_calls_in_turn(voice: Voice) -> None:
    engine = TtsEngine(voice, workers=1, cache_size=0, synthesis=repeatable_synthesis())
    try:
        texts = ["Hello, this is the assistant. How can I help?", "Where is the problem, please?"]
        alone = [b"".join([c async for c in engine.stream(text, 8000)]) for text in texts]
        together = await asyncio.gather(*(engine.render(text, 8000) for text in texts))
        assert together == alone
    finally:
        engine.close()


async def test_later_pieces_wait_for_the_audio_before_them(engine: TtsEngine) -> None:
    # The deadline of a piece is when the caller would run out of audio without it: the first is due at
    # once; the next after the (estimated) first; the third after the first, as received, and the second
    # (estimated). A new call's first piece goes before them.
    deadlines: list[float] = []
    submit = engine._pool.submit

    def recording_submit(deadline: float, job: object) -> object:
        deadlines.append(deadline)
        return submit(deadline, job)  # type: ignore[arg-type]

    engine._pool.submit = recording_submit  # type: ignore[method-assign,assignment]
    pieces = speech_pieces(TWO_CLAUSES)
    loop = asyncio.get_running_loop()
    pace = engine._pace
    guess = pace.seconds(pieces[0])
    asked = loop.time()
    stream = engine.stream(TWO_CLAUSES, 8000)
    first = await anext(stream)
    received = loop.time()
    await stream.aclose()
    assert len(deadlines) == 3
    assert asked <= deadlines[0] <= received
    assert deadlines[1] == pytest.approx(deadlines[0] + guess, abs=0.01)
    first_s = len(first) / 2 / 8000  # short of the piece by the resampler's delay (its tail comes later)
    assert deadlines[2] == pytest.approx(received + first_s + pace.seconds(pieces[1]), abs=0.1)
    # The pace it estimates with is the voice's own (learnt from the first piece).
    assert pace.seconds(pieces[0]) != guess


async def test_a_call_s_speech_goes_before_the_cache_warm_up(recording: RecordingVoice) -> None:
    # The server warms its prompts on after the first calls are answered: a caller must not wait behind it.
    engine = TtsEngine(recording, workers=1, cache_size=8, synthesis=repeatable_synthesis())
    try:
        recording.gate.clear()
        prompts = ["First prompt.", "Second prompt.", "Third prompt.", "Fourth prompt."]
        warming = asyncio.create_task(engine.warm(prompts, 8000))
        assert await asyncio.to_thread(recording.started.wait, 10)  # the one worker is busy with a prompt
        stream = engine.stream("The caller's answer.", 8000)
        first = asyncio.create_task(anext(stream))
        await asyncio.sleep(0.05)  # the call's piece is queued behind the running one
        recording.gate.set()
        assert await first
        await stream.aclose()
        await warming
        assert recording.texts[:2] == [prompts[0], "The caller's answer."], recording.texts
        assert all(engine.cached(prompt, 8000) for prompt in prompts)
    finally:
        engine.close()
