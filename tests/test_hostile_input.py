"""Input written by strangers: hostile feeds, pages, redirects and configuration.

Every test asserts what happens, not only that nothing raised: the feed or page is refused
or degraded with a recorded reason, within a time bound, and the rest of the run goes on.
Servers are real (``LocalSite`` on loopback); the "internal" service that SSRF attempts aim
at listens on 127.0.0.2, outside the allow-list, and must never see a request.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from extractors import extract_article
from seedwatch.demo import write_config
from seedwatch.errors import ConfigError
from seedwatch.feeds import MAX_ENTRIES, parse_feed
from seedwatch.fetch import Fetcher, HttpPolicy
from seedwatch.localsite import LocalSite, Request, Response
from seedwatch.mailsink import MailSink
from seedwatch.models import FetchStatus, PollStatus
from seedwatch.pipeline import run_once
from seedwatch.polling import FeedState, poll_feed
from seedwatch.settings import load_settings
from seedwatch.store import StateStore
from seedwatch.store.schema import articles

NOW = datetime(2025, 9, 10, 12, 0, tzinfo=UTC)
FEEDS = Path(__file__).parent / "fixtures" / "feeds"
DEMO_ARTICLES = Path(__file__).resolve().parents[1] / "demo" / "site" / "articles"
LOOPBACK = ["127.0.0.1/32"]


def parse(body: bytes, **kwargs: object):  # noqa: ANN201
    return parse_feed(body, feed_id="f", base_url="https://example.org/feed", now=NOW, **kwargs)  # type: ignore[arg-type]


def rss(items: str, prolog: str = '<?xml version="1.0" encoding="utf-8"?>', doctype: str = "") -> str:
    return f'{prolog}{doctype}<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'


def item(title: str, n: int = 1, extra: str = "") -> str:
    return f"<item><title>{title}</title><link>https://example.org/{n}</link>{extra}</item>"


def all_text(parsed) -> str:  # noqa: ANN001
    return " ".join(f"{e.title} {e.summary} {e.url}" for e in parsed.entries) + (parsed.title or "")


# -- feeds: entity expansion and external entities ----------------------------------

LAUGHS = (
    '<!DOCTYPE rss [<!ENTITY a "ha">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + "]>"
)  # &j; expands to 2·10⁹ characters


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le"])
def test_billion_laughs_is_refused_quickly(encoding: str) -> None:
    body = rss(item("&j;"), prolog=f'<?xml version="1.0" encoding="{encoding}"?>', doctype=LAUGHS).encode(encoding)
    started = time.monotonic()
    parsed = parse(body)
    assert time.monotonic() - started < 2
    assert parsed.entries == [] and parsed.error
    if encoding != "utf-16-le":  # without a BOM, UTF-16 is not even recognised as XML
        assert "entities" in parsed.error


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>',
        '<!DOCTYPE rss [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>',
        '<!DOCTYPE rss [<!entity x SYSTEM "file://{secret}">]>',
        '<!DOCTYPE rss SYSTEM "file://{secret}">',  # an external DTD, no ENTITY keyword
        '<!DOCTYPE rss PUBLIC "-//X//EN" "file://{secret}">',
    ],
)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_external_entities_never_read_local_files(tmp_path: Path, doctype: str, encoding: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a", encoding="utf-8")
    dtd = doctype.format(secret=secret)
    body = rss(item("&x;") + item("plain", 2), prolog=f'<?xml version="1.0" encoding="{encoding}"?>', doctype=dtd)
    parsed = parse(body.encode(encoding))
    assert "TOP-SECRET" not in all_text(parsed)
    if "ENTITY" in dtd.upper():
        assert "entities" in (parsed.error or "")  # refused outright, with the reason recorded


# -- feeds: broken, wrong, enormous ------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["react-native-rss-parser_reuters.xml", "miniflux_internal_reader_parser_testdata_small_atom.xml"]
)
def test_truncated_feeds_give_what_arrived_or_an_error(name: str) -> None:
    full = (FEEDS / name).read_bytes()
    complete = parse(full)
    for cut in range(0, len(full), max(1, len(full) // 25)):
        parsed = parse(full[:cut])
        assert len(parsed.entries) <= len(complete.entries)
        assert all(e.url is None or e.url.startswith(("http://", "https://")) for e in parsed.entries)
    assert len(parse(full[: len(full) * 9 // 10]).entries) >= len(complete.entries) // 2  # what arrived is kept


def test_inputs_that_crashed_feedparser_are_reported_or_repaired() -> None:
    """Found by bench/fuzz.py: feedparser's loose parser raises on these."""
    stray_end_tag = rss("<image></width></image>" + item("x"))  # TypeError in _end_width
    parsed = parse(stray_end_tag.encode())
    assert parsed.entries == [] and (parsed.error or "").startswith("feed parser failed: TypeError")
    for reference in ("&#xD800;", "&#xdfff;", "&#55296;", "&#57343;"):  # UnicodeEncodeError on surrogates
        parsed = parse((rss(item(f"a {reference} b")) + "<").encode())  # "<": not well-formed, the loose parser
        assert [entry.title for entry in parsed.entries] == ["a \ufffd b"]


