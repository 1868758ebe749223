"""PostgreSQL stops mid-conversation, then the callbot is killed (kill -9): nothing said is lost.

What the caller said and the bot answered during the outage goes to the fsync'd spill file before the bot's
answer is given; the next start replays it into the database and closes the conversation as "interrupted",
with the report fields collected up to the crash.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from signalements import Store
from tests.support.callbot_process import CallbotProcess
from tests.support.postgres import running_postgres

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(600)]  # two starts of Rasa

LINES = [
    "la chaussée est défoncée devant chez moi",
    "c'est au 12 rue de la république à marseille",
    "non ce n'est pas dangereux",
]


def conversation(url: str, key: bytes, call_id: str) -> Any:
    store = Store(url, key)
    try:
        return store.get_call(call_id)
    finally:
        store.close()


def test_database_down_then_kill_9_loses_no_turn_and_no_field(tmp_path: Path) -> None:
    with running_postgres() as postgres:
        url = postgres.create_database().replace("postgresql+psycopg://", "postgresql://")
        callbot = CallbotProcess(
            tmp_path,
            env_overrides={
                "CALLBOT_DATABASE_URL": url,
                "CALLBOT_DIALOGUE_MODE": "managed",
                "CALLBOT_DIALOGUE_EAGER": "true",
                "CALLBOT_DIALOGUE_TIMEOUT_S": "30",
                "CALLBOT_DATABASE_NODE": "outage-node",
            },
        )
        callbot.start()
        try:
            key = bytes.fromhex((tmp_path / "pseudonym.key").read_text().strip())
            status, opened = callbot.post("/chat/sessions")
            assert status == 201
            session = str(opened["session"])
            said: list[str] = [str(opened["messages"][0])]  # type: ignore[index]
            status, reply = callbot.post(f"/chat/sessions/{session}/messages", {"text": LINES[0]})
            assert status == 200
            said += [LINES[0], *map(str, reply["messages"])]  # type: ignore[call-overload]

            postgres.stop()
            for line in LINES[1:]:
                status, reply = callbot.post(f"/chat/sessions/{session}/messages", {"text": line})
                assert status == 200, reply
                said += [line, *map(str, reply["messages"])]  # type: ignore[call-overload]
            callbot.kill()  # the instant the last answer is given: no time for anything else
            assert (tmp_path / "store-spill.jsonl").exists()

            postgres.start()
            callbot.start()
            deadline = time.monotonic() + 30
            while conversation(url, key, session).summary.outcome is None and time.monotonic() < deadline:
                time.sleep(0.3)
            call = conversation(url, key, session)
            assert call.summary.outcome == "interrupted"
            assert [turn.text for turn in call.turns] == said
            fields = call.collected_fields or {}
            assert fields.get("category") == "chaussee_trottoirs"
            assert fields.get("street_number") == "12" and fields.get("danger") is False
        finally:
            if callbot.process is not None and callbot.process.poll() is None:
                callbot.stop()
