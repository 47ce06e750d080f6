"""The embedded article index: one SQLite file, a documents table and an FTS5 table.

The FTS5 table (``unicode61 remove_diacritics 2``) holds the title, summary and
body as folded tokens (see :func:`seedwatch.index.query.tokens`), its rowid equal to the
document's rowid; both are written in one transaction, so they never drift.
WAL mode and a busy timeout let several processes (Airflow tasks) share the file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog

from seedwatch.index.base import IndexOutcome, SearchHit, SearchResults, feed_health_to_doc, parse_iso
from seedwatch.index.query import (
    check_page,
    fold,
    fold_keyword,
    parse,
    positive_words,
    to_sqlite,
    tokens,
    word_run,
)

log = structlog.get_logger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,              -- the whole document, as JSON
    outlet TEXT, language TEXT, country TEXT, story_id TEXT,
    grade INTEGER NOT NULL DEFAULT 0,
    score REAL NOT NULL DEFAULT 0,
    published_at TEXT,              -- ISO 8601 UTC, 'Z': string order is time order
    topics TEXT NOT NULL DEFAULT '[]', facets TEXT NOT NULL DEFAULT '[]', actors TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS articles_published ON articles (published_at DESC);
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
    title, summary, body,
    -- Columns hold seedwatch's own tokens joined by spaces; every category but
    -- separators (Z*) is a token character, so SQLite's older Unicode tables
    -- never split a token differently from seedwatch.index.query.tokens.
    tokenize = "unicode61 remove_diacritics 2 categories 'L* N* M* P* S* C*'"
);
CREATE TABLE IF NOT EXISTS feed_health (
    feed_id TEXT PRIMARY KEY,
    status TEXT,
    doc TEXT NOT NULL
);
"""
_REQUIRED = ("article_id", "url", "title")
_SNIPPET_CHARS = 160


