"""Publication and modification dates: parse every candidate, keep the most reliable.

Candidates come from JSON-LD, meta tags, ``<time>`` elements, htmldate, the URL and
the feed, in that order of trust. A candidate is kept only if it passes sanity
checks: not in the future, not before news sites existed, and a modification
date not before the publication date.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

# Publishing clocks and time zones disagree a little; beyond this a date is "future".
FUTURE_TOLERANCE = timedelta(days=1)
# The site cannot be older than the web's first news sites; earlier dates are noise
# (copyright years, birth dates, "1970-01-01" epoch defaults).
EARLIEST_PLAUSIBLE = datetime(1994, 1, 1, tzinfo=UTC)
SOURCE_ORDER = ("json-ld", "meta", "time", "htmldate", "url", "feed")

_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|$|[-_])")
_COMPACT_DATE = re.compile(r"^((?:19|20)\d{2})(\d{2})(\d{2})(?:T?(\d{2})(\d{2})(\d{2})?)?$")
# "2019-11-19 10:22:00 -0500" style: a space before the offset that fromisoformat refuses.
_SPACED_OFFSET = re.compile(r"\s+([+-]\d{2}:?\d{2})$")


def parse_date(raw: str) -> datetime | None:
    """Parse an ISO-8601, RFC 2822 or compact date string into aware UTC (naive means UTC)."""
    text = raw.strip()
    if not text or len(text) > 64:
        return None
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(_SPACED_OFFSET.sub(r"\1", text).replace(" ", "T", 1))
    except ValueError:
        if match := _COMPACT_DATE.match(text):
            year, month, day, hour, minute, second = match.groups()
            try:
                parsed = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
            except ValueError:
                return None
        else:
            try:
                parsed = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError, OverflowError):  # OverflowError: "1 Jan 99999999999999999999"
                return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # "0001-01-01T00:00:00+01:00": before datetime.min in UTC
        return None


def date_from_url(url: str | None) -> str | None:
    """A ``YYYY-MM-DD`` date embedded in the URL path, as many news sites do."""
    if not url or not (match := _URL_DATE.search(url)):
        return None
    year, month, day = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


def is_plausible(value: datetime, now: datetime) -> bool:
    return EARLIEST_PLAUSIBLE <= value <= now + FUTURE_TOLERANCE


def pick_date(candidates: list[tuple[str, str]], now: datetime) -> tuple[datetime | None, str | None]:
    """The first plausible candidate in order of source trust, with its source."""
    rank = {source: index for index, source in enumerate(SOURCE_ORDER)}
    for raw, source in sorted(candidates, key=lambda item: rank.get(item[1], len(rank))):
        value = parse_date(raw)
        if value is not None and is_plausible(value, now):
            return value, source
    return None, None
