"""On-disk overflow of StoreWriter: pending writes as JSON lines, replayed in order when the DB is back.

The file holds writes in submission order; a sidecar `.offset` file remembers how far replay got, so a
restart resumes where it stopped. An entry may still reach the database twice (a crash between its commit
and the offset's update, or a write in flight when it was spilled that committed later): the Store's writes
are idempotent, so the second time stores nothing. Writes are encoded with the caller's number
already pseudonymised (see StoreWriter), so no clear number reaches the disk.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from signalements.views import ReportDraft

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriteOp:
    """One Store write: the method name and its keyword arguments (Python values)."""

    method: str
    kwargs: dict[str, Any]

    def to_line(self) -> str:
        args = {name: _encode(value) for name, value in self.kwargs.items()}
        return json.dumps({"method": self.method, "args": args}, ensure_ascii=False, default=str) + "\n"

    @classmethod
    def from_line(cls, line: str) -> WriteOp:
        record = json.loads(line)
        if (
            not isinstance(record, dict)
            or not isinstance(record.get("method"), str)
            or not isinstance(record.get("args"), dict)
        ):
            raise ValueError("not a write record")
        return cls(record["method"], {name: _decode(value) for name, value in record["args"].items()})


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, ReportDraft):
        return {"$report_draft": dataclasses.asdict(value)}
    if isinstance(value, dict):  # wrapped so a user key can never look like one of our tags
        return {"$json": value}
    return value


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if "$datetime" in value:
        return datetime.fromisoformat(value["$datetime"])
    if "$report_draft" in value:
        return ReportDraft(**value["$report_draft"])
    if "$json" in value:
        return value["$json"]
    raise ValueError(f"unknown encoded value {value!r}")


class SpillFile:
    """Append at the end, read from the replay offset. Not thread-safe: StoreWriter holds its lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset_path = path.with_name(path.name + ".offset")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._offset = self._load_offset() if self.path.exists() else 0
        self._drop_torn_tail()

    def _load_offset(self) -> int:
        try:
            return max(0, int(self.offset_path.read_text().strip() or 0))
        except FileNotFoundError:
            return 0
        except ValueError:
            log.warning("unreadable %s: replaying %s from the start", self.offset_path, self.path)
            return 0

    def _drop_torn_tail(self) -> None:
        """A crash mid-append can leave half a line: cut it so later appends start on a fresh line."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            log.warning("dropping a torn last line (%d bytes) of %s", len(data) - keep, self.path)
            with self.path.open("r+b") as handle:
                handle.truncate(keep)

    def pending_count(self) -> int:
        if not self.path.exists():
            return 0
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            return sum(1 for _ in handle)

    def append(self, ops: list[WriteOp]) -> None:
        """Append and fsync: once this returns, the writes survive a crash of the process or the machine."""
        if not ops:
            return
        # "replace": text is made storable before it is queued; this only guards the file against a bug
        payload = "".join(op.to_line() for op in ops).encode("utf-8", "replace")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)

    def peek(self) -> tuple[WriteOp | None, int] | None:
        """The next entry and where it ends; None at the end. A corrupt entry comes back as (None, end)."""
        if not self.path.exists():
            return None
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            line = handle.readline()
        if not line:
            return None
        end = self._offset + len(line)
        try:
            return WriteOp.from_line(line.decode("utf-8")), end
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            log.error("skipping a corrupt entry at byte %d of %s: %s", self._offset, self.path, exc)
            return None, end

    def advance(self, end: int) -> None:
        self._offset = end
        temporary = self.offset_path.with_name(self.offset_path.name + ".tmp")
        temporary.write_text(str(end))
        os.replace(temporary, self.offset_path)

    def remaining_lines(self) -> list[str]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            return [line.decode("utf-8") for line in handle]

    def rewrite(self, ops: list[WriteOp], tail_lines: list[str]) -> None:
        """Replace the file with `ops` then `tail_lines`, replay starting from the top."""
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("".join(op.to_line() for op in ops))
            handle.write("".join(tail_lines))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        self.offset_path.unlink(missing_ok=True)
        self._offset = 0

    def clear(self) -> None:
        """Everything replayed: remove the file and its offset."""
        self.path.unlink(missing_ok=True)
        self.offset_path.unlink(missing_ok=True)
        self._offset = 0
