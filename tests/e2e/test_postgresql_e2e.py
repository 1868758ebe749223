"""The whole callbot process on a real PostgreSQL server: migrations at start, every turn written there."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from signalements import Store
from tests.support.callbot_process import CallbotProcess
from tests.support.postgres import PostgresServer, fresh_postgres_url

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def post(port: int, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        reply: dict[str, Any] = json.loads(response.read())
        return reply


def test_the_server_runs_on_postgresql(dialogue_server: Any, postgres_server: PostgresServer, tmp_path: Path) -> None:
    database_url = fresh_postgres_url(postgres_server).replace("postgresql+psycopg://", "postgresql://")
    (tmp_path / "pseudonym.key").write_text(dialogue_server.pseudonym_key.hex())
    callbot = CallbotProcess(
        tmp_path,
        env_overrides={
            "CALLBOT_DATABASE_URL": database_url,
            "CALLBOT_DIALOGUE_MODE": "external",
            "CALLBOT_DIALOGUE_URL": dialogue_server.url,
            "CALLBOT_DIALOGUE_TOKEN": dialogue_server.token,
        },
    )
    callbot.start()
    try:
        opened = post(callbot.http_port, "/chat/sessions")
        session = opened["session"]
        reply = post(callbot.http_port, f"/chat/sessions/{session}/messages", {"text": "il y a des tags sur l'abribus"})
        assert reply["messages"]
        deadline = time.monotonic() + 10  # writes are queued behind the call: the API sees them a moment later
        while True:
            stored: Any = callbot.api(f"/api/calls/{session}")
            speakers = [turn["speaker"] for turn in stored["turns"]]
            if len(speakers) >= 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert speakers[:3] == ["bot", "caller", "bot"]
    finally:
        assert callbot.stop() == 0, callbot.tail_log()
    # Read back with our own connection: the rows are in PostgreSQL, not in some local file.
    call = Store(database_url, dialogue_server.pseudonym_key).get_call(session)
    assert call.summary.channel == "text" and call.turns[1].text == "il y a des tags sur l'abribus"
    assert call.summary.outcome == "shutdown"  # the server closed the open chat when it stopped
