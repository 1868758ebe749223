"""StoreWriter: ordered writes off the event loop, kept (in memory, then on disk) while the DB is down."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from signalements import Store, StoreWriter
from tests.signalements.conftest import PSEUDONYM_KEY, T0
from tests.support.postgres import PostgresServer

NUMBER = "+33612345678"


async def wait_until_unavailable(writer: StoreWriter) -> None:
    for _ in range(600):  # bounded: 60 s
        if writer.unavailable:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the writer never noticed the outage")


def turn_texts(store: Store, call_id: str) -> list[str]:
    return [turn.text for turn in store.get_call(call_id).turns]


async def submit_turns(writer: StoreWriter, store: Store, call_id: str, texts: list[str]) -> None:
    for index, text in enumerate(texts):
        at = T0 + timedelta(seconds=index)
        await writer.submit(store.add_turn, call_id, "caller", text, at, at, 0.9)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'callbot.db'}", PSEUDONYM_KEY, busy_timeout_s=0.05)
    store.migrate()
    yield store
    store.close()


def lock_sqlite(path: Path) -> sqlite3.Connection:
    """Another process holding the write lock: the store sees 'database is locked' until it lets go."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


async def test_writes_land_in_submission_order(store: Store, tmp_path: Path) -> None:
    writer = StoreWriter(store, spill_path=tmp_path / "spill.jsonl")
    await writer.submit(store.open_call, "c", "sip", NUMBER, T0)
    texts = [f"phrase {i}" for i in range(50)]
    await submit_turns(writer, store, "c", texts)
    await writer.submit(store.close_call, "c", "completed", T0 + timedelta(minutes=1))
    assert await writer.flush()
    assert turn_texts(store, "c") == texts
    assert store.get_call("c").summary.outcome == "completed"
    await writer.close()
    assert not (tmp_path / "spill.jsonl").exists()


async def test_only_store_write_methods_are_accepted(sqlite_store: Store, tmp_path: Path) -> None:
    writer = StoreWriter(sqlite_store, spill_path=tmp_path / "spill.jsonl")
    with pytest.raises(TypeError, match="write method"):
        await writer.submit(print, "hello")
    with pytest.raises(TypeError, match="write method"):
        await writer.submit(sqlite_store.list_calls)
    with pytest.raises(TypeError, match="bad arguments"):
        await writer.submit(sqlite_store.close_call, "c")  # type: ignore[call-arg]
    await writer.close()


async def test_sqlite_locked_by_another_process_then_released(sqlite_store: Store, tmp_path: Path) -> None:
    writer = StoreWriter(
        sqlite_store, spill_path=tmp_path / "spill.jsonl", max_queued=4, retry_initial_s=0.02, retry_max_s=0.1
    )
    await writer.submit(sqlite_store.open_call, "c", "sip", NUMBER, T0)
    assert await writer.flush()
    holder = lock_sqlite(tmp_path / "callbot.db")
    texts = [f"tour {i}" for i in range(12)]
    await submit_turns(writer, sqlite_store, "c", texts)
    await wait_until_unavailable(writer)
    assert not await writer.flush(timeout_s=0.2)
    assert writer.pending == 12
    spilled = (tmp_path / "spill.jsonl").read_text().splitlines()
    assert len(spilled) == 12  # at the first failure, every queued write went to disk
    assert await writer.durable(timeout_s=1)
    holder.rollback()
    holder.close()
    assert await writer.flush(timeout_s=60)
    assert turn_texts(sqlite_store, "c") == texts
    assert not writer.unavailable and writer.pending == 0
    assert not (tmp_path / "spill.jsonl").exists()
    await writer.close()


