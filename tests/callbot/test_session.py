"""CallSession with each stage faked at its boundary (transport, recogniser, voice, dialogue) and a real store.

The end-to-end tests (tests/e2e) run the same session with the real parts; these pin down its decisions.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asr.fake import FakeRecognizer, FakeRecognizerStream
from callbot.config import Settings, load_settings
from callbot.metrics import CallMetrics
from callbot.session import CallServices, CallSession
from dialogue.client import DialogueReply, DialogueUnavailable
from dialogue.fake import FakeDialogue as ScriptedDialogue
from signalements import Store, StoreWriter
from tts.fake import FakeSynthesizer

RATE = 8000
FRAME = RATE * 20 // 1000  # samples per 20 ms


def tone_frames(seconds: float) -> list[bytes]:
    """A voiced sound (harmonics of 150 Hz) the VAD takes for speech."""
    t = np.arange(int(RATE * seconds)) / RATE
    wave = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
    pcm = (6000 * wave / np.max(np.abs(wave))).astype("<i2")
    return [pcm[i : i + FRAME].tobytes() for i in range(0, len(pcm) - FRAME + 1, FRAME)]


def silence_frames(seconds: float) -> list[bytes]:
    return [b"\x00\x00" * FRAME] * int(seconds * 50)


class FakeAudio:
    """The transport's audio port: plays a scripted caller, records what the bot queued.

    The script holds 20 ms frames, and integers: `n` waits until the bot has queued its n-th piece of audio.
    """

    sample_rate = RATE
    frames_dropped = 0

    def __init__(self, caller: list[bytes | int]) -> None:
        self.caller = list(caller)
        self.played: list[bytes] = []
        self.cleared = 0
        self.closed = asyncio.Event()

    async def read_frame(self) -> bytes | None:
        await asyncio.sleep(0.002)  # 10x faster than real time
        while self.caller and isinstance(self.caller[0], int):
            if len(self.played) >= self.caller[0]:
                self.caller.pop(0)
            else:
                await asyncio.sleep(0.005)
                return b"\x00\x00" * FRAME
        if self.caller:
            frame = self.caller.pop(0)
            assert isinstance(frame, bytes)
            return frame
        if self.closed.is_set():
            return None
        return b"\x00\x00" * FRAME

    def play(self, pcm: bytes) -> None:
        self.played.append(pcm)

    def clear_playback(self) -> None:
        self.cleared += 1

    def playback_pending(self) -> float:
        return 0.0

    async def wait_played(self) -> None:
        await asyncio.sleep(0)


@dataclass
class FakeLeg:
    audio: FakeAudio
    call_id: str = field(default_factory=lambda: secrets.token_hex(8))
    caller_number: str | None = "+33491000000"
    dtmf: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    ended_by: str | None = None
    transfers: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    transfer_result: bool = True
    hung_up: bool = False

    async def hangup(self) -> None:
        self.hung_up = True
        self.ended.set()
        self.audio.closed.set()

    async def transfer(self, target_uri: str, headers: dict[str, str]) -> bool:
        self.transfers.append((target_uri, headers))
        if self.transfer_result:
            await self.hangup()
        return self.transfer_result


WORDS = "il y a un trou rue de rome"


def fake_asr(words: str = WORDS) -> FakeRecognizer:
    """Recognises `words` in every turn long enough (a click or a cough gives nothing)."""
    return FakeRecognizer([words] * 20 if words else [], confidence=0.82, min_audio_s=0.3, sound_only=True)


class FakeDialogue(ScriptedDialogue):
    """dialogue.fake's, answering "Pardon ?" once the script is done, with a few fields to hand over."""

    def __init__(self, replies: list[DialogueReply | Exception]) -> None:
        super().__init__(slots={"category": "voirie", "place": "rue de Rome"})
        self.script = list(replies)

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> DialogueReply:
        self.sent.append((text, metadata))
        reply = self.script.pop(0) if self.script else DialogueReply(texts=["Pardon ?"])
        if isinstance(reply, Exception):
            raise reply
        return reply


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'calls.sqlite3'}", secrets.token_bytes(32))
    store.migrate()
    return store


OPEN = datetime(2027, 1, 6, 10, 0, tzinfo=UTC)  # a Wednesday morning, within the default opening hours


def settings(**environ: str) -> Settings:
    # A long no-input timeout: the fake caller runs on the wall clock, and a loaded machine must not make
    # silence win the race against a turn. The silence test sets its own.
    return load_settings(environ={"CALLBOT_VAD_NO_INPUT_TIMEOUT_S": "10", **environ})


