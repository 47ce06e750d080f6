"""index articles by first_seen_at (alert look-back windows)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 07:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_articles_first_seen_at", "articles", ["first_seen_at"])


def downgrade() -> None:
    op.drop_index("ix_articles_first_seen_at", table_name="articles")
