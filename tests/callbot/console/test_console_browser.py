"""The supervisors' console in headless Chromium, served by the same app as the web chat, which talks to the real
trained dialogue: reports made by text conversations are validated, corrected, rejected; two supervisors collide;
CSRF, lockout, roles, logout and cookies are checked from the browser and from plain HTTP.

The server runs in a thread with its own event loop, so the tests drive Selenium and plain HTTP synchronously.
Full-page screenshots of each page (1280x800) are left in SCREENSHOTS for a person to look at.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import tempfile
import threading
import urllib.parse
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from callbot.config import REPO_ROOT, load_settings
from callbot.console import Console, add_console_routes
from callbot.console.access import CookieNames, sessions_config
from callbot.console.render import PARIS
from callbot.metrics import CallMetrics
from callbot.web.app import Readiness, create_app
from callbot.web.chat import ChatService, add_chat_routes
from dialogue.client import DialogueClient
from signalements import Store, StoreWriter
from signalements.models import AuditEntry
from tests.support.chromium import needs_chromium, start_chromium

pytestmark = needs_chromium
T = TypeVar("T")
SCREENSHOTS = Path(tempfile.gettempdir()) / "callbot-console-screenshots"
AXE = REPO_ROOT / "var" / "axe-core" / "axe.min.js"  # scripts/setup.sh test puts it there
PASSWORD = "quinze-caracteres-au-moins"
ENVIRON = {
    "CALLBOT_CONSOLE_SECURE_COOKIES": "true",  # Chromium keeps Secure (and __Host-) cookies on http://localhost
    "CALLBOT_CONSOLE_MAX_FAILED_LOGINS": "3",
    "CALLBOT_CHAT_OPENS_PER_CLIENT_PER_MINUTE": "100",
}
ACCOUNTS = {
    "c.martin": "superviseur",
    "l.petit": "superviseur",
    "s.moreau": "agent",
    "a.roux": "admin",
    "v.oubli": "superviseur",  # the one who mistypes their password
}
# What residents type in the chat, one report each: the problem and the place in one line, then no danger, no
# call back, and the summary confirmed.
CONVERSATIONS = {
    "validated": "bonsoir le réverbère reste éteint au 12 rue paradis à marseille",
    "corrected": "la chaussée est fissurée sur toute la largeur au 30 boulevard michelet à marseille",
    "rejected": "le conteneur à ordures déborde au 5 cours julien à marseille",
    "conflict": "un banc public a été cassé au 3 place castellane à marseille",
    "untouched": "une bouche d'égout dégage une odeur infecte au 9 rue de la loge à marseille",
}
FOLLOW_UP = ("non aucun danger", "non inutile", "oui tout est juste")


# -- the server --------------------------------------------------------------------------------------------------


@dataclass
class Site:
    port: int
    store: Store
    console: Console
    loop: asyncio.AbstractEventLoop
    writer: StoreWriter
    reports: dict[str, int] = field(default_factory=dict)  # report id by conversation name
    calls: dict[str, str] = field(default_factory=dict)  # the conversation's call id

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)


@dataclass(frozen=True)
class Reply:
    status: int
    location: str | None
    cookies: dict[str, str]
    body: str


def fetch(
    site: Site,
    method: str,
    path: str,
    *,
    form: dict[str, str] | None = None,
    json_body: Any = None,
    cookies: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One plain HTTP request (no redirect followed, cookies only as given)."""
    sent = dict(headers or {})
    body: bytes | None = None
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        body = json.dumps(json_body).encode()
        sent["Content-Type"] = "application/json"
    if cookies:
        sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    connection = http.client.HTTPConnection("localhost", site.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        jar: SimpleCookie = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        return Reply(
            response.status,
            response.headers.get("Location"),
            {name: morsel.value for name, morsel in jar.items()},
            response.read().decode("utf-8"),
        )
    finally:
        connection.close()


def converse(site: Site, first_line: str) -> tuple[str, int]:
    """A text conversation through the chat API that ends with a saved report: (call id, report id)."""
    opened = fetch(site, "POST", "/chat/sessions")
    assert opened.status == 201, opened.body
    session = json.loads(opened.body)["session"]
    reply: dict[str, Any] = {}
    for line in (first_line, *FOLLOW_UP):
        answer = fetch(site, "POST", f"/chat/sessions/{session}/messages", json_body={"text": line})
        assert answer.status == 200, answer.body
        reply = json.loads(answer.body)
    assert reply["ended"] and reply["report_id"] is not None, f"{first_line!r} made no report: {reply}"
    return session, int(reply["report_id"])


@pytest.fixture(scope="module")
def site(dialogue_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from callbot.console import login

    login._failures_by_address.clear()  # other modules' wrong logins from 127.0.0.1 must not block these
    settings = load_settings(environ=ENVIRON)
    store = Store(dialogue_server.database_url, dialogue_server.pseudonym_key)
    console = Console.build(store, settings)
    now = datetime.now(UTC)
    for name, role in ACCOUNTS.items():
        console.accounts.add(name, role, PASSWORD, now=now)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="console-server", daemon=True)
    thread.start()

    async def start() -> tuple[TestServer, StoreWriter, DialogueClient]:
        writer = StoreWriter(store, spill_path=tmp_path_factory.mktemp("console") / "spill.jsonl")
        dialogue = DialogueClient(dialogue_server.url, timeout_s=30, token=dialogue_server.token)
        service = ChatService(dialogue, store, writer, settings.prompts, settings.chat)

        def routes(app: web.Application) -> None:
            add_chat_routes(app, service)
            add_console_routes(app, console)

        app = create_app(Readiness(), CallMetrics(), None, routes, accounts=console.accounts, console=settings.console)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        return server, writer, dialogue

    server, writer, dialogue = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)
    site = Site(server.port or 0, store, console, loop, writer)
    try:
        with ThreadPoolExecutor(max_workers=len(CONVERSATIONS)) as pool:
            made = dict(
                zip(CONVERSATIONS, pool.map(lambda line: converse(site, line), CONVERSATIONS.values()), strict=True)
            )
        site.calls = {name: call for name, (call, _) in made.items()}
        site.reports = {name: report for name, (_, report) in made.items()}
        site.run(writer.flush())  # the transcripts are in the store
        yield site
    finally:
        site.run(server.close())
        site.run(dialogue.close())
        site.run(writer.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


# -- plain HTTP, as a second person or a forger --------------------------------------------------------------


class HttpUser:
    """A console user outside the browser: the session cookie and CSRF token held by hand."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.cookies: dict[str, str] = {}
        self.names = CookieNames.for_settings(site.console.settings.console)

    def log_in(self, name: str, password: str = PASSWORD) -> HttpUser:
        page = fetch(self.site, "GET", "/console/login")
        token = _hidden(page.body, "login_token")
        done = fetch(
            self.site,
            "POST",
            "/console/login",
            form={"login_token": token, "name": name, "password": password},
            cookies={self.names.login: page.cookies[self.names.login]},
        )
        assert done.status == 303 and done.location == "/console/", done.body
        self.cookies = {self.names.session: done.cookies[self.names.session]}
        return self

    def get(self, path: str) -> Reply:
        return fetch(self.site, "GET", path, cookies=self.cookies)

    def post(self, path: str, form: dict[str, str], headers: dict[str, str] | None = None) -> Reply:
        return fetch(self.site, "POST", path, form=form, cookies=self.cookies, headers=headers)

    def decision_form(self, report_id: int) -> dict[str, str]:
        """The hidden fields of the report page's decision form, as the page gives them now."""
        page = self.get(f"/console/signalements/{report_id}")
        assert page.status == 200, page.body
        return {"csrf_token": _hidden(page.body, "csrf_token"), "version": _hidden(page.body, "version")}


def _hidden(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


# -- the browser ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium"))
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium: Any, site: Site) -> Iterator[Any]:
    """The module's Chromium, logged out: each test starts without cookies."""
    chromium.get(f"{site.url}/healthz")
    chromium.delete_all_cookies()
    yield chromium
    chromium.delete_all_cookies()


def by_css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def click_and_load(driver: Any, element: Any) -> None:
    """Click something that loads a new page, and wait until it has."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    old = by_css(driver, "html")
    element.click()

    def gone(_: Any) -> bool:
        try:
            old.is_enabled()
        except WebDriverException:  # stale, or (mid-navigation) "node does not belong to the document"
            return True
        return False

    WebDriverWait(driver, 30).until(gone)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def type_into(driver: Any, selector: str, text: str) -> None:
    field_ = by_css(driver, selector)
    field_.clear()
    field_.send_keys(text)


def log_in(driver: Any, site: Site, name: str, password: str = PASSWORD) -> None:
    driver.get(f"{site.url}/console/login")
    type_into(driver, "#name", name)
    type_into(driver, "#password", password)
    click_and_load(driver, by_css(driver, "form button[type=submit]"))


def h1(driver: Any) -> str:
    return str(by_css(driver, "h1").text)


def alert(driver: Any) -> str:
    return str(by_css(driver, "main .alert").text)


def post_from_page(driver: Any, path: str, fields: dict[str, str], headers: dict[str, str] | None = None) -> Any:
    """A POST made by the page's own JavaScript (same origin, the browser's cookies): {status, text}."""
    return driver.execute_async_script(
        """
        const [path, fields, headers, done] = arguments;
        fetch(path, {method: "POST", body: new URLSearchParams(fields), headers: headers, credentials: "same-origin"})
          .then(async (response) => done({status: response.status, text: await response.text()}))
          .catch((error) => done({status: 0, text: String(error)}));
        """,
        path,
        fields,
        headers or {},
    )


A11Y_BASICS = """
const problems = [];
if (document.documentElement.lang !== "fr") problems.push("html lang is not fr");
const titles = document.querySelectorAll("h1");
if (titles.length !== 1) problems.push(titles.length + " h1");
for (const input of document.querySelectorAll("input, select, textarea")) {
  if (input.type === "hidden") continue;
  const labelled = (input.id && document.querySelector(`label[for="${input.id}"]`)) || input.closest("label")
    || input.getAttribute("aria-label") || input.getAttribute("aria-labelledby");
  if (!labelled) problems.push("no label: " + input.outerHTML);
}
for (const table of document.querySelectorAll("table")) {
  if (!table.querySelector("th")) problems.push("table without th: " + table.outerHTML.slice(0, 80));
}
for (const button of document.querySelectorAll("button, a")) {
  if (!button.textContent.trim() && !button.getAttribute("aria-label")) problems.push("no text: " + button.outerHTML);
}
if (!document.title.trim()) problems.push("no title");
return problems;
"""


def check_page(driver: Any, name: str) -> None:
    """The page's accessibility basics (and axe-core's WCAG 2.1 AA rules when installed), and its screenshot."""
    assert driver.execute_script(A11Y_BASICS) == [], driver.current_url
    if AXE.is_file():
        driver.execute_script(AXE.read_text(encoding="utf-8"))
        result = driver.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
              .then((r) => done(r.violations.map((v) => v.id + ": " + v.nodes.map((n) => n.html).join(" | "))))
              .catch((e) => done(["axe failed: " + e]));
            """
        )
        assert result == [], f"{driver.current_url}: {result}"
    SCREENSHOTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1}},
    )
    (SCREENSHOTS / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


# -- the tests -----------------------------------------------------------------------------------------------


def test_a_supervisor_validates_a_report_from_a_text_conversation(site: Site, browser: Any) -> None:
    report_id = site.reports["validated"]
    browser.get(f"{site.url}/console/signalements")
    assert browser.current_url.endswith("/console/login"), "no session: the login page"
    check_page(browser, "login")
    log_in(browser, site, "c.martin")
    assert browser.current_url.endswith("/console/signalements")
    assert h1(browser) == "Signalements à valider"
    row = by_css(browser, f'a[href="/console/signalements/{report_id}"]').find_element("xpath", "ancestor::tr")
    assert "Éclairage public" in row.text, row.text
    assert "rue Paradis" in row.text and "Texte" in row.text
    check_page(browser, "queue")

    click_and_load(browser, by_css(browser, f'a[href="/console/signalements/{report_id}"]'))
    assert h1(browser) == f"Signalement n° {report_id} À valider"
    transcript = by_css(browser, ".transcript").text
    assert CONVERSATIONS["validated"] in transcript and "assistant automatique" in transcript
    assert FOLLOW_UP[-1] in transcript
    assert by_css(browser, "#place").get_attribute("value") == site.store.get_report(report_id).place
    check_page(browser, "report")

    click_and_load(browser, by_css(browser, '#decision button[value="validate"]'))
    assert browser.current_url.endswith(f"/console/signalements/{report_id}")
    assert by_css(browser, "h1 .status").text == "Validé"
    history = by_css(browser, "ol.audit").text
    assert "c.martin a validé" in history
    assert all_css(browser, "#decision") == [], "a decided report is no longer editable"
    report = site.store.get_report(report_id)
    assert (report.status, report.reviewed_by, report.version) == ("validated", "c.martin", 2)
    check_page(browser, "report-validated")


def test_a_supervisor_corrects_the_place_and_the_danger_then_validates(site: Site, browser: Any) -> None:
    report_id = site.reports["corrected"]
    before = site.store.get_report(report_id)
    assert before.danger is False
    log_in(browser, site, "c.martin")
    browser.get(f"{site.url}/console/signalements/{report_id}")
    type_into(browser, "#place", "32 boulevard Michelet, devant la pharmacie")
    by_css(browser, 'input[name="danger"][value="oui"]').click()
    click_and_load(browser, by_css(browser, '#decision button[value="correct"]'))

    assert by_css(browser, "h1 .status").text == "Validé"
    history = by_css(browser, "ol.audit").text
    assert "c.martin a corrigé puis validé" in history
    assert f"Lieu : « {before.place} » → « 32 boulevard Michelet, devant la pharmacie »" in history, history
    assert "Danger : « non » → « oui »" in history, history
    after = site.store.get_report(report_id)
    assert after.status == "validated" and after.reviewed_by == "c.martin"
    assert after.place == "32 boulevard Michelet, devant la pharmacie" and after.danger is True
    assert after.description == before.description and after.category == before.category
    entry = site.console.decisions.audit(report_id)[-1]
    assert entry.action == "corrected" and entry.changes["place"] == [before.place, after.place]


def test_a_rejection_needs_a_reason(site: Site, browser: Any) -> None:
    report_id = site.reports["rejected"]
    log_in(browser, site, "l.petit")
    browser.get(f"{site.url}/console/signalements/{report_id}")
    browser.execute_script("document.body.dataset.unsent = 'yes'")
    by_css(browser, 'form.reject button[value="reject"]').click()  # the browser itself asks for the reason first
    assert browser.execute_script("return document.getElementById('note').validity.valueMissing") is True
    assert browser.execute_script("return document.body.dataset.unsent") == "yes", "nothing was sent"
    type_into(browser, "#note", "   ")  # blanks pass the browser's check, not the server's
    click_and_load(browser, by_css(browser, 'form.reject button[value="reject"]'))
    assert alert(browser) == "Indiquez le motif du rejet."
    assert site.store.get_report(report_id).status == "awaiting_validation"

    type_into(browser, "#note", "Doublon du signalement de la veille")
    click_and_load(browser, by_css(browser, 'form.reject button[value="reject"]'))
    assert by_css(browser, "h1 .status").text == "Rejeté"
    assert "l.petit a rejeté : « Doublon du signalement de la veille »" in by_css(browser, "ol.audit").text
    report = site.store.get_report(report_id)
    assert (report.status, report.reviewed_by, report.review_note) == (
        "rejected",
        "l.petit",
        "Doublon du signalement de la veille",
    )


def test_the_second_of_two_supervisors_gets_a_conflict(site: Site, browser: Any) -> None:
    report_id = site.reports["conflict"]
    log_in(browser, site, "l.petit")
    browser.get(f"{site.url}/console/signalements/{report_id}")  # the form now holds version 1
    first = HttpUser(site).log_in("c.martin")
    stale = first.decision_form(report_id)
    assert first.post(f"/console/signalements/{report_id}", {**stale, "action": "validate"}).status == 303

    type_into(browser, "#note", "Hors du territoire de la Métropole")
    click_and_load(browser, by_css(browser, 'form.reject button[value="reject"]'))
    assert alert(browser).startswith("Conflit : ce signalement a été traité par quelqu'un d'autre")
    assert by_css(browser, "h1 .status").text == "Validé", "the page now shows the current version"
    assert "c.martin a validé" in by_css(browser, "ol.audit").text
    check_page(browser, "report-conflict")
    again = first.post(f"/console/signalements/{report_id}", {**stale, "action": "reject", "note": "doublon"})
    assert again.status == 409 and "Conflit" in again.body
    report = site.store.get_report(report_id)
    assert (report.status, report.reviewed_by, report.review_note) == ("validated", "c.martin", None)
    assert [entry.action for entry in site.console.decisions.audit(report_id)] == ["validated"]


def test_csrf_and_cross_site_requests_are_refused(site: Site, browser: Any) -> None:
    report_id = site.reports["untouched"]
    log_in(browser, site, "c.martin")
    browser.get(f"{site.url}/console/signalements/{report_id}")
    version = by_css(browser, '#decision input[name="version"]').get_attribute("value")
    refused = post_from_page(browser, f"/console/signalements/{report_id}", {"action": "validate", "version": version})
    assert refused["status"] == 403 and "Jeton de sécurité (CSRF)" in refused["text"]

    holder = HttpUser(site).log_in("l.petit")
    form = holder.decision_form(report_id)
    path = f"/console/signalements/{report_id}"
    assert holder.post(path, {"action": "validate", "version": form["version"]}).status == 403
    wrong = holder.post(path, {"action": "validate", "version": form["version"], "csrf_token": "x" * 43})
    assert wrong.status == 403
    foreign = {"Origin": "https://ailleurs.example"}
    cross = holder.post(path, {**form, "action": "validate"}, headers=foreign)
    assert cross.status == 403 and "autre site" in cross.body
    assert holder.post(path, {**form, "action": "validate"}, headers={"Sec-Fetch-Site": "cross-site"}).status == 403
    report = site.store.get_report(report_id)
    assert (report.status, report.version, report.reviewed_by) == ("awaiting_validation", 1, None)
    assert site.console.decisions.audit(report_id) == []


def test_wrong_passwords_lock_the_account_until_an_admin_unlocks_it(site: Site, browser: Any) -> None:
    limit = site.console.settings.console.max_failed_logins
    for _ in range(limit):
        log_in(browser, site, "v.oubli", "pas-le-bon-mot-de-passe")
        assert alert(browser) == "Identifiant ou mot de passe incorrect."
    assert site.console.accounts.get("v.oubli").locked_until is not None
    log_in(browser, site, "v.oubli")  # the right password, too late
    assert alert(browser).startswith("Ce compte est verrouillé après trop d'essais infructueux.")
    assert browser.current_url.endswith("/console/login")
    check_page(browser, "login-locked")

    log_in(browser, site, "a.roux")
    by_css(browser, 'nav a[href="/console/comptes"]').click()
    row = by_css(browser, "table").find_element("xpath", ".//tr[th[normalize-space()='v.oubli']]")
    assert "Verrouillé" in row.text
    check_page(browser, "accounts")
    click_and_load(browser, row.find_element("xpath", ".//button[contains(., 'Déverrouiller')]"))
    row = by_css(browser, "table").find_element("xpath", ".//tr[th[normalize-space()='v.oubli']]")
    assert "Actif" in row.text and site.console.accounts.get("v.oubli").locked_until is None
    assert "Déverrouiller" not in row.text, "only a locked account offers it"
    own = by_css(browser, "table").find_element("xpath", ".//tr[th[normalize-space()='a.roux']]")
    assert "Désactiver" not in own.text, "an admin cannot disable their own account"

    browser.delete_all_cookies()
    log_in(browser, site, "v.oubli")
    assert browser.current_url.endswith("/console/signalements")


def test_an_agent_works_call_backs_and_cannot_decide(site: Site, browser: Any) -> None:
    report_id = site.reports["untouched"]
    callback_id = site.store.request_callback(site.calls["untouched"], "outside_hours", "0611223344", datetime.now(UTC))
    log_in(browser, site, "s.moreau")
    assert browser.current_url.endswith("/console/rappels"), "an agent starts on the call-back queue"
    assert h1(browser) == "Rappels : à rappeler"
    row = by_css(browser, f"#note-{callback_id}").find_element("xpath", "ancestor::tr")
    assert "0611223344" in row.text and "Hors horaires" in row.text
    check_page(browser, "callbacks")

    browser.get(f"{site.url}/console/signalements/{report_id}")
    assert all_css(browser, "#decision") == [] and all_css(browser, "#note") == [], "no decision form"
    assert by_css(browser, "dl.fields").text
    token = by_css(browser, 'form.who input[name="csrf_token"]').get_attribute("value")
    forged = post_from_page(
        browser,
        f"/console/signalements/{report_id}",
        {"action": "validate", "version": "1", "csrf_token": token},
    )
    assert forged["status"] == 403 and "Votre rôle ne permet pas cette action" in forged["text"]
    assert site.store.get_report(report_id).status == "awaiting_validation"

    browser.get(f"{site.url}/console/rappels")
    type_into(browser, f"#note-{callback_id}", "Rappelée à 9 h, elle confirme l'odeur")
    row = by_css(browser, f"#note-{callback_id}").find_element("xpath", "ancestor::form")
    click_and_load(browser, row.find_element("css selector", 'button[value="done"]'))
    assert all_css(browser, f"#note-{callback_id}") == [], "no longer waiting"
    browser.get(f"{site.url}/console/rappels?statut=done")
    handled = by_css(browser, "tbody").text
    assert "s.moreau, " in handled and "« Rappelée à 9 h, elle confirme l'odeur »" in handled
    done = [cb for cb in site.console.decisions.callbacks(status="done") if cb.id == callback_id]
    assert [(cb.handled_by, cb.note) for cb in done] == [("s.moreau", "Rappelée à 9 h, elle confirme l'odeur")]
    with site.store.reading() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.callback_id == callback_id)).all()
        assert [(e.actor, e.action, e.note) for e in entries] == [
            ("s.moreau", "callback_done", "Rappelée à 9 h, elle confirme l'odeur")
        ]