async def run_call(
    store: Store,
    tmp_path: Path,
    leg: FakeLeg,
    dialogue: FakeDialogue,
    config: Settings | None = None,
    asr: FakeRecognizer | None = None,
) -> CallSession:
    writer = StoreWriter(store, spill_path=tmp_path / "spill.jsonl")
    services = CallServices(
        settings=config or settings(),
        asr=asr or fake_asr(),
        tts=FakeSynthesizer(),
        dialogue=dialogue,
        store=store,
        writer=writer,
        metrics=CallMetrics(),
        clock=lambda: OPEN,  # agents take calls (the call-back offer outside hours: test_session_callback.py)
    )
    session = CallSession(leg, "sip", services)
    await asyncio.wait_for(session.run(), 30)
    await writer.close()
    return session


async def test_a_caller_turn_is_stored_answered_and_the_dialogue_ends_the_call(store: Store, tmp_path: Path) -> None:
    leg = FakeLeg(FakeAudio([*silence_frames(0.3), *tone_frames(1.5), *silence_frames(1.5)]))
    dialogue = FakeDialogue([DialogueReply(texts=["C'est noté. Au revoir."], hangup=True, report_id=7)])
    session = await run_call(store, tmp_path, leg, dialogue)

    assert leg.hung_up
    assert session.outcome == "report_saved"
    text, metadata = dialogue.sent[0]
    assert text == "il y a un trou rue de rome"
    assert metadata == {"asr_confidence": pytest.approx(0.82), "channel": "phone", "caller_number": "+33491000000"}
    call = store.get_call(session.call_id)
    speakers = [(turn.speaker, turn.text) for turn in call.turns]
    assert speakers[0][0] == "bot" and "assistant automatique" in speakers[0][1]
    assert ("caller", "il y a un trou rue de rome") in speakers
    assert speakers[-1] == ("bot", "C'est noté. Au revoir.")
    assert call.summary.outcome == "report_saved"
    assert call.summary.caller_pseudonym and "491000000" not in call.summary.caller_pseudonym


async def test_pressing_0_hands_over_with_the_fields_collected(store: Store, tmp_path: Path) -> None:
    leg = FakeLeg(FakeAudio([*silence_frames(0.5)]))
    leg.dtmf.put_nowait("0")
    config = settings(CALLBOT_TRANSFER_URI="sip:agents@pbx.example.org")
    session = await run_call(store, tmp_path, leg, FakeDialogue([]), config)

    assert leg.transfers == [("sip:agents@pbx.example.org", {"X-Callbot-Call-Id": session.call_id})]
    assert session.outcome == "transferred"
    handoff = store.get_call(session.call_id).handoffs[0]
    assert handoff.reason == "dtmf" and handoff.succeeded
    assert handoff.fields == {"category": "voirie", "place": "rue de Rome"}


async def test_a_handoff_keeps_the_caller_number_out_of_the_store(store: Store, tmp_path: Path) -> None:
    class TrackingDialogue(FakeDialogue):
        async def slots(self, conversation_id: str) -> dict[str, Any]:
            return {
                "category": "voirie",
                "caller_number": "+33491000000",
                "callback_consent": False,
                "callback_number": "0611223344",
                "pending_question": "place",
            }

    leg = FakeLeg(FakeAudio([*silence_frames(0.5)]))
    leg.dtmf.put_nowait("0")
    config = settings(CALLBOT_TRANSFER_URI="sip:agents@pbx.example.org")
    session = await run_call(store, tmp_path, leg, TrackingDialogue([]), config)

    handoff = store.get_call(session.call_id).handoffs[0]
    assert handoff.fields == {"category": "voirie", "callback_consent": False}


async def test_no_transfer_once_the_caller_hung_up_during_the_reply(store: Store, tmp_path: Path) -> None:
    class HangingUpAudio(FakeAudio):
        def play(self, pcm: bytes) -> None:
            super().play(pcm)
            if dialogue.sent:  # the reply's first audio: the caller hangs up while it plays
                leg.ended.set()
                self.closed.set()

    leg = FakeLeg(HangingUpAudio([*tone_frames(1.0), *silence_frames(1.5)]))
    dialogue = FakeDialogue([DialogueReply(texts=["Je vous passe un conseiller."], handoff_reason="caller_request")])
    config = settings(CALLBOT_TRANSFER_URI="sip:agents@pbx.example.org")
    session = await run_call(store, tmp_path, leg, dialogue, config)

    assert not leg.transfers and not leg.hung_up
    assert session.outcome == "caller_hung_up"
    handoff = store.get_call(session.call_id).handoffs[0]
    assert handoff.reason == "caller_request" and not handoff.succeeded


