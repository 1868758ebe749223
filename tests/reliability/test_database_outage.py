"""PostgreSQL stops mid-conversation, then the callbot is killed (kill -9): nothing said is lost.

What the caller said and the bot answered during the outage goes to the fsync'd spill file before the bot's
answer is given; the next start replays it into the database and closes the conversation as "interrupted",
with the report fields collected up to the crash. Both when PostgreSQL goes down (it refuses connections) and
when it hangs (SIGSTOP: no error, no answer, as in a stalled server or a network partition).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from signalements import Store
from tests.support.callbot_process import CallbotProcess
from tests.support.postgres import PostgresServer, running_postgres

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


def callbot_on(postgres: PostgresServer, tmp_path: Path, node: str) -> tuple[CallbotProcess, str]:
    """A callbot (managed Rasa) storing into a fresh database of `postgres`; its URL."""
    url = postgres.create_database().replace("postgresql+psycopg://", "postgresql://")
    callbot = CallbotProcess(
        tmp_path,
        env_overrides={
            "CALLBOT_DATABASE_URL": url,
            "CALLBOT_DIALOGUE_MODE": "managed",
            "CALLBOT_DIALOGUE_EAGER": "true",
            "CALLBOT_DIALOGUE_TIMEOUT_S": "30",
            "CALLBOT_DATABASE_NODE": node,
        },
    )
    return callbot, url


def first_exchange(callbot: CallbotProcess) -> tuple[str, list[str]]:
    """A chat opened and its first line answered, the database up: the session and everything said so far."""
    status, opened = callbot.post("/chat/sessions")
    assert status == 201
    session = str(opened["session"])
    said: list[str] = [str(opened["messages"][0])]  # type: ignore[index]
    status, reply = callbot.post(f"/chat/sessions/{session}/messages", {"text": LINES[0]})
    assert status == 200
    return session, [*said, LINES[0], *map(str, reply["messages"])]  # type: ignore[call-overload]


def closed_as_interrupted(url: str, key: bytes, session: str, said: list[str], within_s: float) -> Any:
    """Once the restarted callbot has closed it: every turn once and in order, and the fields collected."""
    deadline = time.monotonic() + within_s
    while conversation(url, key, session).summary.outcome is None and time.monotonic() < deadline:
        time.sleep(0.3)
    call = conversation(url, key, session)
    assert call.summary.outcome == "interrupted"
    assert [turn.text for turn in call.turns] == said
    fields = call.collected_fields or {}
    assert fields.get("category") == "chaussee_trottoirs"
    assert fields.get("street_number") == "12" and fields.get("danger") is False
    return call


def test_database_down_then_kill_9_loses_no_turn_and_no_field(tmp_path: Path) -> None:
    with running_postgres() as postgres:
        callbot, url = callbot_on(postgres, tmp_path, "outage-node")
        callbot.start()
        try:
            key = bytes.fromhex((tmp_path / "pseudonym.key").read_text().strip())
            session, said = first_exchange(callbot)

            postgres.stop()
            for line in LINES[1:]:
                status, reply = callbot.post(f"/chat/sessions/{session}/messages", {"text": line})
                assert status == 200, reply
                said += [line, *map(str, reply["messages"])]  # type: ignore[call-overload]
            callbot.kill()  # the instant the last answer is given: no time for anything else
            assert (tmp_path / "store-spill.jsonl").exists()

            postgres.start()
            callbot.start()
            closed_as_interrupted(url, key, session, said, within_s=30)
        finally:
            if callbot.process is not None and callbot.process.poll() is None:
                callbot.stop()


def postgres_pids(postgres: PostgresServer) -> list[int]:
    """The postmaster, then every process it started (the backends holding the callbot's connections)."""
    postmaster = int((postgres.data_dir / "postmaster.pid").read_text().split()[0])
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(entry.name))
    return [postmaster, *children]


@contextmanager
def postgres_frozen(postgres: PostgresServer) -> Iterator[None]:
    """SIGSTOP every PostgreSQL process: connections stay open, nothing is refused, nothing is answered."""
    pids = postgres_pids(postgres)
    try:
        for pid in pids:  # the postmaster first: it forks no new backend meanwhile
            os.kill(pid, signal.SIGSTOP)
        yield
    finally:
        for pid in reversed(pids):
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


def test_database_that_hangs_then_kill_9_loses_no_turn_and_stores_none_twice(tmp_path: Path) -> None:
    with running_postgres() as postgres:
        callbot, url = callbot_on(postgres, tmp_path, "hang-node")
        callbot.start()
        try:
            key = bytes.fromhex((tmp_path / "pseudonym.key").read_text().strip())
            session, said = first_exchange(callbot)

            with postgres_frozen(postgres):
                for line in LINES[1:]:
                    began = time.monotonic()
                    status, reply = callbot.post(f"/chat/sessions/{session}/messages", {"text": line})
                    answered_in = time.monotonic() - began
                    assert status == 200, reply
                    assert answered_in < 8, f"the bot took {answered_in:.1f} s to answer"
                    said += [line, *map(str, reply["messages"])]  # type: ignore[call-overload]
                callbot.kill()  # the instant the last answer is given, PostgreSQL still silent
                spilled = (tmp_path / "store-spill.jsonl").read_text()
                assert all(line in spilled for line in LINES[1:])  # on disk, not only in the dead process

            callbot.start()
            call = closed_as_interrupted(url, key, session, said, within_s=60)  # each turn once, in order
            assert [turn.seq for turn in call.turns] == list(range(1, len(said) + 1))
        finally:
            if callbot.process is not None and callbot.process.poll() is None:
                callbot.stop()
