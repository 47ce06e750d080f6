"""The state store contract, on SQLite always and on PostgreSQL when a server answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from seedwatch.models import stable_id
from seedwatch.store import NewArticle, StateStore, new_owner
from seedwatch.store.schema import articles

NOW = datetime(2025, 9, 10, 12, 0, tzinfo=UTC)


def _feed(n: int) -> SimpleNamespace:
    url = f"https://outlet{n}.example/rss"
    return SimpleNamespace(
        feed_id=stable_id(url), name=f"Outlet {n}", url=url, outlet=f"outlet{n}.example", language="en", country="GB"
    )


def _article(url: str, feed_id: str, guid: str | None = None) -> NewArticle:
    return NewArticle(
        article_id=stable_id(url),
        canonical_url=url,
        url=url,
        feed_id=feed_id,
        guid=guid,
        guid_hash=stable_id(guid) if guid else None,
        outlet="outlet.example",
        country="GB",
        feed_language="en",
        title="Title",
        summary="Summary",
        published_at=NOW,
    )


def test_migrations_are_idempotent(state_url: str) -> None:
    StateStore.open(state_url).close()
    store = StateStore.open(state_url)  # second open: nothing to do, no error
    assert store.count_articles() == 0
    store.close()


def test_migrations_build_exactly_the_declared_schema(state_url: str) -> None:
    # A table, column or index declared in schema.py without a migration (or the reverse)
    # would make a PostgreSQL deployment differ from a fresh SQLite one.
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import seedwatch.alerting  # noqa: F401 - registers the alert ledger's table
    from seedwatch.store.schema import metadata

    store = StateStore.open(state_url)
    try:
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        store.close()


def test_a_due_feed_is_claimed_by_one_worker_only(state_url: str) -> None:
    store = StateStore.open(state_url)
    feeds = [_feed(n) for n in range(5)]
    store.sync_feeds(feeds, now=NOW)
    first = store.claim_due_feeds(now=NOW, owner=new_owner(), lease_s=600)
    second = store.claim_due_feeds(now=NOW, owner=new_owner(), lease_s=600)
    assert sorted(first) == sorted(f.feed_id for f in feeds)
    assert second == []
    # A worker that died: its lease runs out and the feeds are claimable again.
    later = store.claim_due_feeds(now=NOW + timedelta(seconds=601), owner=new_owner(), lease_s=600)
    assert sorted(later) == sorted(first)
    store.close()


def test_feed_state_is_saved_only_by_the_lease_owner(state_url: str) -> None:
    store = StateStore.open(state_url)
    feed = _feed(1)
    store.sync_feeds([feed], now=NOW)
    owner = new_owner()
    store.claim_due_feeds(now=NOW, owner=owner, lease_s=600)
    store.save_feed_state(feed.feed_id, {"etag": '"stolen"'}, owner="someone-else", new_items=0)
    store.save_feed_state(
        feed.feed_id, {"etag": '"v1"', "next_poll_at": NOW + timedelta(hours=1)}, owner=owner, new_items=3
    )
    (row,) = store.feed_rows()
    assert row["etag"] == '"v1"' and row["total_items"] == 3 and row["lease_owner"] is None
    assert store.due_feed_ids(now=NOW, enabled=[feed.feed_id]) == []
    store.close()


def test_discovered_articles_are_inserted_once(state_url: str) -> None:
    store = StateStore.open(state_url)
    feed = _feed(1)
    one, two = _article("https://a.example/1", feed.feed_id, "g1"), _article("https://a.example/2", feed.feed_id)
    assert store.record_discovered([one, two], now=NOW) == [one.article_id, two.article_id]
    assert store.record_discovered([one, two], now=NOW) == []
    # The publisher moved the article behind the same GUID: still the same article.
    moved = _article("https://a.example/1-updated", feed.feed_id, "g1")
    assert store.record_discovered([moved], now=NOW) == []
    assert store.count_articles() == 2
    store.close()


def test_articles_are_claimed_exclusively_and_saved(state_url: str) -> None:
    store = StateStore.open(state_url)
    feed = _feed(1)
    ids = store.record_discovered([_article(f"https://a.example/{n}", feed.feed_id) for n in range(4)], now=NOW)
    assert sorted(store.processable_article_ids(now=NOW, max_attempts=3, limit=10)) == sorted(ids)
    owner = new_owner()
    rows = store.claim_articles(ids, now=NOW, owner=owner, lease_s=600, max_attempts=3)
    assert sorted(r["article_id"] for r in rows) == sorted(ids)
    assert store.claim_articles(ids, now=NOW, owner=new_owner(), lease_s=600, max_attempts=3) == []
    values = {
        "text": "body",
        "body_source": "page",
        "processed_at": NOW,
        "fetch_attempts": 1,
        "best_grade": 2,
        "best_score": 0.9,
    }
    assert store.save_processed(ids[0], values, owner=owner)
    assert not store.save_processed(ids[1], values, owner="not-the-owner")
    with pytest.raises(ValueError, match=r"not columns of the articles table: \['txet'\]"):
        store.save_processed(ids[2], {**values, "txet": "a typo must not vanish silently"}, owner=owner)
    assert store.count_articles(status="processed") == 1
    saved = store.article_rows([ids[0]])[0]
    assert (saved["text"], saved["best_score"], saved["lease_owner"], saved["lease_until"]) == ("body", 0.9, None, None)
    store.close()


def test_a_batch_is_saved_in_one_go_and_one_refused_article_loses_only_itself(state_url: str) -> None:
    store = StateStore.open(state_url)
    feed = _feed(1)
    ids = store.record_discovered([_article(f"https://a.example/{n}", feed.feed_id) for n in range(4)], now=NOW)
    # The same URL twice and a moved GUID in one batch: each article once, the first wins.
    again = [_article("https://a.example/9", feed.feed_id, "g9"), _article("https://a.example/9", feed.feed_id, "g9")]
    assert len(store.record_discovered(again, now=NOW)) == 1
    owner = new_owner()
    store.claim_articles(ids, now=NOW, owner=owner, lease_s=600, max_attempts=3)
    values = {"text": "body", "body_source": "page", "processed_at": NOW, "fetch_attempts": 1, "best_grade": 0}
    refused = {**values, "title": None}  # NOT NULL: the database refuses this one row
    with pytest.raises(sa.exc.IntegrityError):
        store.save_processed_many(
            [(ids[0], values), (ids[1], refused), (ids[2], values), (ids[3], values)], owner=owner
        )
    assert store.count_articles(status="processed") == 3  # the other three are kept
    assert store.save_processed_many([(ids[1], values)], owner="not-the-owner") == [False]
    store.close()


def test_outbox_keeps_what_the_index_refused(state_url: str) -> None:
    store = StateStore.open(state_url)
    store.enqueue_for_index(["a", "b", "c"], now=NOW)
    assert store.outbox_batch(now=NOW, limit=10) == ["a", "b", "c"]
    store.outbox_acknowledge(["a"])
    store.outbox_failed("b", error="connection refused", retryable=True, now=NOW)
    store.outbox_failed("c", error="mapper_parsing_exception", retryable=False, now=NOW)
    assert store.outbox_backlog() == {"pending": 1, "dead": 1}
    assert store.outbox_batch(now=NOW, limit=10) == []  # b waits for its back-off
    assert store.outbox_batch(now=NOW + timedelta(minutes=5), limit=10) == ["b"]
    store.enqueue_for_index(["c"], now=NOW)  # re-processed: queued again
    assert store.outbox_backlog() == {"pending": 2, "dead": 0}
    store.close()


def test_named_lease_has_one_holder(state_url: str) -> None:
    store = StateStore.open(state_url)
    assert store.acquire_lease("alerts", owner="w1", now=NOW, lease_s=60)
    assert not store.acquire_lease("alerts", owner="w2", now=NOW, lease_s=60)
    assert store.acquire_lease("alerts", owner="w2", now=NOW + timedelta(seconds=61), lease_s=60)
    store.release_lease("alerts", owner="w2")
    assert store.acquire_lease("alerts", owner="w1", now=NOW, lease_s=60)
    store.close()


def test_times_come_back_in_utc(state_url: str) -> None:
    store = StateStore.open(state_url)
    feed = _feed(1)
    (article_id,) = store.record_discovered([_article("https://a.example/t", feed.feed_id)], now=NOW)
    (row,) = store.article_rows([article_id])
    assert row["first_seen_at"] == NOW and row["first_seen_at"].tzinfo is not None
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(articles)).scalar_one() == 1
    store.close()


@pytest.mark.parametrize("batch", [1, 2, 500])
def test_stories_group_copies_and_near_copies_whatever_the_batch(state_url: str, batch: int) -> None:
    """Copies and near-copies join the first article's story, also inside one write batch."""
    from seedwatch.dedup import content_hash, minhash_signature
    from seedwatch.pipeline import assign_stories
    from seedwatch.store.schema import index_outbox, stories

    words = [f"word{n}" for n in range(300)]
    wire = " ".join(words)
    texts = {
        "wire": wire,
        "copy": wire,
        "edited": " ".join(words[:280] + ["reported", "by", "another", "outlet"]),
        "other": " ".join(f"other{n}" for n in range(300)),
        "copy-again": wire,
    }
    store = StateStore.open(state_url)
    feed = _feed(1)
    ids = {
        name: store.record_discovered([_article(f"https://a.example/{name}", feed.feed_id)], now=NOW + timedelta(n))[0]
        for n, name in enumerate(texts)
    }
    owner = new_owner()
    later = NOW + timedelta(len(texts))  # after the last discovery
    store.claim_articles(list(ids.values()), now=later, owner=owner, lease_s=600, max_attempts=3)
    store.save_processed_many(
        [
            (
                ids[name],
                {
                    "title": name,
                    "text": text,
                    "content_hash": content_hash(text),
                    "minhash": minhash_signature(text),
                    "body_source": "page",
                    "processed_at": NOW,
                    "fetch_attempts": 1,
                },
            )
            for name, text in texts.items()
        ],
        owner=owner,
    )
    from seedwatch.settings import Settings

    summary = assign_stories(Settings(state={"url": state_url}), now=NOW, batch=batch)
    with store.engine.connect() as conn:
        story_of = dict(conn.execute(sa.select(articles.c.title, articles.c.story_id)).all())
        counts = dict(conn.execute(sa.select(stories.c.story_id, stories.c.article_count)).all())
        queued = set(conn.execute(sa.select(index_outbox.c.article_id)).scalars())
    store.close()
    assert (summary.articles, summary.new_stories, summary.exact_duplicates, summary.near_duplicates) == (5, 2, 2, 1)
    assert {story_of[name] for name in ("wire", "copy", "edited", "copy-again")} == {ids["wire"]}
    assert story_of["other"] == ids["other"]
    assert counts == {ids["wire"]: 4, ids["other"]: 1}
    assert queued == set(ids.values())


