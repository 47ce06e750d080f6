"""The article index contract, run on every available backend with the same assertions.

SQLite always; Elasticsearch when SEEDWATCH_ES_URL points at a cluster (each run
uses its own index prefix and deletes what it created).
"""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_index_corpus import DOCS, EXPECTED, KEY_OF

from seedwatch.errors import QueryError
from seedwatch.index import ArticleIndex, IndexSettings, QuerySyntaxError, matches, open_index, parse
from seedwatch.index.query import expand_actor_aliases, word_run

ES_URL = os.environ.get("SEEDWATCH_ES_URL")


def _refresh(index: ArticleIndex) -> None:
    refresh = getattr(index, "refresh", None)
    if refresh is not None:
        refresh()


def es_settings(prefix: str) -> IndexSettings:
    return IndexSettings(backend="elasticsearch", elasticsearch={"url": ES_URL, "index_prefix": prefix})


def delete_es_prefix(settings: IndexSettings) -> None:
    from seedwatch.index.elastic import make_client

    es = settings.elasticsearch
    client = make_client(es)
    try:
        # by name: clusters refuse wildcard deletes (action.destructive_requires_name)
        names = list(client.indices.get(index=f"{es.index_prefix}-*", expand_wildcards="all").body)
        if names:
            client.indices.delete(index=names)
        for name in (f"{es.index_prefix}-articles", f"{es.index_prefix}-feeds"):
            client.options(ignore_status=404).indices.delete_index_template(name=name)
    finally:
        client.close()


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def index_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexSettings]:
    if request.param == "sqlite":
        yield IndexSettings(backend="sqlite", sqlite_path=tmp_path / "articles.db")
        return
    if not ES_URL:
        pytest.skip("SEEDWATCH_ES_URL is not set: no Elasticsearch cluster to run the contract against")
    settings = es_settings(f"swtest-{uuid.uuid4().hex[:8]}")
    try:
        yield settings
    finally:
        delete_es_prefix(settings)


@pytest.fixture
def index(index_settings: IndexSettings) -> Iterator[ArticleIndex]:
    index = open_index(index_settings)
    index.ensure_ready()
    outcomes = index.upsert(list(DOCS.values()))
    assert all(o.ok for o in outcomes), outcomes
    _refresh(index)
    try:
        yield index
    finally:
        index.close()


def _found(index: ArticleIndex, query: str) -> set[str]:
    results = index.search(query, limit=100)
    assert results.total == len(results.hits)
    return {KEY_OF[hit.article_id] for hit in results.hits}


@pytest.mark.parametrize("query", list(EXPECTED))
def test_search_finds_the_expected_articles(index: ArticleIndex, query: str) -> None:
    assert _found(index, query) == EXPECTED[query]
    # the in-memory evaluation used by alert rules agrees with the store
    assert {key for key, doc in DOCS.items() if matches(query, doc)} == EXPECTED[query]


def test_upsert_is_idempotent(index: ArticleIndex) -> None:
    assert index.count() == len(DOCS)
    again = index.upsert(list(DOCS.values()) + [DOCS["oil"]])
    assert [o.ok for o in again] == [True] * (len(DOCS) + 1)
    _refresh(index)
    assert index.count() == len(DOCS)


def test_upsert_replaces_a_changed_document(index: ArticleIndex) -> None:
    changed = copy.deepcopy(DOCS["oil"])
    changed["title"] = "Oil prices fall"
    changed["body"] = changed["summary"] = "Brent crude fell sharply."
    changed["grade"] = 1
    assert index.upsert([changed])[0].ok
    _refresh(index)
    assert index.get(changed["article_id"])["title"] == "Oil prices fall"
    assert _found(index, "fell sharply") == {"oil"}
    assert _found(index, '"crude rose"') == set()  # the old text is gone from the full-text index
    assert "oil" in _found(index, "grade:1")


def test_get_returns_the_document(index: ArticleIndex) -> None:
    doc = index.get(DOCS["arabic"]["article_id"])
    assert doc is not None
    assert doc["title"] == DOCS["arabic"]["title"]
    assert doc["facets"] == ["diplomacy"] and doc["grade"] == 1
    assert doc["explanation"]["summary"] == "grade 1"
    assert index.get("0" * 40) is None


def test_hits_carry_display_fields_newest_first(index: ArticleIndex) -> None:
    results = index.search("grade:>=1", limit=10)
    assert [KEY_OF[h.article_id] for h in results.hits] == ["arabic", "turkish", "maritime", "french"]
    first = results.hits[0]
    assert first.url == "https://news.example/arabic"
    assert first.outlet == "Al Wasat" and first.language == "ar" and first.grade == 1
    assert first.published_at == datetime(2025, 9, 20, 18, 45, tzinfo=UTC)
    assert first.facets == ("diplomacy",)
    assert 0.4 < first.score < 0.5
    assert "حفتر" in first.snippet


def test_snippet_shows_the_searched_words(index: ArticleIndex) -> None:
    hit = index.search("memorandum")
    assert "memorandum" in hit.hits[0].snippet


def test_limit_and_offset_page_through_results(index: ArticleIndex) -> None:
    everything = [h.article_id for h in index.search("", limit=100).hits]
    page1 = index.search("", limit=2)
    page2 = index.search("", limit=2, offset=2)
    assert page1.total == page2.total == len(DOCS)
    assert [h.article_id for h in page1.hits + page2.hits] == everything[:4]


