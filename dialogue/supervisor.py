"""Runs the dialogue as child processes: the Rasa server (own Python 3.10 env) and the custom action server
(rasa-sdk, this env). Health-checks them, restarts a dead one with backoff, prefixes their output in our log,
stops them with SIGTERM then SIGKILL. "External" mode just points at a Rasa server someone else runs.

Both listen on 127.0.0.1 only and want a secret made afresh at each start (Rasa's --auth-token; the action
server's ACTION_SERVER_TOKEN, which Rasa sends it). They die with the callbot (dialogue.lifeline), and a pid
file lets the next start end any that a crash left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from dialogue.lifeline import PARENT_PID_ENV, ChildRecord, PidFile
from dialogue.training import DEFAULT_RASA_BIN, DIALOGUE_DIR

log = logging.getLogger(__name__)
REPO_ROOT = DIALOGUE_DIR.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = DIALOGUE_DIR
    marker: str = ""  # a word of the command line that tells this child from any other process
    port: int = 0  # the loopback port it listens on (0: none to check)


class PortInUseError(RuntimeError):
    """A managed child's port is held by a process that is not ours: starting it would only crash-loop."""


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free for a server
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class ChildProcess:
    """One supervised process: start, watch, restart with backoff, stop."""

    def __init__(self, spec: ChildSpec, max_backoff_s: float = 30.0) -> None:
        self.spec = spec
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._max_backoff_s = max_backoff_s
        self._stopping = False
        self._watch: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self.on_spawn: Callable[[], None] | None = None  # told of each (re)start, to keep the pid file true
        self.on_exit: Callable[[], None] | None = None  # told at once when it dies: readiness must not lag

    async def start(self) -> None:
        self._stopping = False
        await self._spawn()
        self._watch = asyncio.create_task(self._watch_loop(), name=f"watch-{self.spec.name}")

    async def _spawn(self) -> None:
        env = {**os.environ, **self.spec.env, PARENT_PID_ENV: str(os.getpid())}
        self.process = await asyncio.create_subprocess_exec(
            *self.spec.argv,
            cwd=self.spec.cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        log.info("%s: started pid %s", self.spec.name, self.process.pid)
        if self.on_spawn is not None:
            self.on_spawn()
        self._pump = asyncio.create_task(self._pump_output(self.process), name=f"log-{self.spec.name}")

    async def _pump_output(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line:
                log.info("[%s] %s", self.spec.name, line)

    async def _watch_loop(self) -> None:
        backoff = 1.0
        while not self._stopping:
            assert self.process is not None
            code = await self.process.wait()
            if self._stopping:
                return
            if self.on_exit is not None:
                self.on_exit()
            log.error("%s exited with code %s; restarting in %.0f s", self.spec.name, code, backoff)
            await asyncio.sleep(backoff)
            if self._stopping:
                return
            backoff = min(backoff * 2, self._max_backoff_s)
            self.restarts += 1
            await self._spawn()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def healthy(self, http: aiohttp.ClientSession) -> bool:
        if not self.running:
            return False
        try:
            async with http.get(self.spec.health_url) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    async def stop(self, grace_s: float = 10.0) -> None:
        self._stopping = True
        if self._watch:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), grace_s)
            except TimeoutError:
                log.warning("%s did not stop on SIGTERM; killing it", self.spec.name)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        if self._pump:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._pump, 2.0)


