"""Structured signals a news page carries besides its prose.

JSON-LD (``NewsArticle`` and kin), Open Graph / ``article:*`` / Dublin Core meta
tags, ``<time>`` elements, the canonical link and the ``<title>``. Everything is
read from one parsed lxml tree and returned as plain strings; dates are parsed
and ranked in :mod:`extractors.dates`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lxml.html import HtmlElement

# schema.org types whose properties describe the article itself.
ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "askpublicnewsarticle",
        "blogposting",
        "socialmediaposting",
        "liveblogposting",
        "scholarlyarticle",
        "techarticle",
        "report",
    }
)
# A JSON-LD script larger than this is not metadata; skip it rather than parse it.
MAX_JSON_LD_CHARS = 2_000_000
MAX_JSON_DEPTH = 20

PUBLISHED_META = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "published_time",
    "sailthru.date",
    "dc.date.issued",
    "dcterms.created",
    "dc.date",
    "date",
    "parsely-pub-date",
)
MODIFIED_META = (
    "article:modified_time",
    "og:article:modified_time",
    "og:updated_time",
    "datemodified",
    "last-modified",
    "dcterms.modified",
)
# An itemprop=author holding a nested name gives the name; otherwise the element's text.
_AUTHOR_MARKUP_XPATH = (
    "//*[@itemprop='author'][not(.//*[@itemprop='name'])]|//*[@itemprop='author']//*[@itemprop='name']"
    "|//a[@rel='author']"
)
MAX_MARKUP_AUTHORS = 5
MAX_TIME_ELEMENTS = 10
AUTHOR_META = ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator", "byl")


@dataclass(slots=True)
class PageSignals:
    """Raw (unparsed) values found in the page's markup, best source first."""

    titles: list[str] = field(default_factory=list)  # headline candidates
    article_body: str | None = None  # JSON-LD articleBody
    description: str | None = None
    published: list[tuple[str, str]] = field(default_factory=list)  # (raw value, source)
    modified: list[tuple[str, str]] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    section: str | None = None
    image: str | None = None
    canonical_url: str | None = None
    language: str | None = None  # declared language (html lang, og:locale, inLanguage)
    paywalled: bool = False  # isAccessibleForFree false, or a locked content tier


def read_signals(tree: HtmlElement) -> PageSignals:
    """Collect JSON-LD, meta-tag, ``<time>`` and link signals from a parsed page."""
    signals = PageSignals()
    for obj in _json_ld_articles(tree):
        _merge_json_ld(signals, obj)
    _merge_meta(signals, tree)
    _merge_markup(signals, tree)
    return signals


def _json_ld_articles(tree: HtmlElement) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for script in tree.iterfind(".//script[@type='application/ld+json']"):
        raw = script.text or ""
        if not raw.strip() or len(raw) > MAX_JSON_LD_CHARS:
            continue
        try:
            data = json.loads(raw, strict=False)
        except (ValueError, RecursionError):
            continue
        _collect_articles(data, found, 0)
    return found


