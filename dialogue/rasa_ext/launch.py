"""Start Rasa's command line in the Rasa environment, optionally with TensorFlow functions run eagerly.

    .venvs/rasa/bin/python dialogue/rasa_ext/launch.py [--eager] run --enable-api -m MODEL --endpoints FILE ...

Eager mode: ready in ~5-15 s instead of ~80 s of graph tracing and half the memory, but ~3x slower per message.
RASA_AUTH_TOKEN in the environment becomes --auth-token here, inside the process, so that the token never shows
in the process list (ps) the way a command-line argument would. The process ends when the callbot does.

Tracker store: RASA_TRACKER_STORE_URL (or the callbot's own CALLBOT_DIALOGUE_TRACKER_STORE_URL, inherited) is a
SQLAlchemy URL (postgresql://user:password@host:port/db, sqlite:///path). Rasa then keeps its conversations in
that database (its SQL tracker store: a table `events`) instead of its memory, so that several callbot
instances, or a restarted one, share them. The endpoints file given is copied, with a `tracker_store` section
added, to a private 0600 file; the password is not written there but referenced as ${RASA_TRACKER_STORE_PASSWORD},
which Rasa expands from this process's environment: no credential on a command line, on disk or in a log.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

TRACKER_URL_ENV = "RASA_TRACKER_STORE_URL"
CALLBOT_TRACKER_URL_ENV = "CALLBOT_DIALOGUE_TRACKER_STORE_URL"
PASSWORD_ENV = "RASA_TRACKER_STORE_PASSWORD"


def _die_with_parent() -> None:
    """Rasa ends when the callbot does, even after a kill -9 (dialogue/lifeline.py: stdlib only)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    try:
        from dialogue.lifeline import die_with_parent
    finally:
        sys.path.pop(0)
    die_with_parent()


def tracker_store_section(url: str) -> dict[str, Any]:
    """Rasa's SQL tracker store settings for a SQLAlchemy URL; the password stays an ${ENV} reference.

    Rasa's environment has psycopg2, not the psycopg 3 the callbot uses: "postgresql+psycopg" becomes
    "postgresql" (SQLAlchemy's default driver for it, psycopg2)."""
    from sqlalchemy.engine import make_url  # Rasa's environment has SQLAlchemy 1.4

    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        raise ValueError(f"tracker store: unsupported database {backend!r} (postgresql or sqlite)")
    section: dict[str, Any] = {"type": "SQL", "dialect": backend, "db": parsed.database or ""}
    if backend == "postgresql":
        # Rasa hands the endpoint's `url` to the store as its host (a `host` key would be passed twice)
        section.update(url=parsed.host or "127.0.0.1", port=parsed.port or 5432)
        if parsed.username:
            section["username"] = parsed.username
        if parsed.password:
            section["password"] = "${" + PASSWORD_ENV + "}"
        if parsed.query:
            section["query"] = dict(parsed.query)
    return section


def _render(template: str, section: dict[str, Any]) -> str:
    import yaml

    # the ${...} reference comes out as a plain scalar, the only kind Rasa expands
    block = yaml.safe_dump({"tracker_store": section}, default_flow_style=False, sort_keys=False)
    return template.rstrip("\n") + "\n" + block


def with_tracker_store(args: list[str], url: str) -> list[str]:
    """`args` with --endpoints pointing at a private copy that adds the tracker store (the password into our
    environment, for Rasa's ${...} expansion)."""
    from sqlalchemy.engine import make_url

    password = make_url(url).password
    if password:
        os.environ[PASSWORD_ENV] = str(password)
    try:
        index = args.index("--endpoints") + 1
        template = Path(args[index]).read_text(encoding="utf-8")
    except (ValueError, IndexError):
        index, template = -1, ""
    folder = tempfile.mkdtemp(prefix="rasa-endpoints-")  # 0700
    atexit.register(shutil.rmtree, folder, True)
    path = os.path.join(folder, "endpoints.yml")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(_render(template, tracker_store_section(url)))
    if index < 0:
        return [*args, "--endpoints", path]
    return [*args[:index], path, *args[index + 1 :]]


def main() -> None:
    _die_with_parent()
    args = sys.argv[1:]
    if args and args[0] == "--eager":
        args = args[1:]
        import tensorflow as tf

        tf.config.run_functions_eagerly(True)
    from rasa.__main__ import main as rasa_main

    token = os.environ.pop("RASA_AUTH_TOKEN", "")
    if token:
        args += [f"--auth-token={token}"]  # "=": a token starting with "-" would read as an option
    # both popped: Rasa's own code and anything it starts never see the URL (it holds the password)
    tracker_url = os.environ.pop(TRACKER_URL_ENV, "") or os.environ.pop(CALLBOT_TRACKER_URL_ENV, "")
    os.environ.pop(CALLBOT_TRACKER_URL_ENV, None)
    if tracker_url:
        args = with_tracker_store(args, tracker_url)
    sys.argv = ["rasa", *args]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # credentials.yml names rasa_ext.secured_rest
    rasa_main()


if __name__ == "__main__":
    main()
