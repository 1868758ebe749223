from aiohttp import web
from aiohttp.test_utils import TestClient

from callbot.metrics import CallMetrics
from callbot.web.app import Readiness, create_app

TOKEN = "s3cret-token-for-tests-only"


def _app(readiness: Readiness, token: str | None = TOKEN) -> web.Application:
    def add_routes(app: web.Application) -> None:
        async def calls(request: web.Request) -> web.Response:
            return web.json_response({"calls": []})

        app.router.add_get("/api/calls", calls)

    metrics = CallMetrics(calls_total=3, calls_active=1)
    metrics.record_outcome("report_saved")
    for latency in (0.9, 1.1, 1.0, 3.0):
        metrics.reply_latency.observe(latency)
    return create_app(readiness, metrics, token, add_routes)


async def test_healthz_is_503_until_every_component_is_ready(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    readiness = Readiness()
    client: TestClient[web.Request, web.Application] = await aiohttp_client(_app(readiness))
    response = await client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert body["ready"] is False and body["components"]["sip"] is False
    for component in ("database", "asr", "tts", "dialogue", "sip"):
        readiness.set(component)
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["ready"] is True


async def test_healthz_follows_a_live_probe(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    readiness = Readiness()
    for component in ("database", "asr", "tts", "dialogue", "sip"):
        readiness.set(component)
    alive = {"dialogue": True}

    async def probe() -> bool:
        return alive["dialogue"]

    readiness.probes["dialogue"] = probe
    client: TestClient[web.Request, web.Application] = await aiohttp_client(_app(readiness))
    assert (await client.get("/healthz")).status == 200
    alive["dialogue"] = False
    response = await client.get("/healthz")
    assert response.status == 503
    assert (await response.json())["components"]["dialogue"] is False


async def test_api_needs_the_bearer_token(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client: TestClient[web.Request, web.Application] = await aiohttp_client(_app(Readiness()))
    assert (await client.get("/api/calls")).status == 401
    wrong = await client.get("/api/calls", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    assert "WWW-Authenticate" in wrong.headers
    right = await client.get("/api/calls", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status == 200
    assert right.headers["X-Content-Type-Options"] == "nosniff"


async def test_api_is_disabled_without_a_token(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client: TestClient[web.Request, web.Application] = await aiohttp_client(_app(Readiness(), token=None))
    response = await client.get("/api/calls", headers={"Authorization": "Bearer anything"})
    assert response.status == 503
    assert "CALLBOT_API_TOKEN" in (await response.json())["error"]


async def test_metrics_are_prometheus_text(aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    client: TestClient[web.Request, web.Application] = await aiohttp_client(_app(Readiness()))
    text = await (await client.get("/metrics")).text()
    assert "callbot_calls_total 3" in text
    assert 'callbot_call_outcomes_total{outcome="report_saved"} 1' in text
    assert "# TYPE callbot_reply_latency_seconds histogram" in text
    # cumulative: 0.9 and 1.0 are <= 1, 1.1 is <= 1.25, 3.0 only <= 3 and beyond
    assert 'callbot_reply_latency_seconds_bucket{le="0.75"} 0' in text
    assert 'callbot_reply_latency_seconds_bucket{le="1"} 2' in text
    assert 'callbot_reply_latency_seconds_bucket{le="1.25"} 3' in text
    assert 'callbot_reply_latency_seconds_bucket{le="2"} 3' in text
    assert 'callbot_reply_latency_seconds_bucket{le="3"} 4' in text
    assert 'callbot_reply_latency_seconds_bucket{le="+Inf"} 4' in text
    assert "callbot_reply_latency_seconds_sum 6.000" in text
    assert "callbot_reply_latency_seconds_count 4" in text
    for line in text.splitlines():  # Prometheus naming: counters end in _total, no personal label values
        if line.startswith("# TYPE") and line.endswith(" counter"):
            assert line.split()[2].endswith("_total"), line
