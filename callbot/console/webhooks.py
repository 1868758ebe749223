"""The integrators' webhooks: subscriptions, the recent deliveries with their attempts and last error, and the
dead messages (every attempt failed), which a person sends again with "Relancer" once the receiver is fixed.

Subscriptions are made on the command line (`callbot webhooks add`): their secret is shown once, there.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web

from callbot.console.access import require
from callbot.console.forms import console_of, in_thread, store_errors, whole_number
from callbot.console.render import render
from signalements.errors import InvalidTransition
from signalements.webhooks import Webhooks

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

RECENT = 50
EVENT_LABELS = {
    "report.created": "Signalement créé",
    "report.validated": "Signalement validé",
    "report.rejected": "Signalement rejeté",
    "call.handoff": "Transfert vers un conseiller",
    "callback.requested": "Rappel demandé",
}
DELIVERY_STATUS_LABELS = {"pending": "En attente", "delivered": "Livré", "dead": "En échec définitif"}


@routes.get("/console/webhooks")
@store_errors
async def webhooks_page(request: web.Request) -> web.StreamResponse:
    return await _webhooks_page(request)


async def _webhooks_page(request: web.Request, message: str | None = None, status: int = 200) -> web.Response:
    require(request, "webhooks")
    webhooks = Webhooks(console_of(request).store)
    chosen = request.query.get("abonnement") or None
    subscription_id = whole_number(chosen, "abonnement") if chosen is not None else None
    subscriptions = await in_thread(webhooks.subscriptions)
    recent = await in_thread(webhooks.deliveries, subscription_id=subscription_id, limit=RECENT)
    dead = await in_thread(webhooks.dead)
    return render(
        request,
        "webhooks.html",
        status=status,
        subscriptions=subscriptions,
        recent=recent,
        dead=dead,
        chosen=subscription_id,
        max_attempts=webhooks.max_attempts,
        EVENT_LABELS=EVENT_LABELS,
        DELIVERY_STATUS_LABELS=DELIVERY_STATUS_LABELS,
        message=message,
    )


@routes.post(r"/console/webhooks/livraisons/{delivery_id:\d{1,9}}/relancer")
@store_errors
async def retry_delivery(request: web.Request) -> web.StreamResponse:
    user = require(request, "webhooks")
    delivery_id = int(request.match_info["delivery_id"])
    try:
        await in_thread(Webhooks(console_of(request).store).retry, delivery_id, now=datetime.now(UTC))
    except InvalidTransition:
        return await _webhooks_page(
            request,
            message="Ce message n'est plus en échec (déjà relancé ou livré), ou son abonnement est désactivé : "
            "rien n'a été modifié.",
            status=409,
        )
    log.info("console account %d: webhook delivery %d sent again", user.account_id, delivery_id)
    raise web.HTTPSeeOther("/console/webhooks")
