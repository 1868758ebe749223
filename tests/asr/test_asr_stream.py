import asyncio
from collections.abc import Callable

import numpy as np
import pytest

from asr import AsrEngine, Transcript
from tests.asr.transcripts import assert_same_transcript

PHONE_CLIP = "june_check-number-dial-again.wav"  # 8 kHz French IVR prompt
COMMAND_CLIP = "stp_fr_07.wav"  # 16 kHz French voice command, fed at 8 kHz
FRAME_8K = 320  # 20 ms of PCM16 at 8 kHz


async def transcribe(engine: AsrEngine, pcm: bytes, chunk: int | None = None) -> Transcript:
    stream = engine.open_stream(8000)
    step = chunk or len(pcm)
    for start in range(0, len(pcm), step):
        stream.push(pcm[start : start + step])
    return await stream.finish()


@pytest.mark.parametrize("clip", [PHONE_CLIP, COMMAND_CLIP, "goforward.wav"])
async def test_speech_gives_words(asr_engine: AsrEngine, clip_8k: Callable[[str], bytes], clip: str) -> None:
    pcm = clip_8k(clip)
    result = await transcribe(asr_engine, pcm, FRAME_8K)
    # Korean model on French/English speech: the words are Korean-ish, but there must be some.
    assert result.text
    assert result.words
    assert result.text == " ".join(w.word for w in result.words)
    assert 0.0 < result.confidence <= 1.0
    assert result.confidence == pytest.approx(sum(w.confidence for w in result.words) / len(result.words))
    assert result.audio_seconds == pytest.approx(len(pcm) / 2 / 8000)
    for word in result.words:
        assert 0.0 <= word.start <= word.end <= result.audio_seconds + 0.1


async def test_silence_gives_empty_transcript(asr_engine: AsrEngine) -> None:
    rng = np.random.default_rng(7)
    hiss = (rng.normal(0, 30, 8000 * 2)).astype(np.int16).tobytes()  # 2 s of faint line noise
    result = await transcribe(asr_engine, bytes(8000 * 2 * 2) + hiss, FRAME_8K)
    assert result.text == ""
    assert result.words == ()
    assert result.confidence == 0.0
    assert result.audio_seconds == pytest.approx(4.0)


async def test_small_frames_give_same_result_as_one_block(
    repeatable_engine: AsrEngine, clip_8k: Callable[[str], bytes]
) -> None:
    for clip in (PHONE_CLIP, COMMAND_CLIP):
        pcm = clip_8k(clip)
        whole = await transcribe(repeatable_engine, pcm)
        framed = await transcribe(repeatable_engine, pcm, FRAME_8K)
        odd_sized = await transcribe(repeatable_engine, pcm, 998)
        assert whole.text
        assert_same_transcript(framed, whole)
        assert_same_transcript(odd_sized, whole)


async def test_concurrent_streams_do_not_mix(repeatable_engine: AsrEngine, clip_8k: Callable[[str], bytes]) -> None:
    clips = [clip_8k(PHONE_CLIP), clip_8k(COMMAND_CLIP), clip_8k("goforward.wav")]
    alone = [await transcribe(repeatable_engine, pcm) for pcm in clips]
    together = await asyncio.gather(*(transcribe(repeatable_engine, pcm, FRAME_8K) for pcm in clips))
    for mixed, single in zip(together, alone, strict=True):
        assert_same_transcript(mixed, single)
    assert len({t.text for t in alone}) == 3


async def test_stream_is_reusable_after_finish(repeatable_engine: AsrEngine, clip_8k: Callable[[str], bytes]) -> None:
    pcm = clip_8k(PHONE_CLIP)
    stream = repeatable_engine.open_stream(8000)
    stream.push(pcm)
    first = await stream.finish()
    stream.push(bytes(8000 * 2))
    quiet = await stream.finish()
    stream.push(pcm)
    again = await stream.finish()
    assert first.text and again.text
    assert quiet.text == "" and quiet.audio_seconds == pytest.approx(1.0)
    # Each utterance starts from a recogniser as good as new; word times are relative to the utterance.
    assert_same_transcript(again, first)


async def test_partial_hypothesis_while_speaking(asr_engine: AsrEngine, clip_8k: Callable[[str], bytes]) -> None:
    pcm = clip_8k(PHONE_CLIP)
    stream = asr_engine.open_stream(8000)
    assert (await stream.partial()).text == ""
    for start in range(0, len(pcm), FRAME_8K):
        stream.push(pcm[start : start + FRAME_8K])
    heard = await stream.partial()
    assert heard.text and not heard.final
    assert heard.text == " ".join(w.word for w in heard.words)  # text only: details come with the final result
    # Only the last partial block is left for finish().
    assert stream.pushed_bytes - stream.decoded_bytes < 8000 * 2 // 10
    assert (await stream.finish()).text
    assert (await stream.partial()).text == ""  # a new utterance


async def test_bad_input_is_refused(asr_engine: AsrEngine) -> None:
    stream = asr_engine.open_stream(8000)
    with pytest.raises(ValueError, match="even number of bytes"):
        stream.push(b"\x00\x01\x02")
    stream.close()
    with pytest.raises(RuntimeError, match="closed"):
        stream.push(bytes(320))
    with pytest.raises(RuntimeError, match="closed"):
        await stream.finish()
    with pytest.raises(ValueError):
        asr_engine.open_stream(0)
    with pytest.raises(ValueError):
        AsrEngine(asr_engine.model, workers=0)


async def test_16k_input_skips_resampling(
    asr_engine: AsrEngine, clip_native: Callable[[str], tuple[int, bytes]]
) -> None:
    rate, pcm = clip_native(COMMAND_CLIP)
    assert rate == 16000
    stream = asr_engine.open_stream(16000)
    stream.push(pcm)
    result = await stream.finish()
    assert result.text
    assert result.audio_seconds == pytest.approx(len(pcm) / 2 / 16000)


async def test_the_words_so_far_are_there_at_a_short_pause(
    asr_engine: AsrEngine, clip_8k: Callable[[str], bytes]
) -> None:
    """The first 1.2 s of a voice command, then 250 ms of silence (the pause at which the session prepares its
    answer): the partial already holds words. With word details asked of Vosk's partials it held none until the
    lattice aligned them, seconds later, so the answer was never prepared at a pause."""
    pcm = clip_8k(COMMAND_CLIP)
    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples) > 0.1 * np.abs(samples).max())
    start = int(loud[0]) * 2
    said = pcm[start : start + int(1.2 * 8000) * 2] + bytes(int(0.25 * 8000) * 2)
    stream = asr_engine.open_stream(8000)
    for offset in range(0, len(said), FRAME_8K):
        stream.push(said[offset : offset + FRAME_8K])
    assert (await stream.partial()).text
    await stream.finish()
