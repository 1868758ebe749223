"""The custom action server as the callbot runs it: rasa-sdk's app on 127.0.0.1 only, behind a secret.

    python -m dialogue.action_server --port 5055      (secret in ACTION_SERVER_TOKEN, at least 16 characters)

A POST to /webhook saves reports: anyone who could reach it could make one up. So the server listens on the
loopback interface only and answers 401 to a request without the secret, which Rasa sends as `?token=`
(endpoints.yml). The secret is taken out of the environment at once; /health stays open (it tells nothing).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
from collections.abc import Sequence

from dialogue.lifeline import die_with_parent

TOKEN_ENV = "ACTION_SERVER_TOKEN"
MIN_TOKEN_CHARS = 16
OPEN_PATHS = frozenset({"/health"})


def token_matches(given: str, expected: str) -> bool:
    # Bytes, so that any character a client sends compares (in constant time) instead of raising.
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def build_app(token: str) -> object:
    from rasa_sdk.endpoint import create_app
    from rasa_sdk.executor import ActionExecutor
    from sanic import Request, response
    from sanic.response import HTTPResponse

    executor = ActionExecutor()
    executor.register_package("dialogue.actions")
    app = create_app(executor, cors_origins=None)

    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS or token_matches(request.args.get("token", ""), token):
            return None
        return response.json({"error": "unauthorized"}, status=401)

    app.register_middleware(require_token, "request")
    return app


def main(argv: Sequence[str] | None = None) -> int:
    die_with_parent()
    parser = argparse.ArgumentParser(prog="python -m dialogue.action_server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    args = parser.parse_args(argv)
    token = os.environ.pop(TOKEN_ENV, "")
    if len(token) < MIN_TOKEN_CHARS:
        print(f"{TOKEN_ENV} must hold a secret of at least {MIN_TOKEN_CHARS} characters", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = build_app(token)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
