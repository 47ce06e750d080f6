"""event stories: story centroids and faces, event-term document frequencies, postings

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 14:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("centroid", sa.JSON()))
        batch.add_column(sa.Column("headline_similarity", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("outlets", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("languages", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "story_term_df",
        sa.Column("term", sa.String(120), primary_key=True),
        sa.Column("df", sa.Integer(), nullable=False),
    )
    op.create_table(
        "story_postings",
        sa.Column("term", sa.String(120), primary_key=True),
        sa.Column("story_id", sa.String(40), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("story_postings")
    op.drop_table("story_term_df")
    with op.batch_alter_table("stories") as batch:
        for column in ("languages", "outlets", "headline_similarity", "centroid", "last_seen_at"):
            batch.drop_column(column)
