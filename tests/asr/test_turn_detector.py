from collections.abc import Callable

import numpy as np
import pytest

from asr import TurnDetector, TurnEvent

FRAME = 320  # 20 ms at 8 kHz


def frames(pcm: bytes, size: int = FRAME) -> list[bytes]:
    usable = len(pcm) - len(pcm) % size
    return [pcm[i : i + size] for i in range(0, usable, size)]


def run(detector: TurnDetector, pcm: bytes, size: int = FRAME) -> list[tuple[int, TurnEvent]]:
    events = []
    for index, frame in enumerate(frames(pcm, size)):
        event = detector.push(frame)
        if event is not None:
            events.append((index, event))
    return events


def first_loud_frame(pcm: bytes) -> int:
    for index, frame in enumerate(frames(pcm)):
        if np.abs(np.frombuffer(frame, dtype=np.int16)).max() > 1000:
            return index
    raise AssertionError("no loud frame")


def test_silence_never_starts_a_turn() -> None:
    detector = TurnDetector(sample_rate=8000, aggressiveness=2)
    rng = np.random.default_rng(3)
    hiss = rng.normal(0, 20, 8000 * 5).astype(np.int16).tobytes()
    assert run(detector, bytes(8000 * 2 * 3) + hiss) == []
    assert not detector.in_speech


def test_one_utterance_gives_start_then_end(clip_8k: Callable[[str], bytes]) -> None:
    speech = clip_8k("june_check-number-dial-again.wav")
    lead, tail = bytes(8000 * 2), bytes(int(8000 * 2 * 1.5))
    pcm = lead + speech + tail
    detector = TurnDetector(sample_rate=8000, start_ms=100, end_silence_ms=600, pre_roll_ms=300)
    events = [(index, e) for index, e in run(detector, pcm) if e in (TurnEvent.SPEECH_START, TurnEvent.SPEECH_END)]
    assert [e for _, e in events] == [TurnEvent.SPEECH_START, TurnEvent.SPEECH_END]
    (start_index, _), (end_index, _) = events
    onset = first_loud_frame(pcm)
    assert start_index >= onset + 100 // 20 - 1
    # Speech ends after the clip's last sound plus the silence delay, and not by the cap.
    speech_end_frame = (len(lead) + len(speech)) // FRAME
    assert end_index >= speech_end_frame - 5
    assert not detector.ended_by_cap and not detector.in_speech
    # The pre-roll reaches back before the onset, so the first syllable is kept.
    pre_roll = detector.pre_roll()
    assert len(pre_roll) % FRAME == 0
    pre_roll_start = start_index + 1 - len(pre_roll) // FRAME
    assert pre_roll_start < onset
    assert pre_roll == b"".join(frames(pcm)[pre_roll_start : start_index + 1])
    assert len(pre_roll) <= (100 + 300 + 20) * 16  # start_ms + pre_roll_ms, in bytes at 8 kHz


def test_long_speech_is_cut_at_the_cap(clip_8k: Callable[[str], bytes]) -> None:
    speech = clip_8k("stp_fr_07.wav")
    detector = TurnDetector(sample_rate=8000, start_ms=60, end_silence_ms=2000, max_turn_s=1.0)
    events = []
    for index, frame in enumerate(frames(speech)):
        event = detector.push(frame)
        if event in (TurnEvent.SPEECH_START, TurnEvent.SPEECH_END):
            events.append((index, event, detector.ended_by_cap))
    assert [(e, cap) for _, e, cap in events[:2]] == [
        (TurnEvent.SPEECH_START, False),
        (TurnEvent.SPEECH_END, True),
    ]
    start_index, end_index = events[0][0], events[1][0]
    # The turn counts the start_ms already heard: it lasts max_turn_s from the first voiced frame.
    assert end_index - start_index == (1000 - 60) // 20


def test_16khz_frames_and_reset(clip_native: Callable[[str], tuple[int, bytes]]) -> None:
    rate, speech = clip_native("stp_fr_07.wav")
    detector = TurnDetector(sample_rate=rate, start_ms=100)
    events = run(detector, speech, size=640)
    assert events and events[0][1] is TurnEvent.SPEECH_START
    detector.reset()
    assert not detector.in_speech and detector.pre_roll() == b""


