"""The supervisors' console: accounts, their sessions, the audit trail, call-back requests, call figures.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

Reports gain a `version` (a supervisor's action names the version seen: a stale one is a conflict, never a
silent overwrite) and indexes on category and commune (the queue's filters); turns keep the recogniser's word
confidences; calls keep their CPU time, reply latencies and mean recognition confidence for the dashboard.
Written against signalements.models at that date; it does not import the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("calls") as calls:
        calls.add_column(sa.Column("cpu_seconds", sa.Float(), nullable=True))
        calls.add_column(sa.Column("reply_latencies_ms", sa.JSON(), nullable=True))
        calls.add_column(sa.Column("mean_asr_confidence", sa.Float(), nullable=True))
        calls.create_index("ix_calls_outcome_started_at", ["outcome", "started_at"])
    with op.batch_alter_table("turns") as turns:
        turns.add_column(sa.Column("words", sa.JSON(), nullable=True))
    with op.batch_alter_table("reports") as reports:
        reports.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        reports.create_index("ix_reports_category", ["category"])
        reports.create_index("ix_reports_commune", ["commune"])
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", _utc(), nullable=True),
        sa.Column("last_login_at", _utc(), nullable=True),
        sa.CheckConstraint("role IN ('superviseur', 'agent', 'admin')", name="ck_accounts_role"),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("name", name="uq_accounts_name"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("last_seen_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_console_sessions_account_id_accounts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_console_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_console_sessions_token_hash"),
    )
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("callback_id", sa.Integer(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entries"),
    )
    op.create_index("ix_audit_entries_report_id", "audit_entries", ["report_id"])
    op.create_index("ix_audit_entries_at", "audit_entries", ["at"])
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", _utc(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("number", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("handled_by", sa.String(64), nullable=True),
        sa.Column("handled_at", _utc(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.CheckConstraint("status IN ('pending', 'done', 'no_answer')", name="ck_callback_requests_status"),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name="fk_callback_requests_call_id_calls", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_callback_requests"),
    )
    op.create_index("ix_callback_requests_status_requested_at", "callback_requests", ["status", "requested_at"])


def downgrade() -> None:
    op.drop_table("callback_requests")
    op.drop_table("audit_entries")
    op.drop_table("console_sessions")
    op.drop_table("accounts")
    with op.batch_alter_table("reports") as reports:
        reports.drop_index("ix_reports_commune")
        reports.drop_index("ix_reports_category")
        reports.drop_column("version")
    with op.batch_alter_table("turns") as turns:
        turns.drop_column("words")
    with op.batch_alter_table("calls") as calls:
        calls.drop_index("ix_calls_outcome_started_at")
        calls.drop_column("mean_asr_confidence")
        calls.drop_column("reply_latencies_ms")
        calls.drop_column("cpu_seconds")
