"""Logging in and out, and the accounts page (admins).

The login form is protected against CSRF by a double-submitted token (cookie + field: there is no session yet).
Each wrong password costs the account one of `console.max_failed_logins` tries and the client a second's wait;
addresses that keep failing are refused for a while whatever the account (guessing across accounts).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections import deque
from datetime import UTC, datetime, timedelta

from aiohttp import web

from callbot.console.access import CookieNames, current_user, drop_cookie, require, sessions_config, set_cookie
from callbot.console.forms import console_of, form_of, in_thread, store_errors
from callbot.console.render import render
from signalements import InvalidRecord, NotFound, StoreUnavailable
from signalements.accounts import MIN_PASSWORD_CHARS
from signalements.errors import LoginRefused
from signalements.models import ROLES

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

FAILURE_PAUSE_S = 1.0
ADDRESS_FAILURES = 20  # wrong logins from one address within ADDRESS_WINDOW_S before it must wait
ADDRESS_WINDOW_S = 300.0
_failures_by_address: dict[str, deque[float]] = {}


def _address_blocked(address: str, now: float) -> bool:
    recent = _failures_by_address.get(address)
    if recent is None:
        return False
    while recent and recent[0] < now - ADDRESS_WINDOW_S:
        recent.popleft()
    if not recent:
        del _failures_by_address[address]
        return False
    return len(recent) >= ADDRESS_FAILURES


def _count_failure(address: str, now: float) -> None:
    if len(_failures_by_address) > 10_000:  # a flood from many addresses must not grow this without bound
        _failures_by_address.clear()
    _failures_by_address.setdefault(address, deque()).append(now)


def _login_page(request: web.Request, message: str | None = None, status: int = 200) -> web.Response:
    settings = console_of(request).settings.console
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", status=status, login_token=token, message=message)
    set_cookie(response, CookieNames.for_settings(settings).login, token, settings, max_age=3600)
    return response


@routes.get("/console/login")
async def login_form(request: web.Request) -> web.StreamResponse:
    return _login_page(request)


@routes.post("/console/login")
async def log_in(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    settings = console.settings.console
    cookies = CookieNames.for_settings(settings)
    form = await form_of(request)
    expected = request.cookies.get(cookies.login, "")
    offered = form.get("login_token", "")
    if not expected or not hmac.compare_digest(expected.encode(), offered.encode("utf-8", "surrogatepass")):
        return _login_page(request, "Le formulaire a expiré : saisissez à nouveau vos identifiants.", status=403)
    address = request.remote or "?"
    if _address_blocked(address, time.monotonic()):
        return _login_page(request, "Trop d'essais depuis ce poste : patientez quelques minutes.", status=429)
    try:
        login = await in_thread(
            console.accounts.log_in,
            form.get("name", "").strip().lower(),
            form.get("password", ""),
            datetime.now(UTC),
            **sessions_config(settings),
            max_failed=settings.max_failed_logins,
            lockout=timedelta(minutes=settings.lockout_minutes),
        )
    except LoginRefused as refusal:
        _count_failure(address, time.monotonic())
        await asyncio.sleep(FAILURE_PAUSE_S)  # slows guessing; other requests go on meanwhile
        if refusal.locked_until is not None:
            message = (
                "Ce compte est verrouillé après trop d'essais infructueux. Réessayez dans "
                f"{settings.lockout_minutes:.0f} minutes ou demandez à un administrateur de le déverrouiller."
            )
            return _login_page(request, message, status=429)
        return _login_page(request, "Identifiant ou mot de passe incorrect.", status=401)
    except StoreUnavailable:
        return _login_page(request, "La base de données est indisponible : réessayez dans un instant.", status=503)
    response = web.HTTPSeeOther("/console/")
    set_cookie(response, cookies.session, login.token, settings, max_age=int(settings.session_hours * 3600))
    drop_cookie(response, cookies.login, settings)
    raise response


@routes.post("/console/logout")
async def log_out(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    cookies = CookieNames.for_settings(console.settings.console)
    token = request.cookies.get(cookies.session)
    if token:
        await in_thread(console.accounts.log_out, token)
    response = web.HTTPSeeOther("/console/login")
    drop_cookie(response, cookies.session, console.settings.console)
    raise response


@routes.get("/console")
@routes.get("/console/")
async def home(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    raise web.HTTPSeeOther("/console/rappels" if user is not None and user.role == "agent" else "/console/signalements")


# -- accounts (admins) -------------------------------------------------------------------------------------


@routes.get("/console/comptes")
@store_errors
async def accounts_page(request: web.Request) -> web.StreamResponse:
    require(request, "accounts")
    accounts = await in_thread(console_of(request).accounts.list)
    return render(
        request,
        "accounts.html",
        accounts=accounts,
        roles=ROLES,
        min_password=MIN_PASSWORD_CHARS,
        message=None,
        now_utc=datetime.now(UTC),
    )


@routes.post("/console/comptes")
@store_errors
async def add_account(request: web.Request) -> web.StreamResponse:
    require(request, "accounts")
    console = console_of(request)
    form = await form_of(request)
    try:
        await in_thread(
            console.accounts.add,
            form.get("name", "").strip().lower(),
            form.get("role", ""),
            form.get("password", ""),
            now=datetime.now(UTC),
        )
    except InvalidRecord as error:
        accounts = await in_thread(console.accounts.list)
        return render(
            request,
            "accounts.html",
            status=400,
            accounts=accounts,
            roles=ROLES,
            min_password=MIN_PASSWORD_CHARS,
            message=f"Compte non créé : {error}",
            now_utc=datetime.now(UTC),
        )
    raise web.HTTPSeeOther("/console/comptes")


@routes.post(r"/console/comptes/{account_id:\d{1,9}}/{change:desactiver|activer|deverrouiller}")
@store_errors
async def change_account(request: web.Request) -> web.StreamResponse:
    """By id in the address: a person's name has no place in URLs (they end up in logs and histories)."""
    admin = require(request, "accounts")
    console = console_of(request)
    account_id, change = int(request.match_info["account_id"]), request.match_info["change"]
    accounts = await in_thread(console.accounts.list)
    name = next((account.name for account in accounts if account.id == account_id), None)
    if name is None:
        raise web.HTTPNotFound(text="Ce compte n'existe pas.")
    if change == "desactiver" and account_id == admin.account_id:
        raise web.HTTPBadRequest(text="Vous ne pouvez pas désactiver votre propre compte.")
    try:
        if change == "deverrouiller":
            await in_thread(console.accounts.unlock, name)
        else:
            await in_thread(console.accounts.set_disabled, name, change == "desactiver")
    except NotFound:
        raise web.HTTPNotFound(text="Ce compte n'existe pas.") from None
    log.info("console account %d: %s account %d", admin.account_id, change, account_id)
    raise web.HTTPSeeOther("/console/comptes")
