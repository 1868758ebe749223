import asyncio

import numpy as np
import pytest

from tests.support.event_loop import loop_ticks
from tts import TtsEngine, Voice, split_sentences

TWO_SENTENCES = "Hello, you are speaking with an automated assistant. How can I help you today?"


def seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


def rms(pcm: bytes) -> float:
    return float(np.sqrt(np.mean(np.frombuffer(pcm, dtype=np.int16).astype(np.float64) ** 2)))


async def test_one_chunk_per_sentence_at_phone_rate(tts_engine: TtsEngine) -> None:
    chunks = [chunk async for chunk in tts_engine.synthesize(TWO_SENTENCES, 8000)]
    assert len(chunks) == 2
    for chunk in chunks:
        assert len(chunk) % 2 == 0
        assert 0.8 < seconds(chunk, 8000) < 6.0
        assert rms(chunk) > 1000  # Piper normalises: real speech, not silence
    # In order: each chunk is its sentence spoken alone.
    assert chunks[0] == await tts_engine.render("Hello, you are speaking with an automated assistant.", 8000)
    assert chunks[1] == await tts_engine.render("How can I help you today?", 8000)


async def test_render_equals_the_streamed_sentences(tts_engine: TtsEngine) -> None:
    chunks = [chunk async for chunk in tts_engine.synthesize(TWO_SENTENCES, 8000)]
    assert await tts_engine.render(TWO_SENTENCES, 8000) == b"".join(chunks)


async def test_resampled_to_the_requested_rate(tts_engine: TtsEngine, voice: Voice) -> None:
    text = "The street light is broken."
    native = await tts_engine.render(text, voice.sample_rate)
    phone = await tts_engine.render(text, 8000)
    wide = await tts_engine.render(text, 16000)
    assert seconds(phone, 8000) == pytest.approx(seconds(native, voice.sample_rate), abs=0.01)
    assert seconds(wide, 16000) == pytest.approx(seconds(native, voice.sample_rate), abs=0.01)
    # At 8 kHz nothing is left above the 4 kHz Nyquist limit: energy is kept, not aliased away.
    assert rms(phone) == pytest.approx(rms(native), rel=0.25)


async def test_default_piper_settings_are_not_repeatable(voice: Voice) -> None:
    # The finding this exposes: Piper draws noise (noise_scale, noise_w) on every call.
    natural = TtsEngine(voice, workers=1, cache_size=0)
    try:
        first = await natural.render("There is a pothole in my street.", 8000)
        second = await natural.render("There is a pothole in my street.", 8000)
        assert first != second
    finally:
        natural.close()


async def test_repeatable_settings_give_identical_audio(tts_engine: TtsEngine) -> None:
    first = await tts_engine.render("There is a pothole in my street.", 8000)
    second = await tts_engine.render("There is a pothole in my street.", 8000)
    assert first == second
    assert first is not second  # cache_size=0: really synthesised twice


async def test_prompt_cache(voice: Voice) -> None:
    engine = TtsEngine(voice, workers=2, cache_size=2)
    try:
        greeting = "Hello. This is the automated assistant."
        await engine.warm([greeting], 8000)
        assert engine.cached(greeting, 8000) and not engine.cached(greeting, 16000)
        first = await engine.render(greeting, 8000)
        assert await engine.render(greeting, 8000) is first
        await engine.render("One.", 8000)
        await engine.render(greeting, 8000)  # touched: now the most recent
        await engine.render("Two.", 8000)
        assert engine.cached(greeting, 8000) and engine.cached("Two.", 8000)
        assert not engine.cached("One.", 8000)
        # Two callers asking for the same prompt at once share one synthesis.
        a, b = await asyncio.gather(engine.render("Three.", 8000), engine.render("Three.", 8000))
        assert a is b
    finally:
        engine.close()


async def test_empty_text(tts_engine: TtsEngine) -> None:
    assert [c async for c in tts_engine.synthesize("   \n ", 8000)] == []
    assert await tts_engine.render("", 8000) == b""


async def test_stopping_early_for_barge_in(tts_engine: TtsEngine) -> None:
    text = "First sentence. Second sentence. Third sentence. Fourth sentence."
    stream = tts_engine.synthesize(text, 8000)
    first = await anext(stream)
    await stream.aclose()
    assert first
    # The engine is still usable afterwards.
    assert await tts_engine.render("Still here.", 8000)


async def test_synthesis_does_not_block_the_event_loop(tts_engine: TtsEngine) -> None:
    async with loop_ticks() as ticks:
        await tts_engine.render("A rather long sentence about a broken bench near the old harbour of Marseille.", 8000)
    assert ticks.count > 1


async def test_bad_arguments(voice: Voice, tts_engine: TtsEngine) -> None:
    with pytest.raises(ValueError):
        TtsEngine(voice, workers=0, cache_size=1)
    with pytest.raises(ValueError):
        TtsEngine(voice, workers=1, cache_size=-1)
    with pytest.raises(ValueError):
        await tts_engine.render("Hello.", 0)


def test_sentence_splitting_french() -> None:
    text = (
        "Bonjour ! Vous êtes en ligne avec l'assistant automatique de la Métropole.\n"
        "M. Dupont vous rappellera ; merci. Quel est le problème ?"
    )
    assert split_sentences(text) == [
        "Bonjour !",
        "Vous êtes en ligne avec l'assistant automatique de la Métropole.",
        "M. Dupont vous rappellera ;",
        "merci.",
        "Quel est le problème ?",
    ]
    assert split_sentences("Il fait 3.5 degrés") == ["Il fait 3.5 degrés"]
    assert split_sentences("") == []
