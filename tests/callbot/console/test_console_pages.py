"""The console over HTTP (aiohttp's test client, no browser): who may reach what, CSRF, cookies and sessions,
login slow-down and lockout, nothing personal in addresses or logs, exports, error pages, pagination.

The app is built as callbot.server builds it (create_app with the access middleware, the JSON API and the
console) on a migrated store; each person is a client of their own (their own cookies).
"""

from __future__ import annotations

import csv
import io
import logging
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp import ClientResponse, DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer
from sqlalchemy import select

from callbot.config import Settings, load_settings
from callbot.console import Console, add_console_routes, login
from callbot.console.access import PERMISSIONS
from callbot.console.render import PARIS
from callbot.metrics import CallMetrics
from callbot.web.app import Readiness, create_app
from signalements import ReportDraft, Store
from signalements.accounts import Accounts
from signalements.api import add_routes as add_api_routes
from signalements.models import CallbackRequest, ConsoleSession, Report
from tests.support.postgres import PostgresServer, fresh_postgres_url, running_postgres

Client = TestClient[web.Request, web.Application]

KEY = b"console-test-pseudonym-key-0123456789"
TOKEN = "integrators-token-0123456789abcdef"
PASSWORD = "Cheval-Batterie-Agrafe-7"
SUPERVISOR, AGENT, ADMIN = "m.durand", "l.petit", "a.bernard"
ROLES = {SUPERVISOR: "superviseur", AGENT: "agent", ADMIN: "admin"}
CALLER_NUMBER = "+33698765432"  # the line's number (pseudonymised by the store)
CALLBACK_NUMBER = "0687654321"  # given with consent for a call back
PERSON = "Dupont"  # a caller's name, said in the call
SEARCHED = "lampadaire"


# -- building the app --------------------------------------------------------------------------------------


@dataclass
class Site:
    store: Store
    console: Console
    settings: Settings
    server: TestServer
    open_client: AiohttpClient

    async def client(self, **kwargs: Any) -> Client:
        return await self.open_client(self.server, **kwargs)  # type: ignore[return-value]

    async def person(self, name: str) -> Person:
        client = await self.client()
        response = await log_in(client, name)
        assert response.status == 303, await response.text()
        assert response.headers["Location"] == "/console/"
        page = await client.get("/console/signalements")
        assert page.status == 200
        return Person(client, hidden(await page.text(), "csrf_token"))


@dataclass
class Person:
    client: Client
    csrf: str

    async def post(self, path: str, data: dict[str, str], **kwargs: Any) -> ClientResponse:
        return await self.client.post(path, data={"csrf_token": self.csrf, **data}, allow_redirects=False, **kwargs)


SiteFactory = Callable[..., Awaitable[Site]]


def settings_with(**console: str) -> Settings:
    """The defaults, with console.<key> overrides; cookies not Secure (the test client speaks plain HTTP)."""
    environ = {"CALLBOT_CONSOLE_SECURE_COOKIES": "false"}
    environ.update({f"CALLBOT_CONSOLE_{key.upper()}": value for key, value in console.items()})
    return load_settings(environ=environ)


async def _chat_page(request: web.Request) -> web.Response:
    return web.Response(text="chat")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'console.db'}", KEY, busy_timeout_s=0.3)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def make_site(aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient) -> SiteFactory:
    async def make(store: Store, settings: Settings | None = None, *, metrics_public: bool = True) -> Site:
        settings = settings or settings_with()
        console = Console.build(store, settings)

        def add_routes(app: web.Application) -> None:
            add_api_routes(app, store)
            app.router.add_get("/chat", _chat_page)  # the chat's page (its service needs a dialogue)
            add_console_routes(app, console)

        readiness = Readiness()
        for component in readiness.components:
            readiness.set(component)
        app = create_app(
            readiness,
            CallMetrics(calls_total=7),
            TOKEN,
            add_routes,
            accounts=console.accounts,
            console=settings.console,
            metrics_public=metrics_public,
        )
        server = await aiohttp_server(app)
        return Site(store, console, settings, server, aiohttp_client)

    return make


