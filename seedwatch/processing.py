"""The processing stage: fetch the claimed articles' pages, analyse them in the worker pool, save.

Fetching (async, in this process) overlaps the CPU-bound analysis (extract, tag,
fingerprint: :mod:`seedwatch.analysis`, in the shared pool of :mod:`seedwatch.workers`),
and saving (a thread) overlaps both. Memory stays flat: pages wait in the pool's queue
only a few jobs deep, and a page's HTML is dropped here once it has gone to a worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog

from seedwatch.models import FetchedPage, FetchStatus
from seedwatch.settings import Settings
from seedwatch.store import StateStore, new_owner

log = structlog.get_logger(__name__)


@dataclass
class ProcessSummary:
    articles: int = 0
    fetched: int = 0
    extracted: int = 0  # body from the page
    fallback: int = 0  # body from the feed summary
    fetch_errors: int = 0
    failed: int = 0  # analysis or save failed: an attempt counted, the error kept on the article
    quarantined: int = 0  # of those, given up after the last attempt
    deferred: int = 0  # left for the next run by their site's Crawl-delay
    relevant: int = 0
    partial: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: ProcessSummary) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def pool_size(settings: Settings) -> int:
    """Analysis worker processes: ``pipeline.processes``, else one per core."""
    return settings.pipeline.processes or os.cpu_count() or 1


def _worker_count(settings: Settings, jobs: int) -> int:
    """1 (analyse in this process) for a handful of pages, else the whole shared pool.

    The pool keeps one shape whatever the batch size, so it is started once per process
    (and can be started early, :func:`seedwatch.workers.prestart_pool`).
    """
    return 1 if jobs < 4 else pool_size(settings)


Job = tuple[dict[str, Any], str | None, datetime]
# Pages handed to a worker at once: a job's queue and pickling overhead is paid per job
# (a worker used 15.1 ms per page at one page per job, 14.5 ms at ten).
PAGES_PER_JOB = 4
# Analyses saved in one transaction, in a thread, while the next pages are analysed: saving
# a whole batch at its end left the workers idle meanwhile (4 % of the stage at 4k articles).
SAVE_EVERY = 100
# Articles per process_articles call in run_once (at least article_batch_size).
CLI_ARTICLE_BATCH = 2000


def _analyse_here(settings: Settings, jobs: list[Job]) -> list[dict[str, Any] | str]:
    """Analyse in this process; an article whose analysis raises gets its error, not the batch."""
    from seedwatch.analysis import analyse_in_worker, init_worker

    init_worker(settings.paths.topics_dir, settings.paths.seeds_dir)
    analyses: list[dict[str, Any] | str] = []
    for job in jobs:
        try:
            analyses.append(analyse_in_worker(job))
        except Exception as exc:  # noqa: BLE001 - isolation: one article's failure is its own
            analyses.append(_crash(job[0], exc))
    return analyses


def _crash(row: dict[str, Any], exc: BaseException) -> str:
    log.error("article.analysis_failed", url=row["url"], error=repr(exc)[:500], exc_info=exc)
    return f"analysis failed: {type(exc).__name__}: {exc}"[:2000]


def _analysis_error(values: Any) -> str | None:
    """The reason an analysis is unusable, or None for a complete one."""
    if isinstance(values, dict) and "body_source" in values:
        return None
    if isinstance(values, dict):
        return str(values.get("error") or "analysis failed: no result")
    return str(values)


def _has_page(page: FetchedPage) -> bool:
    return page.status is FetchStatus.OK and bool(page.html)


def _job(row: dict[str, Any], page: FetchedPage, now: datetime) -> Job:
    ok = _has_page(page)
    if not ok:
        log.warning(
            "article.fetch_failed",
            url=row["url"],
            status=page.status.value,
            http_status=page.http_status,
            error=page.error,
        )
    return (row, page.html if ok else None, now)


# (row index, page without its HTML or None when deferred, usable page, analysis or its error)
Analysed = tuple[int, FetchedPage | None, bool, dict[str, Any] | str]
Queued = tuple[Job, tuple[int, FetchedPage, bool]]


def _without_html(index: int, page: FetchedPage) -> tuple[int, FetchedPage, bool]:
    return index, dataclasses.replace(page, html=None), _has_page(page)


async def _analysed(settings: Settings, rows: list[dict[str, Any]], *, now: datetime) -> AsyncIterator[Analysed]:
    """Fetch the rows' pages and analyse them; yields :data:`Analysed` as analyses complete.

    With a pool, the CPU work overlaps the waiting on the network: pages go to the shared
    pool ``PAGES_PER_JOB`` at a time as they are fetched, and at most two jobs per worker
    wait there, so fetching pauses (and memory stays flat) when extraction is the bottleneck.
    A page whose site's Crawl-delay would hold it past ``http.max_host_wait_s`` is not
    fetched (``None``): it is left for the next run. A job that fails is split and its
    pages analysed one by one, so only the article that fails loses its analysis.
    """
    from seedwatch.fetch import Fetcher

    urls = [row["url"] for row in rows]
    workers = _worker_count(settings, len(rows))
    defer_after_s = settings.http.max_host_wait_s
    if workers == 1:
        async with Fetcher(settings.http) as fetcher:
            fetched = [item async for item in fetcher.iter_pages(urls, defer_after_s=defer_after_s)]
        pages = [(index, page) for index, page in fetched if page is not None]
        for index, page in fetched:
            if page is None:
                yield index, None, False, ""
        analyses = _analyse_here(settings, [_job(rows[index], page, now) for index, page in pages])
        for (index, page), values in zip(pages, analyses, strict=True):
            yield *_without_html(index, page), values
        return
    from seedwatch.workers import analyse_jobs, analysis_pool

    def pool() -> Any:  # rebuilt if a worker died
        return analysis_pool(
            workers, settings.paths.topics_dir, settings.paths.seeds_dir, settings.pipeline.article_budget()
        )

    queued: dict[asyncio.Future[list[dict[str, Any]]], list[Queued]] = {}
    unsent: list[tuple[int, FetchedPage]] = []  # fetched, not yet handed to the pool

    def submit(items: list[Queued]) -> None:
        queued[asyncio.wrap_future(pool().submit(analyse_jobs, [job for job, _ in items]))] = items

    def submit_unsent() -> None:
        # The HTML goes to the worker; the parent keeps the page without it.
        submit([(_job(rows[index], page, now), _without_html(index, page)) for index, page in unsent])
        unsent.clear()

    def outcome(future: asyncio.Future[list[dict[str, Any]]], items: list[Queued]) -> list[Analysed]:
        try:
            return [(*page, values) for (_, page), values in zip(items, future.result(), strict=True)]
        except Exception as exc:  # noqa: BLE001 - a job failed: find which article it was
            if len(items) == 1:
                return [(*items[0][1], _crash(items[0][0][0], exc))]
            log.warning("articles.job_failed_splitting", pages=len(items), error=repr(exc)[:300])
            failed: list[Analysed] = []
            for item in items:
                try:
                    submit([item])
                except Exception as submit_exc:  # noqa: BLE001 - the pool cannot take it: this article fails
                    failed.append((*item[1], _crash(item[0][0], submit_exc)))
            return failed

    async def finished(limit: int) -> list[Analysed]:
        """Wait until at most ``limit`` jobs are queued; the analyses of the finished ones."""
        done_now: list[Analysed] = []
        while len(queued) > limit:
            done, _ = await asyncio.wait(queued, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                done_now.extend(outcome(future, queued.pop(future)))
        return done_now

    async with Fetcher(settings.http) as fetcher:
        async for index, page in fetcher.iter_pages(urls, defer_after_s=defer_after_s):
            if page is None:
                yield index, None, False, ""
                continue
            unsent.append((index, page))
            if len(unsent) >= PAGES_PER_JOB:
                for item in await finished(workers * 2 - 1):
                    yield item
                submit_unsent()
        if unsent:
            submit_unsent()
    for item in await finished(0):
        yield item


def process_articles(settings: Settings, article_ids: Sequence[str], *, now: datetime) -> ProcessSummary:
    """Fetch, extract and tag the given articles; each one ends stored, page or not.

    Analyses are saved ``SAVE_EVERY`` at a time while the next pages are fetched and
    analysed. An article whose analysis or save fails is recorded with its error and
    counted as an attempt (:meth:`StateStore.fail_articles`; quarantined after
    ``pipeline.max_fetch_attempts``); the others go on. A page left for later by its
    site's Crawl-delay is released without an attempt. If the batch itself fails
    part-way (the store is down), what was saved stays saved and the rest is released.
    """
    store = StateStore.open(settings.state.url, timeouts=settings.state.timeouts)
    owner = new_owner("process")
    summary = ProcessSummary()
    try:
        rows = store.claim_articles(
            article_ids,
            now=now,
            owner=owner,
            lease_s=settings.pipeline.lease_s,
            max_attempts=settings.pipeline.max_fetch_attempts,
        )
        unsaved = {row["article_id"]: row for row in rows}
        try:
            asyncio.run(_process_rows(settings, store, rows, unsaved, owner=owner, now=now, summary=summary))
        finally:
            if unsaved:  # deferred pages, or what a failing batch left
                store.release_articles(list(unsaved), owner=owner)
    finally:
        store.close()
    log.info("articles.processed", **{k: v for k, v in asdict(summary).items() if k != "errors"})
    return summary


async def _process_rows(
    settings: Settings,
    store: StateStore,
    rows: list[dict[str, Any]],
    unsaved: dict[str, dict[str, Any]],
    *,
    owner: str,
    now: datetime,
    summary: ProcessSummary,
) -> None:
    saving: asyncio.Task[None] | None = None
    ready: list[tuple[str, dict[str, Any]]] = []
    failures: dict[str, str] = {}  # article id -> why it could not be processed

    async def save(batch: list[tuple[str, dict[str, Any]]]) -> None:
        # In a thread: the event loop keeps fetching and feeding the workers meanwhile.
        try:
            saved = await asyncio.to_thread(store.save_processed_many, batch, owner=owner)
        except sa.exc.DBAPIError as exc:  # articles the database refused; the others are saved
            refused = set(await asyncio.to_thread(store.leased_articles, [key for key, _ in batch], owner=owner))
            for article_id in refused:
                failures[article_id] = f"store refused the article: {type(exc).__name__}: {exc}"[:2000]
            saved = [article_id not in refused for article_id, _ in batch]
        for (article_id, _), ok in zip(batch, saved, strict=True):
            if article_id in failures:
                continue  # recorded with its error below
            unsaved.pop(article_id)
            if not ok:
                summary.errors.append(f"lease lost for {rows_by_id[article_id]['url']}")

    async def flush() -> None:
        nonlocal saving
        if saving is not None:
            await saving  # one save at a time, in order
        saving = asyncio.create_task(save(list(ready))) if ready else None
        ready.clear()

    rows_by_id = {row["article_id"]: row for row in rows}
    async for index, page, usable, values in _analysed(settings, rows, now=now):
        row = rows[index]
        if page is None:
            summary.deferred += 1  # stays in ``unsaved``: released for the next run
            continue
        error = _analysis_error(values)
        if error is not None:
            failures[row["article_id"]] = error
            continue
        summary.fetch_errors += not usable
        ready.append((row["article_id"], _processed_values(settings, row, page, values, now=now, summary=summary)))  # type: ignore[arg-type]
        if len(ready) >= SAVE_EVERY:
            await flush()
    await flush()
    await flush()  # waits for the last save
    await asyncio.to_thread(_record_failures, settings, store, failures, unsaved, owner=owner, now=now, summary=summary)


def _record_failures(
    settings: Settings,
    store: StateStore,
    failures: dict[str, str],
    unsaved: dict[str, dict[str, Any]],
    *,
    owner: str,
    now: datetime,
    summary: ProcessSummary,
) -> None:
    """Count each failed article's attempt, keep its error, quarantine it after the last attempt."""
    if not failures:
        return
    summary.failed += len(failures)
    summary.quarantined += store.fail_articles(
        failures,
        owner=owner,
        now=now,
        max_attempts=settings.pipeline.max_fetch_attempts,
        retry_after_s=settings.pipeline.retry_fetch_after_s,
    )
    for article_id, error in failures.items():
        row = unsaved.pop(article_id, None)
        url = row["url"] if row else article_id
        summary.errors.append(f"{url}: {error}"[:500])
        log.warning("article.failed", url=url, error=error[:500])


def _processed_values(
    settings: Settings,
    row: dict[str, Any],
    page: FetchedPage,
    values: dict[str, Any],
    *,
    now: datetime,
    summary: ProcessSummary,
) -> dict[str, Any]:
    """The analysis plus the fetch bookkeeping of one article, counted in ``summary``."""
    summary.articles += 1
    fetched = page.status is FetchStatus.OK
    summary.fetched += fetched
    attempts = row["fetch_attempts"] + 1
    values["fetch_attempts"] = attempts
    values["last_fetch_error"] = None if fetched else f"{page.status.value}: {page.error or page.http_status}"
    if values["body_source"] == "page":
        summary.extracted += 1
    else:
        summary.fallback += 1
        # Kept from the feed; the page is tried again later, a bounded number of times.
        values["next_fetch_at"] = now + timedelta(seconds=settings.pipeline.retry_fetch_after_s * attempts)
    summary.relevant += values["best_grade"] == 2
    summary.partial += values["best_grade"] == 1
    return values
