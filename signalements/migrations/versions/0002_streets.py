"""Streets of the Base Adresse Nationale, for checking the street a caller names.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Written against signalements.models at that date; it does not import the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "streets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune", sa.String(length=128), nullable=False),
        sa.Column("postcode", sa.String(length=5), nullable=False),
        sa.Column("insee_code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("folded_name", sa.String(length=255), nullable=False),
        sa.Column("phonetic_key", sa.String(length=255), nullable=False),
        sa.Column("numbers", sa.Text(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_streets")),
        sa.UniqueConstraint("insee_code", "name", name=op.f("uq_streets_insee_code_name")),
    )
    op.create_index("ix_streets_commune", "streets", ["commune"])
    op.create_index("ix_streets_phonetic_key", "streets", ["phonetic_key"])


def downgrade() -> None:
    op.drop_table("streets")
