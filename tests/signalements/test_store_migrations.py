"""Alembic migrations: up from empty, idempotent, matching the ORM models, runnable from any cwd."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from signalements import Store
from signalements.database import normalise_url
from signalements.migrations import alembic_config
from signalements.models import Base
from tests.signalements.conftest import PSEUDONYM_KEY


def test_upgrade_from_empty_creates_the_schema_at_head(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no alembic.ini around: the configuration is built in code
    store = Store(db_url, PSEUDONYM_KEY)
    store.migrate()
    store.migrate()  # at head already: nothing to do
    store.close()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = create_engine(normalise_url(db_url))
    try:
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == head
            tables = set(inspect(connection).get_table_names())
            assert {"calls", "turns", "reports", "handoffs"} <= tables
            report_indexes = {ix["name"] for ix in inspect(connection).get_indexes("reports")}
            assert "ix_reports_status_created_at" in report_indexes
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], "models and migrations disagree: write an Alembic revision"


def test_migrations_ship_inside_the_package() -> None:
    script_dir = Path(alembic_config().get_main_option("script_location") or "")
    assert (script_dir / "env.py").is_file()
    assert script_dir.is_relative_to(Path(__file__).resolve().parents[2] / "signalements")
    assert os.path.isabs(script_dir)
