"""Polling one feed, and the one function that decides when to poll it next.

``poll_feed`` sends a conditional GET (ETag / Last-Modified) and also compares a SHA-256 of
the body with the last one, because some servers send unchanged validators for changed
feeds (and others send new validators for unchanged ones). Every expected failure comes back
as a ``PollStatus``.

``reschedule`` owns intervals and back-off (mediacloud/rss-fetcher style):

- **Rate**: ``items_per_day`` is a time-weighted moving average of new items per day
  between successful polls (half-life 3 days), so a feed's cadence is learned, and forgotten
  when it changes.
- **Interval** after a success: new items → half of ``min(current interval, expected gap
  between items)``, so bursts are followed closely; no new items → grow by 1.5× but not past
  twice the expected gap. Always within ``[min_interval_s, max_interval_s]``.
- **Back-off** after a failure: ``min_interval_s · 2^(failures-1)`` (×4 for hard failures:
  4xx, SSRF or robots refusals), capped at ``max_backoff_s``, and never earlier than the
  server's ``Retry-After``. A failing feed keeps its regular interval and is retried for
  ever at the capped back-off; it is never dropped.

``feed_health`` turns a state into the status shown by ``seedwatch feeds check`` and indexed
for Kibana: ``ok``, ``failing`` (``failing_after`` consecutive failures), ``quiet`` (no new
item for ``quiet_factor`` × its usual gap, and at least 6 hours) or ``never-polled``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
from concurrent.futures import BrokenExecutor, Executor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pydantic
import structlog

from seedwatch.feeds import ParsedFeed, parse_feed
from seedwatch.fetch import Fetcher
from seedwatch.models import FeedEntry, FetchStatus, PollStatus

log = structlog.get_logger(__name__)

__all__ = [
    "FeedHealth",
    "FeedState",
    "PollResult",
    "PollingPolicy",
    "feed_health",
    "header_validator",
    "poll_feed",
    "reschedule",
]

_RATE_HALF_LIFE_DAYS = 3.0
QUIET_FLOOR_S = 6 * 3600  # news sites have overnight lulls; never call a feed quiet sooner
_HARD_FACTOR = 4
_MAX_VALIDATOR = 1024  # longer ETags are no validators, and would bloat every request
_TEMPORARY_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})


class PollingPolicy(pydantic.BaseModel, extra="forbid"):
    """Bounds for adaptive polling (settings key ``polling:``)."""

    min_interval_s: int = pydantic.Field(300, ge=1)  # politeness floor, even for very busy feeds
    max_interval_s: int = pydantic.Field(86400, ge=1)  # even a dead-quiet feed is looked at daily
    default_interval_s: int = pydantic.Field(900, ge=1)  # until a feed's rate is known
    max_backoff_s: int = pydantic.Field(86400, ge=1)  # failing feeds are retried at least this often, for ever
    quiet_factor: float = pydantic.Field(4.0, gt=0)  # "quiet" after this many expected gaps without a new item
    failing_after: int = pydantic.Field(3, ge=1)  # consecutive failures before a feed is reported failing


@dataclass(slots=True)
class FeedState:
    """Per-feed polling state; the store keeps each field as a column. Datetimes are UTC."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    interval_s: int | None = None
    next_poll_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_status: str | None = None  # a PollStatus value
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    last_new_item_at: datetime | None = None
    items_per_day: float | None = None
    # Not a column: counted by the store (``feed_rows``), articles of this feed whose every
    # processing attempt failed and that no run takes again.
    quarantined_articles: int = 0


@dataclass(slots=True)
class PollResult:
    """The outcome of polling one feed once."""

    status: PollStatus
    http_status: int | None = None
    entries: list[FeedEntry] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    error: str | None = None
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """What an operator needs to know about one feed."""

    status: str  # "ok" | "failing" | "quiet" | "never-polled"
    reason: str
    last_success_at: datetime | None
    last_new_item_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    items_per_day: float | None
    expected_cadence_s: float | None  # usual gap between new items
    next_poll_at: datetime | None
    quarantined_articles: int = 0  # articles given up after max_fetch_attempts failures


