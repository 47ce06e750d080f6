"""Polling against a real loopback server, and the rescheduling / health rules."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from seedwatch.fetch import Fetcher, HttpPolicy
from seedwatch.localsite import LocalSite, Request, Response
from seedwatch.models import PollStatus
from seedwatch.polling import FeedState, PollingPolicy, PollResult, feed_health, poll_feed, reschedule

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = PollingPolicy()
HTTP = HttpPolicy(allow_networks=["127.0.0.1/32"])


def rss(*items: tuple[str, str]) -> bytes:
    body = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title><link>https://libyaobserver.ly/news/{guid}</link></item>"
        for guid, title in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>LO</title>{body}</channel></rss>'.encode()


async def poll(url: str, state: FeedState, parser: Executor | None = None) -> PollResult:
    async with Fetcher(HTTP) as fetcher:
        return await poll_feed(
            fetcher, feed_id="lo", url=url, state=state, timezone="Africa/Tripoli", now=NOW, parser=parser
        )


def test_conditional_get_gives_not_modified_and_keeps_validators() -> None:
    with LocalSite() as site:
        site.add("/feed", rss(("1", "Dbeibah meets Erdoğan")), content_type="application/rss+xml")
        first = asyncio.run(poll(site.url("/feed"), FeedState()))
        assert first.status is PollStatus.OK
        assert [e.title for e in first.entries] == ["Dbeibah meets Erdoğan"]
        state = reschedule(FeedState(), first, new_items=1, now=NOW, policy=POLICY)
        second = asyncio.run(poll(site.url("/feed"), state))
        assert (second.status, second.http_status) == (PollStatus.NOT_MODIFIED, 304)
        assert site.requests[-1].headers["if-none-match"] == first.etag
        assert site.requests[-1].headers["if-modified-since"] == first.last_modified
        after = reschedule(state, second, new_items=0, now=NOW + timedelta(minutes=15), policy=POLICY)
        assert (after.etag, after.body_hash) == (state.etag, state.body_hash)


class _BrokenPool(Executor):
    def submit(self, *_args: object, **_kwargs: object):  # noqa: ANN202
        raise BrokenProcessPool("a worker died")


def test_a_feed_parsed_in_worker_processes_gives_the_same_entries() -> None:
    """In a whole run the idle analysis workers parse feeds; a dead pool only moves parsing back here."""
    items = [(str(n), f"Haber {n}: Dbeibah ve Erdoğan") for n in range(30)]
    with LocalSite() as site, ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver")) as pool:
        site.add("/feed", rss(*items), content_type="application/rss+xml")
        here = asyncio.run(poll(site.url("/feed"), FeedState()))
        pooled = asyncio.run(poll(site.url("/feed"), FeedState(), parser=pool))
        broken = asyncio.run(poll(site.url("/feed"), FeedState(), parser=_BrokenPool()))
    assert here.status is PollStatus.OK and len(here.entries) == 30
    assert pooled == here and broken == here


def test_changed_body_behind_an_unchanged_etag_is_seen() -> None:
    bodies = [rss(("1", "First")), rss(("1", "First"), ("2", "Second"))]

    def lying(_request: Request) -> Response:  # ignores If-None-Match, same ETag for every body
        return Response(body=bodies[0], headers={"ETag": '"same"'}, content_type="application/rss+xml")

    with LocalSite() as site:
        site.add_handler("/feed", lying)
        first = asyncio.run(poll(site.url("/feed"), FeedState()))
        state = reschedule(FeedState(), first, new_items=1, now=NOW, policy=POLICY)
        unchanged = asyncio.run(poll(site.url("/feed"), state))
        assert (unchanged.http_status, unchanged.status) == (200, PollStatus.NOT_MODIFIED)  # body hash
        bodies[0] = bodies[1]
        changed = asyncio.run(poll(site.url("/feed"), state))
        assert changed.status is PollStatus.OK
        assert changed.etag == '"same"'
        assert [e.guid for e in changed.entries] == ["1", "2"]


def test_429_500_html_and_private_redirect_map_to_statuses() -> None:
    with LocalSite() as site:
        site.add("/busy", "later", status=429, headers={"Retry-After": "3600"})
        site.add("/broken", "oops", status=500)
        site.add("/gone", "gone", status=404)
        site.add("/html", "<!doctype html><html><body>Not a feed</body></html>")
        site.add("/evil", "", status=302, headers={"Location": "http://10.0.0.5/feed"})
        results = {
            path: asyncio.run(poll(site.url(path), FeedState()))
            for path in ("/busy", "/broken", "/gone", "/html", "/evil")
        }
    assert results["/busy"].status is PollStatus.TEMPORARY
    assert results["/busy"].retry_after_s == 3600
    assert results["/broken"].status is PollStatus.TEMPORARY
    assert results["/gone"].status is PollStatus.HARD
    assert results["/html"].status is PollStatus.SOFT
    assert results["/html"].body_hash is None  # parse again next time
    assert results["/evil"].status is PollStatus.HARD
    assert "10.0.0.5" in (results["/evil"].error or "")


def test_backoff_grows_honours_retry_after_is_capped_and_never_drops() -> None:
    state = FeedState(interval_s=900)
    delays = []
    for _ in range(12):
        state = reschedule(
            state, PollResult(PollStatus.TEMPORARY, error="HTTP 503"), new_items=0, now=NOW, policy=POLICY
        )
        assert state.next_poll_at is not None
        delays.append((state.next_poll_at - NOW).total_seconds())
    assert delays[:4] == [300, 600, 1200, 2400]
    assert delays[-1] == POLICY.max_backoff_s  # capped, still scheduled
    assert state.consecutive_failures == 12 and state.interval_s == 900
    throttled = reschedule(
        FeedState(), PollResult(PollStatus.TEMPORARY, retry_after_s=7200), new_items=0, now=NOW, policy=POLICY
    )
    assert throttled.next_poll_at == NOW + timedelta(hours=2)
    hard = reschedule(FeedState(), PollResult(PollStatus.HARD, error="HTTP 403"), new_items=0, now=NOW, policy=POLICY)
    assert hard.next_poll_at == NOW + timedelta(seconds=4 * 300)
    recovered = reschedule(state, PollResult(PollStatus.OK, body_hash="h"), new_items=0, now=NOW, policy=POLICY)
    assert (recovered.consecutive_failures, recovered.last_error, recovered.last_success_at) == (0, None, NOW)


def test_interval_adapts_to_rate_and_bursts_within_bounds() -> None:
    policy = PollingPolicy(min_interval_s=300, max_interval_s=86400)
    state = reschedule(FeedState(), PollResult(PollStatus.OK), new_items=10, now=NOW, policy=policy)
    assert state.items_per_day is None  # first poll: a backlog, not a rate
    t = NOW
    for _ in range(20):  # a quiet feed: one item every 12 hours
        t += timedelta(hours=12)
        state = reschedule(state, PollResult(PollStatus.OK), new_items=1, now=t, policy=policy)
        for _ in range(3):
            state = reschedule(state, PollResult(PollStatus.NOT_MODIFIED), new_items=0, now=t, policy=policy)
    assert 1.0 < (state.items_per_day or 0) < 3.0
    quiet_interval = state.interval_s or 0
    assert 300 <= quiet_interval <= 2 * 12 * 3600
    burst = reschedule(state, PollResult(PollStatus.OK), new_items=8, now=t + timedelta(minutes=20), policy=policy)
    assert (burst.interval_s or 0) < quiet_interval / 2  # a burst tightens polling at once
    floor = burst
    for minutes in range(1, 30):
        floor = reschedule(
            floor, PollResult(PollStatus.OK), new_items=5, now=t + timedelta(minutes=20 + minutes * 5), policy=policy
        )
    assert floor.interval_s == 300
    idle = floor
    for day in range(1, 200):
        idle = reschedule(
            idle, PollResult(PollStatus.NOT_MODIFIED), new_items=0, now=t + timedelta(days=day), policy=policy
        )
    assert idle.interval_s == 86400


def test_feed_health_reports_failing_quiet_and_never_polled() -> None:
    assert feed_health(FeedState(), now=NOW, policy=POLICY).status == "never-polled"
    healthy = FeedState(
        last_status="ok", last_success_at=NOW, last_new_item_at=NOW - timedelta(hours=1), items_per_day=24
    )
    report = feed_health(healthy, now=NOW, policy=POLICY)
    assert (report.status, report.expected_cadence_s) == ("ok", 3600)
    quiet = replace(healthy, last_new_item_at=NOW - timedelta(hours=7))
    assert feed_health(quiet, now=NOW, policy=POLICY).status == "quiet"
    slow = replace(healthy, items_per_day=0.5, last_new_item_at=NOW - timedelta(days=3))
    assert feed_health(slow, now=NOW, policy=POLICY).status == "ok"  # 4 × 2 days not reached
    failing = replace(healthy, consecutive_failures=3, last_error="HTTP 503", last_status="temporary")
    report = feed_health(failing, now=NOW, policy=POLICY)
    assert report.status == "failing" and "HTTP 503" in report.reason