class SqliteArticleIndex:
    """:class:`seedwatch.index.base.ArticleIndex` on SQLite FTS5."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 30.0, executor: Executor | None = None) -> None:
        """``executor``: processes to prepare documents in (folding a body is most of the
        work of indexing it); without one they are prepared here."""
        self.path = Path(path)
        self.executor = executor
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE for writes).
        self.conn = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None)
        self.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.create_function(
            "sw_fold", 1, lambda v: fold_keyword(v) if isinstance(v, str) else v, deterministic=True
        )
        self.conn.create_function(
            "sw_words", 1, lambda v: word_run(v) if isinstance(v, str) else "", deterministic=True
        )
        self._ready = False

    def ensure_ready(self) -> None:
        if not self._ready:
            self.conn.executescript(_SCHEMA)
            self._ready = True

    def upsert(self, docs: Sequence[dict]) -> list[IndexOutcome]:
        self.ensure_ready()
        refused: list[IndexOutcome] = []
        written: list[str] = []
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            # Written as they are prepared: with an executor, the next documents are folded meanwhile.
            for article_id, row, fts, error in self._prepare(docs):
                if error is not None:
                    refused.append(IndexOutcome(article_id, False, error, retryable=False))
                    continue
                written.append(article_id)
                rowid = self.conn.execute(
                    "INSERT INTO articles (article_id, doc, outlet, language, country, story_id, grade, score,"
                    " published_at, topics, facets, actors) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(article_id) DO UPDATE SET doc=excluded.doc, outlet=excluded.outlet,"
                    " language=excluded.language, country=excluded.country, story_id=excluded.story_id,"
                    " grade=excluded.grade, score=excluded.score, published_at=excluded.published_at,"
                    " topics=excluded.topics, facets=excluded.facets, actors=excluded.actors RETURNING rowid",
                    (article_id, *row),  # type: ignore[misc]
                ).fetchone()[0]
                self.conn.execute("DELETE FROM articles_fts WHERE rowid = ?", (rowid,))
                self.conn.execute(
                    "INSERT INTO articles_fts (rowid, title, summary, body) VALUES (?,?,?,?)",
                    (rowid, *fts),  # type: ignore[misc]
                )
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:  # locked for too long, disk full: the outbox retries later
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            log.warning("index.sqlite.write_failed", error=str(exc), documents=len(docs))
            unwritten = {outcome.article_id for outcome in refused}
            return refused + [
                IndexOutcome(str(doc.get("article_id") or ""), False, f"sqlite: {exc}", retryable=True)
                for doc in docs
                if str(doc.get("article_id") or "") not in unwritten
            ]
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        return refused + [IndexOutcome(article_id, True) for article_id in written]

    def _prepare(self, docs: Sequence[dict]) -> Iterator[Prepared]:
        if self.executor is None or len(docs) < 2 * _PREPARE_CHUNK:
            yield from prepare_documents(docs)
            return
        chunks = [docs[i : i + _PREPARE_CHUNK] for i in range(0, len(docs), _PREPARE_CHUNK)]
        pooled: Iterator[list[Prepared]] | None = None
        try:
            pooled = self.executor.map(prepare_documents, chunks)
        except Exception as exc:  # noqa: BLE001 - a broken pool must not stop indexing
            log.warning("index.prepare_pool_failed", error=repr(exc))
        for chunk in chunks:
            part = None
            if pooled is not None:
                try:
                    part = next(pooled)
                except Exception as exc:  # noqa: BLE001 - the rest is prepared here
                    log.warning("index.prepare_pool_failed", error=repr(exc))
                    pooled = None
            yield from prepare_documents(chunk) if part is None else part

    def search(self, query: str, *, limit: int = 20, offset: int = 0, stories: bool = False) -> SearchResults:
        check_page(limit, offset)
        node = parse(query)
        if not self._exists():
            return SearchResults(total=0)
        self.ensure_ready()
        where, params = to_sqlite(node, docs="d")
        wanted = positive_words(node)
        if stories:
            return self._search_stories(where, params, wanted, limit=limit, offset=offset)
        total = self.conn.execute(f"SELECT count(*) FROM articles d WHERE {where}", params).fetchone()[0]
        rows = self.conn.execute(
            f"SELECT d.doc FROM articles d WHERE {where} ORDER BY d.published_at DESC, d.article_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return SearchResults(total=total, hits=[_hit(json.loads(doc), wanted) for (doc,) in rows])

    def _search_stories(
        self, where: str, params: list[Any], wanted: list[tuple[str, ...]], *, limit: int, offset: int
    ) -> SearchResults:
        """One hit per story: its newest matching copy (the order of a plain search), as
        Elasticsearch's ``collapse`` picks it; an article without a story is its own."""
        story = "coalesce(d.story_id, d.article_id)"
        total = self.conn.execute(f"SELECT count(DISTINCT {story}) FROM articles d WHERE {where}", params).fetchone()[0]
        rows = self.conn.execute(
            f"""WITH matched AS (
                SELECT d.doc, d.outlet, d.published_at, d.article_id, {story} AS story,
                       row_number() OVER (PARTITION BY {story} ORDER BY d.published_at DESC, d.article_id) AS rank,
                       count(*) OVER (PARTITION BY {story}) AS hits
                FROM articles d WHERE {where})
            SELECT m.doc, m.hits,
                   (SELECT json_group_array(outlet) FROM (SELECT DISTINCT o.outlet FROM matched o
                        WHERE o.story = m.story AND o.outlet IS NOT m.outlet ORDER BY o.outlet))
            FROM matched m WHERE m.rank = 1
            ORDER BY m.published_at DESC, m.article_id LIMIT ? OFFSET ?""",
            [*params, limit, offset],
        ).fetchall()
        hits = [
            replace(_hit(json.loads(doc), wanted), story_hits=count, other_outlets=tuple(json.loads(outlets)))
            for doc, count, outlets in rows
        ]
        return SearchResults(total=total, hits=hits)

    def _exists(self) -> bool:
        """Whether the index has been created (a read never creates it)."""
        if self._ready:
            return True
        found = self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'articles'").fetchone()
        return found is not None

    def count(self) -> int:
        self.ensure_ready()
        return self.conn.execute("SELECT count(*) FROM articles").fetchone()[0]

    def get(self, article_id: str) -> dict | None:
        self.ensure_ready()
        row = self.conn.execute("SELECT doc FROM articles WHERE article_id = ?", (article_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def upsert_feed_health(self, records: Sequence[dict]) -> None:
        self.ensure_ready()
        docs = [feed_health_to_doc(record) for record in records]
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany(
                "INSERT INTO feed_health (feed_id, status, doc) VALUES (?,?,?)"
                " ON CONFLICT(feed_id) DO UPDATE SET status=excluded.status, doc=excluded.doc",
                [(doc["feed_id"], doc["status"], json.dumps(doc, ensure_ascii=False)) for doc in docs],
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def feed_health(self) -> list[dict]:
        """Every feed-health document (what Kibana shows from ``seedwatch-feeds``)."""
        self.ensure_ready()
        return [json.loads(doc) for (doc,) in self.conn.execute("SELECT doc FROM feed_health ORDER BY feed_id")]

    def close(self) -> None:
        self.conn.close()


# (article id, column values, full-text row, why the document is refused)
Prepared = tuple[str, tuple[Any, ...] | None, tuple[str, str, str] | None, str | None]
_PREPARE_CHUNK = 50


def prepare_documents(docs: Sequence[dict]) -> list[Prepared]:
    """Each document's column values and folded full-text row, or why it is refused.

    A pure function, so :class:`SqliteArticleIndex` can run it in other processes.
    """
    prepared: list[Prepared] = []
    for doc in docs:
        article_id = str(doc.get("article_id") or "")
        missing = [key for key in _REQUIRED if not doc.get(key)]
        if missing:
            prepared.append((article_id, None, None, f"document lacks {', '.join(missing)}"))
            continue
        try:
            prepared.append((article_id, _row(doc), _fts_row(doc), None))
        except (TypeError, ValueError) as exc:  # not JSON-serialisable, bad field types
            prepared.append((article_id, None, None, f"invalid document: {exc}"))
    return prepared


def _row(doc: dict[str, Any]) -> tuple[Any, ...]:
    return (
        json.dumps(doc, ensure_ascii=False),
        doc.get("outlet"),
        doc.get("language"),
        doc.get("country"),
        doc.get("story_id"),
        int(doc.get("grade") or 0),
        float(doc.get("score") or 0.0),
        doc.get("published_at") or doc.get("first_seen_at"),
        json.dumps(list(doc.get("topics") or []), ensure_ascii=False),
        json.dumps(list(doc.get("facets") or []), ensure_ascii=False),
        json.dumps(list(doc.get("actors") or []), ensure_ascii=False),
    )


def _fts_row(doc: dict[str, Any]) -> tuple[str, str, str]:
    return tuple(" ".join(tokens(doc.get(field) or "")) for field in ("title", "summary", "body"))  # type: ignore[return-value]


def snippet(text: str, phrases: list[tuple[str, ...]], *, width: int = _SNIPPET_CHARS) -> str:
    """A window of ``text`` around the first searched word it contains (else its start)."""
    if not text:
        return ""
    folded = fold(text)  # same length as text only for most scripts: search tokens, then map back
    position = 0
    if phrases and len(folded) == len(text):
        firsts = {p[0] for p in phrases}
        for word in tokens(text):
            if word in firsts:
                position = max(folded.find(word), 0)
                break
    start = max(position - width // 4, 0)
    window = " ".join(text[start : start + width].split())
    return ("…" if start else "") + window + ("…" if start + width < len(text) else "")


def _hit(doc: dict[str, Any], phrases: list[tuple[str, ...]]) -> SearchHit:
    return SearchHit(
        article_id=doc["article_id"],
        title=doc.get("title") or "",
        url=doc.get("url") or "",
        outlet=doc.get("outlet") or "",
        language=doc.get("language"),
        published_at=parse_iso(doc.get("published_at")),
        grade=int(doc.get("grade") or 0),
        score=float(doc.get("score") or 0.0),
        facets=tuple(doc.get("facets") or ()),
        snippet=snippet(doc.get("body") or doc.get("summary") or "", phrases),
        actors=tuple(doc.get("actors") or ()),
        story_id=doc.get("story_id"),
    )
