"""Tables of the state store (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Everything the pipeline must remember between runs lives here, not in Airflow:
feed validators and schedule, seen URLs and GUIDs, the near-duplicate index, the
indexing outbox and the alert ledger. Migrations in ``seedwatch/store/migrations``
are the source of truth for the database; this module is what the code queries.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

ID = String(40)  # sha1 hex
UTC = DateTime(timezone=True)

feeds = Table(
    "feeds",
    metadata,
    Column("feed_id", ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("url", Text, nullable=False),
    Column("outlet", String(200), nullable=False),
    Column("language", String(8)),
    Column("country", String(2)),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(64)),
    Column("interval_s", Integer),
    Column("next_poll_at", UTC, index=True),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_status", String(20)),
    Column("last_error", Text),
    Column("last_polled_at", UTC),
    Column("last_success_at", UTC),
    Column("last_new_item_at", UTC),
    Column("items_per_day", Float),
    Column("total_items", Integer, nullable=False, default=0),
    # A lease keeps two workers from polling the same feed at once.
    Column("lease_owner", String(80)),
    Column("lease_until", UTC),
)

articles = Table(
    "articles",
    metadata,
    Column("article_id", ID, primary_key=True),  # stable_id(canonical_url)
    Column("canonical_url", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("feed_id", ID, nullable=False, index=True),
    Column("guid", Text),
    Column("outlet", String(200), nullable=False),
    Column("country", String(2)),
    Column("feed_language", String(8)),
    Column("language", String(8)),
    Column("title", Text, nullable=False, default=""),
    Column("summary", Text, nullable=False, default=""),
    Column("text", Text, nullable=False, default=""),
    Column("published_at", UTC),
    Column("modified_at", UTC),
    Column("first_seen_at", UTC, nullable=False, index=True),
    Column("authors", JSON, nullable=False, default=list),
    Column("section", Text),
    Column("image", Text),
    Column("body_source", String(20), nullable=False, default="feed-summary"),
    Column("extraction_method", String(40)),
    Column("extraction", JSON),  # date sources, word count, teaser flag, direction
    Column("content_hash", String(64)),
    Column("minhash", LargeBinary),
    Column("story_id", ID),
    Column("tags", JSON, nullable=False, default=list),  # [TopicTag as dict]
    Column("best_grade", Integer, index=True),
    Column("best_score", Float),
    # discovered -> processed (fetched or fell back to the feed summary) ; retried while
    # fetch_attempts < max and the body still comes from the feed summary.
    Column("status", String(20), nullable=False, default="discovered", index=True),
    Column("fetch_attempts", Integer, nullable=False, default=0),
    Column("last_fetch_error", Text),
    Column("next_fetch_at", UTC),
    Column("processed_at", UTC),
    Column("lease_owner", String(80)),
    Column("lease_until", UTC),
)

# A GUID seen in a feed maps to the article it first named, so a publisher that
# changes the URL behind a GUID does not create a second article.
feed_guids = Table(
    "feed_guids",
    metadata,
    Column("feed_id", ID, primary_key=True),
    Column("guid_hash", ID, primary_key=True),
    Column("article_id", ID, nullable=False),
)

# Locality-sensitive hashing bands of each article's MinHash: candidates for
# near-duplicates are the articles sharing a band, an index lookup per band.
minhash_bands = Table(
    "minhash_bands",
    metadata,
    Column("band_key", String(64), primary_key=True),
    Column("article_id", ID, primary_key=True),
)

stories = Table(
    "stories",
    metadata,
    Column("story_id", ID, primary_key=True),  # the article_id of its first article
    Column("title", Text, nullable=False),
    Column("first_seen_at", UTC, nullable=False),
    Column("updated_at", UTC, nullable=False),
    Column("article_count", Integer, nullable=False, default=1),
    # The event (seedwatch.stories.events): its latest article, centroid and face.
    Column("last_seen_at", UTC),
    Column("centroid", JSON),  # {"words": {term: weight}, "names": {term: weight}}
    Column("headline_similarity", Float, nullable=False, default=0.0),
    Column("outlets", JSON, nullable=False, default=list),
    Column("languages", JSON, nullable=False, default=list),
)

# Event stories: in how many articles each event term appears (the key "*" counts the
# articles), and the stories posted under each article's most salient terms, which is
# where an article looks for the story of its event.
story_term_df = Table(
    "story_term_df",
    metadata,
    Column("term", String(120), primary_key=True),
    Column("df", Integer, nullable=False),
)

story_postings = Table(
    "story_postings",
    metadata,
    Column("term", String(120), primary_key=True),
    Column("story_id", ID, primary_key=True),
    Column("posted_at", UTC),  # the posting article's time: lookups read the latest per term
)

# Articles waiting for the article index to acknowledge them. A row is deleted
# only when the index says the document is stored; nothing is lost in an outage.
index_outbox = Table(
    "index_outbox",
    metadata,
    Column("article_id", ID, primary_key=True),
    Column("enqueued_at", UTC, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("next_attempt_at", UTC, index=True),
    Column("dead", Boolean, nullable=False, default=False),  # rejected permanently
)

# Named leases for work that must not run twice at once (e.g. the alert sender).
leases = Table(
    "leases",
    metadata,
    Column("name", String(120), primary_key=True),
    Column("owner", String(80), nullable=False),
    Column("until", UTC, nullable=False),
)

Index("ix_story_postings_term_posted", story_postings.c.term, story_postings.c.posted_at)
Index("ix_articles_status_next_fetch", articles.c.status, articles.c.next_fetch_at)
# The first article with a given text: one index step, however many copies of it there are.
Index("ix_articles_content_hash_first_seen", articles.c.content_hash, articles.c.first_seen_at)
# The articles without a story, in first-seen order (de-duplication's next batch), and the
# articles of a story: one index range either way.
Index("ix_articles_story_first_seen", articles.c.story_id, articles.c.first_seen_at, articles.c.article_id)
