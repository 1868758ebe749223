"""Database failures reach callers as clear StoreError subclasses, never as driver exceptions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from signalements import ReportDraft, Store, StoreUnavailable
from tests.signalements.conftest import PSEUDONYM_KEY, T0
from tests.support.postgres import PostgresServer


def test_plain_postgresql_urls_use_psycopg3() -> None:
    assert Store("postgresql://u@db.example/callbot", PSEUDONYM_KEY).url.drivername == "postgresql+psycopg"
    assert Store("postgres://u@db.example/callbot", PSEUDONYM_KEY).url.drivername == "postgresql+psycopg"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url"])
def test_unsupported_or_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="database"):
        Store(url, PSEUDONYM_KEY)


def test_sqlite_file_that_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / "db_is_a_directory").mkdir()
    store = Store(f"sqlite:///{tmp_path / 'db_is_a_directory'}", PSEUDONYM_KEY)
    with pytest.raises(StoreUnavailable, match=r"database unavailable \(sqlite .*db_is_a_directory\)"):
        store.ping()


@pytest.mark.postgres
def test_postgres_down_gives_store_unavailable_everywhere(own_postgres: PostgresServer) -> None:
    store = Store(own_postgres.create_database(), PSEUDONYM_KEY, connect_timeout_s=2)
    store.migrate()
    store.open_call("c", "sip", None, T0)
    own_postgres.stop()
    attempts: list[Callable[[], object]] = [
        store.ping,
        store.migrate,
        lambda: store.open_call("d", "sip", None, T0),
        lambda: store.add_turn("c", "bot", "Bonjour", T0, T0),
        lambda: store.list_calls(),
        lambda: store.get_call("c"),
        lambda: store.save_report("c", ReportDraft("a", "b", "c", False, False)),
        lambda: store.validate_report(1, "agent", None),
    ]
    for attempt in attempts:
        with pytest.raises(StoreUnavailable) as caught:
            attempt()
        message = str(caught.value)
        assert message.startswith(f"database unavailable (postgresql 127.0.0.1:{own_postgres.port}/")
        assert "\n" not in message and "Traceback" not in message
        assert caught.value.__cause__ is None
    own_postgres.start()
    store.ping()  # pooled connections died with the server: pre-ping replaces them
    assert store.get_call("c").summary.call_id == "c"
    store.close()