def test_html_served_as_a_feed_is_reported_not_parsed() -> None:
    page = (DEMO_ARTICLES / "sirte-63a4e6e0fc.html").read_bytes()
    parsed = parse(page, content_type="text/html; charset=utf-8")
    assert parsed.entries == []
    assert parsed.error and parsed.error.startswith("not an RSS/Atom/RDF feed")


@pytest.mark.parametrize("entries", [100_000, 1_000_000])
def test_an_enormous_feed_is_capped_and_fast(entries: int) -> None:
    body = rss("<item><title>t</title><link>https://example.org/x</link></item>" * entries).encode()
    started = time.monotonic()
    parsed = parse(body)
    elapsed = time.monotonic() - started
    assert len(parsed.entries) == MAX_ENTRIES
    assert elapsed < 10, f"{entries} entries took {elapsed:.1f} s"


def test_a_feed_over_the_size_limit_is_refused_while_streaming() -> None:
    chunk = ("<item><title>t</title><link>https://example.org/x</link></item>" * 1000).encode()

    def endless(request: Request) -> Response:
        head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        return Response(body=iter([head, *([chunk] * 200)]), content_type="application/rss+xml")

    with LocalSite() as site:
        site.add_handler("/feed.xml", endless)

        async def poll():  # noqa: ANN202
            async with Fetcher(HttpPolicy(allow_networks=LOOPBACK, max_body_bytes=2_000_000)) as fetcher:
                return await poll_feed(fetcher, feed_id="f", url=site.url("/feed.xml"), state=FeedState(), now=NOW)

        result = asyncio.run(poll())
    assert result.status is not PollStatus.OK and result.entries == []
    assert "2000000" in (result.error or "")


def test_control_characters_never_reach_titles_or_summaries() -> None:
    controls = "".join(chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127, *range(128, 160)))
    escaped = "".join(f"&#{ord(c)};" for c in controls if ord(c) >= 32 or c in "\t")
    body = rss(item(f"Haftar{controls}\x1b[31m visits", 1, f"<description>Ankara{escaped}talks</description>")).encode(
        "utf-8"
    )
    parsed = parse(body)
    for entry in parsed.entries:
        for text in (entry.title, entry.summary):
            assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text), repr(text)
    if parsed.entries:
        assert parsed.entries[0].title.startswith("Haftar")


LENIENT = {"2024-02-30T10:00:00Z", "Tue, 09 Sep 2025 08:00:00 +2500"}  # 1 March; an offset of 25 hours


