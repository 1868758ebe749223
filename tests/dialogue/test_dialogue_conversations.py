"""Text conversations through the real trained Rasa model and the real action server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from dialogue.client import DialogueClient, DialogueReply
from signalements import Store

PHONE = {"asr_confidence": 0.9, "channel": "phone", "caller_number": None}


class Call:
    """One conversation, recorded in the store first as the callbot does (reports of unknown calls are refused)."""

    def __init__(self, client: DialogueClient, caller_number: str | None = None) -> None:
        self.client = client
        self.id = f"test-{uuid.uuid4().hex[:12]}"
        assert client_store is not None
        client_store.open_call(self.id, "sip", caller_number, datetime.now(UTC))
        self.metadata: dict[str, Any] = {**PHONE, "caller_number": caller_number}

    async def say(self, text: str, asr_confidence: float = 0.9) -> DialogueReply:
        return await self.client.send(self.id, text, {**self.metadata, "asr_confidence": asr_confidence})

    async def slots(self) -> dict[str, Any]:
        return await self.client.slots(self.id)


client_store: Store | None = None


@pytest.fixture
async def client(dialogue_server: Any) -> Any:
    global client_store
    client_store = Store(dialogue_server.database_url, dialogue_server.pseudonym_key)
    dialogue = DialogueClient(dialogue_server.url, timeout_s=30, token=dialogue_server.token)
    yield dialogue
    await dialogue.close()
    client_store.close()


def spoken(reply: DialogueReply) -> str:
    return " ".join(reply.texts)


async def test_one_sentence_report_is_read_back_and_saved(client: DialogueClient, dialogue_server: Any) -> None:
    call = Call(client, caller_number="+33612345678")
    reply = await call.say("euh bonjour il y a un nid de poule en face du quatorze ter rue de rome sur marseille")
    assert "danger" in spoken(reply)
    reply = await call.say("non")
    assert "06 12 34 56 78" in spoken(reply)
    reply = await call.say("oui")
    assert "14 ter rue de Rome, Marseille" in spoken(reply)
    assert "chaussée" in spoken(reply)
    reply = await call.say("oui c'est ça")
    assert reply.report_id is not None and reply.hangup
    assert str(reply.report_id) in spoken(reply)

    from signalements import Store

    report = Store(dialogue_server.database_url, dialogue_server.pseudonym_key).get_report(reply.report_id)
    assert report.category == "chaussee_trottoirs"
    assert report.street_number == "14 ter" and report.commune == "Marseille"
    assert report.callback_number == "06 12 34 56 78"


async def test_bit_by_bit_asks_only_what_is_missing(client: DialogueClient) -> None:
    call = Call(client)
    reply = await call.say("bonjour je vous appelle pour un problème")
    assert "problème" in spoken(reply)
    reply = await call.say("ben c'est un lampadaire qui est éteint")
    assert "un peu plus" in spoken(reply)  # a few words only: one question for more
    reply = await call.say("il ne s'allume plus depuis lundi soir")
    assert "Où" in spoken(reply)
    reply = await call.say("devant l'école frédéric mistral")
    assert "commune" in spoken(reply)
    reply = await call.say("à aubagne")
    assert "danger" in spoken(reply)
    reply = await call.say("non")
    assert "rappelle" in spoken(reply)
    reply = await call.say("oui")
    assert "numéro" in spoken(reply)
    reply = await call.say("zéro six vingt-et-un quarante-trois soixante-cinq quatre-vingt-sept")
    assert "06 21 43 65 87" in spoken(reply) and "Aubagne" in spoken(reply)
    slots = await call.slots()
    assert slots["category"] == "eclairage_public" and slots["callback_consent"] is True


async def test_correction_changes_only_that_field(client: DialogueClient) -> None:
    call = Call(client, caller_number="0712345678")
    await call.say("il y a des tags sur le mur au 12 rue paradis à marseille c'est pas dangereux")
    reply = await call.say("non")
    assert "12 rue Paradis" in spoken(reply)
    reply = await call.say("non c'est au 14")
    assert "14 rue Paradis, Marseille" in spoken(reply)
    slots = await call.slots()
    assert slots["street_number"] == "14" and slots["category"] == "tags_graffitis"
    assert slots["callback_consent"] is False


async def test_repeat_says_the_last_turn_again(client: DialogueClient) -> None:
    call = Call(client)
    first = await call.say("une branche énorme est tombée, elle barre le trottoir")
    again = await call.say("vous pouvez répéter")
    assert again.texts == first.texts


async def test_request_for_a_human_hands_over(client: DialogueClient) -> None:
    call = Call(client)
    await call.say("il y a des rats près des poubelles")
    reply = await call.say("je veux parler avec quelqu'un")
    assert reply.handoff_reason == "caller_request"


async def test_immediate_danger_gives_the_emergency_number_and_hands_over(client: DialogueClient) -> None:
    call = Call(client)
    reply = await call.say("ça sent vachement le gaz partout dans le quartier")
    assert "112" in spoken(reply)
    assert reply.handoff_reason == "emergency"


async def test_out_of_scope_offers_a_human_and_starts_no_report(client: DialogueClient) -> None:
    call = Call(client)
    reply = await call.say("je voudrais payer ma facture d'eau")
    assert "conseiller" in spoken(reply) and reply.handoff_reason is None
    assert not (await call.slots()).get("category")
    reply = await call.say("oui")
    assert reply.handoff_reason == "out_of_scope"


async def test_silence_reprompts_once_then_ends(client: DialogueClient) -> None:
    call = Call(client)
    first = await call.say("/no_input")
    assert first.texts and not first.hangup
    second = await call.say("/no_input")
    assert second.hangup or second.handoff_reason == "no_input"


async def test_gibberish_starts_no_report(client: DialogueClient) -> None:
    call = Call(client)
    reply = DialogueReply()
    for text in ("qsdf blorg zutik pataflop", "frmbl grzt plouk", "zogzog brlm tchak"):
        reply = await call.say(text)
        assert not (await call.slots()).get("category")
        if reply.handoff_reason:  # said by the channel (a transfer announced, a call back offered)
            break
        assert reply.texts
    assert reply.handoff_reason == "low_confidence"


async def test_low_asr_confidence_is_not_taken_as_a_report(client: DialogueClient) -> None:
    call = Call(client)
    reply = await call.say("il y a des tags sur le mur", asr_confidence=0.2)
    assert "compris" in spoken(reply)


async def test_each_reply_says_whether_a_closed_question_was_answered_whole(client: DialogueClient) -> None:
    call = Call(client)
    problem = await call.say("le réverbère ne marche plus devant la mairie")
    assert "commune" in spoken(problem) and not problem.answered  # a description may go on after the problem
    commune = await call.say("à Gémenos")
    assert "danger" in spoken(commune) and commune.answered
    danger = await call.say("non")
    assert "rappelle" in spoken(danger) and danger.answered
    consent = await call.say("oui")
    assert "numéro" in spoken(consent) and not consent.answered  # the number may come after the "oui"
    number = await call.say("zéro six onze vingt-deux trente-trois quarante-quatre")
    assert "06 11 22 33 44" in spoken(number) and number.answered
