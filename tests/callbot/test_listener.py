"""The Listener: every frame the leg gives is heard, the turn ends on the silence the expected answer needs,
and the caller's onset is told at once (barge-in) unless it is too faint to be more than an echo."""

from __future__ import annotations

import asyncio
import gc
import itertools
from typing import Any

import numpy as np

from asr.endpointing import AdaptiveEndOfTurn
from asr.fake import FakeRecognizer
from callbot.listener import CallerTurn, Listener, VoiceSettings

RATE = 8000
FRAME = RATE // 50


def voiced(seconds: float, level: float = 6000) -> list[bytes]:
    """Speech-like: harmonics of a gliding pitch, in syllables (a steady tone would soon be taken for noise)."""
    t = np.arange(int(RATE * seconds)) / RATE
    phase = 2 * np.pi * np.cumsum(120 + 60 * np.sin(2 * np.pi * 1.5 * t)) / RATE
    wave = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    pcm = (level * wave / np.max(np.abs(wave))).astype("<i2")
    return [pcm[i : i + FRAME].tobytes() for i in range(0, len(pcm) - FRAME + 1, FRAME)]


def silence(seconds: float) -> list[bytes]:
    return [bytes(2 * FRAME)] * int(seconds * 50)


class ScriptedAudio:
    sample_rate = RATE
    frames_dropped = 0

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = list(frames)
        self.given = 0

    async def read_frame(self) -> bytes | None:
        await asyncio.sleep(0)
        if not self.frames:
            return None
        self.given += 1
        return self.frames.pop(0)

    def play(self, pcm: bytes) -> None: ...

    def clear_playback(self) -> None: ...

    def playback_pending(self) -> float:
        return 0.0

    async def wait_played(self) -> None: ...


class TimedAudio(ScriptedAudio):
    """Frames read at a machine's pace (5 ms each), with the time each was read."""

    def __init__(self, frames: list[bytes]) -> None:
        super().__init__(frames)
        self.read_at: list[float] = []

    async def read_frame(self) -> bytes | None:
        await asyncio.sleep(0.005)
        self.read_at.append(asyncio.get_running_loop().time())
        return await super().read_frame()


async def listen(
    frames: list[bytes], expects: str = "free", words: str = "oui", bot_speaking: bool = False
) -> tuple[Listener, ScriptedAudio, list[tuple[int, CallerTurn]], list[int]]:
    audio = ScriptedAudio(frames)
    turns: list[tuple[int, CallerTurn]] = []
    onsets: list[int] = []

    async def on_turn(turn: CallerTurn) -> None:
        turns.append((audio.given, turn))

    async def nothing() -> None: ...

    listener = Listener(
        audio,
        FakeRecognizer([words] * 5),
        AdaptiveEndOfTurn(yes_no_ms=400, free_ms=700, number_ms=1200),
        VoiceSettings(start_ms=100),
        bot_speaking=lambda: bot_speaking,
        on_onset=lambda: onsets.append(audio.given),
        on_turn=on_turn,
        on_unintelligible=nothing,
    )
    listener.expects = expects
    await asyncio.wait_for(listener.run(), 10)
    return listener, audio, turns, onsets


def quiet_listener(audio: ScriptedAudio, recognizer: FakeRecognizer) -> Listener:
    """A listener for a free answer whose turns go nowhere: for what it logs or how it ends."""

    async def on_turn(turn: CallerTurn) -> None: ...

    async def nothing() -> None: ...

    return Listener(
        audio,
        recognizer,
        AdaptiveEndOfTurn(free_ms=700),
        VoiceSettings(start_ms=100),
        bot_speaking=lambda: False,
        on_onset=lambda: None,
        on_turn=on_turn,
        on_unintelligible=nothing,
    )


async def test_every_frame_is_heard_and_the_speech_reaches_the_recogniser() -> None:
    frames = [*silence(0.5), *voiced(1.0), *silence(1.5)]
    listener, audio, turns, _ = await listen(frames)
    assert listener.frames_heard == audio.given == len(frames)
    # the voiced second (plus pre-roll and the closing silence) went to the recogniser, the leading silence not
    assert 50 <= listener.frames_to_recogniser <= 50 + 20 + 40
    assert len(turns) == 1 and turns[0][1].transcript.text == "oui"