@pytest.mark.parametrize(
    "raw",
    [
        "yesterday",
        "Mon, 99 Foo 2024 99:99:99 +9999",
        "2024-02-30T10:00:00Z",
        "0000-00-00 00:00:00",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "2099-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "Tue, 09 Sep 2025 08:00:00 +2500",
        "\x00",
        "2" * 5000,
        "Mon, 01 Jan 99999999999999999999 00:00:00 GMT",  # OverflowError in email.utils (found by fuzzing)
    ],
)
def test_invalid_dates_become_no_date_and_keep_the_entry(raw: str) -> None:
    body = rss(item("kept", 1, f"<pubDate>{raw}</pubDate><updated>{raw}</updated>")).encode()
    parsed = parse(body)
    assert [e.title for e in parsed.entries] == ["kept"]
    when = parsed.entries[0].published_at
    if raw in LENIENT:  # feedparser reads these its own way: still UTC, still not in the future
        assert when is not None and when.tzinfo is UTC and when <= NOW
    else:
        assert when is None


# -- pages -------------------------------------------------------------------------


def test_deeply_nested_and_binary_pages_extract_to_nothing_quickly() -> None:
    deep = "<html><body>" + "<div>" * 100_000 + "<p>deep text</p>" + "</div>" * 100_000 + "</body></html>"
    unclosed = "<html><body>" + "<div><span><b>" * 50_000 + "</body></html>"
    for page in (deep, unclosed, os.urandom(3_000_000), b"\x00" * 1_000_000, "\ufffd" * 100_000):
        started = time.monotonic()
        result = extract_article(page, "https://example.org/a", now=NOW)
        assert time.monotonic() - started < 15
        assert result.word_count < 25 and result.method in ("none", "trafilatura")


def test_control_characters_in_json_ld_never_reach_the_article() -> None:
    """NUL from JSON-LD's "\\u0000" would make PostgreSQL refuse the whole batch."""
    body = " ".join(f"word{i}" for i in range(300))
    ld = (
        '{"@type": "NewsArticle", "headline": "Head\\u0000line\\u001b", "articleSection": "Wo\\u0000rld",'
        f' "author": {{"name": "A\\u0000B"}}, "articleBody": "{body} \\u0000 end"}}'
    )
    html = f'<html><head><script type="application/ld+json">{ld}</script></head><body><p>short</p></body></html>'
    result = extract_article(html, "https://example.org/a", now=NOW)
    assert result.method == "json-ld" and result.word_count > 250
    for text in (result.title or "", result.text, result.section or "", *result.authors):
        assert not any(ord(c) < 32 and c not in "\t\n\r" for c in text), repr(text)


def test_a_hostile_retry_after_header_is_ignored() -> None:
    with LocalSite() as site:
        site.add("/busy", "busy", status=503, headers={"Retry-After": "Mon, 01 Jan 99999999999999999999 00:00:00 GMT"})

        async def fetch():  # noqa: ANN202
            async with Fetcher(HttpPolicy(allow_networks=LOOPBACK, respect_robots=False)) as fetcher:
                return await fetcher.fetch_page(site.url("/busy"))

        page = asyncio.run(fetch())
    assert page.status is FetchStatus.HTTP_ERROR and page.http_status == 503 and page.retry_after_s is None


def test_scripts_are_not_article_text() -> None:
    page = (DEMO_ARTICLES / "sirte-63a4e6e0fc.html").read_text(encoding="utf-8")
    script = "<script>document.write('INJECTED ' + 'PAYLOAD'); var x = 'SCRIPTTEXT';</script>"
    hostile = page.replace("<p>", f"<p>{script}", 3).replace(
        "</body>", f"{script}<noscript>NOSCRIPTTEXT</noscript></body>"
    )
    result = extract_article(hostile, "https://example.org/a", now=NOW)
    assert result.word_count > 100
    assert "SCRIPTTEXT" not in result.text and "PAYLOAD" not in result.text and "NOSCRIPTTEXT" not in result.text