class ManagedDialogue:
    """The dialogue the callbot talks to: `url` is the Rasa server; `ready` once both servers answer."""

    def __init__(
        self,
        model: Path | None = None,
        *,
        rasa_port: int = 0,
        action_port: int = 0,
        eager: bool = False,
        rasa_bin: Path = DEFAULT_RASA_BIN,
        external_url: str | None = None,
        external_token: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        health_interval_s: float = 2.0,
        pid_file: Path | None = None,
        tracker_store_url: str | None = None,
    ) -> None:
        """`extra_env` goes to the action server only (database URL, pseudonymisation key): Rasa needs none of it.

        In managed mode Rasa's HTTP API (trackers hold what callers said) needs `token`, made afresh each start.
        `tracker_store_url`: Rasa keeps its conversations in that database (rasa_ext/launch.py), not in memory.
        """
        self.external = external_url is not None
        self.ready = False
        self._ready_event = asyncio.Event()
        self._health_interval_s = health_interval_s
        self._processes: list[ChildProcess] = []
        self._health_task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._pid_file = PidFile(pid_file) if pid_file is not None else None
        if external_url is not None:
            self.url = external_url.rstrip("/")
            self.token = external_token
            self._status_url = self.url + "/status" + (f"?token={external_token}" if external_token else "")
            return
        if model is None:
            raise ValueError("managed mode needs a model path (dialogue.training.ensure_model)")
        rasa_port = rasa_port or free_port()
        action_port = action_port or free_port()
        self.url = f"http://127.0.0.1:{rasa_port}"
        self.token = secrets.token_urlsafe(24)
        self._status_url = f"{self.url}/status?token={self.token}"
        action_url = f"http://127.0.0.1:{action_port}"
        action_token = secrets.token_urlsafe(24)
        env = dict(extra_env or {})
        rasa_python = rasa_bin.parent / "python"
        launcher = [str(rasa_python), str(DIALOGUE_DIR / "rasa_ext" / "launch.py")] + (["--eager"] if eager else [])
        specs = [
            ChildSpec(
                name="actions",
                argv=[sys.executable, "-m", "dialogue.action_server", "--port", str(action_port)],
                health_url=action_url + "/health",
                env={**env, "PYTHONPATH": str(REPO_ROOT), "ACTION_SERVER_TOKEN": action_token},
                cwd=REPO_ROOT,
                marker="dialogue.action_server",
                port=action_port,
            ),
            ChildSpec(
                name="rasa",
                argv=[
                    *launcher,
                    "run",
                    "--enable-api",
                    "-m",
                    str(model),
                    "--port",
                    str(rasa_port),
                    "-i",
                    "127.0.0.1",
                    "--endpoints",
                    "endpoints.yml",
                    "--credentials",
                    "credentials.yml",
                ],
                health_url=self._status_url,
                env={
                    "ACTION_SERVER_URL": action_url + "/webhook",
                    "ACTION_SERVER_TOKEN": action_token,
                    "RASA_AUTH_TOKEN": self.token,
                    "RASA_CHANNEL_TOKEN": self.token,  # its REST channel too (dialogue/rasa_ext/secured_rest.py)
                    "TF_CPP_MIN_LOG_LEVEL": "2",
                    # in the environment, not on the command line: it may hold a password
                    **({"RASA_TRACKER_STORE_URL": tracker_store_url} if tracker_store_url else {}),
                },
                marker=str(DIALOGUE_DIR / "rasa_ext" / "launch.py"),
                port=rasa_port,
            ),
        ]
        self._processes = [ChildProcess(spec) for spec in specs]

    async def start(self, timeout_s: float | None = None) -> None:
        """Start the servers; with a timeout, wait until they are ready (TimeoutError otherwise)."""
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        if not self.external:
            if self._pid_file is not None:
                await asyncio.to_thread(self._pid_file.end_stale)
            await self._check_ports()
            for child in self._processes:
                child.on_spawn = self._record_children
                child.on_exit = self._child_exited
                await child.start()
        self._health_task = asyncio.create_task(self._health_loop(), name="dialogue-health")
        if timeout_s is not None:
            await self.wait_ready(timeout_s)

    async def _check_ports(self, grace_s: float = 10.0) -> None:
        """Fail at once, and say why, when another program holds a child's port (stale children just ended
        may take a moment to release theirs)."""
        deadline = asyncio.get_running_loop().time() + grace_s
        while True:
            held = [c.spec for c in self._processes if c.spec.port and not port_is_free(c.spec.port)]
            if not held:
                return
            if asyncio.get_running_loop().time() >= deadline:
                names = ", ".join(f"{spec.name} port {spec.port}" for spec in held)
                raise PortInUseError(
                    f"{names} already in use by another program: stop it, or set dialogue.rasa_port / "
                    "dialogue.action_port to free ones"
                )
            await asyncio.sleep(0.5)

    async def wait_ready(self, timeout_s: float) -> None:
        await asyncio.wait_for(self._ready_event.wait(), timeout_s)

    async def check(self) -> bool:
        assert self._http is not None
        if self.external:
            try:
                async with self._http.get(self._status_url) as response:
                    return response.status == 200
            except (aiohttp.ClientError, TimeoutError, OSError):
                return False
        results = [await child.healthy(self._http) for child in self._processes]
        return all(results)

    async def _health_loop(self) -> None:
        while True:
            healthy = await self.check()
            if healthy != self.ready:
                log.info("dialogue %s", "ready" if healthy else "not ready")
            self.ready = healthy
            if healthy:
                self._ready_event.set()
            else:
                self._ready_event.clear()
            await asyncio.sleep(self._health_interval_s if healthy else 0.5)

    def _child_exited(self) -> None:
        # Not ready from this instant, until the health loop sees the restarted child answer again.
        if self.ready:
            log.info("dialogue not ready")
        self.ready = False
        self._ready_event.clear()

    def _record_children(self) -> None:
        if self._pid_file is None:
            return
        running = [c for c in self._processes if c.process is not None and c.process.returncode is None]
        records = [ChildRecord(c.spec.name, c.process.pid, c.spec.marker) for c in running if c.process]
        try:
            self._pid_file.write(records)
        except OSError as error:  # the children run all the same; only a crash's clean-up would miss them
            log.warning("cannot write %s: %s", self._pid_file.path, error)

    @property
    def restarts(self) -> int:
        return sum(child.restarts for child in self._processes)

    async def stop(self) -> None:
        self.ready = False
        if self._health_task:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
        for child in reversed(self._processes):
            await child.stop()
        if self._pid_file is not None and not self.external:
            self._pid_file.path.unlink(missing_ok=True)
        if self._http:
            await self._http.close()
