"""One batch of story assignment, level by level, as ``assign_stories`` runs it.

An article joins an existing story at the first level that finds one:

1. **same text**: an earlier article with the same normalised text (content hash);
2. **near-duplicate copy**: an article sharing LSH bands whose MinHash similarity reaches
   ``NEAR_DUPLICATE_THRESHOLD`` (a wire story re-run with its own intro and edits);
3. **same event**: the story whose event centroid is closest (:mod:`seedwatch.stories.events`).

Otherwise it starts a story of its own, whose id is its article id. Levels 1 and 2 are
exact and cheap and keep syndicated copies together whatever level 3 decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from seedwatch.dedup import NEAR_DUPLICATE_THRESHOLD, estimated_similarity, lsh_band_keys
from seedwatch.store import StoryBatch, StoryIndex, as_utc
from seedwatch.store.events import load_event_index, load_event_story, save_event_index
from seedwatch.stories.events import EventIndex
from seedwatch.stories.features import event_terms

__all__ = ["LevelCounts", "assign_batch"]


@dataclass
class LevelCounts:
    articles: int = 0
    new_stories: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    same_event: int = 0


def _event_time(article: dict[str, Any]) -> datetime:
    return as_utc(article["published_at"]) or article["first_seen_at"]


def _copy_of(
    conn: sa.Connection, stories: StoryIndex, article: dict[str, Any], in_batch: set[str]
) -> tuple[str | None, list[str]]:
    """What the article is a near-duplicate of (a story, or an earlier article of this batch), and its band keys."""
    keys = lsh_band_keys(article["minhash"]) if article["minhash"] else []
    scored = [
        (estimated_similarity(article["minhash"], signature), story or candidate)
        for candidate, story, signature in stories.band_candidates(conn, keys)
        if story or candidate in in_batch
    ]
    best = max(scored, default=(0.0, None), key=lambda pair: pair[0])
    return (best[1] if best[1] is not None and best[0] >= NEAR_DUPLICATE_THRESHOLD else None), keys


def assign_batch(
    conn: sa.Connection,
    stories: StoryIndex,
    pending: list[dict[str, Any]],
    *,
    story_of_text: dict[str, str],
    window: timedelta | None,
    now: datetime,
) -> LevelCounts:
    """Assign ``pending`` (first seen first) to stories and write the batch in ``conn``.

    Two passes: the copy levels first, which need no event state, then, in order, the
    event level for the articles that copy nothing; only their terms are computed and
    only the state they can reach is loaded. A copy of an article of this batch takes
    that article's story, whichever level gave it.
    """
    counts = LevelCounts()
    batch = StoryBatch()
    copies: dict[str, str] = {}  # article -> the story or the earlier batch article it copies
    in_batch: set[str] = set()
    first_texts: list[str] = []  # texts first seen in this batch
    for article in pending:
        article["first_seen_at"] = as_utc(article["first_seen_at"])
        text = article["content_hash"]
        target = story_of_text.get(text) or stories.same_content(conn, text, article["article_id"])
        # A copy of a text has the same bands as its first copy, whose bands are indexed
        # already: indexing them again would only lengthen candidate lists.
        keys: list[str] = []
        if target:
            counts.exact_duplicates += 1
        else:
            target, keys = _copy_of(conn, stories, article, in_batch)
            counts.near_duplicates += target is not None
        if target:
            copies[article["article_id"]] = target
        else:
            story_of_text[text] = article["article_id"]  # resolved to its story below
            first_texts.append(text)
        stories.index_bands(conn, article["article_id"], keys)
        in_batch.add(article["article_id"])
    fresh = [article for article in pending if article["article_id"] not in copies]
    terms = {article["article_id"]: event_terms(article["title"] or "", article["lead"] or "") for article in fresh}
    times = {article["article_id"]: _event_time(article) for article in pending}
    since = min(times.values()) - window if window is not None and times else None
    events = load_event_index(conn, list(terms.values()), index=EventIndex(window=window), since=since)
    for article in pending:
        article_id = article["article_id"]
        source = {"outlet": article["outlet"] or "", "language": article["language"] or ""}
        if article_id in copies:
            target = copies[article_id]
            story_id = batch.assigned.get(target, target)  # an article of this batch, or a story
            if load_event_story(conn, events, story_id) is not None:
                events.add_copy(story_id, at=times[article_id], **source)
        else:
            title = article["title"] or ""
            assignment = events.assign(article_id, terms[article_id], at=times[article_id], title=title, **source)
            story_id = assignment.story_id
            counts.same_event += not assignment.new
        counts.articles += 1
        counts.new_stories += batch.add(article, story_id)
    for text in first_texts:
        story_of_text[text] = batch.assigned[story_of_text[text]]
    stories.write(conn, batch, now=now)
    save_event_index(conn, events, stories.store._insert)
    return counts
