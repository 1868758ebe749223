"""Initial schema: calls, turns, reports, handoffs.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written against signalements.models at that date; it does not import the models, so later model changes
cannot rewrite history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("caller_pseudonym", sa.String(length=64), nullable=True),
        _timestamp("started_at"),
        _timestamp("ended_at", nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.CheckConstraint("channel IN ('sip', 'webrtc', 'text')", name=op.f("ck_calls_channel")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("public_id", name=op.f("uq_calls_public_id")),
    )
    op.create_index("ix_calls_started_at_id", "calls", ["started_at", "id"])

    op.create_table(
        "turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("speaker", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("asr_confidence", sa.Float(), nullable=True),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("intent_confidence", sa.Float(), nullable=True),
        _timestamp("started_at"),
        _timestamp("ended_at"),
        sa.CheckConstraint("speaker IN ('caller', 'bot', 'system')", name=op.f("ck_turns_speaker")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_turns_call_id_calls"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turns")),
        sa.UniqueConstraint("call_id", "seq", name=op.f("uq_turns_call_id_seq")),
    )
    op.create_index("ix_turns_started_at", "turns", ["started_at"])

    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("category_other_words", sa.Text(), nullable=True),
        sa.Column("place", sa.Text(), nullable=False),
        sa.Column("street_number", sa.String(length=32), nullable=True),
        sa.Column("street_name", sa.String(length=255), nullable=True),
        sa.Column("commune", sa.String(length=128), nullable=True),
        sa.Column("landmark", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("danger", sa.Boolean(), nullable=False),
        sa.Column("callback_consent", sa.Boolean(), nullable=False),
        sa.Column("callback_number", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        _timestamp("created_at"),
        sa.Column("reviewed_by", sa.String(length=128), nullable=True),
        _timestamp("reviewed_at", nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('awaiting_validation', 'validated', 'rejected')", name=op.f("ck_reports_status")
        ),
        sa.CheckConstraint(
            "callback_number IS NULL OR callback_consent", name=op.f("ck_reports_callback_needs_consent")
        ),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_reports_call_id_calls"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    op.create_index("ix_reports_call_id", "reports", ["call_id"])
    op.create_index("ix_reports_created_at", "reports", ["created_at"])
    op.create_index("ix_reports_status_created_at", "reports", ["status", "created_at"])

    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        _timestamp("at"),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_handoffs_call_id_calls"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoffs")),
    )
    op.create_index("ix_handoffs_at", "handoffs", ["at"])
    op.create_index("ix_handoffs_call_id", "handoffs", ["call_id"])


def downgrade() -> None:
    for table in ("handoffs", "reports", "turns", "calls"):
        op.drop_table(table)
