"""Console page times with a store of 100,000 calls: each page through the real app and real HTTP.

    .venv/bin/python benchmarks/console.py [--calls 100000] [--requests 20] [--postgres URL | --no-postgres]
                                           [--sqlite-path FILE]

Fills a fresh SQLite store (and a PostgreSQL one: --postgres URL, else a throwaway PostgreSQL 15 started as
tests/support/postgres.py does, skipped when its binaries are missing) with N calls over the last 90 days: ~10
turns each with the recogniser's words and confidences, a report for ~40 % of them (awaiting, validated or
rejected, with their audit entries), handoffs for ~10 %, call-back requests for ~3 %. Rows go in by bulk inserts
(SQLAlchemy core, thousands per statement). Then a supervisor logs in through the login form of the app served
by aiohttp's TestServer, and each page is requested --requests times after one warm-up: median, p95 and max in
milliseconds, against the target of 200 ms. --sqlite-path keeps the SQLite store in FILE, and reuses it when
FILE already exists (no refill).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, insert, select, text

from callbot.config import load_settings
from callbot.console import Console, add_console_routes
from callbot.metrics import CallMetrics
from callbot.web.app import Readiness, create_app
from signalements import Store
from signalements.accounts import Accounts
from signalements.api import add_routes as add_api_routes
from signalements.models import AuditEntry, Base, Call, CallbackRequest, Handoff, Report, Turn
from tests.support.postgres import PostgresServer, PostgresUnavailable

KEY = b"benchmark-pseudonym-key-0123456789"
NAME, PASSWORD = "m.bench", "mot-de-passe-du-banc-d-essai"
DAYS = 90
CHUNK = 2_000  # calls per transaction while filling
TARGET_MS = 200.0

CATEGORIES = ["chaussee_trottoirs", "eclairage_public", "proprete", "tags_graffitis", "mobilier_urbain",
              "espaces_verts_arbres", "signalisation", "eau_assainissement", "stationnement_vehicule", "nuisibles",
              "autre"]  # fmt: skip
COMMUNES = [*(f"Marseille {n}e" for n in range(2, 17)), "Marseille 1er", "Aix-en-Provence", "Aubagne", "La Ciotat",
            "Martigues", "Vitrolles", "Marignane", "Istres", "Salon-de-Provence"]  # fmt: skip
STREETS = ["rue de Rome", "avenue du Prado", "boulevard Baille", "rue Paradis", "cours Mirabeau", "rue d'Italie",
           "boulevard Michelet", "avenue de la Capelette", "rue Saint-Ferréol", "chemin du Roucas Blanc"]  # fmt: skip
CALLER_LINES = [
    "il y a un trou dans la chaussée devant chez moi",
    "le lampadaire de ma rue ne marche plus depuis trois jours",
    "des poubelles débordent sur le trottoir",
    "un tag sur le mur de l'école",
    "un banc cassé dans le parc",
    "une branche est tombée sur la route",
    "on a arraché le panneau du carrefour",
    "une fuite d'eau sur la chaussée",
    "une voiture ventouse stationnée là des semaines",
    "des rats près des conteneurs",
    "oui c'est bien ça",
    "non ce n'est pas dangereux",
    "je préfère qu'on me rappelle",
]
BOT_LINES = [
    "Bonjour, vous êtes en relation avec l'assistant de la Métropole. Que souhaitez-vous signaler ?",
    "Dans quelle commune se trouve le problème ?",
    "À quelle adresse exactement ?",
    "Y a-t-il un danger immédiat ?",
    "Souhaitez-vous être rappelé ?",
    "Je récapitule votre signalement. Est-ce correct ?",
    "Merci, votre signalement est enregistré.",
]
OUTCOMES = [("completed", 20), ("caller_hung_up", 15), ("transferred", 8), ("transfer_failed", 3),
            ("handoff_unavailable", 4), ("too_long", 1), ("error", 1)]  # fmt: skip
REASONS = ["caller_request", "dtmf", "low_confidence", "no_input", "emergency", "out_of_scope", "outside_hours"]


# -- filling the store --------------------------------------------------------------------------------------


@dataclass
class Counts:
    calls: int = 0
    turns: int = 0
    reports: int = 0
    awaiting: int = 0
    handoffs: int = 0
    callbacks: int = 0
    audit: int = 0


def _words(line: str, rng: random.Random) -> tuple[list[list[Any]], float]:
    confidences = [round(min(1.0, max(0.05, rng.gauss(0.82, 0.15))), 2) for _ in line.split()]
    return [[w, c] for w, c in zip(line.split(), confidences, strict=True)], sum(confidences) / len(confidences)


def _call_rows(
    store: Store, rng: random.Random, first_id: int, starts: list[datetime], counts: Counts, now: datetime
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The rows of one chunk of calls, table by table (calls first: the others refer to them)."""
    calls: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    reports: list[dict[str, Any]] = []
    handoffs: list[dict[str, Any]] = []
    callbacks: list[dict[str, Any]] = []
    audit: list[dict[str, Any]] = []
    outcomes, weights = zip(*OUTCOMES, strict=True)
    for offset, started in enumerate(starts):
        call_id = first_id + offset
        channel = rng.choices(("sip", "webrtc", "text"), (70, 10, 20))[0]
        at = started
        confidences: list[float] = []
        for seq in range(1, rng.randint(6, 14) + 1):
            speaker = "bot" if seq % 2 else "caller"
            line = rng.choice(BOT_LINES if speaker == "bot" else CALLER_LINES)
            words, confidence = (None, None) if speaker == "bot" else _words(line, rng)
            if confidence is not None:
                confidences.append(confidence)
            ended = at + timedelta(seconds=rng.uniform(1.5, 6))
            turns.append(
                {"call_id": call_id, "seq": seq, "speaker": speaker, "text": line, "asr_confidence": confidence,
                 "intent": None, "intent_confidence": None, "words": words, "started_at": at, "ended_at": ended}
            )  # fmt: skip
            at = ended + timedelta(seconds=rng.uniform(0.3, 1.5))
        reported = rng.random() < 0.4
        outcome = "report_saved" if reported else rng.choices(outcomes, weights)[0]
        calls.append(
            {"id": call_id, "public_id": f"{rng.getrandbits(128):032x}", "channel": channel,
             "caller_pseudonym": None if channel == "text" else store.pseudonymise(f"+336{rng.randrange(10**8):08d}"),
             "started_at": started, "ended_at": at, "outcome": outcome, "node": "bench", "collected_fields": None,
             "cpu_seconds": round(rng.uniform(0.5, 6.0), 3),
             "reply_latencies_ms": [rng.randint(450, 1600) for _ in range(len(confidences))],
             "mean_asr_confidence": sum(confidences) / len(confidences) if confidences else None}
        )  # fmt: skip
        if reported:
            counts.reports += 1
            created = at - timedelta(seconds=5)
            age = now - created
            status = (
                "awaiting_validation"
                if rng.random() < (0.9 if age < timedelta(days=3) else 0.2)
                else rng.choices(("validated", "rejected"), (85, 15))[0]
            )
            consent = rng.random() < 0.3
            decided = status != "awaiting_validation"
            reviewed_at = created + timedelta(hours=rng.uniform(0.2, 48)) if decided else None
            reports.append(
                {"id": counts.reports, "call_id": call_id, "category": rng.choice(CATEGORIES),
                 "category_other_words": None, "place": f"{rng.randint(1, 200)} {rng.choice(STREETS)}",
                 "street_number": str(rng.randint(1, 200)), "street_name": rng.choice(STREETS),
                 "street_verified": rng.choice((True, True, False, None)), "commune": rng.choice(COMMUNES),
                 "landmark": None, "description": rng.choice(CALLER_LINES), "danger": rng.random() < 0.1,
                 "callback_consent": consent, "callback_number": f"06{rng.randrange(10**8):08d}" if consent else None,
                 "status": status, "created_at": created, "reviewed_by": "m.durand" if decided else None,
                 "reviewed_at": reviewed_at, "review_note": "doublon" if status == "rejected" else None,
                 "version": 2 if decided else 1}
            )  # fmt: skip
            if decided:
                audit.append(
                    {"at": reviewed_at, "actor": "m.durand", "action": status, "report_id": counts.reports,
                     "callback_id": None, "changes": {}, "note": "doublon" if status == "rejected" else None}
                )  # fmt: skip
            if status == "awaiting_validation":
                counts.awaiting += 1
        if rng.random() < 0.1 or outcome in ("transferred", "transfer_failed"):
            handoffs.append(
                {"call_id": call_id, "at": at - timedelta(seconds=10), "reason": rng.choice(REASONS),
                 "target": "sip:agents@pbx", "succeeded": outcome == "transferred",
                 "fields": {"category": rng.choice(CATEGORIES)}}
            )  # fmt: skip
        if rng.random() < 0.03:
            handled = rng.random() < 0.9 and now - started > timedelta(days=1)
            callbacks.append(
                {"call_id": call_id, "requested_at": at, "reason": rng.choice(("outside_hours", "transfer_failed")),
                 "number": f"06{rng.randrange(10**8):08d}",
                 "status": rng.choice(("done", "done", "no_answer")) if handled else "pending", "note": None,
                 "handled_by": "l.petit" if handled else None,
                 "handled_at": at + timedelta(hours=2) if handled else None, "version": 2 if handled else 1}
            )  # fmt: skip
    counts.calls += len(calls)
    counts.turns += len(turns)
    counts.handoffs += len(handoffs)
    counts.callbacks += len(callbacks)
    counts.audit += len(audit)
    yield "calls", calls
    yield "turns", turns
    yield "reports", reports
    yield "handoffs", handoffs
    yield "callback_requests", callbacks
    yield "audit_entries", audit