def test_every_page_reads_well(site: Site, browser: Any) -> None:
    call_id = site.calls["validated"]
    log_in(browser, site, "c.martin")
    browser.get(f"{site.url}/console/appels")
    assert h1(browser) == "Appels"
    link = by_css(browser, f'a[href="/console/appels/{call_id}"]')
    assert "Signalement enregistré" in link.find_element("xpath", "ancestor::tr").text
    check_page(browser, "calls")
    click_and_load(browser, link)
    assert h1(browser).startswith("Appel du ")
    assert CONVERSATIONS["validated"] in by_css(browser, ".transcript").text
    assert f"n° {site.reports['validated']}" in by_css(browser, "main").text
    check_page(browser, "call")

    browser.get(f"{site.url}/console/appels")
    type_into(browser, "#q", "cours julien")
    click_and_load(browser, by_css(browser, "form[role=search] button"))
    assert any(CONVERSATIONS["rejected"] in row.text for row in all_css(browser, "tbody tr"))
    check_page(browser, "search")

    browser.get(f"{site.url}/console/tableau-de-bord")
    assert h1(browser) == "Tableau de bord"
    today = by_css(browser, "section.card")
    shown = int(today.find_element("xpath", ".//dt[.='Appels']/following-sibling::dd[1]").text.replace("\u202f", ""))
    midnight = datetime.combine(datetime.now(PARIS).date(), time(), PARIS)
    made_today = sum(site.store.get_call(call).summary.started_at >= midnight for call in site.calls.values())
    assert shown >= made_today, "today's calls include this module's conversations (unless made before midnight)"
    check_page(browser, "dashboard")


