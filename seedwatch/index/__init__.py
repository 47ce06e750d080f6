"""The article index: SQLite FTS5 (default) or Elasticsearch, chosen by configuration.

Public surface::

    open_index(settings: IndexSettings, executor=None) -> ArticleIndex
    article_to_doc(article) -> dict          the indexed document (id = article_id)
    matches(query, doc) -> bool              the query language, evaluated in memory
    parse(query) -> Query                    raises QuerySyntaxError (with the position)
"""

from __future__ import annotations

from concurrent.futures import Executor

from seedwatch.index.base import (
    ArticleIndex,
    ElasticsearchSettings,
    IndexOutcome,
    IndexSettings,
    SearchHit,
    SearchResults,
    article_to_doc,
    feed_health_to_doc,
)
from seedwatch.index.query import Query, QuerySyntaxError, matches, parse

__all__ = [
    "ArticleIndex",
    "ElasticsearchSettings",
    "IndexOutcome",
    "IndexSettings",
    "Query",
    "QuerySyntaxError",
    "SearchHit",
    "SearchResults",
    "article_to_doc",
    "feed_health_to_doc",
    "matches",
    "open_index",
    "parse",
]


def open_index(settings: IndexSettings, *, executor: Executor | None = None) -> ArticleIndex:
    """The configured backend; opening does no network I/O (``ensure_ready`` does).

    ``executor``: worker processes the SQLite backend may prepare documents in.
    """
    if settings.backend == "elasticsearch":
        from seedwatch.index.elastic import ElasticArticleIndex

        return ElasticArticleIndex(settings.elasticsearch)
    from seedwatch.index.sqlite_fts import SqliteArticleIndex

    return SqliteArticleIndex(settings.sqlite_path, busy_timeout_s=settings.sqlite_busy_timeout_s, executor=executor)