TABLES = ("calls", "turns", "reports", "handoffs", "callback_requests", "audit_entries")


def fill(store: Store, calls: int, now: datetime, seed: int = 20261205) -> Counts:
    """`calls` calls started over the last DAYS days (more by day than by night), ids in time order."""
    rng = random.Random(seed)
    starts: list[datetime] = []
    while len(starts) < calls:
        moment = now - timedelta(seconds=rng.uniform(60, DAYS * 86400))
        hour = moment.hour  # UTC: 6 to 20 h are the busy hours in Paris
        if 5 <= hour <= 19 or rng.random() < 0.15:
            starts.append(moment)
    starts.sort()
    counts = Counts()
    for first in range(0, calls, CHUNK):
        with store.writing() as session:
            for table, rows in _call_rows(store, rng, first + 1, starts[first : first + CHUNK], counts, now):
                if rows:
                    session.execute(insert(Base.metadata.tables[table]), rows)
    if store.backend == "postgresql":  # ids were given: move the sequences past them
        with store.writing() as session:
            for table in TABLES:
                session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 1)) FROM {table}")
                )
            session.execute(text("ANALYZE"))
    else:
        with store.writing() as session:
            session.execute(text("ANALYZE"))
    return counts


def counted(store: Store) -> Counts:
    with store.reading() as session:

        def count(model: Any, *where: Any) -> int:
            return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

        return Counts(
            count(Call),
            count(Turn),
            count(Report),
            count(Report, Report.status == "awaiting_validation"),
            count(Handoff),
            count(CallbackRequest),
            count(AuditEntry),
        )