async def test_a_yes_no_answer_ends_sooner_than_a_phone_number() -> None:
    frames = [*silence(0.3), *voiced(0.6), *silence(2.0)]
    speech_end = int(0.3 * 50) + int(0.6 * 50)
    _, _, yes_turns, _ = await listen(frames, expects="yes_no", words="oui")
    _, _, number_turns, _ = await listen(frames, expects="number", words="zéro six")
    yes_wait = (yes_turns[0][0] - speech_end) * 20
    number_wait = (number_turns[0][0] - speech_end) * 20
    assert 400 <= yes_wait < 650, yes_wait  # the policy's 400 ms, plus the VAD's hangover
    assert number_wait - yes_wait >= 700, (yes_wait, number_wait)


async def test_the_onset_is_told_within_the_start_time_but_a_faint_voice_over_the_bot_is_not() -> None:
    frames = [*silence(0.3), *voiced(0.8), *silence(1.0)]
    _, _, _, onsets = await listen(frames)
    assert onsets and (onsets[0] - 15) * 20 <= 100 + 40  # start_ms, a frame or two of VAD latency
    faint = [*silence(0.3), *voiced(0.8, level=1000), *silence(1.0)]  # -50 to -38 dBFS: an echo
    assert (await listen(faint, bot_speaking=True))[3] == []
    assert (await listen(faint, bot_speaking=False))[3] != []


async def test_a_slow_recogniser_never_stops_the_listening() -> None:
    """The recogniser 1 s behind (a busy machine): frames are still read as they come, the next caller onset is
    still told at once, and every turn still arrives, in order."""
    frames = [*silence(0.3), *voiced(0.8), *silence(1.2), *voiced(0.8), *silence(1.5)]
    audio = TimedAudio(frames)
    read_at = audio.read_at
    turns: list[str] = []
    onsets: list[int] = []

    async def on_turn(turn: CallerTurn) -> None:
        turns.append(turn.transcript.text)

    async def nothing() -> None: ...

    listener = Listener(
        audio,
        FakeRecognizer(["premier", "second"], decode_delay=1.0),
        AdaptiveEndOfTurn(),
        VoiceSettings(start_ms=100),
        bot_speaking=lambda: False,
        on_onset=lambda: onsets.append(audio.given),
        on_turn=on_turn,
        on_unintelligible=nothing,
    )
    await asyncio.wait_for(listener.run(), 20)
    gaps = [later - earlier for earlier, later in itertools.pairwise(read_at)]
    assert max(gaps) < 0.5, max(gaps)  # never the recogniser's 1 s
    assert turns == ["premier", "second"] and len(onsets) == 2
    assert listener.frames_heard == len(frames)


async def test_the_turn_log_says_how_long_after_the_speech_the_words_came(caplog: Any) -> None:
    """Operators see where a slow answer's time went: the recognition's delay after the end of speech."""
    frames = [*silence(0.3), *voiced(0.8), *silence(1.5)]
    listener = quiet_listener(TimedAudio(frames), FakeRecognizer(["oui"], decode_delay=1.0))
    caplog.set_level("INFO", logger="callbot.listener")
    await asyncio.wait_for(listener.run(), 20)
    [record] = [r for r in caplog.records if r.getMessage().startswith("caller turn")]
    delay_ms = record.args[4]
    assert 700 + 1000 <= delay_ms < 700 + 1000 + 800, record.getMessage()  # the silence, then the 1 s recogniser


async def test_a_recogniser_gone_before_the_last_turn_is_recognised_ends_the_listening_quietly() -> None:
    """The server stopping with recognition queued: the engine refuses work. The listening ends, no error escapes,
    and no task is left with an exception nobody retrieved."""

    class GoneRecognizer(FakeRecognizer):
        def open_stream(self, input_rate: int) -> Any:
            stream = super().open_stream(input_rate)

            async def finish() -> Any:
                await asyncio.sleep(0.05)
                raise RuntimeError("cannot schedule new futures after shutdown")

            stream.finish = finish  # type: ignore[method-assign]
            return stream

    unhandled: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: unhandled.append(context))
    listener = quiet_listener(ScriptedAudio([*silence(0.3), *voiced(0.8), *silence(0.8)]), GoneRecognizer(["oui"]))
    try:
        await asyncio.wait_for(listener.run(), 10)
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert unhandled == []


