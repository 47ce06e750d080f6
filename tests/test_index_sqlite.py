"""The SQLite FTS5 backend beyond the shared contract, and the article document."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_index_corpus import ARTICLES, DOCS

from seedwatch.index import IndexSettings, QuerySyntaxError, article_to_doc, matches, open_index, parse
from seedwatch.index.sqlite_fts import SqliteArticleIndex, snippet
from seedwatch.models import TopicTag


def test_article_document_fields() -> None:
    article = ARTICLES["maritime"]
    doc = article_to_doc(article)
    assert doc["article_id"] == article.article_id and len(doc["article_id"]) == 40
    assert doc["body"] == article.text
    assert doc["published_at"] == "2025-09-10T09:30:00Z"
    assert doc["first_seen_at"] == "2025-10-01T08:00:00Z"
    assert (doc["grade"], doc["grade_name"], doc["score"]) == (2, "relevant", 0.8)
    assert doc["topics"] == ["libya_turkey"]
    assert doc["facets"] == ["maritime", "diplomacy"] and doc["actors"] == ["dbeibah"]
    assert doc["explanation"]["summary"] == "grade 2"
    assert doc["tags"][0]["topic"] == "libya_turkey" and "explanation" not in doc["tags"][0]
    assert article_to_doc(article) == doc  # deterministic: re-indexing writes the same document


def test_article_document_defaults() -> None:
    undated = article_to_doc(ARTICLES["lebanon"])
    assert undated["published_at"] == undated["first_seen_at"] == "2025-10-01T08:00:00Z"
    assert undated["topics"] == [] and undated["grade_name"] == "not relevant"
    # not grouped yet: a story of its own (Elasticsearch would collapse every missing story_id into one)
    assert ARTICLES["lebanon"].story_id is None and undated["story_id"] == undated["article_id"]
    untagged = article_to_doc(replace(ARTICLES["oil"], tags=()))
    assert (untagged["grade"], untagged["score"], untagged["facets"], untagged["tags"]) == (0, 0.0, [], [])


def test_best_tag_leads_and_facets_are_the_union() -> None:
    second = TopicTag(topic="other", grade=1, score=0.9, facets=("energy", "maritime"), actors=("x",))
    doc = article_to_doc(replace(ARTICLES["maritime"], tags=(*ARTICLES["maritime"].tags, second)))
    assert doc["topics"] == ["libya_turkey", "other"]
    assert doc["grade"] == 2 and doc["facets"] == ["maritime", "diplomacy", "energy"]
    assert doc["actors"] == ["dbeibah", "x"]


def test_file_uses_wal_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "articles.db"
    index = open_index(IndexSettings(sqlite_path=path))
    index.ensure_ready()
    index.ensure_ready()  # idempotent
    assert all(o.ok for o in index.upsert(list(DOCS.values())))
    index.close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = SqliteArticleIndex(path)
    assert again.count() == len(DOCS)
    assert again.search("hafter").total == 1
    again.close()


def test_invalid_documents_are_refused_permanently_and_the_rest_indexed(tmp_path: Path) -> None:
    index = SqliteArticleIndex(tmp_path / "a.db")
    outcomes = index.upsert(
        [
            {"article_id": "no-title", "url": "https://x.example/1", "title": ""},
            {**DOCS["oil"], "explanation": {"unserialisable": object()}},
            DOCS["maritime"],
        ]
    )
    assert [(o.ok, o.retryable) for o in outcomes] == [(False, False), (False, False), (True, False)]
    assert "title" in outcomes[0].error
    assert index.count() == 1
    index.close()


def test_a_locked_database_gives_retryable_failures_not_exceptions(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    SqliteArticleIndex(path).ensure_ready()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process is writing and does not let go
    index = SqliteArticleIndex(path, busy_timeout_s=0.2)
    outcomes = index.upsert([DOCS["maritime"], DOCS["oil"]])
    assert [(o.ok, o.retryable) for o in outcomes] == [(False, True), (False, True)]
    assert "locked" in outcomes[0].error
    holder.execute("ROLLBACK")
    assert all(o.ok for o in index.upsert([DOCS["maritime"], DOCS["oil"]]))
    assert index.count() == 2
    index.close()
    holder.close()


_WRITER = """
import sys
from test_index_corpus import DOCS
from seedwatch.index.sqlite_fts import SqliteArticleIndex
index = SqliteArticleIndex(sys.argv[1])
base = DOCS["maritime"]
for i in range(40):
    doc = {**base, "article_id": f"{sys.argv[2]}-{i}", "title": f"{base['title']} {sys.argv[2]} {i}"}
    assert index.upsert([doc])[0].ok
