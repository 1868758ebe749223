"""The supervisors' console at /console: server-rendered French pages where people validate the bot's reports,
read calls, work call-backs and see the dashboard. Every action works without JavaScript.

    console = Console.build(store, settings)
    add_console_routes(app, console)       # the app's access middleware (callbot.console.access) guards it

Pages by job: `login` (log in/out, accounts), `reports` (queue, report page, decisions), `calls` (list, search,
call page, recording), `callbacks`, `dashboard` (figures, CSV exports), `webhooks` (integrators' deliveries).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.web_urldispatcher import StaticResource

from callbot.config import Settings, resolve_path
from signalements import Store
from signalements.accounts import Accounts
from signalements.decisions import Decisions
from signalements.queries import ConsoleQueries

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Console:
    store: Store
    accounts: Accounts
    decisions: Decisions
    queries: ConsoleQueries
    settings: Settings
    recordings: Path

    @classmethod
    def build(cls, store: Store, settings: Settings) -> Console:
        return cls(
            store,
            Accounts(store),
            Decisions(store),
            ConsoleQueries(store),
            settings,
            resolve_path(settings.recording.directory),
        )


CONSOLE_KEY = web.AppKey("console", Console)


def add_console_routes(app: web.Application, console: Console) -> None:
    from callbot.console import callbacks, calls, dashboard, login, reports, webhooks

    app[CONSOLE_KEY] = console
    for module in (login, reports, calls, callbacks, dashboard, webhooks):
        app.add_routes(module.routes)
    app.router.register_resource(_ShippedFiles("/console/static", STATIC, append_version=True))


class _ShippedFiles(StaticResource):
    """/console/static as aiohttp serves static files (ETag, Range, HEAD), for the files shipped only: no other
    name from the request reaches the file system (one too long for it made aiohttp's lookup raise, a 500; one
    missing gave an empty 404 that missed the error pages)."""

    def __init__(self, prefix: str, directory: Path, *, append_version: bool) -> None:
        super().__init__(prefix, directory, append_version=append_version)
        self._shipped = frozenset(path.name for path in directory.iterdir() if path.is_file())

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["filename"] not in self._shipped:
            raise web.HTTPNotFound(text="Ce fichier n'existe pas.")
        return await super()._handle(request)
