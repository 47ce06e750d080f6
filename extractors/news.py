"""The article extractor: one parse, trafilatura for the body, page signals for the rest."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

import structlog
from htmldate import find_date
from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.metadata import normalize_authors
from trafilatura.xml import xmltotxt

from extractors.cleanup import AnchorKeys, clean_body, normalise, title_keys, word_count
from extractors.continuation import add_sibling_chunks
from extractors.dates import date_from_url, is_plausible, pick_date
from extractors.decoding import decode_html, parse_html
from extractors.language import declared_language, detect_language, text_direction
from extractors.structured import PageSignals, read_signals
from seedwatch.models import ExtractedArticle, FeedEntry

log = structlog.get_logger(__name__)

# Larger inputs are not article pages (or are attacks); trafilatura's own cap is 20 MB.
MAX_HTML_CHARS = 10_000_000
# Below this a pass probably dropped the article, not boilerplate.
MIN_PRECISE_WORDS = 50
# Trafilatura's precision mode trims article ends and, in its fast pass, keeps only the
# intro of list-shaped articles; on WCXB it cost 0.03 recall for 0.005 precision, and our
# clean-up steps remove what it was there to remove. Chosen by cross-validation across
# AEB and WCXB (docs/extraction.md); True restores the old precision-first passes.
FAVOR_PRECISION = False
# A fast pass (no readability comparison) is kept when it shares at least this much of the
# headline's words, is mostly prose, not short lines (a menu), and holds at least
# MIN_PROSE_SHARE of the page's prose (text runs of PROSE_RUN_WORDS words or more: a fast
# pass that kept only an intro or one box falls short); otherwise the full pass runs.
MIN_HEADLINE_SHARE = 0.2
MAX_SHORT_LINE_SHARE = 0.5
SHORT_LINE_WORDS = 3
MIN_PROSE_SHARE = 0.2
PROSE_RUN_WORDS = 8
# A kept fast pass holding less than this share of the page's prose gets a second opinion:
# trafilatura's recall mode (which also keeps teaser-class blocks and bare <div> and list
# text), taken only when it is at least MIN_RECALL_GAIN times as long. Recall mode adds a
# few dates and credits to complete articles, but whole sections (accordions, list items,
# boxes in <div>s) to cut ones: on AEB no page gains 10 % from it, on WCXB 11 pages gain
# 20-125 %. Chosen by cross-validation (docs/extraction.md).
RECALL_BELOW_COVERAGE = 0.7
MIN_RECALL_GAIN = 1.2
# Whether a fast pass holding this share of the body's words covers the prose is not
# measured (walking the text runs costs time): it does, for every threshold above.
SKIP_WALK_BODY_SHARE = 0.6
# Plain strings (no smart strings) and a parent test: a third of the cost of the obvious XPath.
_PROSE_RUNS = XPath("//body//text()[not(parent::script)]", smart_strings=False)
_BODY_TEXT = XPath("string(//body)")
# Below this a page "yields nothing useful" and the feed summary is the better body.
MIN_USEFUL_WORDS = 25
# A body this short next to a paywall marker or a trailing ellipsis is a teaser.
TEASER_MAX_WORDS = 150
_ELLIPSES = ("...", "…")
# Never article text (trafilatura discards them too, later). <form> is not here: some
# sites wrap the whole page in one. Found with a tag-filtered walk (in C), not an XPath
# union, which scans the whole tree once per branch.
_INERT_TAGS = (
    "script",
    "style",
    "noscript",
    "svg",
    "template",
    "iframe",
    "select",
    "input",
    "textarea",
    "picture",
    "img",
    "source",
    "link",
)
_EMPTY_BOXES = XPath("//div[not(node())]|//span[not(node())]")
# Page furniture, dropped as well unless it holds most of the page's paragraphs: an
# unclosed <nav>, <aside> or menu <button> in the markup swallows the rest of the page,
# article included (7 of 325 WCXB pages came out empty).
_FURNITURE_TAGS = ("nav", "footer", "aside", "button")
_PARAGRAPH_COUNT = XPath("count(.//p)")
MAX_FURNITURE_PARAGRAPH_SHARE = 0.5
# Headline words compared with the body: four letters or more, so "in", "the", "de" do not count.
_HEADLINE_WORD = re.compile(r"\w{4,}")
_BYLINE_PREFIX = re.compile(r"^by\s+", re.IGNORECASE)
# Visible bylines, most specific first; see _byline_authors.
_BYLINE_XPATHS = (
    XPath(
        "//*[@rel='author' or @itemprop='author name' or contains(@class, 'author-name')"
        " or contains(@class, 'author_name') or contains(@class, 'authorName') or contains(@class, 'AuthorName')]"
    ),
    XPath(
        "//*[self::a or self::div or self::p or self::span][contains(@class, 'byline') or contains(@class, 'Byline')"
        " or contains(@class, 'author') or contains(@class, 'Author') or contains(@id, 'author')"
        " or contains(@class, 'writer')]"
    ),
)
MIN_BYLINE_CHARS = 3
MAX_BYLINE_CHARS = 119
# "Headline | Site", "Headline - Site": how <title> and og:title append the site name.
_SITE_SEPARATOR = re.compile(r"\s+[|\-–—•·»]\s+")
# Control characters (not tab or newline): JSON-LD's "\u0000" reaches the text otherwise, and
# PostgreSQL refuses NUL in a text column, failing the batch the article is saved in.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class _Body:
    text: str
    method: str


def extract_article(
    html: str | bytes,
    url: str | None = None,
    *,
    feed_entry: FeedEntry | None = None,
    now: datetime | None = None,
) -> ExtractedArticle:
    """Extract the article in ``html`` into a typed record; never raises.

    ``url`` resolves relative links and is a date candidate; ``feed_entry`` supplies
    the feed date as a candidate and the fallback body when the page yields nothing
    useful (``method="feed-summary"``); ``now`` bounds plausible dates (default: now).
    An unparseable or empty page gives an empty result (``text=""``, ``method="none"``).
    """
    now = _as_utc(now) if now else datetime.now(UTC)
    try:
        return _extract(html, url, feed_entry, now)
    except Exception as error:  # noqa: BLE001 -- hostile pages must not stop the pipeline
        log.warning("extraction_failed", url=url, error=repr(error)[:200])
        return _assemble(None, PageSignals(), url, feed_entry, now)


def _extract(html: str | bytes, url: str | None, feed_entry: FeedEntry | None, now: datetime) -> ExtractedArticle:
    text = decode_html(html) if isinstance(html, bytes) else html
    if not text.strip() or len(text) > MAX_HTML_CHARS:
        return _assemble(None, PageSignals(), url, feed_entry, now)
    tree = parse_html(text)
    if tree is None:
        return _assemble(None, PageSignals(), url, feed_entry, now)
    signals = read_signals(tree)
    _drop_inert_elements(tree)
    body = _extract_body(tree, signals, url)
    return _assemble(body, signals, url, feed_entry, now, tree)


def _drop_inert_elements(tree: HtmlElement) -> None:
    """Remove scripts, styles, navigation, footers and asides once, before trafilatura copies the tree.

    Trafilatura discards them as well, but only after copying the tree several times
    and running its readability comparison on the uncleaned tree; dropping them first
    makes the whole extractor faster than plain trafilatura at the same F1. JSON-LD
    stays: trafilatura reads it to recognise forum threads.
    """
    doomed = [element for element in tree.iter(_INERT_TAGS) if not _keeps_meaning(element)]
    doomed += _EMPTY_BOXES(tree)  # empty before the drops, as the markup came
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()  # keeps the tail text
    furniture = list(tree.iter(_FURNITURE_TAGS))
    if not furniture:
        return
    max_paragraphs = MAX_FURNITURE_PARAGRAPH_SHARE * _PARAGRAPH_COUNT(tree)
    for element in furniture:
        if element.getparent() is not None and _PARAGRAPH_COUNT(element) <= max_paragraphs:
            element.drop_tree()


def _keeps_meaning(element: HtmlElement) -> bool:
    """JSON-LD (trafilatura reads it to recognise forum threads) and the canonical link stay."""
    if element.tag == "script":
        return element.get("type") == "application/ld+json"
    return element.tag == "link" and element.get("rel") == "canonical"


def _extract_body(tree: HtmlElement, signals: PageSignals, url: str | None) -> _Body | None:
    """Trafilatura's fast pass, cleaned; the full pass, or JSON-LD, when that does not look like the article.

    The fast pass skips trafilatura's comparison with its readability and jusText
    fallbacks, a third of its time; the full pass runs only when the fast one looks wrong.
    """
    titles = title_keys(signals.titles)
    anchors = AnchorKeys(tree)
    text = _trafilatura_text(tree, url, titles, anchors, favor_precision=FAVOR_PRECISION, fast=True)
    headline = signals.titles[0] if signals.titles else None
    if _looks_like_the_article(text, headline):
        coverage = _prose_coverage(text, tree)
        if coverage >= MIN_PROSE_SHARE:
            if coverage < RECALL_BELOW_COVERAGE:
                text = _recall_opinion(tree, url, titles, anchors, text)
            return _Body(text, "trafilatura")
    text = _trafilatura_text(tree, url, titles, anchors, favor_precision=FAVOR_PRECISION)
    if FAVOR_PRECISION and word_count(text) < MIN_PRECISE_WORDS:
        # Rare, so the third pass costs little overall.
        text = _trafilatura_text(tree, url, titles, anchors, favor_precision=False) or text
    # The page looked wrong to the fast pass: a longer JSON-LD articleBody is the better body
    # (paywall wrappers, and pages the full pass also cuts short).
    json_ld = signals.article_body or ""
    if word_count(json_ld) > max(word_count(text), MIN_USEFUL_WORDS):
        return _Body(unicodedata.normalize("NFC", json_ld), "json-ld")
    return _Body(text, "trafilatura") if text else None


def _looks_like_the_article(text: str, headline: str | None) -> bool:
    """Long enough, mostly prose lines, and sharing words with the headline (when it has any)."""
    if word_count(text) < MIN_PRECISE_WORDS:
        return False
    lines = [len(line.split()) for line in text.splitlines() if line.strip()]
    if sum(n for n in lines if n <= SHORT_LINE_WORDS) > MAX_SHORT_LINE_SHARE * sum(lines):
        return False
    headline_words = set(_HEADLINE_WORD.findall(headline.casefold())) if headline else set()
    if not headline_words:
        return True  # no headline, or one in a script without spaces
    shared = headline_words & set(_HEADLINE_WORD.findall(text.casefold()))
    return len(shared) >= MIN_HEADLINE_SHARE * len(headline_words)


def _covers_the_prose(text: str, tree: HtmlElement) -> bool:
    """True when ``text`` holds at least MIN_PROSE_SHARE of the words in the page's prose runs.

    A fast pass that kept only a list article's intro, or one box of a page whose
    paragraphs are bare ``<div>`` text, is long and on topic but falls short here.
    """
    return _prose_coverage(text, tree) >= MIN_PROSE_SHARE


def _prose_coverage(text: str, tree: HtmlElement) -> float:
    """The share of the words in the page's prose runs that ``text`` holds (inf: plenty, not measured).

    The prose is part of the body's text, whose words are counted at half the cost of
    walking its text runs: a text holding SKIP_WALK_BODY_SHARE of the body's words
    clears every threshold that matters here without the walk.
    """
    words = word_count(text)
    if words >= SKIP_WALK_BODY_SHARE * len(_BODY_TEXT(tree).split()):
        return float("inf")
    runs = (len(run.split()) for run in _PROSE_RUNS(tree))
    prose = sum(run_words for run_words in runs if run_words >= PROSE_RUN_WORDS)
    return words / prose if prose else float("inf")


def _recall_opinion(tree: HtmlElement, url: str | None, titles: set[str], anchors: AnchorKeys, text: str) -> str:
    """Trafilatura's recall-mode fast pass when it is clearly longer than ``text``; otherwise ``text``."""
    recall = _trafilatura_text(tree, url, titles, anchors, favor_precision=False, fast=True, favor_recall=True)
    return recall if word_count(recall) >= MIN_RECALL_GAIN * word_count(text) else text