def _bomb(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    zeros = b"\0" * (1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(size >> 20)) + packer.flush()


@pytest.fixture
def hostile_site() -> Iterator[tuple[LocalSite, dict[str, str]]]:
    """One feed, ten article pages, each hostile in its own way (one is a normal page)."""
    good = (DEMO_ARTICLES / "sirte-63a4e6e0fc.html").read_text(encoding="utf-8")
    bomb = _bomb(256 << 20)
    huge = b"<html><body>" + b"<p>filler words here</p>" * 300_000  # 7 MB
    pages = {
        "/deep.html": ("<html><body>" + "<div>" * 100_000 + "</body></html>", "text/html", {}),
        "/huge.html": (huge, "text/html", {}),
        "/bomb.html": (bomb, "text/html", {"Content-Encoding": "gzip"}),
        "/binary.html": (os.urandom(500_000), "text/html", {}),
        "/image.html": (b"\x89PNG\r\n\x1a\n" + os.urandom(5000), "image/png", {}),
        "/json.html": (b'{"title": "not a page"}' * 200, "application/json", {}),
        "/script.html": (good.replace("<p>", "<p><script>var SCRIPTTEXT = 1;</script>", 2), "text/html", {}),
        "/metadata.html": (b"", "text/html", {"Location": "http://169.254.169.254/latest/meta-data/"}),
        "/bad-redirect.html": (b"", "text/html", {"Location": "http://["}),
        "/good.html": (good, "text/html", {}),
    }
    expected = {
        "/deep.html": "feed-summary",
        "/huge.html": "feed-summary",
        "/bomb.html": "feed-summary",
        "/binary.html": "feed-summary",
        "/image.html": "feed-summary",
        "/json.html": "feed-summary",
        "/script.html": "page",
        "/metadata.html": "feed-summary",
        "/bad-redirect.html": "feed-summary",
        "/good.html": "page",
    }
    with LocalSite() as site:
        for path, (body, kind, headers) in pages.items():
            status = 302 if "Location" in headers else 200
            site.add(path, body, status=status, content_type=kind, headers=headers)
        summary = "Libyan and Turkish officials met in Ankara to discuss energy exploration and maritime borders."
        items = "".join(
            f"<item><title>Hostile {path}</title><link>{site.url(path)}</link><guid>{path}</guid>"
            f"<description>{summary}</description></item>"
            for path in pages
        )
        site.add("/feed.xml", rss(items), content_type="application/rss+xml")
        site.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
        yield site, expected


def test_a_run_over_hostile_pages_keeps_every_article_and_records_why(
    tmp_path: Path, hostile_site: tuple[LocalSite, dict[str, str]], mail_sink: MailSink
) -> None:
    site, expected = hostile_site
    feed = {
        "name": "Hostile",
        "url": site.url("/feed.xml"),
        "outlet": "hostile.example",
        "language": "en",
        "country": "US",
    }
    config = write_config(tmp_path / "run", site_url=site.base_url, smtp_port=mail_sink.port, feeds=[feed])
    settings = load_settings(config, environ={})
    started = time.monotonic()
    report = run_once(settings, now=NOW)
    assert time.monotonic() - started < 120
    assert report.poll.new_articles == len(expected)
    assert report.process.articles == len(expected)
    assert report.index.indexed == len(expected) and report.index.backlog == 0

    store = StateStore.open(settings.state.url)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    articles.c.url,
                    articles.c.status,
                    articles.c.body_source,
                    articles.c.last_fetch_error,
                    articles.c.text,
                )
            ).all()
    finally:
        store.close()
    by_path = {url.removeprefix(site.base_url): row for url, *row in rows}
    assert set(by_path) == set(expected)
    for path, (status, body_source, error, text) in by_path.items():
        assert status == "processed", path
        assert body_source == expected[path], (path, body_source, error)
        assert text, path  # never empty: the page, or the feed's summary
        assert "SCRIPTTEXT" not in text
    assert "too_large" in by_path["/huge.html"][2] and "too_large" in by_path["/bomb.html"][2]
    assert "bad_content_type" in by_path["/image.html"][2] and "bad_content_type" in by_path["/json.html"][2]
    assert "blocked" in by_path["/metadata.html"][2] and "169.254" in by_path["/metadata.html"][2]
    assert "malformed redirect" in by_path["/bad-redirect.html"][2]


