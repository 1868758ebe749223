"""Fixtures for the signalements tests: a migrated Store on SQLite and on a real PostgreSQL 15."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from signalements import Store
from tests.support.postgres import PostgresServer, fresh_postgres_url, running_postgres

PSEUDONYM_KEY = b"test-pseudonym-key-0123456789abcdef"
T0 = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def database_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'callbot.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return fresh_postgres_url(server)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind, not migrated."""
    return database_url(request.param, tmp_path, request)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated Store on SQLite, then on PostgreSQL."""
    store = Store(db_url, PSEUDONYM_KEY)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test alone, which it may stop and restart."""
    with running_postgres() as server:
        yield server
