"""JSON API over the Store, for supervisors and integrators (the web app adds bearer-token auth around it).

    add_routes(app, store)

The shapes are the pydantic models of `signalements.schemas` (the handlers serialise through them, and the
OpenAPI document at /openapi.json is generated from them and from `OPERATIONS` below):

GET /api/calls?limit=50&cursor=...&since=ISO8601          -> CallPage, newest first
GET /api/calls/{call_id}                                  -> CallDetail (summary, turns, handoffs, reports)
GET /api/reports?status=...&since=ISO8601&limit=&cursor=  -> ReportPage, newest first
GET /api/reports/{id}                                     -> Report
POST /api/reports/{id}/validate  {"reviewer": str, "note": str|null}   -> Report (status "validated")
POST /api/reports/{id}/reject    {"reviewer": str, "note": str}        -> Report (status "rejected")
    (with a console session instead of the token, the reviewer is the logged-in person and the session's CSRF
    token goes in X-CSRF-Token)

Pages: {"items", "total", "limit", "offset", "next_cursor"}; pass `next_cursor` back as `cursor` for the next
page (keyset on (time, id): no row is skipped or repeated while new ones arrive); `offset` still works but is
deprecated, and cannot be combined with `cursor`. GET answers carry a strong ETag (a hash of the body) and answer
304 to a matching If-None-Match.

Timestamps are ISO 8601 UTC ("2026-11-23T18:09:40.024612+00:00"); a `since` without a zone is taken as UTC.
Errors are RFC 9457 problem details (application/problem+json: type, title, status, detail, and `error`, the
same text as detail) with 400 (bad parameter or body), 404 (unknown call or report), 409 (report not awaiting
validation), 413 (body over 16 KiB), 415 (body not UTF-8), 503 (database unavailable). Parameters are checked by
`signalements.http_input`: integers within the database's range (an offset below 2^63, an id below 2^31), `since`
normalised to UTC, bodies bounded in size and nesting.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from signalements.errors import InvalidRecord, InvalidTransition, NotFound, StoreUnavailable
from signalements.http_input import INT4_MAX, InputError, path_id, path_text, read_json
from signalements.schemas import (
    PROBLEM_CONTENT_TYPE,
    Body,
    CallDetail,
    CallPage,
    DatetimeQuery,
    IntQuery,
    Operation,
    Param,
    Report,
    ReportPage,
    ReviewBody,
    call_page,
    problem_json,
    report_page,
)
from signalements.store import MAX_PAGE_SIZE, Store

log = logging.getLogger(__name__)

STORE_KEY = web.AppKey("signalements_store", Store)
# Set by the web app's access control when a console user (not the integrators' token) makes the request: the
# decision is then theirs, whatever name the body gives.
AUTHENTICATED_PERSON = web.RequestKey("authenticated_person", str)
routes = web.RouteTableDef()
T = TypeVar("T")
CALL_ID_MAX_CHARS = 128  # calls.public_id is a String(128)
MAX_CURSOR_CHARS = 200
SECURITY = ("bearerToken", "consoleSession")
# What the OpenAPI document says of these routes (callbot.web.openapi gathers it with the other routes').
OPERATIONS: list[Operation] = []

LIMIT = IntQuery("limit", "query", "rows per page", default=50, minimum=1, maximum=MAX_PAGE_SIZE)
OFFSET = IntQuery("offset", "query", "rows to skip (deprecated: use cursor)", deprecated=True, default=0, minimum=0)
SINCE = DatetimeQuery("since", "query", "only rows at or after this time (ISO 8601; no zone: UTC)")
CURSOR = Param("cursor", "query", "the next_cursor of the previous page", {"type": "string", "maxLength": 200})
STATUS = Param(
    "status",
    "query",
    "only reports of this status",
    {"type": "string", "enum": ["awaiting_validation", "validated", "rejected"]},
)
IF_NONE_MATCH = Param("If-None-Match", "header", "the ETag of a copy you hold: 304 if it is still current")
CALL_ID = Param("call_id", "path", "the call's id", {"type": "string", "maxLength": 128}, example="call-a")
REPORT_ID = Param(
    "report_id", "path", "the report's id", {"type": "integer", "minimum": 1, "maximum": INT4_MAX}, example="1"
)


def document(*operations: Operation) -> Callable[[T], T]:
    """Adds the handler's operations to the OpenAPI document."""

    def register(handler: T) -> T:
        OPERATIONS.extend(operations)
        return handler

    return register


