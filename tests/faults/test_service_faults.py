"""Services that fail under the pipeline: each fault isolated, reported, and recovered next run.

Real servers on loopback throughout: the demo's news site, a second site that hangs or
drips, an SMTP port with nothing behind it (then a real SMTP server), and another process
holding SQLite's write lock.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from seedwatch.demo import demo_feeds, write_config
from seedwatch.index import open_index
from seedwatch.localsite import LocalSite, Request, Response
from seedwatch.mailsink import MailSink
from seedwatch.pipeline import run_once
from seedwatch.settings import load_settings
from seedwatch.store import StateStore
from seedwatch.store.schema import articles, feeds

NOW = datetime(2025, 9, 10, 12, 0, tzinfo=UTC)
DEMO_SITE = Path(__file__).resolve().parents[2] / "demo" / "site"


def _set(config: Path, section: str, **values: object) -> None:
    """Change settings in the written ``seedwatch.yaml`` (e.g. shorter HTTP timeouts)."""
    path = config / "seedwatch.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _article(settings, url_suffix: str) -> dict:  # noqa: ANN001
    store = StateStore.open(settings.state.url)
    try:
        with store.engine.connect() as conn:
            row = conn.execute(sa.select(articles).where(articles.c.url.like(f"%{url_suffix}"))).mappings().one()
    finally:
        store.close()
    return dict(row)


def _feed(settings, name: str) -> dict:  # noqa: ANN001
    store = StateStore.open(settings.state.url)
    try:
        with store.engine.connect() as conn:
            return dict(conn.execute(sa.select(feeds).where(feeds.c.name == name)).mappings().one())
    finally:
        store.close()


def _ledger_states(settings) -> list[str]:  # noqa: ANN001
    store = StateStore.open(settings.state.url)
    try:
        with store.engine.connect() as conn:
            return sorted(conn.execute(sa.text("SELECT state FROM alert_ledger")).scalars())
    finally:
        store.close()


# -- SMTP ------------------------------------------------------------------------


def test_alerts_are_deferred_while_smtp_is_down_and_sent_when_it_is_back(tmp_path: Path, news_site: LocalSite) -> None:
    port = _free_port()  # nothing listens here yet: connection refused
    config = write_config(tmp_path / "run", site_url=news_site.base_url, smtp_port=port)
    _set(config, "smtp", timeout_s=5)
    settings = load_settings(config, environ={})

    down = run_once(settings, now=NOW)
    assert down.alerts.emails_sent == 0
    assert down.alerts.deferred >= 1
    assert any("SMTP" in error for error in down.alerts.errors)
    assert "sent" not in _ledger_states(settings)
    assert down.index.indexed == 30  # the rest of the run went on

    with MailSink(port=port) as sink:
        back = run_once(settings, now=NOW + timedelta(minutes=15))
        assert back.alerts.emails_sent == 1 and back.alerts.deferred == 0
        assert len(sink.messages) == 1
        again = run_once(settings, now=NOW + timedelta(minutes=30))
        assert again.alerts.emails_sent == 0 and len(sink.messages) == 1  # sent once, not again
    assert set(_ledger_states(settings)) == {"sent"}
    assert len(_ledger_states(settings)) == back.alerts.stories_sent


# -- the state store locked by another process ------------------------------------

LOCKER = r"""
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN EXCLUSIVE")
conn.execute("UPDATE feeds SET total_items = total_items")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def test_a_run_waits_for_a_store_locked_by_another_process(
    tmp_path: Path, news_site: LocalSite, mail_sink: MailSink
) -> None:
    config = write_config(tmp_path / "run", site_url=news_site.base_url, smtp_port=mail_sink.port)
    settings = load_settings(config, environ={})
    run_once(settings, now=NOW - timedelta(days=30))  # the database exists, with its schema
    db_path = settings.state.url.removeprefix("sqlite:///")
    hold_s = 4.0
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, db_path, str(hold_s)], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        started = time.monotonic()
        report = run_once(settings, now=NOW)
        waited = time.monotonic() - started
    finally:
        locker.wait(timeout=60)
    assert locker.returncode == 0
    assert waited >= hold_s * 0.9  # it waited for the lock rather than failing ...
    assert report.poll.feeds_polled == 4  # ... and then did its work
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 30
        assert conn.execute("SELECT count(*) FROM articles WHERE lease_owner IS NOT NULL").fetchone()[0] == 0


# -- a feed server that hangs -----------------------------------------------------


@pytest.fixture
def stuck_site() -> Iterator[tuple[LocalSite, threading.Event]]:
    release = threading.Event()
    with LocalSite() as site:
        yield site, release
        release.set()  # free the handler threads before the server stops


