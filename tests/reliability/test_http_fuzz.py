"""The real callbot's HTTP side under hostile input: every input error is a 4xx in its route's format, never a 500.

- the six inputs of issue 7 that gave a 500 (offset past 2^63, since at -23:59 past the year 9999, a 20-digit
  id, 60,000 nested brackets on the API and on the chat, a Latin-1 byte in the bearer token, a 300-character
  static file name);
- a seeded fuzzer over every route of the app as `callbot.server` builds it (the list below is checked against
  the router of the server's own app factory, so a route added later and left out of the fuzz fails): the API,
  Open311 (with and without an integrator's key), the chat, the console (logged in as each role, with and
  without the CSRF token, its static files and the login form's double-submitted token), the browser call page,
  its static files and its WebSocket (malformed upgrade requests), health, metrics and the OpenAPI document.
  Mutated paths, query strings, headers, methods and bodies, sent as raw bytes; no 500, errors as problem+json
  (HTML pages under /console, GeoReport's JSON or XML under /open311), /healthz still 200, no "unexpected error"
  in the log;
- the inputs that fuzzer found giving a 500, each a 4xx in its area's format now: console forms that are not
  UTF-8 (read for the CSRF token, or by the page), said gzip and are not, or multipart without a boundary; a
  console file name too long for the file system, or one not shipped (an empty 404 before); a WebSocket upgrade
  on /call/ws whose key or Upgrade header is not ASCII;
- a lone UTF-16 surrogate in a chat message is stored as U+FFFD, in the turn and in the report.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import random
import re
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web

import callbot.server as server_module
from callbot.config import load_settings
from callbot.console.access import CookieNames
from callbot.server import CallbotServer
from callbot.web.app import create_app
from signalements import Store
from signalements.accounts import Accounts
from signalements.api_keys import ApiKeys
from tests.support.callbot_process import CallbotProcess

pytestmark = pytest.mark.e2e

SEED = 20261123
FUZZ_REQUESTS = 10_000
CONCURRENCY = 8

# Every route of the running app, as (method, path template; "*": any method, a static directory: its files):
# checked against the router of callbot.server's app below.
ROUTES = [
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/api/calls"),
    ("GET", "/api/calls/{call_id}"),
    ("GET", "/api/reports"),
    ("GET", "/api/reports/{report_id}"),
    ("POST", "/api/reports/{report_id}/{decision}"),
    ("GET", "/open311/v2/services.{format}"),
    ("GET", "/open311/v2/requests.{format}"),
    ("GET", "/open311/v2/requests/{request_id}.{format}"),
    ("*", "/open311/{tail}"),
    ("POST", "/chat/sessions"),
    ("POST", "/chat/sessions/{session_id}/messages"),
    ("GET", "/chat"),
    ("GET", "/chat/static/{name}"),
    ("GET", "/console/login"),
    ("POST", "/console/login"),
    ("POST", "/console/logout"),
    ("GET", "/console/"),
    ("GET", "/console"),
    ("GET", "/console/comptes"),
    ("POST", "/console/comptes"),
    ("POST", "/console/comptes/{account_id}/{change}"),
    ("GET", "/console/signalements"),
    ("GET", "/console/signalements/{report_id}"),
    ("POST", "/console/signalements/{report_id}"),
    ("GET", "/console/appels"),
    ("POST", "/console/appels/recherche"),
    ("GET", "/console/appels/{call_id}"),
    ("GET", "/console/appels/{call_id}/enregistrement.ogg"),
    ("GET", "/console/rappels"),
    ("POST", "/console/rappels/{callback_id}"),
    ("GET", "/console/tableau-de-bord"),
    ("GET", "/console/export/{what}.csv"),
    ("GET", "/console/webhooks"),
    ("POST", "/console/webhooks/livraisons/{delivery_id}/relancer"),
    ("GET", "/console/static"),
    ("GET", "/call"),
    ("GET", "/call/ws"),
    ("GET", "/call/static/{name}"),
    ("GET", "/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/{name}"),
]
ROLES = ("admin", "superviseur", "agent")
PASSWORD = "fuzz-password-0123456789"
# The console's cookies as the fuzzed process names them (__Host- prefixed: its configuration has Secure cookies).
COOKIES = CookieNames.for_settings(
    load_settings(CallbotProcess.config, environ=CallbotProcess(Path(".")).env()).console
)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def send(port: int, head: str, body: bytes = b"", timeout_s: float = 30) -> Reply:
    """One request as raw bytes (so it may hold what a client library refuses to send) on its own connection.

    The answer is read by its Content-Length (a WebSocket upgrade keeps its connection: no end of stream to wait
    for); a 101 Switching Protocols is read up to its headers, then the connection is dropped."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        request = head.encode("utf-8", "surrogateescape")  # "\udce9": the raw byte 0xE9
        request += f"Content-Length: {len(body)}\r\n".encode()
        if "\r\nconnection:" not in head.lower():
            request += b"Connection: close\r\n"
        writer.write(request + b"\r\n" + body)
        await writer.drain()
        status, headers, payload = await asyncio.wait_for(read_answer(reader, head.startswith("HEAD ")), timeout_s)
    finally:
        writer.close()
    return Reply(status, headers, payload)


