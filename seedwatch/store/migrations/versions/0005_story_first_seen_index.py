"""index articles by (story_id, first_seen_at, article_id): the unassigned articles in order

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 11:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # De-duplication reads the next articles without a story in first-seen order. By status
    # alone that read visited every processed article, once per batch: quadratic in a run.
    op.create_index("ix_articles_story_first_seen", "articles", ["story_id", "first_seen_at", "article_id"])
    op.drop_index("ix_articles_story_id", table_name="articles")


def downgrade() -> None:
    op.create_index("ix_articles_story_id", "articles", ["story_id"])
    op.drop_index("ix_articles_story_first_seen", table_name="articles")
