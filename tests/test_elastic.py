"""The Elasticsearch backend: mapping and client units (no cluster), the down-cluster
path against a real unreachable address, and integration tests against a real
cluster when SEEDWATCH_ES_URL is set (each with its own index prefix, deleted after)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_index_contract import delete_es_prefix, es_settings
from test_index_corpus import DOCS, EXPECTED, KEY_OF

from seedwatch.index import IndexSettings, QuerySyntaxError, feed_health_to_doc, matches
from seedwatch.index.base import ElasticsearchSettings
from seedwatch.index.elastic import (
    ElasticArticleIndex,
    IndexUnavailableError,
    _outcome,
    articles_template,
    bulk_actions,
    current_article_index,
    feeds_template,
    make_client,
    percolator_index_body,
    reindex_and_swap,
)
from seedwatch.index.percolate import install_percolator_rules, matching_rules, percolate, rule_query_matcher
from seedwatch.index.query import to_elasticsearch
from seedwatch.index.resources import PACKAGED, packaged_text

ES_URL = os.environ.get("SEEDWATCH_ES_URL")
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused at once


def _properties() -> dict:
    return json.loads(packaged_text("elasticsearch/articles-template.json"))["template"]["mappings"]["properties"]


# -- mapping and template (no cluster) ----------------------------------------------------


def test_template_files_are_valid_json() -> None:
    for relative in PACKAGED:
        json.loads(packaged_text(relative))


def test_a_template_in_the_configuration_directory_overrides_the_packaged_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = articles_template(ElasticsearchSettings(), tmp_path)
    override = json.loads(packaged_text("elasticsearch/articles-template.json"))
    override["version"] = 999
    (tmp_path / "elasticsearch").mkdir()
    (tmp_path / "elasticsearch" / "articles-template.json").write_text(json.dumps(override))
    assert articles_template(ElasticsearchSettings(), tmp_path)["version"] == 999
    assert packaged["version"] != 999
    monkeypatch.setenv("SEEDWATCH_CONFIG_DIR", str(tmp_path))  # the default: the settings' configuration directory
    assert articles_template(ElasticsearchSettings())["version"] == 999
    assert percolator_index_body()["mappings"] == percolator_index_body(tmp_path)["mappings"]


def test_article_mapping_covers_every_document_field() -> None:
    properties = _properties()
    for doc in DOCS.values():
        assert set(doc) <= set(properties), set(doc) - set(properties)
    assert properties["published_at"]["type"] == "date"
    assert properties["score"]["type"] == "float" and properties["grade"]["type"] == "byte"
    for field in ("outlet", "language", "country", "facets", "actors", "story_id", "topics"):
        assert properties[field]["type"] == "keyword"
        assert properties[field]["fields"]["folded"]["normalizer"] == "folded"
    for field in ("title", "body", "summary"):
        assert properties[field]["analyzer"] == "folded"
        analyzers = {sub: spec["analyzer"] for sub, spec in properties[field]["fields"].items() if "analyzer" in spec}
        assert analyzers == {"en": "english", "ar": "arabic", "tr": "turkish", "fr": "french"}
    assert properties["title"]["fields"]["keyword"]["type"] == "keyword"
    assert properties["explanation"]["type"] == "object" and properties["explanation"]["dynamic"] is False


def test_template_analysis_uses_core_components_only() -> None:
    template = articles_template(ElasticsearchSettings(index_prefix="acme"))
    assert template["index_patterns"] == ["acme-articles-v*"]
    analysis = template["template"]["settings"]["analysis"]
    assert analysis["analyzer"]["folded"]["char_filter"] == ["apostrophes"]
    assert analysis["analyzer"]["folded"]["tokenizer"] == "folded_words"
    assert analysis["tokenizer"]["folded_words"] == {"type": "pattern", "pattern": "[^\\p{L}\\p{N}\\p{M}]+"}
    assert analysis["analyzer"]["folded"]["filter"] == ["lowercase", "asciifolding", "arabic_normalization"]
    assert analysis["normalizer"]["folded"]["filter"][:3] == ["lowercase", "asciifolding", "arabic_normalization"]
    assert feeds_template(ElasticsearchSettings(index_prefix="acme"))["index_patterns"] == ["acme-feeds"]


def test_feed_mapping_covers_the_feed_health_document() -> None:
    properties = json.loads(packaged_text("elasticsearch/feeds-template.json"))["template"]["mappings"]["properties"]
    doc = feed_health_to_doc({"feed_id": "f", "health": {"status": "ok"}, "checked_at": None})
    assert set(doc) <= set(properties)


def _fields(dsl: object) -> Iterator[str]:
    if isinstance(dsl, dict):
        for key, value in dsl.items():
            if key in ("term", "range") and isinstance(value, dict):
                yield from value
            elif key == "multi_match":
                yield from value["fields"]
            else:
                yield from _fields(value)
    elif isinstance(dsl, list):
        for item in dsl:
            yield from _fields(item)


def test_every_field_a_query_uses_is_mapped() -> None:
    properties = _properties()
    for query in EXPECTED:
        for path in _fields(to_elasticsearch(query)):
            field, _, sub = path.partition(".")
            assert field in properties, path
            assert not sub or sub in properties[field]["fields"], path


def test_percolator_index_has_the_article_mapping_and_the_query_field() -> None:
    body = percolator_index_body()
    assert body["mappings"]["properties"]["query"] == {"type": "percolator"}
    assert body["mappings"]["properties"]["rule"] == {"type": "keyword"}
    assert body["mappings"]["properties"]["title"] == _properties()["title"]
    assert "folded" in body["settings"]["analysis"]["analyzer"]


def test_bulk_actions_index_each_document_under_its_article_id() -> None:
    actions = list(bulk_actions(DOCS.values(), "seedwatch-articles-write"))
    assert [a["_id"] for a in actions] == [d["article_id"] for d in DOCS.values()]
    assert {a["_op_type"] for a in actions} == {"index"}
    assert {a["_index"] for a in actions} == {"seedwatch-articles-write"}
    assert actions[0]["_source"] is DOCS["maritime"]


@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [
        (429, {"type": "es_rejected_execution_exception", "reason": "queue full"}, True),
        (503, {"type": "unavailable_shards_exception", "reason": "no shard"}, True),
        (400, {"type": "document_parsing_exception", "reason": "failed to parse field [grade]"}, False),
        (None, "ConnectionError(...)", True),
    ],
)
def test_bulk_item_errors_are_classified(status: int | None, error: object, retryable: bool) -> None:
    outcome = _outcome("a1", False, {"_id": "a1", "status": status, "error": error})
    assert (outcome.ok, outcome.retryable) == (False, retryable)
    assert outcome.error and (str(status) in outcome.error if status else True)
    assert _outcome("a1", True, {"_id": "a1", "status": 201}).ok


def test_credentials_come_from_the_environment_and_stay_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEEDWATCH_ES_API_KEY", "s3cr3t-key")
    es = ElasticsearchSettings(url="https://es.example:9200", verify_certs=False)
    client = make_client(es)
    assert client._headers["authorization"] == "ApiKey s3cr3t-key"
    client.close()
    assert "s3cr3t" not in repr(es) and "s3cr3t" not in es.model_dump_json()
    monkeypatch.delenv("SEEDWATCH_ES_API_KEY")
    monkeypatch.setenv("SEEDWATCH_ES_USERNAME", "elastic")
    monkeypatch.setenv("SEEDWATCH_ES_PASSWORD", "pa55")
    client = make_client(es)
    assert client._headers["authorization"].startswith("Basic ")
    client.close()
    assert es.resolved_basic_auth()[1].get_secret_value() == "pa55"
    assert "pa55" not in repr(es.resolved_basic_auth())


# -- a cluster that does not answer (a real refused connection) ------------------------------


def _down_settings() -> ElasticsearchSettings:
    return ElasticsearchSettings(url=UNREACHABLE, max_retries=0, request_timeout_s=2)


def test_upsert_to_an_unreachable_cluster_returns_retryable_failures() -> None:
    index = ElasticArticleIndex(_down_settings())
    outcomes = index.upsert([DOCS["maritime"], DOCS["oil"], {"title": "no id"}])
    assert [(o.ok, o.retryable) for o in outcomes] == [(False, True), (False, True), (False, False)]
    assert [o.article_id for o in outcomes[:2]] == [DOCS["maritime"]["article_id"], DOCS["oil"]["article_id"]]
    assert "Connection" in outcomes[0].error
    index.close()


def test_reads_from_an_unreachable_cluster_raise_a_clear_error() -> None:
    index = ElasticArticleIndex(_down_settings())
    for read in (lambda: index.search("haftar"), index.count, lambda: index.get("x")):
        with pytest.raises(IndexUnavailableError, match="Connection"):
            read()
    with pytest.raises(QuerySyntaxError):  # a bad query is reported before any I/O
        index.search('"unterminated')
    index.close()


def test_bad_alert_rule_queries_fail_before_touching_the_cluster() -> None:
    with pytest.raises(QuerySyntaxError):
        install_percolator_rules(_down_settings(), [("ok", "haftar"), ("bad", "colour:red")])


def test_sqlite_rule_matching_is_in_memory() -> None:
    rules = [("haftar", "actor:haftar"), ("maritime", '"maritime memorandum"'), ("none", "grade:0 haftar")]
    assert matching_rules(IndexSettings(), rules, DOCS["turkish"]) == ["haftar"]
    assert matching_rules(IndexSettings(), rules, DOCS["maritime"]) == ["maritime"]


def test_alert_queries_fall_back_to_memory_while_the_percolator_is_down() -> None:
    rules = [("haftar", "actor:haftar"), ("maritime", '"maritime memorandum"')]
    down = IndexSettings(backend="elasticsearch", elasticsearch=_down_settings())
    matcher = rule_query_matcher(down, rules)
    assert matcher("actor:haftar", DOCS["turkish"]) is True
    assert matcher('"maritime memorandum"', DOCS["turkish"]) is False
    assert rule_query_matcher(IndexSettings(), rules) is matches  # SQLite: always in memory


# -- a real cluster ------------------------------------------------------------------------


@pytest.fixture
def cluster() -> Iterator[IndexSettings]:
    if not ES_URL:
        pytest.skip("SEEDWATCH_ES_URL is not set: these tests need a real Elasticsearch cluster")
    settings = es_settings(f"swtest-{uuid.uuid4().hex[:8]}")
    try:
        yield settings
    finally:
        delete_es_prefix(settings)


@pytest.mark.elasticsearch
def test_install_creates_templates_versioned_index_and_aliases(cluster: IndexSettings) -> None:
    es = cluster.elasticsearch
    ElasticArticleIndex(es).ensure_ready()
    ElasticArticleIndex(es).ensure_ready()  # a second process: idempotent
    client = make_client(es)
    try:
        assert client.indices.exists_index_template(name=f"{es.index_prefix}-articles")
        aliases = client.indices.get_alias(name=[es.articles_alias, es.articles_write_alias]).body
        assert list(aliases) == [es.articles_index(1)]
        assert aliases[es.articles_index(1)]["aliases"][es.articles_write_alias]["is_write_index"] is True
        mapping = client.indices.get_mapping(index=es.articles_index(1)).body
        assert mapping[es.articles_index(1)]["mappings"]["properties"]["published_at"]["type"] == "date"
        assert client.indices.exists(index=es.feeds_index)
        assert current_article_index(client, es) == es.articles_index(1)
    finally:
        client.close()


@pytest.mark.elasticsearch
def test_bulk_indexing_is_idempotent_and_reports_rejected_documents(cluster: IndexSettings) -> None:
    index = ElasticArticleIndex(cluster.elasticsearch)
    assert all(o.ok for o in index.upsert(list(DOCS.values())))
    assert all(o.ok for o in index.upsert(list(DOCS.values())))
    bad = {**DOCS["oil"], "article_id": "bad-doc", "grade": "not a number"}
    outcomes = index.upsert([bad, DOCS["maritime"]])
    assert (outcomes[0].ok, outcomes[0].retryable) == (False, False)
    assert "400" in outcomes[0].error
    assert outcomes[1].ok
    index.refresh()
    assert index.count() == len(DOCS)
    assert {KEY_OF[h.article_id] for h in index.search('"maritime memorandum" grade:2').hits} == {"maritime"}
    assert {KEY_OF[h.article_id] for h in index.search("actor:haftar -lang:ar").hits} == {"turkish"}
    index.close()


@pytest.mark.elasticsearch
def test_percolation_returns_the_matching_rules(cluster: IndexSettings) -> None:
    rules = [
        ("haftar", "actor:haftar"),
        ("maritime", '"maritime memorandum"'),
        ("turkish-relevant", "lang:tr grade:2"),
        ("arabic-erdogan", "اردوغان"),
        ("september", "date:2025-09-01..2025-09-30 -tripoli"),
    ]
    install_percolator_rules(cluster, rules)
    install_percolator_rules(cluster, rules)  # idempotent
    for doc in DOCS.values():
        assert percolate(cluster, doc) == sorted(name for name, query in rules if matches(query, doc))
    assert percolate(cluster, DOCS["turkish"]) == ["haftar", "september", "turkish-relevant"]
    install_percolator_rules(cluster, rules[:1])  # rules removed from alerts.yaml disappear
    assert percolate(cluster, DOCS["turkish"]) == ["haftar"]
    assert matching_rules(cluster, rules, DOCS["maritime"]) == []
    matcher = rule_query_matcher(cluster, rules[:1])  # what the alerts stage uses on Elasticsearch
    assert matcher("actor:haftar", DOCS["turkish"]) is True
    assert matcher("actor:haftar", DOCS["maritime"]) is False


@pytest.mark.elasticsearch
def test_reindex_moves_both_aliases_to_the_new_version(cluster: IndexSettings) -> None:
    es = cluster.elasticsearch
    index = ElasticArticleIndex(es)
    assert all(o.ok for o in index.upsert(list(DOCS.values())))
    report = reindex_and_swap(cluster, 2)
    assert (report.old_index, report.new_index) == (es.articles_index(1), es.articles_index(2))
    assert report.source_documents == report.copied_documents == len(DOCS) and report.swapped
    client = make_client(es)
    try:
        assert list(client.indices.get_alias(name=es.articles_alias).body) == [es.articles_index(2)]
        assert list(client.indices.get_alias(name=es.articles_write_alias).body) == [es.articles_index(2)]
    finally:
        client.close()
    assert index.upsert([{**DOCS["oil"], "title": "Oil prices fall"}])[0].ok  # writes land in v2
    index.refresh()
    assert index.count() == len(DOCS)
    assert index.search('"prices fall"').total == 1
    with pytest.raises(Exception, match="already the current index"):
        reindex_and_swap(cluster, 2)
    index.close()


@pytest.mark.elasticsearch
def test_a_cluster_that_goes_away_mid_run_loses_nothing(cluster: IndexSettings) -> None:
    es = cluster.elasticsearch
    index = ElasticArticleIndex(es)
    assert all(o.ok for o in index.upsert([DOCS["maritime"]]))
    reachable = index.client
    index.client = make_client(_down_settings())  # the cluster disappears between two batches
    outcomes = index.upsert([DOCS["oil"], DOCS["arabic"]])
    assert [(o.ok, o.retryable) for o in outcomes] == [(False, True), (False, True)]
    index.client.close()
    index.client = reachable  # it is back: the outbox's next attempt succeeds
    assert all(o.ok for o in index.upsert([DOCS["oil"], DOCS["arabic"]]))
    index.refresh()
    assert index.count() == 3
    index.close()


def test_older_clusters_get_media_types_they_accept() -> None:
    from seedwatch.index.elastic import compat_headers

    headers = {"accept": "application/json", "content-type": "application/x-ndjson", "x-opaque-id": "application/json"}
    assert compat_headers(headers, 9) == headers
    assert compat_headers(headers, 8) == {
        "accept": "application/vnd.elasticsearch+json; compatible-with=8",
        "content-type": "application/vnd.elasticsearch+x-ndjson; compatible-with=8",
        "x-opaque-id": "application/json",
    }
    assert compat_headers(headers, 7)["accept"] == "Application/json"
    for major in (7, 8):  # the whole path, serialisation included, up to the (refused) connection
        index = ElasticArticleIndex(ElasticsearchSettings(url=UNREACHABLE, server_major_version=major, max_retries=0))
        assert type(index.client.options(ignore_status=404)) is type(index.client)
        assert [(o.ok, o.retryable) for o in index.upsert([DOCS["oil"]])] == [(False, True)]
        index.close()


def test_settings_from_an_airflow_style_connection_keep_secrets_hidden() -> None:
    from seedwatch.index.base import with_connection

    base = ElasticsearchSettings(index_prefix="prod")
    es = with_connection(
        base,
        url="https://es.internal:9200",
        login="writer",
        password="hunter2",
        extra={"verify_certs": "false", "ca_certs": "/certs/ca.crt"},
    )
    assert (es.url, es.index_prefix, es.verify_certs, str(es.ca_certs)) == (
        "https://es.internal:9200",
        "prod",
        False,
        "/certs/ca.crt",
    )
    assert es.resolved_basic_auth()[0] == "writer" and es.resolved_basic_auth()[1].get_secret_value() == "hunter2"
    assert "hunter2" not in repr(es)
    keyed = with_connection(base, url="https://es:9200", extra={"api_key": "k3y"})
    assert keyed.resolved_api_key().get_secret_value() == "k3y" and keyed.verify_certs


def test_request_bodies_fit_the_client_api() -> None:
    """Template, index and mapping bodies bind to the client's keyword arguments
    (a wrong key would only fail against a cluster)."""
    import inspect

    from elasticsearch import Elasticsearch

    es = ElasticsearchSettings()
    client = Elasticsearch("http://127.0.0.1:9")
    inspect.signature(client.indices.put_index_template).bind(name="t", **articles_template(es))
    inspect.signature(client.indices.put_index_template).bind(name="t", **feeds_template(es))
    inspect.signature(client.indices.create).bind(index="i", **percolator_index_body())
    inspect.signature(client.indices.put_mapping).bind(index="i", **percolator_index_body()["mappings"])
    client.close()
    assert articles_template(es)["meta"]["managed_by"] == "seedwatch"