async def read_answer(reader: asyncio.StreamReader, head_request: bool) -> tuple[int, dict[str, str], bytes]:
    raw = b""
    while True:
        while b"\r\n\r\n" not in raw:
            chunk = await reader.read(65536)
            if not chunk:
                return 0, {}, raw  # closed without a (complete) answer
            raw += chunk
        head_bytes, _, payload = raw.partition(b"\r\n\r\n")
        if head_bytes.startswith(b"HTTP/1.1 1") and not head_bytes.startswith(b"HTTP/1.1 101"):
            raw = payload  # an interim "100 Continue": the answer follows
            continue
        break
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines[0].startswith("HTTP/1.") else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if status == 101 or head_request or status in (204, 304):
        return status, headers, b""
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(payload) < length:
            chunk = await reader.read(65536)
            if not chunk:
                break
            payload += chunk
        return status, headers, payload[:length]
    payload += await reader.read()  # chunked or unframed: to the end of the stream (the connection is closed)
    return status, headers, dechunked(payload) if headers.get("transfer-encoding") == "chunked" else payload


def dechunked(raw: bytes) -> bytes:
    body = b""
    while raw:
        size_line, _, rest = raw.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        body, raw = body + rest[:size], rest[size + 2 :]
    return body


def request_head(method: str, target: str, headers: dict[str, str]) -> str:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in headers.items()]
    return "\r\n".join(lines) + "\r\n"


@pytest.fixture(scope="module")
def callbot(dialogue_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbotProcess]:
    workdir = tmp_path_factory.mktemp("http-fuzz")
    process = CallbotProcess(
        workdir,
        env_overrides={
            "CALLBOT_DIALOGUE_MODE": "external",
            "CALLBOT_DIALOGUE_URL": dialogue_server.url,
            "CALLBOT_DIALOGUE_TOKEN": dialogue_server.token,
            "CALLBOT_DIALOGUE_TIMEOUT_S": "30",
            "CALLBOT_DATABASE_URL": dialogue_server.database_url,  # the action server saves reports there
        },
    )
    (workdir / "pseudonym.key").write_text(dialogue_server.pseudonym_key.hex())
    process.start()
    yield process
    assert process.stop() == 0, process.tail_log()


@pytest.fixture(scope="module")
def chat_session(callbot: CallbotProcess) -> str:
    status, opened = callbot.post("/chat/sessions")
    assert status == 201, opened
    return str(opened["session"])


@dataclass(frozen=True)
class Credentials:
    """What the fuzzer may present: a console session (cookie and CSRF token) per role, an integrator's key."""

    sessions: dict[str, tuple[str, str]]  # role: (session cookie, CSRF token)
    other_account: int  # an account the fuzzer may disable, enable or unlock (not one of its own)
    api_key: str


