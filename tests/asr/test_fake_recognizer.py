"""The scripted recogniser other stages are tested with, and the interface both recognisers meet."""

from __future__ import annotations

import pytest

from asr import Hypothesis, Recognizer, RecognizerStream, Transcript, VoskRecognizer
from asr.fake import FakeRecognizer

FRAME_8K = 320


def test_both_recognisers_meet_the_interface(asr_engine: VoskRecognizer) -> None:
    # mypy checks these assignments against the Protocols; the run checks the names exist.
    fake: Recognizer = FakeRecognizer()
    vosk: Recognizer = asr_engine
    for recognizer in (fake, vosk):
        stream: RecognizerStream = recognizer.open_stream(8000)
        assert (stream.pushed_bytes, stream.decoded_bytes, stream.backlog_seconds) == (0, 0, 0.0)
        stream.close()


async def test_scripted_transcripts_come_one_per_utterance() -> None:
    recognizer = FakeRecognizer(["il y a un trou", Transcript("oui", 0.5, (), 0.4)], min_audio_s=0.3)
    stream = recognizer.open_stream(8000)
    stream.push(bytes(FRAME_8K * 5))  # 0.1 s: a click, no words
    assert (await stream.finish()).text == ""
    assert await stream.partial() == Hypothesis()
    for _ in range(50):
        stream.push(bytes(FRAME_8K))
    assert (await stream.partial()).text == "il y a un trou"
    first = await stream.finish()
    assert (first.text, first.confidence, first.audio_seconds) == ("il y a un trou", 0.9, 1.0)
    assert first.words[-1].end == pytest.approx(1.0)
    stream.push(bytes(FRAME_8K * 25))
    assert (await stream.finish()).text == "oui"
    stream.push(bytes(FRAME_8K * 25))
    assert (await stream.finish()).text == ""  # the script ran out
    assert [t.text for t in stream.transcripts] == ["", "il y a un trou", "oui", ""]
    assert (stream.pushes, stream.pushed_bytes) == (53, (5 + 50 + 25 + 25) * FRAME_8K)
    assert stream.decoded_bytes == stream.pushed_bytes


async def test_a_decode_delay_shows_as_backlog_until_decoded() -> None:
    stream = FakeRecognizer(["bonjour"], decode_delay=0.01).open_stream(8000)
    stream.push(bytes(8000 * 2))
    assert stream.backlog_seconds == 1.0
    assert (await stream.finish()).text == "bonjour"
    assert stream.backlog_seconds == 0.0


def test_the_fake_refuses_what_the_real_one_refuses() -> None:
    stream = FakeRecognizer().open_stream(8000)
    with pytest.raises(ValueError):
        stream.push(b"\x00")
    stream.close()
    with pytest.raises(RuntimeError):
        stream.push(bytes(FRAME_8K))
    with pytest.raises(ValueError):
        FakeRecognizer().open_stream(0)
