"""Feed parsing on real fixtures: encodings, formats, and each awkward-entry rule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from seedwatch.feeds import parse_feed, parse_feed_date, plain_text

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def parse(name: str, **kwargs: object):  # noqa: ANN201
    body = (FIXTURES / name).read_bytes()
    return parse_feed(body, feed_id="f1", base_url="https://example.org/feed", now=NOW, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "feed_title", "first_title", "summary_snippet"),
    [
        ("miniflux_internal_reader_parser_testdata_encoding_WINDOWS-1251.xml", "iBash.Org.Ru",
         "Цитата #17703", "есть у кого жаба программер"),
        ("miniflux_internal_reader_encoding_testdata_koi8r.xml", "Пример RSS ленты",
         "Первая новость", "Привет мир! Ёжик"),
        ("miniflux_internal_reader_parser_testdata_encoding_ISO-8859-1.xml", "Golem.de",
         "Red Dead Redemption 2: Hinweise auf PC-Umsetzung", "Viele Spieler wünschen sich"),
        ("miniflux_internal_reader_parser_testdata_no_encoding_ISO-8859-1.xml",
         "Flux RSS du magazine de psychologie Le Cercle Psy", "Perturbateurs endocriniens",
         "nombre d'études"),
        ("miniflux_internal_reader_parser_testdata_rdf_UTF8.xml", "heise online News",
         "OLED-TVs: Vorsichtsmaßnahmen gegen Einbrennen", "OLED-Fernseher"),
        ("miniflux_internal_reader_parser_testdata_small_atom.xml", "Recent Commits to v2:main",
         "Parse podcast categories", "Parse podcast categories"),
        ("miniflux_internal_reader_parser_testdata_urdu_UTF8.xml",
         "BBC News اردو - پاکستان کے لیے امریکی امداد کی بہار و خزاں", "امریکی عسکری امداد کی بندش کی وجوہات",
         "امریکہ اور پاکستان کے 70 سالہ تعلقات"),
        ("react-native-rss-parser_reuters.xml", "Reuters: World News",
         "U.S. general says North Korea not demonstrated all", "WASHINGTON (Reuters)"),
    ],
)  # fmt: skip
def test_real_feeds_decode_to_correct_unicode(
    name: str, feed_title: str, first_title: str, summary_snippet: str
) -> None:
    parsed = parse(name)
    assert parsed.error is None
    assert (parsed.title or "").startswith(feed_title)
    assert parsed.entries[0].title.startswith(first_title)
    assert summary_snippet in parsed.entries[0].summary
    assert all(entry.url and entry.url.startswith("http") for entry in parsed.entries)


def test_latin1_without_prolog_keeps_french_accents() -> None:
    text = " ".join(e.title + " " + e.summary for e in parse(
        "miniflux_internal_reader_parser_testdata_no_encoding_ISO-8859-1.xml").entries)  # fmt: skip
    assert "à" in text and "è" in text
    assert "ŕ" not in text  # what a Windows-1250 misreading would give


@pytest.mark.parametrize(
    ("name", "feed_title"),
    [
        ("miniflux_internal_reader_encoding_testdata_utf8-incorrect-prolog.xml", "테스트 피드"),
        ("miniflux_internal_reader_encoding_testdata_invalid-prolog.xml", "테스트 피드"),
        ("miniflux_internal_reader_encoding_testdata_utf8.xml", "테스트 피드"),
        ("miniflux_internal_reader_encoding_testdata_iso-8859-1.xml", "Café"),
        ("miniflux_internal_reader_encoding_testdata_windows-1252.xml", "Euro €"),
        ("miniflux_internal_reader_encoding_testdata_windows-1252-incorrect-prolog.xml", "Euro €"),
    ],
)
def test_wrong_or_invalid_prologs_still_decode(name: str, feed_title: str) -> None:
    parsed = parse(name)
    assert parsed.error is None
    assert parsed.title == feed_title


def test_latin1_bytes_declared_utf8_are_not_a_feed_but_decode() -> None:
    parsed = parse("miniflux_internal_reader_xml_testdata_iso88591_utf8_mismatch.xml")
    assert parsed.error is not None and parsed.error.startswith("not an RSS/Atom/RDF feed")


def test_naive_pm_dates_use_the_source_timezone() -> None:
    entry = parse("feed-rs_rss_2.0_nbcny.xml", timezone="America/New_York").entries[0]
    assert entry.published_at == datetime(2023, 12, 16, 19, 2, 33, tzinfo=UTC)  # 2:02 PM EST


def test_dates_are_utc_and_localised() -> None:
    assert parse_feed_date("mer, 16 nov 2022 00:38:15 +0100") == datetime(2022, 11, 15, 23, 38, 15, tzinfo=UTC)
    assert parse_feed_date("2024-03-10T17:15:00", timezone="Europe/Istanbul") == datetime(
        2024, 3, 10, 14, 15, tzinfo=UTC
    )
    assert parse_feed_date("not a date") is None


AWKWARD = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Libya &amp; Turkey</title><language>ar-LY</language>
<item><guid isPermaLink="false">g-1</guid><title>&lt;b&gt;Ankara&lt;/b&gt; &amp; Tripoli sign deal</title>
  <link>/news/1?utm_source=rss</link><description>&lt;p&gt;First &lt;i&gt;summary&lt;/i&gt;&lt;/p&gt;</description>
  <pubDate>Wed, 25 Nov 2026 09:00:00</pubDate></item>
<item><guid isPermaLink="false">g-1</guid><title>Duplicate GUID</title><link>https://example.org/news/1b</link></item>
<item><guid>https://example.org/news/2</guid><description>Only a summary, no title and no link, but a permalink GUID that is long enough to be cut somewhere sensible for a title, which is what we check here</description>
  <pubDate>Thu, 26 Nov 2026 11:30:00 +0000</pubDate></item>
<item><title>Far future</title><link>javascript:alert(1)</link><pubDate>Fri, 01 Jan 2100 00:00:00 +0000</pubDate></item>
<item><title>Epoch</title><link>https://example.org/news/4</link><pubDate>Thu, 01 Jan 1970 00:00:00 +0000</pubDate></item>
<item></item>
</channel></rss>"""