def log_in_through_the_form(port: int, name: str) -> tuple[str, str]:
    """The console's login as a browser does it: the form and its double-submitted token, then the session's
    CSRF token from a page. (session cookie, CSRF token)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/console/login")
        form = connection.getresponse()
        page = form.read().decode()
        assert form.status == 200 and form.getheader("Content-Type", "").startswith("text/html")
        login_cookie = form.getheader("Set-Cookie", "").split(";")[0]
        token = re.search(r'name="login_token" value="([^"]+)"', page)
        assert login_cookie.startswith(f"{COOKIES.login}=") and token is not None, page
        fields = urllib.parse.urlencode({"login_token": token.group(1), "name": name, "password": PASSWORD})
        connection.request(
            "POST",
            "/console/login",
            fields,
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": login_cookie},
        )
        logged_in = connection.getresponse()
        logged_in.read()
        assert logged_in.status == 303, logged_in.status
        session = next(
            value.split(";")[0]
            for header, value in logged_in.getheaders()
            if header.lower() == "set-cookie" and value.startswith(f"{COOKIES.session}=")
        )
        connection.request("GET", "/console/rappels", headers={"Cookie": session})
        page_with_form = connection.getresponse()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page_with_form.read().decode())
        assert page_with_form.status == 200 and csrf is not None
        return session, csrf.group(1)
    finally:
        connection.close()


@pytest.fixture(scope="module")
def credentials(callbot: CallbotProcess, dialogue_server: Any) -> Credentials:
    store = Store(callbot.database_url, dialogue_server.pseudonym_key)
    now = datetime.now(UTC)
    try:
        accounts = Accounts(store)
        for role in ROLES:
            accounts.add(f"fuzz.{role}", role, PASSWORD, now=now)
        other = accounts.add("fuzz.autre", "agent", PASSWORD, now=now)
        _, api_key = ApiKeys(store).add("fuzz-integrator", now=now)
    finally:
        store.close()
    sessions = {role: log_in_through_the_form(callbot.http_port, f"fuzz.{role}") for role in ROLES}
    return Credentials(sessions, other.id, api_key)


def authorised(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {CallbotProcess.api_token}", **(headers or {})}


def assert_healthy(callbot: CallbotProcess) -> None:
    status, health = callbot.health()
    assert status == 200, health
    # Every exception past a route is logged by callbot.web.errors. (aiohttp's "Error handling request" is
    # also its line for a request its parser refuses with a 400: the status codes say those are no 500.)
    assert "unexpected error" not in callbot.log_path.read_text(errors="replace"), callbot.tail_log()


class _AppBuilt(Exception):
    """Stops callbot.server's start once its web app is built: its router is what the real server serves."""


