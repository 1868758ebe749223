"""The call-back offer in a voice call: nobody can take the call (closed, no agents' line, the transfer failed),
so the dialogue offers a call back and the session stores the request it accepts. Stages faked as in
test_session.py; the dialogue's side of the offer is tested through the real Rasa in tests/callbot/web."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callbot.metrics import CallMetrics
from callbot.session import CallServices, CallSession
from dialogue.client import DialogueReply
from signalements import Store, StoreWriter
from signalements.decisions import Decisions
from tests.callbot.test_session import (
    OPEN,
    FakeAudio,
    FakeDialogue,
    FakeLeg,
    fake_asr,
    settings,
    silence_frames,
    tone_frames,
    until,
)
from tts.fake import FakeSynthesizer

SATURDAY = datetime(2027, 1, 9, 10, 0, tzinfo=UTC)  # closed by the default hours: they open on Monday at 08:30
AGENTS = "sip:agents@pbx.example.org"
OFFER = DialogueReply(
    texts=["Nos conseillers ne sont pas disponibles pour le moment. Voulez-vous qu'un conseiller vous rappelle ?"],
    expects="yes_no",
)


def two_turns() -> FakeAudio:
    """A caller who speaks, waits for the bot's answer (the greeting, then the offer), and speaks again."""
    return FakeAudio([*tone_frames(1.0), *silence_frames(1.5), 2, *tone_frames(1.0), *silence_frames(1.5)])


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'calls.sqlite3'}", secrets.token_bytes(32))
    store.migrate()
    return store


async def call(
    store: Store, tmp_path: Path, leg: FakeLeg, dialogue: FakeDialogue, now: datetime, **env: str
) -> CallSession:
    writer = StoreWriter(store, spill_path=tmp_path / "spill.jsonl")
    services = CallServices(
        settings=settings(**env),
        asr=fake_asr(),
        tts=FakeSynthesizer(),
        dialogue=dialogue,
        store=store,
        writer=writer,
        metrics=CallMetrics(),
        clock=lambda: now,
    )
    session = CallSession(leg, "sip", services)
    await asyncio.wait_for(session.run(), 30)
    await writer.close()
    return session


async def test_closed_the_caller_accepts_a_call_back_on_their_own_number(store: Store, tmp_path: Path) -> None:
    leg = FakeLeg(two_turns())
    dialogue = FakeDialogue(
        [
            DialogueReply(handoff_reason="caller_request"),  # the caller asked for a person
            OFFER,
            DialogueReply(
                texts=["C'est noté : un conseiller vous rappellera au 04 91 00 00 00 à partir de lundi. Au revoir."],
                callback_number="04 91 00 00 00",
                hangup=True,
            ),
        ]
    )
    session = await call(store, tmp_path, leg, dialogue, SATURDAY, CALLBOT_TRANSFER_URI=AGENTS)

    assert not leg.transfers and leg.hung_up  # closed: no transfer was tried
    command, metadata = dialogue.sent[1]
    assert command == "/offer_callback"
    assert metadata["callback_reason"] == "outside_hours"
    assert metadata["callback_when"] == "à partir de lundi 8 heures 30"
    assert metadata["caller_number"] == "+33491000000"  # the dialogue offers the line's number
    assert session.outcome == "callback_requested"
    [request] = Decisions(store).callbacks()
    assert (request.call_id, request.reason, request.number) == (session.call_id, "outside_hours", "04 91 00 00 00")
    call_record = store.get_call(session.call_id)
    handoff = call_record.handoffs[0]
    assert handoff.reason == "caller_request" and not handoff.succeeded
    assert handoff.fields == {"category": "voirie", "place": "rue de Rome"}  # the report so far stays with it
    said = [turn.text for turn in call_record.turns if turn.speaker == "bot"]
    assert OFFER.texts[0] in said and all("mets en relation" not in text for text in said)
    assert call_record.summary.outcome == "callback_requested"


