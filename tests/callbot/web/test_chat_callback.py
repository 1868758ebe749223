"""The call-back offer through the real trained Rasa model and action server: in the text chat over HTTP, and the
voice channel's confirmation of the line's own number (a Conversation as the session drives it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from callbot.config import load_settings
from callbot.conversation import Conversation
from callbot.metrics import CallMetrics
from callbot.web.app import Readiness, create_app
from callbot.web.chat import ChatService, add_chat_routes
from dialogue.client import DialogueClient
from signalements import Store, StoreWriter
from signalements.decisions import Decisions
from tests.callbot.web.test_chat_api import Chat

SATURDAY = datetime(2027, 1, 9, 10, 0, tzinfo=UTC)  # closed by the default hours until Monday 08:30
WEDNESDAY = datetime(2027, 1, 6, 10, 0, tzinfo=UTC)  # open


@pytest.fixture
def store(dialogue_server: Any) -> Store:
    return Store(dialogue_server.database_url, dialogue_server.pseudonym_key)


@pytest.fixture
async def writer(store: Store, tmp_path: Path) -> AsyncIterator[StoreWriter]:
    writer = StoreWriter(store, spill_path=tmp_path / "spill.jsonl")
    yield writer
    await writer.close()


@pytest.fixture
async def dialogue(dialogue_server: Any) -> AsyncIterator[DialogueClient]:
    client = DialogueClient(dialogue_server.url, timeout_s=30, token=dialogue_server.token)
    yield client
    await client.close()


async def chat_client(
    dialogue: DialogueClient, store: Store, writer: StoreWriter, aiohttp_client: Any, now: datetime, **env: str
) -> TestClient[web.Request, web.Application]:
    settings = load_settings(environ=env)
    service = ChatService(
        dialogue, store, writer, settings.prompts, settings.chat, transfer=settings.transfer, clock=lambda: now
    )

    def routes(app: web.Application) -> None:
        add_chat_routes(app, service)

    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(Readiness(), CallMetrics(), None, routes)
    )
    return client


def requests_of(store: Store, call_id: str) -> list[Any]:
    return [request for request in Decisions(store).callbacks(status=None, limit=1000) if request.call_id == call_id]


async def test_outside_hours_a_person_asked_for_becomes_a_call_back_request(
    dialogue: DialogueClient, store: Store, writer: StoreWriter, aiohttp_client: Any
) -> None:
    client = await chat_client(
        dialogue, store, writer, aiohttp_client, SATURDAY, CALLBOT_TRANSFER_URI="sip:agents@pbx.example.org"
    )
    chat = await Chat(client).open()
    reply = await chat.say("il y a un lampadaire cassé boulevard baille")
    reply = await chat.say("je préfère causer avec un conseiller")
    assert reply["handoff"] == "caller_request" and not reply["ended"], reply
    assert "ne sont pas disponibles" in reply["said"] and "rappelle" in reply["said"], reply
    reply = await chat.say("oui volontiers")
    assert "numéro" in reply["said"] and not reply["ended"], reply  # a chat has no caller id: the number is asked
    reply = await chat.say("c'est le zéro six douze trente-quatre cinquante-six soixante-dix-huit")
    assert reply["ended"], reply
    assert "06 12 34 56 78" in reply["said"] and "à partir de lundi 8 heures 30" in reply["said"], reply

    await writer.flush()
    [request] = requests_of(store, chat.session)
    assert (request.reason, request.number, request.status) == ("outside_hours", "06 12 34 56 78", "pending")
    call = store.get_call(chat.session)
    assert call.summary.outcome == "callback_requested"
    [handoff] = call.handoffs
    assert handoff.reason == "caller_request" and not handoff.succeeded
    assert handoff.fields.get("category") == "eclairage_public"  # the report begun stays with the handoff


async def test_declined_offer_stores_no_request(
    dialogue: DialogueClient, store: Store, writer: StoreWriter, aiohttp_client: Any
) -> None:
    # Open, but no agents' line (transfer.uri unset by default): the call back is offered all the same.
    client = await chat_client(dialogue, store, writer, aiohttp_client, WEDNESDAY)
    chat = await Chat(client).open()
    reply = await chat.say("passez-moi un conseiller s'il vous plaît")
    assert reply["handoff"] == "caller_request" and "rappelle" in reply["said"], reply
    reply = await chat.say("non merci")
    assert reply["ended"] and "au revoir" in reply["said"], reply
    await writer.flush()
    assert requests_of(store, chat.session) == []
    call = store.get_call(chat.session)
    assert call.summary.outcome == "handoff_unavailable"
    assert [h.reason for h in call.handoffs] == ["caller_request"]


async def test_open_with_an_agents_line_the_chat_is_handed_over_as_before(
    dialogue: DialogueClient, store: Store, writer: StoreWriter, aiohttp_client: Any
) -> None:
    client = await chat_client(
        dialogue, store, writer, aiohttp_client, WEDNESDAY, CALLBOT_TRANSFER_URI="sip:agents@pbx.example.org"
    )
    chat = await Chat(client).open()
    reply = await chat.say("passez-moi un conseiller s'il vous plaît")
    assert reply["ended"] and reply["messages"] == [load_settings(environ={}).prompts.chat_handoff], reply


async def test_the_line_number_is_read_back_and_confirmed(
    dialogue: DialogueClient, store: Store, writer: StoreWriter
) -> None:
    """The voice channel's path: the caller id is offered, read back in full, and confirmed."""
    conversation = Conversation("voice-callback-known", "sip", "+33491000000", dialogue, store, writer)
    await conversation.open()
    reply = await conversation.ask("mettez-moi en relation avec un agent", 0.9)
    assert reply is not None and reply.handoff_reason == "caller_request" and not reply.texts
    offer = await conversation.offer_callback("transfer_failed", "dès que possible")
    assert offer is not None and offer.expects == "yes_no" and not offer.previewable
    reply = await conversation.ask("oui", 0.9)
    assert reply is not None and any("04 91 00 00 00" in text for text in reply.texts), reply
    assert reply.callback_number is None and not reply.hangup
    reply = await conversation.ask("oui c'est bien ça", 0.9)
    assert reply is not None and reply.callback_number == "04 91 00 00 00" and reply.hangup, reply
    assert any("dès que possible" in text for text in reply.texts)