def _fetch_failure(status: FetchStatus, http_status: int | None) -> PollStatus:
    if status is FetchStatus.HTTP_ERROR:
        if http_status is None or http_status in _TEMPORARY_HTTP or http_status >= 500:
            return PollStatus.TEMPORARY  # includes redirect loops: often a transient misconfig
        return PollStatus.HARD
    if status in (FetchStatus.TIMEOUT, FetchStatus.NETWORK):
        return PollStatus.TEMPORARY
    if status in (FetchStatus.BLOCKED, FetchStatus.ROBOTS):
        return PollStatus.HARD
    return PollStatus.SOFT  # too large, not a feed content type


async def poll_feed(
    fetcher: Fetcher,
    *,
    feed_id: str,
    url: str,
    state: FeedState,
    timezone: str = "UTC",
    now: datetime | None = None,
    parser: Executor | None = None,
) -> PollResult:
    """Poll one feed with conditional GET and body hashing; never raises for expected failures.

    ``parser``: processes to parse the feed in (parsing is most of polling's CPU), else here.
    """
    headers: dict[str, str] = {}
    # Checked when sent too: a store written before validators were checked may hold bad ones.
    if etag := header_validator(state.etag):
        headers["If-None-Match"] = etag
    if last_modified := header_validator(state.last_modified):
        headers["If-Modified-Since"] = last_modified
    fetched = await fetcher.get(url, headers=headers, accept="feed")
    etag = header_validator(fetched.headers.get("etag"))
    last_modified = header_validator(fetched.headers.get("last-modified"))
    if fetched.status is not FetchStatus.OK:
        return PollResult(
            status=_fetch_failure(fetched.status, fetched.http_status),
            http_status=fetched.http_status,
            error=fetched.error,
            retry_after_s=fetched.retry_after_s,
        )
    if fetched.http_status == 304:
        return PollResult(
            status=PollStatus.NOT_MODIFIED,
            http_status=304,
            etag=etag or header_validator(state.etag),
            last_modified=last_modified or header_validator(state.last_modified),
            body_hash=state.body_hash,
        )
    body_hash = hashlib.sha256(fetched.body).hexdigest()
    common = {"http_status": fetched.http_status, "etag": etag, "last_modified": last_modified}
    if body_hash == state.body_hash:
        return PollResult(status=PollStatus.NOT_MODIFIED, body_hash=body_hash, **common)  # type: ignore[arg-type]
    parse = functools.partial(
        parse_feed,
        fetched.body,
        feed_id=feed_id,
        base_url=fetched.final_url,
        content_type=fetched.headers.get("content-type"),
        timezone=timezone,
        now=now,
    )
    parsed = await _parse_in(parser, parse) if parser is not None else parse()
    if parsed.error is not None:
        # No body hash: the next poll must parse again rather than call it "not modified".
        return PollResult(status=PollStatus.SOFT, error=parsed.error, **common)  # type: ignore[arg-type]
    return PollResult(status=PollStatus.OK, entries=parsed.entries, body_hash=body_hash, **common)  # type: ignore[arg-type]


def header_validator(value: str | None) -> str | None:
    """An ETag or Last-Modified fit to be stored and sent back, else None (poll unconditionally).

    A validator goes back to the server as a request header, which must be printable ASCII
    of a sane length: a server that once sent ``ETag: "ü"`` would otherwise make every
    later poll of its feed fail to encode its request.
    """
    if not value:
        return None
    value = value.strip()
    if not value or len(value) > _MAX_VALIDATOR or not value.isascii() or not value.isprintable():
        return None
    return value


async def _parse_in(parser: Executor, parse: functools.partial[ParsedFeed]) -> ParsedFeed:
    try:
        return await asyncio.get_running_loop().run_in_executor(parser, parse)
    except BrokenExecutor as exc:  # a dead worker pool: parse here instead
        log.warning("feed.parse_pool_failed", error=repr(exc))
        return parse()


def _clamp(seconds: float, policy: PollingPolicy) -> int:
    return int(min(max(seconds, policy.min_interval_s), policy.max_interval_s))


