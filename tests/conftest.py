"""A real dialogue for the test session: the trained Rasa model served by a Rasa server and our action server.

`dialogue_server` is session-scoped and synchronous (the servers are supervised from a thread with its own event
loop), so any test, whatever its event loop, can talk to it over HTTP. Eager TensorFlow by default (ready in
seconds); DIALOGUE_TEST_EAGER=0 loads the traced graph as in production (~80 s).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from dialogue.supervisor import ManagedDialogue
from dialogue.training import ensure_model
from tests.support.postgres import postgres_server

__all__ = ["postgres_server"]  # one real PostgreSQL server for the whole session, for any test that needs it

START_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class DialogueServer:
    url: str
    database_url: str
    pseudonym_key: bytes
    token: str | None  # Rasa's --auth-token, for its HTTP API


class _SupervisorThread:
    def __init__(self, dialogue: ManagedDialogue) -> None:
        self.dialogue = dialogue
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="dialogue-supervisor", daemon=True)

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.dialogue.start(START_TIMEOUT_S), self.loop).result()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.dialogue.stop(), self.loop).result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def dialogue_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DialogueServer]:
    from signalements import Store

    model = ensure_model()
    database_url = f"sqlite:///{tmp_path_factory.mktemp('dialogue-db') / 'callbot.sqlite3'}"
    key = secrets.token_bytes(32)
    Store(database_url, key).migrate()
    dialogue = ManagedDialogue(
        model,
        eager=os.environ.get("DIALOGUE_TEST_EAGER", "1") != "0",
        extra_env={"CALLBOT_DATABASE_URL": database_url, "CALLBOT_PSEUDONYM_KEY": key.hex()},
    )
    runner = _SupervisorThread(dialogue)
    try:
        runner.start()
        yield DialogueServer(dialogue.url, database_url, key, dialogue.token)
    finally:
        runner.stop()


@pytest.fixture(scope="session")
def dialogue_url(dialogue_server: DialogueServer) -> str:
    return dialogue_server.url
