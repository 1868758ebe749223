"""DialogueClient against a small aiohttp fake of Rasa's REST channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from dialogue import client as client_module
from dialogue.client import DialogueClient, DialogueUnavailable, parse_reply
from dialogue.slots import answered, expected_answer

rewound: list[str] = []  # conversations whose last message was taken back


@pytest.fixture
async def fake_rasa() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    rewound.clear()

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        received.append(body)
        if body["message"] == "boom":
            return web.Response(status=500)
        if body["message"] == "mute" or (body["message"] == "flaky" and len(received) < 3):
            return web.json_response([])  # what Rasa answers when the custom action failed
        return web.json_response(
            [
                {"recipient_id": body["sender"], "text": "Votre signalement est enregistré."},
                {"recipient_id": body["sender"], "custom": {"callbot": {"report_id": 42}}},
                {"recipient_id": body["sender"], "custom": {"callbot": {"action": "hangup"}}},
            ]
        )

    async def events(request: web.Request) -> web.Response:
        assert await request.json() == {"event": "rewind"}
        rewound.append(request.match_info["cid"])
        return web.json_response({})

    async def tracker(request: web.Request) -> web.Response:
        return web.json_response({"sender_id": request.match_info["cid"], "slots": {"category": "proprete"}})

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"model_file": "x.tar.gz", "model_id": "abc"})

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    app.router.add_get("/conversations/{cid}/tracker", tracker)
    app.router.add_post("/conversations/{cid}/tracker/events", events)
    app.router.add_get("/status", status)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", received
    await runner.cleanup()


async def test_send_parses_texts_and_control_payloads(fake_rasa: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = fake_rasa
    client = DialogueClient(url, timeout_s=5)
    try:
        reply = await client.send("call-1", "oui", {"asr_confidence": 0.8, "channel": "phone", "caller_number": None})
        assert reply.texts == ["Votre signalement est enregistré."]
        assert reply.report_id == 42 and reply.hangup and reply.handoff_reason is None
        assert received[0] == {
            "sender": "call-1",
            "message": "oui",
            "metadata": {"asr_confidence": 0.8, "channel": "phone", "caller_number": None},
        }
        assert await client.slots("call/1") == {"category": "proprete"}
        assert await client.ready()
    finally:
        await client.close()


async def test_server_error_raises_dialogue_unavailable(fake_rasa: tuple[str, list[dict[str, Any]]]) -> None:
    client = DialogueClient(fake_rasa[0], timeout_s=5)
    try:
        with pytest.raises(DialogueUnavailable, match="500"):
            await client.send("call-2", "boom", {})
    finally:
        await client.close()


async def test_a_message_whose_action_failed_is_taken_back_and_sent_again(
    fake_rasa: tuple[str, list[dict[str, Any]]],
) -> None:
    """An empty answer: the action server died mid-turn. While its supervisor starts it again the message is
    rewound and sent again, so the turn is answered once, as if nothing had happened."""
    url, received = fake_rasa
    client = DialogueClient(url, timeout_s=5)
    try:
        reply = await client.send("call-4", "flaky", {})
        assert reply.texts == ["Votre signalement est enregistré."]
        assert [body["message"] for body in received] == ["flaky"] * 3
        assert rewound == ["call-4", "call-4"]  # each failed try taken back before the next
    finally:
        await client.close()


async def test_a_message_never_answered_raises_dialogue_unavailable_at_the_deadline(
    fake_rasa: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Silence would leave the caller waiting: past the deadline the session hands over with the technical
    apology."""
    monkeypatch.setattr(client_module, "ACTION_SERVER_RESTART_S", 1.0)
    client = DialogueClient(fake_rasa[0], timeout_s=1)
    try:
        with pytest.raises(DialogueUnavailable, match="no answer"):
            await client.send("call-5", "mute", {})
    finally:
        await client.close()


async def test_connection_refused_raises_dialogue_unavailable() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = DialogueClient(f"http://127.0.0.1:{port}", timeout_s=2)
    try:
        with pytest.raises(DialogueUnavailable):
            await client.send("call-3", "allô", {})
        assert not await client.ready()
    finally:
        await client.close()


def test_the_kind_of_answer_expected_comes_with_the_reply_and_junk_is_ignored() -> None:
    said = [{"custom": {"callbot": {"fields": {}, "expects": "number"}}}]
    assert parse_reply(said).expects == "number"
    assert parse_reply([{"custom": {"callbot": {"expects": "<script>"}}}]).expects == "free"
    assert parse_reply([{"text": "Bonjour."}]).expects == "free"


def test_each_pending_question_maps_to_the_answer_it_calls_for() -> None:
    assert [expected_answer(p) for p in ("confirm", "danger", "callback_number", "commune", "description", None)] == [
        "yes_no",
        "yes_no",
        "number",
        "place",
        "free",
        "free",
    ]


def test_the_answered_flag_is_read_only_when_it_is_true() -> None:
    assert parse_reply([{"custom": {"callbot": {"answered": True}}}]).answered
    assert not parse_reply([{"custom": {"callbot": {"answered": "yes"}}}]).answered
    assert not parse_reply([{"text": "Bonjour."}]).answered


def test_a_closed_question_counts_as_answered_only_when_the_caller_cannot_be_half_way_through_the_next() -> None:
    assert answered("danger", "callback_consent")  # "non" to the danger: done
    assert answered("place", "danger") and answered("callback_number", "confirm")
    assert not answered("place", "street_number")  # a street said; its number may follow after a breath
    assert not answered("callback_consent", "callback_number")  # "oui" then the number
    assert not answered("danger", "danger")  # asked again: not understood
    assert not answered("problem", "place")  # a description goes on after the problem is named