# -- alert emails -------------------------------------------------------------------------


def test_a_hostile_title_cannot_inject_headers_or_html_into_the_alert(tmp_path: Path, mail_sink: MailSink) -> None:
    """A relevant article whose title carries CR/LF + a Bcc header, a script and an img onerror."""
    page = (DEMO_ARTICLES / "sirte-63a4e6e0fc.html").read_text(encoding="utf-8")
    title = (
        "Sisi threatens deployment of Egyptian forces in Libya if Sirte “red line” crossed; GNA says this is a "
        "declaration of war and Turkey indicates it will not turn back"
    )
    injected = (
        "Sirte\r\nBcc: attacker@evil.example\r\nX-Evil: 1\r\n<script>alert(1)</script><img src=x onerror=alert(2)>"
    )
    hostile = re.sub(r'<script type="application/ld\+json">.*?</script>', "", page, flags=re.S)
    hostile = hostile.replace(title, html.escape(injected) + " Turkey GNA Libya")
    assert hostile.count("Bcc: attacker") >= 2  # <title> and <h1> carry it
    with LocalSite() as site:
        site.add("/story.html", hostile)
        site.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
        entry = (
            f"<item><title>{html.escape(injected)}</title><link>{site.url('/story.html')}</link>"
            "<pubDate>Tue, 09 Sep 2025 08:00:00 +0000</pubDate></item>"
        )
        site.add("/feed.xml", rss(entry), content_type="application/rss+xml")
        feed = {"name": "X", "url": site.url("/feed.xml"), "outlet": "x.example", "language": "en", "country": "US"}
        config = write_config(tmp_path / "run", site_url=site.base_url, smtp_port=mail_sink.port, feeds=[feed])
        report = run_once(load_settings(config, environ={}), now=NOW)
    assert report.alerts.emails_sent == 1 and len(mail_sink.received) == 1
    mail = mail_sink.received[0]
    assert mail.envelope_to == ["analyst@example.org"]  # the rule's recipient, nobody else
    message = mail.message
    assert message["bcc"] is None and message["x-evil"] is None
    assert "attacker@evil.example" in str(message["subject"])  # the title is there, as text ...
    assert "\r" not in str(message["subject"]) and "\n" not in str(message["subject"])  # ... on one line
    html_parts = [part.get_content() for part in message.walk() if part.get_content_type() == "text/html"]
    assert html_parts, "the alert has an HTML part"
    for body in html_parts:
        assert "<script>alert" not in body and "<img src=x" not in body
        assert "&lt;script&gt;alert(1)" in body  # escaped, shown as text


# -- secrets ----------------------------------------------------------------------------

SECRET_RUN = """
import sys
from datetime import datetime
from pathlib import Path
from seedwatch.pipeline import run_once
from seedwatch.settings import load_settings
settings = load_settings(Path(sys.argv[1]))
print(repr(settings), settings.model_dump_json(), str(settings.smtp), flush=True)
report = run_once(settings, now=datetime.fromisoformat(sys.argv[2]))
print(report, flush=True)
"""


