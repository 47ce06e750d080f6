"""The state store: pipeline state in SQLite (default) or PostgreSQL (production).

One class, the same SQL on both engines. Concurrency is explicit:

* feeds and articles are *claimed* with a lease (owner + expiry) by one atomic
  ``UPDATE … WHERE id IN (SELECT … [FOR UPDATE SKIP LOCKED])``, so two workers
  never poll the same feed or process the same article at once, and work whose
  worker died is picked up again when its lease runs out;
* articles are inserted with ``ON CONFLICT DO NOTHING`` on their id (a hash of the
  canonical URL), so a re-run or a concurrent run never creates a second copy.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite

from seedwatch.errors import StoreError
from seedwatch.store.schema import articles, feed_guids, feeds, index_outbox, leases, minhash_bands, stories

log = structlog.get_logger(__name__)


_ARTICLE_COLUMNS = frozenset(articles.c.keys())
_FEED_STATE_COLUMNS = frozenset(feeds.c.keys()) - {"feed_id", "total_items", "lease_owner", "lease_until"}
QUARANTINED = "quarantined"  # an article whose every processing attempt failed (see fail_articles)
_SAVE_PROCESSED = (
    sa.update(articles)
    .where(
        articles.c.article_id == sa.bindparam("key_article_id"),
        articles.c.lease_owner == sa.bindparam("key_owner"),
    )
    .returning(articles.c.story_id)
)


def new_owner(prefix: str = "worker") -> str:
    """A unique lease owner token for one claim."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything in the store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An article discovered in a feed, before its page is fetched."""

    article_id: str
    canonical_url: str
    url: str
    feed_id: str
    guid: str | None
    guid_hash: str | None
    outlet: str
    country: str | None
    feed_language: str | None
    title: str
    summary: str
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoreTimeouts:
    """Bounds on every PostgreSQL connection (settings key ``state:``; SQLite uses ``busy_timeout_s``).

    Without them a server that accepts and never answers, or a statement stuck behind a
    lock, holds a task for ever (and, under ``max_active_runs=1``, every later run).
    """

    connect_timeout_s: int = 10  # TCP connect and the start-up exchange
    statement_timeout_s: int = 300  # one statement, lock waits included; 0 = no limit
    idle_in_transaction_timeout_s: int = 900  # a client that died inside a transaction frees its locks
    keepalive_idle_s: int = 30  # TCP keepalives find a vanished server or network path
    keepalive_interval_s: int = 10
    keepalive_count: int = 3
    busy_timeout_s: int = 60  # SQLite: how long to wait for another process's write lock


DEFAULT_TIMEOUTS = StoreTimeouts()


def _without_nul(value: Any) -> Any:
    """``value`` with NUL removed from every string in it (PostgreSQL text refuses NUL)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_without_nul(item) for item in value)
    if type(value).__name__ == "Json" and hasattr(value, "obj"):  # psycopg's JSON wrapper
        return type(value)(_without_nul(value.obj), dumps=value.dumps)
    return value


def _strip_nul_before_execute(
    _conn: sa.Connection, _cursor: Any, statement: str, parameters: Any, _context: Any, _executemany: bool
) -> tuple[str, Any]:
    # The one place text enters the store: feed fields, pages and errors are written by
    # strangers, and one NUL made PostgreSQL refuse a whole batch of feeds.
    return statement, _without_nul(parameters)


def _store_error(url: str, exc: BaseException) -> StoreError:
    """One sentence for an operator: which store, what is wrong with it, what to check."""
    where = sa.engine.make_url(url).render_as_string(hide_password=True)
    message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = message.lower()
    if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
        hint = "it is read-only (opened read-only, or a file this process may not write: check it and its directory)"
    elif "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        hint = "the file is corrupted or not a SQLite database; restore it from a backup or move it away"
    elif "unable to open" in lowered or "no such file" in lowered:
        hint = "the file or its directory cannot be opened; check the path and its permissions"
    elif "locked" in lowered or "busy" in lowered:
        hint = "another process held it locked longer than the busy timeout; retry when it is done"
    elif "statement timeout" in lowered or "canceling statement" in lowered:
        hint = "a statement ran longer than state.statement_timeout_s"
    else:
        hint = "the database server is down, unreachable or refusing connections; check it and state.url"
    return StoreError(f"The state store {where} cannot be used: {hint} ({message[:300]}).")


def _is_store_fault(exc: BaseException) -> bool:
    """A fault of the store itself (down, locked, read-only, corrupted), not of one row's data."""
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return True
    original = getattr(exc, "orig", None)
    if getattr(original, "sqlstate", None) == "25006":  # a write in a read-only PostgreSQL session
        return True
    # sqlite3.DatabaseError itself (not a subclass): "file is not a database", "malformed".
    return type(original).__name__ == "DatabaseError" and type(original).__module__ == "sqlite3"