def size_of(store: Store, sqlite_path: Path | None) -> str:
    if sqlite_path is not None:
        total = sum(p.stat().st_size for p in sqlite_path.parent.glob(sqlite_path.name + "*"))
    else:
        with store.reading() as session:
            total = int(session.scalar(text("SELECT pg_database_size(current_database())")) or 0)
    return f"{total / 1e6:.0f} MB"


# -- timing the pages ---------------------------------------------------------------------------------------


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    if found is None:
        raise RuntimeError(f"no {name} in the page")
    return found.group(1)


def _next(html: str) -> str | None:
    found = re.search(r'<p class="pager"><a href="([^"]+)"', html)
    return None if found is None else found.group(1).replace("&amp;", "&")


Request = Callable[[int], Awaitable[ClientResponse]]


@dataclass
class Timing:
    page: str
    times_ms: list[float]
    status: int
    size: int

    def quantile(self, q: float) -> float:
        ordered = sorted(self.times_ms)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def timed(page: str, request: Request, count: int) -> Timing:
    response = await request(-1)  # warm-up: not counted
    await response.read()
    times: list[float] = []
    status = size = 0
    for index in range(count):
        began = time.perf_counter()
        response = await request(index)
        body = await response.read()
        times.append((time.perf_counter() - began) * 1000)
        status, size = response.status, len(body)
    return Timing(page, times, status, size)