async def server_app(tmp_path: Path) -> web.Application:
    """The web app exactly as `python -m callbot run` builds it (CallbotServer.start, the fuzzed process's
    configuration), taken from the server's own call to create_app; the start goes no further (no models)."""
    environ = {
        **CallbotProcess(tmp_path).env(),
        "CALLBOT_DIALOGUE_MODE": "external",  # as the fuzzed process: no Rasa model to load
        "CALLBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'routes.sqlite3'}",
    }
    settings = load_settings(CallbotProcess.config, environ=environ)
    built: list[web.Application] = []

    def capture(*args: Any, **kwargs: Any) -> web.Application:
        built.append(create_app(*args, **kwargs))  # the function callbot.server calls
        raise _AppBuilt

    server = CallbotServer(settings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(server_module, "create_app", capture)
        try:
            await server.start()
        except _AppBuilt:
            pass
        finally:
            await server.stop()
    assert len(built) == 1
    return built[0]


async def test_the_routes_fuzzed_are_every_route_of_the_app(tmp_path: Path) -> None:
    app = await server_app(tmp_path)
    in_router = [
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    ]
    assert len(in_router) == len(set(in_router))
    assert set(in_router) == set(ROUTES), (sorted(set(in_router) - set(ROUTES)), sorted(set(ROUTES) - set(in_router)))
    assert len(ROUTES) == len(set(ROUTES))


SIX_REPORTED = {
    "offset past 2^63": ("GET", "/api/calls?offset=9223372036854775808", authorised(), b""),
    "since at -23:59": ("GET", "/api/calls?since=9999-12-31T23:59:59-23:59", authorised(), b""),
    "an id of 20 digits": ("GET", "/api/reports/12345678901234567890", authorised(), b""),
    "60,000 brackets on the API": (
        "POST",
        "/api/reports/1/validate",
        authorised({"Content-Type": "application/json"}),
        b"[" * 60_000,
    ),
    "60,000 brackets on the chat": (
        "POST",
        "/chat/sessions/{session}/messages",
        {"Content-Type": "application/json"},
        b"[" * 60_000,
    ),
    "a Latin-1 byte in the token": ("GET", "/api/calls", {"Authorization": "Bearer caf\udce9"}, b""),
    "a 300-character static name": ("GET", "/chat/static/" + "a" * 300, {}, b""),
}


PROBLEM_OR_JSON = ("application/problem+json", "application/json")  # Open311 errors are GeoReport's JSON


@pytest.mark.parametrize("case", list(SIX_REPORTED))
async def test_the_inputs_that_gave_a_500_get_a_json_4xx(callbot: CallbotProcess, chat_session: str, case: str) -> None:
    method, target, headers, body = SIX_REPORTED[case]
    reply = await send(callbot.http_port, request_head(method, target.format(session=chat_session), headers), body)
    assert 400 <= reply.status < 500, (reply, callbot.tail_log())
    assert reply.headers["content-type"].startswith("application/problem+json")  # RFC 9457
    assert reply.json()["error"] and reply.json()["detail"]
    assert_healthy(callbot)


def console_form(role: str, headers: dict[str, str] | None = None) -> Callable[[Credentials], dict[str, str]]:
    """Headers of a console request from `role`'s session (credentials: the module's fixture)."""
    return lambda credentials: {
        "Cookie": credentials.sessions[role][0],
        "Content-Type": "application/x-www-form-urlencoded",
        **{name: value.replace("{csrf}", credentials.sessions[role][1]) for name, value in (headers or {}).items()},
    }


WS_KEY = base64.b64encode(b"0123456789abcdef").decode()
WS_UPGRADE = {
    "Origin": "http://127.0.0.1",
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": WS_KEY,
}
# The inputs the fuzzer over every route found giving a 500 (each a traceback in the log), by the route's area.
FOUND_BY_THE_FUZZER = {
    # the console's forms: aiohttp's form parser raised on what it could not decode
    "a form that is not UTF-8, read for its CSRF token": (
        "POST",
        "/console/rappels/1",
        console_form("agent"),
        b"csrf_token=\xff&action=rappele",
    ),
    "a form that is not UTF-8, read by the page": (
        "POST",
        "/console/comptes",
        console_form("admin", {"X-CSRF-Token": "{csrf}"}),
        b"name=fuzz.\xe9&role=agent&password=" + b"p" * 20,
    ),
    "a form said gzip that is not": (
        "POST",
        "/console/signalements/1",
        console_form("superviseur", {"Content-Encoding": "gzip"}),
        b"csrf_token=x&decision=valider",
    ),
    "a multipart form without its boundary": (
        "POST",
        "/console/login",
        lambda credentials: {"Content-Type": "multipart/form-data; boundary=x"},
        b"login_token=t&name=a&password=b",
    ),
    # the console's static files: a name too long for the file system, and one that does not exist
    "a 5000-character console file name": ("GET", "/console/static/" + "9" * 5000, lambda credentials: {}, b""),
    "a console file that does not exist": ("GET", "/console/static/chat.html", lambda credentials: {}, b""),
    # the call page's socket: aiohttp's handshake raised on bytes that are not ASCII
    "a WebSocket key that is not ASCII": (
        "GET",
        "/call/ws",
        lambda credentials: {**WS_UPGRADE, "Sec-WebSocket-Key": "\udce9" * 24},
        b"",
    ),
    "a WebSocket upgrade that is not UTF-8": (
        "GET",
        "/call/ws",
        lambda credentials: {**WS_UPGRADE, "Upgrade": "\udce9"},
        b"",
    ),
}


@pytest.mark.parametrize("case", list(FOUND_BY_THE_FUZZER))
async def test_the_inputs_the_fuzzer_found_giving_a_500_get_a_4xx_in_their_area_s_format(
    callbot: CallbotProcess, credentials: Credentials, case: str
) -> None:
    method, path, headers, body = FOUND_BY_THE_FUZZER[case]
    head = request_head(method, path, headers(credentials))
    reply = await send(callbot.http_port, head, body)
    assert 400 <= reply.status < 500, (reply, callbot.tail_log())
    assert bad_answer(head, reply) is None, (bad_answer(head, reply), reply)
    assert_healthy(callbot)


def test_a_lone_surrogate_in_a_chat_is_stored_as_a_replacement_character(callbot: CallbotProcess) -> None:
    status, opened = callbot.post("/chat/sessions")
    assert status == 201, opened
    session = str(opened["session"])
    said = [
        b'{"text": "bonjour un nid de poule \\ud800 s\'est form\\u00e9 au 8 boulevard baille \\u00e0 marseille"}',
        b'{"text": "non pas vraiment"}',
        b'{"text": "non merci"}',
        b'{"text": "oui c\'est bon"}',
    ]
    reply: dict[str, Any] = {}
    for line in said:
        status, reply = callbot.post(f"/chat/sessions/{session}/messages", line)
        assert status == 200, (reply, callbot.tail_log())
    assert reply["ended"] and reply["report_id"] is not None, reply
    report = cast(dict[str, Any], callbot.api(f"/api/reports/{reply['report_id']}"))
    assert "\ud800" not in report["description"] and "\ufffd" in report["description"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the turns reach the database through the store writer
        call = cast(dict[str, Any], callbot.api(f"/api/calls/{session}"))
        caller_turns = [turn["text"] for turn in call["turns"] if turn["speaker"] == "caller"]
        if len(caller_turns) == len(said):
            break
        time.sleep(0.2)
    assert "bonjour un nid de poule \ufffd s'est formé au 8 boulevard baille à marseille" in caller_turns
    assert_healthy(callbot)


# -- the fuzzer ---------------------------------------------------------------------------------------------

PATH_VALUES = [
    "1",
    "0",
    "-1",
    "2147483648",
    "9223372036854775807",
    "9223372036854775808",
    "9" * 20,
    "9" * 5000,
    "1e3",
    "0x10",
    "1_0",
    "%D9%A1%D9%A2",
    "a" * 129,
    "a" * 300,
    "",
    "%00",
    "%ff",
    "%ed%a0%80",
    "%C3%A9",
    "..",
    "..%2f..%2fetc%2fpasswd",
    ".%2e",
    "chat.js",
    "chat.css",
    "chat.html",
    "call.js",
    "console.css",
    "docs.js",
    "validate",
    "reject",
    "desactiver",
    "json",
    "xml",
    "v2",
    "services.json",
    "x.json.xml",
    "x y",
    "\udce9",
    "%",
    "%%32%65",
    "\u202e",
]
# Values that exist, so that requests get past the path to the query and body checks.
PLAUSIBLE = {
    "call_id": ["x"],
    "report_id": ["1", "2"],
    "decision": ["validate", "reject"],
    "name": ["chat.js", "chat.css", "chat.html", "call.js", "call.css", "console.css", "console.js", "docs.js"],
    "format": ["json", "xml"],
    "request_id": ["1", "2", "x"],
    "tail": ["v2/discovery.json", "v2/services.xml", "v2/requests/1.json", "v3/services.json", "x"],
    "change": ["desactiver", "activer", "deverrouiller"],
    "callback_id": ["1"],
    "delivery_id": ["1"],
    "what": ["signalements", "appels"],
}
QUERY_KEYS = ["limit", "offset", "since", "status", "token", "x", "", "limit[]", "cursor", "page"]
# the console's and Open311's own query parameters
QUERY_KEYS += ["q", "statut", "categorie", "commune", "canal", "resultat", "du", "au", "avant", "apres", "sep"]
QUERY_KEYS += ["confiance_max", "start_date", "end_date", "service_code", "service_request_id", "api_key"]
QUERY_VALUES = [
    "",
    "0",
    "1",
    "500",
    "501",
    "-1",
    "9223372036854775807",
    "9223372036854775808",
    "9" * 40,
    "1" * 5000,
    "1.5",
    "nan",
    "%ff",
    "%00",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59%2B23:59",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00-23:59",
    "2026-11-23T09:00:00Z",
    "2026-11-23 09:00:00 01:00",
    "2026-13-45",
    "awaiting_validation",
    "validated",
    "%ed%a0%80",
    "\udcff",
]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "get", "FOO", "CONNECT"]
AUTHORIZATIONS = [
    None,
    f"Bearer {CallbotProcess.api_token}",
    f"bearer {CallbotProcess.api_token}",
    "Bearer",
    "Bearer ",
    "Bearer wrong",
    "Bearer caf\udce9",
    "Bearer \udcff\udcfe" + "\udc80" * 100,
    "Basic dXNlcjpwYXNz",
    "Bearer " + "x" * 4000,
]
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/json; charset=\udce9",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "a/b;;;=",
    "",
]
EXTRA_HEADERS = [
    ("Range", "bytes=99999999999999999999-"),
    ("Range", "bytes=5-1"),
    ("If-Modified-Since", "Thu, 99 Foo 9999 99:99:99 GMT"),
    ("If-None-Match", '"' + "x" * 500),
    ("Accept", "*/*;q=nan"),
    ("Accept-Encoding", "gzip;q=2, br, zstd"),
    ("Cookie", "a=\udce9; ; =;"),
    ("X-Forwarded-For", "999.999.999.999"),
    ("Content-Encoding", "gzip"),
    ("Content-Encoding", "deflate"),
    ("Expect", "100-continue"),
    ("X-Request-Id", "\udce9" * 10),
    ("Origin", "null"),
    ("Origin", "http://127.0.0.1"),
    ("Origin", "http://evil.example"),
    ("Sec-Fetch-Site", "cross-site"),
    ("Sec-Fetch-Site", "same-origin"),
    ("Cookie", f"{COOKIES.session}=" + "x" * 300),
    ("Cookie", f"{COOKIES.session}=\udce9"),
    ("Cookie", f"{COOKIES.login}=t; {COOKIES.session}="),
    ("X-CSRF-Token", "\udce9" * 3),
    ("X-CSRF-Token", ""),
]
# Malformed and well-formed WebSocket upgrades of the call page's socket (/call/ws).
WS_HEADERS = {
    "Upgrade": ["websocket", "WebSocket", "websocket, h2c", "h2c", "", "\udce9"],
    "Connection": ["Upgrade", "upgrade, keep-alive", "keep-alive", "close", "Upgrade, close", ""],
    "Sec-WebSocket-Version": ["13", "8", "99999999999999999999", "x", "", "13, 8"],
    "Sec-WebSocket-Key": [WS_KEY, "", "x", "=" * 24, "A" * 5000, "\udce9" * 24, WS_KEY + "=="],
    "Sec-WebSocket-Protocol": ["", "chat", "a" * 2000, ",,,", "\udce9"],
    "Sec-WebSocket-Extensions": [
        "permessage-deflate",
        "permessage-deflate; client_max_window_bits=99",
        "permessage-deflate; server_max_window_bits=7",
        "x-unknown; a=b",
        "permessage-deflate; client_max_window_bits; client_max_window_bits",
    ],
    "Origin": ["http://127.0.0.1", "https://127.0.0.1", "null", "http://evil.example", "\udce9"],
}
BODIES = [
    b"",
    b"{}",
    b"[]",
    b"null",
    b'{"text": "bonjour"}',
    b'{"text": ""}',
    b'{"text": 3}',
    b'{"text": "\\ud800"}',
    b'{"text": "\\udfff\\ud800\\u0000"}',
    b'{"reviewer": "agent.roux", "note": "ok"}',
    b'{"reviewer": "\\ud800", "note": "\\u0000"}',
    b'{"reviewer": ["a"], "note": {}}',
    b"[" * 60_000,
    b"[" * 33 + b"]" * 33,
    b"[" * 32 + b"]" * 32,
    b'{"a":' * 40 + b"1" + b"}" * 40,
    b'"' + b"[" * 10_000 + b'"',
    b"NaN",
    b'{"text": Infinity}',
    b"1" * 5000,
    b"1e999",
    b'{"text": "\xff\xfe"}',
    b"\xef\xbb\xbf{}",
    b'{"text": "' + b"x" * 20_000 + b'"}',
    b"x" * 70_000,
    b'{"text": "a", "text": "b"}',
    # forms (the console's): fields, junk, encodings
    b"csrf_token={csrf}&decision=valider&note=ok",
    b"csrf_token={csrf}&action=rappele&note=%ff%fe",
    b"csrf_token={csrf}&name=fuzz.nouveau&role=agent&password=" + b"p" * 20,
    b"csrf_token={csrf}&name=%00&role=root&password=",
    b"csrf_token={csrf}&q=%ed%a0%80&du=9999-12-31&au=0000-00-00",
    b"csrf_token={csrf}&q=" + b"a" * 20_000,
    b"csrf_token={csrf}&statut=valide&motif=" + b"%C3%A9" * 300,
    b"csrf_token=&csrf_token={csrf}",
    b"csrf_token=%ff",
    b"login_token=t&name=fuzz.personne&password=wrong",
    b"login_token=t&name=%ed%a0%80&password=%00",
    b"login_token=&name=&password=",
    b"=&&==&%&a=%zz",
    b"\xff\xfe=\x80",
    b"a=" + b"b&a=" * 5000,
    b'--x\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf}\r\n--x--\r\n',
]


