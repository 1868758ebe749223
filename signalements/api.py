"""JSON API over the Store, for supervisors and integrators (the web app adds bearer-token auth around it).

    add_routes(app, store)

GET /api/calls?limit=50&offset=0&since=ISO8601
    {"items": [CallSummary], "total": int, "limit": int, "offset": int}, newest first.
    CallSummary = {"call_id", "channel": "sip"|"webrtc"|"text", "caller_pseudonym": hex|null, "started_at",
                   "ended_at"|null, "outcome"|null, "turn_count", "report_count", "handoff_count"}
GET /api/calls/{call_id}
    CallSummary + {"turns": [{"seq", "speaker": "caller"|"bot"|"system", "text", "started_at", "ended_at",
                              "asr_confidence", "intent", "intent_confidence"}],
                   "handoffs": [{"id", "at", "reason", "target", "succeeded", "fields": {...}}],
                   "reports": [Report]}
GET /api/reports?status=awaiting_validation|validated|rejected&since=ISO8601&limit=&offset=
    {"items": [Report], "total", "limit", "offset"}, newest first.
    Report = {"id", "call_id", "status", "category", "category_other_words",
              "place": {"text", "street_number", "street_name", "street_verified": bool|null, "commune",
                        "landmark"},
              "description", "danger": bool, "callback": {"consent": bool, "number": str|null},
              "created_at", "review": {"by", "at", "note"}}
GET /api/reports/{id}                      -> Report
POST /api/reports/{id}/validate  {"reviewer": str, "note": str|null}   -> Report (status "validated")
POST /api/reports/{id}/reject    {"reviewer": str, "note": str}        -> Report (status "rejected")

Timestamps are ISO 8601 UTC ("2026-11-23T18:09:40.024612+00:00"); a `since` without a zone is taken as UTC.
Errors: {"error": "message"} with 400 (bad parameter or body), 404 (unknown call or report),
409 (report not awaiting validation), 503 (database unavailable).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from aiohttp import web

from signalements.errors import InvalidRecord, InvalidTransition, NotFound, StoreError, StoreUnavailable
from signalements.store import Store

STORE_KEY = web.AppKey("signalements_store", Store)
routes = web.RouteTableDef()
T = TypeVar("T")


def add_routes(app: web.Application, store: Store) -> None:
    app[STORE_KEY] = store
    app.add_routes(routes)


class _BadRequest(Exception):
    pass


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
        except (_BadRequest, InvalidRecord) as exc:
            return _error(400, str(exc))
        except NotFound as exc:
            return _error(404, str(exc))
        except InvalidTransition as exc:
            return _error(409, str(exc))
        except StoreUnavailable as exc:
            return _error(503, str(exc))
        except StoreError as exc:
            return _error(500, str(exc))

    wrapper.__name__ = handler.__name__
    return wrapper


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise _BadRequest(f"{name} must be an integer, got {raw!r}") from None


def _since(request: web.Request) -> datetime | None:
    raw = request.query.get("since")
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.replace(" ", "+"))  # a "+" in a query string arrives as a space
    except ValueError:
        raise _BadRequest(f"since must be an ISO 8601 date or time, got {raw!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _report_id(request: web.Request) -> int:
    raw = request.match_info["report_id"]
    try:
        return int(raw)
    except ValueError:
        raise _BadRequest(f"report id must be an integer, got {raw!r}") from None


@routes.get("/api/calls")
@_handled
async def list_calls(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    page = await _call_store(
        store.list_calls,
        limit=_int_param(request, "limit", 50),
        offset=_int_param(request, "offset", 0),
        since=_since(request),
    )
    return web.json_response(page.to_json())


@routes.get("/api/calls/{call_id}")
@_handled
async def get_call(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    detail = await _call_store(store.get_call, request.match_info["call_id"])
    return web.json_response(detail.to_json())


@routes.get("/api/reports")
@_handled
async def list_reports(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    page = await _call_store(
        store.list_reports,
        status=request.query.get("status") or None,
        since=_since(request),
        limit=_int_param(request, "limit", 50),
        offset=_int_param(request, "offset", 0),
    )
    return web.json_response(page.to_json())


@routes.get(r"/api/reports/{report_id}")
@_handled
async def get_report(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    report = await _call_store(store.get_report, _report_id(request))
    return web.json_response(report.to_json())


async def _review_body(request: web.Request) -> tuple[str, str | None]:
    try:
        body = await request.json()
    except ValueError:
        raise _BadRequest('body must be JSON: {"reviewer": "...", "note": "..."}') from None
    if not isinstance(body, dict):
        raise _BadRequest("body must be a JSON object")
    reviewer, note = body.get("reviewer"), body.get("note")
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise _BadRequest("reviewer (the person deciding) is required")
    if note is not None and not isinstance(note, str):
        raise _BadRequest("note must be a string")
    return reviewer, note


@routes.post(r"/api/reports/{report_id}/{decision:validate|reject}")
@_handled
async def review_report(request: web.Request) -> web.Response:
    """A person's decision on a report; the store enforces which transitions are legal."""
    store = request.app[STORE_KEY]
    report_id = _report_id(request)
    reviewer, note = await _review_body(request)
    decide = store.validate_report if request.match_info["decision"] == "validate" else store.reject_report
    report = await _call_store(decide, report_id, reviewer, note)
    return web.json_response(report.to_json())