async def time_pages(store: Store, count: int, now: datetime) -> list[Timing]:
    settings = load_settings(environ={"CALLBOT_CONSOLE_SECURE_COOKIES": "false"})
    console = Console.build(store, settings)
    accounts = Accounts(store)
    if NAME not in {account.name for account in accounts.list()}:
        accounts.add(NAME, "superviseur", PASSWORD, now=now)

    def add_routes(app: web.Application) -> None:
        add_api_routes(app, store)
        add_console_routes(app, console)

    app = create_app(Readiness(), CallMetrics(), None, add_routes, accounts=console.accounts, console=settings.console)
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    try:
        login_page = await client.get("/console/login")
        token = _hidden(await login_page.text(), "login_token")
        logged = await client.post(
            "/console/login",
            data={"login_token": token, "name": NAME, "password": PASSWORD},
            allow_redirects=False,
        )
        if logged.status != 303:
            raise RuntimeError(f"login refused: {logged.status}")
        queue = await client.get("/console/signalements")
        html = await queue.text()
        csrf = _hidden(html, "csrf_token")
        deep, depth = "/console/signalements", 1
        while depth < 50:  # to the 50th page by the cursors, as a person clicking "Page suivante" would
            following = _next(html)
            if following is None:
                break
            deep, depth = "/console/signalements" + following, depth + 1
            html = await (await client.get(deep)).text()

        rng = random.Random(7)
        with store.reading() as session:
            awaiting = list(
                session.scalars(select(Report.id).where(Report.status == "awaiting_validation").limit(2000))
            )
            call_ids = list(session.scalars(select(Call.public_id).where(Call.id % 97 == 0)))
        reports = [rng.choice(awaiting) for _ in range(count + 1)]
        calls = [rng.choice(call_ids) for _ in range(count + 1)]
        today = now.date()
        month = {"du": (today - timedelta(days=30)).isoformat(), "au": today.isoformat()}

        def get(path: str, **query: str) -> Request:
            return lambda _: client.get(path, params=query)

        def search(words: str) -> Request:
            return lambda _: client.post("/console/appels/recherche", data={"csrf_token": csrf, "q": words, **month})

        pages: list[tuple[str, Request]] = [
            ("queue, first page", get("/console/signalements")),
            (f"queue, page {depth} (cursors)", get(deep)),
            ("queue, danger + commune", get("/console/signalements", danger="oui", commune="Marseille 6e")),
            ("report page", lambda i: client.get(f"/console/signalements/{reports[i]}")),
            ("calls", get("/console/appels")),
            ("calls, outcome transferred", get("/console/appels", issue="transferred")),
            ("calls, channel text", get("/console/appels", canal="text")),
            ("calls, confidence < 50 %", get("/console/appels", confiance_max="50")),
            ("calls, handoff reason dtmf", get("/console/appels", motif="dtmf")),
            ("calls, 31 days, outcome + channel", get("/console/appels", issue="completed", canal="webrtc", **month)),
            ("call page", lambda i: client.get(f"/console/appels/{calls[i]}")),
            ("search 31 days, frequent word", search("lampadaire")),
            ("search 31 days, absent word", search("hippopotame")),
            ("call-backs", get("/console/rappels")),
            ("dashboard", get("/console/tableau-de-bord")),
            ("export reports CSV, 31 days", get("/console/export/signalements.csv", **month)),
            ("export calls CSV, 31 days", get("/console/export/appels.csv", **month)),
            ("export calls CSV, 1 day", get("/console/export/appels.csv", du=today.isoformat(), au=today.isoformat())),
        ]
        return [await timed(name, request, count) for name, request in pages]
    finally:
        await client.close()


def print_table(engine: str, counts: Counts, size: str, fill_s: float | None, timings: list[Timing]) -> None:
    filled = f"filled in {fill_s:.0f} s" if fill_s is not None else "reused"
    print(
        f"\n{engine}: {counts.calls:,} calls, {counts.turns:,} turns, {counts.reports:,} reports "
        f"({counts.awaiting:,} awaiting), {counts.handoffs:,} handoffs, {counts.callbacks:,} call-backs, "
        f"{counts.audit:,} audit entries; {size}; {filled}"
    )
    print(f"{'page':<36} {'median':>8} {'p95':>8} {'max':>8}  {'status':>6} {'bytes':>9}")
    for t in timings:
        flag = "" if t.quantile(0.95) <= TARGET_MS else f"  over {TARGET_MS:.0f} ms"
        print(
            f"{t.page:<36} {statistics.median(t.times_ms):6.1f}ms {t.quantile(0.95):6.1f}ms "
            f"{max(t.times_ms):6.1f}ms  {t.status:>6} {t.size:>9,}{flag}"
        )


def run(engine: str, store: Store, args: argparse.Namespace, sqlite_path: Path | None, reuse: bool) -> None:
    now = datetime.now(UTC)
    fill_s: float | None = None
    if reuse:
        counts = counted(store)
    else:
        store.migrate()
        began = time.perf_counter()
        counts = fill(store, args.calls, now)
        fill_s = time.perf_counter() - began
    timings = asyncio.run(time_pages(store, args.requests, now))
    print_table(engine, counts, size_of(store, sqlite_path), fill_s, timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page (after one warm-up)")
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database (else a throwaway server)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--sqlite-path", type=Path, help="keep the SQLite store there; reused if it exists")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    with tempfile.TemporaryDirectory() as scratch:
        sqlite_path = args.sqlite_path or Path(scratch) / "console.db"
        reuse = sqlite_path.exists()
        sqlite = Store(f"sqlite:///{sqlite_path}", KEY)
        try:
            run("sqlite", sqlite, args, sqlite_path, reuse)
        finally:
            sqlite.close()
    if args.no_postgres:
        return
    server: PostgresServer | None = None
    url = args.postgres
    if url is None:
        try:
            server = PostgresServer()
            server.start()
            url = server.create_database()
        except PostgresUnavailable as exc:
            print(f"\npostgresql skipped: {exc}")
            return
    try:
        postgres = Store(url, KEY)
        try:
            run("postgresql", postgres, args, None, reuse=False)
        finally:
            postgres.close()
    finally:
        if server is not None:
            server.destroy()


if __name__ == "__main__":
    main()