async def test_a_failed_transfer_ends_politely(store: Store, tmp_path: Path) -> None:
    # (A call back is offered first: the dialogue cannot, here.)
    leg = FakeLeg(FakeAudio([*silence_frames(0.5)]), transfer_result=False)
    leg.dtmf.put_nowait("0")
    config = settings(CALLBOT_TRANSFER_URI="sip:agents@pbx.example.org")
    session = await run_call(store, tmp_path, leg, FakeDialogue([DialogueUnavailable("down")]), config)

    assert session.outcome == "transfer_failed"
    assert leg.hung_up
    last = store.get_call(session.call_id).turns[-1]
    assert last.text == config.prompts.transfer_failed


async def test_silence_is_told_to_the_dialogue(store: Store, tmp_path: Path) -> None:
    leg = FakeLeg(FakeAudio([]))
    dialogue = FakeDialogue(
        [
            DialogueReply(texts=["Je vous écoute."]),
            DialogueReply(texts=["Je ne vous entends pas. Au revoir."], hangup=True),
        ]
    )
    session = await run_call(store, tmp_path, leg, dialogue, settings(CALLBOT_VAD_NO_INPUT_TIMEOUT_S="0.5"))
    assert [text for text, _ in dialogue.sent] == ["/no_input", "/no_input"]
    assert session.outcome == "completed"


async def test_a_dialogue_outage_without_agents_ends_with_an_apology(store: Store, tmp_path: Path) -> None:
    leg = FakeLeg(FakeAudio([*tone_frames(1.0), *silence_frames(1.5)]))
    session = await run_call(store, tmp_path, leg, FakeDialogue([DialogueUnavailable("down")]))
    assert session.outcome == "handoff_unavailable"
    assert leg.hung_up and not leg.transfers
    call = store.get_call(session.call_id)
    assert call.turns[-1].text == settings().prompts.technical_problem
    assert call.handoffs[0].reason == "technical"


async def test_a_dialogue_outage_apologises_before_asking_the_dialogue_for_the_fields(
    store: Store, tmp_path: Path
) -> None:
    class DownDialogue(FakeDialogue):
        line_closed_when_asked: bool | None = None

        async def slots(self, conversation_id: str) -> dict[str, Any]:
            # A dialogue that is down answers this only after its timeout: the caller must not wait for it.
            self.line_closed_when_asked = leg.hung_up
            raise DialogueUnavailable("down")

    leg = FakeLeg(FakeAudio([*tone_frames(1.0), *silence_frames(1.5)]))
    dialogue = DownDialogue([DialogueUnavailable("down")])
    session = await run_call(store, tmp_path, leg, dialogue)

    assert dialogue.line_closed_when_asked is True
    call = store.get_call(session.call_id)
    assert call.turns[-1].text == settings().prompts.technical_problem
    assert call.handoffs[0].reason == "technical" and call.handoffs[0].fields == {}


async def test_a_recogniser_failure_ends_the_call_as_an_error(store: Store, tmp_path: Path) -> None:
    class BrokenStream(FakeRecognizerStream):
        def push(self, pcm: bytes) -> None:
            raise RuntimeError("cannot schedule new futures after shutdown")

    class BrokenAsr(FakeRecognizer):
        def open_stream(self, input_rate: int) -> FakeRecognizerStream:
            return BrokenStream(self, input_rate)

    leg = FakeLeg(FakeAudio([*tone_frames(1.0), *silence_frames(1.5)]))
    dialogue = FakeDialogue([])
    writer = StoreWriter(store, spill_path=tmp_path / "spill.jsonl")
    services = CallServices(
        settings=settings(CALLBOT_VAD_NO_INPUT_TIMEOUT_S="30"),
        asr=BrokenAsr(),
        tts=FakeSynthesizer(),
        dialogue=dialogue,
        store=store,
        writer=writer,
    )
    session = CallSession(leg, "sip", services)
    await asyncio.wait_for(session.run(), 30)
    await writer.close()

    assert session.outcome == "error" and leg.hung_up and not dialogue.sent
    assert store.get_call(session.call_id).turns[-1].text == settings().prompts.technical_problem