def fuzz_requests(rng: random.Random, session: str, credentials: Credentials) -> list[tuple[str, bytes]]:
    """FUZZ_REQUESTS requests (head, body), each a route with some of its parts mutated."""
    requests = []
    plausible = {
        **PLAUSIBLE,
        "session_id": [session],  # the live conversation: bodies reach the parser
        "call_id": ["x", session],
        "account_id": [str(credentials.other_account)],
    }
    for _ in range(FUZZ_REQUESTS):
        method, template = rng.choice(ROUTES)
        if method == "*" or rng.random() < 0.3:
            method = rng.choice(METHODS)
        path = template + ("/{name}" if template == "/console/static" else "")  # a static directory: its files
        for name, values in plausible.items():
            value = rng.choice(values) if rng.random() < 0.5 else rng.choice(PATH_VALUES)
            path = path.replace("{" + name + "}", value)
        if rng.random() < 0.1:
            path = rng.choice(["/", "//", "/./", "/%2e%2e/"]).join(path.rsplit("/", 1))
        if rng.random() < 0.05:
            path += rng.choice(["/", "?", "#x", "%", ";x=1"])
        pairs = [f"{rng.choice(QUERY_KEYS)}={rng.choice(QUERY_VALUES)}" for _ in range(rng.choice([0, 0, 1, 2, 3]))]
        if template.startswith("/open311/") and rng.random() < 0.6:
            pairs.append(f"api_key={credentials.api_key}")
        target = path + ("?" + "&".join(pairs) if pairs else "")
        headers: dict[str, str] = {}
        authorization = rng.choice(AUTHORIZATIONS) if rng.random() < 0.6 else AUTHORIZATIONS[1]
        if authorization is not None:
            headers["Authorization"] = authorization
        content_type = rng.choice(CONTENT_TYPES)
        if content_type is not None:
            headers["Content-Type"] = content_type
        csrf = "none"
        if template.startswith("/console") and rng.random() < 0.8:  # logged in, as one of the roles
            cookie, csrf = credentials.sessions[rng.choice(ROLES)]
            headers["Cookie"] = cookie
            if template == "/console/logout":
                csrf = "stale"  # the fuzz keeps its sessions: a logout never carries the right token
            elif rng.random() < 0.5:
                headers["X-CSRF-Token"] = csrf
            if rng.random() < 0.5:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        if template == "/call/ws":
            for name, values in WS_HEADERS.items():
                if rng.random() < 0.85:
                    headers[name] = values[0] if rng.random() < 0.6 else rng.choice(values)
        for name, value in rng.sample(EXTRA_HEADERS, rng.choice([0, 0, 1, 2])):
            headers[name] = value
        if headers.get("Cookie", "").startswith(f"{COOKIES.login}=t;") and rng.random() < 0.9:
            del headers["Cookie"]  # a login token that matches its cookie costs a second's pause: a few only
        body = rng.choice(BODIES) if method != "GET" or rng.random() < 0.1 else b""
        body = body.replace(b"{csrf}", csrf.encode())
        if body and rng.random() < 0.3:
            body = mutate(rng, body)
        requests.append((request_head(method, target, headers), body))
    return requests


