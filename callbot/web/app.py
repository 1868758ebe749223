"""The HTTP side of the callbot: health, metrics, the integrators' JSON API, the chat and the console, and their
OpenAPI document (/openapi.json, /api/docs); who may reach which is callbot.console.access."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware

from callbot.config import ConsoleSettings
from callbot.console.access import access_control
from callbot.metrics import CallMetrics, Histogram
from callbot.web.errors import Handler, json_errors
from callbot.web.openapi import add_openapi_routes
from signalements.accounts import Accounts

log = logging.getLogger(__name__)


@dataclass
class Readiness:
    """Each component flips its flag once it can serve; /healthz is 200 only when all are up."""

    components: dict[str, bool] = field(
        default_factory=lambda: dict.fromkeys(("database", "asr", "tts", "dialogue", "sip"), False)
    )
    # live probe of a component that can go away after start (the dialogue server)
    probes: dict[str, Callable[[], Awaitable[bool]]] = field(default_factory=dict)

    def set(self, component: str, ready: bool = True) -> None:
        self.components[component] = ready

    async def snapshot(self) -> dict[str, bool]:
        state = dict(self.components)
        for name, probe in self.probes.items():
            if state.get(name):
                try:
                    state[name] = await probe()
                except Exception:
                    log.exception("health probe %s failed", name)
                    state[name] = False
        return state


READINESS_KEY = web.AppKey("readiness", Readiness)
METRICS_KEY = web.AppKey("metrics", CallMetrics)


def create_app(
    readiness: Readiness,
    metrics: CallMetrics,
    api_token: str | None,
    add_api_routes: Callable[[web.Application], None] | None = None,
    *,
    accounts: Accounts | None = None,
    console: ConsoleSettings | None = None,
    metrics_public: bool = True,
) -> web.Application:
    """`accounts` and `console`: console logins also open the API and /metrics (without them, only the token)."""
    # outermost first: security headers on every response, errors as JSON (pages under /console), then access
    access = access_control(api_token, accounts, console, metrics_public)
    middlewares: list[Middleware] = [_security_headers, json_errors, access]
    app = web.Application(middlewares=middlewares, client_max_size=64 * 1024)
    app[READINESS_KEY] = readiness
    app[METRICS_KEY] = metrics
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    if add_api_routes is not None:
        add_api_routes(app)
    add_openapi_routes(app)  # last: its document lists the routes above
    return app


async def _healthz(request: web.Request) -> web.Response:
    state = await request.app[READINESS_KEY].snapshot()
    ready = all(state.values())
    return web.json_response({"ready": ready, "components": state}, status=200 if ready else 503)


async def _metrics(request: web.Request) -> web.Response:
    metrics = request.app[METRICS_KEY]
    lines = [
        "# TYPE callbot_calls_total counter",
        f"callbot_calls_total {metrics.calls_total}",
        "# TYPE callbot_calls_active gauge",
        f"callbot_calls_active {metrics.calls_active}",
        "# TYPE callbot_caller_turns_total counter",
        f"callbot_caller_turns_total {metrics.caller_turns_total}",
        "# TYPE callbot_handoffs_total counter",
        f"callbot_handoffs_total {metrics.handoffs_total}",
        "# TYPE callbot_call_outcomes_total counter",
    ]
    lines += [f'callbot_call_outcomes_total{{outcome="{k}"}} {v}' for k, v in sorted(metrics.outcomes.items())]
    counters = {
        "callbot_caller_frames_total": metrics.caller_frames_total,
        "callbot_recognised_frames_total": metrics.recognised_frames_total,
        "callbot_caller_frames_dropped_total": metrics.caller_frames_dropped_total,
        "callbot_barge_ins_total": metrics.barge_ins_total,
        "callbot_previews_total": metrics.previews_total,
        "callbot_previews_taken_back_total": metrics.previews_taken_back_total,
    }
    for name, value in counters.items():
        lines += [f"# TYPE {name} counter", f"{name} {value}"]
    lines += [
        "# TYPE callbot_cpu_seconds_total counter",  # the server and its children; energy: callbot.energy
        f'callbot_cpu_seconds_total{{share="calls"}} {metrics.cpu_calls_seconds:.3f}',
        f'callbot_cpu_seconds_total{{share="idle"}} {metrics.cpu_idle_seconds:.3f}',
    ]
    lines += _histogram("callbot_reply_latency_seconds", metrics.reply_latency)
    lines += _histogram("callbot_first_audio_latency_seconds", metrics.first_audio_latency)
    lines += _histogram("callbot_gc_pause_seconds", metrics.gc_pause)
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


def _histogram(name: str, histogram: Histogram) -> list[str]:
    lines = [f"# TYPE {name} histogram"]
    lines += [f'{name}_bucket{{le="{bound}"}} {count}' for bound, count in histogram.cumulative()]
    return [*lines, f"{name}_sum {histogram.total:.3f}", f"{name}_count {histogram.count}"]


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault(
        "Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return response
