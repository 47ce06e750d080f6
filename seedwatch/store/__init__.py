"""Pipeline state (SQLAlchemy: SQLite or PostgreSQL)."""

from seedwatch.store.state import NewArticle, StateStore, StoryBatch, StoryIndex, as_utc, new_owner

__all__ = ["NewArticle", "StateStore", "StoryBatch", "StoryIndex", "as_utc", "new_owner"]