async def test_close_during_outage_keeps_everything_for_the_next_start(sqlite_store: Store, tmp_path: Path) -> None:
    spill = tmp_path / "spill.jsonl"
    writer = StoreWriter(sqlite_store, spill_path=spill, max_queued=3, retry_initial_s=0.02, retry_max_s=0.1)
    holder = lock_sqlite(tmp_path / "callbot.db")
    await writer.submit(sqlite_store.open_call, "c", "sip", NUMBER, T0)
    texts = [f"tour {i}" for i in range(8)]
    await submit_turns(writer, sqlite_store, "c", texts)
    await writer.close(deadline_s=0.3)
    lines = spill.read_text().splitlines()
    assert [json.loads(line)["method"] for line in lines] == ["open_call_pseudonymised"] + ["add_turn"] * 8
    assert "612345678" not in spill.read_text()  # the number went to disk pseudonymised
    with pytest.raises(RuntimeError, match="closed"):
        await writer.submit(sqlite_store.close_call, "c", "error", T0)
    holder.rollback()
    holder.close()

    restarted = StoreWriter(sqlite_store, spill_path=spill)
    assert restarted.recovered == 9  # not `pending`: the worker is already replaying them
    await restarted.submit(sqlite_store.close_call, "c", "caller_hung_up", T0 + timedelta(minutes=2))
    assert await restarted.flush(timeout_s=60)
    call = sqlite_store.get_call("c")
    assert [t.text for t in call.turns] == texts and call.summary.outcome == "caller_hung_up"
    assert call.summary.caller_pseudonym == sqlite_store.pseudonymise(NUMBER)
    assert not spill.exists()
    await restarted.close()


async def test_refused_writes_are_set_aside_and_later_writes_continue(sqlite_store: Store, tmp_path: Path) -> None:
    writer = StoreWriter(sqlite_store, spill_path=tmp_path / "spill.jsonl")
    await writer.submit(sqlite_store.add_turn, "unknown-call", "caller", "allo", T0, T0)
    await writer.submit(sqlite_store.open_call, "c", "text", None, T0)
    await writer.submit(sqlite_store.add_turn, "c", "caller", "bonjour", T0, T0)
    assert await writer.flush(timeout_s=60)
    assert turn_texts(sqlite_store, "c") == ["bonjour"]
    [rejected] = (tmp_path / "spill.rejected.jsonl").read_text().splitlines()
    record = json.loads(rejected)
    assert record["method"] == "add_turn" and "NotFound" in record["error"]
    await writer.close()


@pytest.mark.postgres
async def test_postgres_stopped_mid_call_then_restarted(own_postgres: PostgresServer, tmp_path: Path) -> None:
    store = Store(own_postgres.create_database(), PSEUDONYM_KEY, connect_timeout_s=2)
    store.migrate()
    spill = tmp_path / "spill.jsonl"
    writer = StoreWriter(store, spill_path=spill, max_queued=5, retry_initial_s=0.05, retry_max_s=0.3)
    await writer.submit(store.open_call, "c", "sip", NUMBER, T0)
    await submit_turns(writer, store, "c", ["avant la panne"])
    assert await writer.flush()

    await asyncio.to_thread(own_postgres.stop)
    texts = [f"pendant la panne {i}" for i in range(20)]
    for index, text in enumerate(texts):
        at = T0 + timedelta(seconds=10 + index)
        await writer.submit(store.add_turn, "c", "caller", text, at, at)
    await writer.submit(store.add_handoff, "c", "technical", None, False, {"category": "voirie"}, T0)
    await writer.submit(store.close_call, "c", "error", T0 + timedelta(minutes=1))
    await wait_until_unavailable(writer)
    assert spill.exists() and writer.pending == 22
    await asyncio.to_thread(own_postgres.start)

    assert await writer.flush(timeout_s=120)
    call = store.get_call("c")
    assert [t.text for t in call.turns] == ["avant la panne", *texts]
    assert [t.seq for t in call.turns] == list(range(1, 22))
    assert call.handoffs[0].fields == {"category": "voirie"} and call.summary.outcome == "error"
    assert not spill.exists()
    await writer.close()
    store.close()


async def test_spill_file_left_by_a_crash_is_replayed_skipping_damage(sqlite_store: Store, tmp_path: Path) -> None:
    spill = tmp_path / "spill.jsonl"
    good = (
        '{"method": "open_call_pseudonymised", "args": {"call_id": "c", "channel": "sip", '
        '"caller_pseudonym": null, "started_at": {"$datetime": "2026-11-23T09:30:00+00:00"}}}\n'
    )
    turn = (
        '{"method": "add_turn", "args": {"call_id": "c", "speaker": "caller", "text": "reprise", '
        '"started_at": {"$datetime": "2026-11-23T09:30:00+00:00"}, '
        '"ended_at": {"$datetime": "2026-11-23T09:30:01+00:00"}}}\n'
    )
    spill.write_text(good + "this is not json\n" + turn + '{"method": "add_tu')  # torn by a crash
    writer = StoreWriter(sqlite_store, spill_path=spill)
    assert await writer.flush(timeout_s=60)
    assert turn_texts(sqlite_store, "c") == ["reprise"]
    assert not spill.exists()
    await writer.close()