ANY_FORMAT = ("text/html", "text/xml", "application/xml", *PROBLEM_OR_JSON)


def expected_error_types(head: str) -> tuple[str, ...]:
    """The content types an error may take on the request's path: the console's pages answer French HTML pages,
    Open311 GeoReport's errors (JSON, or XML as text/xml), everything else RFC 9457 problems (or a route's JSON)."""
    method, target = head.split(" ", 2)[:2]
    path = target.split("?", 1)[0]
    if method == "CONNECT":
        return ANY_FORMAT  # its target is a host and port, not a path: aiohttp routes it to no area's prefix
    if any(mutated in path for mutated in ("//", "/./", "/%2e%2e/", ";", "#")):
        return ANY_FORMAT  # where aiohttp routes it once normalised: any area's format
    if path == "/console" or path.startswith("/console/"):
        return ("text/html",)
    if path.startswith("/open311/"):
        return ("application/json", "application/xml", "text/xml")
    return PROBLEM_OR_JSON


def bad_answer(head: str, reply: Reply) -> str | None:
    """Why `reply` is not a right answer to the request `head` (None: it is)."""
    if reply.status == 0:
        return "no answer"
    if reply.status >= 500:
        return "server error"
    content_type = reply.headers.get("content-type", "")
    if reply.status < 400:
        if reply.status == 101 and not head.startswith("GET /call/ws"):
            return "an upgrade outside the call page's socket"
        return None
    if reply.status == 400 and "x-content-type-options" not in reply.headers:
        return None  # aiohttp's own answer to a request its parser refuses: a plain 400 before any route
    if "x-content-type-options" not in reply.headers:
        return "an error that missed the app's middlewares"
    if reply.status == 416 and reply.headers.get("content-range", "").startswith("bytes */") and not reply.body:
        return None  # a static file's unsatisfiable Range: HTTP's own empty 416 with the file's length (RFC 9110)
    if not content_type.startswith(expected_error_types(head)):
        return f"error as {content_type!r}"
    if content_type.startswith("text/html") and not head.startswith("HEAD "):
        # the console's error page, or the page of the form re-shown with what was wrong (login, accounts...)
        page = reply.body.decode("utf-8", "replace")
        if '<html lang="fr">' not in page or 'role="alert"' not in page:
            return "an HTML error that is not a console page saying what went wrong"
    return None