def test_bad_queries_raise_query_syntax_error(index: ArticleIndex) -> None:
    for bad in ('"unterminated', "colour:red", "grade:7", "date:2025-02-30", "(haftar", "haftar OR"):
        with pytest.raises(QuerySyntaxError):
            index.search(bad)


def test_feed_health_upsert_is_one_document_per_feed(index: ArticleIndex) -> None:
    now = datetime(2025, 9, 21, tzinfo=UTC)
    record = {
        "feed_id": "f1",
        "name": "Anadolu",
        "url": "https://aa.example/rss",
        "outlet": "Anadolu Agency",
        "language": "en",
        "country": "TR",
        "etag": "W/1",
        "consecutive_failures": 3,
        "last_error": "HTTP 503",
        "last_success_at": datetime(2025, 9, 20, tzinfo=UTC),
        "health": {"status": "failing", "reason": "3 consecutive failures", "expected_cadence_s": 3600.0},
        "checked_at": now,
    }
    index.upsert_feed_health([record])
    index.upsert_feed_health([{**record, "health": {**record["health"], "status": "ok"}}])
    docs = _feed_docs(index)
    assert len(docs) == 1
    assert docs[0]["status"] == "ok" and docs[0]["last_success_at"] == "2025-09-20T00:00:00Z"
    assert "etag" not in docs[0]


def _feed_docs(index: ArticleIndex) -> list[dict]:
    if hasattr(index, "feed_health"):
        return index.feed_health()
    index.client.indices.refresh(index=index.settings.feeds_index)
    response = index.client.search(index=index.settings.feeds_index, query={"match_all": {}})
    return [hit["_source"] for hit in response["hits"]["hits"]]


def _variant(key: str, suffix: str, **changes: object) -> dict:
    doc = copy.deepcopy(DOCS[key]) | {"article_id": f"{DOCS[key]['article_id'][:30]}{suffix:0>10}"}
    doc.update(changes)
    return doc


def test_actor_matches_whole_words_of_a_name_on_every_backend(index: ArticleIndex) -> None:
    named = _variant("oil", "named", actors=["Khalifa Haftar", "Recep Tayyip Erdoğan"], title="Zeppelin talks")
    assert index.upsert([named])[0].ok
    _refresh(index)
    found = lambda q: {h.article_id for h in index.search(q + " zeppelin").hits}  # noqa: E731
    for query in (
        "actor:Haftar",
        "actor:khalifa",
        'actor:"Khalifa  Haftar"',
        "actor:erdogan",
        'actor:"tayyip erdogan"',
    ):
        assert found(query) == {named["article_id"]}, query
        assert matches(query + " zeppelin", named), query
    aliases = {word_run("حفتر"): {"Khalifa Haftar"}}  # as seedwatch search reads them from a profile
    expanded = expand_actor_aliases(parse("actor:حفتر zeppelin"), aliases)
    assert {h.article_id for h in index.search(expanded).hits} == {named["article_id"]}  # type: ignore[arg-type]
    for query in (
        "actor:haft",
        'actor:"haftar khalifa"',
        'actor:"haftar recep"',
    ):  # parts of words, other order, across names
        assert found(query) == set(), query
        assert not matches(query + " zeppelin", named), query


def test_stories_collapse_copies_to_the_newest_with_count_and_outlets(index: ArticleIndex) -> None:
    copies = [
        _variant(
            "oil",
            "c1",
            story_id="story-z",
            outlet="Reuters",
            title="Zeppelin story",
            published_at="2025-09-01T10:00:00Z",
        ),
        _variant(
            "oil",
            "c2",
            story_id="story-z",
            outlet="Le Monde",
            title="Zeppelin story",
            published_at="2025-09-03T10:00:00Z",
        ),
        _variant(
            "oil",
            "c3",
            story_id="story-z",
            outlet="Al Wasat",
            title="Zeppelin story",
            published_at="2025-09-02T10:00:00Z",
        ),
        _variant(
            "oil",
            "c4",
            story_id="story-y",
            outlet="Reuters",
            title="Zeppelin other",
            published_at="2025-08-01T10:00:00Z",
        ),
    ]
    assert all(o.ok for o in index.upsert(copies))
    _refresh(index)
    plain = index.search("zeppelin")
    assert plain.total == 4 and all(h.story_hits == 1 for h in plain.hits)
    results = index.search("zeppelin", stories=True)
    assert results.total == 2
    first, second = results.hits
    assert first.article_id == copies[1]["article_id"] and first.story_id == "story-z"
    assert first.story_hits == 3 and first.other_outlets == ("Al Wasat", "Reuters")
    assert second.story_hits == 1 and second.other_outlets == ()
    # the count is of the copies that match: the query narrows the story too
    (only,) = index.search("zeppelin -outlet:reuters", stories=True).hits
    assert only.story_hits == 2 and only.other_outlets == ("Al Wasat",)


@pytest.mark.parametrize("limit", [0, -1, 10_001])
def test_a_page_no_backend_can_serve_is_a_query_error(index: ArticleIndex, limit: int) -> None:
    with pytest.raises(QueryError):
        index.search("", limit=limit)
