"""The state store's own faults: each is a ``StoreError`` with one sentence, never a traceback.

Read-only, corrupted and missing SQLite files; PostgreSQL down, silent (accepts and never
answers) and a statement past ``statement_timeout``; read-only opens that must never create
a store; NUL in text bound for PostgreSQL; a poll that fails part-way gives its leases back.

The tests run as root here, so file permissions cannot make a file read-only: a store
opened with ``read_only=True`` (SQLite's ``mode=ro``) gives SQLite the same
``SQLITE_READONLY`` error a file without write permission does.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from seedwatch import pipeline
from seedwatch.demo import write_config
from seedwatch.errors import StoreError
from seedwatch.localsite import LocalSite
from seedwatch.settings import Settings, load_settings
from seedwatch.store import NewArticle, StateStore
from seedwatch.store.schema import articles, feeds
from seedwatch.store.state import StoreTimeouts

NOW = datetime(2025, 9, 10, 12, 0, tzinfo=UTC)


def _one_sentence(error: StoreError) -> str:
    text = str(error)
    assert "\n" not in text and text.startswith(("The state store", "No state store")), text
    return text


def _store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    StateStore.open(url).close()
    return url


def test_a_corrupted_sqlite_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database\x00" * 400)
    with pytest.raises(StoreError) as raised:
        StateStore.open(f"sqlite:///{path}")
    assert "corrupted" in _one_sentence(raised.value)


def test_a_read_only_store_refuses_writes_with_a_store_error(tmp_path: Path) -> None:
    url = _store(tmp_path)
    store = StateStore.open(url, read_only=True)
    try:
        assert store.feed_rows() == []  # reading works
        with pytest.raises(StoreError) as raised:
            store.sync_feeds(
                [SimpleNamespace(feed_id="f", name="n", url="u", outlet="o", language="en", country="US")], now=NOW
            )
        assert "read-only" in _one_sentence(raised.value)
    finally:
        store.close()


def test_a_read_only_open_never_creates_a_store(tmp_path: Path) -> None:
    path = tmp_path / "nothing-yet" / "state.db"
    with pytest.raises(StoreError) as raised:
        StateStore.open(f"sqlite:///{path}", read_only=True)
    assert "nothing has run yet" in _one_sentence(raised.value)
    assert not path.exists() and not path.parent.exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_postgresql_down_is_a_store_error_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(StoreError) as raised:
        StateStore.open(f"postgresql+psycopg://postgres:secret@127.0.0.1:{_free_port()}/nothing")
    text = _one_sentence(raised.value)
    assert "down, unreachable or refusing" in text and "secret" not in text
    assert time.monotonic() - started < 5


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never says a word (a hung server, a black-holing proxy)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_silent_postgresql_server_is_a_store_error_after_the_connect_timeout(silent_server: int) -> None:
    started = time.monotonic()
    with pytest.raises(StoreError):
        StateStore.open(
            f"postgresql+psycopg://postgres@127.0.0.1:{silent_server}/x", timeouts=StoreTimeouts(connect_timeout_s=2)
        )
    assert time.monotonic() - started < 8  # libpq may try twice (with and without SSL)


@pytest.mark.postgres
def test_a_statement_past_the_statement_timeout_is_a_store_error(postgres_url: str) -> None:
    store = StateStore.open(postgres_url, timeouts=StoreTimeouts(statement_timeout_s=1))
    try:
        started = time.monotonic()
        with pytest.raises(StoreError) as raised, store.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_sleep(5)"))
        assert "statement_timeout_s" in _one_sentence(raised.value)
        assert time.monotonic() - started < 4
    finally:
        store.close()


@pytest.mark.postgres
def test_postgresql_sessions_carry_the_timeouts(postgres_url: str) -> None:
    store = StateStore.open(postgres_url, timeouts=StoreTimeouts(statement_timeout_s=42))
    try:
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SHOW statement_timeout")).scalar() == "42s"
            assert conn.execute(sa.text("SHOW idle_in_transaction_session_timeout")).scalar() == "15min"
    finally:
        store.close()


def _article(n: int, text: str) -> NewArticle:
    return NewArticle(
        article_id=f"a{n}",
        canonical_url=f"https://x.example/{n}{text}",
        url=f"https://x.example/{n}{text}",
        feed_id="f",
        guid=f"guid{text}{n}",
        guid_hash=f"h{n}",
        outlet="x.example",
        country="US",
        feed_language="en",
        title=f"title{text}",
        summary=f"summary{text}",
        published_at=None,
    )


def test_nul_never_reaches_the_store_on_either_engine(state_url: str) -> None:
    store = StateStore.open(state_url)
    try:
        assert store.record_discovered([_article(1, "\x00"), _article(2, "ok")], now=NOW) == ["a1", "a2"]
        with store.engine.connect() as conn:
            stored = conn.execute(sa.select(articles.c.url, articles.c.guid, articles.c.title)).all()
        assert all("\x00" not in value for row in stored for value in row)
        assert ("https://x.example/1", "guid1", "title") in stored
    finally:
        store.close()


def _settings_and_first_feed_batch(tmp_path: Path, news_site: LocalSite) -> tuple[Settings, list[str]]:
    """The demo configuration over the local site, and the first batch of feeds due now."""
    settings = load_settings(write_config(tmp_path / "run", site_url=news_site.base_url, smtp_port=1), environ={})
    return settings, pipeline.plan_feed_batches(settings, now=NOW)[0]


def test_a_feed_whose_state_cannot_be_saved_is_released_and_the_others_are_saved(
    tmp_path: Path, news_site: LocalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, batch = _settings_and_first_feed_batch(tmp_path, news_site)
    real_save, refused = StateStore.save_feed_state, []

    def save_or_fail(self: StateStore, feed_id: str, *args: object, **kwargs: object) -> None:
        if not refused:
            refused.append(feed_id)
            raise sa.exc.DataError("UPDATE", {}, ValueError("state the database refuses"))
        real_save(self, feed_id, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(StateStore, "save_feed_state", save_or_fail)
    summary = pipeline.poll_feeds(settings, batch, now=NOW)
    assert any("state the database refuses" in error for error in summary.errors)
    store = StateStore.open(settings.state.url)
    try:
        rows = {row["feed_id"]: row for row in store.feed_rows()}
    finally:
        store.close()
    assert all(row["lease_owner"] is None for row in rows.values())  # released now, not after lease_s
    assert rows[refused[0]]["last_polled_at"] is None  # its state was not saved: polled again next run
    assert all(rows[feed_id]["last_polled_at"] is not None for feed_id in batch if feed_id != refused[0])


def test_a_poll_that_fails_part_way_gives_its_leases_back(
    tmp_path: Path, news_site: LocalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, batch = _settings_and_first_feed_batch(tmp_path, news_site)
    real_save, saved = StateStore.save_feed_state, []

    def save_then_fail(self: StateStore, feed_id: str, *args: object, **kwargs: object) -> None:
        if saved:
            raise StoreError("The state store went away.")
        saved.append(feed_id)
        real_save(self, feed_id, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(StateStore, "save_feed_state", save_then_fail)
    with pytest.raises(StoreError, match="went away"):
        pipeline.poll_feeds(settings, batch, now=NOW)
    store = StateStore.open(settings.state.url)
    try:
        with store.engine.connect() as conn:
            leased = conn.execute(sa.select(sa.func.count()).where(feeds.c.lease_owner.is_not(None))).scalar()
        assert leased == 0  # the next run polls the others at once, not after lease_s
        assert len(batch) > 1
    finally:
        store.close()


def test_one_feed_the_store_refuses_fails_alone(
    tmp_path: Path, news_site: LocalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, batch = _settings_and_first_feed_batch(tmp_path, news_site)
    real_record = StateStore.record_discovered
    refused = {"feed": ""}

    def record(self: StateStore, found: list[NewArticle], *, now: datetime) -> list[str]:
        if not refused["feed"]:
            refused["feed"] = found[0].feed_id
        if found[0].feed_id == refused["feed"]:
            raise sa.exc.DataError("INSERT", {}, ValueError("value the database refuses"))
        return real_record(self, found, now=now)

    monkeypatch.setattr(StateStore, "record_discovered", record)
    summary = pipeline.poll_feeds(settings, batch, now=NOW)
    assert sum("value the database refuses" in error for error in summary.errors) == 1
    assert summary.feeds_ok == len(batch) - 2  # all but the refused one and the demo's broken feed
    assert summary.new_articles > 0  # the healthy feeds' items are recorded
    store = StateStore.open(settings.state.url)
    try:
        rows = {row["feed_id"]: row for row in store.feed_rows()}
    finally:
        store.close()
    assert "value the database refuses" in rows[refused["feed"]]["last_error"]
    assert rows[refused["feed"]]["consecutive_failures"] == 1
    assert all(row["lease_owner"] is None for row in rows.values())


@pytest.mark.postgres
def test_a_read_only_postgresql_session_refuses_writes_with_a_store_error(postgres_url: str) -> None:
    StateStore.open(postgres_url).close()  # created and migrated by a writer first
    store = StateStore.open(postgres_url, read_only=True)
    try:
        assert store.feed_rows() == []
        with pytest.raises(StoreError) as raised:
            store.sync_feeds(
                [SimpleNamespace(feed_id="f", name="n", url="u", outlet="o", language="en", country="US")], now=NOW
            )
        assert "read-only" in _one_sentence(raised.value)
    finally:
        store.close()
