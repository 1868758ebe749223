"""The text channel through the real trained Rasa model and action server: the key paths of a report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from callbot.config import load_settings
from callbot.metrics import CallMetrics
from callbot.web.app import Readiness, create_app
from callbot.web.chat import ChatService, add_chat_routes
from dialogue.client import DialogueClient
from signalements import Store, StoreWriter


class Chat:
    def __init__(self, client: TestClient[web.Request, web.Application]) -> None:
        self.client = client
        self.session = ""
        self.greeting = ""

    async def open(self) -> Chat:
        response = await self.client.post("/chat/sessions")
        assert response.status == 201
        body = await response.json()
        self.session, self.greeting = body["session"], body["messages"][0]
        return self

    async def say(self, text: str) -> dict[str, Any]:
        response = await self.client.post(f"/chat/sessions/{self.session}/messages", json={"text": text})
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        body["said"] = " ".join(body["messages"])
        return body


@pytest.fixture
def store(dialogue_server: Any) -> Store:
    return Store(dialogue_server.database_url, dialogue_server.pseudonym_key)


@pytest.fixture
async def writer(store: Store, tmp_path: Path) -> AsyncIterator[StoreWriter]:
    writer = StoreWriter(store, spill_path=tmp_path / "spill.jsonl")
    yield writer
    await writer.close()


@pytest.fixture
async def client(
    dialogue_server: Any, store: Store, writer: StoreWriter, aiohttp_client: Any
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    dialogue = DialogueClient(dialogue_server.url, timeout_s=30, token=dialogue_server.token)
    settings = load_settings(environ={})
    service = ChatService(dialogue, store, writer, settings.prompts, settings.chat)

    def routes(app: web.Application) -> None:
        add_chat_routes(app, service)

    yield await aiohttp_client(create_app(Readiness(), CallMetrics(), None, routes))
    await dialogue.close()


async def test_one_sentence_report_is_saved_awaiting_validation(
    client: TestClient[web.Request, web.Application], store: Store, writer: StoreWriter
) -> None:
    chat = await Chat(client).open()
    assert "assistant automatique" in chat.greeting
    reply = await chat.say("bonjour un nid de poule s'est formé au 8 boulevard baille à marseille")
    assert "danger" in reply["said"]
    reply = await chat.say("non pas vraiment")
    reply = await chat.say("non merci")  # no callback
    assert "8 boulevard Baille" in reply["said"]
    reply = await chat.say("oui c'est bon")
    assert reply["ended"] and reply["report_id"] is not None
    await writer.flush()
    report = store.get_report(reply["report_id"])
    assert report.status == "awaiting_validation"
    assert report.category == "chaussee_trottoirs" and report.street_number == "8"
    call = store.get_call(chat.session)
    assert call.summary.channel == "text" and call.summary.outcome == "report_saved"
    assert [t.speaker for t in call.turns][:2] == ["bot", "caller"]


async def test_bit_by_bit_then_a_correction(client: TestClient[web.Request, web.Application]) -> None:
    chat = await Chat(client).open()
    reply = await chat.say("c'est pour un lampadaire qui clignote")
    assert "un peu plus" in reply["said"]  # a few words only: one question for more
    reply = await chat.say("il s'allume et s'éteint toutes les deux secondes")
    assert "Où" in reply["said"]
    reply = await chat.say("au 3 rue d'italie")
    reply = await chat.say("à aix en provence")
    assert "danger" in reply["said"]
    reply = await chat.say("non")
    reply = await chat.say("non")
    assert "3 rue d'Italie" in reply["said"]
    reply = await chat.say("non c'est au 5")
    assert "5 rue d'Italie" in reply["said"] and "Aix" in reply["said"]
    assert not reply["ended"]


async def test_repeat_and_a_request_for_a_human(
    client: TestClient[web.Request, web.Application], store: Store, writer: StoreWriter
) -> None:
    chat = await Chat(client).open()
    first = await chat.say("il y a des gravats abandonnés dans le chemin")
    again = await chat.say("vous pouvez répéter s'il vous plaît")
    assert again["messages"] == first["messages"]
    reply = await chat.say("je veux parler avec quelqu'un")
    assert reply["handoff"] == "caller_request" and reply["ended"]
    assert "conseiller" in reply["said"]
    await writer.flush()
    handoff = store.get_call(chat.session).handoffs[0]
    assert handoff.reason == "caller_request" and handoff.fields.get("category") == "proprete"
    gone = await client.post(f"/chat/sessions/{chat.session}/messages", json={"text": "allo"})
    assert gone.status == 409


async def test_immediate_danger_gives_112_and_hands_over(client: TestClient[web.Request, web.Application]) -> None:
    chat = await Chat(client).open()
    reply = await chat.say("un câble électrique arraché traîne sur le bitume devant l'école")
    assert "112" in reply["said"]
    assert reply["handoff"] == "emergency" and reply["ended"]


async def test_out_of_scope_starts_no_report(
    client: TestClient[web.Request, web.Application], store: Store, writer: StoreWriter
) -> None:
    chat = await Chat(client).open()
    reply = await chat.say("je voudrais savoir comment payer ma taxe foncière")
    assert reply["handoff"] is None and not reply["ended"]
    assert "conseiller" in reply["said"]
    await writer.flush()
    assert store.get_call(chat.session).reports == []


async def test_silence_reprompts_once_then_ends(client: TestClient[web.Request, web.Application]) -> None:
    chat = await Chat(client).open()
    first = await chat.say("")
    assert first["messages"] and not first["ended"]
    second = await chat.say("")
    assert second["ended"]


async def test_bad_requests_get_clear_errors(client: TestClient[web.Request, web.Application]) -> None:
    assert (await client.post("/chat/sessions/unknown/messages", json={"text": "x"})).status == 404
    chat = await Chat(client).open()
    url = f"/chat/sessions/{chat.session}/messages"
    not_json = await client.post(url, data=b"{oops", headers={"Content-Type": "application/json"})
    assert not_json.status == 400 and "JSON" in (await not_json.json())["error"]
    assert (await client.post(url, json={"text": 3})).status == 400
    assert (await client.post(url, json={"text": "x" * 501})).status == 413
    injected = await chat.say("/affirm")  # a user cannot inject an intent
    assert not injected["ended"]


async def test_one_client_cannot_open_conversations_without_limit(
    client: TestClient[web.Request, web.Application],
) -> None:
    allowed = load_settings(environ={}).chat.opens_per_client_per_minute
    for _ in range(allowed):
        assert (await client.post("/chat/sessions")).status == 201
    refused = await client.post("/chat/sessions")
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "60"
    assert "minute" in (await refused.json())["error"]
