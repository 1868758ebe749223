"""Calls record which callbot instance took them and the report fields collected so far.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

`node`: at its next start an instance closes the calls it left open (crash) as "interrupted", and only its own.
`collected_fields`: the report as the dialogue fills it, turn by turn, so that a crash mid-call loses none of it.
Written against signalements.models at that date; it does not import the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as calls:
        calls.add_column(sa.Column("node", sa.String(64), nullable=True))
        calls.add_column(sa.Column("collected_fields", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as calls:
        calls.drop_column("collected_fields")
        calls.drop_column("node")