def test_bad_frames_and_settings_are_refused() -> None:
    detector = TurnDetector(sample_rate=8000)
    with pytest.raises(ValueError, match="not 10, 20 or 30 ms"):
        detector.push(bytes(300))
    with pytest.raises(ValueError, match="8, 16, 32 or 48 kHz"):
        TurnDetector(sample_rate=22050)
    with pytest.raises(ValueError, match="aggressiveness"):
        TurnDetector(aggressiveness=5)


def tone(ms: int, amplitude: float, hz: float = 440.0) -> bytes:
    t = np.arange(8 * ms) / 8000
    voiced = amplitude * (np.sin(2 * np.pi * hz * t) + 0.5 * np.sin(2 * np.pi * 3 * hz * t))
    return voiced.astype(np.int16).tobytes()


def test_end_silence_changed_at_a_pause_applies_to_that_turn() -> None:
    loud = tone(600, 8000)
    detector = TurnDetector(sample_rate=8000, start_ms=100, end_silence_ms=2000, pause_ms=200)
    ended_at = None
    for index, frame in enumerate(frames(loud + bytes(8000 * 2 * 3))):
        event = detector.push(frame)
        if event is TurnEvent.PAUSE:
            detector.end_silence_ms = 400
        if event is TurnEvent.SPEECH_END:
            ended_at = index
    assert ended_at is not None
    kinds = [e for _, e in run(TurnDetector(sample_rate=8000, start_ms=100, pause_ms=200), loud + bytes(16000))]
    assert kinds == [TurnEvent.SPEECH_START, TurnEvent.PAUSE, TurnEvent.SPEECH_END]  # one pause, told once
    silence_frames = ended_at - len(loud) // FRAME + 1
    assert 400 // 20 - 2 <= silence_frames <= 400 // 20 + 8  # VAD hangover of a few frames, not 2 s


def test_faint_voice_below_the_floor_opens_no_turn_but_a_normal_one_does() -> None:
    faint = tone(800, 60)  # about -52 dBFS: an echo or crosstalk, not someone talking to the bot
    assert run(TurnDetector(sample_rate=8000, start_ms=100, min_dbfs=-45), faint) == []
    events = run(TurnDetector(sample_rate=8000, start_ms=100, min_dbfs=-45), tone(800, 6000))
    assert events and events[0][1] is TurnEvent.SPEECH_START


def test_speaking_again_after_a_pause_is_told_and_the_turn_goes_on() -> None:
    detector = TurnDetector(sample_rate=8000, start_ms=100, end_silence_ms=800, pause_ms=200)
    pcm = tone(600, 8000) + bytes(16 * 400) + tone(600, 8000) + bytes(16 * 1200)
    kinds = [e for _, e in run(detector, pcm)]
    assert kinds == [
        TurnEvent.SPEECH_START,
        TurnEvent.PAUSE,
        TurnEvent.RESUME,
        TurnEvent.PAUSE,
        TurnEvent.SPEECH_END,
    ]


@pytest.mark.parametrize(("silence_dbfs", "lag_frames"), [(-60.0, (0, 1)), (-np.inf, (3, 8))])
def test_on_a_silent_line_the_turn_ends_its_silence_after_the_voice_not_after_the_vad_hangover(
    silence_dbfs: float, lag_frames: tuple[int, int]
) -> None:
    # Speech-like sound, then a silent line. With the floor, the end comes end_silence_ms after the voice; with no
    # floor, webrtcvad decides alone and keeps calling the first 60-160 ms of silence speech.
    t = np.arange(8000) / 8000
    phase = 2 * np.pi * np.cumsum(120 + 60 * np.sin(2 * np.pi * 1.5 * t)) / 8000
    wave = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))  # syllables
    voice = (6000 * wave / np.max(np.abs(wave))).astype("<i2").tobytes()
    detector = TurnDetector(sample_rate=8000, start_ms=100, end_silence_ms=300, silence_dbfs=silence_dbfs)
    events = run(detector, voice + bytes(16000))
    end = next(index for index, event in events if event is TurnEvent.SPEECH_END)
    lag = end - (len(voice) // FRAME + 300 // 20 - 1)
    assert lag_frames[0] <= lag <= lag_frames[1], lag
