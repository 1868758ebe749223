"""The fake synthesiser other stages test with: it keeps the Synthesizer contract."""

from __future__ import annotations

import asyncio
import contextlib

from tts import FakeSynthesizer, Synthesizer, TtsEngine, speech_pieces

TEXT = "Bonjour, vous êtes en relation avec le service de la propreté de la ville. Où est le problème ?"


def test_both_implementations_satisfy_the_protocol(tts_engine: TtsEngine) -> None:
    # Checked by mypy: a typed assignment of each to the Protocol.
    fake: Synthesizer = FakeSynthesizer()
    real: Synthesizer = tts_engine
    assert fake is not real


async def test_pieces_like_the_engine_and_length_follows_the_text() -> None:
    fake = FakeSynthesizer(seconds_per_char=0.01)
    chunks = [c async for c in fake.stream(TEXT, 8000)]
    pieces = speech_pieces(TEXT)
    assert len(chunks) == len(pieces)
    assert [len(c) for c in chunks] == [round(len(p) * 0.01 * 8000) * 2 for p in pieces]
    assert b"".join(chunks) == fake.expected(TEXT, 8000)
    # Deterministic, and different texts sound different.
    assert FakeSynthesizer(seconds_per_char=0.01).expected(TEXT, 8000) == fake.expected(TEXT, 8000)
    assert fake.chunk("Oui.", 8000) != fake.chunk("Non.", 8000)


async def test_records_requests_and_early_closing() -> None:
    fake = FakeSynthesizer()
    async with contextlib.aclosing(fake.stream(TEXT, 8000)) as stream:
        await anext(stream)
    whole = await fake.render("Merci.", 16000)
    assert whole == fake.expected("Merci.", 16000)
    assert fake.texts == [TEXT, "Merci."]
    streamed, rendered = fake.requests
    assert (streamed.kind, streamed.sample_rate, streamed.chunks) == ("stream", 8000, 1)
    assert streamed.closed_early and not streamed.finished
    assert rendered.kind == "render" and rendered.finished and not rendered.closed_early


async def test_cache_and_warm() -> None:
    fake = FakeSynthesizer()
    await fake.warm(["Au revoir."], 8000)
    assert fake.cached("Au revoir.", 8000) and not fake.cached("Au revoir.", 16000)
    await fake.render("Au revoir.", 8000)
    assert fake.texts == ["Au revoir."]  # the second render came from the cache
    # Streamed, a cached text comes as one chunk, as from the engine.
    text = "Merci de patienter. Au revoir."
    await fake.render(text, 8000)
    assert [c async for c in fake.stream(text, 8000)] == [fake.expected(text, 8000)]


async def test_chunk_delay_and_cancellation() -> None:
    fake = FakeSynthesizer(chunk_delay=0.05)
    loop = asyncio.get_running_loop()
    began = loop.time()
    chunks = [c async for c in fake.stream(TEXT, 8000)]
    assert loop.time() - began >= 0.05 * len(chunks)

    async def consume() -> None:
        async for _chunk in fake.stream(TEXT, 8000):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.07)  # inside the second chunk's delay
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert fake.requests[-1].chunks == 1 and fake.requests[-1].closed_early
