"""Event stories in the state store: load what a batch can touch, write back what changed.

:class:`seedwatch.stories.events.EventIndex` clusters in memory. For a batch of articles
the pipeline loads from the store only what those articles can reach: the document
frequencies of their terms, and the stories posted under their most salient terms
(open within the window). After assignment it writes the frequency increments, the new
postings and the touched stories' centroids and faces, in the batch's transaction. One
assigner runs at a time (the ``assign-stories`` lease), so increments never race.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from seedwatch.store.schema import stories, story_postings, story_term_df
from seedwatch.store.state import as_utc, in_chunks
from seedwatch.stories.events import LOOKUP_TERMS, POSTINGS_PER_TERM, EventIndex, EventStory, top_terms

__all__ = ["load_event_index", "load_event_stories", "save_event_index"]

DOCUMENTS_KEY = "*"  # the row of story_term_df that counts articles (no term starts with "*")


def _story(row: Mapping[str, Any]) -> EventStory:
    centroid = row["centroid"] or {}
    last_seen = row["last_seen_at"]
    return EventStory(
        story_id=row["story_id"],
        words=dict(centroid.get("words", {})),
        names=dict(centroid.get("names", {})),
        first_at=as_utc(row["first_seen_at"]),
        last_at=as_utc(last_seen),
        articles=row["article_count"],
        headline=row["title"],
        headline_similarity=row["headline_similarity"] or 0.0,
        outlets=list(row["outlets"] or []),
        languages=list(row["languages"] or []),
    )


def load_event_index(
    conn: sa.Connection, batch_terms: Sequence[Mapping[str, float]], *, index: EventIndex, since: datetime | None
) -> EventIndex:
    """Fill ``index`` with the frequencies and candidate stories the batch can reach."""
    terms = sorted({term for terms in batch_terms for term in terms} | {DOCUMENTS_KEY})
    for chunk in in_chunks(terms):
        rows = conn.execute(sa.select(story_term_df.c.term, story_term_df.c.df).where(story_term_df.c.term.in_(chunk)))
        for term, df in rows:
            if term == DOCUMENTS_KEY:
                index.documents = df
            else:
                index.df[term] = df
    # The terms each article looks its story up by, weighed with what the store knows now.
    lookups = [_salient(index, terms) for terms in batch_terms]
    for chunk in in_chunks(sorted({term for lookup in lookups for term in lookup})):
        for term, story_id in conn.execute(_latest_postings(chunk, since)):
            index.postings.setdefault(term, set()).add(story_id)
    # Only the stories that would be compared: each article's best candidates by shared terms.
    wanted = {story_id for lookup in lookups for story_id in index.ranked_candidates(lookup)}
    for chunk in in_chunks(sorted(wanted)):
        for row in conn.execute(sa.select(stories).where(stories.c.story_id.in_(chunk))):
            index.stories[row.story_id] = _story(row._mapping)
    return index


def _latest_postings(terms: list[str], since: datetime | None) -> sa.Select[Any]:
    """(term, story) for the ``POSTINGS_PER_TERM`` latest stories posted under each term."""
    query = sa.select(
        story_postings.c.term,
        story_postings.c.story_id,
        sa.func.row_number()
        .over(partition_by=story_postings.c.term, order_by=story_postings.c.posted_at.desc())
        .label("recency"),
    ).where(story_postings.c.term.in_(terms))
    if since is not None:
        query = query.where(story_postings.c.posted_at >= since)
    latest = query.subquery()
    return sa.select(latest.c.term, latest.c.story_id).where(latest.c.recency <= POSTINGS_PER_TERM)


def _salient(index: EventIndex, terms: Mapping[str, float]) -> list[str]:
    return list(top_terms(index.vector(terms), LOOKUP_TERMS))


def load_event_stories(conn: sa.Connection, index: EventIndex, story_ids: Iterable[str]) -> None:
    """Read the stories that copies joined, those the batch did not load as candidates, at once."""
    missing = sorted(set(story_ids) - index.stories.keys())
    for chunk in in_chunks(missing):
        for row in conn.execute(sa.select(stories).where(stories.c.story_id.in_(chunk))):
            index.stories[row.story_id] = _story(row._mapping)


def save_event_index(conn: sa.Connection, index: EventIndex, insert: Any) -> None:
    """Write what changed: frequency increments, new postings, touched stories.

    ``insert`` is the store's dialect-specific INSERT (``StateStore._insert``), for upserts.
    Stories are updated, not inserted: :meth:`StoryIndex.write` has inserted the new ones.
    """
    if index.documents_added:
        delta = dict(index.df_delta)
        delta[DOCUMENTS_KEY] = index.documents_added
        stmt = insert(story_term_df)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[story_term_df.c.term], set_={"df": story_term_df.c.df + stmt.excluded.df}
            ),
            [{"term": term, "df": count} for term, count in sorted(delta.items()) if count],
        )
    if index.new_postings:
        conn.execute(
            insert(story_postings).on_conflict_do_nothing(),
            [
                {"term": term, "story_id": story_id, "posted_at": posted_at}
                for (term, story_id), posted_at in sorted(index.new_postings.items())
            ],
        )
    touched = [index.stories[story_id] for story_id in sorted(index.touched) if story_id in index.stories]
    if touched:
        conn.execute(
            sa.update(stories)
            .where(stories.c.story_id == sa.bindparam("key"))
            .values(
                title=sa.bindparam("headline"),
                last_seen_at=sa.bindparam("last_seen"),
                centroid=sa.bindparam("centroid_terms"),
                headline_similarity=sa.bindparam("similarity"),
                outlets=sa.bindparam("outlet_names"),
                languages=sa.bindparam("language_codes"),
            ),
            [
                {
                    "key": story.story_id,
                    "headline": story.headline,
                    "last_seen": story.last_at,
                    "centroid_terms": {"words": story.words, "names": story.names},
                    "similarity": story.headline_similarity,
                    "outlet_names": story.outlets,
                    "language_codes": story.languages,
                }
                for story in touched
            ],
        )
    faces = [index.stories[story_id] for story_id in sorted(index.faces_touched - index.touched)]
    if faces:  # copies: no new text, so no centroid to write
        conn.execute(
            sa.update(stories)
            .where(stories.c.story_id == sa.bindparam("key"))
            .values(
                last_seen_at=sa.bindparam("last_seen"),
                outlets=sa.bindparam("outlet_names"),
                languages=sa.bindparam("language_codes"),
            ),
            [
                {"key": s.story_id, "last_seen": s.last_at, "outlet_names": s.outlets, "language_codes": s.languages}
                for s in faces
            ],
        )
    index.df_delta.clear()
    index.new_postings.clear()
    index.touched.clear()
    index.faces_touched.clear()
    index.documents_added = 0
