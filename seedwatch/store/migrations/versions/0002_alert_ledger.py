"""alert ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 03:59:21.886570
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_ledger",
        sa.Column("rule", sa.String(length=120), nullable=False),
        sa.Column("story_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("signature", sa.JSON(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("latency_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("rule", "story_id"),
    )


def downgrade() -> None:
    op.drop_table("alert_ledger")
