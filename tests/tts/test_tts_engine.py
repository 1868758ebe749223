"""The Piper engine's output: rates, pieces, repeatability, the prompt cache."""

import asyncio

import numpy as np
import pytest

from audio import Resampler
from tests.support.event_loop import loop_ticks
from tts import TtsEngine, Voice, speech_pieces
from tts.utterance import without_leading_silence

TWO_SENTENCES = "Hello, you are speaking with an automated assistant. How can I help you today?"


def seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


def rms(pcm: bytes) -> float:
    return float(np.sqrt(np.mean(np.frombuffer(pcm, dtype=np.int16).astype(np.float64) ** 2)))


async def test_one_chunk_per_piece_at_phone_rate(tts_engine: TtsEngine) -> None:
    assert speech_pieces(TWO_SENTENCES) == [
        "Hello,",
        "you are speaking with an automated assistant.",
        "How can I help you today?",
    ]
    chunks = [chunk async for chunk in tts_engine.stream(TWO_SENTENCES, 8000)]
    assert len(chunks) == 3
    for chunk in chunks:
        assert len(chunk) % 2 == 0
        assert 0.3 < seconds(chunk, 8000) < 6.0
        assert rms(chunk) > 1000  # Piper normalises: real speech, not silence


async def test_chunks_are_the_pieces_through_one_resampler(tts_engine: TtsEngine, voice: Voice) -> None:
    # Each piece is spoken alone, in order; one resampler runs over the whole reply, so its filter carries
    # over the joins (no click, no lost samples) exactly as if the pieces had been one recording.
    chunks = [chunk async for chunk in tts_engine.stream(TWO_SENTENCES, 8000)]
    native = [voice.speak(piece, tts_engine.synthesis) for piece in speech_pieces(TWO_SENTENCES)]
    native[0] = without_leading_silence(native[0], voice.sample_rate)  # the reply starts with the voice
    resampler = Resampler(voice.sample_rate, 8000)
    assert b"".join(chunks) == resampler.process(np.concatenate(native).astype("<i2").tobytes()) + resampler.flush()
    # Resampling each piece on its own would not give the same samples around the joins.
    apart = Resampler(voice.sample_rate, 8000)
    assert b"".join(chunks) != b"".join(apart.process(n.astype("<i2").tobytes()) + apart.flush() for n in native)


async def test_render_equals_the_streamed_chunks(tts_engine: TtsEngine) -> None:
    chunks = [chunk async for chunk in tts_engine.stream(TWO_SENTENCES, 8000)]
    assert await tts_engine.render(TWO_SENTENCES, 8000) == b"".join(chunks)


async def test_cut_at_a_comma_only_adds_a_short_pause(tts_engine: TtsEngine) -> None:
    # Spoken as one unit, "Hello, you are ..." has its own pause at the comma; cut there, each piece has
    # Piper's silence at its end and start instead: the reply lasts about as long.
    sentence = "Hello, you are speaking with an automated assistant."
    pieces = b"".join([c async for c in tts_engine.stream(sentence, 8000)])
    whole = await tts_engine.render("Hello you are speaking with an automated assistant.", 8000)
    assert seconds(pieces, 8000) == pytest.approx(seconds(whole, 8000), abs=0.4)


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
        # A cached text streams as one chunk, without synthesis.
        assert [c async for c in engine.stream(greeting, 8000)] == [first]
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


async def test_warm_renders_every_prompt(voice: Voice) -> None:
    engine = TtsEngine(voice, workers=2, cache_size=8)
    try:
        prompts = ["Hello.", "Please hold, I am transferring you.", "Goodbye."]
        await engine.warm(prompts, 8000)
        assert all(engine.cached(prompt, 8000) for prompt in prompts)
    finally:
        engine.close()


async def test_empty_text(tts_engine: TtsEngine) -> None:
    assert [c async for c in tts_engine.stream("   \n ", 8000)] == []
    assert await tts_engine.render("", 8000) == b""


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
    with pytest.raises(ValueError):
        await anext(tts_engine.stream("Hello.", -8000))


async def test_a_reply_starts_with_its_voice_not_with_the_voice_s_leading_silence(tts_engine: TtsEngine) -> None:
    first = await anext(tts_engine.stream("Bonjour, je vous écoute.", 8000))
    samples = np.abs(np.frombuffer(first, dtype="<i2").astype(np.int32))
    onset = int(np.flatnonzero(samples > 330)[0])
    assert onset <= 8000 * 0.015  # 10 ms kept before the voice (the real voice starts 30-70 ms in)


def test_leading_silence_is_dropped_but_never_the_voice() -> None:
    voice = np.concatenate([np.zeros(800, dtype=np.int16), np.full(400, 3000, dtype=np.int16)])
    assert len(without_leading_silence(voice, 16000)) == 400 + 160  # 10 ms of lead kept
    quiet = np.zeros(500, dtype=np.int16)
    assert len(without_leading_silence(quiet, 16000)) == 500  # nothing but silence: left as it is