def test_logging_out_ends_the_session(site: Site, browser: Any) -> None:
    names = CookieNames.for_settings(site.console.settings.console)
    log_in(browser, site, "l.petit")
    token = browser.get_cookie(names.session)["value"]
    assert HttpUser(site).get("/console/signalements").status == 303
    holder = HttpUser(site)
    holder.cookies = {names.session: token}
    assert holder.get("/console/signalements").status == 200, "the cookie opens the console"
    click_and_load(browser, by_css(browser, "form.who button"))
    assert browser.current_url.endswith("/console/login")
    assert browser.get_cookie(names.session) is None
    closed = holder.get("/console/signalements")
    assert closed.status == 303 and closed.location == "/console/login", "the old cookie opens nothing"
    limits = sessions_config(site.console.settings.console)
    assert site.console.accounts.session(token, datetime.now(UTC), **limits) is None, "and the store forgot it"


def test_the_session_cookie_is_secure_httponly_and_strict(site: Site, browser: Any) -> None:
    names = CookieNames.for_settings(site.console.settings.console)
    browser.get(f"{site.url}/console/login")
    login_cookie = browser.get_cookie(names.login)
    assert login_cookie is not None and login_cookie["httpOnly"] and login_cookie["sameSite"] == "Strict"
    log_in(browser, site, "c.martin")
    cookie = browser.get_cookie(names.session)
    assert names.session == "__Host-callbot_session"
    assert cookie is not None, [c["name"] for c in browser.get_cookies()]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["secure"], cookie["path"]) == (True, "Strict", True, "/")
    assert browser.get_cookie(names.login) is None, "the login form's token is dropped once logged in"
    assert names.session not in browser.execute_script("return document.cookie"), "scripts cannot read it"
