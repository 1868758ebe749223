"""The OpenAPI 3.1 document: valid, complete (every route the real app registers is in it, with its method), and
true (the JSON answers of the routes, on a real SQLite store, validate against the schemas it gives)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from callbot.config import load_settings
from callbot.console import Console, add_console_routes
from callbot.metrics import CallMetrics
from callbot.web.app import Readiness, create_app
from callbot.web.chat import ChatService, add_chat_routes
from callbot.web.openapi import DOCS_FILES, app_spec
from callbot.webrtc import CallSlots, WebRtcCalls, add_webrtc_routes
from signalements import ReportDraft, Store
from signalements.api import add_routes as add_api_routes
from tests.signalements.conftest import PSEUDONYM_KEY, T0
from tests.support.chromium import needs_chromium, start_chromium

TOKEN = "s3cret-token-for-tests-only"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
Client = TestClient[web.Request, web.Application]
DRAFT = ReportDraft(
    category="proprete_depot_sauvage",
    place="place Castellane",
    description="des gravats",
    danger=False,
    callback_consent=True,
    callback_number="0611223344",
    commune="Marseille",
)


class FakeChat:
    """Stands for ChatService in the chat's handlers: its answers are what the real one gives."""

    async def open(self, client: str) -> tuple[str, str]:
        return "0123abcd", "Bonjour, je suis l'assistant automatique."

    def get(self, session_id: str) -> Any:
        raise web.HTTPNotFound(text='{"error": "unknown conversation"}', content_type="application/json")


async def _no_call(leg: Any) -> None:
    return None


def full_app(store: Store, tmp_path: Path, *, extra: web.RouteTableDef | None = None) -> web.Application:
    """The web app as callbot.server builds it: every module's routes."""
    settings = load_settings(environ={})
    console = Console.build(store, settings)

    def add_routes(app: web.Application) -> None:
        add_api_routes(app, store)
        try:  # integrators' keys and Open311: in the tree once their module is
            api_keys = import_module("signalements.api_keys")
            app[api_keys.API_KEYS] = api_keys.ApiKeys(store)
            import_module("signalements.open311").add_routes(app, store)
        except ImportError:
            pass
        add_chat_routes(app, cast(ChatService, FakeChat()))
        add_console_routes(app, console)
        add_webrtc_routes(app, WebRtcCalls(settings.webrtc, CallSlots(1), _no_call))
        if extra is not None:
            app.add_routes(extra)

    return create_app(
        Readiness(), CallMetrics(), TOKEN, add_routes, accounts=console.accounts, console=settings.console
    )


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'callbot.db'}", PSEUDONYM_KEY)
    store.migrate()
    store.open_call("call-a", "sip", "+33600000001", T0)
    store.add_turn("call-a", "bot", "Bonjour", T0, T0 + timedelta(seconds=2))
    store.add_turn("call-a", "caller", "des gravats", T0, T0 + timedelta(seconds=4), asr_confidence=0.8)
    store.add_handoff("call-a", "caller_request", "sip:agent@127.0.0.1", True, {"commune": "Marseille"}, T0)
    store.save_report("call-a", DRAFT, created_at=T0)
    store.open_call("call-b", "webrtc", None, T0 + timedelta(hours=1))
    store.save_report("call-b", DRAFT, created_at=T0 + timedelta(hours=1))
    yield store
    store.close()


@pytest.fixture
async def client(sqlite_store: Store, tmp_path: Path) -> AsyncIterator[Client]:
    test_client = TestClient(TestServer(full_app(sqlite_store, tmp_path), host="127.0.0.1", port=0))
    await test_client.start_server()
    yield test_client
    await test_client.close()


@pytest.fixture
async def spec(client: Client) -> dict[str, Any]:
    response = await client.get("/openapi.json")  # public: no token
    assert response.status == 200 and response.content_type == "application/json"
    document: dict[str, Any] = await response.json()
    return document


