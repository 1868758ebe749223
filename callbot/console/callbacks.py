"""The call-back queue: callers who wanted a person when none could answer. Agents call them back and say how
it went ("done" or "no answer", with a note); the number is shown only to the roles that call back."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from callbot.console.access import may, require
from callbot.console.forms import console_of, form_of, in_thread, store_errors, whole_number
from callbot.console.render import render
from signalements.errors import Conflict
from signalements.models import CALLBACK_STATUSES

routes = web.RouteTableDef()


@routes.get("/console/rappels")
@store_errors
async def callbacks_page(request: web.Request) -> web.StreamResponse:
    return await _callbacks_page(request)


async def _callbacks_page(request: web.Request, message: str | None = None, status: int = 200) -> web.Response:
    user = require(request, "read")
    console = console_of(request)
    shown = request.query.get("statut") or "pending"
    if shown not in CALLBACK_STATUSES:
        raise web.HTTPBadRequest(text="Statut inconnu.")
    callbacks = await in_thread(console.decisions.callbacks, status=shown)
    return render(
        request,
        "callbacks.html",
        status=status,
        callbacks=callbacks,
        shown=shown,
        show_numbers=may(user, "numbers"),
        message=message,
        now=datetime.now(UTC),
    )


@routes.post(r"/console/rappels/{callback_id:\d{1,9}}")
@store_errors
async def close_callback(request: web.Request) -> web.StreamResponse:
    user = require(request, "callbacks")
    console = console_of(request)
    form = await form_of(request)
    outcome = form.get("resultat")
    if outcome not in ("done", "no_answer"):
        raise web.HTTPBadRequest(text="Résultat attendu : rappelé ou pas de réponse.")
    try:
        await in_thread(
            console.decisions.close_callback,
            int(request.match_info["callback_id"]),
            outcome,
            user.name,
            version=whole_number(form.get("version"), "version"),
            note=form.get("note", "").strip() or None,
            at=datetime.now(UTC),
        )
    except Conflict:
        return await _callbacks_page(
            request,
            message="Conflit : ce rappel vient d'être traité par quelqu'un d'autre. Rien n'a été modifié.",
            status=409,
        )
    raise web.HTTPSeeOther("/console/rappels")
