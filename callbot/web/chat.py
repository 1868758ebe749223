"""The text channel: the same assistant as a chatbot, on the same dialogue and the same store.

    POST /chat/sessions                    -> 201 {"session": id, "messages": [greeting]}
    POST /chat/sessions/{id}/messages      {"text": "..."}   ("" : the user said nothing for a while)
                                           -> 200 {"messages": [...], "ended": bool, "handoff": reason | null,
                                                   "report_id": int | null}
    GET  /chat                             -> the web chat page

Errors are JSON {"error": "..."}: 400 bad body, 404 unknown session, 409 conversation over, 413 text or body too
long, 415 body not UTF-8, 429 too many open conversations, 503 dialogue unavailable. Bodies are read by
`signalements.http_input.read_json` (bounded; a lone surrogate in the text is stored as U+FFFD).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aiohttp import web

from callbot.config import ChatSettings, Prompts, TransferSettings
from callbot.conversation import Conversation, utc_now
from callbot.hours import OpeningHours, spoken_next_opening
from callbot.logs import CALL_ID
from callbot.tracing import CallTrace, Turn, note_reply, turn_outcome
from dialogue.client import DialogueClient
from signalements import Store, StoreWriter
from signalements.http_input import InputError, read_json

MAX_TEXT_CHARS = 500
STATIC = Path(__file__).parent / "static"
STATIC_FILES = {path.name: path for path in STATIC.iterdir() if path.is_file()}


@dataclass
class ChatSession:
    conversation: Conversation
    trace: CallTrace  # a trace per message answered
    last_active: float = field(default_factory=time.monotonic)
    ended: bool = False
    callback_offer: str | None = None  # why a call back was offered (outside_hours, no_transfer), once it is


class ChatService:
    def __init__(
        self,
        dialogue: DialogueClient,
        store: Store,
        writer: StoreWriter,
        prompts: Prompts,
        limits: ChatSettings,
        node: str | None = None,
        transfer: TransferSettings | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """`transfer`: the agents' line and opening hours; when nobody can take a chat handed over (closed, or
        no agents' line), a call back is offered. None: a handoff is only recorded for the call centre."""
        self._node = node  # this instance's name on its conversations (see Conversation)
        self._transfer = transfer
        self._hours = OpeningHours.from_settings(transfer) if transfer is not None else None
        self._clock = clock
        self._dialogue = dialogue
        self._store = store
        self._writer = writer
        self._prompts = prompts
        self._limits = limits
        self._sessions: dict[str, ChatSession] = {}
        self._opened_by: dict[str, deque[float]] = {}  # client address -> when it opened its recent chats

    async def open(self, client: str) -> tuple[str, str]:
        """A new conversation for `client` (its address): limited per client and in all, so nobody can hog it."""
        await self._expire_idle()
        now = time.monotonic()
        recent = self._opened_by.setdefault(client, deque())
        while recent and now - recent[0] > 60:
            recent.popleft()
        if len(recent) >= self._limits.opens_per_client_per_minute or len(self._sessions) >= self._limits.max_open:
            raise web.HTTPTooManyRequests(
                text='{"error": "too many conversations, try again in a minute"}',
                content_type="application/json",
                headers={"Retry-After": "60"},
            )
        recent.append(now)
        session_id = secrets.token_hex(16)
        conversation = Conversation(session_id, "text", None, self._dialogue, self._store, self._writer, self._node)
        await conversation.open()
        greeting = self._prompts.chat_greeting
        await conversation.record_bot(greeting, utc_now())
        self._sessions[session_id] = ChatSession(conversation, CallTrace(session_id, "text"))
        return session_id, greeting

    async def say(self, session: ChatSession, text: str) -> dict[str, object]:
        """Answer the user's text; an empty text means they said nothing (the page's idle timer sends it)."""
        with session.trace.turn() as turn:
            return await self._say(session, text, turn)

    async def _say(self, session: ChatSession, text: str, turn: Turn) -> dict[str, object]:
        conversation = session.conversation
        CALL_ID.set(conversation.id)  # the log lines of this request name the conversation
        session.last_active = time.monotonic()
        with turn.stage("dialogue") as traced:
            if text:
                await conversation.record_caller(text, utc_now(), utc_now())
                reply = await conversation.ask(text, None)
            else:
                reply = await conversation.ask_after_silence()
            note_reply(traced, reply)
        turn.outcome = turn_outcome(reply, reply is not None and reply.hangup)
        if reply is None:
            await self._end(session, "error")
            raise web.HTTPServiceUnavailable(
                text='{"error": "the assistant is unavailable, please try again later"}',
                content_type="application/json",
            )
        requested = False
        if reply.callback_number is not None and session.callback_offer is not None:
            # In the agents' queue before the user reads that it is noted.
            await conversation.record_callback(session.callback_offer, reply.callback_number)
            requested = True
        messages = list(reply.texts)
        for message in messages:
            await conversation.record_bot(message, utc_now())
        offer = await self._offer_callback(session, reply.handoff_reason) if reply.handoff_reason else None
        if offer is not None:
            messages += offer  # the conversation goes on: would they like to be called back, at which number
        elif reply.handoff_reason is not None:
            # No line to transfer in a chat: the handoff is recorded for the call centre, who follow it up.
            await conversation.record_handoff(reply.handoff_reason, None, False)
            messages.append(self._prompts.chat_handoff)
            await conversation.record_bot(self._prompts.chat_handoff, utc_now())
            await self._end(session, "handoff_requested")
        elif reply.hangup:
            if reply.report_id is not None:
                outcome = "report_saved"
            elif session.callback_offer is not None:
                outcome = "callback_requested" if requested else "handoff_unavailable"
            else:
                outcome = "completed"
            await self._end(session, outcome)
        return {
            "messages": messages,
            "ended": session.ended,
            "handoff": reply.handoff_reason,
            "report_id": reply.report_id,
        }

    async def _offer_callback(self, session: ChatSession, reason: str) -> list[str] | None:
        """When nobody could take the conversation up now (outside the opening hours, or no agents' line), the
        dialogue offers a call back: its question, or None to hand over as usual (agents reachable, a technical
        failure, or a dialogue that cannot answer). The handoff is recorded either way, with the fields so far."""
        if self._transfer is None or self._hours is None or session.callback_offer is not None:
            return None
        if reason == "technical":
            return None
        now = self._clock()
        if not self._hours.is_open(now):
            why = "outside_hours"
        elif self._transfer.uri is None:
            why = "no_transfer"
        else:
            return None
        conversation = session.conversation
        reply = await conversation.offer_callback(why, spoken_next_opening(self._hours, now))
        if reply is None or not reply.texts:
            return None
        session.callback_offer = why
        await conversation.record_handoff(reason, None, False)
        for message in reply.texts:
            await conversation.record_bot(message, utc_now())
        return list(reply.texts)

    def get(self, session_id: str) -> ChatSession:
        session = self._sessions.get(session_id)
        if session is None:
            raise web.HTTPNotFound(text='{"error": "unknown conversation"}', content_type="application/json")
        if session.ended:
            raise web.HTTPConflict(text='{"error": "this conversation is over"}', content_type="application/json")
        return session

    async def close_all(self) -> None:
        """The server stops: its open conversations end as "shutdown" (not as if the user had left)."""
        for session in list(self._sessions.values()):
            await self._end(session, "shutdown")

    async def _end(self, session: ChatSession, outcome: str) -> None:
        if not session.ended:
            session.ended = True
            await session.conversation.close(outcome)

    async def _expire_idle(self) -> None:
        now = time.monotonic()
        for session_id, session in list(self._sessions.items()):
            if session.ended or now - session.last_active > self._limits.idle_timeout_s:
                await self._end(session, "abandoned")
                del self._sessions[session_id]
        for client, opened in list(self._opened_by.items()):
            if not opened or now - opened[-1] > 60:
                del self._opened_by[client]


