"""The dialogue's child processes die with the callbot, and a crashed callbot's children are ended at start.

Each child asks the kernel, first thing, for SIGTERM when its parent dies (Linux PR_SET_PDEATHSIG), so a
kill -9 of the callbot does not leave Rasa and the action server holding their ports. Should one survive
anyway (another OS, a child stuck in its start), the supervisor records its children in a pid file and, at the
next start, ends those still running that are ours: same pid, and a command line naming our launcher.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PARENT_PID_ENV = "CALLBOT_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child: SIGTERM when the process that started us dies; exit now if it already has."""
    expected = os.environ.pop(PARENT_PID_ENV, "")
    if not sys.platform.startswith("linux") or not expected.isdigit():
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != int(expected):  # the parent died before the request took hold
        sys.exit("callbot gone before the dialogue started")


@dataclass(frozen=True)
class ChildRecord:
    name: str
    pid: int
    marker: str  # a word of its command line: a recycled pid running something else is left alone


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has ended: only its parent's wait is missing
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


class PidFile:
    """The children of this callbot instance, so that the next start can end those a crash left behind."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, children: Iterable[ChildRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps([vars(child) for child in children]))
        os.replace(temporary, self.path)

    def read(self) -> list[ChildRecord]:
        try:
            records = json.loads(self.path.read_text())
            return [ChildRecord(str(r["name"]), int(r["pid"]), str(r["marker"])) for r in records]
        except FileNotFoundError:
            return []
        except (ValueError, TypeError, KeyError) as error:
            log.warning("ignoring unreadable %s: %s", self.path, error)
            return []

    def end_stale(self, grace_s: float = 10.0) -> list[ChildRecord]:
        """End the recorded children still running (SIGTERM to their group, then SIGKILL); returns them."""
        stale = [
            c for c in self.read() if c.pid != os.getpid() and _running(c.pid) and c.marker in _command_line(c.pid)
        ]
        for child in stale:
            log.warning("ending %s (pid %d) left running by a previous callbot", child.name, child.pid)
            _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while any(_running(c.pid) for c in stale) and time.monotonic() < deadline:
            time.sleep(0.1)
        for child in stale:
            if _running(child.pid):
                _signal_group(child.pid, signal.SIGKILL)
        self.path.unlink(missing_ok=True)
        return stale


def _signal_group(pid: int, signal_number: int) -> None:
    # Each child leads its own process group (start_new_session): the group holds what it started.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal_number)