def test_the_smtp_password_never_reaches_logs_reports_or_the_store(
    tmp_path: Path, news_site: LocalSite, mail_sink: MailSink
) -> None:
    secret = "pw-5c1e7a-never-print-me"
    config = write_config(tmp_path / "run", site_url=news_site.base_url, smtp_port=mail_sink.port)
    settings_file = config / "seedwatch.yaml"
    data = yaml.safe_load(settings_file.read_text(encoding="utf-8"))
    data["smtp"]["username"] = "seedwatch"  # the sink offers no AUTH: login fails, the alert is deferred
    settings_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    env = {**os.environ, "SEEDWATCH_SMTP_PASSWORD": secret, "SEEDWATCH_CONFIG_DIR": str(config)}
    child = subprocess.run(
        [sys.executable, "-c", SECRET_RUN, str(config), NOW.isoformat()],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    output = child.stdout + child.stderr
    assert child.returncode == 0, output[-3000:]
    assert b"**********" in output  # the settings were printed, masked
    assert b"alerts.deferred" in output  # the login was tried and failed
    assert secret.encode() not in output
    for path in (tmp_path / "run").rglob("*"):  # state store, index, WAL files, saved mail
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


# -- SSRF: every hop -------------------------------------------------------------------

INTERNAL_TARGETS = [
    "http://127.0.0.2:{port}/admin",  # the internal service itself
    "http://2130706434:{port}/admin",  # 127.0.0.2 as one decimal number
    "http://0x7f000002:{port}/admin",  # ... in hex
    "http://[::ffff:127.0.0.2]:{port}/admin",  # IPv4-mapped IPv6
    "http://[::1]:{port}/admin",
    "http://0.0.0.0:{port}/admin",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",  # Alibaba's metadata address
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://[fc00::1]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 form of 169.254.169.254
    "http://[2002:a9fe:a9fe::]/",  # 6to4 form of 169.254.169.254
]


@pytest.fixture
def internal() -> Iterator[LocalSite]:
    """A service that must stay unreachable: on 127.0.0.2, outside the allow-list."""
    site = LocalSite(host="127.0.0.2")
    try:
        site.start()
    except OSError as exc:  # Linux answers on all of 127/8; macOS only on 127.0.0.1 unless aliased
        pytest.skip(f"cannot listen on 127.0.0.2 ({exc})")
    with site:
        site.add("/admin", "root password: hunter2", content_type="text/plain")
        yield site


@pytest.mark.parametrize("hops", [1, 3])
@pytest.mark.parametrize("target", INTERNAL_TARGETS)
def test_redirects_to_internal_addresses_are_refused_at_every_hop(internal: LocalSite, target: str, hops: int) -> None:
    goal = target.format(port=internal.port)
    with LocalSite() as public:
        for hop in range(hops):
            location = public.url(f"/hop{hop + 1}") if hop + 1 < hops else goal
            public.add(f"/hop{hop}", b"", status=302, headers={"Location": location})

        async def fetch():  # noqa: ANN202
            async with Fetcher(HttpPolicy(allow_networks=LOOPBACK, respect_robots=False)) as fetcher:
                return await fetcher.fetch_page(public.url("/hop0")), await fetcher.get(
                    public.url("/hop0"), accept="feed"
                )

        page, feed = asyncio.run(fetch())
        served = len(public.requests)
    for result in (page, feed):
        assert result.status is FetchStatus.BLOCKED, (goal, result)
    assert page.html is None and feed.body == b""
    assert served == 2 * hops  # every public hop was followed ...
    assert internal.requests == []  # ... and the internal service never saw a request


def test_a_feed_redirecting_inside_is_a_hard_failure_with_the_reason(internal: LocalSite) -> None:
    with LocalSite() as public:
        public.add("/feed.xml", b"", status=301, headers={"Location": internal.url("/admin")})

        async def poll():  # noqa: ANN202
            async with Fetcher(HttpPolicy(allow_networks=LOOPBACK)) as fetcher:
                return await poll_feed(fetcher, feed_id="f", url=public.url("/feed.xml"), state=FeedState(), now=NOW)

        result = asyncio.run(poll())
    assert result.status is PollStatus.HARD
    assert "127.0.0.2" in (result.error or "") and internal.requests == []


def test_without_an_allow_list_even_the_first_hop_to_loopback_is_refused(internal: LocalSite) -> None:
    async def fetch():  # noqa: ANN202
        async with Fetcher(HttpPolicy(respect_robots=False)) as fetcher:
            return await fetcher.fetch_page(internal.url("/admin"))

    assert asyncio.run(fetch()).status is FetchStatus.BLOCKED
    assert internal.requests == []


# -- configuration -----------------------------------------------------------------------

BAD_SETTINGS = [
    ({"http": {"allow_networks": ["not-a-cidr"]}}, "http.allow_networks"),
    ({"http": {"global_concurrency": 0}}, "http.global_concurrency"),
    ({"http": {"per_host_concurrency": -1}}, "http.per_host_concurrency"),
    ({"http": {"total_timeout_s": 0}}, "http.total_timeout_s"),
    ({"http": {"max_body_bytes": "lots"}}, "http.max_body_bytes"),
    ({"http": {"user_agent": "bot\r\nX-Injected: 1"}}, "http.user_agent"),
    ({"http": {"respect_robots": "sometimes"}}, "http.respect_robots"),
    ({"polling": {"min_interval_s": 0}}, "polling.min_interval_s"),
    ({"polling": {"failing_after": 0}}, "polling.failing_after"),
    ({"smtp": {"port": 70000}}, "smtp.port"),
    ({"pipeline": {"lease_s": 5}}, "pipeline.lease_s"),
    ({"pipeline": {"timezone": "Mars/Olympus"}}, "pipeline.timezone"),
    ({"pipeline": {"feed_batch_size": 0}}, "pipeline.feed_batch_size"),
    ({"state": {"url": "mysql://db/seedwatch"}}, "state.url"),
    ({"index": {"backend": "solr"}}, "index.backend"),
    ({"kibana_base_url": "javascript:alert(1)"}, "kibana_base_url"),
    ({"htpp": {"max_redirects": 3}}, "htpp"),
]


@pytest.mark.parametrize(("values", "key"), BAD_SETTINGS, ids=[key for _, key in BAD_SETTINGS])
def test_every_invalid_setting_is_an_error_naming_its_key(tmp_path: Path, values: dict, key: str) -> None:
    (tmp_path / "seedwatch.yaml").write_text(yaml.safe_dump(values), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, environ={})
    message = str(caught.value)
    assert f"{key}:" in message and "seedwatch.yaml" in message and "Fix:" in message


BAD_FEEDS = [
    ({"url": "ftp://example.org/feed"}, "feeds.0.url"),
    ({"url": "javascript:alert(1)"}, "feeds.0.url"),
    ({"language": "english"}, "feeds.0.language"),
    ({"country": "Turkey"}, "feeds.0.country"),
    ({"timezone": "Europe/Atlantis"}, "feeds.0.timezone"),
    ({"name": ""}, "feeds.0.name"),
    ({"colour": "red"}, "feeds.0.colour"),
]


@pytest.mark.parametrize(("change", "key"), BAD_FEEDS, ids=[f"{key}={v}" for (c, key) in BAD_FEEDS for v in c.values()])
def test_every_invalid_feed_entry_is_an_error_naming_its_key(tmp_path: Path, change: dict, key: str) -> None:
    feed = {"name": "A", "url": "https://example.org/feed", "outlet": "a", "language": "en", "country": "GB", **change}
    (tmp_path / "feeds.yaml").write_text(yaml.safe_dump({"feeds": [feed]}), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, environ={})
    assert f"{key}:" in str(caught.value) and "feeds.yaml" in str(caught.value)


def test_an_invalid_value_from_the_environment_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, environ={"SEEDWATCH__HTTP__TOTAL_TIMEOUT_S": "soon"})
    assert "http.total_timeout_s" in str(caught.value)