async def test_text_that_cannot_be_encoded_is_cleaned_and_later_writes_still_land(
    sqlite_store: Store, tmp_path: Path
) -> None:
    writer = StoreWriter(sqlite_store, spill_path=tmp_path / "spill.jsonl")
    await writer.submit(sqlite_store.open_call, "c", "text", None, T0)
    await submit_turns(writer, sqlite_store, "c", ["un nid \ud800 de poule\x00", "rue de rome"])
    await writer.submit(sqlite_store.add_handoff, "c", "asked", None, False, {"place\udfff": "\ud83d"}, T0)
    assert await writer.flush(timeout_s=10)
    assert writer.alive
    assert turn_texts(sqlite_store, "c") == ["un nid \ufffd de poule\ufffd", "rue de rome"]
    assert sqlite_store.get_call("c").handoffs[0].fields == {"place\ufffd": "\ufffd"}
    await writer.close()


async def test_an_outage_puts_every_queued_write_on_disk_at_once(sqlite_store: Store, tmp_path: Path) -> None:
    spill = tmp_path / "spill.jsonl"
    writer = StoreWriter(sqlite_store, spill_path=spill, retry_initial_s=0.02, retry_max_s=0.1)
    await writer.submit(sqlite_store.open_call, "c", "sip", NUMBER, T0)
    assert await writer.durable(timeout_s=10)  # the database is up: durable means written
    holder = lock_sqlite(tmp_path / "callbot.db")
    await submit_turns(writer, sqlite_store, "c", ["premier", "deuxième"])
    assert await writer.durable(timeout_s=10)  # far below the in-memory bound, yet on disk
    assert [json.loads(line)["args"]["text"] for line in spill.read_text().splitlines()] == ["premier", "deuxième"]
    await submit_turns(writer, sqlite_store, "c", ["troisième"])
    assert await writer.durable(timeout_s=1)
    assert len(spill.read_text().splitlines()) == 3
    holder.rollback()
    holder.close()
    assert await writer.flush(timeout_s=30)
    assert turn_texts(sqlite_store, "c") == ["premier", "deuxième", "troisième"]
    await writer.close()


async def test_a_worker_that_stopped_is_started_again_by_the_next_write(sqlite_store: Store, tmp_path: Path) -> None:
    writer = StoreWriter(sqlite_store, spill_path=tmp_path / "spill.jsonl")
    await writer.submit(sqlite_store.open_call, "c", "text", None, T0)
    assert await writer.flush(timeout_s=10)
    writer._stopping.set()  # stop the thread as a crash would, without closing the writer
    with writer._cond:
        writer._cond.notify_all()
    await asyncio.to_thread(writer._thread.join, 5)
    assert not writer.alive
    writer._stopping.clear()
    await submit_turns(writer, sqlite_store, "c", ["encore là"])
    assert writer.alive
    assert await writer.flush(timeout_s=10)
    assert turn_texts(sqlite_store, "c") == ["encore là"]
    await writer.close()


class HangingStore(Store):
    """A database that stops answering while `hang` is set, as a PostgreSQL stopped with SIGSTOP: no error, no
    answer. A write then waits, its statements done and its COMMIT not yet, until `release` is set; then it
    commits late, as the stopped server does once it runs again."""

    def __init__(self, database_url: str) -> None:
        super().__init__(database_url, PSEUDONYM_KEY, busy_timeout_s=0.05)
        self.hang, self.release, self.blocked = threading.Event(), threading.Event(), threading.Event()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        with super().writing() as session:
            yield session
            if self.hang.is_set():
                self.blocked.set()
                assert self.release.wait(60), "never released"


@pytest.fixture
def hanging_store(db_url: str) -> Iterator[HangingStore]:
    store = HangingStore(db_url)
    store.migrate()
    yield store
    store.release.set()
    store.close()


def spilled_texts(spill: Path) -> list[str]:
    return [json.loads(line)["args"]["text"] for line in spill.read_text().splitlines()]


async def submit_turn(writer: StoreWriter, store: Store, text: str, second: int) -> None:
    at = T0 + timedelta(seconds=second)
    await writer.submit(store.add_turn, "c", "caller", text, at, at, 0.9)