def test_the_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    validate(spec)  # raises on an invalid document
    assert spec["openapi"].startswith("3.1")
    schemas = spec["components"]["schemas"]
    assert {"Report", "CallSummary", "CallDetail", "Turn", "Handoff", "Problem", "ReviewBody"} <= set(schemas)
    for page in ("CallPage", "ReportPage"):
        assert "next_cursor" in schemas[page]["required"]
    listing = spec["paths"]["/api/reports"]["get"]
    assert {"cursor", "limit", "If-None-Match"} <= {p["name"] for p in listing["parameters"]}
    assert next(p for p in listing["parameters"] if p["name"] == "offset")["deprecated"] is True
    assert "304" in listing["responses"]
    assert "application/problem+json" in listing["responses"]["400"]["content"]


def _example(examples: dict[str, str], match: re.Match[str]) -> str:
    return str(examples.get(match.group(1), "1"))


async def undocumented_routes(app: web.Application, spec: dict[str, Any]) -> list[str]:
    """The routes of `app` (HEAD aside: aiohttp adds it to each GET) that no operation of `spec` reaches: each
    documented path, with its parameters' examples, is resolved by the app's own router."""
    reached: set[web.AbstractRoute] = set()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            examples = {p["name"]: p.get("example", "1") for p in operation.get("parameters", []) if p["in"] == "path"}
            concrete = re.sub(r"\{([^}]+)\}", partial(_example, examples), path)
            match = await app.router.resolve(make_mocked_request(method.upper(), concrete, app=app))
            if match.http_exception is None:
                reached.add(match.route)
    return sorted(
        f"{route.method} {route.resource.canonical if route.resource else '?'}"
        for route in app.router.routes()
        if route.method != "HEAD" and route not in reached
    )


async def test_every_route_the_app_registers_is_in_the_document(sqlite_store: Store, tmp_path: Path) -> None:
    app = full_app(sqlite_store, tmp_path)
    spec = app_spec(app)
    assert await undocumented_routes(app, spec) == []
    assert len(app.router.routes()) > 40  # the real app: API, chat, console, call page, Open311...

    # a route added without an operation is caught
    extra = web.RouteTableDef()

    @extra.get("/api/undocumented")
    async def undocumented(request: web.Request) -> web.Response:
        return web.Response()

    app = full_app(sqlite_store, tmp_path, extra=extra)
    assert await undocumented_routes(app, app_spec(app)) == ["GET /api/undocumented"]


def _schema_for(spec: dict[str, Any], path: str, method: str, response: ClientResponse) -> dict[str, Any]:
    declared = spec["paths"][path][method]["responses"]
    assert str(response.status) in declared, f"{method} {path}: {response.status} is not documented"
    content = declared[str(response.status)].get("content", {})
    assert response.content_type in content, f"{method} {path} {response.status}: {response.content_type}"
    schema: dict[str, Any] = content[response.content_type]["schema"]
    return schema


async def check(spec: dict[str, Any], path: str, method: str, response: ClientResponse) -> Any:
    """`response`'s body validated against what the document says of `path` (a template) and its status."""
    schema = _schema_for(spec, path, method, response)
    body = await response.json(content_type=None)
    # the schema's $refs point into the document's components
    Draft202012Validator({**schema, "components": spec["components"]}).validate(body)
    return body


