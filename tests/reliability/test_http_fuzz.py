"""The real callbot's HTTP side under hostile input: every input error is a JSON 4xx, never a 500.

- the six inputs of issue 7 that gave a 500 (offset past 2^63, since at -23:59 past the year 9999, a 20-digit
  id, 60,000 nested brackets on the API and on the chat, a Latin-1 byte in the bearer token, a 300-character
  static file name);
- a seeded fuzzer over every route (the list is checked against the app's router): mutated paths, query
  strings, headers, methods and bodies, sent as raw bytes; no 500, /healthz still 200, no "unexpected error"
  in the log;
- a lone UTF-16 surrogate in a chat message is stored as U+FFFD, in the turn and in the report.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web

from callbot.metrics import CallMetrics
from callbot.web.app import Readiness, create_app
from callbot.web.chat import ChatService, add_chat_routes
from signalements import Store
from signalements.api import add_routes as add_api_routes
from tests.support.callbot_process import CallbotProcess

pytestmark = pytest.mark.e2e

SEED = 20261123
FUZZ_REQUESTS = 5000
CONCURRENCY = 6

# Every route of the running app, as (method, path template): checked against the router below.
ROUTES = [
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/api/calls"),
    ("GET", "/api/calls/{call_id}"),
    ("GET", "/api/reports"),
    ("GET", "/api/reports/{report_id}"),
    ("POST", "/api/reports/{report_id}/{decision}"),
    ("POST", "/chat/sessions"),
    ("POST", "/chat/sessions/{session_id}/messages"),
    ("GET", "/chat"),
    ("GET", "/chat/static/{name}"),
    ("GET", "/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/{name}"),
]


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def send(port: int, head: str, body: bytes = b"", timeout_s: float = 30) -> Reply:
    """One request as raw bytes (so it may hold what a client library refuses to send) on its own connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        request = head.encode("utf-8", "surrogateescape")  # "\udce9": the raw byte 0xE9
        request += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout_s)
    finally:
        writer.close()
    head_bytes, _, payload = raw.partition(b"\r\n\r\n")
    while head_bytes.startswith(b"HTTP/1.1 1"):  # an interim "100 Continue": the answer follows
        head_bytes, _, payload = payload.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines[0].startswith("HTTP/1.") else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(status, headers, payload)


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


def authorised(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {CallbotProcess.api_token}", **(headers or {})}


def assert_healthy(callbot: CallbotProcess) -> None:
    status, health = callbot.health()
    assert status == 200, health
    # Every exception past a route is logged by callbot.web.errors. (aiohttp's "Error handling request" is
    # also its line for a request its parser refuses with a 400: the status codes say those are no 500.)
    assert "unexpected error" not in callbot.log_path.read_text(errors="replace"), callbot.tail_log()


def test_the_routes_fuzzed_are_every_route_of_the_app(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'routes.sqlite3'}", bytes(32))
    chat = ChatService(cast(Any, None), store, cast(Any, None), cast(Any, None), cast(Any, None))

    def routes(app: web.Application) -> None:  # as callbot.server wires them
        add_api_routes(app, store)
        add_chat_routes(app, chat)

    app = create_app(Readiness(), CallMetrics(), "token", routes)
    in_router = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    assert in_router == set(ROUTES)


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
    "validate",
    "reject",
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
    "name": ["chat.js", "chat.css", "chat.html"],
}
QUERY_KEYS = ["limit", "offset", "since", "status", "token", "x", "", "limit[]"]
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
]
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
]


def fuzz_requests(rng: random.Random, session: str) -> list[tuple[str, bytes]]:
    """FUZZ_REQUESTS requests (head, body), each a route with some of its parts mutated."""
    requests = []
    for _ in range(FUZZ_REQUESTS):
        method, template = rng.choice(ROUTES)
        if rng.random() < 0.3:
            method = rng.choice(METHODS)
        path = template
        plausible = {**PLAUSIBLE, "session_id": [session]}  # the live conversation: bodies reach the parser
        for name, values in plausible.items():
            value = rng.choice(values) if rng.random() < 0.4 else rng.choice(PATH_VALUES)
            path = path.replace("{" + name + "}", value)
        if rng.random() < 0.1:
            path = rng.choice(["/", "//", "/./", "/%2e%2e/"]).join(path.rsplit("/", 1))
        if rng.random() < 0.05:
            path += rng.choice(["/", "?", "#x", "%", ";x=1"])
        pairs = [f"{rng.choice(QUERY_KEYS)}={rng.choice(QUERY_VALUES)}" for _ in range(rng.choice([0, 0, 1, 2, 3]))]
        target = path + ("?" + "&".join(pairs) if pairs else "")
        headers: dict[str, str] = {}
        authorization = rng.choice(AUTHORIZATIONS) if rng.random() < 0.6 else AUTHORIZATIONS[1]
        if authorization is not None:
            headers["Authorization"] = authorization
        content_type = rng.choice(CONTENT_TYPES)
        if content_type is not None:
            headers["Content-Type"] = content_type
        for name, value in rng.sample(EXTRA_HEADERS, rng.choice([0, 0, 1, 2])):
            headers[name] = value
        body = rng.choice(BODIES) if method != "GET" or rng.random() < 0.1 else b""
        if body and rng.random() < 0.3:
            body = mutate(rng, body)
        requests.append((request_head(method, target, headers), body))
    return requests


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


async def test_seeded_fuzz_over_every_route_gives_no_500(callbot: CallbotProcess, chat_session: str) -> None:
    rng = random.Random(SEED)
    requests = fuzz_requests(rng, chat_session)
    statuses: Counter[int] = Counter()
    failures: list[tuple[int, str, bytes]] = []
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def worker() -> None:
        while not queue.empty():
            head, body = queue.get_nowait()
            reply = await send(callbot.http_port, head, body)
            statuses[reply.status] += 1
            json_error = reply.status < 400 or reply.headers.get("content-type", "").startswith(PROBLEM_OR_JSON)
            # aiohttp answers a malformed request itself, before any middleware (a plain 400), and a static
            # file its Range (416)
            if reply.status >= 500 or reply.status == 0 or not (json_error or reply.status in (400, 416)):
                failures.append((reply.status, head, body[:200]))

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.monotonic() - started
    print(f"{len(requests)} requests in {elapsed:.1f} s: {sorted(statuses.items())}")
    assert not failures, "\n".join(f"{status} {head!r} {body!r}" for status, head, body in failures[:20])
    assert sum(statuses.values()) == FUZZ_REQUESTS
    assert_healthy(callbot)
