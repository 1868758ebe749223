"""JSON API over the Store, for supervisors and integrators (the web app adds bearer-token auth around it).

    add_routes(app, store)

GET /api/calls?limit=50&offset=0&since=ISO8601
    {"items": [CallSummary], "total": int, "limit": int, "offset": int}, newest first.
    CallSummary = {"call_id", "channel": "sip"|"webrtc"|"text", "caller_pseudonym": hex|null, "started_at",
                   "ended_at"|null, "outcome"|null, "turn_count", "report_count", "handoff_count",
                   "cpu_seconds"|null, "reply_latencies_ms": [int]|null, "mean_asr_confidence"|null}
GET /api/calls/{call_id}
    CallSummary + {"turns": [{"seq", "speaker": "caller"|"bot"|"system", "text", "started_at", "ended_at",
                              "asr_confidence", "intent", "intent_confidence",
                              "words": [[word, confidence]]|null}],
                   "handoffs": [{"id", "at", "reason", "target", "succeeded", "fields": {...}}],
                   "reports": [Report]}
GET /api/reports?status=awaiting_validation|validated|rejected&since=ISO8601&limit=&offset=
    {"items": [Report], "total", "limit", "offset"}, newest first.
    Report = {"id", "call_id", "status", "category", "category_other_words",
              "place": {"text", "street_number", "street_name", "street_verified": bool|null, "commune",
                        "landmark"},
              "description", "danger": bool, "callback": {"consent": bool, "number": str|null},
              "created_at", "review": {"by", "at", "note"}, "version": int}
GET /api/reports/{id}                      -> Report
POST /api/reports/{id}/validate  {"reviewer": str, "note": str|null}   -> Report (status "validated")
    (with a console session instead of the token, the reviewer is the logged-in person and the session's CSRF
    token goes in X-CSRF-Token)
POST /api/reports/{id}/reject    {"reviewer": str, "note": str}        -> Report (status "rejected")

Timestamps are ISO 8601 UTC ("2026-11-23T18:09:40.024612+00:00"); a `since` without a zone is taken as UTC.
Errors: {"error": "message"} with 400 (bad parameter or body), 404 (unknown call or report),
409 (report not awaiting validation), 413 (body over 16 KiB), 415 (body not UTF-8), 503 (database unavailable).
Parameters are checked by `signalements.http_input`: integers within the database's range (an offset below
2^63, an id below 2^31), `since` normalised to UTC, bodies bounded in size and nesting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from aiohttp import web

from signalements.errors import InvalidRecord, InvalidTransition, NotFound, StoreUnavailable
from signalements.http_input import InputError, path_id, path_text, query_datetime, query_int, read_json
from signalements.store import MAX_PAGE_SIZE, Store

STORE_KEY = web.AppKey("signalements_store", Store)
# Set by the web app's access control when a console user (not the integrators' token) makes the request: the
# decision is then theirs, whatever name the body gives.
AUTHENTICATED_PERSON = web.RequestKey("authenticated_person", str)
routes = web.RouteTableDef()
T = TypeVar("T")
CALL_ID_MAX_CHARS = 128  # calls.public_id is a String(128)


def add_routes(app: web.Application, store: Store) -> None:
    app[STORE_KEY] = store
    app.add_routes(routes)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _call_store(method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Store calls are blocking: run them off the event loop."""
    return await asyncio.to_thread(partial(method, *args, **kwargs))


def _handled(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except InvalidRecord as exc:
            return _error(400, str(exc))
        except NotFound as exc:
            return _error(404, str(exc))
        except InvalidTransition as exc:
            return _error(409, str(exc))
        except StoreUnavailable as exc:
            return _error(503, str(exc))
        # any other StoreError is unexpected: the web app's error middleware logs it as a 500 with a request id

    wrapper.__name__ = handler.__name__
    return wrapper


@routes.get("/api/calls")
@_handled
async def list_calls(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    page = await _call_store(
        store.list_calls,
        limit=query_int(request, "limit", default=50, minimum=1, maximum=MAX_PAGE_SIZE),
        offset=query_int(request, "offset", default=0, minimum=0),
        since=query_datetime(request, "since"),
    )
    return web.json_response(page.to_json())


@routes.get("/api/calls/{call_id}")
@_handled
async def get_call(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    detail = await _call_store(store.get_call, path_text(request, "call_id", "call", max_chars=CALL_ID_MAX_CHARS))
    return web.json_response(detail.to_json())


@routes.get("/api/reports")
@_handled
async def list_reports(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    page = await _call_store(
        store.list_reports,
        status=request.query.get("status") or None,
        since=query_datetime(request, "since"),
        limit=query_int(request, "limit", default=50, minimum=1, maximum=MAX_PAGE_SIZE),
        offset=query_int(request, "offset", default=0, minimum=0),
    )
    return web.json_response(page.to_json())


@routes.get(r"/api/reports/{report_id}")
@_handled
async def get_report(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    report = await _call_store(store.get_report, path_id(request, "report_id", "report id"))
    return web.json_response(report.to_json())


async def _review_body(request: web.Request) -> tuple[str, str | None]:
    body = await read_json(request, '{"reviewer": "...", "note": "..."}')
    if not isinstance(body, dict):
        raise InputError(400, "body must be a JSON object")
    reviewer, note = request.get(AUTHENTICATED_PERSON) or body.get("reviewer"), body.get("note")
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise InputError(400, "reviewer (the person deciding) is required")
    if note is not None and not isinstance(note, str):
        raise InputError(400, "note must be a string")
    return reviewer, note


@routes.post(r"/api/reports/{report_id}/{decision:validate|reject}")
@_handled
async def review_report(request: web.Request) -> web.Response:
    """A person's decision on a report; the store enforces which transitions are legal."""
    store = request.app[STORE_KEY]
    report_id = path_id(request, "report_id", "report id")
    reviewer, note = await _review_body(request)
    decide = store.validate_report if request.match_info["decision"] == "validate" else store.reject_report
    report = await _call_store(decide, report_id, reviewer, note)
    return web.json_response(report.to_json())
