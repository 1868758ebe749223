"""The JSON API routes, through aiohttp's test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from signalements import ReportDraft, Store
from signalements.api import add_routes
from tests.signalements.conftest import PSEUDONYM_KEY, T0

DRAFT = ReportDraft(
    category="proprete_depot_sauvage",
    place="place Castellane",
    description="des gravats",
    danger=False,
    callback_consent=True,
    callback_number="0611223344",
    commune="Marseille",
)


async def client_for(store: Store) -> TestClient[web.Request, web.Application]:
    app = web.Application()
    add_routes(app, store)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    return client


@pytest.fixture
async def client(store: Store) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    store.open_call("call-a", "sip", "+33600000001", T0)
    store.add_turn("call-a", "bot", "Bonjour", T0, T0 + timedelta(seconds=2))
    store.add_handoff("call-a", "caller_request", "sip:agent@127.0.0.1", True, {"commune": "Marseille"}, T0)
    store.save_report("call-a", DRAFT, created_at=T0)
    store.open_call("call-b", "webrtc", None, T0 + timedelta(hours=1))
    store.save_report("call-b", DRAFT, created_at=T0 + timedelta(hours=1))
    test_client = await client_for(store)
    yield test_client
    await test_client.close()


async def test_list_and_get_calls(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/api/calls", params={"limit": "1"})
    assert response.status == 200
    page = await response.json()
    assert page["total"] == 2 and page["limit"] == 1 and [c["call_id"] for c in page["items"]] == ["call-b"]
    response = await client.get("/api/calls", params={"since": "2026-11-23T09:00:00Z", "offset": "1"})
    assert [c["call_id"] for c in (await response.json())["items"]] == ["call-a"]

    detail = await (await client.get("/api/calls/call-a")).json()
    assert detail["channel"] == "sip" and detail["turn_count"] == 1
    assert detail["turns"][0] == {
        "seq": 1,
        "speaker": "bot",
        "text": "Bonjour",
        "started_at": "2026-11-23T09:30:00+00:00",
        "ended_at": "2026-11-23T09:30:02+00:00",
        "asr_confidence": None,
        "intent": None,
        "intent_confidence": None,
        "words": None,
    }
    assert detail["handoffs"][0]["fields"] == {"commune": "Marseille"}
    assert detail["reports"][0]["callback"] == {"consent": True, "number": "0611223344"}
    assert "+33600000001" not in await (await client.get("/api/calls/call-a")).text()


async def test_report_review_through_the_api(client: TestClient[web.Request, web.Application]) -> None:
    page = await (await client.get("/api/reports", params={"status": "awaiting_validation"})).json()
    newest, oldest = (item["id"] for item in page["items"])
    response = await client.post(f"/api/reports/{newest}/validate", json={"reviewer": "agent.roux"})
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "validated" and body["review"]["by"] == "agent.roux"

    response = await client.post(f"/api/reports/{newest}/reject", json={"reviewer": "agent.roux", "note": "x"})
    assert response.status == 409 and "already validated" in (await response.json())["error"]
    response = await client.post(f"/api/reports/{oldest}/reject", json={"reviewer": "agent.roux"})
    assert response.status == 400 and "note" in (await response.json())["error"]
    response = await client.post(f"/api/reports/{oldest}/reject", json={"reviewer": "agent.roux", "note": "doublon"})
    assert (await response.json())["status"] == "rejected"

    report = await (await client.get(f"/api/reports/{oldest}")).json()
    assert report["review"]["note"] == "doublon" and report["place"]["commune"] == "Marseille"
    validated = await (await client.get("/api/reports", params={"status": "validated"})).json()
    assert [item["id"] for item in validated["items"]] == [newest]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("GET", "/api/calls/nope", None, 404, "no call"),
        ("GET", "/api/reports/999", None, 404, "no report"),
        ("GET", "/api/reports/abc", None, 400, "integer"),
        ("GET", "/api/reports?status=done", None, 400, "status"),
        ("GET", "/api/calls?limit=many", None, 400, "limit"),
        ("GET", "/api/calls?limit=100000", None, 400, "limit"),
        ("GET", "/api/calls?since=yesterday", None, 400, "since"),
        ("POST", "/api/reports/1/validate", "not json", 400, "JSON"),
        ("POST", "/api/reports/1/validate", {"note": "ok"}, 400, "reviewer"),
        ("POST", "/api/reports/1/validate", {"reviewer": "bot"}, 400, "not a person"),
        ("POST", "/api/reports/999/validate", {"reviewer": "agent"}, 404, "no report"),
    ],
)
async def test_errors_are_json(
    client: TestClient[web.Request, web.Application], method: str, path: str, body: object, status: int, words: str
) -> None:
    if isinstance(body, str):
        response = await client.request(method, path, data=body)
    else:
        response = await client.request(method, path, json=body)
    assert response.status == status
    assert words in (await response.json())["error"]


async def test_database_down_gives_503() -> None:
    with socket.socket() as sock:  # a port where no database listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = Store(f"postgresql://postgres@127.0.0.1:{port}/callbot", PSEUDONYM_KEY, connect_timeout_s=1)
    client = await client_for(store)
    try:
        for path in ("/api/calls", "/api/calls/x", "/api/reports", "/api/reports/1"):
            response = await client.get(path)
            assert response.status == 503
            assert (await response.json())["error"].startswith("database unavailable")
        response = await client.post("/api/reports/1/validate", json={"reviewer": "agent"})
        assert response.status == 503
    finally:
        await client.close()
