"""index articles by (content_hash, first_seen_at): the first copy of a text in one step

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_articles_content_hash_first_seen", "articles", ["content_hash", "first_seen_at"])
    op.drop_index("ix_articles_content_hash", table_name="articles")


def downgrade() -> None:
    op.create_index("ix_articles_content_hash", "articles", ["content_hash"])
    op.drop_index("ix_articles_content_hash_first_seen", table_name="articles")