def test_awkward_entries_are_handled_deliberately() -> None:
    parsed = parse_feed(AWKWARD, feed_id="f1", base_url="https://example.org/feeds/rss.xml",
                        timezone="Africa/Tripoli", now=NOW)  # fmt: skip
    assert parsed.title == "Libya & Turkey"
    assert parsed.language == "ar"
    titles = [entry.title for entry in parsed.entries]
    assert "Duplicate GUID" not in titles  # first entry with a GUID wins
    first, second, future, epoch = parsed.entries
    assert first.title == "Ankara & Tripoli sign deal"  # HTML stripped, entity decoded
    assert first.summary == "First summary"
    assert first.url == "https://example.org/news/1?utm_source=rss"  # relative link resolved
    assert first.published_at == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # naive → Tripoli
    assert first.language == "ar"
    assert second.url == "https://example.org/news/2"  # permalink GUID used as link
    assert second.title.startswith("Only a summary, no title") and second.title.endswith("…")
    assert second.published_at == NOW  # slightly in the future: clamped to now
    assert future.url is None and future.published_at is None  # far future: dropped
    assert epoch.published_at is None


@pytest.mark.parametrize(
    "body",
    [
        b"<!doctype html><html><head><title>Libya Observer</title></head><body><p>Hi</p></body></html>",
        b'{"version": "https://jsonfeed.org/version/1", "items": []}',
        b"\x00\x01\x02 binary junk",
        b"   ",
    ],
)
def test_html_json_and_junk_are_not_feeds(body: bytes) -> None:
    parsed = parse_feed(body, feed_id="f1", base_url="https://example.org/")
    assert parsed.error is not None
    assert parsed.entries == []


def test_billion_laughs_and_external_entities_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    laughs = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]>
<rss version="2.0"><channel><title>&e;</title><item><title>&e;</title><link>http://a.example/1</link></item></channel></rss>"""
    xxe = f"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>
<rss version="2.0"><channel><title>t &x;</title><item><title>&x;</title><link>http://a.example/1</link></item></channel></rss>""".encode()
    for body in (laughs, xxe):
        parsed = parse_feed(body, feed_id="f1", base_url="https://example.org/")
        assert parsed.error is not None and "entities" in parsed.error
        assert parsed.entries == []


def test_entity_declarations_in_content_are_not_mistaken_for_a_dtd() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>XML news</title>
<item><title>On XML</title><link>http://a.example/1</link>
<description><![CDATA[Never trust <!ENTITY declarations]]></description></item></channel></rss>"""
    parsed = parse_feed(body, feed_id="f1", base_url="https://example.org/")
    assert parsed.error is None
    assert parsed.entries[0].summary == "Never trust"


def test_plain_text_strips_markup() -> None:
    assert plain_text("<p>Erdoğan &amp; <b>Dbeibah</b></p>\n  met") == "Erdoğan & Dbeibah met"
    assert plain_text(None) == ""
