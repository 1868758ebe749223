"""What the console's pages share: reading forms and query strings, running store calls off the event loop, and
turning the store's errors into pages that say what happened in French."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from functools import partial, wraps
from typing import Any, TypeVar

from aiohttp import web

from callbot.console import CONSOLE_KEY, Console
from callbot.console.access import read_form
from callbot.console.render import PARIS
from signalements import InvalidRecord, InvalidTransition, NotFound, StoreUnavailable
from signalements.errors import Conflict

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_FIELD_CHARS = 10_000
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE_KEY]


async def in_thread(method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Store calls block: run them off the event loop."""
    return await asyncio.to_thread(partial(method, *args, **kwargs))


def store_errors(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The store's refusals as HTTP errors with a French message (the error middleware renders the page)."""

    @wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except InvalidRecord as error:
            raise web.HTTPBadRequest(text=f"Donnée refusée : {error}") from None
        except NotFound:
            raise web.HTTPNotFound(text="Cet élément n'existe pas (ou plus).") from None
        except (Conflict, InvalidTransition) as error:
            raise web.HTTPConflict(text=str(error)) from None
        except StoreUnavailable:
            raise web.HTTPServiceUnavailable(
                text="La base de données est indisponible pour le moment ; rien n'a été perdu, réessayez dans un "
                "instant."
            ) from None

    return wrapper


async def form_of(request: web.Request) -> dict[str, str]:
    """The posted form's text fields (a field given twice keeps its first value); bounded in size."""
    posted = await read_form(request)
    fields: dict[str, str] = {}
    for name, value in posted.items():
        if not isinstance(value, str):
            raise web.HTTPBadRequest(text="Ce formulaire n'accepte pas de fichier.")
        if len(value) > MAX_FIELD_CHARS:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FIELD_CHARS, actual_size=len(value))
        fields.setdefault(name, value)
    return fields


def whole_number(text: str | None, name: str) -> int:
    if text is None or not text.strip().isdigit() or len(text.strip()) > 9:
        raise web.HTTPBadRequest(text=f"{name} : un nombre entier est attendu.")
    return int(text.strip())


def day(text: str | None, name: str) -> date | None:
    """A date from a form's date field (YYYY-MM-DD); None when empty."""
    if not text:
        return None
    try:
        parsed = date.fromisoformat(text.strip())
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} : date attendue au format AAAA-MM-JJ.") from None
    if not FIRST_DAY <= parsed <= LAST_DAY:  # year 1 or 9999 overflow once moved to UTC or a day on
        raise web.HTTPBadRequest(text=f"{name} : date attendue entre {FIRST_DAY.year} et {LAST_DAY.year}.")
    return parsed


def day_range(query: dict[str, str] | Any, default_days: int | None) -> tuple[date | None, date | None]:
    """`du` and `au` (both included) from a form or query; with `default_days`, the last days up to today."""
    start, end = day(query.get("du"), "du"), day(query.get("au"), "au")
    if default_days is not None:
        today = datetime.now(PARIS).date()
        end = end or today
        start = start or end - timedelta(days=default_days - 1)
    if start is not None and end is not None and end < start:
        raise web.HTTPBadRequest(text="La date de fin est avant la date de début.")
    return start, end


def paris_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """[start 00:00, end+1 00:00) in Paris time, as aware datetimes."""
    begin = datetime.combine(start, time(), PARIS) if start else None
    finish = datetime.combine(end + timedelta(days=1), time(), PARIS) if end else None
    return begin, finish


def yes_no(text: str | None, name: str) -> bool:
    if text == "oui":
        return True
    if text == "non":
        return False
    raise web.HTTPBadRequest(text=f"{name} : oui ou non.")
