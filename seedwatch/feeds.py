"""Parse a fetched RSS/Atom/RDF feed into clean ``FeedEntry`` records.

Each awkward case is handled on purpose:

- **Encoding**: we decode the bytes ourselves (HTTP charset, else the XML prolog, checked
  against the bytes: a Latin-1 prolog on UTF-8 bytes is wrong, an undecodable declaration
  falls back to detection) and hand feedparser UTF-8, so wrong prologs cannot garble text.
- **Unsafe XML**: a feed declaring entities (billion laughs, external entities / XXE) is
  refused before parsing; the check runs on the decoded text, so a UTF-16 feed cannot hide
  its DTD from it. feedparser also drops such declarations itself; we refuse explicitly so
  the feed's health shows why.
- **Enormous feeds**: only the first ``MAX_ENTRIES`` entries are parsed (the body is cut
  before the next one), so a feed of a million items costs what one of a thousand does.
- **Control characters** (NUL, escape sequences...) are removed from titles and summaries:
  PostgreSQL refuses NUL in text, and they have no business in an email.
- **Not a feed** (HTML page, JSON, broken bytes): ``ParsedFeed.error`` is set.
- **Links**: resolved against the feed URL; non-http(s) links dropped. An entry without a
  link uses its GUID when the GUID is an http(s) URL, else ``url`` is None.
- **Titles**: HTML stripped and entities decoded; a missing title is taken from the start
  of the summary.
- **Duplicated GUIDs** within one feed: the first entry wins.
- **Dates**: stored in UTC. A date without timezone is read in the source's ``timezone``.
  A date more than a day ahead of ``now`` is treated as garbage (None); one slightly ahead
  (typically local time mislabelled as UTC) is clamped to ``now``. Dates before 1990 are
  dropped (epoch-zero placeholders), and so are dates that cannot be converted to UTC at
  all (year 1 or 9999 with an offset).
"""

from __future__ import annotations

import email.utils
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import feedparser
import structlog
from lxml import html as lxml_html

from seedwatch.fetch import XML_ENCODING_DECLARATION, decode_text, header_charset
from seedwatch.models import FeedEntry
from seedwatch.safe_text import TITLE_MAX_CHARS, display_text

__all__ = ["MAX_ENTRIES", "ParsedFeed", "parse_feed", "parse_feed_date", "plain_text"]

log = structlog.get_logger(__name__)

# News feeds carry tens of entries, a few carry hundreds; beyond this a feed is broken or
# hostile, and feedparser spends ~0.1 ms per entry, so the rest is not even parsed.
MAX_ENTRIES = 1000

