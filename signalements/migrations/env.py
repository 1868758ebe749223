"""Alembic environment: runs on the connection `Store.migrate()` hands over (no alembic.ini, any cwd)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from signalements.models import Base


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("offline (--sql) migrations are not supported: use Store.migrate()")
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run the migrations through signalements.Store.migrate()")
    run_migrations(connection)


main()
