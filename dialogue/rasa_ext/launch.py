"""Start Rasa's command line in the Rasa environment, optionally with TensorFlow functions run eagerly.

    .venvs/rasa/bin/python dialogue/rasa_ext/launch.py [--eager] run --enable-api -m MODEL ...

Eager mode: ready in ~5-15 s instead of ~80 s of graph tracing and half the memory, but ~3x slower per message.
RASA_AUTH_TOKEN in the environment becomes --auth-token here, inside the process, so that the token never shows
in the process list (ps) the way a command-line argument would. The process ends when the callbot does.
"""

import os
import sys
from pathlib import Path


def _die_with_parent() -> None:
    """Rasa ends when the callbot does, even after a kill -9 (dialogue/lifeline.py: stdlib only)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    try:
        from dialogue.lifeline import die_with_parent
    finally:
        sys.path.pop(0)
    die_with_parent()


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
    sys.argv = ["rasa", *args]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # credentials.yml names rasa_ext.secured_rest
    rasa_main()


if __name__ == "__main__":
    main()