async def test_the_transfer_fails_the_caller_declines_no_request(store: Store, tmp_path: Path) -> None:
    leg = FakeLeg(FakeAudio([*silence_frames(0.5), 3, *tone_frames(1.0), *silence_frames(1.5)]), transfer_result=False)
    leg.dtmf.put_nowait("0")
    dialogue = FakeDialogue(
        [OFFER, DialogueReply(texts=["D'accord. Merci de votre appel, au revoir."], hangup=True)]  # "non merci"
    )
    session = await call(store, tmp_path, leg, dialogue, OPEN, CALLBOT_TRANSFER_URI=AGENTS)

    assert leg.transfers  # tried, failed
    assert dialogue.sent[0][0] == "/offer_callback" and dialogue.sent[0][1]["callback_reason"] == "transfer_failed"
    assert dialogue.sent[0][1]["callback_when"] == "dès que possible"  # open: agents call back when they can
    assert session.outcome == "transfer_failed" and leg.hung_up
    assert Decisions(store).callbacks(status=None) == []
    call_record = store.get_call(session.call_id)
    assert [(h.reason, h.succeeded) for h in call_record.handoffs] == [("dtmf", False)]
    said = [turn.text for turn in call_record.turns if turn.speaker == "bot"]
    assert said[-1] == "D'accord. Merci de votre appel, au revoir."
    assert settings().prompts.transfer_failed not in said  # no dead end: the offer replaced the apology


async def test_open_and_the_transfer_works_as_before(store: Store, tmp_path: Path) -> None:
    leg = FakeLeg(FakeAudio([*tone_frames(1.0), *silence_frames(1.5)]))
    dialogue = FakeDialogue([DialogueReply(handoff_reason="caller_request")])
    session = await call(store, tmp_path, leg, dialogue, OPEN, CALLBOT_TRANSFER_URI=AGENTS)

    assert leg.transfers == [(AGENTS, {"X-Callbot-Call-Id": session.call_id})]
    assert session.outcome == "transferred"
    assert [text for text, _ in dialogue.sent] == ["il y a un trou rue de rome"]  # no offer
    assert Decisions(store).callbacks(status=None) == []
    call_record = store.get_call(session.call_id)
    assert call_record.handoffs[0].succeeded
    assert call_record.turns[-1].text == settings().prompts.transferring  # the session announces the transfer


async def test_without_an_agents_line_a_call_back_is_offered_even_when_open(store: Store, tmp_path: Path) -> None:
    leg = FakeLeg(two_turns(), caller_number=None)
    dialogue = FakeDialogue(
        [
            DialogueReply(handoff_reason="low_confidence"),
            OFFER,
            DialogueReply(texts=["C'est noté. Au revoir."], callback_number="06 12 34 56 78", hangup=True),
        ]
    )
    session = await call(store, tmp_path, leg, dialogue, OPEN)  # transfer.uri unset by default

    assert dialogue.sent[1][1]["callback_reason"] == "no_transfer"
    assert dialogue.sent[1][1]["caller_number"] is None  # no caller id: the dialogue asks for the number
    [request] = Decisions(store).callbacks()
    assert (request.reason, request.number) == ("no_transfer", "06 12 34 56 78")
    assert session.outcome == "callback_requested"


async def test_key_0_during_the_offer_repeats_it(store: Store, tmp_path: Path) -> None:
    leg = FakeLeg(two_turns())
    dialogue = FakeDialogue(
        [
            DialogueReply(handoff_reason="caller_request"),
            OFFER,
            DialogueReply(texts=["Au revoir."], hangup=True),
        ]
    )

    async def press_0_once_offered() -> None:
        await until(lambda: any(text == "/offer_callback" for text, _ in dialogue.sent))
        leg.dtmf.put_nowait("0")

    presser = asyncio.create_task(press_0_once_offered())
    session = await call(store, tmp_path, leg, dialogue, SATURDAY, CALLBOT_TRANSFER_URI=AGENTS)
    await presser
    assert not leg.transfers
    assert [text for text, _ in dialogue.sent].count("/offer_callback") == 1
    said = [turn.text for turn in store.get_call(session.call_id).turns if turn.speaker == "bot"]
    assert said.count(OFFER.texts[0]) == 2
    assert session.outcome == "handoff_unavailable"  # declined (or hung up): no request
