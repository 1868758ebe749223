"""The web app's one error middleware: every error is an RFC 9457 problem (application/problem+json; a page in
French under /console), and nothing unexpected escapes as a bare 500.

Input errors are raised by the routes as 4xx HTTP errors (see `signalements.http_input`) or answered as JSON
{"error": "..."}, and raised by aiohttp itself (unknown route 404, wrong method 405, body over the size limit
413): all leave as {"type": "about:blank", "title", "status", "detail", "error"} (`error`: the same text as
`detail`, for the clients written before), keeping their headers (Allow, Retry-After, WWW-Authenticate), and
each refusal is logged at INFO. Any other exception is a bug: it is logged with a request id, and the client gets
a 500 with that id, nothing of the exception. Open311 (/open311/) answers errors in its own standard's format.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from signalements.schemas import PROBLEM_CONTENT_TYPE, problem_json

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID_HEADER = "X-Request-Id"
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # a redirect, not an error
        if _for_people(request):
            return _as_html(exc)
        if _own_format(request) and exc.text and exc.content_type != "text/plain":
            return _keep(exc)
        return _as_problem(request, exc.status, _message(exc), _headers(exc))
    except Exception:
        request_id = secrets.token_hex(8)
        log.exception("unexpected error, request %s: %s %s", request_id, request.method, request.path[:200])
        if _for_people(request):
            message = f"Erreur interne (référence {request_id}) : rien n'a été modifié ; réessayez ou signalez-la."
            return _html(500, message, {REQUEST_ID_HEADER: request_id})
        return web.Response(
            status=500,
            text=problem_json(500, "internal error", request_id=request_id),
            content_type=PROBLEM_CONTENT_TYPE,
            headers={REQUEST_ID_HEADER: request_id},
        )
    if response.status >= 400 and not _for_people(request) and not _own_format(request):
        return _answered_error(request, response)
    return response


def _own_format(request: web.Request) -> bool:
    """Open311 GeoReport v2 has its own error format (a list of {code, description}, JSON or XML)."""
    return request.path.startswith("/open311/")


def _for_people(request: web.Request) -> bool:
    """The console's pages answer errors as pages, in French; everything else as JSON."""
    return request.path == "/console" or request.path.startswith("/console/")


def _as_html(exc: web.HTTPException) -> web.Response:
    message = (exc.text or exc.reason).removeprefix(f"{exc.status}: ")
    return _html(exc.status, message, _headers(exc))


def _html(status: int, message: str, headers: dict[str, str]) -> web.Response:
    from callbot.console.render import error_page

    return web.Response(
        status=status, text=error_page(status, message), content_type="text/html", charset="utf-8", headers=headers
    )


def _headers(exc: web.HTTPException) -> dict[str, str]:
    return {name: value for name, value in exc.headers.items() if name.lower() not in _BODY_HEADERS}


def _message(exc: web.HTTPException) -> str:
    """The text a route gave the error ({"error": ...} or plain), or aiohttp's ("404: Not Found", ...)."""
    text = exc.text or ""
    if exc.content_type in ("application/json", PROBLEM_CONTENT_TYPE) and text:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error", body.get("detail")), str):
            return str(body.get("error", body.get("detail")))
    return (text or exc.reason).removeprefix(f"{exc.status}: ")


def _as_problem(request: web.Request, status: int, message: str, headers: dict[str, str]) -> web.Response:
    log.info("refused %s %s: %s %s", request.method, request.path[:200], status, message[:200])
    return web.Response(
        status=status, text=problem_json(status, message), content_type=PROBLEM_CONTENT_TYPE, headers=headers
    )


def _keep(exc: web.HTTPException) -> web.Response:
    assert exc.content_type is not None
    return web.Response(status=exc.status, text=exc.text, content_type=exc.content_type, headers=_headers(exc))


def _answered_error(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """An error a route answered (not raised) as {"error": ...}: made a problem too; others left as they are."""
    if not isinstance(response, web.Response) or response.content_type != "application/json":
        return response
    try:
        body = json.loads(response.body if isinstance(response.body, bytes) else b"")
    except ValueError:
        return response
    if not (isinstance(body, dict) and isinstance(body.get("error"), str)):
        return response
    headers = {name: value for name, value in response.headers.items() if name.lower() not in _BODY_HEADERS}
    return _as_problem(request, response.status, body["error"], headers)
