"""What a pipeline run leaves behind, for tests that compare runs (crashed, concurrent, single)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa

from seedwatch.settings import load_settings
from seedwatch.store import StateStore
from seedwatch.store.schema import articles, index_outbox, leases


def run_outcome(config: Path) -> dict:
    """What a run leaves behind, in terms that do not depend on ids or timing."""
    settings = load_settings(config, environ={})
    store = StateStore.open(settings.state.url)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    articles.c.article_id, articles.c.url, articles.c.story_id, articles.c.best_grade, articles.c.status
                )
            ).all()
            outbox = conn.execute(sa.select(sa.func.count()).select_from(index_outbox)).scalar_one()
            ledger = conn.execute(sa.text("SELECT rule, story_id, state FROM alert_ledger")).all()
            held = conn.execute(sa.select(sa.func.count()).select_from(leases).where(leases.c.owner != "")).scalar_one()
            leased_articles = conn.execute(
                sa.select(sa.func.count()).select_from(articles).where(articles.c.lease_owner.is_not(None))
            ).scalar_one()
    finally:
        store.close()
    url_of = {article_id: url for article_id, url, _, _, _ in rows}
    story_of = {url: story for _, url, story, _, _ in rows}
    groups = sorted(sorted(u for u, s in story_of.items() if s == story) for story in set(story_of.values()))
    index_path = settings.index.sqlite_path
    with sqlite3.connect(index_path) as index:
        doc_ids = [row[0] for row in index.execute("SELECT article_id FROM articles")]
        fts_rows = index.execute("SELECT count(*) FROM articles_fts").fetchone()[0]
        integrity = index.execute("PRAGMA integrity_check").fetchone()[0]
    return {
        "articles": {url: (grade, status) for _, url, _, grade, status in rows},
        "stories": groups,
        "outbox": outbox,
        "ledger": sorted((rule, url_of.get(story, story), state) for rule, story, state in ledger),
        "held_leases": held,
        "leased_articles": leased_articles,
        "doc_ids": sorted(doc_ids),
        "article_ids": sorted(url_of),
        "fts_rows": fts_rows,
        "index_integrity": integrity,
    }
