"""The typed records that flow between pipeline stages.

Third-party output (feedparser, trafilatura, httpx) is converted into these at the
boundary of the stage that produced it; nothing downstream touches raw dicts.
All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any


def stable_id(text: str) -> str:
    """A short, stable identifier (used for feed ids, article ids, story ids)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item of a polled feed, cleaned: plain-text title and summary, absolute URL."""

    feed_id: str
    guid: str | None
    url: str | None
    title: str
    summary: str
    published_at: datetime | None
    authors: tuple[str, ...] = ()
    language: str | None = None


class PollStatus(StrEnum):
    """Expected outcomes of polling one feed (mediacloud/rss-fetcher style)."""

    OK = "ok"  # fetched and parsed
    NOT_MODIFIED = "not_modified"  # 304, or the body hash is unchanged
    TEMPORARY = "temporary"  # timeout, 429, 5xx: retry with back-off
    SOFT = "soft"  # body is not a usable feed (HTML, broken XML): retry with back-off
    HARD = "hard"  # 4xx other than 429, refused by SSRF guard or robots: retry, slower


class FetchStatus(StrEnum):
    OK = "ok"
    HTTP_ERROR = "http_error"
    TIMEOUT = "timeout"
    TOO_LARGE = "too_large"
    BAD_CONTENT_TYPE = "bad_content_type"
    BLOCKED = "blocked"  # SSRF guard
    ROBOTS = "robots"  # disallowed by robots.txt
    NETWORK = "network"


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """An article page as fetched: decoded text, or the reason it could not be."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: FetchStatus
    http_status: int | None = None
    html: str | None = None
    content_type: str | None = None
    error: str | None = None
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class ExtractedArticle:
    """What the extractor found in one page. See ``extractors.extract_article``."""

    title: str | None
    text: str
    language: str | None
    published_at: datetime | None
    published_source: str | None  # "json-ld", "meta", "time", "htmldate", "feed", "url"
    modified_at: datetime | None
    modified_source: str | None
    authors: tuple[str, ...]
    section: str | None
    image: str | None
    canonical_url: str | None
    word_count: int
    is_teaser: bool  # paywalled or only a teaser on the page
    method: str  # what produced the body: "trafilatura", "json-ld", "feed-summary", ...
    text_direction: str = "ltr"  # "rtl" for Arabic, Urdu, Persian, Hebrew


GRADE_NAMES = {2: "relevant", 1: "partial", 0: "not relevant"}


@dataclass(frozen=True, slots=True)
class TopicTag:
    """The relevance verdict of one article for one topic."""

    topic: str
    grade: int  # 2 relevant, 1 partial, 0 not relevant
    score: float  # in [0, 1]
    facets: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    explanation: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable

    @property
    def grade_name(self) -> str:
        return GRADE_NAMES[self.grade]

    def to_dict(self) -> dict[str, Any]:
        """The form stored in the state store's ``tags`` column (JSON)."""
        return {
            "topic": self.topic,
            "grade": self.grade,
            "score": round(self.score, 4),
            "facets": list(self.facets),
            "actors": list(self.actors),
            "explanation": self.explanation,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TopicTag:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        values = {k: v for k, v in data.items() if k in _TOPIC_TAG_FIELDS}
        values["facets"] = tuple(values.get("facets", ()))
        values["actors"] = tuple(values.get("actors", ()))
        return cls(**values)


@dataclass(slots=True)
class Article:
    """An article as stored and indexed: one per canonical URL."""

    article_id: str  # stable_id(canonical_url)
    url: str
    canonical_url: str
    feed_id: str
    outlet: str
    title: str
    text: str
    summary: str
    language: str | None
    country: str | None
    published_at: datetime | None
    first_seen_at: datetime
    authors: tuple[str, ...] = ()
    section: str | None = None
    image: str | None = None
    modified_at: datetime | None = None
    body_source: str = "page"  # "page" or "feed-summary" when the page yielded nothing
    extraction_method: str | None = None
    content_hash: str | None = None
    story_id: str | None = None
    tags: tuple[TopicTag, ...] = ()

    def best_tag(self) -> TopicTag | None:
        return max(self.tags, key=lambda t: (t.grade, t.score), default=None)


_TOPIC_TAG_FIELDS = frozenset(f.name for f in fields(TopicTag))
