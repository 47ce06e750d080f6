"""Articles from a JSON-lines file, clustered in file order, for the CLI and evaluations.

One object per line with ``title`` and ``text`` (required), and optionally ``id``,
``date`` (ISO date or datetime; "" when unknown), ``source`` (the outlet), ``language``
and, for evaluation, ``cluster_id`` (the true event). Only title, text, date, source and
language are features: ``id`` and ``cluster_id`` never reach the clusterer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from seedwatch.errors import SeedwatchError
from seedwatch.stories.events import Assignment, EventIndex
from seedwatch.stories.features import event_terms

__all__ = ["DatasetError", "StoryItem", "cluster_items", "read_story_items"]


class DatasetError(SeedwatchError):
    """A JSON-lines file of articles that cannot be read; the message names the line."""


@dataclass(frozen=True)
class StoryItem:
    id: str
    title: str
    text: str
    at: datetime | None
    outlet: str
    language: str
    cluster_id: str | None


def _date(value: object, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise DatasetError(
            f"{where}: 'date' {value!r} is not an ISO date (e.g. 2025-09-14); use \"\" if unknown"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_story_items(path: Path) -> Iterator[StoryItem]:
    """The file's articles in order; a bad line raises :class:`DatasetError` naming it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); convert it to UTF-8") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: not JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise DatasetError(f"{where}: expected a JSON object with 'title' and 'text'")
        fields = {name: row.get(name, "") for name in ("title", "text", "source", "language")}
        wrong = [name for name, value in fields.items() if not isinstance(value, str)]
        if wrong:
            raise DatasetError(f"{where}: {', '.join(wrong)} must be text")
        if not (fields["title"] or fields["text"]):
            raise DatasetError(f"{where}: the article has neither 'title' nor 'text'")
        label = row.get("cluster_id")
        yield StoryItem(
            id=str(row.get("id", number)),
            title=fields["title"],
            text=fields["text"],
            at=_date(row.get("date"), where),
            outlet=fields["source"],
            language=fields["language"],
            cluster_id=None if label is None else str(label),
        )


def cluster_items(items: list[StoryItem], index: EventIndex | None = None) -> list[Assignment]:
    """Each item's story, assigning in list order as the pipeline does in stream order."""
    index = index or EventIndex()
    return [
        index.assign(
            f"item-{position}",
            event_terms(item.title, item.text),
            at=item.at,
            title=item.title,
            outlet=item.outlet,
            language=item.language,
        )
        for position, item in enumerate(items)
    ]
