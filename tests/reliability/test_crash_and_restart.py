"""The real callbot, managing its own Rasa and action servers, under attack and crashes.

- the action server (which saves reports) and Rasa listen on 127.0.0.1 only, and both want a secret that only
  the callbot knows (Rasa for its API and for its REST channel);
- text that no database can hold (a lone UTF-16 surrogate) is cleaned, and every later conversation is stored;
- kill -9 of the callbot takes its children with it; the next start works, and closes the conversation the
  crash left open as "interrupted", with its turns and the report fields collected so far;
- kill -9 of the action server mid-conversation: the supervisor starts it again, and the message sent meanwhile
  is answered by the new one.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signalements import Store
from tests.support.callbot_process import CallbotProcess

pytestmark = pytest.mark.e2e

LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it


@pytest.fixture(scope="module")
def callbot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbotProcess]:
    process = CallbotProcess(
        tmp_path_factory.mktemp("crash"),
        env_overrides={
            "CALLBOT_DIALOGUE_MODE": "managed",
            "CALLBOT_DIALOGUE_EAGER": "true",
            "CALLBOT_DIALOGUE_TIMEOUT_S": "30",
            "CALLBOT_DATABASE_NODE": "reliability-node",
        },
    )
    process.start()
    yield process
    if process.process is not None and process.process.poll() is None:
        assert process.stop() == 0, process.tail_log()


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as in /proc/net/tcp) on which something listens on `port`."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def wait_until(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its (dead) parent is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def stored_call(callbot: CallbotProcess, call_id: str) -> Any:
    key = bytes.fromhex((callbot.workdir / "pseudonym.key").read_text().strip())
    store = Store(callbot.database_url, key)
    try:
        return store.get_call(call_id)
    finally:
        store.close()


def test_the_dialogue_servers_listen_on_loopback_only_and_the_action_server_wants_the_secret(
    callbot: CallbotProcess,
) -> None:
    rasa_port = int(callbot.env()["CALLBOT_DIALOGUE_RASA_PORT"])
    action_port = int(callbot.env()["CALLBOT_DIALOGUE_ACTION_PORT"])
    assert listening_addresses(rasa_port) == {LOOPBACK_HEX}
    assert listening_addresses(action_port) == {LOOPBACK_HEX}
    made_up = b'{"next_action": "action_report_turn", "sender_id": "made-up", "tracker": {}, "domain": {}}'
    for query in ("", "?token=", "?token=guessed-secret-0123456789", "?token=%C3%A9%FF"):
        request = urllib.request.Request(f"http://127.0.0.1:{action_port}/webhook{query}", data=made_up, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401
    with pytest.raises(Exception, match="no call"):
        stored_call(callbot, "made-up")
    # Rasa's channel, through which one talks as a caller, wants the secret too.
    talk = b'{"sender": "made-up", "message": "bonjour"}'
    for query in ("", "?token=guessed-secret-0123456789"):
        request = urllib.request.Request(
            f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook{query}", data=talk, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401


def test_text_no_database_can_hold_is_cleaned_and_later_conversations_are_stored(callbot: CallbotProcess) -> None:
    status, opened = callbot.post("/chat/sessions")
    assert status == 201
    session = str(opened["session"])
    # JSON may carry a lone surrogate; UTF-8 (and so every database) cannot.
    status, _ = callbot.post(f"/chat/sessions/{session}/messages", b'{"text": "un nid \\ud800 de poule"}')
    assert status in (200, 400)
    status, second = callbot.post("/chat/sessions")
    assert status == 201
    status, _ = callbot.post(f"/chat/sessions/{second['session']}/messages", {"text": "un lampadaire en panne"})
    assert status == 200
    wait_until(
        lambda: any(t.text == "un lampadaire en panne" for t in stored_call(callbot, str(second["session"])).turns),
        20,
        "the later conversation stored",
    )
    caller_turns = [t.text for t in stored_call(callbot, session).turns if t.speaker == "caller"]
    assert all("\ud800" not in text for text in caller_turns)
    health_status, health = callbot.health()
    assert health_status == 200 and health["components"]["store_writer"] is True  # type: ignore[index]


def test_kill_9_of_the_action_server_mid_conversation_it_comes_back_and_the_message_is_answered(
    callbot: CallbotProcess,
) -> None:
    """The message sent while the action server is dead (Rasa answers it with nothing: the action failed) is
    taken back and sent again until the restarted action server answers it: no silence, no handoff."""
    status, opened = callbot.post("/chat/sessions")
    session = str(opened["session"])
    actions = [pid for pid in callbot.dialogue_children() if "dialogue.action_server" in cmdline(pid)]
    assert len(actions) == 1
    os.kill(actions[0], signal.SIGKILL)
    started = time.monotonic()
    status, reply = callbot.post(f"/chat/sessions/{session}/messages", {"text": "il y a un trou sur la chaussée"})
    answered_s = time.monotonic() - started
    print(f"answered {answered_s:.1f} s after the kill")
    assert status == 200 and reply["messages"] and not reply["ended"] and reply["handoff"] is None, reply
    assert answered_s > 0.5  # answered by the new action server, not by the dead one

    now = [pid for pid in callbot.dialogue_children() if "dialogue.action_server" in cmdline(pid)]
    assert now and now != actions and all(running(pid) for pid in now)  # started again by the supervisor
    wait_until(lambda: callbot.health()[0] == 200, 120, "the action server ready again")
    status, reply = callbot.post(f"/chat/sessions/{session}/messages", {"text": "c'est rue de la république à aubagne"})
    assert status == 200 and reply["messages"] and not reply["ended"], reply


def test_kill_9_of_rasa_mid_conversation_keeps_what_was_collected(callbot: CallbotProcess) -> None:
    status, opened = callbot.post("/chat/sessions")
    session = str(opened["session"])
    status, _ = callbot.post(f"/chat/sessions/{session}/messages", {"text": "un lampadaire ne s'allume plus"})
    assert status == 200
    rasa = [pid for pid in callbot.dialogue_children() if "rasa_ext/launch.py" in cmdline(pid)]
    assert len(rasa) == 1
    os.kill(rasa[0], signal.SIGKILL)
    status, reply = callbot.post(f"/chat/sessions/{session}/messages", {"text": "devant la poste de la canebière"})
    assert status == 503 and "error" in reply  # a clear answer, and the conversation is closed
    wait_until(lambda: stored_call(callbot, session).summary.outcome == "error", 20, "the conversation closed")
    call = stored_call(callbot, session)
    assert call.collected_fields and call.collected_fields.get("category") == "eclairage_public"
    assert [t.text for t in call.turns if t.speaker == "caller"] == [
        "un lampadaire ne s'allume plus",
        "devant la poste de la canebière",
    ]
    wait_until(lambda: callbot.health()[0] == 200, 180, "Rasa started again by the supervisor")
    status, opened = callbot.post("/chat/sessions")
    status, reply = callbot.post(f"/chat/sessions/{opened['session']}/messages", {"text": "un banc cassé"})
    assert status == 200 and reply["messages"]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_kill_9_of_the_callbot_takes_its_children_and_the_next_start_closes_what_it_left(
    callbot: CallbotProcess,
) -> None:
    status, opened = callbot.post("/chat/sessions")
    session = str(opened["session"])
    status, _ = callbot.post(f"/chat/sessions/{session}/messages", {"text": "des tags sur le mur de l'école"})
    assert status == 200
    children = callbot.dialogue_children()
    assert len(children) == 2 and all(running(pid) for pid in children)
    ports = [int(callbot.env()[f"CALLBOT_DIALOGUE_{name}_PORT"]) for name in ("RASA", "ACTION")]

    callbot.kill()
    wait_until(lambda: not any(running(pid) for pid in children), 30, "Rasa and the action server to end")
    wait_until(lambda: not any(listening_addresses(port) for port in ports), 10, "their ports to be free")

    callbot.start()
    wait_until(lambda: stored_call(callbot, session).summary.outcome is not None, 20, "the open chat closed")
    call = stored_call(callbot, session)
    assert call.summary.outcome == "interrupted" and call.summary.ended_at is not None
    assert [t.speaker for t in call.turns][:3] == ["bot", "caller", "bot"]
    assert call.turns[1].text == "des tags sur le mur de l'école"
    assert call.collected_fields and call.collected_fields.get("category") == "tags_graffitis"
