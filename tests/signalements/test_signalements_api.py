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


async def test_errors_are_rfc9457_problems(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/api/reports/999")
    assert response.status == 404 and response.content_type == "application/problem+json"
    assert await response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no report 999",
        "error": "no report 999",
    }
    response = await client.post("/api/reports/1/validate", json={"reviewer": ["a"]})
    assert response.status == 400 and response.content_type == "application/problem+json"
    assert "reviewer" in (await response.json())["detail"]


async def test_reads_carry_an_etag_and_answer_304_when_it_matches(
    client: TestClient[web.Request, web.Application],
) -> None:
    for path in ("/api/reports", "/api/calls", "/api/calls/call-a", "/api/reports/1"):
        first = await client.get(path)
        etag = first.headers["ETag"]
        assert first.status == 200 and etag.startswith('"') and not etag.startswith("W/")
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status == 304 and again.headers["ETag"] == etag and await again.read() == b""
        for other in ('"0123"', f'"x", W/{etag}', "*"):  # weak comparison, lists, and *
            expected = 200 if other == '"0123"' else 304
            assert (await client.get(path, headers={"If-None-Match": other})).status == expected, other
    etag = (await client.get("/api/reports/1")).headers["ETag"]
    await client.post("/api/reports/1/validate", json={"reviewer": "agent.roux"})
    changed = await client.get("/api/reports/1", headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag  # the report changed: a new body, a new tag


async def _walk(client: TestClient[web.Request, web.Application], path: str, key: str, limit: int) -> list[str]:
    seen: list[str] = []
    params = {"limit": str(limit)}
    while True:
        page = await (await client.get(path, params=params)).json()
        assert len(page["items"]) <= limit
        seen += [str(item[key]) for item in page["items"]]
        if page["next_cursor"] is None:
            return seen
        params = {"limit": str(limit), "cursor": page["next_cursor"]}


async def test_cursor_pages_cover_every_row_once(
    store: Store, client: TestClient[web.Request, web.Application]
) -> None:
    for n in range(7):  # three calls share a start time: the cursor's tie-break is the row id
        at = T0 + timedelta(minutes=5 if n < 3 else 10 + n)
        store.open_call(f"call-{n}", "sip", None, at)
        store.save_report(f"call-{n}", DRAFT, created_at=at)
    everything = await (await client.get("/api/calls", params={"limit": "500"})).json()
    assert everything["next_cursor"] is None and everything["total"] == 9
    for limit in (1, 2, 4, 9, 10):
        calls = await _walk(client, "/api/calls", "call_id", limit)
        assert calls == [item["call_id"] for item in everything["items"]], limit
    reports = await _walk(client, "/api/reports", "id", 2)
    assert len(reports) == len(set(reports)) == 9

    # rows added while paging do not shift the pages (an offset would repeat one)
    first = await (await client.get("/api/reports", params={"limit": "3"})).json()
    store.open_call("call-new", "text", None, T0 + timedelta(days=1))
    store.save_report("call-new", DRAFT, created_at=T0 + timedelta(days=1))
    rest = await _walk_from(client, first["next_cursor"])
    ids = [item["id"] for item in first["items"]] + rest
    assert len(ids) == len(set(ids)) == 9


async def _walk_from(client: TestClient[web.Request, web.Application], cursor: str) -> list[int]:
    page = await (await client.get("/api/reports", params={"limit": "500", "cursor": cursor})).json()
    return [item["id"] for item in page["items"]]


@pytest.mark.parametrize(
    "cursor",
    ["nope", "", "x" * 300, "MjAyNi0xMS0yM1QwOTozMDowMHw5OTk5OTk5OTk5OQ", "MjAyNi0xMS0yM1QwOTozMDowMHwx", "é"],
)
async def test_a_cursor_not_given_by_the_api_is_a_400(
    client: TestClient[web.Request, web.Application], cursor: str
) -> None:
    response = await client.get("/api/calls", params={"cursor": cursor})
    if cursor == "":
        assert response.status == 200  # no cursor: the first page
        return
    assert response.status == 400 and response.content_type == "application/problem+json"
    assert "cursor" in (await response.json())["detail"]


async def test_cursor_and_offset_do_not_mix(client: TestClient[web.Request, web.Application]) -> None:
    cursor = (await (await client.get("/api/calls", params={"limit": "1"})).json())["next_cursor"]
    response = await client.get("/api/calls", params={"cursor": cursor, "offset": "1"})
    assert response.status == 400 and "either cursor or offset" in (await response.json())["detail"]