async def test_the_caller_talking_over_the_bot_stops_it(store: Store, tmp_path: Path) -> None:
    class SlowAudio(FakeAudio):
        """The bot's audio takes a while to play out, unless the caller cuts in."""

        async def wait_played(self) -> None:
            cleared = self.cleared
            for _ in range(100):
                if self.cleared != cleared:
                    return
                await asyncio.sleep(0.01)

    # greeting, then the caller's turn; once the reply's first sentence is queued (2nd piece), the caller talks.
    caller: list[bytes | int] = [*tone_frames(1.0), *silence_frames(1.2), 2, *tone_frames(1.0), *silence_frames(1.5)]
    leg = FakeLeg(SlowAudio(caller))
    dialogue = FakeDialogue(
        [
            DialogueReply(texts=["Une longue explication. Encore une phrase."]),
            DialogueReply(texts=["Bien."], hangup=True),
        ]
    )
    await run_call(store, tmp_path, leg, dialogue)
    assert leg.audio.cleared >= 1


async def test_the_caller_hanging_up_closes_the_call(store: Store, tmp_path: Path) -> None:
    leg = FakeLeg(FakeAudio([*silence_frames(0.2)]))

    async def hang_up_soon() -> None:
        await asyncio.sleep(0.2)
        leg.ended.set()
        leg.audio.closed.set()

    hanger = asyncio.create_task(hang_up_soon())
    session = await run_call(store, tmp_path, leg, FakeDialogue([]))
    await hanger
    assert session.outcome == "caller_hung_up"
    assert not leg.hung_up
    assert store.get_call(session.call_id).summary.ended_at is not None


async def test_speech_without_recognisable_words_is_re_asked_at_once(store: Store, tmp_path: Path) -> None:
    leg = FakeLeg(FakeAudio([*tone_frames(1.5), *silence_frames(1.2)]))
    dialogue = FakeDialogue([DialogueReply(texts=["Pouvez-vous répéter ?"], hangup=True)])
    config = settings(CALLBOT_VAD_NO_INPUT_TIMEOUT_S="60")  # so only the unintelligible turn can prompt it
    session = await run_call(store, tmp_path, leg, dialogue, config, asr=fake_asr(words=""))
    assert [text for text, _ in dialogue.sent] == ["/no_input"]
    assert session.outcome == "completed"
    assert [turn.speaker for turn in store.get_call(session.call_id).turns] == ["bot", "bot"]


@pytest.mark.parametrize(
    ("ended_by", "outcome"),
    [("caller", "caller_hung_up"), ("media_timeout", "media_timeout"), ("shutdown", "shutdown")],
)
async def test_the_outcome_says_who_ended_a_call_the_bot_did_not_end(
    store: Store, tmp_path: Path, ended_by: str, outcome: str
) -> None:
    class EndingAudio(FakeAudio):
        def play(self, pcm: bytes) -> None:
            super().play(pcm)
            leg.ended_by = ended_by  # the line ends while the greeting plays
            leg.ended.set()
            self.closed.set()

    leg = FakeLeg(EndingAudio([*silence_frames(1.0)]))
    session = await run_call(store, tmp_path, leg, FakeDialogue([]), settings())
    assert session.outcome == outcome
    assert store.get_call(session.call_id).summary.outcome == outcome


async def until(condition: Callable[[], bool]) -> None:
    while not condition():  # noqa: ASYNC110 (the fakes expose states, not events)
        await asyncio.sleep(0.005)


class LongPlayingAudio(FakeAudio):
    """Each piece of the bot's audio takes 1 s to play out, unless cleared (barge-in, a key)."""

    busy_until = 0.0

    def play(self, pcm: bytes) -> None:
        super().play(pcm)
        now = asyncio.get_running_loop().time()
        self.busy_until = max(now, self.busy_until) + 1.0

    def clear_playback(self) -> None:
        super().clear_playback()
        self.busy_until = 0.0

    def playback_pending(self) -> float:
        return max(0.0, self.busy_until - asyncio.get_running_loop().time())

    async def wait_played(self) -> None:
        while self.playback_pending() > 0:  # noqa: ASYNC110 (a clock, not an event)
            await asyncio.sleep(0.01)


