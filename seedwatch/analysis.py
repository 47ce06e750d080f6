"""The CPU-bound work on one article: extract, tag, fingerprint.

Pure functions of their inputs, so they run the same inline, in a process pool
and in tests. The profiles are compiled once per process (:func:`init_worker`).

Titles and authors are stored as :mod:`seedwatch.safe_text` shows them (one line, no
control, bidirectional or zero-width characters, titles capped): the index, Kibana and
emails all see the clean form. Tagging reads at most ``MAX_TAGGED_CHARS`` of the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from extractors import extract_article
from seedwatch.dedup import fingerprints
from seedwatch.models import ExtractedArticle, FeedEntry, TopicTag
from seedwatch.relevance import TopicProfile, load_profiles, tag_article
from seedwatch.safe_text import TITLE_MAX_CHARS, display_text
from seedwatch.urls import canonicalize_url

# Tagging reads this much of an article's text at most. A news article runs to a few
# thousand characters and states its subject early; a page far longer (an archive, a
# hostile page) would only cost time and memory in proportion (docs/reliability.md).
MAX_TAGGED_CHARS = 100_000
AUTHOR_MAX_CHARS = 200

_worker_profiles: dict[str, TopicProfile] = {}


def init_worker(topics_dir: Path, seeds_dir: Path) -> None:
    """Process-pool initializer: compile the topic profiles once per worker."""
    _worker_profiles.clear()
    _worker_profiles.update(load_profiles(topics_dir, seeds_dir))


def tag_topics(profiles: Mapping[str, TopicProfile], *, title: str, text: str, language: str | None) -> list[TopicTag]:
    return [tag_article(profile, title=title, text=text, language=language) for profile in profiles.values()]


def analyse_article(
    row: Mapping[str, Any], html: str | None, *, now: datetime, profiles: Mapping[str, TopicProfile] | None = None
) -> dict[str, Any]:
    """Column values for one article of the ``articles`` table, from its feed row and page.

    When the page is missing or yields nothing useful the body falls back to the
    feed summary (``body_source = "feed-summary"``), so the article is kept anyway.
    """
    profiles = _worker_profiles if profiles is None else profiles
    entry = FeedEntry(
        feed_id=row["feed_id"],
        guid=row.get("guid"),
        url=row["url"],
        title=row.get("title") or "",
        summary=row.get("summary") or "",
        published_at=row.get("published_at"),
        language=row.get("feed_language"),
    )
    extracted: ExtractedArticle = extract_article(html or "", row["url"], feed_entry=entry, now=now)
    from_page = html is not None and extracted.method not in ("feed-summary", "none")
    title = display_text(extracted.title or entry.title, max_chars=TITLE_MAX_CHARS)
    text = extracted.text if extracted.text else entry.summary
    language = extracted.language or entry.language
    tags = tag_topics(profiles, title=title, text=text[:MAX_TAGGED_CHARS], language=language)
    best = max(tags, key=lambda t: (t.grade, t.score), default=None)
    canonical = canonicalize_url(extracted.canonical_url) if from_page and extracted.canonical_url else None
    text_hash, signature = fingerprints(f"{title}\n{text}")
    return {
        "title": title,
        "text": text,
        "language": language,
        "published_at": extracted.published_at or entry.published_at,
        "modified_at": extracted.modified_at,
        "authors": [a for a in (display_text(a, max_chars=AUTHOR_MAX_CHARS) for a in extracted.authors) if a],
        "section": extracted.section,
        "image": extracted.image,
        "body_source": "page" if from_page else "feed-summary",
        "extraction_method": extracted.method,
        "extraction": {
            "published_source": extracted.published_source,
            "modified_source": extracted.modified_source,
            "word_count": extracted.word_count,
            "is_teaser": extracted.is_teaser,
            "text_direction": extracted.text_direction,
            "page_canonical_url": canonical,
        },
        "content_hash": text_hash,
        "minhash": signature,
        "tags": [tag.to_dict() for tag in tags],
        "best_grade": best.grade if best else 0,
        "best_score": best.score if best else 0.0,
        "processed_at": now,
    }


def analyse_in_worker(args: tuple[dict[str, Any], str | None, datetime]) -> dict[str, Any]:
    """Process-pool entry point (profiles come from :func:`init_worker`)."""
    row, html, now = args
    return analyse_article(row, html, now=now)
