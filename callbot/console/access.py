"""Who may reach what: the console's login session, the integrators' bearer token, CSRF, roles.

Open to anyone: /healthz, /chat (and its API), the call page /call (its files and its socket), the login page,
the console's stylesheet and script, and /metrics when `http.metrics_public`. Everything else needs a console
session (cookie) or, under /api/, the integrators' token. A request that changes something with a session cookie
must also carry the session's CSRF token (form field `csrf_token` or header X-CSRF-Token) and must not come from
another site (Origin, Sec-Fetch-Site); the token alone suffices for the integrators, whose requests carry no cookie.

Integrators' keys (signalements.api_keys): under /api/ an integrator's key opens as the token does (bearer header);
/open311/ takes keys only (GeoReport's `api_key` parameter or the bearer header) and refuses in GeoReport's error
format (403). A refused credential is logged as whose key it was or "unknown key", never itself.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiohttp.typedefs import Middleware
from multidict import MultiDictProxy

from callbot.config import ConsoleSettings
from signalements import StoreError
from signalements.accounts import Accounts, SessionUser
from signalements.api import AUTHENTICATED_PERSON
from signalements.api_keys import API_KEYS, INTEGRATOR
from signalements.open311 import OPEN311_PREFIX, error_response

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# request[USER_KEY]: the SessionUser when a console session is open (absent: public page or integrator token)
USER_KEY = web.RequestKey("console_user", SessionUser)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
PUBLIC_PATHS = frozenset({"/healthz", "/chat", "/console/login", "/call", "/call/ws", "/api/docs"})
PUBLIC_PREFIXES = ("/chat/", "/console/static/", "/call/static/", "/api/docs/")

# What each role may do. A supervisor decides on reports; an agent works the call-back and handoff queue;
# an admin manages accounts. Callers' numbers are shown only to those who call back or check a report.
# "webhooks": the integrators' deliveries (no personal data in them), and sending a dead one again.
PERMISSIONS: dict[str, frozenset[str]] = {
    "superviseur": frozenset({"read", "review", "callbacks", "numbers", "export", "webhooks"}),
    "agent": frozenset({"read", "callbacks", "numbers"}),
    "admin": frozenset({"read", "accounts", "export", "webhooks"}),
}


def may(user: SessionUser | None, permission: str) -> bool:
    return user is not None and permission in PERMISSIONS.get(user.role, frozenset())


def current_user(request: web.Request) -> SessionUser | None:
    return request.get(USER_KEY)


def require(request: web.Request, permission: str) -> SessionUser:
    """The logged-in user if their role allows `permission`; else 403 (the page says what is missing)."""
    user = current_user(request)
    if user is None or not may(user, permission):
        raise web.HTTPForbidden(text=f"Votre rôle ne permet pas cette action ({permission}).")
    return user


@dataclass(frozen=True)
class CookieNames:
    session: str
    login: str  # the login form's CSRF token (double submit: there is no session yet)

    @classmethod
    def for_settings(cls, settings: ConsoleSettings) -> CookieNames:
        # __Host-: the browser refuses it unless Secure, Path=/ and no Domain (no subdomain can plant one)
        prefix = "__Host-" if settings.secure_cookies else ""
        return cls(f"{prefix}callbot_session", f"{prefix}callbot_login")


def set_cookie(response: web.StreamResponse, name: str, value: str, settings: ConsoleSettings, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=settings.secure_cookies, httponly=True, samesite="Strict"
    )


def drop_cookie(response: web.StreamResponse, name: str, settings: ConsoleSettings) -> None:
    """Deletes a cookie set by `set_cookie`: browsers ignore a __Host- cookie's deletion that is not Secure."""
    response.del_cookie(name, path="/", secure=settings.secure_cookies, httponly=True, samesite="Strict")


def sessions_config(settings: ConsoleSettings) -> dict[str, timedelta]:
    return {"lasting": timedelta(hours=settings.session_hours), "idle": timedelta(minutes=settings.idle_minutes)}


def access_control(
    api_token: str | None, accounts: Accounts | None, settings: ConsoleSettings | None, metrics_public: bool
) -> Middleware:
    async def session_user(request: web.Request) -> SessionUser | None:
        if accounts is None or settings is None:
            return None
        token = request.cookies.get(CookieNames.for_settings(settings).session)
        limits = sessions_config(settings)
        if not token or len(token) > 256:
            return None
        try:
            return await asyncio.to_thread(accounts.session, token, datetime.now(UTC), **limits)
        except StoreError as error:
            log.warning("console session check failed: %s", error)
            unavailable = "La base de données est indisponible ; réessayez dans un instant."
            raise web.HTTPServiceUnavailable(text=unavailable) from None

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or (path == "/metrics" and metrics_public):
            return await handler(request)
        if path.startswith(OPEN311_PREFIX):
            return await _open311_access(request, handler)
        if path.startswith("/api/") or path == "/metrics":
            if _bearer_ok(request, api_token) or await _integrator_key_ok(request):
                return await handler(request)
            user = await session_user(request)
            if user is None:
                if api_token is None and accounts is None and API_KEYS not in request.app:
                    raise web.HTTPServiceUnavailable(text="the API is disabled: set CALLBOT_API_TOKEN")
                raise web.HTTPUnauthorized(
                    text="missing or wrong bearer token", headers={"WWW-Authenticate": 'Bearer realm="callbot"'}
                )
            request[USER_KEY] = user
            if path.startswith("/api/") and not may(user, "numbers"):
                # the JSON API shows callback numbers whole: only roles that may see them read it with a session
                raise web.HTTPForbidden(text="your role cannot read callers' numbers, which the API shows")
            await _check_same_origin_and_csrf(request, user)
            if request.method not in SAFE_METHODS:
                if not may(user, "review"):
                    raise web.HTTPForbidden(text="your role cannot decide on reports")
                request[AUTHENTICATED_PERSON] = user.name
            return await handler(request)
        if path == "/console" or path.startswith("/console/"):
            user = await session_user(request)
            if user is None:
                if request.method in SAFE_METHODS:
                    raise web.HTTPSeeOther("/console/login")
                raise web.HTTPUnauthorized(text="Votre session a expiré : reconnectez-vous.")
            request[USER_KEY] = user
            await _check_same_origin_and_csrf(request, user)
            return await handler(request)
        return await handler(request)  # unknown paths: the router's 404

    return middleware


