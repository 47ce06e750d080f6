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

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from seedwatch.dedup import NEAR_DUPLICATE_THRESHOLD, estimated_similarity, lsh_band_keys
from seedwatch.store import StoryBatch, StoryIndex, as_utc
from seedwatch.store.events import load_event_index, load_event_stories, save_event_index
from seedwatch.stories.events import EventIndex
from seedwatch.stories.features import event_terms

__all__ = ["DedupSummary", "assign_batch"]


@dataclass
class DedupSummary:
    """How many articles each level placed: the summary of a batch, and of a whole run."""

    articles: int = 0
    new_stories: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    same_event: int = 0  # joined the story of the same event reported elsewhere

    def add(self, other: DedupSummary) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def _event_time(article: dict[str, Any]) -> datetime:
    return as_utc(article["published_at"]) or article["first_seen_at"]


def _copies(
    conn: sa.Connection, stories: StoryIndex, pending: list[dict[str, Any]], story_of_text: dict[str, str]
) -> tuple[dict[str, str], list[str], DedupSummary]:
    """The copy levels for a batch, with one query per level for the whole batch.

    Returns what each copy copies (a story, or an earlier article of this batch whose story
    is decided in the second pass), the texts first seen in this batch, and the counts.
    """
    counts = DedupSummary()
    stored_texts = stories.stories_of_texts(
        conn, [article["content_hash"] for article in pending if article["content_hash"] not in story_of_text]
    )
    keys_of = {
        article["article_id"]: lsh_band_keys(article["minhash"]) if article["minhash"] else []
        for article in pending
        if article["content_hash"] not in story_of_text and article["content_hash"] not in stored_texts
    }
    stored_bands = stories.band_candidates(conn, {key for keys in keys_of.values() for key in keys})
    batch_bands: dict[str, list[tuple[str, bytes]]] = {}
    copies: dict[str, str] = {}
    first_texts: list[str] = []
    bands: list[tuple[str, str]] = []
    for article in pending:
        article_id, text = article["article_id"], article["content_hash"]
        target = story_of_text.get(text) or stored_texts.get(text)
        if target:  # its bands equal its first copy's, indexed already
            counts.exact_duplicates += 1
            copies[article_id] = target
            continue
        keys = keys_of[article_id]
        similar: dict[str, float] = {}  # story or batch article -> best similarity
        for key in keys:
            for _, story_id, signature in stored_bands.get(key, ()):
                similar[story_id] = max(similar.get(story_id, 0.0), estimated_similarity(article["minhash"], signature))
            for other, signature in batch_bands.get(key, ()):
                similar[other] = max(similar.get(other, 0.0), estimated_similarity(article["minhash"], signature))
        best = max(similar.items(), key=lambda item: item[1], default=(None, 0.0))
        if best[0] is not None and best[1] >= NEAR_DUPLICATE_THRESHOLD:
            counts.near_duplicates += 1
            copies[article_id] = best[0]
        story_of_text[text] = copies.get(article_id, article_id)  # resolved to a story after the batch
        first_texts.append(text)
        for key in keys:
            batch_bands.setdefault(key, []).append((article_id, article["minhash"]))
            bands.append((key, article_id))
    stories.index_bands(conn, bands)
    return copies, first_texts, counts


def assign_batch(
    conn: sa.Connection,
    stories: StoryIndex,
    pending: list[dict[str, Any]],
    *,
    story_of_text: dict[str, str],
    window: timedelta | None,
    now: datetime,
) -> DedupSummary:
    """Assign ``pending`` (first seen first) to stories and write the batch in ``conn``.

    Two passes: the copy levels first, which need no event state, then, in order, the
    event level for the articles that copy nothing; only their terms are computed and
    only the state they can reach is loaded. A copy of an article of this batch takes
    that article's story, whichever level gave it.
    """
    batch = StoryBatch()
    for article in pending:
        article["first_seen_at"] = as_utc(article["first_seen_at"])
    copies, first_texts, counts = _copies(conn, stories, pending, story_of_text)
    in_batch_ids = {article["article_id"] for article in pending}
    fresh = [article for article in pending if article["article_id"] not in copies]
    terms = {article["article_id"]: event_terms(article["title"] or "", article["lead"] or "") for article in fresh}
    times = {article["article_id"]: _event_time(article) for article in pending}
    since = min(times.values()) - window if window is not None and times else None
    events = load_event_index(conn, list(terms.values()), index=EventIndex(window=window), since=since)
    load_event_stories(conn, events, {target for target in copies.values() if target not in in_batch_ids})
    for article in pending:
        article_id = article["article_id"]
        source = {"outlet": article["outlet"] or "", "language": article["language"] or ""}
        if article_id in copies:
            target = copies[article_id]
            story_id = batch.assigned.get(target, target)  # an article of this batch, or a story
            events.add_copy(story_id, at=times[article_id], **source)
        else:
            title = article["title"] or ""
            assignment = events.assign(article_id, terms[article_id], at=times[article_id], title=title, **source)
            story_id = assignment.story_id
            counts.same_event += not assignment.new
        counts.articles += 1
        counts.new_stories += batch.add(article, story_id)
    for text in first_texts:  # an article of this batch becomes its story; a story stays
        story_of_text[text] = batch.assigned.get(story_of_text[text], story_of_text[text])
    stories.write(conn, batch, now=now)
    save_event_index(conn, events, stories.store._insert)
    return counts
