"""the e-mail outbox and the audit log of personal data

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("handoff_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_recipient", "outbox", ["recipient"])
    op.create_index("ix_outbox_account_id", "outbox", ["account_id"])
    op.create_index("ix_outbox_handoff_id", "outbox", ["handoff_id"])
    op.create_index("ix_outbox_sent_at_next_attempt_at", "outbox", ["sent_at", "next_attempt_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=160), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    # Never the copy-and-move of batch mode on SQLite: under `PRAGMA foreign_keys`, dropping
    # the old `accounts` would cascade to the activation links (see 0002).
    with op.batch_alter_table("accounts", recreate="never") as batch:
        batch.add_column(sa.Column("conversation_id", sa.String(length=128), nullable=True))
        batch.create_index("ix_accounts_conversation_id", ["conversation_id"])


def downgrade() -> None:
    with op.batch_alter_table("accounts", recreate="never") as batch:
        batch.drop_index("ix_accounts_conversation_id")
        batch.drop_column("conversation_id")
    op.drop_table("audit_log")
    op.drop_table("outbox")
