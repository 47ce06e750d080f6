"""story postings carry when they were posted: a lookup reads only recent stories per term

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 14:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("story_postings") as batch:
        batch.add_column(sa.Column("posted_at", sa.DateTime(timezone=True)))
    # A term's most recent postings: one index range, however many stories ever used it.
    op.create_index("ix_story_postings_term_posted", "story_postings", ["term", "posted_at"])


def downgrade() -> None:
    op.drop_index("ix_story_postings_term_posted", table_name="story_postings")
    with op.batch_alter_table("story_postings") as batch:
        batch.drop_column("posted_at")