async def listen_with_answers(frames: list[bytes], expects: str, answered: bool) -> tuple[list[int], int]:
    """Listen with answers prepared at pauses; `answered`: the dialogue says each one has what it asked."""
    audio = ScriptedAudio(frames)
    ends: list[int] = []
    tentative: list[int] = []

    async def on_turn(turn: CallerTurn) -> None:
        ends.append(audio.given)

    async def nothing() -> None: ...

    def on_tentative_end(turn: CallerTurn) -> None:
        tentative.append(audio.given)
        if answered:
            listener.end_turn_soon()

    listener = Listener(
        audio,
        FakeRecognizer(["douze rue de rome"] * 5),
        AdaptiveEndOfTurn(place_ms=900, answered_ms=350),
        VoiceSettings(start_ms=100),
        bot_speaking=lambda: False,
        on_onset=lambda: None,
        on_turn=on_turn,
        on_unintelligible=nothing,
        on_tentative_end=on_tentative_end,
    )
    listener.expects, listener.preview = expects, True
    await asyncio.wait_for(listener.run(), 10)
    return ends, len(tentative)


async def test_an_address_the_dialogue_has_whole_ends_the_turn_sooner() -> None:
    frames = [*silence(0.3), *voiced(0.8), *silence(2.0)]
    speech_end = int(0.3 * 50) + int(0.8 * 50)
    answered, _ = await listen_with_answers(frames, "place", answered=True)
    waited, _ = await listen_with_answers(frames, "place", answered=False)
    assert len(answered) == len(waited) == 1
    assert 350 <= (answered[0] - speech_end) * 20 < 600, answered
    assert (waited[0] - speech_end) * 20 >= 900, waited


async def test_a_caller_going_on_after_an_answered_pause_is_heard_to_the_end() -> None:
    # A breath long enough for a pause (the answer tried) but shorter than the answered silence: the caller goes
    # on, and it stays one turn.
    frames = [*silence(0.3), *voiced(0.6), *silence(0.3), *voiced(0.6), *silence(2.0)]
    speech_end = int(0.3 * 50) + int(0.6 * 50) + int(0.3 * 50) + int(0.6 * 50)
    ends, pauses = await listen_with_answers(frames, "place", answered=True)
    assert pauses == 2 and len(ends) == 1
    assert (ends[0] - speech_end) * 20 >= 350


async def test_preparing_the_answer_at_a_pause_never_holds_the_listening_back() -> None:
    """At a pause the words so far are recognised (the utterance cut there) so the answer can be prepared; with a
    recogniser 150 ms behind, that cut runs beside the loop: frames are still read as they come (only the short
    wait for the words so far remains), the answer is still prepared, and the turn ends once with all its words."""
    frames = [*silence(0.3), *voiced(0.8), *silence(0.3), *voiced(0.6), *silence(1.5)]
    tentative: list[str] = []
    turns: list[str] = []

    async def on_turn(turn: CallerTurn) -> None:
        turns.append(turn.transcript.text)

    async def nothing() -> None: ...

    audio = TimedAudio(frames)
    listener = Listener(
        audio,
        FakeRecognizer(["au douze", "rue de rome"], decode_delay=0.15),
        AdaptiveEndOfTurn(place_ms=900),
        VoiceSettings(start_ms=100),
        bot_speaking=lambda: False,
        on_onset=lambda: None,
        on_turn=on_turn,
        on_unintelligible=nothing,
        on_tentative_end=lambda turn: tentative.append(turn.transcript.text),
    )
    listener.expects, listener.preview = "place", True
    await asyncio.wait_for(listener.run(), 20)
    gaps = [later - earlier for earlier, later in itertools.pairwise(audio.read_at)]
    assert max(gaps) < 0.25, max(gaps)  # the words-so-far wait (150 ms), not that plus the cut's
    # The caller went on before the first pause's words came back: no answer prepared for it; at the last pause,
    # one for the whole turn.
    assert tentative == ["au douze rue de rome"]
    assert turns == ["au douze rue de rome"]
