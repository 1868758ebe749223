"""Request inputs checked at the HTTP edge: one validator per kind of input, shared by every route.

Integers are kept to what the database can bind, datetimes are normalised to UTC (or refused when that
overflows), ids that cannot exist are unknown, and JSON bodies are bounded in size and nesting before they are
parsed (the parser recurses), with text no database can hold replaced. Each refusal is an `InputError`: an
aiohttp HTTP error whose body is JSON {"error": "..."}, so it is a clear 4xx with or without the web app's
error middleware.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from signalements.text import storable, storable_value

BIGINT_MAX = 2**63 - 1  # SQLite's INTEGER and PostgreSQL's bigint: a larger number overflows the driver
INT4_MAX = 2**31 - 1  # an `Integer` primary key is a PostgreSQL int4
MAX_JSON_BODY_BYTES = 16 * 1024  # every JSON body we take is a few short strings
MAX_JSON_DEPTH = 32  # ours are 1 or 2 deep; json.loads recurses once per level

_INTEGER = re.compile(r"-?[0-9]{1,30}")  # ASCII digits only: int() would also take "1_0", " 7" or "١٢"
# A JSON string, escapes included ("unrolled loop" form: no backtracking blow-up on long strings).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


class InputError(web.HTTPClientError):
    """A 4xx whose body is {"error": message}."""

    def __init__(self, status: int, message: str) -> None:
        self.status_code = status  # read by HTTPException.__init__
        super().__init__(text=json.dumps({"error": message}), content_type="application/json")


def bounded_int(raw: str | None, name: str, *, default: int, minimum: int, maximum: int) -> int:
    """`raw` (a query or path value) as an integer in [minimum, maximum]; `default` when absent or empty."""
    if raw is None or raw == "":
        return default
    if not _INTEGER.fullmatch(raw):
        raise InputError(400, f"{name} must be an integer, got {raw[:40]!r}")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise InputError(400, f"{name} must be an integer between {minimum} and {maximum}, got {raw[:40]!r}")
    return value


def query_int(request: web.Request, name: str, *, default: int, minimum: int, maximum: int = BIGINT_MAX) -> int:
    return bounded_int(request.query.get(name), name, default=default, minimum=minimum, maximum=maximum)


def path_id(request: web.Request, name: str, what: str, *, maximum: int = INT4_MAX) -> int:
    """A numeric id from the path; `what` names it in the message ("report id")."""
    return bounded_int(request.match_info[name], what, default=0, minimum=1, maximum=maximum)


def path_text(request: web.Request, name: str, what: str, *, max_chars: int) -> str:
    """A textual id from the path: one too long for its column, or with text no database holds, cannot exist."""
    raw = request.match_info[name]
    if len(raw) > max_chars or storable(raw) != raw:
        raise InputError(404, f"no {what} {raw[:40]!r}")
    return raw


def aware_datetime(raw: str | None, name: str) -> datetime | None:
    """An ISO 8601 date or time in UTC (a value without a zone is UTC); None when absent or empty."""
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.replace(" ", "+"))  # a "+" in a query string arrives as a space
    except ValueError:
        raise InputError(400, f"{name} must be an ISO 8601 date or time, got {raw[:40]!r}") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)  # 9999-12-31T23:00-23:59 is past the year 9999 in UTC
    except OverflowError:
        raise InputError(400, f"{name} is out of range once in UTC, got {raw[:40]!r}") from None


def query_datetime(request: web.Request, name: str) -> datetime | None:
    return aware_datetime(request.query.get(name), name)


def json_nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in `text`, counted without recursion (strings skipped)."""
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def parse_json(raw: bytes, expected: str) -> Any:
    """`raw` parsed as UTF-8 JSON, bounded, with every string in it made storable; `expected` shows its shape."""
    if len(raw) > MAX_JSON_BODY_BYTES:
        raise InputError(413, f"the body is limited to {MAX_JSON_BODY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(400, f"the body must be UTF-8 JSON: {expected}") from None
    if json_nesting_depth(text) > MAX_JSON_DEPTH:
        raise InputError(400, f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise InputError(400, f"the body must be JSON: {expected}") from None
    return storable_value(value)


async def read_json(request: web.Request, expected: str) -> Any:
    """The request's JSON body (see `parse_json`); a body too large is refused before it is read."""
    if request.charset is not None and request.charset.lower().replace("-", "") != "utf8":
        raise InputError(415, f"the body must be UTF-8 JSON, not {request.charset[:40]!r}")
    if request.content_length is not None and request.content_length > MAX_JSON_BODY_BYTES:
        raise InputError(413, f"the body is limited to {MAX_JSON_BODY_BYTES} bytes")
    try:
        raw = await request.read()
    except web.RequestPayloadError:  # the body cannot be decoded as its Content-Encoding says
        raise InputError(400, "the body cannot be read as its Content-Encoding says") from None
    return parse_json(raw, expected)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
