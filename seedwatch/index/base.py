"""The article index interface, its settings, and the indexed document.

Two backends implement :class:`ArticleIndex`: SQLite FTS5 (the embedded default,
``seedwatch.index.sqlite_fts``) and Elasticsearch (``seedwatch.index.elastic``).
The pipeline, the CLI and the DAG pick one by configuration alone
(``index.backend``, or ``SEEDWATCH_ES_URL``/``SEEDWATCH_INDEX_BACKEND``).

Expected failures are values: :meth:`ArticleIndex.upsert` never raises for an
unreachable or refusing index, it returns one :class:`IndexOutcome` per document,
``retryable`` telling the outbox whether to try again later.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from seedwatch.models import Article


class ElasticsearchSettings(BaseModel):
    """How to reach Elasticsearch. Secrets are read from the environment variables
    named here (or set directly, e.g. from an Airflow connection); they are
    :class:`SecretStr` so they never show in logs or reprs."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    url: str = "http://localhost:9200"  # SEEDWATCH_ES_URL overrides (see seedwatch.settings)
    api_key_env: str = "SEEDWATCH_ES_API_KEY"  # name of the variable holding an API key
    username_env: str = "SEEDWATCH_ES_USERNAME"
    password_env: str = "SEEDWATCH_ES_PASSWORD"
    api_key: SecretStr | None = None  # set explicitly (Airflow connection); else from api_key_env
    username: str | None = None
    password: SecretStr | None = None
    verify_certs: bool = True
    ca_certs: Path | None = None  # PEM bundle of the cluster's CA (self-signed local clusters)
    # Major version of the cluster. The pinned 9.x client speaks 9 natively; 8 and 7
    # (7.11+, and 7.10 with the product check off) through compatible media types.
    server_major_version: Literal[7, 8, 9] = 9
    index_prefix: str = Field("seedwatch", pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    request_timeout_s: float = Field(10.0, gt=0)
    max_retries: int = Field(3, ge=0)  # per request, connection errors and timeouts
    chunk_size: int = Field(500, ge=1)  # documents per bulk request
    bulk_max_retries: int = Field(3, ge=0)  # 429 rejections retried by streaming_bulk, with back-off
    bulk_initial_backoff_s: float = Field(1.0, ge=0)

    def resolved_api_key(self) -> SecretStr | None:
        if self.api_key is not None:
            return self.api_key
        value = os.environ.get(self.api_key_env)
        return SecretStr(value) if value else None

    def resolved_basic_auth(self) -> tuple[str, SecretStr] | None:
        username = self.username or os.environ.get(self.username_env)
        password = self.password or (
            SecretStr(os.environ[self.password_env]) if os.environ.get(self.password_env) else None
        )
        if username and password:
            return username, password
        return None

    # Names of the aliases and indices, derived from the prefix.
    @property
    def articles_alias(self) -> str:
        return f"{self.index_prefix}-articles"

    @property
    def articles_write_alias(self) -> str:
        return f"{self.index_prefix}-articles-write"

    def articles_index(self, version: int) -> str:
        return f"{self.index_prefix}-articles-v{version}"

    @property
    def feeds_index(self) -> str:
        return f"{self.index_prefix}-feeds"

    @property
    def percolator_index(self) -> str:
        return f"{self.index_prefix}-alert-rules"


class IndexSettings(BaseModel):
    """Which article index to use (embedded under ``index:`` in the settings)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    sqlite_path: Path = Path("var/articles.db")
    sqlite_busy_timeout_s: float = Field(30.0, gt=0)  # several processes may write at once
    elasticsearch: ElasticsearchSettings = ElasticsearchSettings()


@dataclass(frozen=True, slots=True)
class IndexOutcome:
    """What became of one document sent to the index."""

    article_id: str
    ok: bool
    error: str | None = None
    retryable: bool = False  # True: 429, 5xx, unreachable; False: the document itself was refused


@dataclass(frozen=True, slots=True)
class SearchHit:
    article_id: str
    title: str
    url: str
    outlet: str
    language: str | None
    published_at: datetime | None
    grade: int
    score: float
    facets: tuple[str, ...] = ()
    snippet: str = ""
    actors: tuple[str, ...] = ()
    story_id: str | None = None
    # With stories=True: how many hits the story has, and the outlets of the others.
    story_hits: int = 1
    other_outlets: tuple[str, ...] = ()


@dataclass(slots=True)
class SearchResults:
    total: int  # hits, or stories when searched with stories=True
    hits: list[SearchHit] = field(default_factory=list)


@runtime_checkable
class ArticleIndex(Protocol):
    """The store of indexed articles, searchable with the query language of
    :mod:`seedwatch.index.query`. Results are newest first (``published_at``)."""

    def ensure_ready(self) -> None: ...

    def upsert(self, docs: Sequence[dict]) -> list[IndexOutcome]: ...

    def search(self, query: str, *, limit: int = 20, offset: int = 0, stories: bool = False) -> SearchResults:
        """Hits newest first. ``stories``: one hit per story (its newest matching copy),
        with ``story_hits`` and ``other_outlets``; ``total`` counts stories.
        Raises :class:`seedwatch.errors.QueryError` for a bad query or page."""
        ...

    def count(self) -> int: ...

    def get(self, article_id: str) -> dict | None: ...

    def upsert_feed_health(self, records: Sequence[dict]) -> None: ...

    def close(self) -> None: ...


# -- the document -----------------------------------------------------------------


def iso_utc(value: datetime | None) -> str | None:
    """One timestamp format for every backend, so string order is time order."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def article_to_doc(article: Article) -> dict[str, Any]:
    """The indexed document of an article; its id is ``article_id`` (sha1 of the
    canonical URL), so indexing the same article again replaces it.

    Relevance fields come from the best tag (grade, then score); ``topics`` lists
    the topics the article is at least partly relevant to; ``facets`` and
    ``actors`` are the union over all tags, best tag first.
    """
    best = article.best_tag()
    ordered = sorted(article.tags, key=lambda t: (t.grade, t.score), reverse=True)
    return {
        "article_id": article.article_id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "outlet": article.outlet,
        "feed_id": article.feed_id,
        "language": article.language,
        "country": article.country,
        "title": article.title,
        "body": article.text,
        "summary": article.summary,
        "authors": list(article.authors),
        "section": article.section,
        "image": article.image,
        "published_at": iso_utc(article.published_at or article.first_seen_at),
        "first_seen_at": iso_utc(article.first_seen_at),
        "modified_at": iso_utc(article.modified_at),
        "body_source": article.body_source,
        "extraction_method": article.extraction_method,
        # Not yet grouped (indexed before its story was assigned): a story of its own, so that
        # Elasticsearch's collapse does not fold every such article into one "missing" group.
        "story_id": article.story_id or article.article_id,
        "topics": [tag.topic for tag in ordered if tag.grade >= 1],
        "grade": best.grade if best else 0,
        "grade_name": best.grade_name if best else "not relevant",
        "score": round(best.score, 4) if best else 0.0,
        "facets": _unique([f for tag in ordered for f in tag.facets]),
        "actors": _unique([a for tag in ordered for a in tag.actors]),
        "explanation": dict(best.explanation) if best else {},
        "tags": [
            {
                "topic": tag.topic,
                "grade": tag.grade,
                "grade_name": tag.grade_name,
                "score": round(tag.score, 4),
                "facets": list(tag.facets),
                "actors": list(tag.actors),
            }
            for tag in ordered
        ],
    }


# Feed state columns that are operator information; validators and leases are not.
_FEED_FIELDS = (
    "feed_id", "name", "url", "outlet", "language", "country", "interval_s", "consecutive_failures",
    "last_status", "last_error", "last_polled_at", "last_success_at", "last_new_item_at",
    "items_per_day", "total_items", "next_poll_at",
)  # fmt: skip
_HEALTH_FIELDS = ("status", "reason", "expected_cadence_s")


def feed_health_to_doc(record: dict[str, Any]) -> dict[str, Any]:
    """A flat feed-health document (one per feed, id ``feed_id``) for Kibana.

    ``record`` is a feed row with a ``health`` mapping (``seedwatch.polling.FeedHealth``
    as a dict) and ``checked_at``, as the pipeline builds it.
    """
    health = record.get("health") or {}
    doc: dict[str, Any] = {}
    for key in _FEED_FIELDS:
        doc[key] = record.get(key)
    for key in _HEALTH_FIELDS:
        doc[key] = health.get(key)
    doc["checked_at"] = record.get("checked_at")
    return {k: iso_utc(v) if isinstance(v, datetime) else v for k, v in doc.items()}


def with_connection(
    es: ElasticsearchSettings,
    *,
    url: str,
    login: str | None = None,
    password: str | None = None,
    extra: dict[str, Any] | None = None,
) -> ElasticsearchSettings:
    """``es`` with the address and credentials of an Airflow connection (or any other
    secret store), without importing Airflow: pass ``conn.get_uri()``-style pieces.

    ``extra`` may hold ``api_key``, ``verify_certs``, ``ca_certs``.
    """
    extra = extra or {}
    update: dict[str, Any] = {"url": url}
    if extra.get("api_key"):
        update["api_key"] = SecretStr(str(extra["api_key"]))
    if login and password:
        update["username"], update["password"] = login, SecretStr(password)
    if "verify_certs" in extra:
        update["verify_certs"] = str(extra["verify_certs"]).lower() not in ("false", "0", "no")
    if extra.get("ca_certs"):
        update["ca_certs"] = Path(str(extra["ca_certs"]))
    return es.model_validate({**es.model_dump(), **update})