def _updated_rate(state: FeedState, new_items: int, now: datetime) -> float | None:
    if state.last_success_at is None:
        return state.items_per_day  # the first poll's items are a backlog, not a rate
    elapsed_days = (now - state.last_success_at).total_seconds() / 86400
    if elapsed_days <= 0:
        return state.items_per_day
    observed = new_items / elapsed_days
    if state.items_per_day is None:
        return observed
    weight = 1 - math.pow(0.5, elapsed_days / _RATE_HALF_LIFE_DAYS)
    return state.items_per_day + weight * (observed - state.items_per_day)


def reschedule(
    state: FeedState, result: PollResult, *, new_items: int, now: datetime, policy: PollingPolicy
) -> FeedState:
    """The next state of a feed after one poll: validators, health counters, next poll time."""
    now = now.astimezone(UTC)
    current = state.interval_s or policy.default_interval_s
    if result.status in (PollStatus.OK, PollStatus.NOT_MODIFIED):
        rate = _updated_rate(state, new_items, now)
        expected_gap = 86400 / rate if rate else None
        if new_items > 0:
            interval = min(current, expected_gap or current) / 2
        else:
            ceiling = 2 * expected_gap if expected_gap else policy.max_interval_s
            interval = max(current, min(current * 1.5, ceiling))
        interval_s = _clamp(interval, policy)
        keep_validators = result.status is PollStatus.NOT_MODIFIED
        return replace(
            state,
            etag=result.etag or (state.etag if keep_validators else None),
            last_modified=result.last_modified or (state.last_modified if keep_validators else None),
            body_hash=result.body_hash or state.body_hash,
            interval_s=interval_s,
            next_poll_at=now + timedelta(seconds=interval_s),
            consecutive_failures=0,
            last_error=None,
            last_status=result.status.value,
            last_polled_at=now,
            last_success_at=now,
            last_new_item_at=now if new_items > 0 else state.last_new_item_at,
            items_per_day=rate,
        )
    failures = state.consecutive_failures + 1
    backoff = policy.min_interval_s * 2 ** min(failures - 1, 30)
    if result.status is PollStatus.HARD:
        backoff *= _HARD_FACTOR
    backoff = min(backoff, policy.max_backoff_s)
    if result.retry_after_s is not None:
        backoff = max(backoff, min(result.retry_after_s, policy.max_backoff_s))
    return replace(
        state,
        interval_s=state.interval_s or policy.default_interval_s,
        next_poll_at=now + timedelta(seconds=backoff),
        consecutive_failures=failures,
        last_error=result.error or result.status.value,
        last_status=result.status.value,
        last_polled_at=now,
    )


def feed_health(state: FeedState, *, now: datetime, policy: PollingPolicy) -> FeedHealth:
    """Classify a feed for operators: ok, failing, quiet against its usual cadence, never polled."""
    now = now.astimezone(UTC)
    cadence = 86400 / state.items_per_day if state.items_per_day else None

    def health(status: str, reason: str) -> FeedHealth:
        return FeedHealth(
            status=status,
            reason=reason,
            last_success_at=state.last_success_at,
            last_new_item_at=state.last_new_item_at,
            consecutive_failures=state.consecutive_failures,
            last_error=state.last_error,
            items_per_day=state.items_per_day,
            expected_cadence_s=cadence,
            next_poll_at=state.next_poll_at,
            quarantined_articles=state.quarantined_articles,
        )

    if state.last_status is None and state.last_success_at is None:
        return health("never-polled", "not polled yet")
    if state.consecutive_failures >= policy.failing_after:
        return health(
            "failing",
            f"{state.consecutive_failures} consecutive failures; last: {state.last_error}",
        )
    if cadence is not None:
        since = state.last_new_item_at or state.last_success_at
        threshold = max(policy.quiet_factor * cadence, QUIET_FLOOR_S)
        if since is not None and (now - since).total_seconds() > threshold:
            silent_h = (now - since).total_seconds() / 3600
            return health(
                "quiet",
                f"no new item for {silent_h:.1f} h; usually one every {cadence / 3600:.1f} h",
            )
    if state.consecutive_failures:
        return health("ok", f"{state.consecutive_failures} recent failure(s): {state.last_error}")
    if state.quarantined_articles:
        return health("ok", f"polling normally; {state.quarantined_articles} article(s) quarantined")
    return health("ok", "polling normally")
