"""Reports say whether their street was found in the street base (for the supervisor).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Written against signalements.models at that date; it does not import the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as reports:
        reports.add_column(sa.Column("street_verified", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reports") as reports:
        reports.drop_column("street_verified")
