"""Isolation as a property: generated URLs, headers, charsets, redirects and feed fields.

Everything goes through the real ``Fetcher``, ``poll_feed`` and ``poll_feeds`` against a
loopback server, and the store on SQLite and PostgreSQL (when one answers). The properties:
nothing raises, every outcome is a status, validators kept for the next request can be sent,
the store takes every feed's fields (no NUL reaches it) and no lease is left behind.

Hypothesis runs derandomized with a small ``max_examples`` (CI sees the same examples every
time, in seconds); ``SEEDWATCH_PROPERTY_EXAMPLES=500`` hunts longer, and
``SEEDWATCH_PROPERTY_RANDOM=1`` draws new examples on each run.
"""

from __future__ import annotations

import asyncio
import encodings.aliases
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seedwatch import pipeline
from seedwatch.demo import write_config
from seedwatch.fetch import Fetcher, HttpPolicy
from seedwatch.localsite import LocalSite, Request, Response
from seedwatch.models import FetchStatus, PollStatus
from seedwatch.polling import FeedState, poll_feed
from seedwatch.settings import load_settings
from seedwatch.store import StateStore
from seedwatch.store.schema import articles, feeds

NOW = datetime(2025, 9, 10, 12, 0, tzinfo=UTC)
EXAMPLES = int(os.environ.get("SEEDWATCH_PROPERTY_EXAMPLES", "15"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    derandomize=not os.environ.get("SEEDWATCH_PROPERTY_RANDOM"),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
POLICY = HttpPolicy(allow_networks=["127.0.0.1/32"], total_timeout_s=3, read_timeout_s=2, max_body_bytes=500_000)
PAGE = "<html><head>{meta}<title>Haber</title></head><body><p>Trablus ve Ankara görüştü.</p></body></html>"


class Scripted:
    """What the loopback server answers next: status, headers (any bytes), body."""

    def __init__(self) -> None:
        self.status, self.headers, self.body = 200, {}, b""

    def __call__(self, _request: Request) -> Response:
        return Response(status=self.status, headers=self.headers, body=self.body, content_type=None)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[LocalSite, Scripted]]:
    scripted = Scripted()
    with LocalSite() as site:
        for path in ("/", "/p", "/c"):
            site.add_handler(path, scripted)
        yield site, scripted


def _wire(text: str) -> str:
    """A header value as its UTF-8 bytes on the wire (http.server writes headers as Latin-1)."""
    return text.encode("utf-8").decode("latin-1")


def _run(coro):  # noqa: ANN001, ANN202
    return asyncio.run(coro)


async def _page_and_poll(url: str, state: FeedState) -> tuple:
    async with Fetcher(POLICY) as fetcher:
        return await fetcher.fetch_page(url), await poll_feed(fetcher, feed_id="p", url=url, state=state, now=NOW)


def _check(page, polled) -> None:  # noqa: ANN001
    assert page.status in FetchStatus and polled.status in PollStatus
    assert page.html is None or isinstance(page.html, str)
    for validator in (polled.etag, polled.last_modified):
        assert validator is None or (validator.isascii() and validator.isprintable()), validator


HOSTS = st.sampled_from(
    [
        "{site}",
        "localhost:{port}",
        "ｌｏｃａｌｈｏｓｔ:{port}",
        "türkiye.example",
        "[::1",
        "a..b",
        "\u200b.com",
        "xn--",
        "",
    ]
)


@PROPERTY
@given(host=HOSTS, path=st.text(max_size=40), scheme=st.sampled_from(["http", "https", "HTTP", "ftp", ""]))
def test_any_url_is_a_result(server: tuple[LocalSite, Scripted], host: str, path: str, scheme: str) -> None:
    site, scripted = server
    scripted.status, scripted.headers, scripted.body = 200, {"Content-Type": "text/html"}, PAGE.format(meta="").encode()
    host = host.format(site=site.base_url.removeprefix("http://"), port=site.port)
    _check(*_run(_page_and_poll(f"{scheme}://{host}/{path}", FeedState())))


HEADER_TEXT = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=30)