def _bearer_credential(request: web.Request) -> str:
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else ""


async def _integrator_key_ok(request: web.Request) -> bool:
    """An integrator's key as the bearer credential opens /api/ as the token does. Any other credential is logged
    (whose key, or "unknown key") and the request goes on to the session check."""
    keys, credential = request.app.get(API_KEYS), _bearer_credential(request)
    if keys is None or not credential:
        return False
    try:
        found = await asyncio.to_thread(keys.identify, credential)
    except StoreError as error:
        log.warning("integrator key check failed: %s", error)
        raise web.HTTPServiceUnavailable(text="the database is unavailable: try again in a moment") from None
    if found.integrator is None or not found.valid:
        log.warning("refused %s %s from %s: %s", request.method, request.path[:200], request.remote, found.describe())
        return False
    request[INTEGRATOR] = found.integrator
    return True


async def _open311_access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """GeoReport's reads need an integrator's key; refusals are answered in GeoReport's error format, returned
    rather than raised (the JSON error middleware would rewrite an XML body)."""
    keys = request.app.get(API_KEYS)
    offered = request.query.get("api_key", "").strip() or _bearer_credential(request)
    where = f"{request.method} {request.path[:200]} from {request.remote}"
    if keys is None:
        log.warning("open311: refused %s: no integrator keys on this server", where)
        return error_response(request.path, 503, "Open311 is not available on this server.")
    if not offered:
        log.warning("open311: refused %s: no key", where)
        return error_response(
            request.path, 403, "api_key missing: give your integrator key as api_key=... or Authorization: Bearer ..."
        )
    try:
        found = await asyncio.to_thread(keys.identify, offered)
    except StoreError as error:
        log.warning("open311: key check failed on %s: %s", where, error)
        return error_response(request.path, 503, "The database is unavailable; try again in a moment.")
    if found.integrator is None or not found.valid:
        log.warning("open311: refused %s: %s", where, found.describe())
        revoked = found.integrator is not None
        return error_response(
            request.path, 403, "api_key revoked: ask the Métropole for a new one" if revoked else "Invalid api_key"
        )
    request[INTEGRATOR] = found.integrator
    return await handler(request)


def _bearer_ok(request: web.Request, token: str | None) -> bool:
    if token is None:
        return False
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(_as_bytes(credential), _as_bytes(token))


async def _check_same_origin_and_csrf(request: web.Request, user: SessionUser) -> None:
    if request.method in SAFE_METHODS:
        return
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise web.HTTPForbidden(text="Requête refusée : elle vient d'un autre site.")
    origin = request.headers.get("Origin")
    # Either scheme: behind a TLS proxy the browser's origin is https:// while this server is reached over http.
    if origin is not None and origin not in (f"http://{request.host}", f"https://{request.host}"):
        raise web.HTTPForbidden(text="Requête refusée : elle vient d'un autre site.")
    offered = request.headers.get("X-CSRF-Token")
    if offered is None and request.content_type == FORM_CONTENT_TYPE:
        offered_field = (await read_form(request)).get("csrf_token")
        offered = offered_field if isinstance(offered_field, str) else None
    if not offered or not hmac.compare_digest(_as_bytes(offered), _as_bytes(user.csrf_token)):
        raise web.HTTPForbidden(text="Jeton de sécurité (CSRF) absent ou invalide : rechargez la page et recommencez.")


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The posted form, as the console's pages send it (application/x-www-form-urlencoded, UTF-8); a body that
    cannot be read as one is a 4xx. No page sends multipart/form-data (the console takes no file): it is refused
    rather than parsed."""
    if request.content_type == "multipart/form-data":
        raise web.HTTPUnsupportedMediaType(text=f"Formulaire attendu en {FORM_CONTENT_TYPE}.")
    try:
        return await request.post()
    except web.RequestPayloadError:  # the body cannot be decoded as its Content-Encoding says
        raise web.HTTPBadRequest(text="Le corps de la requête ne peut pas être décodé (Content-Encoding).") from None
    except (UnicodeDecodeError, LookupError):  # bytes that are not UTF-8, or a charset that does not exist
        raise web.HTTPBadRequest(text="Le formulaire doit être encodé en UTF-8.") from None


def _as_bytes(text: str) -> bytes:
    """`text` as bytes whatever it holds: header bytes that are not UTF-8 arrive as lone surrogates."""
    return text.encode("utf-8", "surrogatepass")