def _silent(release: threading.Event):  # noqa: ANN202
    def handle(request: Request) -> Response:
        release.wait(60)  # accepts the connection, never answers
        return Response(status=503)

    return handle


def _drip(release: threading.Event):  # noqa: ANN202
    def body() -> Iterator[bytes]:
        yield b'<?xml version="1.0"?><rss version="2.0"><channel>'
        while not release.wait(0.5):  # a byte every half second: each read is "on time"
            yield b" "

    return lambda request: Response(body=body(), content_type="application/rss+xml")


@pytest.mark.parametrize("behaviour", ["silent", "drip"])
def test_a_hanging_feed_times_out_and_the_others_are_polled(
    behaviour: str, tmp_path: Path, news_site: LocalSite, mail_sink: MailSink, stuck_site
) -> None:  # noqa: ANN001
    site, release = stuck_site
    site.add_handler("/feed.xml", (_silent if behaviour == "silent" else _drip)(release))
    stuck = {
        "name": "Stuck Feed",
        "url": site.url("/feed.xml"),
        "outlet": "stuck.example",
        "language": "en",
        "country": "US",
    }
    config = write_config(
        tmp_path / "run",
        site_url=news_site.base_url,
        smtp_port=mail_sink.port,
        feeds=[*demo_feeds(news_site.base_url), stuck],
    )
    _set(config, "http", connect_timeout_s=2, read_timeout_s=2, total_timeout_s=4)
    settings = load_settings(config, environ={})

    started = time.monotonic()
    report = run_once(settings, now=NOW)
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"the run took {elapsed:.0f} s: the hanging feed was not cut off"
    assert report.poll.feeds_polled == 5
    assert report.poll.new_articles == 30 and report.index.indexed == 30  # the other feeds, in full
    assert any(error.startswith("Stuck Feed: temporary") for error in report.poll.errors)
    row = _feed(settings, "Stuck Feed")
    error = (row["last_error"] or "").lower()
    assert row["last_status"] == "temporary" and ("timeout" in error or "no complete answer" in error)
    assert row["consecutive_failures"] == 1 and row["lease_owner"] is None

    # The server recovers: the feed is polled again once its back-off has passed.
    release.set()
    one_item = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Stuck</title><item><title>Back</title>'
        f"<link>{news_site.base_url}/articles/sirte-63a4e6e0fc.html?from=stuck</link>"
        "<description>Back online.</description></item></channel></rss>"
    )
    site.add("/feed.xml", one_item, content_type="application/rss+xml")
    later = run_once(settings, now=NOW + timedelta(hours=2))
    assert not any(error.startswith("Stuck Feed") for error in later.poll.errors)
    assert _feed(settings, "Stuck Feed")["consecutive_failures"] == 0
    assert later.poll.new_articles == 1


# -- an article page answering 500 ----------------------------------------------------


def test_a_page_answering_500_is_kept_from_the_feed_and_fetched_again_later(
    tmp_path: Path, news_site: LocalSite, mail_sink: MailSink
) -> None:
    config = write_config(tmp_path / "run", site_url=news_site.base_url, smtp_port=mail_sink.port)
    settings = load_settings(config, environ={})
    first = run_once(settings, now=NOW)
    assert first.process.fetch_errors == 1
    broken = _article(settings, "/articles/server-error.html")
    assert broken["status"] == "processed" and broken["body_source"] == "feed-summary"  # not lost
    assert "500" in (broken["last_fetch_error"] or "")
    assert broken["text"]  # the feed summary, searchable meanwhile

    # Still failing at the next due time: retried, still kept, a bounded number of times.
    retry_after = timedelta(seconds=settings.pipeline.retry_fetch_after_s + 1)
    second = run_once(settings, now=NOW + retry_after)
    assert second.process.articles == 1 and second.process.fetch_errors == 1
    assert _article(settings, "/articles/server-error.html")["fetch_attempts"] == 2

    # The server is repaired: the page replaces the summary, in the store and the index.
    page = (DEMO_SITE / "articles" / "sirte-63a4e6e0fc.html").read_text(encoding="utf-8")
    news_site.add("/articles/server-error.html", page.replace("{BASE_URL}", news_site.base_url))
    third = run_once(settings, now=NOW + 3 * retry_after)
    assert third.process.articles == 1 and third.process.extracted == 1
    fixed = _article(settings, "/articles/server-error.html")
    assert fixed["body_source"] == "page" and fixed["last_fetch_error"] is None
    assert len(fixed["text"]) > len(broken["text"])
    index = open_index(settings.index)
    try:
        assert index.count() == 30  # updated in place, not added
        assert index.get(fixed["article_id"])["body_source"] == "page"
    finally:
        index.close()
