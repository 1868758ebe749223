"""The console's webhooks page: subscriptions, the delivery log and the dead messages, for admins and
supervisors only; "Relancer" (a POST with the session's CSRF token) sends a dead message again, and a real sender
then delivers it to a local receiver."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime

from aiohttp import web
from pytest_aiohttp import AiohttpServer

from callbot.webhooks import WebhookSender, verify
from signalements import Store
from signalements.webhooks import Webhooks
from tests.callbot.console import test_console_pages as pages
from tests.callbot.console.test_console_pages import (
    ADMIN,
    AGENT,
    CALLBACK_NUMBER,
    SUPERVISOR,
    SiteFactory,
    alert,
    links_of,
    seed,
)

# The console tests' fixtures: a migrated SQLite store, the app as the server builds it, no login slow-down.
store, make_site, _fresh_login_limits = pages.store, pages.make_site, pages._fresh_login_limits

TOKEN_IN_QUERY = "s3cret-query-token"


async def dead_message(store: Store, url: str) -> tuple[int, str, str]:
    """A subscription to `url` with one message that failed its only attempt: (delivery id, message id, secret)."""
    created = Webhooks(store).add(
        url + "?token=" + TOKEN_IN_QUERY, ["report.created", "call.handoff"], now=datetime.now(UTC)
    )
    seeded = seed(store)  # queues a report.created and two call.handoff for it
    assert seeded.report_id
    once = Webhooks(store, schedule=())
    due = once.claim_due(datetime.now(UTC), 1)[0]
    outcome = once.failed(due, at=datetime.now(UTC), status_code=500, error="HTTP 500")
    assert outcome is not None and outcome.status == "dead"
    return due.id, due.message_id, created.secret


async def test_admins_and_supervisors_see_the_deliveries_agents_do_not(make_site: SiteFactory, store: Store) -> None:
    delivery_id, message_id, secret = await dead_message(store, "https://gmao.example.org/hooks")
    site = await make_site(store)
    for name in (ADMIN, SUPERVISOR):
        person = await site.person(name)
        home = await person.client.get("/console/signalements" if name == SUPERVISOR else "/console/comptes")
        assert 'href="/console/webhooks"' in await home.text()
        page = await person.client.get("/console/webhooks")
        assert page.status == 200
        html = await page.text()
        assert "https://gmao.example.org/hooks?…" in html
        assert TOKEN_IN_QUERY not in html and secret not in html and secret.removeprefix("whsec_") not in html
        assert message_id in html
        assert "HTTP 500" in html and "En échec définitif" in html and "En attente" in html
        assert ("post", f"/console/webhooks/livraisons/{delivery_id}/relancer") in links_of(html).forms
        assert re.search(r'<th scope="col">Dernière erreur</th>', html)
        assert "style=" not in html and "<script>" not in html
        assert CALLBACK_NUMBER not in html  # the seeded call-back number: never in a webhook
        one = await person.client.get("/console/webhooks?abonnement=1")
        assert one.status == 200 and "de l'abonnement 1" in await one.text()
        assert (await person.client.get("/console/webhooks?abonnement=un")).status == 400

    agent = await site.person(AGENT)
    assert 'href="/console/webhooks"' not in await (await agent.client.get("/console/rappels")).text()
    refused = await agent.client.get("/console/webhooks")
    assert refused.status == 403
    assert alert(await refused.text()) == "Votre rôle ne permet pas cette action (webhooks)."
    posted = await agent.post(f"/console/webhooks/livraisons/{delivery_id}/relancer", {})
    assert posted.status == 403
    assert Webhooks(store).get(delivery_id).status == "dead"


async def test_relancer_sends_a_dead_message_again(
    make_site: SiteFactory, store: Store, aiohttp_server: AiohttpServer
) -> None:
    received: list[str] = []
    secret_box: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        verify(secret_box[0], request.headers, body, time.time())
        received.append(request.headers["webhook-id"])
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    receiving = await aiohttp_server(receiver)
    delivery_id, message_id, secret = await dead_message(store, str(receiving.make_url("/hook")))
    secret_box.append(secret)
    site = await make_site(store)
    admin = await site.person(ADMIN)
    path = f"/console/webhooks/livraisons/{delivery_id}/relancer"

    no_token = await admin.client.post(path, data={}, allow_redirects=False)
    assert no_token.status == 403
    assert alert(await no_token.text()).startswith("Jeton de sécurité (CSRF) absent ou invalide")
    assert Webhooks(store).get(delivery_id).status == "dead"

    retried = await admin.post(path, {})
    assert retried.status == 303 and retried.headers["Location"] == "/console/webhooks"
    assert Webhooks(store).get(delivery_id).status == "pending"
    again = await admin.post(path, {})
    assert again.status == 409
    assert "rien n'a été modifié" in alert(await again.text())
    assert (await admin.post("/console/webhooks/livraisons/999999/relancer", {})).status == 404

    sender = WebhookSender(Webhooks(store), poll_interval_s=0.05, timeout_s=2)
    sender.start()
    try:
        deadline = time.monotonic() + 15
        while Webhooks(store).get(delivery_id).status != "delivered":
            assert time.monotonic() < deadline, "the retried message was not delivered"
            await asyncio.sleep(0.05)
    finally:
        await sender.stop()
    assert message_id in received
    page = await (await admin.client.get("/console/webhooks")).text()
    assert "Aucun message en échec." in page
