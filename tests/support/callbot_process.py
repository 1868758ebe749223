"""Runs the real `python -m callbot run` as a child process on free ports, for end-to-end tests and benchmarks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.sip_peers import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class CallbotProcess:
    workdir: Path
    env_overrides: Mapping[str, str] = field(default_factory=dict)
    sip_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    rasa_port: int = field(default_factory=free_port)
    action_port: int = field(default_factory=free_port)
    api_token: str = "e2e-test-token-0123456789"
    process: subprocess.Popen[bytes] | None = None
    config: Path = REPO / "config" / "demo-models.yaml"  # the --config overlay (the demo models at least)

    @property
    def log_path(self) -> Path:
        return self.workdir / "callbot.log"

    @property
    def database_url(self) -> str:
        return self.env()["CALLBOT_DATABASE_URL"]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOT_")}
        rtp_min = 20000 + (self.sip_port % 400) * 100  # spread concurrent test servers over the range
        env.update(
            {
                "CALLBOT_SIP_PORT": str(self.sip_port),
                "CALLBOT_HTTP_PORT": str(self.http_port),
                "CALLBOT_SIP_RTP_PORT_MIN": str(rtp_min),
                "CALLBOT_SIP_RTP_PORT_MAX": str(rtp_min + 99),
                "CALLBOT_DATABASE_URL": f"sqlite:///{self.workdir / 'callbot.sqlite3'}",
                "CALLBOT_DATABASE_PSEUDONYM_KEY_FILE": str(self.workdir / "pseudonym.key"),
                "CALLBOT_DATABASE_SPILL_FILE": str(self.workdir / "store-spill.jsonl"),
                "CALLBOT_API_TOKEN": self.api_token,
                # managed dialogue servers on ports of their own: the defaults may be held by anything
                "CALLBOT_DIALOGUE_RASA_PORT": str(self.rasa_port),
                "CALLBOT_DIALOGUE_ACTION_PORT": str(self.action_port),
            }
        )
        env.update(self.env_overrides)
        return env

    def start(self, timeout_s: float = 240) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "callbot", "--config", str(self.config), "run"],
            cwd=REPO,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"callbot exited with {self.process.returncode}:\n{self.tail_log()}")
            if self.health()[0] == 200:
                return
            time.sleep(0.25)
        raise RuntimeError(f"callbot not ready after {timeout_s} s:\n{self.tail_log()}")

    def health(self) -> tuple[int, dict[str, object]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/healthz", timeout=2) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")
        except OSError:
            return 0, {}

    def api(self, path: str) -> object:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", headers={"Authorization": f"Bearer {self.api_token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def post(self, path: str, body: bytes | dict[str, object] | None = None) -> tuple[int, dict[str, object]]:
        """POST JSON (or raw bytes, sent as they are) without a token: the chat's routes; (status, JSON body)."""
        data = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}",
            data=data,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def dialogue_children(self) -> list[int]:
        """Pids of the Rasa and action servers this callbot started (its pid file, managed mode)."""
        path = Path(self.env().get("CALLBOT_DATABASE_SPILL_FILE", "")).parent / "dialogue-children.json"
        try:
            return [int(child["pid"]) for child in json.loads(path.read_text())]
        except (OSError, ValueError):
            return []

    def kill(self) -> None:
        """kill -9, as a crash would: nothing of ours runs on the way out."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    def tail_log(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
