"""One article's budget in the analysis workers, and the cap on what tagging reads (issue 16.4).

The hostile input is real: a 3.6 MB page of 40,000 paragraphs, under the fetch limit
(5 MB), whose extraction and tagging take about 6 s of CPU and 400 MB in one process.
It goes through the real worker pool (fork server, initializer, ``RLIMIT_AS``, the CPU
timer) and, end to end, through a run over a loopback site.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from seedwatch import pipeline
from seedwatch.analysis import MAX_TAGGED_CHARS, analyse_article, init_worker
from seedwatch.demo import SITE_DIR, write_config
from seedwatch.localsite import LocalSite
from seedwatch.mailsink import MailSink
from seedwatch.settings import load_settings
from seedwatch.store import StateStore
from seedwatch.store.schema import articles
from seedwatch.workers import ArticleBudget, analyse_jobs, analysis_pool, shutdown_pool

PROJECT = Path(__file__).resolve().parents[1]
TOPICS, SEEDS = PROJECT / "config" / "topics", PROJECT / "seeds"
NOW = datetime(2025, 9, 10, 12, 0, tzinfo=UTC)
GOOD_PAGE = (SITE_DIR / "articles" / "sirte-63a4e6e0fc.html").read_text(encoding="utf-8")
HUGE_PAGE = (
    "<html><head><title>Turkey and Libya</title></head><body><article>"
    + "".join(
        f"<p>Turkey and Libya signed deal number {i} in Tripoli, said the minister of defence.</p>\n"
        for i in range(40_000)
    )
    + "</article></body></html>"
)
ROW = {"feed_id": "f", "guid": None, "title": "", "summary": "", "published_at": None, "feed_language": "en"}


def _job(url: str, html: str) -> tuple[dict[str, Any], str, datetime]:
    return ({**ROW, "url": url}, html, NOW)


@pytest.fixture
def pool_with() -> Iterator[Any]:
    def start(budget: ArticleBudget) -> Any:
        return analysis_pool(1, TOPICS, SEEDS, budget)

    try:
        yield start
    finally:
        shutdown_pool()


@pytest.mark.parametrize(
    ("budget", "reason"),
    [
        (ArticleBudget(cpu_s=1.0, memory_mb=4096), "more than 1 s of CPU time (pipeline.article_cpu_s)"),
        (ArticleBudget(cpu_s=120.0, memory_mb=150), "more than 150 MB of memory (pipeline.article_memory_mb)"),
    ],
    ids=["cpu", "memory"],
)
def test_an_article_over_budget_fails_alone_and_the_worker_goes_on(
    pool_with: Any, budget: ArticleBudget, reason: str
) -> None:
    pool = pool_with(budget)
    worker = pool.submit(os.getpid).result()
    good = _job("https://news.example/good", GOOD_PAGE)
    results = pool.submit(analyse_jobs, [_job("https://news.example/huge", HUGE_PAGE), good]).result(timeout=300)
    over, analysed = results
    assert over == {"error": f"analysis over budget: {reason}; page of {len(HUGE_PAGE)} characters"}
    init_worker(TOPICS, SEEDS)
    assert analysed == analyse_article(good[0], good[1], now=NOW)  # the next page, as if nothing happened
    # The same worker takes the next job, within its budget again.
    assert pool.submit(analyse_jobs, [good]).result(timeout=60) == [analysed]
    assert pool.submit(os.getpid).result() == worker


def test_a_run_marks_the_over_budget_article_failed_and_processes_the_rest(tmp_path: Path, mail_sink: MailSink) -> None:
    with LocalSite() as site:
        site.add("/huge.html", HUGE_PAGE, content_type="text/html")
        for n in range(4):
            site.add(f"/good-{n}.html", GOOD_PAGE.replace("<title>", f"<title>Good {n} ", 1), content_type="text/html")
        items = "".join(
            f"<item><title>Item {name}</title><link>{site.url(f'/{name}.html')}</link><guid>{name}</guid></item>"
            for name in ("huge", *(f"good-{n}" for n in range(4)))
        )
        site.add(
            "/feed.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>',
            content_type="application/rss+xml",
        )
        feed = {
            "name": "wire",
            "url": site.url("/feed.xml"),
            "outlet": "wire.example",
            "language": "en",
            "country": "US",
        }
        config = write_config(tmp_path / "run", site_url=site.base_url, smtp_port=mail_sink.port, feeds=[feed])
        settings = load_settings(
            config,
            environ={"SEEDWATCH__PIPELINE__PROCESSES": "2", "SEEDWATCH__PIPELINE__ARTICLE_CPU_S": "1"},
        )
        try:
            report = pipeline.run_once(settings, now=NOW)
        finally:
            shutdown_pool()
    assert report.process.articles == 4 and report.process.failed == 1, report.process.errors
    store = StateStore.open(settings.state.url)
    try:
        with store.engine.connect() as conn:
            rows = {
                row.url.rsplit("/", 1)[-1]: row
                for row in conn.execute(sa.select(articles.c.url, articles.c.status, articles.c.last_fetch_error))
            }
    finally:
        store.close()
    assert rows["huge.html"].status == "discovered"  # to be tried again later, then quarantined
    assert "analysis over budget: more than 1 s of CPU time" in rows["huge.html"].last_fetch_error
    assert {rows[f"good-{n}.html"].status for n in range(4)} == {"processed"}


def test_tagging_reads_at_most_the_documented_cap() -> None:
    init_worker(TOPICS, SEEDS)
    filler = "".join(f"Report {n} says the weather was mild. " for n in range(MAX_TAGGED_CHARS // 30))
    row = {**ROW, "url": "https://news.example/long", "title": "Weather report", "summary": filler[:MAX_TAGGED_CHARS]}
    beyond = {**row, "summary": row["summary"] + " Turkey sends troops to Libya under the military accord."}
    within = analyse_article(row, None, now=NOW)
    capped = analyse_article(beyond, None, now=NOW)
    assert capped["tags"] == within["tags"]  # what lies past the cap is not read by tagging
    assert capped["text"].endswith("military accord.")  # but it is stored


def test_a_worker_stuck_where_no_signal_reaches_is_ended_by_the_kernel_and_replaced(pool_with: Any) -> None:
    """The backstop: a C loop (here ``sum`` over a huge range, which never checks for
    signals) outlives the CPU timer; RLIMIT_CPU ends the worker at twice the budget plus
    5 s, the pool reports it broken, and the next call gets a new pool that works."""
    from concurrent.futures.process import BrokenProcessPool

    from seedwatch.workers import _within_budget

    budget = ArticleBudget(cpu_s=0.5, memory_mb=4096)
    pool = pool_with(budget)
    stuck = pool.submit(_within_budget, eval, "sum(range(10**13))", budget)
    with pytest.raises(BrokenProcessPool):
        stuck.result(timeout=120)
    replaced = pool_with(budget)
    assert replaced is not pool
    good = _job("https://news.example/good", GOOD_PAGE)
    (analysed,) = replaced.submit(analyse_jobs, [good]).result(timeout=120)
    assert analysed["body_source"] == "page"