@pytest.fixture(autouse=True)
def _fresh_login_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The per-address failure counts are module state: each test starts with none; no second's pause per
    wrong password (the slow-down test puts it back)."""
    login._failures_by_address.clear()
    monkeypatch.setattr(login, "FAILURE_PAUSE_S", 0.0)
    yield
    login._failures_by_address.clear()


# -- the store's content ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    call_id: str  # a call with a report awaiting validation, a failed handoff and a call-back request
    report_id: int
    callback_id: int
    handoff_call_id: str  # a call without report whose collected fields hold the call-back number
    account_ids: dict[str, int]
    now: datetime


def seed(store: Store, now: datetime | None = None) -> Seeded:
    now = now or datetime.now(UTC).replace(microsecond=0)
    started = now - timedelta(minutes=20)
    ids = {name: Accounts(store).add(name, role, PASSWORD, now=now).id for name, role in ROLES.items()}
    call_id = "c0ffee" + "0" * 26
    store.open_call(call_id, "sip", CALLER_NUMBER, started)
    store.add_turn(call_id, "bot", "Bonjour, que souhaitez-vous signaler ?", started, started + timedelta(seconds=2))
    store.add_turn(
        call_id,
        "caller",
        f"un {SEARCHED} ne marche plus avenue du Prado",
        started + timedelta(seconds=3),
        started + timedelta(seconds=6),
        0.5,
        words=[("un", 0.9), (SEARCHED, 0.4), ("ne", 0.9), ("marche", 0.9), ("plus", 0.9), ("avenue", 0.8),
               ("du", 0.9), ("prado", 0.35)],
    )  # fmt: skip
    store.add_turn(
        call_id,
        "caller",
        f"je suis madame {PERSON}",
        started + timedelta(seconds=8),
        started + timedelta(seconds=10),
        0.6,
    )
    store.add_handoff(
        call_id,
        "outside_hours",
        None,
        False,
        {"category": "eclairage_public", "callback_consent": True, "callback_number": CALLBACK_NUMBER},
        started + timedelta(seconds=11),
    )
    report_id = store.save_report(
        call_id,
        ReportDraft(
            "eclairage_public",
            "avenue du Prado",
            f"Lampadaire éteint, signalé par Mme {PERSON}",
            False,
            True,
            CALLBACK_NUMBER,
            commune="Marseille 8e",
            street_verified=True,
        ),
        created_at=started + timedelta(seconds=12),
    )
    callback_id = store.request_callback(call_id, "outside_hours", CALLBACK_NUMBER, started + timedelta(seconds=13))
    store.close_call(call_id, "report_saved", started + timedelta(seconds=12.5), 2.5, [700, 900])

    handoff_call_id = "facade" + "0" * 26
    store.open_call(handoff_call_id, "sip", CALLER_NUMBER, started + timedelta(minutes=1))
    store.update_fields(handoff_call_id, {"category": "proprete", "callback_consent": True,
                                          "callback_number": CALLBACK_NUMBER})  # fmt: skip
    store.add_handoff(
        handoff_call_id,
        "transfer_failed",
        "sip:agents@pbx",
        False,
        {"category": "proprete", "callback_consent": True, "callback_number": CALLBACK_NUMBER},
        started + timedelta(minutes=1, seconds=30),
    )
    store.close_call(handoff_call_id, "transfer_failed", started + timedelta(minutes=2))
    return Seeded(call_id, report_id, callback_id, handoff_call_id, ids, now)


# -- reading pages ------------------------------------------------------------------------------------------


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no hidden field {name}"
    return found.group(1)


def alert(html: str) -> str:
    found = re.search(r'role="alert"[^>]*>([^<]*)<', html)
    assert found is not None, html[:500]
    return found.group(1).replace("&#39;", "'")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.forms: list[tuple[str, str]] = []  # (method, action)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.links += [value for name, value in attrs if name in ("href", "src", "action") and value]
        if tag == "form":
            self.forms.append(((values.get("method") or "get").lower(), values.get("action") or ""))


def links_of(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def next_page(html: str) -> str | None:
    found = re.search(r'<p class="pager"><a href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


async def log_in(client: Client, name: str, password: str = PASSWORD) -> ClientResponse:
    page = await client.get("/console/login")
    assert page.status == 200
    token = hidden(await page.text(), "login_token")
    return await client.post(
        "/console/login", data={"login_token": token, "name": name, "password": password}, allow_redirects=False
    )


def report_status(store: Store, report_id: int) -> str:
    with store.reading() as session:
        row = session.get(Report, report_id)
        assert row is not None
        return row.status


# -- who may reach what -------------------------------------------------------------------------------------

CALL = "c0ffee" + "0" * 26
# Every console route but the login and the static files, with an address to try it at.
CONSOLE_ROUTES = {
    ("GET", "/console"): "/console",
    ("GET", "/console/"): "/console/",
    ("GET", "/console/signalements"): "/console/signalements",
    ("GET", "/console/signalements/{report_id}"): "/console/signalements/1",
    ("POST", "/console/signalements/{report_id}"): "/console/signalements/1",
    ("GET", "/console/appels"): "/console/appels",
    ("POST", "/console/appels/recherche"): "/console/appels/recherche",
    ("GET", "/console/appels/{call_id}"): f"/console/appels/{CALL}",
    ("GET", "/console/appels/{call_id}/enregistrement.ogg"): f"/console/appels/{CALL}/enregistrement.ogg",
    ("GET", "/console/rappels"): "/console/rappels",
    ("POST", "/console/rappels/{callback_id}"): "/console/rappels/1",
    ("GET", "/console/tableau-de-bord"): "/console/tableau-de-bord",
    ("GET", "/console/export/{what}.csv"): "/console/export/signalements.csv",
    ("GET", "/console/comptes"): "/console/comptes",
    ("POST", "/console/comptes"): "/console/comptes",
    ("POST", "/console/comptes/{account_id}/{change}"): "/console/comptes/1/desactiver",
    ("POST", "/console/logout"): "/console/logout",
    ("GET", "/console/webhooks"): "/console/webhooks",
    ("POST", "/console/webhooks/livraisons/{delivery_id}/relancer"): "/console/webhooks/livraisons/1/relancer",
}


async def test_every_console_page_needs_a_session(make_site: SiteFactory, store: Store) -> None:
    seeded = seed(store)
    site = await make_site(store)
    routes = {
        (route.method, route.resource.canonical)
        for route in site.server.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/console")
        and route.method != "HEAD"
        and route.resource.canonical not in ("/console/login", "/console/static")
    }
    assert routes == set(CONSOLE_ROUTES), "a console route without an access test"
    anonymous = await site.client()
    for (method, _), path in CONSOLE_ROUTES.items():
        if method == "GET":
            response = await anonymous.get(path, allow_redirects=False)
            assert (response.status, response.headers.get("Location")) == (303, "/console/login"), path
        else:
            response = await anonymous.post(path, data={"action": "validate", "version": "1"}, allow_redirects=False)
            assert response.status == 401, path
            assert 'lang="fr"' in await response.text()
    for path in ("/console/export/appels.csv", "/console/nulle-part", "/console/signalements?statut=validated"):
        response = await anonymous.get(path, allow_redirects=False)
        assert (response.status, response.headers.get("Location")) == (303, "/console/login"), path
    assert report_status(store, seeded.report_id) == "awaiting_validation"


async def test_public_routes_need_nothing(make_site: SiteFactory, store: Store) -> None:
    site = await make_site(store)
    anonymous = await site.client()
    assert (await anonymous.get("/healthz")).status == 200
    assert await (await anonymous.get("/chat")).text() == "chat"
    login_page = await anonymous.get("/console/login")
    assert login_page.status == 200
    assert 'action="/console/login"' in await login_page.text()
    stylesheet = await anonymous.get("/console/static/console.css")
    assert stylesheet.status == 200
    assert stylesheet.content_type == "text/css"
    assert (await anonymous.get("/console/static/console.js")).status == 200
    metrics = await anonymous.get("/metrics")
    assert metrics.status == 200
    assert "callbot_calls_total 7" in await metrics.text()


async def test_metrics_need_a_token_or_a_session_when_not_public(make_site: SiteFactory, store: Store) -> None:
    seed(store)
    site = await make_site(store, metrics_public=False)
    anonymous = await site.client()
    assert (await anonymous.get("/metrics")).status == 401
    wrong = await anonymous.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status == 401
    with_token = await anonymous.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert with_token.status == 200
    assert "callbot_calls_total 7" in await with_token.text()
    agent = await site.person(AGENT)
    assert (await agent.client.get("/metrics")).status == 200


async def test_the_api_takes_the_token_or_a_session_and_a_session_posts_with_its_csrf_header(
    make_site: SiteFactory, store: Store
) -> None:
    seeded = seed(store)
    site = await make_site(store)
    anonymous = await site.client()
    refused = await anonymous.get("/api/reports")
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="callbot"'
    assert (await refused.json())["error"] == "missing or wrong bearer token"  # an RFC 9457 problem
    assert (await anonymous.get("/api/reports", headers={"Authorization": "Bearer nope"})).status == 401
    with_token = await anonymous.get("/api/reports", headers={"Authorization": f"Bearer {TOKEN}"})
    assert with_token.status == 200
    assert [item["id"] for item in (await with_token.json())["items"]] == [seeded.report_id]

    supervisor = await site.person(SUPERVISOR)
    listed = await supervisor.client.get("/api/reports")
    assert listed.status == 200
    assert (await listed.json())["total"] == 1
    validate = f"/api/reports/{seeded.report_id}/validate"
    body = {"reviewer": SUPERVISOR}
    no_header = await supervisor.client.post(validate, json=body)
    assert no_header.status == 403
    assert "CSRF" in (await no_header.json())["error"]
    wrong_header = await supervisor.client.post(validate, json=body, headers={"X-CSRF-Token": "x" * 43})
    assert wrong_header.status == 403
    assert report_status(store, seeded.report_id) == "awaiting_validation"

    # an agent may not decide, through the API any more than through the pages
    agent = await site.person(AGENT)
    as_agent = await agent.client.post(validate, json={"reviewer": AGENT}, headers={"X-CSRF-Token": agent.csrf})
    assert as_agent.status == 403, await as_agent.text()
    assert report_status(store, seeded.report_id) == "awaiting_validation"

    # the decision is the logged-in person's, whatever name the body gives
    as_other = {"reviewer": "quelqu.un.d.autre"}
    validated = await supervisor.client.post(validate, json=as_other, headers={"X-CSRF-Token": supervisor.csrf})
    assert validated.status == 200
    decided = await validated.json()
    assert (decided["status"], decided["review"]["by"]) == ("validated", SUPERVISOR)
    assert report_status(store, seeded.report_id) == "validated"


# -- each role's rights -------------------------------------------------------------------------------------


def test_the_roles_rights() -> None:
    assert PERMISSIONS == {
        "superviseur": {"read", "review", "callbacks", "numbers", "export", "webhooks"},
        "agent": {"read", "callbacks", "numbers"},
        "admin": {"read", "accounts", "export", "webhooks"},
    }


async def test_an_agent_reads_and_calls_back_but_does_not_decide_nor_export(
    make_site: SiteFactory, store: Store
) -> None:
    seeded = seed(store)
    site = await make_site(store)
    agent = await site.person(AGENT)
    home = await agent.client.get("/console/", allow_redirects=False)
    assert home.headers["Location"] == "/console/rappels"
    report = await agent.client.get(f"/console/signalements/{seeded.report_id}")
    assert report.status == 200
    page = await report.text()
    assert CALLBACK_NUMBER in page  # an agent calls back
    assert 'name="action" value="validate"' not in page  # no decision form

    refused = await agent.post(f"/console/signalements/{seeded.report_id}", {"action": "validate", "version": "1"})
    assert refused.status == 403
    refused_page = await refused.text()
    assert 'lang="fr"' in refused_page
    assert alert(refused_page) == "Votre rôle ne permet pas cette action (review)."
    assert report_status(store, seeded.report_id) == "awaiting_validation"
    for path in ("/console/export/signalements.csv", "/console/export/appels.csv", "/console/comptes"):
        assert (await agent.client.get(path)).status == 403, path
    created = await agent.post("/console/comptes", {"name": "x.intrus", "role": "admin", "password": PASSWORD})
    assert created.status == 403
    assert [a.name for a in site.console.accounts.list()] == sorted(ROLES)

    callbacks = await agent.client.get("/console/rappels")
    assert CALLBACK_NUMBER in await callbacks.text()
    done = await agent.post(f"/console/rappels/{seeded.callback_id}", {"resultat": "done", "version": "1"})
    assert (done.status, done.headers["Location"]) == (303, "/console/rappels")
    with store.reading() as session:
        row = session.get(CallbackRequest, seeded.callback_id)
        assert row is not None and (row.status, row.handled_by) == ("done", AGENT)


async def test_an_admin_manages_accounts_but_sees_no_number_and_decides_nothing(
    make_site: SiteFactory, store: Store
) -> None:
    seeded = seed(store)
    site = await make_site(store)
    admin = await site.person(ADMIN)
    accounts = await admin.client.get("/console/comptes")
    assert accounts.status == 200
    created = await admin.post("/console/comptes", {"name": "c.roux", "role": "agent", "password": PASSWORD})
    assert (created.status, created.headers["Location"]) == (303, "/console/comptes")
    assert site.console.accounts.get("c.roux").role == "agent"
    too_short = await admin.post("/console/comptes", {"name": "d.roux", "role": "agent", "password": "court"})
    assert too_short.status == 400
    disabled = await admin.post(f"/console/comptes/{seeded.account_ids[AGENT]}/desactiver", {})
    assert disabled.status == 303
    assert site.console.accounts.get(AGENT).disabled is True
    own = await admin.post(f"/console/comptes/{seeded.account_ids[ADMIN]}/desactiver", {})
    assert own.status == 400

    for path in (
        f"/console/signalements/{seeded.report_id}",
        f"/console/appels/{seeded.call_id}",
        f"/console/appels/{seeded.handoff_call_id}",
        "/console/rappels",
    ):
        response = await admin.client.get(path)
        assert response.status == 200, path
        assert CALLBACK_NUMBER not in await response.text(), path
    assert "réservé aux agents" in await (await admin.client.get("/console/rappels")).text()
    export = await admin.client.get("/console/export/signalements.csv")
    assert export.status == 200
    rows = list(csv.reader(io.StringIO((await export.read()).decode("utf-8-sig")), delimiter=";"))
    assert rows[1][rows[0].index("numero_rappel")] == ""
    assert CALLBACK_NUMBER not in str(rows)

    decided = await admin.post(f"/console/signalements/{seeded.report_id}", {"action": "validate", "version": "1"})
    assert decided.status == 403
    called_back = await admin.post(f"/console/rappels/{seeded.callback_id}", {"resultat": "done", "version": "1"})
    assert called_back.status == 403
    assert report_status(store, seeded.report_id) == "awaiting_validation"
    for path in (f"/api/reports/{seeded.report_id}", f"/api/calls/{seeded.call_id}", "/api/reports"):
        api = await admin.client.get(path)  # the JSON API shows numbers whole: not for this role
        assert api.status == 403, path
        assert CALLBACK_NUMBER not in await api.text(), path


async def test_a_supervisor_decides_exports_and_sees_numbers_but_manages_no_account(
    make_site: SiteFactory, store: Store
) -> None:
    seeded = seed(store)
    site = await make_site(store)
    supervisor = await site.person(SUPERVISOR)
    assert (await supervisor.client.get("/console/", allow_redirects=False)).headers["Location"] == (
        "/console/signalements"
    )
    assert (await supervisor.client.get("/console/comptes")).status == 403
    for path in (f"/console/signalements/{seeded.report_id}", f"/console/appels/{seeded.handoff_call_id}"):
        assert CALLBACK_NUMBER in await (await supervisor.client.get(path)).text(), path
    export = await supervisor.client.get("/console/export/signalements.csv")
    rows = list(csv.reader(io.StringIO((await export.read()).decode("utf-8-sig")), delimiter=";"))
    assert rows[1][rows[0].index("numero_rappel")] == CALLBACK_NUMBER
    decided = await supervisor.post(f"/console/signalements/{seeded.report_id}", {"action": "validate", "version": "1"})
    assert (decided.status, decided.headers["Location"]) == (303, f"/console/signalements/{seeded.report_id}")
    assert report_status(store, seeded.report_id) == "validated"
    page = await (await supervisor.client.get(f"/console/signalements/{seeded.report_id}")).text()
    assert f"{SUPERVISOR} a validé" in page


# -- CSRF ---------------------------------------------------------------------------------------------------


async def test_a_form_needs_its_csrf_token_and_a_same_origin(make_site: SiteFactory, store: Store) -> None:
    seeded = seed(store)
    site = await make_site(store)
    supervisor = await site.person(SUPERVISOR)
    agent = await site.person(AGENT)
    path = f"/console/signalements/{seeded.report_id}"
    decision = {"action": "validate", "version": "1"}
    missing = await supervisor.client.post(path, data=decision, allow_redirects=False)
    assert missing.status == 403
    assert alert(await missing.text()).startswith("Jeton de sécurité (CSRF) absent ou invalide")
    for token in ("", "faux", agent.csrf, supervisor.csrf + "x"):
        wrong = await supervisor.client.post(path, data={**decision, "csrf_token": token}, allow_redirects=False)
        assert wrong.status == 403, token
    origin = f"http://{site.server.host}:{site.server.port}"
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": f"http://{site.server.host}:1"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        cross = await supervisor.post(path, decision, headers=headers)
        assert cross.status == 403, headers
        assert alert(await cross.text()) == "Requête refusée : elle vient d'un autre site."
    assert report_status(store, seeded.report_id) == "awaiting_validation"

    # the token in the header does as well as in the form; the same origin, seen through a TLS proxy, is fine
    by_header = await supervisor.client.post(
        path,
        data={"action": "reject", "version": "1"},
        headers={"X-CSRF-Token": supervisor.csrf, "Origin": f"https://{site.server.host}:{site.server.port}"},
        allow_redirects=False,
    )
    assert by_header.status == 400  # past the CSRF check: a rejection without its reason
    assert alert(await by_header.text()) == "Indiquez le motif du rejet."
    accepted = await supervisor.post(path, decision, headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})
    assert accepted.status == 303
    assert report_status(store, seeded.report_id) == "validated"


async def test_the_login_form_needs_its_own_token(make_site: SiteFactory, store: Store) -> None:
    seed(store)
    site = await make_site(store)
    client = await site.client()
    credentials = {"name": SUPERVISOR, "password": PASSWORD}
    no_cookie = await client.post(
        "/console/login", data={"login_token": "forged", **credentials}, allow_redirects=False
    )
    assert no_cookie.status == 403
    await client.get("/console/login")  # the cookie, but no token in the form
    missing = await client.post("/console/login", data=credentials, allow_redirects=False)
    assert missing.status == 403
    assert alert(await missing.text()).startswith("Le formulaire a expiré")
    page = await client.get("/console/login")
    token = hidden(await page.text(), "login_token")
    other = token[:-1] + ("B" if token.endswith("A") else "A")
    wrong = await client.post("/console/login", data={"login_token": other, **credentials}, allow_redirects=False)
    assert wrong.status == 403
    assert "callbot_session" not in str(wrong.headers.getall("Set-Cookie", []))
    assert (await client.get("/console/signalements", allow_redirects=False)).status == 303
    assert (await log_in(client, SUPERVISOR)).status == 303


# -- cookies and sessions -----------------------------------------------------------------------------------


def cookies_of(response: ClientResponse) -> dict[str, Any]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        jar.load(header)
    return dict(jar)


async def test_cookies_are_httponly_strict_and_secure_with_the_host_prefix(
    make_site: SiteFactory, store: Store
) -> None:
    seed(store)
    settings = load_settings(environ={"CALLBOT_CONSOLE_SECURE_COOKIES": "true"})
    site = await make_site(store, settings)
    client = await site.client(cookie_jar=DummyCookieJar())  # sends only the Cookie headers given here
    page = await client.get("/console/login")
    login_cookie = cookies_of(page)["__Host-callbot_login"]
    assert (login_cookie["httponly"], login_cookie["secure"], login_cookie["samesite"]) == (True, True, "Strict")
    assert (login_cookie["path"], login_cookie["domain"]) == ("/", "")
    token = hidden(await page.text(), "login_token")
    assert login_cookie.value == token
    logged = await client.post(
        "/console/login",
        data={"login_token": token, "name": SUPERVISOR, "password": PASSWORD},
        headers={"Cookie": f"__Host-callbot_login={token}"},
        allow_redirects=False,
    )
    assert logged.status == 303
    cookies = cookies_of(logged)
    session = cookies["__Host-callbot_session"]
    assert (session["httponly"], session["secure"], session["samesite"], session["path"]) == (True, True, "Strict", "/")
    assert session["max-age"] == str(10 * 3600)
    dropped = cookies["__Host-callbot_login"]  # the login form's token, dropped: Secure, or the browser keeps it
    assert (dropped.value, dropped["max-age"], dropped["secure"]) == ("", "0", True)
    assert len(session.value) >= 40
    with store.reading() as db:
        assert session.value not in str(list(db.scalars(select(ConsoleSession.token_hash))))
    page = await client.get("/console/signalements", headers={"Cookie": f"__Host-callbot_session={session.value}"})
    assert page.status == 200
    unprefixed = await client.get(
        "/console/signalements", headers={"Cookie": f"callbot_session={session.value}"}, allow_redirects=False
    )
    assert (unprefixed.status, unprefixed.headers["Location"]) == (303, "/console/login")
    csrf = hidden(await page.text(), "csrf_token")
    out = await client.post(
        "/console/logout",
        data={"csrf_token": csrf},
        headers={"Cookie": f"__Host-callbot_session={session.value}"},
        allow_redirects=False,
    )
    assert out.status == 303
    ended = cookies_of(out)["__Host-callbot_session"]
    assert (ended.value, ended["max-age"], ended["secure"], ended["path"]) == ("", "0", True, "/")


async def test_without_secure_cookies_there_is_no_prefix_and_no_secure_flag(
    make_site: SiteFactory, store: Store
) -> None:
    seed(store)
    site = await make_site(store)
    client = await site.client()
    logged = await log_in(client, AGENT)
    session = cookies_of(logged)["callbot_session"]
    assert (session["httponly"], session["secure"], session["samesite"]) == (True, "", "Strict")


def _move_sessions(store: Store, *, created: timedelta, seen: timedelta, expires: timedelta) -> datetime:
    now = datetime.now(UTC)
    with store.writing() as db:
        for row in db.scalars(select(ConsoleSession)):
            row.created_at, row.last_seen_at, row.expires_at = now + created, now + seen, now + expires
    return now


def _expiries(store: Store) -> list[datetime]:
    with store.reading() as db:
        return list(db.scalars(select(ConsoleSession.expires_at)))


async def test_an_idle_session_ends_and_an_active_one_slides(make_site: SiteFactory, store: Store) -> None:
    seed(store)
    site = await make_site(store)  # idle_minutes 30, session_hours 10
    supervisor = await site.person(SUPERVISOR)

    now = _move_sessions(
        store, created=-timedelta(minutes=29), seen=-timedelta(minutes=29), expires=timedelta(minutes=1)
    )
    assert (await supervisor.client.get("/console/signalements")).status == 200
    (slid,) = _expiries(store)
    assert now + timedelta(minutes=29) < slid <= datetime.now(UTC) + timedelta(minutes=30)

    now = _move_sessions(
        store, created=-timedelta(hours=9, minutes=59), seen=-timedelta(minutes=5), expires=timedelta(minutes=1)
    )
    assert (await supervisor.client.get("/console/signalements")).status == 200
    (capped,) = _expiries(store)
    assert capped <= now - timedelta(hours=9, minutes=59) + timedelta(hours=10)  # never past the login's 10 h

    _move_sessions(store, created=-timedelta(minutes=31), seen=-timedelta(minutes=31), expires=-timedelta(minutes=1))
    back = await supervisor.client.get("/console/signalements", allow_redirects=False)
    assert (back.status, back.headers["Location"]) == (303, "/console/login")
    assert _expiries(store) == []  # the expired session is gone from the store
    posted = await supervisor.post("/console/appels/recherche", {"q": "rue"})
    assert posted.status == 401
    assert alert(await posted.text()) == "Votre session a expiré : reconnectez-vous."
    again = await log_in(supervisor.client, SUPERVISOR)
    assert again.status == 303
    assert (await supervisor.client.get("/console/signalements")).status == 200


async def test_logging_out_ends_the_session(make_site: SiteFactory, store: Store) -> None:
    seed(store)
    site = await make_site(store)
    supervisor = await site.person(SUPERVISOR)
    token = next(c.value for c in supervisor.client.session.cookie_jar if c.key == "callbot_session")
    assert (await supervisor.client.post("/console/logout", allow_redirects=False)).status == 403  # no CSRF token
    out = await supervisor.post("/console/logout", {})
    assert (out.status, out.headers["Location"]) == (303, "/console/login")
    assert cookies_of(out)["callbot_session"].value == ""
    assert _expiries(store) == []
    replayed = await (await site.client()).get(
        "/console/signalements", headers={"Cookie": f"callbot_session={token}"}, allow_redirects=False
    )
    assert (replayed.status, replayed.headers["Location"]) == (303, "/console/login")


# -- login slow-down and lockout ----------------------------------------------------------------------------


async def test_each_wrong_password_waits(make_site: SiteFactory, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(store)
    monkeypatch.setattr(login, "FAILURE_PAUSE_S", 1.0)
    site = await make_site(store)
    client = await site.client()
    for name in (SUPERVISOR, "personne.inconnue"):
        began = time.monotonic()
        wrong = await log_in(client, name, "mauvais-mot-de-passe")
        assert time.monotonic() - began >= 1.0
        assert wrong.status == 401
        assert alert(await wrong.text()) == "Identifiant ou mot de passe incorrect."


async def test_an_account_is_locked_after_max_failed_logins_until_an_admin_unlocks_it(
    make_site: SiteFactory, store: Store
) -> None:
    seeded = seed(store)
    site = await make_site(store, settings_with(max_failed_logins="3"))
    client = await site.client()
    statuses = [(await log_in(client, SUPERVISOR, f"essai-numero-{n}")).status for n in range(3)]
    assert statuses == [401, 401, 401]
    locked = await log_in(client, SUPERVISOR)  # locked now: the right password does not lift it
    assert locked.status == 429
    assert "verrouillé" in alert(await locked.text())
    assert site.console.accounts.get(SUPERVISOR).locked_until is not None

    admin = await site.person(ADMIN)
    assert "Verrouillé" in await (await admin.client.get("/console/comptes")).text()
    unlocked = await admin.post(f"/console/comptes/{seeded.account_ids[SUPERVISOR]}/deverrouiller", {})
    assert unlocked.status == 303
    assert (await log_in(client, SUPERVISOR)).status == 303


class Clock:
    """Stands for the time module in callbot.console.login: its monotonic clock moves when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_an_address_that_keeps_failing_is_held_off(
    make_site: SiteFactory, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(store)
    clock = Clock()
    monkeypatch.setattr(login, "time", clock)
    monkeypatch.setattr(login, "ADDRESS_FAILURES", 4)
    site = await make_site(store)
    client = await site.client()
    # guesses spread over accounts (none reaches its own lockout of 5), and unknown names
    for name in (SUPERVISOR, AGENT, ADMIN, "inconnu"):
        assert (await log_in(client, name, "devinette-123")).status == 401
    held_off = await log_in(client, AGENT)  # even the right password, on an account that is not locked
    assert held_off.status == 429
    assert alert(await held_off.text()) == "Trop d'essais depuis ce poste : patientez quelques minutes."
    assert site.console.accounts.failed_logins_left(AGENT, 5) == 4  # refused before any password check
    clock.now += login.ADDRESS_WINDOW_S - 1
    assert (await log_in(client, AGENT)).status == 429
    clock.now += 2  # the failures are now out of the window
    assert (await log_in(client, AGENT)).status == 303


# -- nothing personal in addresses or logs ------------------------------------------------------------------


async def test_nothing_personal_in_addresses_or_logs(
    make_site: SiteFactory, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seeded = seed(store)
    site = await make_site(store)
    pages: dict[str, str] = {}

    supervisor = await site.person(SUPERVISOR)
    calls = await (await supervisor.client.get("/console/appels")).text()
    assert ("post", "/console/appels/recherche") in links_of(calls).forms  # the search words go in a body
    found = await supervisor.post("/console/appels/recherche", {"q": SEARCHED.upper()})
    assert found.status == 200
    pages["search"] = await found.text()
    assert f"/console/appels/{seeded.call_id}" in links_of(pages["search"]).links
    assert "1 résultat." in pages["search"]
    for name, path in {
        "queue": "/console/signalements",
        "calls": "/console/appels",
        "call": f"/console/appels/{seeded.call_id}",
        "handoff call": f"/console/appels/{seeded.handoff_call_id}",
        "report": f"/console/signalements/{seeded.report_id}",
        "callbacks": "/console/rappels",
        "dashboard": "/console/tableau-de-bord",
    }.items():
        response = await supervisor.client.get(path)
        assert response.status == 200, path
        pages[name] = await response.text()
    assert CALLBACK_NUMBER in pages["report"] and PERSON in pages["report"]  # shown, but never in an address
    decided = await supervisor.post(f"/console/signalements/{seeded.report_id}", {"action": "validate", "version": "1"})
    assert decided.status == 303
    pages["decided"] = await (await supervisor.client.get(decided.headers["Location"])).text()
    admin = await site.person(ADMIN)
    pages["accounts"] = await (await admin.client.get("/console/comptes")).text()
    assert SUPERVISOR in pages["accounts"]
    await supervisor.post("/console/logout", {})

    personal = [CALLER_NUMBER, CALLER_NUMBER[3:], CALLBACK_NUMBER, CALLBACK_NUMBER[1:], PASSWORD, PERSON]
    for name, html in pages.items():
        assert CALLER_NUMBER not in html and CALLER_NUMBER[3:] not in html, name  # the line's number: never shown
        parsed = links_of(html)
        assert parsed.links, name
        for link in parsed.links:
            decoded = unquote(link).lower()
            for value in [*personal, SEARCHED, *ROLES]:
                assert value.lower() not in decoded, (name, link)
    messages = [record.getMessage() + (record.exc_text or "") for record in caplog.records]
    assert any("logged in" in message for message in messages)  # the console's own records were caught
    assert any("/console/appels/recherche" in message for message in messages)  # and the access log
    for message in messages:
        for value in [*personal, SEARCHED]:
            assert value.lower() not in message.lower(), message


# -- exports ------------------------------------------------------------------------------------------------


def _export_data(store: Store, now: datetime) -> tuple[str, int]:
    started = now - timedelta(hours=1)
    call_id = "e" * 32
    store.open_call(call_id, "text", None, started)
    store.add_turn(call_id, "caller", "=1+1", started, started, 0.75)
    report_id = store.save_report(
        call_id,
        ReportDraft(
            "autre",
            "3; rue Paradis",
            '=HYPERLINK("http://evil.example")',
            True,
            True,
            "+33612345678",
            landmark="@SUM(A1)",
            commune="-Marseille",
            street_verified=False,
        ),
        created_at=started,
    )
    store.close_call(call_id, "report_saved", started + timedelta(seconds=12.5), 0.25, [640, 800, 1200])
    return call_id, report_id


async def _csv(client: Client, path: str, **query: str) -> tuple[ClientResponse, bytes]:
    response = await client.get(path, params=query)
    return response, await response.read()


async def test_exports_are_what_french_spreadsheets_open(make_site: SiteFactory, store: Store) -> None:
    now = datetime.now(UTC)
    call_id, report_id = _export_data(store, now)
    Accounts(store).add(SUPERVISOR, "superviseur", PASSWORD, now=now)
    site = await make_site(store)
    supervisor = await site.person(SUPERVISOR)
    today = now.astimezone(PARIS).date()
    first = today - timedelta(days=3)
    span = {"du": first.isoformat(), "au": today.isoformat()}

    response, body = await _csv(supervisor.client, "/console/export/appels.csv", sep=";", **span)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    stamp = f"{first:%Y%m%d}-{today:%Y%m%d}"
    assert response.headers["Content-Disposition"] == f'attachment; filename="appels-{stamp}.csv"'
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8")[1:]
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["appel", "canal", "debut", "fin", "duree_s", "issue", "tours", "signalements", "transferts",
                       "confiance_moyenne", "cpu_s", "latence_p50_ms"]  # fmt: skip
    (row,) = rows[1:]
    assert row[0:2] == [call_id, "text"]
    assert row[4:] == ["12,5", "report_saved", "1", "1", "0", "0,75", "0,25", "800"]

    _, body = await _csv(supervisor.client, "/console/export/appels.csv", sep=",", **span)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=","))
    assert rows[1][4:] == ["12.5", "report_saved", "1", "1", "0", "0.75", "0.25", "800"]

    response, body = await _csv(supervisor.client, "/console/export/signalements.csv", **span)  # ";" by default
    assert response.headers["Content-Disposition"] == f'attachment; filename="signalements-{stamp}.csv"'
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    record = dict(zip(rows[0], rows[1], strict=True))
    assert len(rows) == 2
    assert record["id"] == str(report_id)
    assert record["lieu"] == "3; rue Paradis"  # quoted in the file, whole once read back
    assert (record["danger"], record["rappel_accepte"], record["voie_verifiee"]) == ("oui", "oui", "non")
    assert record["description"] == '\'=HYPERLINK("http://evil.example")'
    assert (record["repere"], record["commune"], record["numero_rappel"]) == (
        "'@SUM(A1)",
        "'-Marseille",
        "'+33612345678",
    )
    assert (record["statut"], record["decide_par"], record["note"]) == ("awaiting_validation", "", "")


