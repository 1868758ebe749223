"""A real, throwaway PostgreSQL 15 server for tests.

`PostgresServer` runs initdb and pg_ctl in a fresh temporary directory, listening on 127.0.0.1 on a free port
with its unix socket inside that directory, so parallel test runs never collide. PostgreSQL refuses to run as
root: when the tests run as root, the server runs as the `postgres` system user (via `runuser`).

The `postgres_server` fixture (session scope) yields a started server; `fresh_postgres_url(server)` creates an
empty database on it and returns a SQLAlchemy URL. Tests skip with a clear reason only when the binaries are
missing.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.sip_peers import free_port

PG_BIN_DIR = Path(os.environ.get("CALLBOT_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL binaries are missing or the server would not start."""


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory; start/stop can be repeated (same port, same data)."""

    def __init__(self, bin_dir: Path = PG_BIN_DIR) -> None:
        if not (bin_dir / "initdb").exists() or not (bin_dir / "pg_ctl").exists():
            raise PostgresUnavailable(f"PostgreSQL server binaries not found in {bin_dir}")
        self.bin_dir = bin_dir
        self._as_root = os.geteuid() == 0
        self.base_dir = Path(tempfile.mkdtemp(prefix="callbot-pg-"))
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.log_file = self.base_dir / "server.log"
        self.socket_dir.mkdir()
        if self._as_root:
            try:
                user = pwd.getpwnam(SERVER_USER)
            except KeyError as exc:
                raise PostgresUnavailable(f"running as root but there is no '{SERVER_USER}' user") from exc
            for path in (self.base_dir, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
        self.port = free_port()
        self.running = False
        self._db_counter = itertools.count(1)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale",
            "C",
        )

    def _command(self, tool: str, *args: str) -> list[str]:
        command = [str(self.bin_dir / tool), *args]
        if self._as_root:
            return ["runuser", "-u", SERVER_USER, "--", *command]
        return command

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            self._command(tool, *args), capture_output=True, text=True, timeout=120, cwd=self.base_dir, check=False
        )
        if result.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            output = result.stderr.strip() or result.stdout.strip()
            raise PostgresUnavailable(f"{tool} failed ({result.returncode}): {output}\n{log}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options, "-w", "-t", "60", "start"
        )
        self.running = True

    def stop(self) -> None:
        """Fast shutdown: open sessions are terminated, as when the DB server goes down under the callbot."""
        if self.running:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop")
            self.running = False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """An empty database with a unique name; returns its SQLAlchemy URL."""
        import psycopg

        name = f"test_{next(self._db_counter)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A started server, destroyed afterwards; skips the test when the binaries are missing."""
    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        if "not found" in str(exc):
            pytest.skip(str(exc))
        raise
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


def fresh_postgres_url(server: PostgresServer) -> str:
    if not server.running:
        server.start()
    return server.create_database()