def _sqlite_connect(path: str, *, read_only: bool, timeouts: StoreTimeouts) -> Any:
    if read_only:
        if path in ("", ":memory:") or not Path(path).exists():
            raise StoreError(
                f"No state store at {path or ':memory:'}: nothing has run yet (run `seedwatch run` first)."
            )
        conn = sqlite3.connect(
            f"{Path(path).resolve().as_uri()}?mode=ro",
            uri=True,
            timeout=timeouts.busy_timeout_s,
            check_same_thread=False,
        )
    else:
        conn = sqlite3.connect(path or ":memory:", timeout=timeouts.busy_timeout_s, check_same_thread=False)
    # Autocommit at the driver level; SQLAlchemy's BEGIN below takes the write lock up
    # front (IMMEDIATE) so concurrent claims queue instead of failing.
    conn.isolation_level = None
    # The busy timeout comes first: every later pragma may need a lock another process holds.
    conn.execute(f"PRAGMA busy_timeout={timeouts.busy_timeout_s * 1000}")
    if not read_only:
        _enable_wal(conn, timeouts.busy_timeout_s)
        conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _enable_wal(conn: sqlite3.Connection, wait_s: float) -> None:
    """Switch a database to WAL once; WAL persists in the file, so later opens only read it.

    Switching needs an exclusive lock, and SQLite answers "database is locked" at once,
    without its busy handler, when another process is opening the same new file at that
    moment (two overlapping runs did): retried here until ``wait_s``.
    """
    deadline = time.monotonic() + wait_s
    delay = 0.01
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def create_engine(url: str, *, read_only: bool = False, timeouts: StoreTimeouts = DEFAULT_TIMEOUTS) -> sa.Engine:
    """An engine tuned for concurrent pipeline workers on either dialect.

    ``read_only``: SQLite opens the file read-only (and never creates it); PostgreSQL
    sessions are read-only transactions. Store faults come out as :class:`StoreError`.
    """
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        engine = sa.create_engine(url, creator=lambda: _sqlite_connect(path, read_only=read_only, timeouts=timeouts))

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(connection: sa.Connection) -> None:
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    else:
        options = [
            f"-c statement_timeout={timeouts.statement_timeout_s * 1000}",
            f"-c idle_in_transaction_session_timeout={timeouts.idle_in_transaction_timeout_s * 1000}",
        ]
        if read_only:
            options.append("-c default_transaction_read_only=on")
        connect_args = {
            "connect_timeout": timeouts.connect_timeout_s,
            "options": " ".join(options),
            "keepalives": 1,
            "keepalives_idle": timeouts.keepalive_idle_s,
            "keepalives_interval": timeouts.keepalive_interval_s,
            "keepalives_count": timeouts.keepalive_count,
            # Data sent and never acknowledged (a vanished server) fails the connection.
            "tcp_user_timeout": (timeouts.keepalive_idle_s + timeouts.keepalive_interval_s * timeouts.keepalive_count)
            * 1000,
        }
        engine = sa.create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=5,
            pool_timeout=timeouts.connect_timeout_s * 3,
            connect_args=connect_args,
        )
    sa.event.listen(engine, "before_cursor_execute", _strip_nul_before_execute, retval=True)

    @sa.event.listens_for(engine, "handle_error")
    def _as_store_error(context: sa.engine.ExceptionContext) -> None:
        if context.is_pre_ping or not _is_store_fault(context.sqlalchemy_exception or context.original_exception):
            return
        raise _store_error(url, context.original_exception) from context.original_exception

    return engine