def add_routes(app: web.Application, store: Store) -> None:
    app[STORE_KEY] = store
    app.add_routes(routes)


def _problem(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=problem_json(status, message), content_type=PROBLEM_CONTENT_TYPE)


async def _call_store(method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Store calls are blocking: run them off the event loop."""
    return await asyncio.to_thread(partial(method, *args, **kwargs))


def _handled(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except InputError as exc:
            log.info("refused %s %s: %s", request.method, request.path[:200], _detail(exc))
            return _problem(exc.status, _detail(exc))
        except InvalidRecord as exc:
            log.info("refused %s %s: %s", request.method, request.path[:200], exc)
            return _problem(400, str(exc))
        except NotFound as exc:
            return _problem(404, str(exc))
        except InvalidTransition as exc:
            log.info("refused %s %s: %s", request.method, request.path[:200], exc)
            return _problem(409, str(exc))
        except StoreUnavailable as exc:
            return _problem(503, str(exc))
        # any other StoreError is unexpected: the web app's error middleware logs it as a 500 with a request id

    wrapper.__name__ = handler.__name__
    return wrapper


def _detail(exc: InputError) -> str:
    try:
        return str(json.loads(exc.text or "")["error"])
    except (ValueError, KeyError, TypeError):
        return exc.reason


_ETAG = re.compile(r'(?:W/)?"([^"]*)"')


def _answer(request: web.Request, model: BaseModel) -> web.Response:
    """The model as JSON with a strong ETag (hash of the body); 304 when If-None-Match names it (or is *)."""
    body = model.model_dump_json().encode()
    tag = hashlib.sha256(body).hexdigest()[:32]
    headers = {"ETag": f'"{tag}"'}
    if request.method in ("GET", "HEAD"):
        offered = request.headers.get("If-None-Match", "")[:4096]
        if offered.strip() == "*" or tag in _ETAG.findall(offered):  # weak comparison, as RFC 9110 §13.1.2 says
            return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)


def _encode_cursor(key: tuple[datetime, int] | None) -> str | None:
    if key is None:
        return None
    at, row_id = key
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode().rstrip("=")


def _read_cursor(request: web.Request) -> tuple[datetime, int] | None:
    raw = request.query.get(CURSOR.name)
    if not raw:
        return None
    refused = InputError(400, "cursor is not one this API gave (pass next_cursor back as it is)")
    if len(raw) > MAX_CURSOR_CHARS or not raw.isascii():
        raise refused
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
        at_text, _, id_text = text.partition("|")
        if not (id_text.isdigit() and len(id_text) <= 10 and int(id_text) <= INT4_MAX):
            raise ValueError(id_text)
        at = datetime.fromisoformat(at_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise refused from None
    if at.tzinfo is None:
        raise refused
    if request.query.get(OFFSET.name) not in (None, "", "0"):
        raise InputError(400, "use either cursor or offset, not both")
    return at, int(id_text)


_PAGE_ERRORS = (400, 401, 403, 503)
_ONE_ERRORS = (400, 401, 403, 404, 503)


@routes.get("/api/calls")
@document(
    Operation(
        "get",
        "/api/calls",
        "List calls, newest first",
        "Calls and reports",
        {200: Body("a page of calls", CallPage)},
        (LIMIT, CURSOR, SINCE, OFFSET),
        errors=_PAGE_ERRORS,
        security=SECURITY,
        etag=True,
    )
)
@_handled
async def list_calls(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    page = await _call_store(
        store.list_calls,
        limit=LIMIT.read(request),
        offset=OFFSET.read(request),
        since=SINCE.read(request),
        after=_read_cursor(request),
    )
    return _answer(request, call_page(page, _encode_cursor(page.next_after)))


@routes.get("/api/calls/{call_id}")
@document(
    Operation(
        "get",
        "/api/calls/{call_id}",
        "A call with its turns, handoffs and reports",
        "Calls and reports",
        {200: Body("the call", CallDetail)},
        (CALL_ID,),
        errors=_ONE_ERRORS,
        security=SECURITY,
        etag=True,
    )
)
@_handled
async def get_call(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    detail = await _call_store(store.get_call, path_text(request, "call_id", "call", max_chars=CALL_ID_MAX_CHARS))
    return _answer(request, CallDetail.from_detail(detail))


@routes.get("/api/reports")
@document(
    Operation(
        "get",
        "/api/reports",
        "List reports, newest first",
        "Calls and reports",
        {200: Body("a page of reports", ReportPage)},
        (STATUS, LIMIT, CURSOR, SINCE, OFFSET),
        errors=_PAGE_ERRORS,
        security=SECURITY,
        etag=True,
    )
)
@_handled
async def list_reports(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    page = await _call_store(
        store.list_reports,
        status=request.query.get(STATUS.name) or None,
        since=SINCE.read(request),
        limit=LIMIT.read(request),
        offset=OFFSET.read(request),
        after=_read_cursor(request),
    )
    return _answer(request, report_page(page, _encode_cursor(page.next_after)))


@routes.get(r"/api/reports/{report_id}")
@document(
    Operation(
        "get",
        "/api/reports/{report_id}",
        "A report",
        "Calls and reports",
        {200: Body("the report", Report)},
        (REPORT_ID,),
        errors=_ONE_ERRORS,
        security=SECURITY,
        etag=True,
    )
)
@_handled
async def get_report(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    report = await _call_store(store.get_report, path_id(request, "report_id", "report id"))
    return _answer(request, Report.from_view(report))


_REVIEW_SHAPE = '{"reviewer": "...", "note": "..."}'


async def _review_body(request: web.Request) -> tuple[str, str | None]:
    """The body, validated by `ReviewBody` (the model the OpenAPI document shows)."""
    body = await read_json(request, _REVIEW_SHAPE)
    if not isinstance(body, dict):
        raise InputError(400, f"body must be a JSON object: {_REVIEW_SHAPE}")
    try:
        review = ReviewBody.model_validate(body)
    except ValidationError as error:
        wrong = {str(problem["loc"][0]) for problem in error.errors() if problem["loc"]}
        if "note" in wrong:
            raise InputError(400, "note must be a string") from None
        raise InputError(400, "reviewer (the person deciding) must be a string") from None
    reviewer = request.get(AUTHENTICATED_PERSON) or review.reviewer
    if reviewer is None or not reviewer.strip():
        raise InputError(400, "reviewer (the person deciding) is required")
    return reviewer, review.note


def _review_operation(decision: str, summary: str) -> Operation:
    return Operation(
        "post",
        f"/api/reports/{{report_id}}/{decision}",
        summary,
        "Calls and reports",
        {200: Body("the report as decided", Report)},
        (REPORT_ID,),
        request=Body("who decides, and why (a note is required to reject)", ReviewBody),
        errors=(400, 401, 403, 404, 409, 413, 415, 503),
        security=SECURITY,
        description="With a console session, send the session's CSRF token in X-CSRF-Token; the reviewer is then "
        "the logged-in person.",
        operation_id=f"{decision}_report",
    )


@routes.post(r"/api/reports/{report_id}/{decision:validate|reject}")
@document(
    _review_operation("validate", "Validate a report awaiting validation"),
    _review_operation("reject", "Reject a report awaiting validation (note required)"),
)
@_handled
async def review_report(request: web.Request) -> web.Response:
    """A person's decision on a report; the store enforces which transitions are legal."""
    store = request.app[STORE_KEY]
    report_id = path_id(request, "report_id", "report id")
    reviewer, note = await _review_body(request)
    decide = store.validate_report if request.match_info["decision"] == "validate" else store.reject_report
    report = await _call_store(decide, report_id, reviewer, note)
    return _answer(request, Report.from_view(report))
