"""The monitoring pipeline as plain functions: the CLI, the DAG and the tests call these.

One run::

    plan_feed_batches ─► poll_feeds (per batch) ─► plan_article_batches
      ─► process_articles (per batch: fetch, extract, tag; seedwatch.processing) ─► assign_stories
      ─► index_articles ─► send_alerts

Stages hand each other ids and counts; the articles themselves live in the state
store. Every stage is safe to re-run: claims use leases, inserts are idempotent,
the outbox and the alert ledger remember what is done.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import structlog

from seedwatch.errors import StoreError
from seedwatch.models import Article, FeedEntry, PollStatus, TopicTag, stable_id
from seedwatch.processing import CLI_ARTICLE_BATCH, ProcessSummary, pool_size, process_articles
from seedwatch.settings import Settings, topics_without_alerts
from seedwatch.store import NewArticle, StateStore, StoryIndex, as_utc, new_owner
from seedwatch.stories.assign import DedupSummary, assign_batch

log = structlog.get_logger(__name__)

Progress = Callable[[int], None]
_T = TypeVar("_T")


def open_store(settings: Settings) -> StateStore:
    return StateStore.open(settings.state.url, timeouts=settings.state.timeouts)


def _chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


# -- polling ---------------------------------------------------------------------


@dataclass
class PollSummary:
    feeds_polled: int = 0
    feeds_ok: int = 0
    feeds_not_modified: int = 0
    feeds_failed: int = 0
    entries_seen: int = 0
    entries_skipped: int = 0  # no link, or a link that is not http(s)
    new_articles: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: PollSummary) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def plan_feed_batches(settings: Settings, *, now: datetime) -> list[list[str]]:
    """Register configured feeds and split the ones due now into batches."""
    store = open_store(settings)
    try:
        feeds = settings.enabled_feeds()
        store.sync_feeds(feeds, now=now)
        due = store.due_feed_ids(now=now, enabled=[feed.feed_id for feed in feeds])
    finally:
        store.close()
    return _chunks(due, settings.pipeline.feed_batch_size)


def _new_articles(feed: dict[str, Any], entries: Sequence[FeedEntry]) -> tuple[list[NewArticle], int]:
    from seedwatch.urls import canonicalize_url

    found, skipped = [], 0
    for entry in entries:
        if not entry.url or urlsplit(entry.url).scheme not in ("http", "https"):
            skipped += 1
            continue
        canonical = canonicalize_url(entry.url)
        found.append(
            NewArticle(
                article_id=stable_id(canonical),
                canonical_url=canonical,
                url=entry.url,
                feed_id=feed["feed_id"],
                guid=entry.guid,
                guid_hash=stable_id(entry.guid) if entry.guid else None,
                outlet=feed["outlet"],
                country=feed["country"],
                feed_language=entry.language or feed["language"],
                title=entry.title,
                summary=entry.summary,
                published_at=entry.published_at,
            )
        )
    return found, skipped


def _feed_state(row: dict[str, Any]) -> Any:
    from seedwatch.polling import FeedState

    names = {f for f in FeedState.__dataclass_fields__}
    return FeedState(**{name: row[name] for name in names if name in row})


def poll_feeds(settings: Settings, feed_ids: Sequence[str], *, now: datetime, force: bool = False) -> PollSummary:
    """Poll the given feeds that are due (all of them with ``force``) and not leased by another worker."""
    from seedwatch.fetch import Fetcher
    from seedwatch.polling import poll_feed, reschedule
    from seedwatch.workers import running_pool

    store = open_store(settings)
    parser = running_pool(warm=True)  # in a whole run, the workers started for the articles parse the later feeds
    owner = new_owner("poll")
    summary = PollSummary()
    timezones = {feed.feed_id: feed.timezone for feed in settings.feeds}
    claimed: list[str] = []
    saved: set[str] = set()
    try:
        claimed = store.claim_due_feeds(
            now=now, owner=owner, lease_s=settings.pipeline.lease_s, feed_ids=feed_ids, force=force
        )
        rows = store.feed_rows(claimed)

        async def poll_all() -> list[Any]:
            async with Fetcher(settings.http) as fetcher:
                return await asyncio.gather(
                    *(
                        poll_feed(
                            fetcher,
                            feed_id=row["feed_id"],
                            url=row["url"],
                            state=_feed_state(row),
                            timezone=timezones.get(row["feed_id"], "UTC"),
                            now=now,
                            parser=parser,
                        )
                        for row in rows
                    ),
                    return_exceptions=True,
                )

        results = asyncio.run(poll_all()) if rows else []
        for row, result in zip(rows, results, strict=True):
            summary.feeds_polled += 1
            if isinstance(result, BaseException):
                # A bug in one feed's handling must not take the others down; it is
                # logged with its traceback and the feed is retried with back-off.
                log.error("feed.poll_crashed", feed=row["name"], error=repr(result), exc_info=result)
                result = _crashed(result)
            try:
                found, skipped = _new_articles(row, result.entries)
                new_ids = store.record_discovered(found, now=now) if found else []
            except Exception as exc:  # noqa: BLE001 - one feed's items the store refuses: that feed fails alone
                if isinstance(exc, StoreError):
                    raise  # the store itself is down: nothing else can be saved either
                log.error("feed.save_failed", feed=row["name"], error=repr(exc)[:500], exc_info=exc)
                result, found, skipped, new_ids = _crashed(exc), [], 0, []
            summary.entries_seen += len(result.entries)
            summary.entries_skipped += skipped
            summary.new_articles += len(new_ids)
            if result.status is PollStatus.OK:
                summary.feeds_ok += 1
            elif result.status is PollStatus.NOT_MODIFIED:
                summary.feeds_not_modified += 1
            else:
                summary.feeds_failed += 1
                summary.errors.append(f"{row['name']}: {result.status.value}: {result.error}")
                log.warning(
                    "feed.poll_failed", feed=row["name"], url=row["url"], status=result.status.value, error=result.error
                )
            state = reschedule(_feed_state(row), result, new_items=len(new_ids), now=now, policy=settings.polling)
            values = {k: v for k, v in asdict(state).items() if k in row}
            values["last_polled_at"] = now
            try:
                store.save_feed_state(row["feed_id"], values, owner=owner, new_items=len(new_ids))
                saved.add(row["feed_id"])
            except Exception as exc:  # noqa: BLE001 - this feed's state is refused: released below, retried next run
                if isinstance(exc, StoreError):
                    raise
                log.error("feed.state_not_saved", feed=row["name"], error=repr(exc)[:500], exc_info=exc)
                summary.errors.append(f"{row['name']}: state not saved: {type(exc).__name__}: {exc}"[:500])
    finally:
        try:
            if claimed:  # what an exception left claimed goes back now, not after lease_s
                store.release_feeds([feed_id for feed_id in claimed if feed_id not in saved], owner=owner)
        except Exception as exc:  # noqa: BLE001 - the lease then expires; the first error is the one to see
            log.warning("feeds.release_failed", error=repr(exc)[:300])
        store.close()
    log.info("feeds.polled", **{k: v for k, v in asdict(summary).items() if k != "errors"})
    return summary


def _crashed(exc: BaseException) -> Any:
    """A feed whose polling or saving raised: a temporary failure with the error, retried with back-off."""
    from seedwatch.polling import PollResult

    return PollResult(status=PollStatus.TEMPORARY, error=f"internal error: {type(exc).__name__}: {exc}"[:2000])


# -- processing (seedwatch.processing) ----------------------------------------------


def plan_article_batches(settings: Settings, *, now: datetime) -> list[list[str]]:
    store = open_store(settings)
    try:
        ids = store.processable_article_ids(
            now=now, max_attempts=settings.pipeline.max_fetch_attempts, limit=settings.pipeline.max_articles_per_run
        )
    finally:
        store.close()
    return _chunks(ids, settings.pipeline.article_batch_size)


# -- de-duplication --------------------------------------------------------------


def assign_stories(settings: Settings, *, now: datetime, batch: int = 500) -> DedupSummary:
    """Give every newly processed article a story: the one it copies or reports, or its own."""
    from datetime import timedelta

    store = open_store(settings)
    stories = StoryIndex(store)
    summary = DedupSummary()
    owner = new_owner("dedup")
    days = settings.pipeline.story_window_days
    window = timedelta(days=days) if days else None
    try:
        # One assigner at a time keeps story ids deterministic under concurrent runs.
        if not store.acquire_lease("assign-stories", owner=owner, now=now, lease_s=settings.pipeline.lease_s):
            log.info("stories.busy", reason="another run is assigning stories")
            return summary
        story_of_text: dict[str, str] = {}  # content hash -> story, for copies of a text assigned in this run
        while pending := stories.unassigned(limit=batch):
            with store.engine.begin() as conn:
                counts = assign_batch(conn, stories, pending, story_of_text=story_of_text, window=window, now=now)
            summary.add(counts)
        store.release_lease("assign-stories", owner=owner)
    finally:
        store.close()
    log.info("stories.assigned", **asdict(summary))
    return summary


# -- indexing --------------------------------------------------------------------


@dataclass
class IndexSummary:
    indexed: int = 0
    failed: int = 0
    backlog: int = 0  # still waiting in the outbox after this run
    dead: int = 0  # rejected permanently, kept for an operator
    total_documents: int = 0
    errors: list[str] = field(default_factory=list)


def article_from_row(row: dict[str, Any]) -> Article:
    return Article(
        article_id=row["article_id"],
        url=row["url"],
        canonical_url=row["canonical_url"],
        feed_id=row["feed_id"],
        outlet=row["outlet"],
        title=row["title"],
        text=row["text"],
        summary=row["summary"],
        language=row["language"],
        country=row["country"],
        published_at=as_utc(row["published_at"]),
        first_seen_at=as_utc(row["first_seen_at"]),
        authors=tuple(row["authors"] or ()),
        section=row["section"],
        image=row["image"],
        modified_at=as_utc(row["modified_at"]),
        body_source=row["body_source"],
        extraction_method=row["extraction_method"],
        content_hash=row["content_hash"],
        story_id=row["story_id"],
        tags=tuple(TopicTag.from_dict(tag) for tag in row["tags"] or ()),
    )


def index_articles(settings: Settings, *, now: datetime, batch: int = 500) -> IndexSummary:
    """Drain the outbox into the article index; what the index refuses stays queued."""
    from seedwatch.index import article_to_doc, open_index
    from seedwatch.workers import running_pool

    store = open_store(settings)
    summary = IndexSummary()
    # The analysis workers are idle by now (in a whole run in one process): they fold documents.
    index = open_index(settings.index, executor=running_pool())
    try:
        index.ensure_ready()
        _install_rule_queries(settings)
        seen: set[str] = set()
        while ids := [i for i in store.outbox_batch(now=now, limit=batch) if i not in seen]:
            seen.update(ids)
            docs = [article_to_doc(article_from_row(row)) for row in store.article_rows(ids)]
            outcomes = index.upsert(docs)
            store.outbox_acknowledge([o.article_id for o in outcomes if o.ok])
            for outcome in (o for o in outcomes if not o.ok):
                summary.failed += 1
                summary.errors.append(f"{outcome.article_id}: {outcome.error}")
                store.outbox_failed(outcome.article_id, error=outcome.error or "", retryable=outcome.retryable, now=now)
            summary.indexed += sum(o.ok for o in outcomes)
        _index_feed_health(settings, store, index, now=now)
        summary.total_documents = index.count()
    except Exception as exc:  # the index is down: everything stays in the outbox
        summary.errors.append(f"article index unavailable: {exc}")
        log.error("index.unavailable", error=str(exc))
    finally:
        index.close()
        backlog = store.outbox_backlog()
        summary.backlog, summary.dead = backlog["pending"], backlog["dead"]
        store.close()
    log.info("articles.indexed", **{k: v for k, v in asdict(summary).items() if k != "errors"})
    return summary


def _rule_queries(settings: Settings) -> list[tuple[str, str]]:
    return [(rule.name, rule.query) for rule in settings.alerts if rule.query]


def _install_rule_queries(settings: Settings) -> None:
    """Keep Elasticsearch's percolator in step with ``alerts.yaml`` (idempotent)."""
    if settings.index.backend != "elasticsearch":
        return
    from seedwatch.index.percolate import install_percolator_rules

    try:
        install_percolator_rules(settings.index, _rule_queries(settings))
    except Exception as exc:  # noqa: BLE001 - alerts fall back to matching in memory
        log.warning("index.percolator_not_installed", error=str(exc))