class StateStore:
    """Typed access to the pipeline state. Create with :meth:`open`."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"

    @classmethod
    def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        read_only: bool = False,
        timeouts: StoreTimeouts | None = None,
    ) -> StateStore:
        """Open (and by default create or migrate) the store at ``url``.

        ``read_only=True`` is for commands that only look (``search``, ``feeds check``
        without ``--poll``): nothing is created or migrated (``migrate`` is ignored), a
        SQLite file is opened read-only (a missing one is a :class:`StoreError`, not a new
        empty store), and PostgreSQL sessions are read-only. Every fault of the store (down,
        unreachable, read-only, corrupted, locked too long) is a :class:`StoreError` whose
        message is one sentence naming the store without its password.
        """
        from seedwatch.store.migrate import upgrade

        try:
            engine = create_engine(url, read_only=read_only, timeouts=timeouts or DEFAULT_TIMEOUTS)
            if migrate and not read_only:
                upgrade(engine)
            else:
                with engine.connect() as conn:  # fail here, with the reason, not at the first query
                    conn.exec_driver_sql("SELECT 1")
        except StoreError:
            raise
        except (sa.exc.SQLAlchemyError, OSError, sqlite3.Error) as exc:
            raise _store_error(url, exc) from exc
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- helpers -----------------------------------------------------------------

    def _insert(self, table: sa.Table) -> Any:
        return (postgresql.insert if self.is_postgres else sqlite.insert)(table)

    def _claim(
        self,
        table: sa.Table,
        key: sa.Column,
        due: sa.ColumnElement[bool],
        order_by: Sequence[Any],
        *,
        now: datetime,
        limit: int,
        lease_s: int,
        owner: str,
    ) -> list[str]:
        """Lease up to ``limit`` rows matching ``due`` whose lease is free or expired."""
        free = sa.or_(table.c.lease_until.is_(None), table.c.lease_until < now)
        candidates = sa.select(key).where(due, free).order_by(*order_by).limit(limit)
        if self.is_postgres:
            candidates = candidates.with_for_update(skip_locked=True)
        until = now + timedelta(seconds=lease_s)
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(table)
                .where(key.in_(candidates.scalar_subquery()))
                .values(lease_owner=owner, lease_until=until)
            )
            return list(conn.execute(sa.select(key).where(table.c.lease_owner == owner)).scalars())

    # -- feeds -------------------------------------------------------------------

    def sync_feeds(self, sources: Iterable[Any], *, now: datetime) -> None:
        """Insert feeds from the configuration; refresh name, outlet and language of known ones."""
        with self.engine.begin() as conn:
            for source in sources:
                values = {
                    "feed_id": source.feed_id,
                    "name": source.name,
                    "url": source.url,
                    "outlet": source.outlet,
                    "language": source.language,
                    "country": source.country,
                }
                stmt = self._insert(feeds).values(**values, next_poll_at=now, consecutive_failures=0, total_items=0)
                update = {k: v for k, v in values.items() if k != "feed_id"}
                conn.execute(stmt.on_conflict_do_update(index_elements=[feeds.c.feed_id], set_=update))

    def claim_due_feeds(
        self,
        *,
        now: datetime,
        owner: str,
        lease_s: int,
        limit: int = 10_000,
        feed_ids: Sequence[str] | None = None,
        force: bool = False,
    ) -> list[str]:
        """Lease the feeds whose next poll is due, or all with ``force`` (optionally among ``feed_ids``)."""
        due = sa.true() if force else sa.or_(feeds.c.next_poll_at.is_(None), feeds.c.next_poll_at <= now)
        if feed_ids is not None:
            due = sa.and_(due, feeds.c.feed_id.in_(list(feed_ids)))
        return self._claim(
            feeds,
            feeds.c.feed_id,
            due,
            [feeds.c.next_poll_at, feeds.c.feed_id],
            now=now,
            limit=limit,
            lease_s=lease_s,
            owner=owner,
        )

    def due_feed_ids(self, *, now: datetime, enabled: Sequence[str]) -> list[str]:
        """Feeds due for polling now (without claiming them): used to plan batches."""
        query = (
            sa.select(feeds.c.feed_id)
            .where(feeds.c.feed_id.in_(list(enabled)))
            .where(sa.or_(feeds.c.next_poll_at.is_(None), feeds.c.next_poll_at <= now))
            .order_by(feeds.c.next_poll_at, feeds.c.feed_id)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def feed_rows(self, feed_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Feeds' columns, plus ``quarantined_articles``: how many of its articles are quarantined."""
        query = sa.select(feeds).order_by(feeds.c.name)
        if feed_ids is not None:
            query = query.where(feeds.c.feed_id.in_(list(feed_ids)))
        with self.engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
        quarantined = self.quarantined_counts()
        for row in rows:
            for column in ("next_poll_at", "last_polled_at", "last_success_at", "last_new_item_at", "lease_until"):
                row[column] = as_utc(row[column])
            row["quarantined_articles"] = quarantined.get(row["feed_id"], 0)
        return rows

    def save_feed_state(self, feed_id: str, values: dict[str, Any], *, owner: str, new_items: int) -> None:
        """Store the feed's new state and release its lease (keys that are no column are ignored)."""
        columns = {key: value for key, value in values.items() if key in _FEED_STATE_COLUMNS}
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(feeds)
                .where(feeds.c.feed_id == feed_id, feeds.c.lease_owner == owner)
                .values(**columns, total_items=feeds.c.total_items + new_items, lease_owner=None, lease_until=None)
            )

    def release_feeds(self, feed_ids: Sequence[str], *, owner: str) -> None:
        """Give back feeds claimed and not saved (a poll that failed part-way), for the next run."""
        if not feed_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(feeds)
                .where(feeds.c.feed_id.in_(list(feed_ids)), feeds.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    # -- articles ----------------------------------------------------------------

    def record_discovered(self, found: Sequence[NewArticle], *, now: datetime) -> list[str]:
        """Insert articles never seen before; return the ids that were new.

        An article is known when its canonical URL was seen, or when its feed already
        used the same GUID for another URL (publishers that change URLs behind a GUID).
        """
        with self.engine.begin() as conn:
            known_guids = self._known_guids(conn, found)
            fresh: list[NewArticle] = []
            for item in found:
                if item.guid_hash is not None:
                    if (item.feed_id, item.guid_hash) in known_guids:
                        continue
                    known_guids.add((item.feed_id, item.guid_hash))  # a GUID repeated within the feed
                fresh.append(item)
            if not fresh:
                return []
            first_of_each: dict[str, NewArticle] = {}
            for item in fresh:
                first_of_each.setdefault(item.article_id, item)
            # One statement for the batch; RETURNING gives the rows really inserted, so an
            # article another worker inserted meanwhile is not counted twice.
            inserted = set(
                conn.execute(
                    self._insert(articles)
                    .on_conflict_do_nothing(index_elements=[articles.c.article_id])
                    .returning(articles.c.article_id),
                    [self._discovered_row(item, now) for item in first_of_each.values()],
                ).scalars()
            )
            guid_rows = [
                {"feed_id": item.feed_id, "guid_hash": item.guid_hash, "article_id": item.article_id}
                for item in fresh
                if item.guid_hash is not None
            ]
            if guid_rows:
                conn.execute(self._insert(feed_guids).on_conflict_do_nothing(), guid_rows)
        new_ids = [item.article_id for item in fresh if item.article_id in inserted]
        return list(dict.fromkeys(new_ids))

    @staticmethod
    def _known_guids(conn: sa.Connection, found: Sequence[NewArticle]) -> set[tuple[str, str]]:
        by_feed: dict[str, list[str]] = {}
        for item in found:
            if item.guid_hash is not None:
                by_feed.setdefault(item.feed_id, []).append(item.guid_hash)
        known: set[tuple[str, str]] = set()
        for feed_id, hashes in by_feed.items():
            for start in range(0, len(hashes), 500):
                rows = conn.execute(
                    sa.select(feed_guids.c.guid_hash).where(
                        feed_guids.c.feed_id == feed_id, feed_guids.c.guid_hash.in_(hashes[start : start + 500])
                    )
                )
                known.update((feed_id, guid_hash) for guid_hash in rows.scalars())
        return known

    @staticmethod
    def _discovered_row(item: NewArticle, now: datetime) -> dict[str, Any]:
        return {
            "article_id": item.article_id,
            "canonical_url": item.canonical_url,
            "url": item.url,
            "feed_id": item.feed_id,
            "guid": item.guid,
            "outlet": item.outlet,
            "country": item.country,
            "feed_language": item.feed_language,
            "title": item.title,
            "summary": item.summary,
            "text": "",
            "published_at": item.published_at,
            "first_seen_at": now,
            "authors": [],
            "tags": [],
            "body_source": "feed-summary",
            "status": "discovered",
            "fetch_attempts": 0,
            "next_fetch_at": now,
        }

    def _processable(self, now: datetime, max_attempts: int) -> sa.ColumnElement[bool]:
        """Articles still waiting for their page: new ones, and feed-summary fallbacks due a retry."""
        retry = sa.and_(
            articles.c.body_source == "feed-summary",
            articles.c.fetch_attempts < max_attempts,
            articles.c.next_fetch_at <= now,
        )
        # A discovered article whose processing failed waits for its next_fetch_at too.
        new = sa.and_(
            articles.c.status == "discovered",
            sa.or_(articles.c.next_fetch_at.is_(None), articles.c.next_fetch_at <= now),
        )
        return sa.or_(new, sa.and_(articles.c.status == "processed", retry))

    def processable_article_ids(self, *, now: datetime, max_attempts: int, limit: int) -> list[str]:
        query = (
            sa.select(articles.c.article_id)
            .where(self._processable(now, max_attempts))
            .where(sa.or_(articles.c.lease_until.is_(None), articles.c.lease_until < now))
            .order_by(articles.c.first_seen_at, articles.c.article_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def claim_articles(
        self, article_ids: Sequence[str], *, now: datetime, owner: str, lease_s: int, max_attempts: int
    ) -> list[dict[str, Any]]:
        due = sa.and_(articles.c.article_id.in_(list(article_ids)), self._processable(now, max_attempts))
        claimed = self._claim(
            articles,
            articles.c.article_id,
            due,
            [articles.c.first_seen_at],
            now=now,
            limit=len(article_ids),
            lease_s=lease_s,
            owner=owner,
        )
        return self.article_rows(claimed)

    def article_rows(self, article_ids: Sequence[str]) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(articles).where(articles.c.article_id.in_(list(article_ids))))
            result = [dict(row._mapping) for row in rows]
        for row in result:
            for column in ("published_at", "modified_at", "first_seen_at", "processed_at", "next_fetch_at"):
                row[column] = as_utc(row[column])
        order = {article_id: i for i, article_id in enumerate(article_ids)}
        return sorted(result, key=lambda row: order.get(row["article_id"], 0))

    def save_processed(self, article_id: str, values: dict[str, Any], *, owner: str) -> bool:
        """Store an article's extraction and tags, release its lease; False if the lease was lost."""
        with self.engine.begin() as conn:
            return self._save_processed(conn, article_id, values, owner=owner)

    def save_processed_many(self, results: Sequence[tuple[str, dict[str, Any]]], *, owner: str) -> list[bool]:
        """:meth:`save_processed` for a batch, in one transaction (one commit, not one per article).

        If the batch fails (one article the database refuses), each is saved on its own,
        so only that article is lost to the error, which is raised after the others are
        saved; the refused ones are still leased by ``owner`` (:meth:`leased_articles`).
        """
        try:
            with self.engine.begin() as conn:
                return [self._save_processed(conn, article_id, values, owner=owner) for article_id, values in results]
        except sa.exc.DBAPIError:
            if len(results) == 1:
                raise
        saved, error = [], None
        for article_id, values in results:
            try:
                saved.append(self.save_processed(article_id, values, owner=owner))
            except sa.exc.DBAPIError as exc:
                saved.append(False)
                error = exc
        if error is not None:
            raise error
        return saved

    def leased_articles(self, article_ids: Sequence[str], *, owner: str) -> list[str]:
        """Those of ``article_ids`` that ``owner`` still holds (claimed, not saved nor released)."""
        query = sa.select(articles.c.article_id).where(
            articles.c.article_id.in_(list(article_ids)), articles.c.lease_owner == owner
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def _save_processed(self, conn: sa.Connection, article_id: str, values: dict[str, Any], *, owner: str) -> bool:
        # One statement for every article: its SET clause comes from the parameters' keys,
        # so SQLAlchemy compiles it once per set of columns instead of building it per article.
        if unknown := values.keys() - _ARTICLE_COLUMNS:
            raise ValueError(f"not columns of the articles table: {sorted(unknown)}")
        updated = conn.execute(
            _SAVE_PROCESSED,
            {
                **values,
                "status": "processed",
                "lease_owner": None,
                "lease_until": None,
                "key_article_id": article_id,
                "key_owner": owner,
            },
        ).first()
        # A first processing waits for de-duplication to give it a story before it
        # is indexed; a re-processed article (page fetched on a retry) is re-indexed now.
        if updated is not None and updated.story_id is not None:
            self._enqueue(conn, [article_id], now=values["processed_at"])
        return updated is not None

    def fail_articles(
        self, errors: dict[str, str], *, owner: str, now: datetime, max_attempts: int, retry_after_s: int
    ) -> int:
        """Record that processing these articles failed (``errors``: article id -> reason).

        Each failure is an attempt: the error is kept in ``last_fetch_error``, the lease is
        released and the article is tried again ``retry_after_s × attempts`` later. An
        article never processed whose attempts reach ``max_attempts`` is *quarantined*: no
        run takes it again, and it is reported (``quarantined_counts``, ``feeds check``, the
        operations digest). One already processed keeps its stored record (the feed
        summary) and is simply not retried again. Returns how many were quarantined.
        """
        if not errors:
            return 0
        owned = sa.select(articles.c.article_id, articles.c.status, articles.c.fetch_attempts).where(
            articles.c.article_id.in_(list(errors)), articles.c.lease_owner == owner
        )
        quarantined = 0
        with self.engine.begin() as conn:
            updates = []
            for row in conn.execute(owned).all():
                attempts = row.fetch_attempts + 1
                quarantine = row.status == "discovered" and attempts >= max_attempts
                quarantined += quarantine
                updates.append(
                    {
                        "key_article_id": row.article_id,
                        "fetch_attempts": attempts,
                        "last_fetch_error": errors[row.article_id][:2000],
                        "next_fetch_at": now + timedelta(seconds=retry_after_s * attempts),
                        "status": QUARANTINED if quarantine else row.status,
                    }
                )
            if updates:
                conn.execute(
                    sa.update(articles)
                    .where(articles.c.article_id == sa.bindparam("key_article_id"))
                    .values(lease_owner=None, lease_until=None),
                    updates,
                )
        return quarantined

    def quarantined_counts(self) -> dict[str, int]:
        """Quarantined articles per feed id."""
        query = (
            sa.select(articles.c.feed_id, sa.func.count())
            .where(articles.c.status == QUARANTINED)
            .group_by(articles.c.feed_id)
        )
        with self.engine.connect() as conn:
            return {feed_id: int(count) for feed_id, count in conn.execute(query)}

    def quarantined_articles(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The quarantined articles (url, feed, attempts, last error), most recently found first."""
        query = (
            sa.select(
                articles.c.article_id,
                articles.c.url,
                articles.c.feed_id,
                articles.c.outlet,
                articles.c.fetch_attempts,
                articles.c.last_fetch_error,
            )
            .where(articles.c.status == QUARANTINED)
            .order_by(articles.c.first_seen_at.desc(), articles.c.article_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def release_articles(self, article_ids: Sequence[str], *, owner: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(articles)
                .where(articles.c.article_id.in_(list(article_ids)), articles.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    def leases_in_flight(self, *, now: datetime) -> int:
        """Feeds and articles leased (not expired at ``now``): another run is polling or processing."""
        with self.engine.connect() as conn:
            return sum(
                int(conn.execute(sa.select(sa.func.count()).where(table.c.lease_until > now)).scalar_one())
                for table in (feeds, articles)
            )

    def count_articles(self, **where: Any) -> int:
        query = sa.select(sa.func.count()).select_from(articles)
        for column, value in where.items():
            query = query.where(articles.c[column] == value)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # -- index outbox ------------------------------------------------------------

    def _enqueue(self, conn: sa.Connection, article_ids: Sequence[str], *, now: datetime) -> None:
        if not article_ids:
            return
        stmt = self._insert(index_outbox)
        # A re-processed article must be indexed again, even if it failed before.
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[index_outbox.c.article_id],
                set_={"next_attempt_at": stmt.excluded.next_attempt_at, "dead": False},
            ),
            [
                {"article_id": article_id, "enqueued_at": now, "attempts": 0, "next_attempt_at": now, "dead": False}
                for article_id in article_ids
            ],
        )

    def enqueue_for_index(self, article_ids: Sequence[str], *, now: datetime) -> None:
        with self.engine.begin() as conn:
            self._enqueue(conn, article_ids, now=now)

    def outbox_batch(self, *, now: datetime, limit: int) -> list[str]:
        query = (
            sa.select(index_outbox.c.article_id)
            .where(index_outbox.c.dead.is_(False), index_outbox.c.next_attempt_at <= now)
            .order_by(index_outbox.c.enqueued_at, index_outbox.c.article_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def outbox_acknowledge(self, article_ids: Sequence[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(index_outbox).where(index_outbox.c.article_id.in_(list(article_ids))))

    def outbox_failed(self, article_id: str, *, error: str, retryable: bool, now: datetime) -> None:
        """Keep the article in the outbox: retry later with back-off, or park it as dead."""
        with self.engine.begin() as conn:
            attempts = (
                conn.execute(sa.select(index_outbox.c.attempts).where(index_outbox.c.article_id == article_id)).scalar()
                or 0
            )
            delay = min(3600, 30 * 2**attempts)
            conn.execute(
                sa.update(index_outbox)
                .where(index_outbox.c.article_id == article_id)
                .values(
                    attempts=attempts + 1,
                    last_error=error[:2000],
                    next_attempt_at=now + timedelta(seconds=delay),
                    dead=not retryable,
                )
            )

    def outbox_backlog(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(index_outbox.c.dead, sa.func.count()).group_by(index_outbox.c.dead)).all()
        counts = {bool(dead): int(n) for dead, n in rows}
        return {"pending": counts.get(False, 0), "dead": counts.get(True, 0)}

    # -- leases ------------------------------------------------------------------

    def acquire_lease(self, name: str, *, owner: str, now: datetime, lease_s: int) -> bool:
        """Take the named lease if it is free or expired (e.g. one alert sender at a time)."""
        until = now + timedelta(seconds=lease_s)
        with self.engine.begin() as conn:
            conn.execute(self._insert(leases).values(name=name, owner="", until=now).on_conflict_do_nothing())
            taken = conn.execute(
                sa.update(leases)
                .where(
                    leases.c.name == name, sa.or_(leases.c.until < now, leases.c.owner == owner, leases.c.owner == "")
                )
                .values(owner=owner, until=until)
            ).rowcount
        return bool(taken)

    @contextmanager
    def holding(self, name: str, *, lease_s: int, wait_s: float, poll_s: float = 0.5) -> Iterator[str]:
        """Hold the named lease for a block, waiting up to ``wait_s`` for another holder to finish."""
        owner = new_owner(name)
        deadline = time.monotonic() + wait_s
        while not self.acquire_lease(name, owner=owner, now=datetime.now(UTC), lease_s=lease_s):
            if time.monotonic() > deadline:
                raise StoreError(f"lease {name!r} still held by another worker after {wait_s:.0f} s")
            time.sleep(poll_s)
        try:
            yield owner
        finally:
            self.release_lease(name, owner=owner)

    def release_lease(self, name: str, *, owner: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.update(leases).where(leases.c.name == name, leases.c.owner == owner).values(owner=""))


LEAD_CHARS = 3000  # enough for the first LEAD_WORDS words that event features read
_IN_CHUNK = 500  # values per IN (...) list: well inside SQLite's and PostgreSQL's limits


def in_chunks(values: Sequence[str]) -> Iterator[list[str]]:
    """``values`` in lists short enough for one ``IN (...)`` on either engine."""
    for start in range(0, len(values), _IN_CHUNK):
        yield list(values[start : start + _IN_CHUNK])


class StoryIndex:
    """Story assignment on top of the state store: exact copies, then near-duplicates.

    Runs in one task after the parallel processing step, in first-seen order, so the
    first article of a story gives it its id however the work was split.
    """

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def unassigned(self, *, limit: int) -> list[dict[str, Any]]:
        with self.store.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(self.unassigned_query(limit))]

    @staticmethod
    def unassigned_query(limit: int) -> sa.Select[Any]:
        """The next processed articles without a story, first seen first (one index range)."""
        return (
            sa.select(
                articles.c.article_id,
                articles.c.title,
                articles.c.content_hash,
                articles.c.minhash,
                articles.c.first_seen_at,
                articles.c.published_at,
                articles.c.outlet,
                sa.func.coalesce(articles.c.language, articles.c.feed_language).label("language"),
                # The lead is what event features read (seedwatch.stories.features).
                sa.func.substr(articles.c.text, 1, LEAD_CHARS).label("lead"),
            )
            .where(articles.c.status == "processed", articles.c.story_id.is_(None))
            .order_by(articles.c.first_seen_at, articles.c.article_id)
            .limit(limit)
        )

    def stories_of_texts(self, conn: sa.Connection, content_hashes: Iterable[str]) -> dict[str, str]:
        """Content hash -> the story of the first article with that text.

        One indexed step per distinct text, ``(content_hash, first_seen_at)``: a query for
        all of a batch's texts at once would read every copy of each, however many.
        """
        first = (
            sa.select(articles.c.story_id)
            .where(articles.c.content_hash == sa.bindparam("text"), articles.c.story_id.is_not(None))
            .order_by(articles.c.first_seen_at)
            .limit(1)
        )
        found = {}
        for content_hash in sorted(set(content_hashes)):
            story_id = conn.execute(first, {"text": content_hash}).scalar()
            if story_id is not None:
                found[content_hash] = story_id
        return found

    def band_candidates(self, conn: sa.Connection, keys: Iterable[str]) -> dict[str, list[tuple[str, str, bytes]]]:
        """Band key -> (article_id, story_id, minhash) of the stored articles indexed under it."""
        found: dict[str, list[tuple[str, str, bytes]]] = {}
        for chunk in in_chunks(sorted(set(keys))):
            rows = conn.execute(
                sa.select(minhash_bands.c.band_key, articles.c.article_id, articles.c.story_id, articles.c.minhash)
                .join(articles, articles.c.article_id == minhash_bands.c.article_id)
                .where(minhash_bands.c.band_key.in_(chunk), articles.c.story_id.is_not(None))
            )
            for key, article_id, story_id, minhash in rows:
                found.setdefault(key, []).append((article_id, story_id, minhash))
        return found

    def index_bands(self, conn: sa.Connection, bands: Sequence[tuple[str, str]]) -> None:
        """Index (band_key, article_id) pairs: one statement for a whole batch."""
        if bands:
            conn.execute(
                self.store._insert(minhash_bands).on_conflict_do_nothing(),
                [{"band_key": key, "article_id": article_id} for key, article_id in bands],
            )

    def write(self, conn: sa.Connection, batch: StoryBatch, *, now: datetime) -> None:
        """Write a batch's assignments: new stories, article counts, articles' stories, the outbox."""
        if batch.new_stories:
            conn.execute(
                self.store._insert(stories).on_conflict_do_nothing(),
                [{**story, "updated_at": now, "article_count": 1} for story in batch.new_stories],
            )
        if batch.joined:
            conn.execute(
                sa.update(stories)
                .where(stories.c.story_id == sa.bindparam("story"))
                .values(article_count=stories.c.article_count + sa.bindparam("joined"), updated_at=now),
                [{"story": story_id, "joined": count} for story_id, count in batch.joined.items()],
            )
        if batch.assigned:
            conn.execute(
                sa.update(articles)
                .where(articles.c.article_id == sa.bindparam("article"))
                .values(story_id=sa.bindparam("story")),
                [{"article": article_id, "story": story_id} for article_id, story_id in batch.assigned.items()],
            )
        self.store._enqueue(conn, list(batch.assigned), now=now)


@dataclass
class StoryBatch:
    """Story assignments made in one transaction, written together by :meth:`StoryIndex.write`.

    One statement per kind of change for the whole batch instead of four per article.
    """

    assigned: dict[str, str] = field(default_factory=dict)  # article id -> story id
    new_stories: list[dict[str, Any]] = field(default_factory=list)
    joined: Counter[str] = field(default_factory=Counter)  # existing story -> articles added

    def add(self, article: dict[str, Any], story_id: str) -> bool:
        """Give the article its story; True if that is a new story (the article's own)."""
        self.assigned[article["article_id"]] = story_id
        if story_id == article["article_id"]:
            self.new_stories.append(
                {"story_id": story_id, "title": article["title"] or "", "first_seen_at": article["first_seen_at"]}
            )
            return True
        self.joined[story_id] += 1  # written after the new stories, so a story made in this batch counts too
        return False