_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.I)
_ENTRY_START = re.compile(rb"<(?:[A-Za-z][\w.-]*:)?(?:item|entry)[\s/>]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# &#xD800; and friends: feedparser's loose parser raises UnicodeEncodeError on them.
_SURROGATE_REFERENCE = re.compile(
    rb"&#(?:[xX]0*[dD][89a-fA-F][0-9a-fA-F]{2}|0*(?:5529[6-9]|55[3-9]\d\d|56\d\d\d|57[0-2]\d\d|573[0-3]\d|5734[0-3]));"
)
_ROOT_ELEMENT = re.compile(rb"<[A-Za-z]")
# feedparser's strict parser takes time in the square of one element's attribute count
# (10,000 attributes: 1.6 s; 100,000: minutes). Real feed elements carry a handful, so
# an element with more loses them before parsing. The pattern has one way to match
# (quoted values, disjoint classes): linear time, whatever the input.
MAX_ELEMENT_ATTRIBUTES = 100
_ABSURD_ATTRIBUTES = re.compile(
    rb"<([A-Za-z][^\s<>/]*)(?:\s+[^\s=<>/]+\s*=\s*(?:\"[^\"]*\"|'[^']*')){%d,}" % (MAX_ELEMENT_ATTRIBUTES + 1)
)
_PROLOG = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_SPACES = re.compile(r"\s+")
_FUTURE_SLACK = timedelta(days=1)
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_TITLE_FROM_SUMMARY_CHARS = 120
_AM_PM = re.compile(r"\d\s*[AaPp][Mm]\s*$")
_AM_PM_FORMATS = ("%a, %b %d %Y %I:%M:%S %p", "%a, %d %b %Y %I:%M:%S %p", "%b %d %Y %I:%M:%S %p")


@dataclass(slots=True)
class ParsedFeed:
    """A parsed feed; ``error`` is set when the body is not a usable feed."""

    title: str | None
    language: str | None
    entries: list[FeedEntry] = field(default_factory=list)
    error: str | None = None
    encoding: str | None = None  # the codec the body was decoded with


def plain_text(fragment: str | None) -> str:
    """Text of an HTML fragment: tags removed, entities decoded, whitespace collapsed."""
    if not fragment:
        return ""
    if "<" in fragment:
        try:
            fragment = lxml_html.fromstring(f"<div>{fragment}</div>").text_content()
        except (ValueError, lxml_html.etree.ParserError):
            fragment = re.sub(r"<[^>]*>", " ", fragment)
    return _SPACES.sub(" ", _CONTROL.sub("", html.unescape(fragment))).strip()


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("feeds.unknown_timezone", timezone=name)
        return ZoneInfo("UTC")


def parse_feed_date(raw: str | None, *, timezone: str = "UTC") -> datetime | None:
    """Parse an RFC 822 or ISO 8601 feed date; naive dates are read in ``timezone``."""
    if not raw or not raw.strip():
        return None
    parsed = _parse_any(raw.strip())
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone(timezone))
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # "9999-12-31T23:59:59-01:00" is past datetime.max in UTC
        return None


def _parse_any(raw: str) -> datetime | None:
    if _AM_PM.search(raw):  # "Sat, Dec 16 2023 02:02:33 PM": email.utils would drop the PM
        for pattern in _AM_PM_FORMATS:
            try:
                return datetime.strptime(raw, pattern)
            except ValueError:
                continue
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):  # OverflowError: "1 Jan 99999999999999999999"
        return None
    if raw.endswith("-0000"):
        return parsed.replace(tzinfo=None)  # RFC 5322: "-0000" means the zone is unknown
    return parsed


def _entry_date(entry: Any, timezone: str, now: datetime) -> datetime | None:
    when: datetime | None = None
    for key in ("published", "updated", "created"):
        when = parse_feed_date(entry.get(key), timezone=timezone)
        if when is not None:
            break
    if when is None:
        # feedparser understands more formats than we do; its result is UTC already.
        for key in ("published_parsed", "updated_parsed", "created_parsed"):
            struct = entry.get(key)
            if struct:
                try:
                    when = datetime(*struct[:6], tzinfo=UTC)
                except (ValueError, OverflowError):  # feedparser's UTC for 9999-12-31T23:59-01:00: year 10000
                    continue
                break
    if when is None or when < _EARLIEST or when > now + _FUTURE_SLACK:
        return None
    return min(when, now)


