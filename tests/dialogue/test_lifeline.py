"""The pid file of the dialogue's children: a crashed callbot's leftovers are ended, nobody else's process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dialogue.lifeline import ChildRecord, PidFile

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def test_children_left_by_a_crash_are_ended_and_strangers_are_left_alone(tmp_path: Path) -> None:
    ours = subprocess.Popen([*SLEEPER, "callbot-child-marker"], start_new_session=True)
    stranger = subprocess.Popen(SLEEPER, start_new_session=True)  # a recycled pid now runs something else
    try:
        pid_file = PidFile(tmp_path / "dialogue-children.json")
        pid_file.write(
            [
                ChildRecord("rasa", ours.pid, "callbot-child-marker"),
                ChildRecord("actions", stranger.pid, "callbot-child-marker"),
                ChildRecord("gone", 2**22 + 12345, "callbot-child-marker"),
            ]
        )
        ended = pid_file.end_stale(grace_s=5)
        assert [child.name for child in ended] == ["rasa"]
        assert ours.wait(timeout=10) is not None
        assert stranger.poll() is None
        assert not pid_file.path.exists()
    finally:
        for process in (ours, stranger):
            process.kill()
            process.wait()


def test_an_unreadable_pid_file_ends_nothing(tmp_path: Path) -> None:
    path = tmp_path / "dialogue-children.json"
    path.write_text("{not json")
    assert PidFile(path).end_stale() == []
