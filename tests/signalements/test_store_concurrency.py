"""Two processes on one SQLite file (callbot writing turns, Rasa action server saving reports)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from signalements import Store
from tests.signalements.conftest import PSEUDONYM_KEY, T0

ACTION_SERVER = """
import sys
from datetime import UTC, datetime
from signalements import ReportDraft, Store
store = Store(sys.argv[1], bytes.fromhex(sys.argv[2]))
for i in range(60):
    store.open_call(f"chat-{i % 3}", "text", None, datetime.now(UTC))
    store.save_report(f"chat-{i % 3}", ReportDraft("voirie", "rue", f"trou {i}", False, False))
"""


def test_sqlite_writers_in_two_processes_do_not_lose_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    store = Store(url, PSEUDONYM_KEY)
    store.migrate()
    store.open_call("call", "sip", None, T0)
    other = subprocess.Popen(
        [sys.executable, "-c", ACTION_SERVER, url, PSEUDONYM_KEY.hex()],
        cwd=Path(__file__).resolve().parents[2],
        stderr=subprocess.PIPE,
        text=True,
    )
    for i in range(150):
        store.add_turn("call", "caller", f"tour {i}", T0 + timedelta(seconds=i), T0 + timedelta(seconds=i))
    _, errors = other.communicate(timeout=120)
    assert other.returncode == 0, errors
    assert [t.text for t in store.get_call("call").turns] == [f"tour {i}" for i in range(150)]
    assert store.list_reports(limit=100).total == 60
    store.close()
