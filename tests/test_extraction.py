"""The article extractor on small hand-written pages: body, signals, dates, language, fallbacks."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import lxml.etree
import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trafilatura.utils import load_html

from extractors import extract_article
from extractors.cli import run
from extractors.continuation import add_sibling_chunks
from extractors.dates import parse_date, pick_date
from extractors.decoding import decode_html, parse_html
from extractors.news import _covers_the_prose, _looks_like_the_article
from seedwatch.models import FeedEntry

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
# Fragments for random, badly nested markup.
TAGS = [
    "<div>",
    "</div>",
    "<p>",
    "</p>",
    "<article>",
    "<script>",
    "</script>",
    "text ",
    "<!--",
    "-->",
    "<table><tr><td>",
]
PARAGRAPHS = [
    "The two governments signed a maritime agreement in the capital on Tuesday, officials said.",
    "The deal covers energy exploration rights in the eastern Mediterranean and a new shipping corridor.",
    "Opposition figures criticised the agreement, saying parliament had not been consulted beforehand.",
    "Diplomats from neighbouring states asked for details of the boundaries before the next summit.",
    "Analysts expect the accord to be tested in the courts and at sea during the coming months.",
]


def page(body: str, head: str = "", lang: str = "en") -> str:
    return f'<!doctype html><html lang="{lang}"><head>{head}</head><body><article>{body}</article></body></html>'


def news_page(json_ld: dict | None = None, extra_head: str = "", extra_body: str = "") -> str:
    script = f'<script type="application/ld+json">{json.dumps(json_ld)}</script>' if json_ld else ""
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    body = f"<h1>Maritime deal signed</h1>{paragraphs}{extra_body}"
    return page(body, f"<title>Maritime deal signed | Example News</title>{script}{extra_head}")


def test_json_ld_supplies_title_dates_authors_and_section() -> None:
    json_ld = {
        "@context": "https://schema.org",
        "@graph": [
            {
                "@type": "NewsArticle",
                "headline": "Maritime deal signed",
                "datePublished": "2026-01-05T09:30:00+02:00",
                "dateModified": "2026-01-05T12:00:00Z",
                "author": [{"@type": "Person", "name": "By Ayşe Demir"}, {"@type": "Person", "name": "Omar Ali"}],
                "articleSection": "World",
                "image": {"@type": "ImageObject", "url": "/img/deal.jpg"},
            }
        ],
    }
    head = '<link rel="canonical" href="/world/deal">'
    article = extract_article(news_page(json_ld, head), "https://news.example/world/deal?utm_source=x", now=NOW)
    assert article.title == "Maritime deal signed"
    assert article.published_at == datetime(2026, 1, 5, 7, 30, tzinfo=UTC)
    assert article.published_source == "json-ld"
    assert article.modified_at == datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert article.authors == ("Ayşe Demir", "Omar Ali")
    assert article.section == "World"
    assert article.image == "https://news.example/img/deal.jpg"
    assert article.canonical_url == "https://news.example/world/deal"
    assert article.method == "trafilatura"
    assert article.language == "en" and article.text_direction == "ltr"
    assert article.word_count == sum(len(p.split()) for p in PARAGRAPHS)


def test_headline_echo_and_trailing_furniture_are_trimmed() -> None:
    furniture = (
        "<p>Read more: Another story about something else entirely</p>"
        "<p>Sign up for our daily newsletter to get the news in your inbox.</p>"
    )
    article = extract_article(news_page(extra_body=furniture), now=NOW)
    assert article.text.splitlines() == PARAGRAPHS


def test_meta_and_time_dates_when_no_json_ld_and_implausible_dates_rejected() -> None:
    head = '<meta property="article:published_time" content="2031-01-01T00:00:00Z">'
    body = '<time datetime="2025-12-30T08:00:00-05:00">30 Dec</time>'
    article = extract_article(news_page(extra_head=head, extra_body=body), now=NOW)
    assert article.published_at == datetime(2025, 12, 30, 13, 0, tzinfo=UTC)
    assert article.published_source == "time"  # the future meta date was refused


def test_dates_parse_common_shapes_and_rank_by_source() -> None:
    assert parse_date("2019-11-19T10:22:00-05:00") == datetime(2019, 11, 19, 15, 22, tzinfo=UTC)
    assert parse_date("2019-11-19 10:22:00 +0100") == datetime(2019, 11, 19, 9, 22, tzinfo=UTC)
    assert parse_date("Tue, 19 Nov 2019 10:22:00 GMT") == datetime(2019, 11, 19, 10, 22, tzinfo=UTC)
    assert parse_date("20191119") == datetime(2019, 11, 19, tzinfo=UTC)
    assert parse_date("yesterday") is None
    candidates = [("2020-01-01", "feed"), ("1970-01-01", "json-ld"), ("2019-05-05", "meta")]
    assert pick_date(candidates, NOW) == (datetime(2019, 5, 5, tzinfo=UTC), "meta")


def test_feed_date_and_summary_are_the_fallback_for_an_empty_page() -> None:
    entry = FeedEntry(
        feed_id="f",
        guid=None,
        url="https://news.example/a",
        title="Feed title",
        summary="A summary from the feed that says what the article is about, in more than a few words, "
        "long enough to stand in for a body when the page itself has none that can be extracted.",
        published_at=datetime(2026, 1, 9, 6, 0, tzinfo=UTC),
    )
    article = extract_article("<html><body><nav>Home</nav></body></html>", entry.url, feed_entry=entry, now=NOW)
    assert article.method == "feed-summary"
    assert article.text == entry.summary and article.title == "Feed title"
    assert article.published_at == entry.published_at and article.published_source == "feed"
    assert article.is_teaser


@pytest.mark.parametrize(
    "hostile",
    [b"", "", b"\x00\xff\xfe" * 1000, "<div>" * 50_000, b"\x1f\x8b\x08garbage", "<html>" + "x" * 3_000_000, "{}"],
)
def test_hostile_input_gives_an_empty_result(hostile: str | bytes) -> None:
    article = extract_article(hostile, now=NOW)
    assert article.method in {"none", "trafilatura"}
    assert isinstance(article.text, str)
    if article.method == "none":
        assert article.text == "" and article.word_count == 0


def test_arabic_page_in_windows_1256_is_rtl_with_correct_characters() -> None:
    sentences = [
        "وقعت ليبيا وتركيا اتفاقية جديدة للتعاون البحري في العاصمة طرابلس يوم الثلاثاء.",
        "وقال المسؤولون إن الاتفاقية تشمل حقوق التنقيب عن الطاقة في شرق البحر المتوسط.",
        "وانتقدت شخصيات معارضة الاتفاق قائلة إن البرلمان لم تتم استشارته مسبقا.",
        "ويتوقع المحللون أن يخضع الاتفاق لاختبارات في المحاكم وفي البحر خلال الأشهر المقبلة.",
    ]
    html = page("".join(f"<p>{s}</p>" for s in sentences), '<meta charset="windows-1256">', lang="ar")
    article = extract_article(html.encode("cp1256"), now=NOW)
    assert article.language == "ar" and article.text_direction == "rtl"
    assert sentences[0] in article.text


def test_turkish_page_without_charset_declaration_is_decoded_and_detected() -> None:
    sentences = [
        "Türkiye ile Libya arasında imzalanan deniz yetki alanları anlaşması bugün yürürlüğe girdi.",
        "Dışişleri Bakanlığı, anlaşmanın Doğu Akdeniz'deki enerji arama haklarını güvence altına aldığını açıkladı.",
        "Muhalefet partileri, meclisin önceden bilgilendirilmediğini söyleyerek anlaşmayı eleştirdi.",
        "Uzmanlar, anlaşmanın önümüzdeki aylarda uluslararası mahkemelerde sınanacağını düşünüyor.",
    ]
    html = page("".join(f"<p>{s}</p>" for s in sentences), lang="")
    article = extract_article(html.encode("iso-8859-9"), now=NOW)
    assert article.language == "tr" and article.text_direction == "ltr"
    assert "Dışişleri Bakanlığı" in article.text and "ğ" in article.text


def test_cli_prints_one_json_line_per_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "a.html"
    plain.write_text(news_page(), encoding="utf-8")
    zipped = tmp_path / "b.html.gz"
    zipped.write_bytes(gzip.compress(news_page().encode()))
    assert run([plain, zipped], "https://news.example/a") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert all(r["title"] == "Maritime deal signed" and r["method"] == "trafilatura" for r in records)
    assert run([tmp_path / "missing.html"], None) == 1
    assert "error" in json.loads(capsys.readouterr().out)


def test_microdata_byline_when_no_json_ld_or_meta_author() -> None:
    byline = '<span itemprop="author" itemscope><span itemprop="name">Leyla Şahin</span></span>'
    article = extract_article(news_page(extra_body=f"<p>{byline}</p>"), now=NOW)
    assert article.authors == ("Leyla Şahin",)
    piped = '<meta name="author" content="Amy Writer | Example Media">'
    assert extract_article(news_page(extra_head=piped), now=NOW).authors == ("Amy Writer",)


def test_naive_now_and_feed_dates_are_taken_as_utc() -> None:
    entry = FeedEntry("f", None, None, "t", "", published_at=datetime(2026, 1, 9, 6, 0))
    article = extract_article(news_page(), feed_entry=entry, now=datetime(2026, 1, 10))
    assert article.method == "trafilatura"
    assert article.published_at == datetime(2026, 1, 9, 6, 0, tzinfo=UTC) and article.published_source == "feed"


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.binary(max_size=2000), st.text(max_size=2000), st.lists(st.sampled_from(TAGS), max_size=300)))
def test_arbitrary_input_never_raises(data: bytes | str | list[str]) -> None:
    html = "".join(data) if isinstance(data, list) else data
    article = extract_article(html, now=NOW)
    assert (article.method == "none") == (article.text == "")
    assert article.word_count >= 0 and article.text_direction in {"ltr", "rtl"}


def test_sibling_chunks_of_a_split_body_are_recovered_but_link_teasers_are_not() -> None:
    first, second = PARAGRAPHS[:2], PARAGRAPHS[2:4]
    chunk = '<div class="story-chunk">{}</div>'
    html = (
        "<html><body><div class='chunks'><div class='row'>"
        + chunk.format("".join(f"<p>{p}</p>" for p in first))
        + "</div><div class='ad'>Advertisement</div><div class='row'>"
        + chunk.format("".join(f"<p>{p}</p>" for p in second))
        + "</div><div class='row'>"
        + chunk.format('<p><a href="/other">Another story about a completely different subject entirely</a></p>')
        + "</div></div></body></html>"
    )
    tree = lxml.html.fromstring(html)
    body = lxml.etree.Element("body")
    for text in first:
        lxml.etree.SubElement(body, "p").text = text
    add_sibling_chunks(tree, body)
    assert [p.text for p in body] == first + second


def test_json_ld_article_body_when_the_page_shows_only_a_teaser() -> None:
    json_ld = {"@type": "NewsArticle", "headline": "Deal", "articleBody": "\n\n".join(PARAGRAPHS)}
    teaser = page(
        "<h1>Deal</h1><p>Subscribe to read the full story.</p>",
        f'<script type="application/ld+json">{json.dumps(json_ld)}</script>',
    )
    article = extract_article(teaser, now=NOW)
    # trafilatura's own baseline also falls back to articleBody, so either may claim it.
    assert article.method in {"json-ld", "trafilatura"}
    assert article.text.split() == " ".join(PARAGRAPHS).split()


def test_paywalled_short_page_is_flagged_as_teaser() -> None:
    json_ld = {"@type": "NewsArticle", "headline": "Deal", "isAccessibleForFree": "False"}
    head = f'<script type="application/ld+json">{json.dumps(json_ld)}</script>'
    article = extract_article(page("".join(f"<p>{p}</p>" for p in PARAGRAPHS[:3]), head), now=NOW)
    assert article.is_teaser and article.method == "trafilatura"


def test_time_elements_inside_the_article_win_over_sidebar_times() -> None:
    html = (
        '<html><body><div class="sidebar"><time datetime="2025-06-01">Older story</time></div><article>'
        + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
        + '<time datetime="2026-01-02T10:00:00Z">2 Jan</time>'
        + '<time itemprop="dateModified" datetime="2026-01-03T10:00:00Z">3 Jan</time></article></body></html>'
    )
    article = extract_article(html, now=NOW)
    assert (article.published_at, article.published_source) == (datetime(2026, 1, 2, 10, tzinfo=UTC), "time")
    assert article.modified_at == datetime(2026, 1, 3, 10, tzinfo=UTC)


def test_og_url_is_the_canonical_url_when_there_is_no_canonical_link() -> None:
    head = '<meta property="og:url" content="https://news.example/world/deal">'
    article = extract_article(news_page(extra_head=head), "https://m.news.example/x?ref=rss", now=NOW)
    assert article.canonical_url == "https://news.example/world/deal"
    assert extract_article(news_page(), "https://news.example/a", now=NOW).canonical_url == "https://news.example/a"


def test_the_fast_pass_is_kept_only_when_it_looks_like_the_article() -> None:
    prose = (
        "Libya's eastern commander Khalifa Haftar is expected in Ankara next week, officials said, "
        "as Turkey deepens its ties with the east of the country after years of backing Tripoli. "
    ) * 3
    assert _looks_like_the_article(prose, "Haftar expected in Ankara as Turkey courts eastern Libya")
    # A site menu: long enough, but mostly one- and two-word lines.
    menu = "\n".join(["Home", "World", "Politics", "Sport", "Contact us", "Weather"] * 12)
    assert not _looks_like_the_article(menu + "\n" + prose[:200], "Haftar expected in Ankara")
    # A "related stories" box: prose, but about something else than the headline.
    assert not _looks_like_the_article(prose, "Amnesty: more than 100 protesters killed in Iran unrest")
    # Too short to judge, and a headline without spaced words (Korean) is not compared.
    assert not _looks_like_the_article("Haftar in Ankara.", "Haftar in Ankara")
    assert _looks_like_the_article(prose, "엔터 미디어")


def test_furniture_that_swallowed_the_article_is_kept() -> None:
    # An unclosed menu <nav> (or <aside>, or menu <button>) nests the rest of the page
    # inside it; dropping it as furniture dropped the article with it (7 of 325 WCXB pages).
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS * 2)
    swallowed = (
        "<!doctype html><html lang='en'><head><title>Maritime deal signed</title></head><body>"
        "<header><nav class='menu'><ul><li><a href='/'>Home</a></li><li><a href='/w'>World</a></li></ul>"
        f"<article><h1>Maritime deal signed</h1>{paragraphs}</article></nav></header>"
        "<footer><p>Contact us</p></footer></body></html>"
    )
    article = extract_article(swallowed, now=NOW)
    assert all(p in article.text for p in PARAGRAPHS), article.text
    assert "Contact us" not in article.text


def test_a_fast_pass_that_misses_most_of_the_prose_gives_way() -> None:
    intro = "An introduction of a list article that names the places it goes on to describe in turn. " * 6
    items = "".join(f"<div>{p} {p}</div>" for p in PARAGRAPHS * 4)  # prose in bare <div>s, no <p>
    tree = lxml.html.fromstring(f"<html><body><p>{intro}</p>{items}</body></html>")
    assert not _covers_the_prose(intro, tree)  # the intro alone: a fifth of the prose or less
    assert _covers_the_prose(intro + " ".join(PARAGRAPHS * 8), tree)


def test_title_drops_the_site_name_and_decodes_double_encoded_entities() -> None:
    head = '<meta property="og:title" content="Maritime deal signed | Example News">'
    assert extract_article(news_page(extra_head=head), now=NOW).title == "Maritime deal signed"
    json_ld = {"@type": "NewsArticle", "headline": "Ministers&#8217; maritime deal &amp; its critics"}
    assert extract_article(news_page(json_ld), now=NOW).title == "Ministers\u2019 maritime deal & its critics"
    # A "Headline: subtitle" title is not cut, and without a bare headline beside it nothing is.
    lone = '<meta property="og:title" content="Deal: what it means - Example News">'
    assert extract_article(page("<p>text</p>", lone), now=NOW).title == "Deal: what it means - Example News"


def test_visible_byline_is_the_author_when_the_markup_names_none() -> None:
    byline = '<div class="byline">By <a href="/staff/jane-doe" class="author">Jane Doe</a></div>'
    article = extract_article(news_page(extra_body=byline), now=NOW)
    assert article.authors == ("Jane Doe",)
    # A reader's name in the comments is not a byline.
    comments = '<section id="comments"><div class="comment"><span class="author">Troll</span> Nice.</div></section>'
    assert extract_article(news_page(extra_body=comments), now=NOW).authors == ()


def test_a_teaser_box_after_the_article_goes_with_its_heading() -> None:
    teasers = (
        "<h2>You might also like</h2>"
        "<p>Harbour authorities publish the new shipping timetable for the winter season ahead</p>"
        "<p>Fishermen's associations meet regional officials to discuss the quota system again</p>"
    )
    assert extract_article(news_page(extra_body=teasers), now=NOW).text.splitlines() == PARAGRAPHS
    # The same heading before most of the article is a section of it, and stays.
    early = page(
        f"<h1>Maritime deal signed</h1><h2>More from the summit</h2>{''.join(f'<p>{p}</p>' for p in PARAGRAPHS)}"
    )
    assert "More from the summit" in extract_article(early, now=NOW).text


def test_htmldate_when_the_markup_dates_are_unusable() -> None:
    head = '<meta property="article:published_time" content="Monday, 29 December">'  # no year: unparseable
    article = extract_article(
        news_page(extra_head=head, extra_body='<p class="date">Published 2025-12-29</p>'), now=NOW
    )
    assert (article.published_at, article.published_source) == (datetime(2025, 12, 29, tzinfo=UTC), "htmldate")


def test_a_fast_pass_holding_little_of_the_prose_gets_recall_modes_second_opinion() -> None:
    # A list article whose items sit in teaser-class boxes: the balanced fast pass keeps
    # only the intro (a fifth of the prose), trafilatura's recall mode keeps the items too.
    intro = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    items = "".join(f'<div class="teaser-item">{p} {p}</div>' for p in reversed(PARAGRAPHS * 2))
    article = extract_article(page(f"<h1>Maritime deal signed</h1>{intro}<div>{items}</div>"), now=NOW)
    assert f"{PARAGRAPHS[4]} {PARAGRAPHS[4]}" in article.text
    assert article.word_count > 300 and article.method == "trafilatura"


BENCHMARK_PAGES = sorted((Path(__file__).parent / "fixtures" / "extraction").glob("*/html/*.html.gz"))


def _same_tree(first: lxml.html.HtmlElement | None, second: lxml.html.HtmlElement | None) -> bool:
    """Same markup, whitespace aside (libxml2 keeps one trailing newline more from a string)."""
    if first is None or second is None:
        return first is second
    squeeze = b"".join
    return squeeze(lxml.etree.tostring(first).split()) == squeeze(lxml.etree.tostring(second).split())


@pytest.mark.parametrize(
    "markup",
    [
        "",
        "   ",
        "plain text, not a page",
        "<p>one block alone</p>",
        "<!DOCTYPE html/>\n<html><body><p>a self-closing doctype</p></body></html>",
        '<html lang="en"/>\n<body><p>a self-closing html tag</p></body>',
        "<html><body><p>control\x00 characters\x01 and a non-character\ufffe in text</p></body></html>",
        "<?xml version='1.0' encoding='iso-8859-1'?><html><body><p>caf\u00e9 declared Latin-1</p></body></html>",
        "<html><body>" + "<div>" * 3000 + "deeply nested, never closed",
    ],
)
def test_parse_html_builds_the_tree_trafilatura_would(markup: str) -> None:
    assert _same_tree(parse_html(markup), load_html(markup))


def test_parse_html_matches_trafilatura_on_every_benchmark_page() -> None:
    assert len(BENCHMARK_PAGES) == 181 + 325
    differing = [
        path.name
        for path in BENCHMARK_PAGES
        if not _same_tree(parse_html(text := decode_html(gzip.decompress(path.read_bytes()))), load_html(text))
    ]
    assert differing == []