async def test_key_0_acts_mid_sentence_even_during_the_greeting(store: Store, tmp_path: Path) -> None:
    leg = FakeLeg(LongPlayingAudio([*silence_frames(3.0)]))
    pressed_at: list[float] = []

    async def press_while_the_greeting_plays() -> None:
        await until(lambda: bool(leg.audio.played))
        pressed_at.append(asyncio.get_running_loop().time())
        leg.dtmf.put_nowait("0")

    transfers_at: list[float] = []

    async def transfer(target_uri: str, headers: dict[str, str]) -> bool:
        transfers_at.append(asyncio.get_running_loop().time())
        await leg.hangup()
        return True

    leg.transfer = transfer  # type: ignore[method-assign]
    presser = asyncio.create_task(press_while_the_greeting_plays())
    config = settings(CALLBOT_TRANSFER_URI="sip:agents@pbx.example.org")
    session = await run_call(store, tmp_path, leg, FakeDialogue([]), config)
    await presser
    assert session.outcome == "transferred" and leg.audio.cleared >= 1
    # The greeting has seconds to go: the key cuts it, and the transfer starts at once (the announcement
    # plays while the PBX moves the call).
    assert transfers_at[0] - pressed_at[0] < 0.3


async def test_barge_in_drops_the_rest_of_the_reply(store: Store, tmp_path: Path) -> None:
    tts = FakeSynthesizer(chunk_delay=0.01)
    # greeting; the caller's turn; once the reply's first audio is queued, the caller talks over it.
    caller: list[bytes | int] = [*tone_frames(1.0), *silence_frames(1.2)]
    leg = FakeLeg(LongPlayingAudio(caller))
    reply = DialogueReply(texts=["Première partie de la réponse.", "Deuxième partie.", "Troisième partie."])
    dialogue = FakeDialogue([reply, DialogueReply(texts=["Bien."], hangup=True)])

    async def talk_over_the_reply() -> None:
        await until(lambda: session.speaker.saying == "Première partie de la réponse.")
        leg.audio.caller.extend([*tone_frames(1.0), *silence_frames(1.5)])

    writer = StoreWriter(store, spill_path=tmp_path / "spill.jsonl")
    services = CallServices(settings=settings(), asr=fake_asr(), tts=tts, dialogue=dialogue, store=store, writer=writer)
    session = CallSession(leg, "sip", services)
    talker = asyncio.create_task(talk_over_the_reply())
    await asyncio.wait_for(session.run(), 30)
    await writer.close()
    await talker
    assert session.speaker.interruptions >= 1
    assert "Troisième partie." not in tts.texts  # dropped, never synthesised nor played over the caller
    assert dialogue.rewinds == 0  # the turn was answered ahead (at its pause) and that answer kept
    said = [turn.text for turn in store.get_call(session.call_id).turns if turn.speaker == "bot"]
    assert "Troisième partie." not in said and said[-1] == "Bien."


async def test_silence_is_counted_from_the_end_of_the_bot_s_words_not_from_their_start(
    store: Store, tmp_path: Path
) -> None:
    leg = FakeLeg(LongPlayingAudio([]))  # the greeting's pieces take seconds to play
    dialogue = FakeDialogue([DialogueReply(texts=["Je ne vous entends pas. Au revoir."], hangup=True)])
    config = settings(CALLBOT_VAD_NO_INPUT_TIMEOUT_S="1.5")
    asked_at: list[float] = []
    greeting_done: list[float] = []

    async def watch() -> None:
        await until(lambda: bool(leg.audio.played))
        await leg.audio.wait_played()
        greeting_done.append(asyncio.get_running_loop().time())
        await until(lambda: bool(dialogue.sent))
        asked_at.append(asyncio.get_running_loop().time())

    watcher = asyncio.create_task(watch())
    await run_call(store, tmp_path, leg, dialogue, config)
    await watcher
    assert [text for text, _ in dialogue.sent] == ["/no_input"]
    assert asked_at[0] - greeting_done[0] >= 1.4  # the whole timeout after the greeting, not at its end


async def test_the_answer_prepared_at_the_pause_is_the_one_given_when_the_caller_has_finished(
    store: Store, tmp_path: Path
) -> None:
    leg = FakeLeg(FakeAudio([*tone_frames(1.0), *silence_frames(1.5)]))
    dialogue = FakeDialogue([DialogueReply(texts=["C'est noté. Au revoir."], hangup=True)])
    session = await run_call(store, tmp_path, leg, dialogue)
    assert [text for text, _ in dialogue.sent] == [WORDS] and dialogue.rewinds == 0
    assert session.services.metrics.previews_total == 1
    assert session.services.metrics.previews_taken_back_total == 0
    said = [(turn.speaker, turn.text) for turn in store.get_call(session.call_id).turns]
    assert said[1:] == [("caller", WORDS), ("bot", "C'est noté. Au revoir.")]


