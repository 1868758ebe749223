"""The webhook sender against a real local HTTP receiver (aiohttp, on 127.0.0.1) that fails, then recovers:
signed POSTs (checked with `verify`, the receiver's side), the retry schedule kept, dead after the last attempt
then sent again by `callbot webhooks retry`, no event lost across a restart, no redirect followed, failures
logged without the payload; `verify` refuses replays, wrong signatures and missing headers. SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from callbot.webhooks import WebhookRefused, WebhookSender, sign, signed_headers, verify
from signalements import ReportDraft, Store
from signalements.webhooks import Webhooks
from tests.signalements.conftest import PSEUDONYM_KEY, database_url

REPO = Path(__file__).resolve().parents[2]
DRAFT = ReportDraft("voirie_nid_de_poule", "rue de Rome", "un trou profond", False, True, "0611223344")
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = database_url(request.param, tmp_path, request)
    migrated = Store(url, PSEUDONYM_KEY)
    migrated.migrate()
    migrated.close()
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(db_url, PSEUDONYM_KEY)
    yield store
    store.close()


@dataclass
class Received:
    at: float  # monotonic
    headers: dict[str, str]
    body: bytes
    status: int
    verified: bool


@dataclass
class Receiver:
    """An integrator's endpoint: answers `answers` in turn (then `then`), checks each signature, and keeps each
    message once (by webhook-id), as the README tells integrators to."""

    answers: list[int] = field(default_factory=list)
    then: int = 200
    delay_s: float = 0.0
    secret: str = ""
    received: list[Received] = field(default_factory=list)
    unique: dict[str, Any] = field(default_factory=dict)
    url: str = ""

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = self.answers.pop(0) if self.answers else self.then
        try:
            payload = verify(self.secret, request.headers, body, time.time())
            verified = True
        except WebhookRefused:
            payload, verified, status = None, False, 400
        self.received.append(Received(time.monotonic(), dict(request.headers), body, status, verified))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if status == 200 and verified:
            self.unique.setdefault(request.headers["webhook-id"], payload)
        return web.Response(status=status, text="ok" if status == 200 else "not now")


async def start_receiver(aiohttp_server: AiohttpServer, receiver: Receiver) -> Receiver:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/hook")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="too late")

    app = web.Application()
    app.router.add_post("/hook", receiver.hook)
    app.router.add_post("/redirect", redirect)
    app.router.add_post("/slow", slow)
    server = await aiohttp_server(app)
    receiver.url = str(server.make_url("/hook"))
    return receiver


async def until(check: Callable[[], bool], within: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def subscribe(store: Store, url: str, events: list[str]) -> tuple[int, str]:
    created = Webhooks(store).add(url, events, now=datetime.now(UTC))
    return created.subscription.id, created.secret


def handoffs(store: Store, count: int, call_id: str = "call-1") -> None:
    now = datetime.now(UTC)
    store.open_call(call_id, "sip", "+33491000000", now)
    for n in range(count):
        store.add_handoff(call_id, "dtmf", None, True, {"n": n}, now + timedelta(milliseconds=n))


def statuses(store: Store) -> list[str]:
    return [d.status for d in Webhooks(store).deliveries(limit=1000)]


# -- fails, then recovers -----------------------------------------------------------------------------------


async def test_delivered_on_the_third_attempt_after_two_500s_with_the_waits_kept(
    store: Store, aiohttp_server: AiohttpServer
) -> None:
    receiver = await start_receiver(aiohttp_server, Receiver(answers=[500, 500]))
    _, receiver.secret = subscribe(store, receiver.url, ["report.created"])
    store.open_call("call-1", "sip", "+33491000000", datetime.now(UTC))
    report_id = store.save_report("call-1", DRAFT)
    webhooks = Webhooks(store, schedule=(0.4, 0.8), jitter=0)
    sender = WebhookSender(webhooks, poll_interval_s=0.05, timeout_s=2)
    sender.start()
    try:
        await until(lambda: statuses(store) == ["delivered"], what="delivery")
    finally:
        await sender.stop()

    first, second, third = receiver.received
    assert [r.status for r in receiver.received] == [500, 500, 200]
    assert all(r.verified for r in receiver.received)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == third.headers["webhook-id"]
    assert first.body == second.body == third.body
    assert first.headers["Content-Type"] == "application/json"
    # The schedule's waits, counted from each failure (the poll adds at most its interval, the machine a little)
    assert 0.4 <= second.at - first.at < 0.4 + 1.0
    assert 0.8 <= third.at - second.at < 0.8 + 1.0
    [payload] = receiver.unique.values()
    assert payload["type"] == "report.created"
    assert payload["data"]["report_id"] == report_id and payload["data"]["category"] == "voirie_nid_de_poule"
    assert "0611223344" not in third.body.decode() and "trou" not in third.body.decode()
    [row] = webhooks.deliveries()
    assert (row.attempts, row.last_status_code, row.last_error) == (3, 200, None)
    assert row.message_id == third.headers["webhook-id"]


async def test_dead_after_the_last_attempt_then_retry_from_the_cli_delivers(
    store: Store, db_url: str, aiohttp_server: AiohttpServer, tmp_path: Path
) -> None:
    receiver = await start_receiver(aiohttp_server, Receiver(then=503))
    _, receiver.secret = subscribe(store, receiver.url, ["call.handoff"])
    handoffs(store, 1)
    webhooks = Webhooks(store, schedule=(0.1, 0.1), jitter=0)
    sender = WebhookSender(webhooks, poll_interval_s=0.05, timeout_s=2)
    sender.start()
    try:
        await until(lambda: statuses(store) == ["dead"], what="a dead message")
        await asyncio.sleep(0.5)
        assert [r.status for r in receiver.received] == [503, 503, 503]  # no attempt after the last
        [dead] = webhooks.dead()
        assert dead.attempts == 3 and dead.last_error == "HTTP 503"

        receiver.then = 200  # the integrator fixed their endpoint
        key_file = tmp_path / "pseudonym.key"
        key_file.write_text(PSEUDONYM_KEY.hex())
        env = {"CALLBOT_DATABASE_URL": db_url, "CALLBOT_DATABASE_PSEUDONYM_KEY_FILE": str(key_file)}
        listed = await asyncio.to_thread(cli, "webhooks", "deliveries", "--dead", env=env)
        assert listed.returncode == 0, listed.stderr
        assert dead.message_id in listed.stdout and "HTTP 503" in listed.stdout
        retried = await asyncio.to_thread(cli, "webhooks", "retry", str(dead.id), env=env)
        assert retried.returncode == 0, retried.stderr
        await until(lambda: statuses(store) == ["delivered"], what="the retried message")
        again = await asyncio.to_thread(cli, "webhooks", "retry", str(dead.id), env=env)
        assert again.returncode == 1 and "only a dead one" in again.stderr and "Traceback" not in again.stderr
    finally:
        await sender.stop()
    assert [r.status for r in receiver.received] == [503, 503, 503, 200]
    assert len(receiver.unique) == 1


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callbot", *args],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# -- restarts ------------------------------------------------------------------------------------------------


async def test_a_restart_mid_way_loses_nothing(db_url: str, store: Store, aiohttp_server: AiohttpServer) -> None:
    """Stopped while attempts are under way (no grace: they are cut), then a new sender on a new Store: every
    message reaches the receiver, which keeps each once (a cut attempt may have arrived: it is sent again)."""
    receiver = await start_receiver(aiohttp_server, Receiver(delay_s=0.2))
    _, receiver.secret = subscribe(store, receiver.url, ["call.handoff"])
    handoffs(store, 20)
    message_ids = {d.message_id for d in Webhooks(store).deliveries(limit=100)}

    first = WebhookSender(Webhooks(store), poll_interval_s=0.05, timeout_s=2, concurrency=4)
    first.start()
    await until(lambda: len(receiver.received) >= 6, what="the first deliveries")
    await first.stop(grace_s=0)
    cut_short = statuses(store).count("pending")
    assert 0 < cut_short < 20

    restarted_store = Store(db_url, PSEUDONYM_KEY)
    second = WebhookSender(Webhooks(restarted_store), poll_interval_s=0.05, timeout_s=2, concurrency=4)
    second.start()
    try:
        await until(lambda: statuses(store) == ["delivered"] * 20, what="every message")
    finally:
        await second.stop()
        restarted_store.close()
    assert set(receiver.unique) == message_ids
    assert len(receiver.received) - len(message_ids) <= 4  # at most the attempts that were cut
    assert all(r.verified for r in receiver.received)


async def test_a_graceful_stop_finishes_its_attempts_and_sends_nothing_twice(
    db_url: str, store: Store, aiohttp_server: AiohttpServer
) -> None:
    receiver = await start_receiver(aiohttp_server, Receiver(delay_s=0.2))
    _, receiver.secret = subscribe(store, receiver.url, ["call.handoff"])
    handoffs(store, 12)
    first = WebhookSender(Webhooks(store), poll_interval_s=0.05, timeout_s=2, concurrency=4)
    first.start()
    await until(lambda: len(receiver.received) >= 3, what="the first attempts")
    await first.stop()
    assert "pending" in statuses(store)
    assert statuses(store).count("delivered") == len(receiver.received)  # none left half done
    restarted_store = Store(db_url, PSEUDONYM_KEY)
    second = WebhookSender(Webhooks(restarted_store), poll_interval_s=0.05, timeout_s=2)
    second.start()
    try:
        await until(lambda: statuses(store) == ["delivered"] * 12, what="every message")
    finally:
        await second.stop()
        restarted_store.close()
    assert len(receiver.received) == len(receiver.unique) == 12


async def test_what_a_killed_instance_had_claimed_comes_back_after_its_lease(
    store: Store, aiohttp_server: AiohttpServer
) -> None:
    receiver = await start_receiver(aiohttp_server, Receiver())
    _, receiver.secret = subscribe(store, receiver.url, ["call.handoff"])
    handoffs(store, 3)
    killed = Webhooks(store, lease_s=1.5)
    assert len(killed.claim_due(datetime.now(UTC), 10)) == 3  # ...and the process died before any POST
    sender = WebhookSender(Webhooks(store, lease_s=1.5), poll_interval_s=0.05, timeout_s=1)
    sender.start()
    started = time.monotonic()
    try:
        await until(lambda: statuses(store) == ["delivered"] * 3, what="the orphaned messages")
    finally:
        await sender.stop()
    assert time.monotonic() - started >= 1.0
    assert len(receiver.unique) == 3


# -- what counts as a failure, and what is logged ------------------------------------------------------------


async def test_redirects_timeouts_and_refused_connections_are_failures_logged_without_the_payload(
    store: Store, aiohttp_server: AiohttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = await start_receiver(aiohttp_server, Receiver())
    base = receiver.url.removesuffix("/hook")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
    subscribe(store, base + "/redirect", ["report.created"])
    subscribe(store, base + "/slow?token=s3cret-token", ["report.created"])
    subscribe(store, f"http://127.0.0.1:{closed_port}/hook", ["report.created"])
    store.open_call("call-1", "sip", "+33491000000", datetime.now(UTC))
    store.save_report("call-1", DRAFT)
    webhooks = Webhooks(store, schedule=(3600,))
    sender = WebhookSender(webhooks, poll_interval_s=0.05, timeout_s=0.5)
    caplog.set_level(logging.INFO, logger="callbot.webhooks")
    sender.start()
    try:
        await until(lambda: all(d.attempts == 1 for d in webhooks.deliveries()), what="three failed attempts")
    finally:
        await sender.stop()
    errors = {d.subscription_id: d.last_error or "" for d in webhooks.deliveries()}
    assert errors[1] == "HTTP 302: redirect not followed"
    assert errors[2] == "no answer within 0.5 s"
    assert errors[3].startswith("cannot connect")
    assert receiver.received == []  # the redirect's target was never reached
    assert all(d.status == "pending" for d in webhooks.deliveries())
    failures = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failures) == 3
    for line in failures:
        assert "attempt 1 of 2" in line and "msg_" in line
        for secret_or_personal in ("s3cret-token", "voirie", "rue de Rome", "0611223344", "trou"):
            assert secret_or_personal not in line


# -- verify(): the receiver's side ---------------------------------------------------------------------------


def signed(body: bytes = b'{"type":"call.handoff"}', at: int | None = None, secret: str = SECRET) -> dict[str, str]:
    return signed_headers(secret, "msg_1", int(time.time()) if at is None else at, body)


def test_the_signature_is_standard_webhooks() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"k" * 32, b"msg_1.1700000000." + body, hashlib.sha256).digest()
    assert sign(SECRET, "msg_1", 1700000000, body) == "v1," + base64.b64encode(expected).decode()


def test_verify_accepts_a_fresh_signed_post_whatever_the_header_case() -> None:
    body = b'{"type":"call.handoff"}'
    headers = {name.upper(): value for name, value in signed(body).items()}
    assert verify(SECRET, headers, body, time.time()) == {"type": "call.handoff"}
    # several signatures (the sender rotating its secret): one valid is enough
    headers = signed(body)
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    assert verify(SECRET, headers, body.decode(), datetime.now(UTC)) == {"type": "call.handoff"}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h, b: (h, b + b" "), "no valid v1 signature"),  # the body changed on the way
        (lambda h, b: ({**h, "webhook-id": "msg_2"}, b), "no valid v1 signature"),
        (lambda h, b: ({**h, "webhook-signature": "v1,"}, b), "no valid v1 signature"),
        (lambda h, b: ({**h, "webhook-signature": "v2," + h["webhook-signature"][3:]}, b), "no valid v1 signature"),
        (
            lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
            "missing header webhook-signature",
        ),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b), "missing header webhook-id"),
        (lambda h, b: ({}, b), "missing header webhook-id, webhook-timestamp, webhook-signature"),
        (lambda h, b: ({**h, "webhook-timestamp": "yesterday"}, b), "not unix seconds"),
    ],
)
def test_verify_refuses_tampering_and_missing_headers(
    change: Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]],
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers, body = change(signed(), b'{"type":"call.handoff"}')
    with pytest.raises(WebhookRefused, match=reason):
        verify(SECRET, headers, body, time.time())
    assert any("webhook refused" in r.getMessage() for r in caplog.records)


def test_verify_refuses_a_replay_and_a_foreign_secret() -> None:
    body = b'{"type":"call.handoff"}'
    now = time.time()
    old = signed(body, at=int(now) - 301)  # a genuine message, replayed six minutes later
    with pytest.raises(WebhookRefused, match="replay"):
        verify(SECRET, old, body, now)
    assert verify(SECRET, old, body, now, tolerance_s=600)
    with pytest.raises(WebhookRefused, match="replay"):
        verify(SECRET, signed(body, at=int(now) + 301), body, now)  # from the future
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(WebhookRefused, match="no valid v1 signature"):
        verify(other, signed(body), body, now)
    with pytest.raises(WebhookRefused, match="cannot check"):
        verify("whsec_not base64!", signed(body), body, now)


def test_verify_refuses_a_signed_body_that_is_not_json() -> None:
    with pytest.raises(WebhookRefused, match="not JSON"):
        verify(SECRET, signed(b"\xff\xfe"), b"\xff\xfe", time.time())
    assert json.dumps(verify(SECRET, signed(b"[]"), b"[]", time.time())) == "[]"
