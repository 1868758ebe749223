"""Alembic migrations of the signalements schema; applied by `signalements.Store.migrate()`."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config() -> Config:
    """Alembic configuration built in code, so migrations run from any cwd and from an installed package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config
