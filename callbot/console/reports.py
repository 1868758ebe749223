"""The validation queue and the report page: a supervisor validates, corrects then validates, or rejects.

Each form carries the version of the report it was drawn from; if another supervisor acted in between, the
decision is refused with who did what and when, and nothing is overwritten.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from callbot.console.access import may, require
from callbot.console.forms import console_of, form_of, in_thread, store_errors, whole_number, yes_no
from callbot.console.render import CATEGORY_LABELS, render
from signalements.decisions import Decision
from signalements.errors import Conflict
from signalements.models import CHANNELS, REPORT_STATUSES
from signalements.queries import QueueFilter

routes = web.RouteTableDef()

TEXT_FIELDS = ("place", "street_number", "street_name", "commune", "landmark", "description", "category_other_words")


def _queue_filter(query: Any) -> QueueFilter:
    status = query.get("statut") or "awaiting_validation"
    channel = query.get("canal") or None
    danger = query.get("danger") or None
    if status not in REPORT_STATUSES or (channel is not None and channel not in CHANNELS):
        raise web.HTTPBadRequest(text="Filtre inconnu.")
    if danger not in (None, "oui", "non"):
        raise web.HTTPBadRequest(text="danger : oui ou non.")
    return QueueFilter(
        status=status,
        category=(query.get("categorie") or None),
        commune=(query.get("commune") or None),
        danger=None if danger is None else danger == "oui",
        channel=channel,
    )


@routes.get("/console/signalements")
@store_errors
async def queue(request: web.Request) -> web.StreamResponse:
    require(request, "read")
    console = console_of(request)
    where = _queue_filter(request.query)
    page = await in_thread(
        console.queries.queue, where, after=request.query.get("apres") or None, limit=console.settings.console.page_size
    )
    categories, communes = await in_thread(console.queries.report_choices)
    filters = {key: value for key, value in request.query.items() if key != "apres" and value}
    return render(
        request,
        "queue.html",
        page=page,
        where=where,
        filters=filters,
        categories=categories,
        communes=communes,
        now=datetime.now(UTC),
    )


@routes.get(r"/console/signalements/{report_id:\d{1,9}}")
@store_errors
async def report_page(request: web.Request) -> web.StreamResponse:
    return await _report_page(request, int(request.match_info["report_id"]))


async def _report_page(
    request: web.Request, report_id: int, *, message: str | None = None, status: int = 200
) -> web.Response:
    user = require(request, "read")
    console = console_of(request)
    report = await in_thread(console.store.get_report, report_id)
    call = await in_thread(console.store.get_call, report.call_id)
    audit = await in_thread(console.decisions.audit, report_id)
    return render(
        request,
        "report.html",
        status=status,
        report=report,
        call=call,
        audit=audit,
        message=message,
        show_numbers=may(user, "numbers"),
        categories=CATEGORY_LABELS,
        low_confidence=console.settings.console.low_confidence,
        now=datetime.now(UTC),
    )


@routes.post(r"/console/signalements/{report_id:\d{1,9}}")
@store_errors
async def decide(request: web.Request) -> web.StreamResponse:
    user = require(request, "review")
    console = console_of(request)
    report_id = int(request.match_info["report_id"])
    form = await form_of(request)
    action = form.get("action")
    if action not in ("validate", "correct", "reject"):
        raise web.HTTPBadRequest(text="Action inconnue : valider, corriger puis valider, ou rejeter.")
    decision: Decision = action  # type: ignore[assignment]
    version = whole_number(form.get("version"), "version")
    changes: dict[str, Any] = {}
    if decision == "correct":
        changes = {name: form.get(name, "").strip() or None for name in TEXT_FIELDS if name in form}
        if "category" in form:
            changes["category"] = form["category"]
        for flag in ("danger", "callback_consent"):
            if flag in form:
                changes[flag] = yes_no(form[flag], flag)
        if may(user, "numbers") and "callback_number" in form:
            changes["callback_number"] = form["callback_number"].strip() or None
    note = form.get("note", "").strip() or None
    if decision == "reject" and note is None:
        return await _report_page(request, report_id, message="Indiquez le motif du rejet.", status=400)
    try:
        await in_thread(
            console.decisions.decide,
            report_id,
            decision,
            user.name,
            version=version,
            changes=changes,
            note=note,
            at=datetime.now(UTC),
        )
    except Conflict:
        return await _report_page(
            request,
            report_id,
            message=(
                "Conflit : ce signalement a été traité par quelqu'un d'autre pendant que vous le consultiez "
                "(voir l'historique ci-dessous). Votre action n'a pas été enregistrée ; la page montre "
                "maintenant la version actuelle."
            ),
            status=409,
        )
    raise web.HTTPSeeOther(f"/console/signalements/{report_id}")