def _index_feed_health(settings: Settings, store: StateStore, index: Any, *, now: datetime) -> None:
    from seedwatch.polling import feed_health

    records = []
    for row in store.feed_rows():
        health = feed_health(_feed_state(row), now=now, policy=settings.polling)
        records.append(
            {
                **{k: v for k, v in row.items() if k not in ("lease_owner", "lease_until")},
                "health": asdict(health),
                "checked_at": now,
            }
        )
    index.upsert_feed_health(records)


# -- alerting --------------------------------------------------------------------


def send_alerts(settings: Settings, *, now: datetime) -> Any:
    """Send what the alert rules say is due; SMTP failures are deferred, never lost."""
    from seedwatch.alerting import send_due_alerts, send_operations_digest
    from seedwatch.alerting.compose import topic_titles
    from seedwatch.index.percolate import rule_query_matcher

    titles = topic_titles(settings.paths.topics_dir, {rule.topic for rule in settings.alerts if rule.topic})
    for topic in topics_without_alerts(settings):
        log.warning("alerts.topic_without_rule", topic=topic, fix=f"add a rule with topic: {topic} to alerts.yaml")
    store = open_store(settings)
    try:
        report = send_due_alerts(
            store.engine,
            settings.alerts,
            settings.smtp,
            now=now,
            topic_titles=titles,
            kibana_base_url=settings.kibana_base_url,
            query_matcher=rule_query_matcher(settings.index, _rule_queries(settings)),
            outbox_dir=settings.paths.var_dir / "sent-mail",
        )
    finally:
        # A rule that failed (re-raised after the other rules) must not cost the operators their digest.
        try:
            send_operations_digest(
                store.engine, settings.alerts, settings.smtp, now=now, policy_quiet_factor=settings.polling.quiet_factor
            )
        finally:
            store.close()
    return report