def mutate(rng: random.Random, body: bytes) -> bytes:
    """A few random byte flips, insertions and deletions."""
    data = bytearray(body[:4096])
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data) + 1)
        action = rng.choice(("flip", "insert", "delete"))
        if action == "insert" or not data:
            data[at:at] = bytes([rng.randrange(256)])
        elif action == "flip":
            data[min(at, len(data) - 1)] = rng.randrange(256)
        else:
            del data[min(at, len(data) - 1)]
    return bytes(data)


async def test_seeded_fuzz_over_every_route_gives_no_500(
    callbot: CallbotProcess, chat_session: str, credentials: Credentials
) -> None:
    rng = random.Random(SEED)
    requests = fuzz_requests(rng, chat_session, credentials)
    assert {template for _, template in ROUTES} <= {
        template
        for template in (template for _, template in ROUTES)
        if any(head.split(" ", 2)[1].startswith(template.split("{", 1)[0]) for head, _ in requests)
    }
    statuses: Counter[int] = Counter()
    by_prefix: Counter[str] = Counter()
    failures: list[tuple[str, int, str, bytes]] = []
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def worker() -> None:
        while not queue.empty():
            head, body = queue.get_nowait()
            reply = await send(callbot.http_port, head, body)
            statuses[reply.status] += 1
            by_prefix["/" + head.split(" ", 2)[1].split("/")[1].split("?")[0][:12]] += 1
            reason = bad_answer(head, reply)
            if reason is not None:
                failures.append((reason, reply.status, head, body[:200]))

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.monotonic() - started
    print(f"{len(requests)} requests in {elapsed:.1f} s: {sorted(statuses.items())}; {by_prefix.most_common(12)}")
    kinds: dict[tuple[str, int, str], list[tuple[str, bytes]]] = {}
    for why, status, head, body in failures:  # one example per kind of failure, and how many of each
        method, target = head.split(" ", 2)[:2]
        kinds.setdefault((why, status, f"{method} {target.split('?')[0][:40]}"), []).append((head, body))
    assert not failures, "\n".join(
        f"{len(examples)} x {why}: {status} {where}; e.g. {examples[0][0][:300]!r} {examples[0][1][:100]!r}"
        for (why, status, where), examples in sorted(kinds.items(), key=lambda kind: -len(kind[1]))
    )
    assert sum(statuses.values()) == FUZZ_REQUESTS
    assert_healthy(callbot)
    for role in ROLES:  # the sessions lived through it: the fuzz reached past the login
        cookie, _ = credentials.sessions[role]
        reply = await send(callbot.http_port, request_head("GET", "/console/rappels", {"Cookie": cookie}))
        assert reply.status in (200, 403), reply.status
