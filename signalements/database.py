"""Engine set-up for SQLite and PostgreSQL, and translation of driver errors into store errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from signalements.errors import InvalidRecord, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

# Execution option asking SQLite for BEGIN IMMEDIATE: a write transaction takes the write lock up front, so
# two processes (callbot, Rasa action server) wait on busy_timeout instead of failing on a lock upgrade.
SQLITE_IMMEDIATE = "signalements_begin_immediate"


def normalise_url(database_url: str) -> URL:
    """Parse the URL; plain postgresql:// (or postgres://) means psycopg 3."""
    try:
        url = make_url(database_url)
    except sa_exc.ArgumentError as exc:
        raise ValueError(f"invalid database URL: {exc}") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql")
    return url


def describe(url: URL) -> str:
    """Where the database is, without credentials, for error messages."""
    if url.get_backend_name() == "sqlite":
        return f"sqlite {url.database or ':memory:'}"
    return f"postgresql {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


TCP_DEAD_PEER = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # ms: unacknowledged data
}


def build_engine(url: URL, busy_timeout_s: float, connect_timeout_s: float) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, busy_timeout_s)
    return create_engine(
        url,
        pool_pre_ping=True,  # a restarted PostgreSQL leaves dead pooled connections behind
        pool_size=5,
        max_overflow=5,
        pool_timeout=connect_timeout_s,
        connect_args={
            "connect_timeout": max(1, round(connect_timeout_s)),
            "application_name": "callbot",
            # A partitioned server answers nothing: TCP gives up after ~10 s instead of hours, so the writer's
            # stuck write ends and the journal it spilled to can be replayed.
            **TCP_DEAD_PEER,
        },
    )


def _sqlite_engine(url: URL, busy_timeout_s: float) -> Engine:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer process
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough with WAL, much faster
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


@contextmanager
def translated_errors(where: str) -> Iterator[None]:
    """Turn SQLAlchemy/driver exceptions into StoreUnavailable / InvalidRecord / StoreError."""
    try:
        yield
    except StoreError:
        raise
    except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError) as exc:
        log.debug("database unavailable", exc_info=True)
        raise StoreUnavailable(f"database unavailable ({where}): {first_line(exc)}") from None
    except (sa_exc.IntegrityError, sa_exc.DataError) as exc:
        raise InvalidRecord(f"rejected by the database ({where}): {first_line(exc)}") from None
    except sa_exc.StatementError as exc:
        # Bind-parameter errors (e.g. a naive datetime refused by UtcDateTime) arrive wrapped.
        if isinstance(exc.orig, ValueError | TypeError):
            raise InvalidRecord(str(exc.orig)) from None
        log.exception("database error")
        raise StoreError(f"database error ({where}): {first_line(exc)}") from None
    except sa_exc.SQLAlchemyError as exc:
        log.exception("database error")
        raise StoreError(f"database error ({where}): {first_line(exc)}") from None
    except OSError as exc:  # e.g. SQLite directory cannot be created
        raise StoreUnavailable(f"database unavailable ({where}): {exc}") from None
