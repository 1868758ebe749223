"""A scripted dialogue, for tests of the stages around it (voice session, chat) without Rasa."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from dialogue.client import DialogueReply, DialogueUnavailable


class FakeDialogue:
    """Answers each message with the next scripted reply (or raises DialogueUnavailable when none is left,
    or when `down`); records what it was sent."""

    def __init__(self, replies: Iterable[DialogueReply] = (), slots: dict[str, Any] | None = None) -> None:
        self.replies = deque(replies)
        self.sent: list[tuple[str, dict[str, Any]]] = []  # (text, metadata), in order
        self.down = False
        self.rewinds = 0
        self._slots = dict(slots or {})

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> DialogueReply:
        self.sent.append((text, metadata))
        if self.down or not self.replies:
            raise DialogueUnavailable("fake dialogue: no reply scripted")
        return self.replies.popleft()

    async def slots(self, conversation_id: str) -> dict[str, Any]:
        if self.down:
            raise DialogueUnavailable("fake dialogue: down")
        return dict(self._slots)

    async def rewind(self, conversation_id: str) -> None:
        if self.down:
            raise DialogueUnavailable("fake dialogue: down")
        self.rewinds += 1

    async def ready(self) -> bool:
        return not self.down
