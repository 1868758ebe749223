"""Calls: the list with its filters, transcript search, the call page and its recording.

The search words go in a POST body, not the address: what a supervisor looks for may be personal, and
addresses end up in logs and browser histories.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from callbot.console.access import may, require
from callbot.console.forms import console_of, day_range, form_of, in_thread, paris_bounds, store_errors
from callbot.console.render import render
from callbot.energy import energy_of
from callbot.recording import is_call_id, recording_file
from signalements.models import CHANNELS
from signalements.queries import CallFilter

routes = web.RouteTableDef()
SEARCH_DAYS = 31


def _call_filter(query: Any) -> CallFilter:
    start, end = paris_bounds(*day_range(query, default_days=None))
    channel = query.get("canal") or None
    if channel is not None and channel not in CHANNELS:
        raise web.HTTPBadRequest(text="Canal inconnu.")
    max_confidence = None
    if query.get("confiance_max"):
        text = query["confiance_max"].strip()
        if not text.isdigit() or not 0 <= int(text) <= 100:
            raise web.HTTPBadRequest(text="confiance_max : un pourcentage de 0 à 100.")
        max_confidence = int(text) / 100
    return CallFilter(
        start=start,
        end=end,
        outcome=query.get("issue") or None,
        handoff_reason=query.get("motif") or None,
        channel=channel,
        max_confidence=max_confidence,
    )


@routes.get("/console/appels")
@store_errors
async def calls_page(request: web.Request) -> web.StreamResponse:
    require(request, "read")
    console = console_of(request)
    page = await in_thread(
        console.queries.calls,
        _call_filter(request.query),
        before=request.query.get("avant") or None,
        limit=console.settings.console.page_size,
    )
    outcomes, reasons = await in_thread(console.queries.outcomes_and_reasons)
    filters = {key: value for key, value in request.query.items() if key != "avant" and value}
    return render(request, "calls.html", page=page, filters=filters, outcomes=outcomes, reasons=reasons)


@routes.post("/console/appels/recherche")
@store_errors
async def search(request: web.Request) -> web.StreamResponse:
    require(request, "read")
    console = console_of(request)
    form = await form_of(request)
    words = form.get("q", "").strip()
    first, last = day_range(form, default_days=SEARCH_DAYS)
    start, end = paris_bounds(first, last)
    assert start is not None and end is not None
    hits = await in_thread(console.queries.search, words, start=start, end=end) if len(words) >= 2 else []
    return render(request, "search.html", words=words, hits=hits, first=first, last=last, searched=len(words) >= 2)


def _call_id(request: web.Request) -> str:
    call_id = request.match_info["call_id"]
    if not is_call_id(call_id) and not (0 < len(call_id) <= 128 and call_id.isprintable()):
        raise web.HTTPNotFound(text="Cet appel n'existe pas.")
    return call_id


@routes.get("/console/appels/{call_id}")
@store_errors
async def call_page(request: web.Request) -> web.StreamResponse:
    user = require(request, "read")
    console = console_of(request)
    call = await in_thread(console.store.get_call, _call_id(request))
    cpu = call.summary.cpu_seconds
    energy = energy_of(cpu, console.settings.energy) if cpu is not None else None
    recorded = is_call_id(call.summary.call_id) and recording_file(console.recordings, call.summary.call_id) is not None
    return render(
        request,
        "call.html",
        call=call,
        energy=energy,
        energy_settings=console.settings.energy,
        recorded=recorded,
        show_numbers=may(user, "numbers"),
        low_confidence=console.settings.console.low_confidence,
        now=datetime.now(UTC),
    )


@routes.get("/console/appels/{call_id}/enregistrement.ogg")
async def recording(request: web.Request) -> web.StreamResponse:
    require(request, "read")
    call_id = request.match_info["call_id"]
    path = recording_file(console_of(request).recordings, call_id) if is_call_id(call_id) else None
    if path is None:
        raise web.HTTPNotFound(text="Pas d'enregistrement pour cet appel.")
    return web.FileResponse(path, headers={"Content-Type": "audio/ogg", "Cache-Control": "private, no-store"})
