"""The webhook sender: delivers the store's queued messages to integrators as signed POSTs (Standard Webhooks),
and `verify`, the receiver's check of those POSTs.

    sender = WebhookSender(Webhooks(store))
    sender.start()            # callbot.server does this; every instance may run one (claims are exclusive)
    ...
    await sender.stop()       # attempts under way finish (up to the HTTP timeout) or go back to the queue

Each attempt carries `webhook-id` (the message id, the same for every attempt: receivers deduplicate on it),
`webhook-timestamp` (unix seconds of the attempt) and `webhook-signature: v1,<base64 HMAC-SHA256>` of
"{id}.{timestamp}.{body}" keyed with the subscription's secret (the bytes base64-encoded after "whsec_").
A 2xx answer delivers the message; anything else (another status, a redirect, which is not followed, a timeout,
a refused connection) is retried after the schedule's wait (signalements.webhooks.RETRY_SCHEDULE_S), and the
message is dead after the last attempt: a person sends it again from the console or `callbot webhooks retry`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from signalements import StoreError
from signalements.webhooks import SECRET_PREFIX, DueDelivery, Webhooks

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 1.0
TIMEOUT_S = 10.0
CONCURRENCY = 4  # attempts at once per callbot instance
MAX_RESPONSE_BYTES = 4096  # read of an answer's body at most (then the connection is dropped)
TOLERANCE_S = 300
USER_AGENT = "metropole-callbot-webhooks/1"


class WebhookRefused(ValueError):
    """A POST that `verify` does not accept: missing headers, a wrong signature, or a timestamp too far from now
    (a replay). The message says which; never the secret."""


def secret_key(secret: str) -> bytes:
    """The HMAC key: the bytes base64-encoded after "whsec_" (a secret without the prefix is taken as base64)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None
    if not key:
        raise ValueError("empty webhook secret")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The signature of one attempt, "v1,<base64>"."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict: look the name up whatever its case
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def verify(
    secret: str, headers: Mapping[str, str], body: bytes | str, now: float | datetime, tolerance_s: float = TOLERANCE_S
) -> Any:
    """The receiver's check: returns the payload (parsed JSON) of a POST this secret signed within `tolerance_s`
    of `now` (unix seconds or an aware datetime); raises WebhookRefused otherwise, and logs why."""
    try:
        return _verify(secret, headers, body.encode() if isinstance(body, str) else body, now, tolerance_s)
    except WebhookRefused as refusal:
        log.warning("webhook refused: %s", refusal)
        raise