async def test_json_answers_validate_against_the_document(client: Client, spec: dict[str, Any]) -> None:
    reports = await check(spec, "/api/reports", "get", await client.get("/api/reports", headers=AUTH))
    newest, oldest = (item["id"] for item in reports["items"])
    await check(spec, "/api/reports", "get", await client.get("/api/reports?limit=1&status=validated", headers=AUTH))
    page = await check(spec, "/api/calls", "get", await client.get("/api/calls?limit=1", headers=AUTH))
    assert page["next_cursor"]
    await check(spec, "/api/calls", "get", await client.get(f"/api/calls?cursor={page['next_cursor']}", headers=AUTH))
    detail = await check(spec, "/api/calls/{call_id}", "get", await client.get("/api/calls/call-a", headers=AUTH))
    assert detail["turns"] and detail["handoffs"] and detail["reports"]
    await check(spec, "/api/reports/{report_id}", "get", await client.get(f"/api/reports/{newest}", headers=AUTH))
    validate_path = "/api/reports/{report_id}/validate"
    reject_path = "/api/reports/{report_id}/reject"
    body = {"reviewer": "agent.roux"}
    decided = await check(
        spec, validate_path, "post", await client.post(f"/api/reports/{newest}/validate", json=body, headers=AUTH)
    )
    assert decided["status"] == "validated"
    response = await client.post(f"/api/reports/{oldest}/reject", json={**body, "note": "doublon"}, headers=AUTH)
    assert (await check(spec, reject_path, "post", response))["status"] == "rejected"

    # errors: problem+json, documented with their status
    errors = [
        ("/api/reports", "get", client.get("/api/reports?status=done", headers=AUTH), 400),
        ("/api/calls", "get", client.get("/api/calls?cursor=nope", headers=AUTH), 400),
        ("/api/calls", "get", client.get("/api/calls"), 401),
        ("/api/calls/{call_id}", "get", client.get("/api/calls/nope", headers=AUTH), 404),
        ("/api/reports/{report_id}", "get", client.get("/api/reports/abc", headers=AUTH), 400),
        (validate_path, "post", client.post(f"/api/reports/{newest}/validate", json=body, headers=AUTH), 409),
        (validate_path, "post", client.post("/api/reports/1/validate", data="[", headers=AUTH), 400),
        (reject_path, "post", client.post("/api/reports/1/reject", data=b"x" * 20000, headers=AUTH), 413),
        (reject_path, "post", client.post("/api/reports/1/reject", json={"reviewer": 3}, headers=AUTH), 400),
    ]
    for path, method, request, status in errors:
        response = await request
        assert response.status == status, (path, await response.text())
        assert response.content_type == "application/problem+json"
        problem = await check(spec, path, method, response)
        assert problem["status"] == status and problem["detail"] == problem["error"] and problem["title"]

    health = await check(spec, "/healthz", "get", await client.get("/healthz"))
    assert health["ready"] is False  # nothing is up in this test
    opened = await check(spec, "/chat/sessions", "post", await client.post("/chat/sessions"))
    assert opened["session"]
    response = await client.post("/chat/sessions/nope/messages", json={"text": "x"})
    assert response.status == 404 and response.content_type == "application/problem+json"
    await check(spec, "/chat/sessions/{session_id}/messages", "post", response)
    metrics = await client.get("/metrics")
    assert metrics.content_type == _only_media(spec, "/metrics", "get", 200)


def _only_media(spec: dict[str, Any], path: str, method: str, status: int) -> str:
    (media,) = spec["paths"][path][method]["responses"][str(status)]["content"]
    return str(media)


async def test_the_documentation_page_is_served_from_the_package(client: Client) -> None:
    page = await client.get("/api/docs")  # public, like the document
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    # no inline script or style (the CSP forbids them), nothing from another host
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "<style" not in html and " style=" not in html
    assert "http://" not in html and "https://" not in html
    for name in DOCS_FILES:
        assert f"/api/docs/{name}" in html
        response = await client.get(f"/api/docs/{name}")
        assert response.status == 200 and not re.search(r"https?://", await response.text())
    assert (await client.get("/api/docs/nope.js")).status == 404


@needs_chromium
async def test_the_documentation_page_shows_every_operation(client: Client, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    spec = await (await client.get("/openapi.json")).json()
    count = sum(1 for item in spec["paths"].values() for _ in item)
    url = str(client.make_url("/api/docs#op-get-api-reports"))

    def read_page() -> tuple[int, str, list[str]]:
        driver = start_chromium(tmp_path / "chromium")
        try:
            driver.get(url)
            WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "article.op"))
            article = driver.find_element(By.ID, "op-get-api-reports")
            driver.save_screenshot(str(tmp_path / "docs.png"))
            logged = driver.get_log("browser")
            errors = [e["message"] for e in logged if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]
            return len(driver.find_elements(By.CSS_SELECTOR, "article.op")), article.text, errors
        finally:
            driver.quit()

    shown, reports, errors = await asyncio.to_thread(read_page)
    assert shown == count
    assert "cursor" in reports and "next_cursor" in reports and "304" in reports
    assert errors == []
