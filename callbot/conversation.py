"""What a phone call and a text chat share: the dialogue and the written record of it.

A Conversation asks the dialogue server and writes every turn, handoff and outcome to the store as it happens
(through the StoreWriter, which retries while the database is down, so a conversation never waits on it).
The voice session (callbot.session) and the chat API (callbot.web.chat) each drive one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from dialogue.client import DialogueReply, DialogueService, DialogueUnavailable
from dialogue.slots import OFFER_CALLBACK_MESSAGE, report_fields
from signalements import Store, StoreWriter

log = logging.getLogger(__name__)

NO_INPUT_MESSAGE = "/no_input"  # what the dialogue hears when the caller says nothing
DURABLE_WAIT_S = 2.0


def utc_now() -> datetime:
    return datetime.now(UTC)


class Conversation:
    def __init__(
        self,
        conversation_id: str,
        channel: str,
        caller_number: str | None,
        dialogue: DialogueService,
        store: Store,
        writer: StoreWriter,
        node: str | None = None,
    ) -> None:
        """`node`: this callbot instance's name, so that its next start can close what a crash left open."""
        self.id = conversation_id
        self.channel = channel
        self.caller_number = caller_number
        self._dialogue = dialogue
        self._store = store
        self._writer = writer
        self._node = node
        self._stored_fields: dict[str, Any] = {}

    async def open(self) -> None:
        await self._write("open_call", self.id, self.channel, self.caller_number, utc_now(), self._node)

    async def ask(self, text: str, asr_confidence: float | None) -> DialogueReply | None:
        """The dialogue's answer to the caller's words; None when the dialogue server cannot answer."""
        reply = await self.preview(text, asr_confidence)
        if reply is not None:
            await self.commit(reply)
        return reply

    async def preview(self, text: str, asr_confidence: float | None) -> DialogueReply | None:
        """The answer, without recording what it collected: `commit` it, or `rewind` the dialogue."""
        # Rasa reads "/intent" as an intent, not words: a caller must not be able to inject one.
        return await self._send(text.lstrip("/ "), asr_confidence)

    async def commit(self, reply: DialogueReply) -> None:
        """Store the fields the answer says were collected (when they changed)."""
        fields = report_fields(reply.fields) if reply.fields is not None else None
        if fields is not None and fields != self._stored_fields:
            self._stored_fields = fields
            await self._write("update_fields", self.id, fields)

    async def rewind(self) -> bool:
        """Take back a previewed answer; False if the dialogue could not (it then holds that turn)."""
        try:
            await self._dialogue.rewind(self.id)
        except DialogueUnavailable as error:
            log.error("conversation %s: dialogue rewind failed: %s", self.id, error)
            return False
        return True

    async def ask_after_silence(self) -> DialogueReply | None:
        reply = await self._send(NO_INPUT_MESSAGE, None)
        if reply is not None:
            await self.commit(reply)
        return reply

    async def offer_callback(self, reason: str, when: str) -> DialogueReply | None:
        """Nobody can take the call (`reason`: outside_hours, transfer_failed, no_transfer): the dialogue offers a
        call back, agents calling `when` ("à partir de lundi 8 heures 30"). None when the dialogue cannot answer."""
        reply = await self._send(OFFER_CALLBACK_MESSAGE, None, {"callback_reason": reason, "callback_when": when})
        if reply is not None:
            await self.commit(reply)
        return reply

    async def _send(
        self, text: str, asr_confidence: float | None, extra: dict[str, Any] | None = None
    ) -> DialogueReply | None:
        metadata = {
            "asr_confidence": asr_confidence,
            "channel": "phone" if self.channel != "text" else "text",
            "caller_number": self.caller_number,
            **(extra or {}),
        }
        try:
            return await self._dialogue.send(self.id, text, metadata)
        except DialogueUnavailable as error:
            log.error("conversation %s: dialogue unavailable: %s", self.id, error)
            return None

    async def collected_fields(self) -> dict[str, Any]:
        """The report fields gathered so far, for the human who takes over.

        Only the report's own fields: the dialogue also keeps the caller's number (to offer a call back on it)
        and its bookkeeping, and the number must not reach the store in clear; nor may a callback number
        the caller did not agree to be called back on.
        """
        try:
            slots = await self._dialogue.slots(self.id)
        except DialogueUnavailable:  # a dialogue that died forgot them: the last ones it told us were stored
            return dict(self._stored_fields)
        return report_fields(slots)

    async def record_caller(
        self,
        text: str,
        started: datetime,
        ended: datetime,
        asr_confidence: float | None = None,
        words: list[tuple[str, float]] | None = None,
    ) -> None:
        """`words`: the recogniser's words with their confidences, for the supervisors' transcript."""
        if words is not None:  # kept within 0..1: the store refuses a turn with a confidence out of bounds
            words = [(word, round(min(1.0, max(0.0, confidence)), 3)) for word, confidence in words]
        await self._write("add_turn", self.id, "caller", text, started, ended, asr_confidence, words=words)

    async def record_bot(self, text: str, at: datetime) -> None:
        """Record what the bot is about to say, once all that came before it is safe from a crash."""
        await self._write("add_turn", self.id, "bot", text, at, at)
        # In the database or fsync'd to the spill file before the caller hears it. A bounded wait: when a database
        # that hangs instead of refusing has not answered by then, the writer moves them to the spill file first.
        if not await self._writer.durable(DURABLE_WAIT_S):
            log.error("conversation %s: writes neither in the database nor in the spill file", self.id)

    async def record_handoff(self, reason: str, target: str | None, succeeded: bool) -> None:
        fields = await self.collected_fields()
        await self._write("add_handoff", self.id, reason, target, succeeded, fields, utc_now())

    async def record_callback(self, reason: str, number: str) -> None:
        """The caller accepted a call back at `number` (their consent): it waits in the agents' call-back queue."""
        await self._write("request_callback", self.id, reason, number, utc_now())

    async def close(
        self, outcome: str, cpu_seconds: float | None = None, reply_latencies_ms: list[int] | None = None
    ) -> None:
        """`cpu_seconds`: the conversation's share of the server's CPU time (callbot.energy); `reply_latencies_ms`:
        each answered turn's end of the caller's speech to the bot's first sound."""
        cpu = None if cpu_seconds is None else round(max(0.0, cpu_seconds), 4)
        await self._write("close_call", self.id, outcome, utc_now(), cpu, reply_latencies_ms)

    async def _write(self, method: str, *args: Any, **kwargs: Any) -> None:
        await self._writer.submit(getattr(self._store, method), *args, **kwargs)