# -- one whole run ---------------------------------------------------------------


@dataclass
class RunReport:
    poll: PollSummary
    process: ProcessSummary
    dedup: DedupSummary
    index: IndexSummary
    alerts: Any


def _isolated(stage: str, errors: list[str], call: Callable[[], _T]) -> _T | None:
    """Run one stage (or batch) of a whole run; a bug in it is reported, and the later stages still run.

    Every item is isolated inside its stage already; this is the last line, so that a
    defect nobody foresaw costs one stage of one run, not de-duplication, indexing and
    alerts of every run. A store that cannot be used still ends the run (``StoreError``):
    nothing later could work.
    """
    try:
        return call()
    except StoreError:
        raise
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.error("run.stage_failed", stage=stage, error=repr(exc)[:500], exc_info=exc)
        errors.append(f"{stage} stage failed: {type(exc).__name__}: {exc}"[:500])
        return None


def _wait_for_other_runs(store: StateStore, *, now: datetime, wait_s: float, poll_s: float = 0.5) -> None:
    """Wait (up to ``wait_s``) while another run still polls or processes (its leases are live).

    Finalizing while an overlapping run is half-way through its articles gave stories and
    alerts in two parts (two emails where one run sends one). A crashed run's leases end at
    ``lease_s`` on the pipeline's clock; waiting longer than that is pointless.
    """
    deadline = time.monotonic() + wait_s
    while store.leases_in_flight(now=now):
        if time.monotonic() > deadline:
            log.warning("run.other_run_still_busy", waited_s=wait_s)
            return
        time.sleep(poll_s)