async def test_a_database_that_hangs_is_an_outage_and_its_late_commit_is_not_written_twice(
    hanging_store: HangingStore, tmp_path: Path
) -> None:
    store, spill = hanging_store, tmp_path / "spill.jsonl"
    writer = StoreWriter(store, spill_path=spill, op_timeout_s=0.3, retry_initial_s=0.02, retry_max_s=0.1)
    await writer.submit(store.open_call, "c", "sip", NUMBER, T0)
    assert await writer.flush(timeout_s=10)

    store.hang.set()
    await submit_turn(writer, store, "premier", 1)
    began = time.monotonic()
    assert await writer.durable(timeout_s=30)  # the writer's deadline (0.3 s) ends the wait, not this time-out
    assert time.monotonic() - began < 5
    assert writer.unavailable and store.blocked.is_set()
    await submit_turn(writer, store, "deuxième", 2)
    assert await writer.durable(timeout_s=1)
    assert spilled_texts(spill) == ["premier", "deuxième"]  # the write in flight is on disk too
    assert turn_texts(store, "c") == []

    store.hang.clear()
    store.release.set()  # the first write commits late: its copy in the spill file is skipped
    assert await writer.flush(timeout_s=30)
    call = store.get_call("c")
    assert [(t.seq, t.text) for t in call.turns] == [(1, "premier"), (2, "deuxième")]
    assert not writer.unavailable and not spill.exists()
    await writer.close()


async def test_durable_time_out_puts_the_write_in_flight_on_disk_and_a_restart_replays_it_once(
    hanging_store: HangingStore, tmp_path: Path
) -> None:
    store, spill = hanging_store, tmp_path / "spill.jsonl"
    writer = StoreWriter(store, spill_path=spill, op_timeout_s=60)  # only durable()'s time-out can act
    await writer.submit(store.open_call, "c", "sip", NUMBER, T0)
    assert await writer.flush(timeout_s=10)

    store.hang.set()
    await submit_turn(writer, store, "premier", 1)
    assert await asyncio.to_thread(store.blocked.wait, 10)  # in flight, unanswered
    await submit_turn(writer, store, "deuxième", 2)
    await writer.submit(store.update_fields, "c", {"category": "voirie"})
    await writer.submit(store.add_handoff, "c", "caller_request", None, True, {"category": "voirie"}, T0)
    began = time.monotonic()
    assert await writer.durable(timeout_s=0.3)  # timed out: memory and the write in flight moved to disk
    assert time.monotonic() - began < 2
    lines = [json.loads(line) for line in spill.read_text().splitlines()]
    assert [line["method"] for line in lines] == ["add_turn", "add_turn", "update_fields", "add_handoff"]
    left_by_a_crash = spill.read_bytes()  # what a kill -9 now would leave

    store.hang.clear()
    store.release.set()
    assert await writer.flush(timeout_s=30)
    await writer.close()
    assert not spill.exists()

    # The process died after the late commit, before its spill file learned of it: the next start replays all.
    spill.write_bytes(left_by_a_crash)
    restarted = StoreWriter(store, spill_path=spill)
    assert restarted.recovered == 4
    assert await restarted.flush(timeout_s=30)
    call = store.get_call("c")
    assert [(t.seq, t.text) for t in call.turns] == [(1, "premier"), (2, "deuxième")]
    assert len(call.handoffs) == 1 and call.collected_fields == {"category": "voirie"}
    await restarted.close()


async def test_writes_replayed_after_reaching_the_database_are_stored_once(store: Store) -> None:
    store.open_call("c", "sip", NUMBER, T0)
    store.open_call("c", "sip", NUMBER, T0)
    for _ in range(2):
        store.add_turn("c", "caller", "un trou", T0, T0 + timedelta(seconds=2), 0.9)
        store.update_fields("c", {"category": "voirie"})
        store.add_handoff("c", "caller_request", None, True, {"category": "voirie"}, T0)
    first = store.request_callback("c", "outside_hours", "0612345678", T0)
    assert store.request_callback("c", "outside_hours", "0612345678", T0) == first
    store.add_turn("c", "caller", "un trou", T0 + timedelta(seconds=5), T0 + timedelta(seconds=6))  # said again
    call = store.get_call("c")
    assert [(t.seq, t.text) for t in call.turns] == [(1, "un trou"), (2, "un trou")]
    assert len(call.handoffs) == 1 and call.collected_fields == {"category": "voirie"}