def _trafilatura_text(
    tree: HtmlElement,
    url: str | None,
    titles: set[str],
    anchors: AnchorKeys,
    *,
    favor_precision: bool,
    fast: bool = False,
    favor_recall: bool = False,
) -> str:
    document = bare_extraction(
        tree,  # trafilatura copies a tree it is given, so ours stays intact
        url=url,
        fast=fast,
        favor_precision=favor_precision,
        favor_recall=favor_recall,
        include_comments=False,
        output_format="txt",
        with_metadata=False,
    )
    if document is None or document.body is None:
        return ""
    add_sibling_chunks(tree, document.body)
    clean_body(document.body, titles, anchors)
    return unicodedata.normalize("NFC", xmltotxt(document.body, False)).strip()


def _assemble(
    body: _Body | None,
    signals: PageSignals,
    url: str | None,
    feed_entry: FeedEntry | None,
    now: datetime,
    tree: HtmlElement | None = None,
) -> ExtractedArticle:
    """Assemble the record, using the feed entry where the page gave too little."""
    title = _headline(signals.titles)
    if body is None or word_count(body.text) < MIN_USEFUL_WORDS:
        summary = feed_entry.summary.strip() if feed_entry else ""
        if summary and word_count(summary) > word_count(body.text if body else ""):
            body = _Body(summary, "feed-summary")
            title = title or feed_entry.title or None  # type: ignore[union-attr]
    text = _CONTROL.sub("", body.text) if body else ""
    method = body.method if body and text else "none"
    declared = signals.language or (feed_entry.language if feed_entry else None)
    language = detect_language(text, declared) if text else declared_language(declared)
    published, published_source = _published(signals, tree, url, feed_entry, now)
    modified, modified_source = pick_date(signals.modified, now)
    if modified is not None and published is not None and modified < published:
        modified, modified_source = None, None
    words = word_count(text)
    teaser = method == "feed-summary" or (words < TEASER_MAX_WORDS and (signals.paywalled or text.endswith(_ELLIPSES)))
    return ExtractedArticle(
        title=title,
        text=text,
        language=language,
        published_at=published,
        published_source=published_source,
        modified_at=modified,
        modified_source=modified_source,
        authors=_authors(signals, feed_entry, tree),
        section=_CONTROL.sub("", signals.section) if signals.section else signals.section,
        image=_absolute(signals.image, url),
        canonical_url=_absolute(signals.canonical_url, url) or url,
        word_count=words,
        is_teaser=teaser,
        method=method,
        text_direction=text_direction(language),
    )


