"""Isolation: whatever one feed item or one page contains, the run completes for all the others.

Issue 16's triggers, each through the real code against a loopback server: a control
character in a link (``httpx.InvalidURL``), a host written in Unicode (``UnicodeEncodeError``
from the ``Host`` header, now sent as IDNA), a page declaring a codec that is no text
encoding (``LookupError``), a NUL in a feed's GUID or link (PostgreSQL refused the whole
batch), a non-ASCII ETag (every later poll failed), and an article whose analysis raises.
The bad item is recorded with its error, counted as an attempt and quarantined after
``pipeline.max_fetch_attempts``, visible in feed health and in the operations digest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedwatch import analysis, pipeline
from seedwatch.alerting.operations import feed_problems
from seedwatch.demo import SITE_DIR, write_config
from seedwatch.fetch import Fetcher, HttpPolicy, ascii_url
from seedwatch.localsite import LocalSite
from seedwatch.mailsink import MailSink
from seedwatch.models import FetchStatus, PollStatus
from seedwatch.polling import FeedState, feed_health, poll_feed
from seedwatch.settings import load_settings
from seedwatch.store import StateStore
from seedwatch.store.schema import articles, feeds

NOW = datetime(2025, 9, 10, 12, 0, tzinfo=UTC)
LOOPBACK = ["127.0.0.1/32"]
GOOD_PAGE = (SITE_DIR / "articles" / "sirte-63a4e6e0fc.html").read_text(encoding="utf-8")
SUMMARY = "Libyan and Turkish officials met in Ankara to discuss energy exploration and maritime borders."


def fetch(url: str, **policy: object):  # noqa: ANN201
    async def go():  # noqa: ANN202
        async with Fetcher(HttpPolicy(allow_networks=LOOPBACK, **policy)) as fetcher:  # type: ignore[arg-type]
            return await fetcher.fetch_page(url)

    return asyncio.run(go())


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as local:
        local.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
        yield local


# -- the fetcher: each trigger is that URL's result, never an exception -------------------


def test_a_control_character_in_a_link_is_a_blocked_result(site: LocalSite) -> None:
    page = fetch(site.url("/b\x01.html"))
    assert page.status is FetchStatus.BLOCKED
    assert "non-printable" in (page.error or "")
    redirected = site.url("/to-control")
    site.add("/to-control", "", status=302, headers={"Location": "/b%01.html\x01"})
    assert fetch(redirected).status is FetchStatus.BLOCKED


def test_a_unicode_host_is_fetched_under_its_idna_name(site: LocalSite) -> None:
    site.add("/haber.html", GOOD_PAGE, content_type="text/html; charset=utf-8")
    # Full-width letters are the Unicode spelling of "localhost" (UTS 46 maps them), so the
    # link resolves here; the server sees the ASCII name in the Host header.
    page = fetch(f"http://ｌｏｃａｌｈｏｓｔ:{site.port}/haber.html")
    assert page.status is FetchStatus.OK and page.html == GOOD_PAGE
    assert site.requests[-1].headers["host"] == f"localhost:{site.port}"
    # A real internationalised name is looked up as its punycode form.
    assert ascii_url("http://türkiye.example/haber.html?q=ı") == "http://xn--trkiye-3ya.example/haber.html?q=%C4%B1"
    unresolved = fetch("http://türkiye.example/haber.html")
    assert unresolved.status is FetchStatus.NETWORK and "xn--trkiye-3ya.example" in (unresolved.error or "")


@pytest.mark.parametrize("charset", ["rot13", "base64", "zlib", "undefined", "idna", "unicode_escape", "x\x00y"])
def test_a_page_declaring_a_codec_that_is_no_text_encoding_is_decoded_anyway(site: LocalSite, charset: str) -> None:
    body = f'<html><head><meta charset="{charset}"><title>Haber</title></head><body><p>Trablus ve Ankara ğüş</p>'
    site.add("/meta.html", body.encode("utf-8"), content_type="text/html")
    site.add("/header.html", body.encode("utf-8"), content_type=f"text/html; charset={charset}")
    # h11 refuses a NUL in a header line itself (a network error): only the meta declares it.
    for path in ("/meta.html", "/header.html") if "\x00" not in charset else ("/meta.html",):
        page = fetch(site.url(path))
        assert page.status is FetchStatus.OK, (path, page.error)
        assert "Trablus ve Ankara ğüş" in (page.html or "")


def test_a_non_ascii_etag_or_last_modified_never_stops_the_feed(site: LocalSite) -> None:
    feed = '<rss version="2.0"><channel><title>T</title><item><title>A</title><link>http://a.example/1</link></item></channel></rss>'
    site.add("/feed.xml", feed, content_type="application/rss+xml", headers={"ETag": '"ü-1"', "Last-Modified": "Dün"})

    async def poll(state: FeedState):  # noqa: ANN202
        async with Fetcher(HttpPolicy(allow_networks=LOOPBACK)) as fetcher:
            return await poll_feed(fetcher, feed_id="f", url=site.url("/feed.xml"), state=state)

    first = asyncio.run(poll(FeedState()))
    assert first.status is PollStatus.OK and (first.etag, first.last_modified) == (None, None)
    # A store written before validators were checked still holds such values: they are not sent.
    again = asyncio.run(poll(FeedState(etag='"ü-1"', last_modified="Dün")))
    assert again.status is PollStatus.OK
    assert "if-none-match" not in site.requests[-1].headers


# -- a whole run: the bad items are recorded, counted, quarantined; the others go on --------


def _rss(items: list[tuple[str, str]]) -> str:
    body = "".join(
        f"<item><title>Item {n}</title><link>{link}</link><guid>{guid}</guid><description>{SUMMARY}</description></item>"
        for n, (link, guid) in enumerate(items)
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>{body}</channel></rss>'


@pytest.fixture
def hostile_feeds(site: LocalSite) -> dict[str, str]:
    """Two feeds: one carrying every trigger, one healthy."""
    site.add("/good.html", GOOD_PAGE, content_type="text/html")
    site.add("/rot13.html", GOOD_PAGE.replace("<head>", '<head><meta charset="rot13">', 1), content_type="text/html")
    site.add("/idn.html", GOOD_PAGE, content_type="text/html")
    site.add("/crash.html", GOOD_PAGE.replace("<title>", "<title>CRASHME ", 1), content_type="text/html")
    for n in range(3):
        site.add(
            f"/healthy-{n}.html", GOOD_PAGE.replace("<title>", f"<title>Healthy {n} ", 1), content_type="text/html"
        )
    hostile = [
        (site.url("/good.html"), "good"),
        (site.url("/b&#1;.html"), "control"),
        (f"http://ｌｏｃａｌｈｏｓｔ:{site.port}/idn.html", "idn"),
        ("http://türkiye.example/haber.html", "unresolvable-idn"),
        (site.url("/rot13.html"), "rot13"),
        (site.url("/crash.html"), "crash"),
        (site.url("/nul.html?x=1&#0;"), "nul&#0;guid"),
    ]
    site.add("/hostile.xml", _rss(hostile), content_type="application/rss+xml", headers={"ETag": '"ètag"'})
    site.add("/healthy.xml", _rss([(site.url(f"/healthy-{n}.html"), f"h{n}") for n in range(3)]))
    return {"hostile": site.url("/hostile.xml"), "healthy": site.url("/healthy.xml")}


def _feed(name: str, url: str) -> dict[str, str]:
    return {"name": name, "url": url, "outlet": f"{name}.example", "language": "en", "country": "US"}


def _crash_on_marker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: the analysis of one article raises (as a bug in extraction would)."""
    real = analysis.analyse_article

    def analyse(row, html, **kwargs):  # noqa: ANN001, ANN202
        if "crash.html" in row["url"]:
            raise RuntimeError("extractor bug on this page")
        return real(row, html, **kwargs)

    monkeypatch.setattr(analysis, "analyse_article", analyse)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_one_run_completes_for_every_other_item_and_the_bad_one_is_quarantined(
    backend: str,
    tmp_path: Path,
    site: LocalSite,
    hostile_feeds: dict[str, str],
    mail_sink: MailSink,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state_url = None if backend == "sqlite" else request.getfixturevalue("postgres_url")
    config = write_config(
        tmp_path / "run",
        site_url=site.base_url,
        smtp_port=mail_sink.port,
        feeds=[_feed("hostile", hostile_feeds["hostile"]), _feed("healthy", hostile_feeds["healthy"])],
        state_url=state_url,
    )
    settings = load_settings(config, environ={})
    settings.pipeline.processes = 1  # analysis in this process, where the fault is injected
    settings.pipeline.max_fetch_attempts = 2
    _crash_on_marker(monkeypatch)

    first = pipeline.run_once(settings, now=NOW)
    assert first.poll.feeds_polled == 2 and first.poll.feeds_failed == 0, first.poll.errors
    assert first.poll.new_articles == 10
    assert first.process.articles == 9 and first.process.failed == 1 and first.process.quarantined == 0
    assert any("extractor bug" in error for error in first.process.errors)
    assert first.index.indexed == 9 and first.index.backlog == 0

    second = pipeline.run_once(settings, now=NOW + timedelta(hours=1))  # the crash is due again
    assert second.process.failed == 1 and second.process.quarantined == 1
    third = pipeline.run_once(settings, now=NOW + timedelta(hours=6))
    assert third.process.failed == 0  # quarantined: never taken again

    store = StateStore.open(settings.state.url)
    try:
        with store.engine.connect() as conn:
            rows = {
                row.url.removeprefix(site.base_url): row
                for row in conn.execute(
                    sa.select(
                        articles.c.url,
                        articles.c.guid,
                        articles.c.status,
                        articles.c.body_source,
                        articles.c.fetch_attempts,
                        articles.c.last_fetch_error,
                    )
                )
            }
            etags = dict(conn.execute(sa.select(feeds.c.name, feeds.c.etag)).all())
        feed_rows = {row["name"]: row for row in store.feed_rows()}
        problems = feed_problems(store.engine, now=NOW + timedelta(hours=6), quiet_factor=4.0)
    finally:
        store.close()
    crash = rows["/crash.html"]
    assert (crash.status, crash.fetch_attempts) == ("quarantined", 2)
    assert "RuntimeError: extractor bug on this page" in crash.last_fetch_error
    for name in ("/good.html", "/rot13.html", "/healthy-0.html", "/healthy-1.html", "/healthy-2.html"):
        assert (rows[name].status, rows[name].body_source) == ("processed", "page"), name
    assert rows[f"http://ｌｏｃａｌｈｏｓｔ:{site.port}/idn.html"].body_source == "page"
    control = next(row for url, row in rows.items() if "b\x01" in url or "b&#1;" in url or "b%01" in url)
    assert control.status == "processed" and control.body_source == "feed-summary"
    assert "blocked" in control.last_fetch_error
    assert rows["http://türkiye.example/haber.html"].status == "processed"
    assert all("\x00" not in (row.guid or "") + row.url for row in rows.values())
    assert etags["hostile"] is None  # the non-ASCII ETag was not stored
    assert feed_rows["hostile"]["quarantined_articles"] == 1 and feed_rows["healthy"]["quarantined_articles"] == 0
    health = feed_health(pipeline._feed_state(feed_rows["hostile"]), now=NOW, policy=settings.polling)
    assert health.quarantined_articles == 1 and "1 article(s) quarantined" in health.reason
    assert any(line.startswith("QUARANTINED 1 article(s) of hostile") for line in problems)


def test_pages_a_crawl_delay_holds_back_wait_for_the_next_run_without_an_attempt(
    tmp_path: Path, site: LocalSite
) -> None:
    site.add("/robots.txt", "User-agent: *\nCrawl-delay: 5\n", content_type="text/plain")
    with LocalSite() as other:
        items = []
        for n in range(3):
            site.add(f"/slow-{n}.html", GOOD_PAGE.replace("<title>", f"<title>Slow {n} ", 1), content_type="text/html")
            items.append((site.url(f"/slow-{n}.html"), f"slow{n}"))
        for n in range(2):
            other.add(f"/fast-{n}.html", GOOD_PAGE.replace("<title>", f"<title>Fast {n} ", 1), content_type="text/html")
            items.append((f"http://localhost:{other.port}/fast-{n}.html", f"fast{n}"))
        site.add("/feed.xml", _rss(items), content_type="application/rss+xml")
        config = write_config(
            tmp_path / "run", site_url=site.base_url, smtp_port=1, feeds=[_feed("f", site.url("/feed.xml"))]
        )
        settings = load_settings(config, environ={})
        settings.pipeline.processes = 1
        settings.http.max_host_wait_s = 1.0
        assert (
            pipeline.poll_feeds(settings, pipeline.plan_feed_batches(settings, now=NOW)[0], now=NOW).new_articles == 5
        )
        ids = pipeline.plan_article_batches(settings, now=NOW)[0]
        first = pipeline.process_articles(settings, ids, now=NOW)  # timing: test_fetch.py's crawl-delay test
        assert (first.articles, first.deferred, first.failed) == (3, 2, 0)
        store = StateStore.open(settings.state.url)
        try:
            with store.engine.connect() as conn:
                waiting = conn.execute(
                    sa.select(articles.c.status, articles.c.fetch_attempts, articles.c.lease_owner).where(
                        articles.c.status == "discovered"
                    )
                ).all()
        finally:
            store.close()
        assert waiting == [("discovered", 0, None)] * 2  # not lost, no attempt spent, not leased
        second = pipeline.process_articles(settings, pipeline.plan_article_batches(settings, now=NOW)[0], now=NOW)
        assert (second.articles, second.deferred) == (1, 1)  # one more per run while the delay holds