def _verify(secret: str, headers: Mapping[str, str], body: bytes, now: float | datetime, tolerance_s: float) -> Any:
    message_id, stamp, signatures = (
        _header(headers, name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    missing = [
        name
        for name, value in (("webhook-id", message_id), ("webhook-timestamp", stamp), ("webhook-signature", signatures))
        if not value
    ]
    if missing or message_id is None or stamp is None or signatures is None:
        raise WebhookRefused(f"missing header {', '.join(missing)}")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise WebhookRefused("webhook-timestamp is not unix seconds")
    reference = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(reference - int(stamp)) > tolerance_s:
        raise WebhookRefused(f"webhook-timestamp is more than {tolerance_s:g} s from now (a replay?)")
    try:
        expected = sign(secret, message_id, int(stamp), body)
    except ValueError as error:
        raise WebhookRefused(f"cannot check the signature: {error}") from None
    offered = [token for token in signatures.split(" ") if token.startswith("v1,")]
    if not any(hmac.compare_digest(token.encode(), expected.encode()) for token in offered):
        raise WebhookRefused("no valid v1 signature in webhook-signature")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRefused("the body is not JSON") from None


class WebhookSender:
    """Polls the queue, POSTs what is due (a few at a time), records each outcome in the store."""

    def __init__(
        self,
        webhooks: Webhooks,
        *,
        poll_interval_s: float = POLL_INTERVAL_S,
        timeout_s: float = TIMEOUT_S,
        concurrency: int = CONCURRENCY,
    ) -> None:
        if timeout_s >= webhooks.lease_s:
            raise ValueError("the HTTP timeout must be shorter than the claim's lease")
        self.webhooks = webhooks
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s
        self.concurrency = max(1, concurrency)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._attempts: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self, grace_s: float | None = None) -> None:
        """No new attempt; the ones under way get `grace_s` (default: the HTTP timeout) to finish, the others go
        back to the queue (due at once, no attempt counted). Nothing is lost either way."""
        task, self._task = self._task, None
        self._stopping.set()
        if task is not None:
            await asyncio.wait({task})  # ends after its current look at the queue: what it claimed is started
        if self._attempts:
            _, late = await asyncio.wait(self._attempts, timeout=self.timeout_s if grace_s is None else grace_s)
            for attempt in late:
                attempt.cancel()
            if late:
                await asyncio.wait(late)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            wait = self.poll_interval_s
            try:
                await self.poll()
            except StoreError as error:
                wait = max(wait, 5.0)
                log.warning("webhook queue unreadable, next look in %.0f s: %s", wait, error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)

    async def poll(self) -> int:
        """Claim what is due (as many as there are free places) and start its attempts; returns how many."""
        free = self.concurrency - len(self._attempts)
        if free <= 0:
            return 0
        claimed = await asyncio.to_thread(self.webhooks.claim_due, datetime.now(UTC), free)
        for due in claimed:
            attempt = asyncio.create_task(self._attempt(due), name=f"webhook-{due.message_id}")
            self._attempts.add(attempt)
            attempt.add_done_callback(self._attempts.discard)
        return len(claimed)

    async def drain(self) -> None:
        """Wait for the attempts under way (tests)."""
        while self._attempts:
            await asyncio.wait(set(self._attempts))

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                cookie_jar=aiohttp.DummyCookieJar(),  # a receiver's cookies are not sent back to anyone
                connector=aiohttp.TCPConnector(limit=self.concurrency),
            )
        return self._session

    async def _attempt(self, due: DueDelivery) -> None:
        try:
            status, error = await self._post(due)
        except asyncio.CancelledError:
            # Stopped mid-attempt: the message goes back to the queue (if this fails, the lease expires anyway).
            with contextlib.suppress(StoreError):
                await asyncio.to_thread(self.webhooks.release, due, now=datetime.now(UTC))
            raise
        at = datetime.now(UTC)
        try:
            if error is None and status is not None:
                await asyncio.to_thread(self.webhooks.delivered, due, at=at, status_code=status)
                log.info(
                    "webhook %s (%s) delivered to subscription %d", due.message_id, due.event_type, due.subscription_id
                )
                return
            outcome = await asyncio.to_thread(
                self.webhooks.failed, due, at=at, status_code=status, error=error or "failed"
            )
        except StoreError as store_error:  # the lease expires: the message is tried again, nothing is lost
            log.warning("webhook %s: outcome not recorded (%s); it will be tried again", due.message_id, store_error)
            return
        where = urlsplit(due.url).hostname or "?"
        if outcome is None:
            log.warning(
                "webhook %s to %s failed (%s); the message was meanwhile taken again", due.message_id, where, error
            )
        elif outcome.status == "dead":
            log.warning(
                "webhook %s (%s) to %s failed (%s): attempt %d of %d, dead; retry it from the console",
                due.message_id,
                due.event_type,
                where,
                error,
                outcome.attempts,
                self.webhooks.max_attempts,
            )
        else:
            log.warning(
                "webhook %s (%s) to %s failed (%s): attempt %d of %d, next at %s",
                due.message_id,
                due.event_type,
                where,
                error,
                outcome.attempts,
                self.webhooks.max_attempts,
                outcome.next_attempt_at.isoformat(timespec="seconds"),
            )

    async def _post(self, due: DueDelivery) -> tuple[int | None, str | None]:
        """(status, None) for a 2xx answer, (status or None, why) otherwise."""
        try:
            headers = signed_headers(due.secret, due.message_id, int(time.time()), due.body)
            async with self._client().post(due.url, data=due.body, headers=headers, allow_redirects=False) as answer:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    await answer.content.read(MAX_RESPONSE_BYTES)  # a little, so a short answer keeps the connection
                if 200 <= answer.status < 300:
                    return answer.status, None
                if 300 <= answer.status < 400:
                    return answer.status, f"HTTP {answer.status}: redirect not followed"
                return answer.status, f"HTTP {answer.status}"
        except TimeoutError:
            return None, f"no answer within {self.timeout_s:g} s"
        except aiohttp.ClientConnectorError as error:
            return None, f"cannot connect: {error.os_error.strerror or type(error.os_error).__name__}"
        except aiohttp.ClientError as error:  # the URL's query may hold the integrator's token: not repeated
            text = str(error).replace(due.url, urlsplit(due.url).hostname or "?")
            return None, f"{type(error).__name__}: {text[:200]}"
        except ValueError as error:  # e.g. a secret that is not base64 (written by hand in the database)
            return None, f"cannot sign or send: {error}"
