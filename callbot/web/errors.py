"""The web app's one error middleware: every error is JSON (a page in French under /console), and nothing
unexpected escapes as a bare 500.

Input errors are raised by the routes as 4xx HTTP errors (see `signalements.http_input`) and by aiohttp itself
(unknown route 404, wrong method 405, body over the size limit 413): all leave as {"error": "..."}, keeping
their headers (Allow, Retry-After, WWW-Authenticate). Any other exception is a bug: it is logged with a request
id, and the client gets a 500 with that id, nothing of the exception.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID_HEADER = "X-Request-Id"
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # a redirect, not an error
        return _as_html(exc) if _for_people(request) else _as_json(exc)
    except Exception:
        request_id = secrets.token_hex(8)
        log.exception("unexpected error, request %s: %s %s", request_id, request.method, request.path[:200])
        if _for_people(request):
            message = f"Erreur interne (référence {request_id}) : rien n'a été modifié ; réessayez ou signalez-la."
            return _html(500, message, {REQUEST_ID_HEADER: request_id})
        return web.json_response(
            {"error": "internal error", "request_id": request_id},
            status=500,
            headers={REQUEST_ID_HEADER: request_id},
        )


def _for_people(request: web.Request) -> bool:
    """The console's pages answer errors as pages, in French; everything else as JSON."""
    return request.path == "/console" or request.path.startswith("/console/")


def _as_html(exc: web.HTTPException) -> web.Response:
    message = (exc.text or exc.reason).removeprefix(f"{exc.status}: ")
    headers = {name: value for name, value in exc.headers.items() if name.lower() not in _BODY_HEADERS}
    return _html(exc.status, message, headers)


def _html(status: int, message: str, headers: dict[str, str]) -> web.Response:
    from callbot.console.render import error_page

    return web.Response(
        status=status, text=error_page(status, message), content_type="text/html", charset="utf-8", headers=headers
    )


def _as_json(exc: web.HTTPException) -> web.Response:
    if exc.content_type == "application/json" and exc.text:
        body = exc.text
    else:  # aiohttp's own text: "404: Not Found", "Maximum request body size 65536 exceeded, ..."
        message = exc.text or exc.reason
        prefix = f"{exc.status}: "
        body = json.dumps({"error": message.removeprefix(prefix)})
    headers = {name: value for name, value in exc.headers.items() if name.lower() not in _BODY_HEADERS}
    return web.Response(status=exc.status, text=body, content_type="application/json", headers=headers)