index.close()
"""


def test_several_processes_write_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    SqliteArticleIndex(path).ensure_ready()
    tests_dir = Path(__file__).parent
    env_path = f"{tests_dir}:{tests_dir.parent}"
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), name], env={"PYTHONPATH": env_path})
        for name in ("one", "two", "three")
    ]
    assert [w.wait(timeout=60) for w in writers] == [0, 0, 0]
    index = SqliteArticleIndex(path)
    assert index.count() == 120
    assert index.search('"maritime deal two"').total == 40
    index.close()


def test_snippet_is_a_window_around_the_first_searched_word() -> None:
    text = "Lead paragraph. " * 20 + "Then the maritime memorandum was signed in Ankara." + " Tail." * 30
    window = snippet(text, [("maritime", "memorandum")])
    assert "maritime memorandum" in window and window.startswith("…") and window.endswith("…")
    assert snippet("Short text.", []) == "Short text."
    assert snippet("", [("x",)]) == ""


def test_open_index_picks_the_backend_by_configuration(tmp_path: Path) -> None:
    from seedwatch.index.elastic import ElasticArticleIndex

    sqlite_index = open_index(IndexSettings(sqlite_path=tmp_path / "x.db"))
    assert isinstance(sqlite_index, SqliteArticleIndex)
    sqlite_index.close()
    es_index = open_index(IndexSettings(backend="elasticsearch", elasticsearch={"url": "http://127.0.0.1:9"}))
    assert isinstance(es_index, ElasticArticleIndex)  # opening does no I/O
    es_index.close()


def test_datetimes_are_normalised_to_utc() -> None:
    from datetime import timedelta, timezone

    plus3 = timezone(timedelta(hours=3))
    doc = article_to_doc(replace(ARTICLES["oil"], published_at=datetime(2025, 9, 5, 19, 0, tzinfo=plus3)))
    assert doc["published_at"] == "2025-09-05T16:00:00Z"
    assert datetime(2025, 9, 5, 16, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ") == doc["published_at"]


_WORDS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.lists(_WORDS, min_size=1, max_size=8), words=st.lists(_WORDS, min_size=1, max_size=2), phrase=st.booleans()
)
def test_fts5_and_the_in_memory_matcher_agree_on_any_text(
    tmp_path_factory: pytest.TempPathFactory, body: list[str], words: list[str], phrase: bool
) -> None:
    """SQLite's tokenizer tables are older than Python's: seedwatch tokenizes for it."""
    query = " ".join(w.replace('"', "") for w in words)
    query = f'"{query}"' if phrase else query
    try:
        node = parse(query)
    except QuerySyntaxError:
        return
    doc = {"article_id": "x", "url": "https://x.example/", "title": "t", "summary": "", "body": " ".join(body)}
    index = SqliteArticleIndex(tmp_path_factory.mktemp("fts") / "a.db")
    assert index.upsert([doc])[0].ok
    assert (index.search(query).total == 1) == matches(node, doc)
    index.close()


def _many_docs(copies: int) -> list[dict]:
    docs = []
    for n in range(copies):
        for doc in DOCS.values():
            docs.append({**doc, "article_id": f"{doc['article_id'][:30]}{n:010d}"})
    return docs


class _BrokenPool:
    def map(self, *_args: object, **_kwargs: object) -> object:
        from concurrent.futures.process import BrokenProcessPool

        raise BrokenProcessPool("a worker died")


def test_documents_prepared_in_worker_processes_index_the_same(tmp_path: Path) -> None:
    """Folding can run in the analysis workers; the index is the same, and a broken pool only slows it."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    docs = _many_docs(120 // len(DOCS) + 1)
    assert len(docs) >= 100  # enough for the pool to be used
    queries = ["libya", '"maritime deal"', "grade:relevant", "-haftar turkey"]
    results = {}
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver")) as pool:
        for name, executor in (("here", None), ("pool", pool), ("broken", _BrokenPool())):
            index = SqliteArticleIndex(tmp_path / f"{name}.db", executor=executor)  # type: ignore[arg-type]
            outcomes = index.upsert(docs)
            assert all(outcome.ok for outcome in outcomes) and len(outcomes) == len(docs)
            results[name] = [
                (found.total, sorted(hit.article_id for hit in found.hits))
                for found in (index.search(query, limit=500) for query in queries)
            ]
            stored = [index.get(doc["article_id"]) for doc in docs]
            index.close()
            assert stored == docs
    assert results["pool"] == results["here"] == results["broken"]
    assert results["here"][0][0] > 0
