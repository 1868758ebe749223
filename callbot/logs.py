"""Log lines: plain text for a person at a terminal, or one JSON object per line for a log shipper; either way
every line logged while a call is handled carries that call's id.

The id travels in a context variable: set once where a call (or a chat message) is handled, it follows every
task started from there, so no function needs to pass it on.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

CALL_ID: ContextVar[str | None] = ContextVar("call_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(call)s: %(message)s"


class CallIdFilter(logging.Filter):
    """Adds `call_id` (or None) to every record, and `call` (" [id]" or "") for the text format."""

    def filter(self, record: logging.LogRecord) -> bool:
        call_id = CALL_ID.get()
        record.call_id = call_id
        record.call = f" [{call_id}]" if call_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """One event per line: time (UTC, ISO 8601), level, logger, message, call_id, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        call_id = getattr(record, "call_id", None)
        if call_id:
            event["call_id"] = call_id
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False)


def configure(level: str, style: Literal["text", "json"]) -> None:
    """The root logger's one handler, on standard error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CallIdFilter())
    handler.setFormatter(JsonFormatter() if style == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