CHAT_KEY = web.AppKey("chat", ChatService)


def add_chat_routes(app: web.Application, service: ChatService) -> None:
    app[CHAT_KEY] = service
    app.router.add_post("/chat/sessions", _open)
    app.router.add_post("/chat/sessions/{session_id}/messages", _message)
    app.router.add_get("/chat", _page)
    app.router.add_get("/chat/static/{name}", _static)


async def _open(request: web.Request) -> web.Response:
    session_id, greeting = await request.app[CHAT_KEY].open(request.remote or "unknown")
    return web.json_response({"session": session_id, "messages": [greeting]}, status=201)


async def _message(request: web.Request) -> web.Response:
    service = request.app[CHAT_KEY]
    session = service.get(request.match_info["session_id"])
    body = await read_json(request, '{"text": "..."}')  # strings already made storable
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        return web.json_response({"error": '"text" must be a string ("" when the user said nothing)'}, status=400)
    if len(text) > MAX_TEXT_CHARS:
        return web.json_response({"error": f'"text" is limited to {MAX_TEXT_CHARS} characters'}, status=413)
    return web.json_response(await service.say(session, " ".join(text.split())))


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "chat.html")


async def _static(request: web.Request) -> web.FileResponse:
    # Only the files shipped: no name from the request reaches the file system (too long, "..", NUL...).
    path = STATIC_FILES.get(request.match_info["name"])
    if path is None:
        raise InputError(404, "no such file")
    return web.FileResponse(path)