async def test_export_date_ranges_are_checked(make_site: SiteFactory, store: Store) -> None:
    seed(store)
    site = await make_site(store)
    supervisor = await site.person(SUPERVISOR)
    for what in ("signalements", "appels"):
        path = f"/console/export/{what}.csv"
        backwards, _ = await _csv(supervisor.client, path, du="2026-03-02", au="2026-03-01")
        assert backwards.status == 400
        assert alert(await backwards.text()) == "La date de fin est avant la date de début."
        too_long, _ = await _csv(supervisor.client, path, du="2025-01-01", au="2026-01-02")  # 367 days
        assert too_long.status == 400
        assert alert(await too_long.text()) == "Exportez au plus 366 jours à la fois."
        whole, body = await _csv(supervisor.client, path, du="2024-01-01", au="2024-12-31")  # 366 days (leap)
        assert whole.status == 200
        assert body.count(b"\r\n") == 1  # the header alone
        for query in ({"du": "2026-02-30"}, {"au": "demain"}, {"du": "0001-01-01"}, {"au": "9999-12-31"}):
            refused, _ = await _csv(supervisor.client, path, **query)
            assert refused.status == 400, query
        tab, _ = await _csv(supervisor.client, path, sep="\t")
        assert tab.status == 400


# -- errors -------------------------------------------------------------------------------------------------


