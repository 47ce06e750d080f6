"""The shared analysis pool: same results as analysing in-process, and a light caller."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from seedwatch.analysis import analyse_article, init_worker
from seedwatch.workers import analyse_jobs, analysis_pool, prestart_pool, shutdown_pool

PROJECT = Path(__file__).resolve().parents[1]
PAGES = PROJECT / "demo" / "site" / "articles"
NOW = datetime(2025, 9, 20, 12, tzinfo=UTC)


def _jobs() -> list[tuple[dict, str, datetime]]:
    pages = sorted(PAGES.glob("*.html"))[:6]
    assert len(pages) == 6, f"demo pages missing under {PAGES}"
    row = {"feed_id": "f", "guid": None, "title": "", "summary": "", "published_at": None, "feed_language": "en"}
    return [({**row, "url": f"https://news.example/{page.name}"}, page.read_text(), NOW) for page in pages]


def test_the_pool_gives_what_in_process_analysis_gives() -> None:
    topics, seeds = PROJECT / "config" / "topics", PROJECT / "seeds"
    jobs = _jobs()
    try:
        prestart_pool(2, topics, seeds)  # returns at once; the workers start behind it
        pool = analysis_pool(2, topics, seeds)
        pooled = [result for chunk in pool.map(analyse_jobs, [jobs[:4], jobs[4:]]) for result in chunk]
    finally:
        shutdown_pool()
    init_worker(topics, seeds)
    here = [analyse_article(row, html, now=now) for row, html, now in jobs]
    assert pooled == here
    assert {result["body_source"] for result in pooled} == {"page"}
    assert any(result["best_grade"] == 2 for result in pooled)


def test_workers_start_with_what_the_fork_server_loaded_once() -> None:
    """datasketch and the language model are loaded before a worker's first article."""
    loaded = (
        "'datasketch' in __import__('sys').modules and __import__('py3langid.langid').langid.IDENTIFIER is not None"
    )
    try:
        pool = analysis_pool(1, PROJECT / "config" / "topics", PROJECT / "seeds")
        assert pool.submit(eval, loaded).result() is True
    finally:
        shutdown_pool()


def test_the_pipeline_process_does_not_load_the_extractors() -> None:
    """Workers import trafilatura and datasketch; the process running the stages need not
    (a second of start-up and about 100 MB in every Airflow task), nor the Elasticsearch
    client on SQLite (0.4 s)."""
    heavy = ("trafilatura", "datasketch", "scipy", "seedwatch.analysis", "elasticsearch")
    code = (
        "import sys, seedwatch.pipeline, seedwatch.workers, seedwatch.dedup, seedwatch.store;"
        # The stages on the embedded default (SQLite) need no Elasticsearch client either.
        "import seedwatch.alerting, seedwatch.index.percolate, seedwatch.index.sqlite_fts;"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT)
    assert loaded.stdout.strip() == "[]"