def _headline(titles: list[str]) -> str | None:
    """The first title candidate, entity-decoded, without a site name another candidate lacks.

    Some sites double-encode entities in JSON-LD and meta tags (``&#8217;``); and when the
    first candidate is "Headline | Site" while another (the ``<h1>``, og:title) is just
    "Headline", the latter is the headline.
    """
    if not titles:
        return None
    candidates = [_CONTROL.sub("", html.unescape(title)).strip() for title in titles]
    parts = _SITE_SEPARATOR.split(candidates[0])
    if len(parts) > 1:
        others = {normalise(candidate) for candidate in candidates[1:]}
        matching = [part.strip() for part in parts if normalise(part) in others]
        if matching:
            return max(matching, key=len)
    return candidates[0] or None


def _published(
    signals: PageSignals, tree: HtmlElement | None, url: str | None, feed_entry: FeedEntry | None, now: datetime
) -> tuple[datetime | None, str | None]:
    candidates = list(signals.published)
    if tree is not None and pick_date(candidates, now)[0] is None:
        # htmldate is the slowest source; ask it only when the markup has no usable date
        # (none, or only shapes like "December 15, 2025" or a future date: 14 of 325 WCXB pages).
        found = find_date(tree, extensive_search=False, original_date=True, max_date=now.strftime("%Y-%m-%d"))
        if found:
            candidates.append((found, "htmldate"))
    if url_date := date_from_url(url):
        candidates.append((url_date, "url"))
    if feed_entry and feed_entry.published_at and is_plausible(feed_date := _as_utc(feed_entry.published_at), now):
        candidates.append((feed_date.isoformat(), "feed"))
    return pick_date(candidates, now)


