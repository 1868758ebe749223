"""Rasa's REST channel behind the same secret as its HTTP API (runs inside the Rasa process, Python 3.10).

Rasa's --auth-token guards its API (trackers, model) but not its channels: anyone who can reach the port could
talk as any caller, into any conversation. This channel answers 401 without `?token=` equal to
RASA_CHANNEL_TOKEN (taken from the environment when the channel is built; unset: no check, for a Rasa server
someone else runs). Same name and URL as the stock channel: /webhooks/rest/webhook.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

TOKEN_ENV = "RASA_CHANNEL_TOKEN"


class SecuredRestInput(RestInput):
    def __init__(self, token: str | None = None) -> None:
        self._token = token

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(os.environ.pop(TOKEN_ENV, None) or None)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)
        expected = self._token

        @webhook.middleware("request")
        async def require_token(request: Request) -> HTTPResponse | None:
            if expected is None:
                return None
            given = (request.args.get("token") or "").encode("utf-8", "surrogateescape")
            if hmac.compare_digest(given, expected.encode("utf-8")):
                return None
            return response.json({"error": "unauthorized"}, status=401)

        return webhook
