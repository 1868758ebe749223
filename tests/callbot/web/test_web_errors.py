"""The web app's error middleware, token check and chat static files, in process."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from callbot.metrics import CallMetrics
from callbot.web.app import Readiness, create_app
from callbot.web.chat import ChatService, add_chat_routes
from callbot.web.errors import json_errors
from signalements.http_input import query_int

TOKEN = "s3cret-token-for-tests-only"
Client = TestClient[web.Request, web.Application]


def _app() -> web.Application:
    def add_routes(app: web.Application) -> None:
        async def broken(request: web.Request) -> web.Response:
            raise KeyError("secret internal detail")

        async def echo(request: web.Request) -> web.Response:
            await request.read()  # aiohttp refuses a body over the app's client_max_size
            return web.json_response({"n": query_int(request, "n", default=0, minimum=0)})

        async def answered(request: web.Request) -> web.Response:
            return web.json_response({"error": "answered, not raised"}, status=409, headers={"Retry-After": "5"})

        app.router.add_get("/api/broken", broken)
        app.router.add_get("/api/answered", answered)
        app.router.add_post("/api/echo", echo)
        # the chat's handlers are not called here: only its routes (the static files) are
        add_chat_routes(app, ChatService(*[cast(Any, None)] * 5))

    return create_app(Readiness(), CallMetrics(), TOKEN, add_routes)


@pytest.fixture
async def client(aiohttp_client: Any) -> Client:
    return cast(Client, await aiohttp_client(_app()))


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_an_unexpected_exception_is_a_logged_500_with_a_request_id(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="callbot.web.errors"):
        response = await client.get("/api/broken", headers=AUTH)
    assert response.status == 500
    body = await response.json()
    request_id = body["request_id"]
    assert body["error"] == "internal error" and response.headers["X-Request-Id"] == request_id
    assert response.content_type == "application/problem+json"
    assert body["status"] == 500 and body["title"] == "Internal Server Error" and body["type"] == "about:blank"
    assert "secret internal detail" not in await response.text()
    assert request_id in caplog.text and "secret internal detail" in caplog.text
    assert response.headers["X-Content-Type-Options"] == "nosniff"  # security headers on errors too


async def test_errors_raised_by_aiohttp_are_json_and_keep_their_headers(client: Client) -> None:
    unknown = await client.get("/nowhere")
    assert unknown.status == 404 and (await unknown.json())["error"] == "Not Found"
    wrong_method = await client.delete("/api/echo", headers=AUTH)
    assert wrong_method.status == 405 and wrong_method.headers["Allow"] == "POST"
    assert (await wrong_method.json())["error"]
    too_large = await client.post("/api/echo", data=b"x" * (65 * 1024), headers=AUTH)
    assert too_large.status == 413 and "body size" in (await too_large.json())["error"]
    bad = await client.post("/api/echo", params={"n": "9" * 20}, headers=AUTH)
    assert bad.status == 400 and "between" in (await bad.json())["error"]


async def _raw_status(client: Client, head: bytes) -> int:
    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(head + b"Connection: close\r\n\r\n")
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


async def test_a_token_with_bytes_that_are_not_utf8_is_a_401(client: Client) -> None:
    head = b"GET /api/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer caf\xe9\r\n"
    assert await _raw_status(client, head) == 401
    head = b"GET /api/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() + b"\xe9\r\n"
    assert await _raw_status(client, head) == 401


async def test_chat_static_files_are_served_from_a_fixed_list(client: Client) -> None:
    assert (await client.get("/chat/static/chat.js")).status == 200
    for name in ("a" * 300, "nope.js", "..%2Fchat.py", "%2e%2e", "chat.js%00"):
        response = await client.get(f"/chat/static/{name}")
        assert response.status == 404, name
        assert (await response.json())["error"]


async def test_errors_are_rfc9457_problems_outside_the_console(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="callbot.web.errors"):
        unknown = await client.get("/nowhere")
    assert unknown.content_type == "application/problem+json"
    assert await unknown.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
        "error": "Not Found",
    }
    assert "refused GET /nowhere: 404" in caplog.text  # every refusal leaves a log line
    no_token = await client.get("/api/echo")
    assert no_token.status == 401 and no_token.content_type == "application/problem+json"
    assert no_token.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await no_token.json())["detail"] == "missing or wrong bearer token"
    # an error a route answers as {"error": ...} (not raised) becomes a problem too, its headers kept
    answered = await client.get("/api/answered", headers=AUTH)
    assert answered.status == 409 and answered.content_type == "application/problem+json"
    assert (await answered.json())["detail"] == "answered, not raised" and answered.headers["Retry-After"] == "5"
    page = await client.get("/console/nowhere")
    assert page.status in (303, 404) and page.content_type != "application/problem+json"


async def test_open311_keeps_its_own_error_format(aiohttp_client: Any) -> None:
    async def geo(request: web.Request) -> web.Response:
        raise web.HTTPBadRequest(text='[{"code": 400, "description": "x"}]', content_type="application/json")

    app = web.Application(middlewares=[json_errors])
    app.router.add_get("/open311/v2/x.json", geo)
    client = await aiohttp_client(app)
    response = await client.get("/open311/v2/x.json")
    assert response.status == 400 and response.content_type == "application/json"
    assert await response.json() == [{"code": 400, "description": "x"}]