def test_the_next_articles_without_a_story_are_one_index_range(tmp_path) -> None:  # noqa: ANN001
    """De-duplication reads them once per batch: a scan of every processed article made a run quadratic."""
    from sqlalchemy.dialects import sqlite

    from seedwatch.store import StoryIndex

    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    query = StoryIndex.unassigned_query(500).compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    with store.engine.connect() as conn:
        plan = " ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}"))
    store.close()
    assert "ix_articles_story_first_seen" in plan and "TEMP B-TREE" not in plan, plan


def test_a_failed_article_counts_an_attempt_waits_and_is_quarantined_at_the_last(state_url: str) -> None:
    store = StateStore.open(state_url)
    feed = _feed(1)
    store.sync_feeds([feed], now=NOW)
    ids = store.record_discovered([_article(f"https://a.example/{n}", feed.feed_id) for n in range(2)], now=NOW)
    now = NOW
    for attempt in (1, 2):
        owner = new_owner()
        assert len(store.claim_articles(ids, now=now, owner=owner, lease_s=600, max_attempts=2)) == 2
        quarantined = store.fail_articles(
            {ids[0]: f"analysis failed: boom {attempt}"}, owner=owner, now=now, max_attempts=2, retry_after_s=60
        )
        store.release_articles([ids[1]], owner=owner)
        assert quarantined == (attempt == 2)
        row = store.article_rows([ids[0]])[0]
        assert (row["fetch_attempts"], row["last_fetch_error"], row["lease_owner"]) == (
            attempt,
            f"analysis failed: boom {attempt}",
            None,
        )
        # Not taken again before its back-off (60 s × attempts) has passed.
        assert ids[0] not in store.processable_article_ids(now=now, max_attempts=2, limit=10)
        now += timedelta(seconds=60 * attempt + 1)
    assert store.article_rows([ids[0]])[0]["status"] == "quarantined"
    assert store.processable_article_ids(now=now + timedelta(days=1), max_attempts=2, limit=10) == [ids[1]]
    assert store.quarantined_counts() == {feed.feed_id: 1}
    assert [row["quarantined_articles"] for row in store.feed_rows()] == [1]
    assert [row["url"] for row in store.quarantined_articles()] == ["https://a.example/0"]
    store.close()