async def test_console_errors_are_french_pages_and_api_errors_stay_json(make_site: SiteFactory, store: Store) -> None:
    seed(store)
    site = await make_site(store)
    supervisor = await site.person(SUPERVISOR)
    for path, status, heading, message in (
        ("/console/signalements/999999", 404, "Introuvable", "Cet élément n'existe pas (ou plus)."),
        ("/console/appels/inconnu", 404, "Introuvable", "Cet élément n'existe pas (ou plus)."),
        ("/console/nulle-part", 404, "Introuvable", "Cette page n'existe pas."),
        ("/console/signalements?statut=perdu", 400, "Erreur", "Filtre inconnu."),
        ("/console/appels?confiance_max=abc", 400, "Erreur", "confiance_max : un pourcentage de 0 à 100."),
        ("/console/logout", 405, "Erreur", "Cette adresse ne s'utilise pas ainsi (méthode non permise)."),
    ):
        response = await supervisor.client.get(path)
        assert response.status == status, path
        assert response.content_type == "text/html"
        page = await response.text()
        assert '<html lang="fr">' in page
        assert f"<h1>{heading}</h1>" in page
        assert alert(page) == message
    too_big = await supervisor.post("/console/appels/recherche", {"q": "x" * 70_000})
    assert too_big.status == 413
    assert alert(await too_big.text()) == "Les données envoyées sont trop volumineuses."

    bearer = {"Authorization": f"Bearer {TOKEN}"}
    for path, status in (("/api/reports/999999", 404), ("/api/nulle-part", 404), ("/api/reports?limit=0", 400)):
        for headers in (bearer, {}):
            client = supervisor.client if not headers else await site.client()
            response = await client.get(path, headers=headers)
            assert response.status == status, path
            assert response.content_type == "application/problem+json"
            assert set(await response.json()) == {"type", "title", "status", "detail", "error"}