def _collect_articles(node: Any, found: list[dict[str, Any]], depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        return
    if isinstance(node, list):
        for item in node:
            _collect_articles(item, found, depth + 1)
    elif isinstance(node, dict):
        types = node.get("@type")
        type_names = types if isinstance(types, list) else [types]
        if any(isinstance(t, str) and t.lower() in ARTICLE_TYPES for t in type_names):
            found.append(node)
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement"):
            if key in node:
                _collect_articles(node[key], found, depth + 1)


def _text(value: Any) -> str | None:
    """A JSON-LD property as one clean string (first item of a list, @value, name)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@value") or value.get("name") or value.get("url")
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = " ".join(str(value).split())
        return text or None
    return None


def _names(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        name = _text(item.get("name") if isinstance(item, dict) else item)
        if name and not name.startswith("http"):
            names.append(name)
    return names


def _merge_json_ld(signals: PageSignals, obj: dict[str, Any]) -> None:
    for key in ("headline", "name", "alternativeHeadline"):
        if title := _text(obj.get(key)):
            signals.titles.append(title)
    body = obj.get("articleBody")
    if isinstance(body, str) and len(body) > len(signals.article_body or ""):
        signals.article_body = body.strip()
    if raw := _text(obj.get("datePublished")) or _text(obj.get("dateCreated")):
        signals.published.append((raw, "json-ld"))
    if raw := _text(obj.get("dateModified")):
        signals.modified.append((raw, "json-ld"))
    signals.authors.extend(_names(obj.get("author")))
    signals.section = signals.section or _text(obj.get("articleSection"))
    signals.image = signals.image or _text(obj.get("image")) or _text(obj.get("thumbnailUrl"))
    signals.language = signals.language or _text(obj.get("inLanguage"))
    signals.description = signals.description or _text(obj.get("description"))
    if str(obj.get("isAccessibleForFree", "")).lower() == "false":
        signals.paywalled = True


def _merge_meta(signals: PageSignals, tree: HtmlElement) -> None:
    published: dict[str, str] = {}
    modified: dict[str, str] = {}
    meta: dict[str, str] = {}
    for element in tree.iterfind(".//meta"):
        key = (element.get("property") or element.get("name") or element.get("itemprop") or "").lower().strip()
        content = " ".join((element.get("content") or "").split())
        if not key or not content:
            continue
        meta.setdefault(key, content)
        if key in PUBLISHED_META:
            published.setdefault(key, content)
        elif key in MODIFIED_META:
            modified.setdefault(key, content)
        elif key in AUTHOR_META and not content.startswith("http"):
            signals.authors.append(content)
    signals.published.extend((published[k], "meta") for k in PUBLISHED_META if k in published)
    signals.modified.extend((modified[k], "meta") for k in MODIFIED_META if k in modified)
    for key in ("og:title", "twitter:title", "dc.title"):
        if key in meta:
            signals.titles.append(meta[key])
    signals.description = signals.description or meta.get("og:description") or meta.get("description")
    signals.section = signals.section or meta.get("article:section") or meta.get("section")
    signals.image = signals.image or meta.get("og:image") or meta.get("twitter:image")
    signals.language = signals.language or meta.get("og:locale") or meta.get("content-language")
    signals.canonical_url = meta.get("og:url")  # <link rel=canonical>, read later, takes precedence
    if meta.get("article:content_tier", "").lower() in {"locked", "metered"}:
        signals.paywalled = True


def _merge_markup(signals: PageSignals, tree: HtmlElement) -> None:
    for h1 in tree.iterfind(".//h1"):
        if text := " ".join(h1.text_content().split()):
            signals.titles.append(text)
            break
    title = tree.find(".//title")
    if title is not None and (text := " ".join((title.text or "").split())):
        signals.titles.append(text)
    # Times inside the article first: sidebars list other stories' dates.
    times = tree.xpath("//article//time[@datetime]") or tree.xpath("//time[@datetime]")
    for time in times[:MAX_TIME_ELEMENTS]:
        raw = (time.get("datetime") or "").strip()
        marker = f"{time.get('class', '')} {time.get('itemprop', '')}".lower()
        if raw:
            target = signals.modified if "updated" in marker or "modified" in marker else signals.published
            target.append((raw, "time"))
    if not signals.authors:
        # Microdata and rel=author bylines, for pages without JSON-LD or meta authors.
        for element in tree.xpath(_AUTHOR_MARKUP_XPATH)[:MAX_MARKUP_AUTHORS]:
            name = element.get("content") or element.text_content()
            if name := " ".join(name.split()):
                signals.authors.append(name)
    for link in tree.iter("link"):
        if (link.get("rel") or "").lower() == "canonical" and link.get("href"):
            signals.canonical_url = link.get("href", "").strip()
            break
    if not signals.language:
        signals.language = tree.get("lang") or tree.get("xml:lang")
