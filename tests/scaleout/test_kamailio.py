"""Scale-out, for real: two callbot instances behind Kamailio's dispatcher, one PostgreSQL for both stores and
for Rasa's tracker store, one Rasa server (and its action server) for both. sipp places 40 calls through
Kamailio, 4 at a time; once a third of them are in, `callbot drain` takes one instance out mid-run: it refuses
new calls (503, to INVITE and to the dispatcher's OPTIONS) while its calls go on to their end, then stops. Not
one call may fail, every call must be in the shared store once, and Rasa's conversations in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import numpy as np
import psycopg
import pytest
import sqlalchemy as sa

from callbot.config import load_settings
from callbot.rtp.g711 import ulaw_encode
from dialogue.supervisor import ManagedDialogue
from dialogue.training import ensure_model
from signalements import Store
from tests.support.audio_match import read_wav
from tests.support.callbot_process import REPO, CallbotProcess
from tests.support.kamailio import KAMAILIO, KamailioProxy
from tests.support.postgres import PostgresServer, fresh_postgres_url
from tests.support.sip_peers import free_port, run_sipp

SCENARIO = REPO / "tests" / "callbot" / "sip" / "scenarios" / "uac_speaks_via_proxy.xml"
CLIP = REPO / "tests" / "e2e" / "audio" / "stp_fr_01.wav"
CALLS = 40
CONCURRENT = 4  # what 2 cores hold with two bots, Rasa, Kamailio and sipp on them
CALL_MS = 8000  # answer to BYE: a short greeting, ~3 s of speech, the dialogue's reply (~5 s in when alone)
DRAIN_AFTER = 14  # calls in the store when the first instance is drained
DRAIN_GRACE = timedelta(seconds=2)  # an INVITE that reached it just before the drain may start just after
STARTED = re.compile(r"call (\w+) started \(sip call id '([^']+)'\)")
TRACKER_PASSWORD = "tr@ck:er $pass/1"  # characters that URLs, YAML and ${...} expansion could each trip on

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.timeout(480),
    pytest.mark.skipif(shutil.which(KAMAILIO) is None, reason="kamailio not installed (scripts/setup.sh test)"),
    pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp not installed (Debian package sip-tester)"),
]


def caller_audio(path: Path, lead_s: float = 1.2) -> Path:
    """G.711 mu-law, 8 kHz, no header (sipp's rtp_stream): silence while the bot greets (speech over the greeting,
    which cannot be interrupted, is not heard), then French speech."""
    import soxr

    samples, rate = read_wav(CLIP)
    speech = soxr.resample(samples.astype(np.int16), rate, 8000).astype("<i2")
    pcm = np.concatenate([np.zeros(int(lead_s * 8000), dtype="<i2"), speech]).tobytes()
    path.write_bytes(ulaw_encode(pcm))
    return path


def tracker_role(server: PostgresServer, store_url: str) -> str:
    """A role of its own for Rasa, with a password, allowed to create its table in the store's database."""
    role = f"rasa_{secrets.token_hex(4)}"
    database = sa.make_url(store_url).database
    with psycopg.connect(f"host=127.0.0.1 port={server.port} user=postgres dbname={database}", autocommit=True) as c:
        c.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{TRACKER_PASSWORD}'")
        c.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {role}")
    return f"postgresql://{role}:{quote(TRACKER_PASSWORD, safe='')}@127.0.0.1:{server.port}/{database}"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def supervisor_log() -> Iterator[_Lines]:
    """What the supervisor logs, Rasa's own output included ("[rasa] ...")."""
    handler, logger = _Lines(), logging.getLogger("dialogue.supervisor")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def count_calls(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT node, count(*) FROM calls GROUP BY node")).all()
    return {str(node): int(n) for node, n in rows}


def screen_counts(result_dir: Path) -> dict[str, int]:
    """sipp's final statistics screen: cumulative "Successful call", "Failed call"."""
    screen = "\n".join(p.read_text(errors="replace") for p in result_dir.glob("*_screen.log"))
    counts = {}
    for name in ("Successful call", "Failed call"):
        found = re.findall(rf"{name}\s*\|\s*\d+\s*\|\s*(\d+)", screen)
        counts[name] = int(found[-1]) if found else -1
    return counts


def drain(bot: CallbotProcess) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callbot", "--config", str(bot.config), "drain"],
        cwd=REPO,
        env=bot.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def started_calls(bot: CallbotProcess) -> dict[str, str]:
    """SIP Call-ID -> our call id, from the "call ... started" lines of its log."""
    return {sip: ours for ours, sip in STARTED.findall(bot.log_path.read_text(errors="replace"))}


def command_lines_holding(secret: str) -> list[str]:
    holders = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if secret in text:
            holders.append(text)
    return holders


async def test_two_callbots_behind_kamailio_share_one_store_and_one_drains_without_a_call_dropped(
    tmp_path: Path,
    postgres_server: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
    supervisor_log: _Lines,
) -> None:
    store_url = fresh_postgres_url(postgres_server)
    key = secrets.token_bytes(32)
    await asyncio.to_thread(Store(store_url, key).migrate)  # once, before two instances open the store
    tracker_url = tracker_role(postgres_server, store_url)

    # One Rasa for both instances, started as a managed callbot starts it (dialogue/rasa_ext/launch.py), its
    # tracker store on the shared PostgreSQL; its action server saves the reports in the shared store.
    monkeypatch.setenv("RASA_TRACKER_STORE_URL", tracker_url)
    dialogue = ManagedDialogue(
        await asyncio.to_thread(ensure_model),
        eager=True,
        extra_env={"CALLBOT_DATABASE_URL": store_url, "CALLBOT_PSEUDONYM_KEY": key.hex()},
    )
    bots = [
        CallbotProcess(
            tmp_path / node,
            env_overrides={
                "CALLBOT_DATABASE_URL": store_url,
                "CALLBOT_DATABASE_NODE": node,
                "CALLBOT_DIALOGUE_MODE": "external",
                "CALLBOT_DIALOGUE_URL": dialogue.url,
                "CALLBOT_DIALOGUE_TOKEN": dialogue.token or "",
                "CALLBOT_DIALOGUE_TIMEOUT_S": "30",
                "CALLBOT_PROMPTS_GREETING": "Bonjour.",  # the caller may speak ~1 s in
                # room above the 4 calls at once: when a call ends, its slot may be freed a moment after sipp
                # starts the next one, and a busy 503 from the last bot up would fail that call
                "CALLBOT_SIP_MAX_CALLS": "8",
            },
        )
        for node in ("bot-a", "bot-b")
    ]
    for bot in bots:
        bot.workdir.mkdir(parents=True)
        (bot.workdir / "pseudonym.key").write_text(key.hex())  # one key: one caller, one pseudonym
    first = bots[0]  # the instance drained mid-run
    proxy = KamailioProxy(tmp_path / "kamailio", [f"127.0.0.1:{bot.sip_port}" for bot in bots])
    engine = sa.create_engine(store_url)
    started_at = time.monotonic()
    try:
        await dialogue.start()
        await asyncio.gather(dialogue.wait_ready(300), *(asyncio.to_thread(bot.start, 300) for bot in bots))
        await asyncio.to_thread(proxy.start)
        ready_s = time.monotonic() - started_at

        scenario = SCENARIO.read_text().replace("CALLER_AUDIO", "caller.ulaw").replace("CALL_MS", str(CALL_MS))
        sipp_dir = tmp_path / "sipp"
        sipp_dir.mkdir()
        (sipp_dir / "scenario.xml").write_text(scenario)
        caller_audio(sipp_dir / "caller.ulaw")
        calls = asyncio.create_task(
            run_sipp(
                sipp_dir / "scenario.xml",
                proxy.address,
                sipp_dir,
                calls=CALLS,
                concurrent=CONCURRENT,
                rate=2,
                timeout_s=300,
                extra=["-mp", str(free_port(tcp_too=False)), "-cid_str", "scaleout-%u-%p@%s", "-trace_screen"],
            )
        )
        deadline = time.monotonic() + 200
        while sum((per_node := await asyncio.to_thread(count_calls, engine)).values()) < DRAIN_AFTER:
            assert not calls.done(), (await calls).errors()
            assert time.monotonic() < deadline, per_node
            await asyncio.sleep(0.5)
        before_drain = per_node
        drained = await asyncio.to_thread(drain, first)
        drained_at = datetime.now(UTC)
        assert drained.returncode == 0, drained.stderr

        result = await calls
        assert first.process is not None
        drained_exit = await asyncio.to_thread(first.process.wait, 60)
        elapsed_s = time.monotonic() - started_at
    finally:
        proxy.stop()
        for bot in bots:
            bot.stop()
        await dialogue.stop()

    counts = screen_counts(sipp_dir)
    print(f"ready in {ready_s:.0f} s, all done in {elapsed_s:.0f} s; sipp: {counts}; before the drain {before_drain}")
    assert result.returncode == 0, (counts, result.errors()[-3000:], proxy.tail_log())
    assert counts == {"Successful call": CALLS, "Failed call": 0}, result.stdout[-3000:]
    assert drained_exit == 0, first.tail_log()
    assert "drained: no call left, stopping" in first.tail_log(400)

    # Every call in the shared store once, each by the instance that took it, none cut.
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, public_id, node, started_at, outcome FROM calls")).all()
        turns = connection.execute(sa.text("SELECT call_id, seq, speaker, text, started_at FROM turns")).all()
        reports = connection.execute(sa.text("SELECT call_id FROM reports")).all()
        senders = connection.execute(sa.text("SELECT DISTINCT sender_id FROM events")).scalars().all()
    engine.dispose()
    per_node = Counter(str(row.node) for row in rows)
    print(f"calls per instance: {dict(per_node)}")
    assert len(rows) == CALLS and len({row.public_id for row in rows}) == CALLS
    assert per_node["bot-a"] > 0 and per_node["bot-b"] > 0 and sum(per_node.values()) == CALLS, per_node
    assert {row.outcome for row in rows} == {"caller_hung_up"}, Counter(row.outcome for row in rows)

    # Each SIP Call-ID started one conversation, on one instance, and each is a row of the store.
    by_bot = [started_calls(bot) for bot in bots]
    assert not set(by_bot[0]) & set(by_bot[1]), "a call started on both instances"
    sip_ids = {**by_bot[0], **by_bot[1]}
    assert len(sip_ids) == CALLS and all(sip.startswith("scaleout-") for sip in sip_ids), sorted(sip_ids)
    assert set(sip_ids.values()) == {row.public_id for row in rows}

    # From the drain on, every new call went to the other instance.
    last_on_drained = max(row.started_at for row in rows if row.node == "bot-a")
    assert last_on_drained <= drained_at + DRAIN_GRACE, (last_on_drained, drained_at)
    assert sum(1 for row in rows if row.node == "bot-b" and row.started_at > drained_at + DRAIN_GRACE) > 0
    failovers = proxy.log_path.read_text(errors="replace").count("failed over to")
    print(f"Kamailio failovers after a 503: {failovers}")

    # Transcripts: each call greeted once, no turn written twice; at most one report per call.
    by_call = Counter((t.call_id, t.seq) for t in turns)
    assert max(by_call.values()) == 1
    assert len({(t.call_id, t.speaker, t.text, t.started_at) for t in turns}) == len(turns)
    greetings = Counter(t.call_id for t in turns if t.seq == 1 and t.speaker == "bot")
    assert set(greetings) == {row.id for row in rows} and set(greetings.values()) == {1}
    assert all(n == 1 for n in Counter(r.call_id for r in reports).values())

    # Rasa kept its conversations in PostgreSQL (table `events`): each instance's warm-up message at its start, and
    # the calls' under our call ids, at least those the dialogue answered. (On a loaded machine the recogniser may
    # finish a caller's turn only after the hang-up, when nothing is sent to Rasa any more: no minimum for these.)
    technical = load_settings(environ={}).prompts.technical_problem
    public_ids = {row.id: row.public_id for row in rows}
    answered = {public_ids[t.call_id] for t in turns if t.seq > 1 and t.speaker == "bot" and t.text != technical}
    warm_ups = {sender for sender in senders if sender.startswith("warm-up-")}
    conversations = set(senders) - warm_ups
    print(f"calls the dialogue answered: {len(answered)}; their conversations in Rasa: {len(conversations)}")
    assert len(warm_ups) >= len(bots)
    assert answered <= conversations <= {row.public_id for row in rows}

    # The tracker store's password: nowhere in a log or on a command line.
    logs = "\n".join(supervisor_log.lines) + "".join(bot.log_path.read_text(errors="replace") for bot in bots)
    assert "Rasa server is up and running" in logs  # Rasa's own output is there to be searched
    assert TRACKER_PASSWORD not in logs and quote(TRACKER_PASSWORD, safe="") not in logs
    assert not command_lines_holding(TRACKER_PASSWORD)