@PROPERTY
@given(
    status=st.sampled_from([200, 301, 302, 304, 307, 404, 429, 500]),
    etag=HEADER_TEXT,
    last_modified=HEADER_TEXT,
    content_type=HEADER_TEXT,
    encoding=st.sampled_from(["", "gzip", "deflate", "br", "gzip, gzip", "identity"]),
    location=HEADER_TEXT,
    retry_after=HEADER_TEXT,
    stored_etag=st.one_of(st.none(), HEADER_TEXT),
)
def test_any_headers_and_redirects_are_a_result(
    server: tuple[LocalSite, Scripted],
    status: int,
    etag: str,
    last_modified: str,
    content_type: str,
    encoding: str,
    location: str,
    retry_after: str,
    stored_etag: str | None,
) -> None:
    site, scripted = server
    scripted.status, scripted.body = status, PAGE.format(meta="").encode()
    scripted.headers = {
        name: _wire(value)
        for name, value in {
            "ETag": etag,
            "Last-Modified": last_modified,
            "Content-Type": content_type,
            "Content-Encoding": encoding,
            "Location": location,
            "Retry-After": retry_after,
        }.items()
        if value
    }
    _check(*_run(_page_and_poll(site.url("/p"), FeedState(etag=stored_etag, last_modified=stored_etag))))


CHARSETS = st.one_of(st.sampled_from(sorted(set(encodings.aliases.aliases))), st.text(max_size=20))


@PROPERTY
@given(charset=CHARSETS, in_header=st.booleans(), body=st.binary(max_size=200))
def test_any_charset_declaration_decodes(
    server: tuple[LocalSite, Scripted], charset: str, in_header: bool, body: bytes
) -> None:
    site, scripted = server
    meta = f'<meta charset="{escape(charset)}">'
    scripted.status, scripted.body = 200, PAGE.format(meta="" if in_header else meta).encode() + body
    scripted.headers = {"Content-Type": _wire(f"text/html; charset={charset}") if in_header else "text/html"}
    scripted.headers = {k: v for k, v in scripted.headers.items() if "\r" not in v and "\n" not in v}
    page, polled = _run(_page_and_poll(site.url("/c"), FeedState()))
    _check(page, polled)
    if in_header and any(ord(char) < 32 and char != "\t" or ord(char) == 127 for char in charset):
        assert page.status in (FetchStatus.OK, FetchStatus.NETWORK)  # h11 refuses such a header line
    else:
        assert page.status is FetchStatus.OK and "Trablus" in (page.html or "")


FIELD = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def _xml_text(value: str) -> str:
    """Text as it can appear in XML: controls as character references (what hostile feeds send)."""
    return "".join(f"&#{ord(char)};" if ord(char) < 32 else escape(char) for char in value)


@pytest.fixture(params=["sqlite", "postgresql"])
def feed_run(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LocalSite, Scripted, object]]:
    """One feed on a loopback server, its settings on a SQLite or PostgreSQL store."""
    state_url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    scripted = Scripted()
    with LocalSite() as site:
        site.add_handler("/feed.xml", scripted)
        feed = {"name": "f", "url": site.url("/feed.xml"), "outlet": "f.example", "language": "en", "country": "US"}
        config = write_config(tmp_path / "run", site_url=site.base_url, smtp_port=1, feeds=[feed], state_url=state_url)
        yield site, scripted, load_settings(config, environ={})


@PROPERTY
@given(
    items=st.lists(
        st.tuples(FIELD, FIELD, FIELD, st.sampled_from(["", "/a", "http://[", "http://türkiye.example/x", "ｌ/b"])),
        min_size=1,
        max_size=4,
    ),
    etag=HEADER_TEXT,
)
def test_any_feed_fields_are_stored_and_the_feed_released(
    feed_run: tuple[LocalSite, Scripted, object], items: list[tuple[str, str, str, str]], etag: str
) -> None:
    site, scripted, settings_ = feed_run
    body = "".join(
        f"<item><title>{_xml_text(title)}</title><link>{_xml_text(prefix + link)}</link>"
        f"<guid>{_xml_text(guid)}</guid><description>{_xml_text(title)}</description></item>"
        for title, link, guid, prefix in items
    )
    scripted.status, scripted.headers = 200, {"Content-Type": "application/rss+xml", "ETag": _wire(etag)}
    scripted.body = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'.encode()
    feed_ids = [feed.feed_id for feed in settings_.enabled_feeds()]  # type: ignore[attr-defined]
    pipeline.plan_feed_batches(settings_, now=NOW)  # type: ignore[arg-type]
    summary = pipeline.poll_feeds(settings_, feed_ids, now=NOW, force=True)  # type: ignore[arg-type]
    assert summary.feeds_polled == 1
    assert not any("internal error" in error for error in summary.errors), summary.errors
    store = StateStore.open(settings_.state.url)  # type: ignore[attr-defined]
    try:
        with store.engine.connect() as conn:
            leased = conn.execute(sa.select(sa.func.count()).where(feeds.c.lease_owner.is_not(None))).scalar()
            stored = conn.execute(sa.select(articles.c.url, articles.c.guid, articles.c.title)).all()
    finally:
        store.close()
    assert leased == 0
    assert all("\x00" not in (value or "") for row in stored for value in row)