def _title_from(summary: str) -> str:
    if len(summary) <= _TITLE_FROM_SUMMARY_CHARS:
        return summary
    return summary[:_TITLE_FROM_SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"


def _http_url(candidate: str | None, base_url: str) -> str | None:
    if not candidate or not candidate.strip():
        return None
    try:
        absolute = urljoin(base_url, candidate.strip())
        parts = urlsplit(absolute)
    except ValueError:
        return None
    return absolute if parts.scheme in ("http", "https") and parts.hostname else None


def _entry_url(entry: Any, base_url: str) -> str | None:
    url = _http_url(entry.get("link"), base_url)
    if url is None:
        for link in entry.get("links") or []:
            if link.get("rel", "alternate") == "alternate":
                url = _http_url(link.get("href"), base_url)
                if url:
                    break
    if url is None and entry.get("guidislink", True):
        url = _http_url(entry.get("id"), base_url) if "://" in (entry.get("id") or "") else None
    return url


def _language(code: str | None) -> str | None:
    if not code:
        return None
    primary = code.strip().lower().replace("_", "-").split("-", 1)[0]
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def _to_utf8(body: bytes, content_type: str | None) -> tuple[bytes, str]:
    declared = header_charset(content_type)
    if declared is None:
        match = XML_ENCODING_DECLARATION.search(body[:1024])
        declared = match.group(1).decode("ascii") if match else None
    text, codec = decode_text(body, declared)
    text = _PROLOG.sub('<?xml version="1.0" encoding="utf-8"?>', text, count=1)
    return text.encode("utf-8"), codec


def _first_entries(utf8: bytes) -> bytes:
    """The feed cut just before its ``MAX_ENTRIES + 1``-th entry; feedparser reads the rest."""
    for count, match in enumerate(_ENTRY_START.finditer(utf8)):
        if count == MAX_ENTRIES:
            log.warning("feeds.entries_capped", max_entries=MAX_ENTRIES)
            return utf8[: match.start()]
    return utf8


def _strip_absurd_attributes(utf8: bytes) -> bytes:
    def strip(tag: re.Match[bytes]) -> bytes:
        log.warning("feeds.attributes_stripped", element=tag.group(1)[:50].decode("utf-8", "replace"))
        return b"<" + tag.group(1)

    return _ABSURD_ATTRIBUTES.sub(strip, utf8)


def parse_feed(
    body: bytes,
    *,
    feed_id: str,
    base_url: str,
    content_type: str | None = None,
    timezone: str = "UTC",
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse feed bytes into ``FeedEntry`` records (see the module docstring for the rules)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if not body.strip():
        return ParsedFeed(None, None, error="empty body")
    utf8, codec = _to_utf8(body, content_type)
    root = _ROOT_ELEMENT.search(utf8)
    if _ENTITY_DECLARATION.search(utf8[: root.start()] if root else utf8):  # the DTD is before the root
        return ParsedFeed(None, None, error="feed declares XML entities (refused: XXE/expansion)")
    utf8 = _strip_absurd_attributes(_SURROGATE_REFERENCE.sub(b"&#xFFFD;", _first_entries(utf8)))
    try:
        parsed = feedparser.parse(
            utf8,
            response_headers={"content-type": "application/xml; charset=utf-8"},
            resolve_relative_uris=False,  # we resolve links ourselves against the feed URL
            sanitize_html=False,  # summaries are reduced to plain text anyway
        )
    except Exception as exc:  # noqa: BLE001 - feedparser's loose parser has crashes of its own
        log.warning("feeds.parser_crashed", feed_id=feed_id, error=repr(exc)[:200])
        return ParsedFeed(None, None, error=f"feed parser failed: {type(exc).__name__}: {exc}", encoding=codec)
    if not parsed.get("version"):
        reason = parsed.get("bozo_exception")
        detail = f": {reason}" if reason else ""
        return ParsedFeed(None, None, error=f"not an RSS/Atom/RDF feed{detail}", encoding=codec)
    feed = parsed.feed
    language = _language(feed.get("language"))
    entries: list[FeedEntry] = []
    seen_guids: set[str] = set()
    for raw in parsed.entries:
        guid = (raw.get("id") or "").strip() or None
        if guid is not None:
            if guid in seen_guids:
                continue
            seen_guids.add(guid)
        summary = plain_text(raw.get("summary") or raw.get("description"))
        title = display_text(plain_text(raw.get("title")), max_chars=TITLE_MAX_CHARS)  # stored as shown
        if not title and summary:
            title = _title_from(summary)
        url = _entry_url(raw, base_url)
        if not title and not summary and url is None:
            continue  # nothing to keep
        authors = tuple(name for name in (plain_text(a.get("name")) for a in raw.get("authors") or []) if name)
        entries.append(
            FeedEntry(
                feed_id=feed_id,
                guid=guid,
                url=url,
                title=title,
                summary=summary,
                published_at=_entry_date(raw, timezone, now),
                authors=authors,
                language=_language(raw.get("language")) or language,
            )
        )
    return ParsedFeed(
        title=plain_text(feed.get("title")) or None,
        language=language,
        entries=entries,
        encoding=codec,
    )