async def test_a_caller_who_goes_on_after_the_pause_has_the_prepared_answer_taken_back(
    store: Store, tmp_path: Path
) -> None:
    # Speech, a pause long enough to try an answer but not to end the turn, then more speech.
    caller: list[bytes | int] = [*tone_frames(1.0), *silence_frames(0.4), *tone_frames(0.8), *silence_frames(1.5)]
    leg = FakeLeg(FakeAudio(caller))
    dialogue = FakeDialogue(
        [DialogueReply(texts=["Réponse trop tôt."]), DialogueReply(texts=["Bien compris. Au revoir."], hangup=True)]
    )
    asr = FakeRecognizer(["il y a un trou", "rue de rome"], confidence=0.82, min_audio_s=0.3, sound_only=True)
    session = await run_call(store, tmp_path, leg, dialogue, asr=asr)
    assert [text for text, _ in dialogue.sent] == ["il y a un trou", "il y a un trou rue de rome"]
    assert dialogue.rewinds == 1 and session.services.metrics.previews_taken_back_total == 1
    said = [(turn.speaker, turn.text) for turn in store.get_call(session.call_id).turns]
    assert ("bot", "Réponse trop tôt.") not in said  # never said, never recorded
    assert said[1:] == [("caller", "il y a un trou rue de rome"), ("bot", "Bien compris. Au revoir.")]


async def test_a_preview_taken_back_before_it_started_does_not_lock_the_call(store: Store, tmp_path: Path) -> None:
    # Two pauses in one turn, the caller going on after each: the second preview is taken back while the
    # first one's rewind may still be under way.
    caller: list[bytes | int] = [
        *tone_frames(0.8),
        *silence_frames(0.55),
        *tone_frames(0.4),
        *silence_frames(0.55),
        *tone_frames(0.6),
        *silence_frames(1.5),
    ]

    class BurstAudio(FakeAudio):
        """A backlog read at once (a listener that was late): frames come without the loop turning."""

        async def read_frame(self) -> bytes | None:
            if self.caller and isinstance(self.caller[0], bytes):
                frame = self.caller.pop(0)
                assert isinstance(frame, bytes)
                return frame
            return await super().read_frame()

    leg = FakeLeg(BurstAudio(caller))
    dialogue = FakeDialogue(
        [DialogueReply(texts=["Un."]), DialogueReply(texts=["Deux."]), DialogueReply(texts=["Fin."], hangup=True)]
    )
    asr = FakeRecognizer(["a", "b", "c"], confidence=0.82, min_audio_s=0.3, sound_only=True)
    session = await run_call(store, tmp_path, leg, dialogue, asr=asr)
    assert session.outcome == "completed"
    # Whatever was prepared at the pauses (nothing, when the caller went on before a pause's words came back), every
    # answer tried ahead was taken back and the turn reached the dialogue whole.
    words = [text for text, _ in dialogue.sent if not text.startswith("/")]
    assert words[-1] == "a b c" and dialogue.rewinds == len(words) - 1, (dialogue.sent, dialogue.rewinds)


@pytest.mark.parametrize("answered", [True, False])
async def test_an_address_the_dialogue_has_whole_is_answered_after_a_shorter_silence(
    store: Store, tmp_path: Path, answered: bool
) -> None:
    # The first turn asks for the place; the second, said after the bot's second message, is the address.
    caller: list[bytes | int] = [*tone_frames(1.0), *silence_frames(1.5), 2, *tone_frames(1.0), *silence_frames(2.0)]
    leg = FakeLeg(FakeAudio(caller))
    dialogue = FakeDialogue(
        [
            DialogueReply(texts=["Où se trouve le problème ?"], expects="place", previewable=True),
            DialogueReply(texts=["C'est noté. Au revoir."], hangup=True, answered=answered),
        ]
    )
    session = await run_call(store, tmp_path, leg, dialogue)
    assert [turn.text for turn in store.get_call(session.call_id).turns][-1] == "C'est noté. Au revoir."
    wanted = session.settings.vad.end_of_turn
    if answered:  # at once once the prepared answer says so: a frame or two after the answered silence at most
        assert wanted.answered_ms <= session.listener.ended_after_ms <= wanted.answered_ms + 100
    else:
        assert session.listener.ended_after_ms == wanted.place_ms
