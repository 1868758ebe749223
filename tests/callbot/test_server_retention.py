"""The running server applies the retention limits itself (not only `callbot db purge`)."""

from __future__ import annotations

import asyncio
import secrets
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from callbot.config import load_settings
from callbot.server import CallbotServer
from signalements import PurgeResult, Store


class WatchedStore(Store):
    purged = threading.Event()

    def purge_expired(
        self, now: datetime, transcript_days: int, report_days: int, audit_days: int | None = None
    ) -> PurgeResult:
        result = super().purge_expired(now, transcript_days, report_days, audit_days)
        self.purged.set()
        return result


async def test_the_server_purges_old_transcripts_at_start(tmp_path: Path) -> None:
    store = WatchedStore(f"sqlite:///{tmp_path / 'calls.sqlite3'}", secrets.token_bytes(32))
    store.migrate()
    long_ago = datetime.now(UTC) - timedelta(days=400)
    for call_id, started in (("old", long_ago), ("recent", datetime.now(UTC))):
        store.open_call(call_id, "sip", "+33491000000", started)
        store.add_turn(call_id, "caller", "il y a un trou", started, started)
    server = CallbotServer(load_settings(environ={"CALLBOT_RETENTION_TRANSCRIPT_DAYS": "90"}))

    purging = asyncio.create_task(server._purge_periodically(store))
    try:
        assert await asyncio.to_thread(store.purged.wait, 10)
    finally:
        purging.cancel()
    old = store.get_call("old")
    assert not old.turns and old.summary.caller_pseudonym is None
    assert len(store.get_call("recent").turns) == 1