async def _locked_out(site: Site, supervisor: Person) -> None:
    down = await supervisor.client.get("/console/signalements")
    assert down.status == 503
    page = await down.text()
    assert '<html lang="fr">' in page and "<h1>Service momentanément indisponible</h1>" in page
    assert alert(page) == "La base de données est indisponible ; réessayez dans un instant."
    refused = await log_in(await site.client(), AGENT)
    assert refused.status == 503
    assert alert(await refused.text()) == "La base de données est indisponible : réessayez dans un instant."


async def test_a_locked_sqlite_store_gives_503_pages(make_site: SiteFactory, store: Store) -> None:
    seed(store)
    site = await make_site(store)
    supervisor = await site.person(SUPERVISOR)
    assert store.url.database is not None
    holder = sqlite3.connect(store.url.database, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE calls SET node = 'verrou'")
        await _locked_out(site, supervisor)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (await supervisor.client.get("/console/signalements")).status == 200


@pytest.mark.postgres
async def test_a_stopped_postgresql_gives_503_pages_and_json(make_site: SiteFactory) -> None:
    with running_postgres() as server:
        store = Store(server.create_database(), KEY, connect_timeout_s=2)
        store.migrate()
        seeded = seed(store)
        site = await make_site(store)
        supervisor = await site.person(SUPERVISOR)
        server.stop()
        try:
            await _locked_out(site, supervisor)
            api = await (await site.client()).get("/api/reports", headers={"Authorization": f"Bearer {TOKEN}"})
            assert api.status == 503
            assert (await api.json())["error"].startswith("database unavailable (postgresql 127.0.0.1:")
            assert (await (await site.client()).get("/healthz")).status == 200
        finally:
            server.start()
        page = await supervisor.client.get(f"/console/signalements/{seeded.report_id}")
        assert page.status == 200
        store.close()


# -- pagination ---------------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'console.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = fresh_postgres_url(server)
    store = Store(url, KEY)
    store.migrate()
    yield store
    store.close()


CALL_LINK = r'<th scope="row"><a href="/console/appels/([^"]+)"'


async def _walk(client: Client, path: str, pattern: str) -> list[list[str]]:
    """Each page's ids (from the links matching `pattern`), following "Page suivante" to the end."""
    pages: list[list[str]] = []
    next_path: str | None = path
    while next_path is not None:
        response = await client.get(next_path)
        assert response.status == 200, next_path
        html = await response.text()
        pages.append(re.findall(pattern, html))
        following = next_page(html)
        next_path = None if following is None else path.split("?")[0] + following
        assert len(pages) < 10
    return pages


async def test_the_queue_and_the_calls_page_through_without_duplicates(
    make_site: SiteFactory, any_store: Store
) -> None:
    store = any_store
    base = datetime(2026, 11, 23, 8, 0, 0, 123456, tzinfo=UTC)
    awaiting: list[tuple[datetime, int, bool]] = []
    calls: list[tuple[datetime, str]] = []
    for n in range(25):
        at = base + timedelta(minutes=n // 3)  # three rows share each time: the id breaks the ties
        call_id = f"call-{n:02d}"
        store.open_call(call_id, "text" if n % 2 else "sip", None, at)
        calls.append((at, call_id))
        if n % 6 == 5:
            continue  # a call without report
        report_id = store.save_report(
            call_id, ReportDraft("proprete", f"rue {n}", "dépôt sauvage", n % 4 == 0, False), created_at=at
        )
        if n in (3, 4):
            store.validate_report(report_id, "x.relecteur")
        else:
            awaiting.append((at, report_id, n % 4 == 0))
    Accounts(store).add(AGENT, "agent", PASSWORD, now=base)
    site = await make_site(store, settings_with(page_size="10"))
    agent = await site.person(AGENT)

    queue = await _walk(agent.client, "/console/signalements", r'<th scope="row"><a href="/console/signalements/(\d+)"')
    assert [len(page) for page in queue] == [10, 9]
    assert [int(i) for page in queue for i in page] == [report_id for _, report_id, _ in sorted(awaiting)]

    dangerous = await _walk(agent.client, "/console/signalements?danger=oui", r'href="/console/signalements/(\d+)"')
    assert [len(page) for page in dangerous] == [6]
    assert [int(i) for page in dangerous for i in page] == [rid for _, rid, danger in sorted(awaiting) if danger]

    listed = await _walk(agent.client, "/console/appels", CALL_LINK)
    assert [len(page) for page in listed] == [10, 10, 5]
    newest_first = [call_id for _, call_id in sorted(calls, key=lambda c: (c[0], int(c[1][5:])), reverse=True)]
    assert [call_id for page in listed for call_id in page] == newest_first

    texts = await _walk(
        agent.client, "/console/appels?canal=text", r'<th scope="row"><a href="/console/appels/([^"]+)"'
    )
    assert [len(page) for page in texts] == [10, 2]
    assert [c for page in texts for c in page] == [c for c in newest_first if int(c[5:]) % 2]


async def test_a_forged_cursor_is_a_400(make_site: SiteFactory, store: Store) -> None:
    seed(store)
    site = await make_site(store)
    agent = await site.person(AGENT)
    for cursor in (
        "n-importe-quoi",
        "~",
        "2026-01-01T00:00:00~5",  # no zone
        "2026-01-01T00:00:00+00:00~99999999999999999999999",
        "2026-01-01T00:00:00+00:00~-5",
        "2026-01-01T00:00:00+00:00~1_0",
        "0001-01-01T00:00:00+14:00~1",
        "9999-12-31T23:59:59-12:00~1",
    ):
        for path, key in (("/console/signalements", "apres"), ("/console/appels", "avant")):
            response = await agent.client.get(path, params={key: cursor})
            assert response.status == 400, (path, cursor)
            assert 'lang="fr"' in await response.text()


async def test_out_of_range_dates_are_a_400(make_site: SiteFactory, store: Store) -> None:
    seed(store)
    site = await make_site(store)
    supervisor = await site.person(SUPERVISOR)
    for query in ({"du": "0001-01-01"}, {"au": "9999-12-31"}, {"du": "2026-02-01", "au": "2026-01-01"}):
        assert (await supervisor.client.get("/console/appels", params=query)).status == 400, query
        searched = await supervisor.post("/console/appels/recherche", {"q": "rue", **query})
        assert searched.status == 400, query
