"""Seconds from `python -m callbot run` (embedded defaults, managed dialogue, demo models) to /healthz 200.

    .venv/bin/python benchmarks/startup.py [--eager]

The dialogue model must already be trained (make run / make test do it); this measures a start, not a training.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.callbot_process import CallbotProcess  # noqa: E402
from tests.support.sip_peers import free_port  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eager", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="startup-"))
    callbot = CallbotProcess(
        workdir,
        env_overrides={
            "CALLBOT_DIALOGUE_RASA_PORT": str(free_port()),
            "CALLBOT_DIALOGUE_ACTION_PORT": str(free_port()),
            "CALLBOT_DIALOGUE_EAGER": "true" if args.eager else "false",
        },
    )
    started = time.monotonic()
    try:
        callbot.start(timeout_s=600)
        print(f"start to /healthz 200 (managed Rasa, eager={args.eager}): {time.monotonic() - started:.1f} s")
    finally:
        callbot.stop()


if __name__ == "__main__":
    main()