def _as_utc(value: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _authors(signals: PageSignals, feed_entry: FeedEntry | None, tree: HtmlElement | None) -> tuple[str, ...]:
    names = signals.authors or list(feed_entry.authors if feed_entry else ())
    if not names and tree is not None:
        names = _byline_authors(tree)
    seen: dict[str, str] = {}
    for name in names:
        # "Name | Outlet" and "By Name" are bylines; keep the name.
        clean = _BYLINE_PREFIX.sub("", " ".join(_CONTROL.sub("", name).split()).split(" | ")[0])
        if 0 < len(clean) <= 100:
            seen.setdefault(clean.lower(), clean)
    return tuple(seen.values())[:10]


def _byline_authors(tree: HtmlElement) -> list[str]:
    """The first visible byline (class "author", "byline", "writer"...) outside comment sections.

    A third of the WCXB pages name no author in JSON-LD, meta tags or microdata.
    Plain ``contains()`` tests: trafilatura's own author rules (regular expressions
    over every element, on a copy of the tree) found fewer WCXB authors at three times the cost.
    """
    for xpath in _BYLINE_XPATHS:
        for element in xpath(tree):
            text = " ".join(" ".join(element.itertext()).split())
            if MIN_BYLINE_CHARS <= len(text) <= MAX_BYLINE_CHARS and not _in_comments(element):
                names = normalize_authors(None, text)
                return names.split("; ") if names else []
    return []


def _in_comments(element: HtmlElement) -> bool:
    """Readers' comments have authors too ("comment-author"); they are not the article's."""
    for node in (element, *element.iterancestors()):
        if "comment" in f"{node.get('class', '')} {node.get('id', '')}".lower():
            return True
    return False


def _absolute(link: str | None, base: str | None) -> str | None:
    if not link:
        return None
    try:
        return urljoin(base, link) if base else link
    except ValueError:  # "http://[": a malformed link must not cost the whole article
        return None
