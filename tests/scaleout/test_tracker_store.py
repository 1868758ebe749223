"""dialogue.tracker_store_url, as dialogue/rasa_ext/launch.py hands it to Rasa: Rasa's own code reads the endpoints
file launch.py writes, builds its SQL tracker store on PostgreSQL and saves a conversation there (table `events`);
the password is in neither the file nor the command line, and the file is private and gone afterwards.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import sqlalchemy as sa

from dialogue.training import DEFAULT_RASA_BIN
from tests.support.callbot_process import REPO
from tests.support.postgres import PostgresServer, fresh_postgres_url

RASA_PYTHON = DEFAULT_RASA_BIN.parent / "python"
PASSWORD = "p@ss:w$rd {x}/1"  # what a URL, YAML or Rasa's ${...} expansion could each get wrong

# Run in the Rasa environment: launch.py's endpoints file, then Rasa's own reading of it (rasa run does the same).
SAVE_ONE_CONVERSATION = """
import asyncio, json, os, stat, sys
sys.path.insert(0, "dialogue/rasa_ext")
import launch

url = os.environ.pop(launch.TRACKER_URL_ENV)
args = launch.with_tracker_store(["run", "--endpoints", "dialogue/endpoints.yml"], url)
path = args[args.index("--endpoints") + 1]
os.environ.update(ACTION_SERVER_URL="http://127.0.0.1:9/webhook", ACTION_SERVER_TOKEN="unused")
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

store = TrackerStore.create(AvailableEndpoints.read_endpoints(path).tracker_store, Domain.empty())
tracker = DialogueStateTracker("call-0123", [])
tracker.update(UserUttered("il y a un nid-de-poule rue de Rome"))
asyncio.run(store.save(tracker))
print(json.dumps({"path": path, "mode": stat.S_IMODE(os.stat(path).st_mode), "text": open(path).read()}))
"""

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not RASA_PYTHON.exists(), reason="no Rasa environment (scripts/setup.sh)"),
]


def test_rasa_keeps_its_conversations_in_postgresql(postgres_server: PostgresServer) -> None:
    url = fresh_postgres_url(postgres_server)
    database = sa.make_url(url).database
    role = f"rasa_{secrets.token_hex(4)}"
    with psycopg.connect(f"host=127.0.0.1 port={postgres_server.port} user=postgres dbname={database}") as c:
        c.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
        c.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {role}")
    tracker_url = f"postgresql+psycopg://{role}:{quote(PASSWORD, safe='')}@127.0.0.1:{postgres_server.port}/{database}"

    result = subprocess.run(
        [str(RASA_PYTHON), "-c", SAVE_ONE_CONVERSATION],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "RASA_TRACKER_STORE_URL": tracker_url, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads(result.stdout.strip().splitlines()[-1])
    assert written["mode"] == 0o600
    assert "type: SQL" in written["text"] and role in written["text"]
    assert PASSWORD not in written["text"] and "${RASA_TRACKER_STORE_PASSWORD}" in written["text"]
    assert not Path(written["path"]).exists()  # removed when Rasa's process ends
    assert PASSWORD not in result.stderr and quote(PASSWORD, safe="") not in result.stderr

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        events = connection.execute(sa.text("SELECT sender_id, type_name, data FROM events")).all()
    engine.dispose()
    assert [(sender, kind) for sender, kind, _ in events] == [("call-0123", "user")]
    assert "nid-de-poule" in events[0][2]