def run_once(settings: Settings, *, now: datetime, on_stage: Callable[[str], None] | None = None) -> RunReport:
    """The whole pipeline in this process: what the DAG does, without Airflow."""

    def stage(name: str) -> None:
        if on_stage:
            on_stage(name)

    stage("poll")
    poll = PollSummary()
    for batch in plan_feed_batches(settings, now=now):
        found_before = poll.new_articles
        poll.add(_isolated("poll", poll.errors, lambda b=batch: poll_feeds(settings, b, now=now)) or PollSummary())
        if not found_before and poll.new_articles and pool_size(settings) > 1:
            # Something to analyse: the workers' start-up (seconds of imports) overlaps the rest of polling.
            from seedwatch.workers import prestart_pool

            # With the run's budget, so processing reuses these workers rather than starting others.
            prestart_pool(
                pool_size(settings),
                settings.paths.topics_dir,
                settings.paths.seeds_dir,
                settings.pipeline.article_budget(),
            )
    stage("process")
    process = ProcessSummary()
    # Batches are the unit of Airflow's mapped tasks; in one process, a few long streams
    # avoid a start and a drain of the workers per batch.
    ids = [article_id for batch in plan_article_batches(settings, now=now) for article_id in batch]
    for batch in _chunks(ids, max(settings.pipeline.article_batch_size, CLI_ARTICLE_BATCH)):
        process.add(
            _isolated("process", process.errors, lambda b=batch: process_articles(settings, b, now=now))
            or ProcessSummary()
        )
    # Concurrent runs (several CLI processes on one store) take turns from here on,
    # so stories, documents and alerts come out as one run would make them.
    store = open_store(settings)
    try:
        with store.holding("finalize-run", lease_s=settings.pipeline.lease_s, wait_s=settings.pipeline.lease_s):
            _wait_for_other_runs(store, now=now, wait_s=settings.pipeline.lease_s)
            stage("dedup")
            dedup = _isolated("dedup", process.errors, lambda: assign_stories(settings, now=now)) or DedupSummary()
            stage("index")
            index = _isolated("index", process.errors, lambda: index_articles(settings, now=now)) or IndexSummary()
            stage("alerts")
            alerts = _isolated("alerts", process.errors, lambda: send_alerts(settings, now=now))
    finally:
        store.close()
    return RunReport(poll=poll, process=process, dedup=dedup, index=index, alerts=alerts)
