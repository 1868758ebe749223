"""Client of the Rasa server's REST channel, as the call session uses it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp


class DialogueUnavailable(Exception):
    """The dialogue server could not be reached, timed out or failed (5xx): the call must be handed over."""


@dataclass
class DialogueReply:
    texts: list[str] = field(default_factory=list)
    hangup: bool = False
    handoff_reason: str | None = None
    report_id: int | None = None
    fields: dict[str, Any] | None = None  # the report's fields collected so far, when the dialogue says them
    expects: str = "free"  # the kind of answer the bot's last question calls for (dialogue.slots.expected_answer)
    # Whether the answer to it may be tried ahead and taken back (rewind) if the caller goes on speaking: not
    # when answering may save a report (the read-back), which cannot be taken back.
    previewable: bool = False
    # The line answered the question the bot had asked (a yes/no, a number, a place) and the dialogue goes on: said at
    # a pause, the caller was done rather than pausing mid-answer, so a shorter silence may end the turn.
    answered: bool = False
    # The caller accepted a call back at this number (after the callbot's /offer_callback): the callbot stores it.
    callback_number: str | None = None


def parse_reply(messages: Any) -> DialogueReply:
    """Rasa's list of bot messages -> texts to speak and the callbot control payloads."""
    reply = DialogueReply()
    if not isinstance(messages, list):
        raise DialogueUnavailable(f"unexpected reply from the dialogue server: {messages!r:.200}")
    for message in messages:
        if not isinstance(message, dict):
            continue
        text = message.get("text")
        if isinstance(text, str) and text.strip():
            reply.texts.append(text)
        custom = message.get("custom")
        control = custom.get("callbot") if isinstance(custom, dict) else None
        if not isinstance(control, dict):
            continue
        if control.get("action") == "hangup":
            reply.hangup = True
        elif control.get("action") == "handoff":
            reply.handoff_reason = str(control.get("reason") or "technical")
        if isinstance(control.get("report_id"), int):
            reply.report_id = control["report_id"]
        if isinstance(control.get("fields"), dict):
            reply.fields = control["fields"]
        if control.get("expects") in ("yes_no", "number", "place", "free"):
            reply.expects = str(control["expects"])
        if control.get("previewable") is True:
            reply.previewable = True
        if control.get("answered") is True:
            reply.answered = True
        number = control.get("callback_number")
        if isinstance(number, str) and number.strip():
            reply.callback_number = number.strip()[:32]
    return reply


REWIND = {"event": "rewind"}
RETRY_PAUSE_S = 0.5  # between two tries of a message whose action failed
# How long such a message is tried, at least: the supervisor starts a dead action server again after 1 s, and it
# loads in about 9 s (9.9 s from the kill -9 to the answer in tests/reliability/test_crash_and_restart.py).
ACTION_SERVER_RESTART_S = 20.0


class DialogueService(Protocol):
    """What a conversation needs of the dialogue: DialogueClient (Rasa over HTTP) or dialogue.fake's."""

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> DialogueReply: ...

    async def slots(self, conversation_id: str) -> dict[str, Any]: ...

    async def rewind(self, conversation_id: str) -> None:
        """Take back the last message and everything the dialogue did after it."""

    async def ready(self) -> bool: ...


class DialogueClient:
    def __init__(self, base_url: str, timeout_s: float, token: str | None = None) -> None:
        """`token`: Rasa's --auth-token, for its HTTP API (status, trackers); the REST channel needs none."""
        self.base_url = base_url.rstrip("/")
        self._api_params = {"token": token} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._retry_s = max(timeout_s, ACTION_SERVER_RESTART_S)  # how long a message whose action failed is tried
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        url = self.base_url + path
        try:
            params = self._api_params  # the API's token; our managed Rasa's channel wants it too
            async with self._http().request(method, url, json=payload, params=params) as response:
                if response.status >= 500:
                    raise DialogueUnavailable(f"{method} {url}: HTTP {response.status}")
                if response.status >= 400:
                    body = await response.text()
                    raise DialogueUnavailable(f"{method} {url}: HTTP {response.status} {body[:200]}")
                return await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            raise DialogueUnavailable(f"{method} {url}: {type(error).__name__}: {error}") from error

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> DialogueReply:
        payload = {"sender": conversation_id, "message": text, "metadata": metadata}
        deadline = asyncio.get_running_loop().time() + self._retry_s
        while True:
            messages = await self._request("POST", "/webhooks/rest/webhook", payload)
            if messages != []:
                return parse_reply(messages)
            # Every action of ours answers a message with words or a control. Rasa answers nothing when the
            # action failed (it logs the error, drops the action's events and listens): the action server died
            # mid-turn, and its supervisor is starting it again. The message is taken back and sent again until
            # it is answered; silence would leave the caller waiting, so past the deadline the call is handed over.
            if asyncio.get_running_loop().time() >= deadline:
                raise DialogueUnavailable(f"POST {self.base_url}/webhooks/rest/webhook: no answer to the message")
            await self.rewind(conversation_id)
            await asyncio.sleep(RETRY_PAUSE_S)

    async def slots(self, conversation_id: str) -> dict[str, Any]:
        """Fields collected so far (to pass to the human agent on handoff)."""
        tracker = await self._request("GET", f"/conversations/{quote(conversation_id, safe='')}/tracker")
        slots = tracker.get("slots") if isinstance(tracker, dict) else None
        return dict(slots) if isinstance(slots, dict) else {}

    async def rewind(self, conversation_id: str) -> None:
        """Rasa's UserUtteranceReverted: the tracker forgets the last user message, the actions that followed
        and the slots they set (a turn answered ahead, which the caller turned out not to have finished)."""
        await self._request("POST", f"/conversations/{quote(conversation_id, safe='')}/tracker/events", REWIND)

    async def ready(self) -> bool:
        """True when the server answers and has a model loaded."""
        try:
            status = await self._request("GET", "/status")
        except DialogueUnavailable:
            return False
        return isinstance(status, dict) and bool(status.get("model_file") or status.get("model_id"))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
